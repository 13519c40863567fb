"""``LinguaPostprocessor``: a LlamaIndex node postprocessor backed by a lingua-rag method."""

from __future__ import annotations

import asyncio

from lingua_core._deps import require
from lingua_core.adapters import STATS_KEY, result_stats, settings_base

require("llama_index.core")

from llama_index.core.postprocessor.types import BaseNodePostprocessor  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle  # noqa: E402


class LinguaPostprocessor(settings_base(), BaseNodePostprocessor):  # type: ignore[misc]
    """Compress each retrieved node's text with a lingua-rag method.

    Every output node is a copy (same id, relationships and score) whose text is the compressed
    text and whose ``metadata["lingua"]`` holds the stats, hidden from the LLM and the embedder.
    The core compressor (and its model) is built on first use.

    Example:
        >>> postprocessor = LinguaPostprocessor(method="random", rate=0.5)
        >>> nodes = postprocessor.postprocess_nodes(nodes, query_str="q")  # doctest: +SKIP
    """

    @classmethod
    def class_name(cls) -> str:
        """Name used when the component is serialized."""
        return "LinguaPostprocessor"

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query = query_bundle.query_str if query_bundle is not None else None
        results = self._compress_texts(
            [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes], query
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
