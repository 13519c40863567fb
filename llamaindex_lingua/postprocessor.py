"""``LinguaPostprocessor``: a LlamaIndex node postprocessor backed by a lingua-rag method."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from lingua_core._deps import require
from lingua_core.adapters import STATS_KEY, build_compressor, check_settings, result_stats
from lingua_core.base import Compressor
from lingua_core.registry import DEFAULT_METHOD

require("llama_index.core")

from llama_index.core.bridge.pydantic import (  # noqa: E402
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)
from llama_index.core.postprocessor.types import BaseNodePostprocessor  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle  # noqa: E402

_BUILD_LOCK = threading.Lock()


class LinguaPostprocessor(BaseNodePostprocessor):
    """Compress each retrieved node's text with a lingua-rag method.

    Every output node is a copy (same id, relationships and score) whose text is the compressed
    text and whose ``metadata["lingua"]`` holds the stats, hidden from the LLM and the embedder.
    The core compressor (and its model) is built on first use.

    Example:
        >>> postprocessor = LinguaPostprocessor(method="random", rate=0.5)
        >>> nodes = postprocessor.postprocess_nodes(nodes, query_str="q")  # doctest: +SKIP
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    method: str = Field(DEFAULT_METHOD, description="Method name or alias (get_compressor).")
    model: str | None = Field(None, description="Model alias, local folder or hub id.")
    rate: float | None = Field(None, description="Fraction of tokens to keep, in (0, 1].")
    target_tokens: int | None = Field(None, description="Total token budget over all nodes.")
    device: str | None = Field(None, description="Device for the model; None auto-detects.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword arguments for get_compressor."
    )
    keep_dropped: bool = Field(
        False, description="Keep fully dropped nodes (empty text, 'dropped' in stats)."
    )

    _compressor: Compressor | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_settings(self) -> LinguaPostprocessor:
        check_settings(self.rate, self.target_tokens, self.model, self.device, self.options)
        return self

    @classmethod
    def class_name(cls) -> str:
        """Name used when the component is serialized."""
        return "LinguaPostprocessor"

    @property
    def compressor(self) -> Compressor:
        """The core compressor, built on first access (thread-safe)."""
        if self._compressor is None:
            with _BUILD_LOCK:
                if self._compressor is None:
                    self._compressor = build_compressor(
                        self.method, self.model, self.device, self.options
                    )
        return self._compressor

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query = query_bundle.query_str if query_bundle is not None else None
        results = self.compressor.compress(
            [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes],
            query=query or None,
            rate=self.rate,
            target_tokens=self.target_tokens,
        )
        out = []
        for item, res in zip(nodes, results):
            if res.dropped and not self.keep_dropped:
                continue
            stats = result_stats(res)
            node = item.node.model_copy()
            node.set_content(res.text)
            # model_copy is shallow: new containers so the input node is left untouched.
            node.metadata = {**node.metadata, STATS_KEY: stats}
            for attr in ("excluded_llm_metadata_keys", "excluded_embed_metadata_keys"):
                keys = list(getattr(node, attr))
                setattr(node, attr, keys if STATS_KEY in keys else [*keys, STATS_KEY])
            out.append(NodeWithScore(node=node, score=item.score))
        return out

    async def _apostprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._postprocess_nodes, nodes, query_bundle)
