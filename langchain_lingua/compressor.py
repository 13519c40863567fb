"""``LinguaCompressor``: a LangChain document compressor backed by a lingua-rag method."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from lingua_core._deps import require
from lingua_core.adapters import STATS_KEY, build_compressor, check_settings, result_stats
from lingua_core.base import Compressor
from lingua_core.registry import DEFAULT_METHOD

require("langchain_core")

from langchain_core.callbacks import Callbacks  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.documents.compressor import BaseDocumentCompressor  # noqa: E402
from pydantic import ConfigDict, Field, PrivateAttr, model_validator  # noqa: E402

_BUILD_LOCK = threading.Lock()


class LinguaCompressor(BaseDocumentCompressor):
    """Compress each retrieved document's text with a lingua-rag method.

    Every output document is a new ``Document`` (same ``id``, a copy of the metadata) whose
    ``page_content`` is the compressed text and whose ``metadata["lingua"]`` holds the stats.
    The core compressor (and its model) is built on first use.

    Example:
        >>> from langchain_core.documents import Document
        >>> compressor = LinguaCompressor(method="random", rate=0.5)
        >>> docs = compressor.compress_documents([Document("a b c d")], query="q")
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    method: str = Field(DEFAULT_METHOD, description="Method name or alias (get_compressor).")
    model: str | None = Field(None, description="Model alias, local folder or hub id.")
    rate: float | None = Field(None, description="Fraction of tokens to keep, in (0, 1].")
    target_tokens: int | None = Field(None, description="Total token budget over all documents.")
    device: str | None = Field(None, description="Device for the model; None auto-detects.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword arguments for get_compressor."
    )
    keep_dropped: bool = Field(
        False, description="Keep fully dropped documents (empty text, 'dropped' in stats)."
    )

    _compressor: Compressor | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_settings(self) -> LinguaCompressor:
        check_settings(self.rate, self.target_tokens, self.model, self.device, self.options)
        return self

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

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Compress the documents; order is kept, fully dropped ones are left out by default.

        Args:
            documents: The retrieved documents.
            query: The question (used by question-aware methods).
            callbacks: Unused.

        Returns:
            One new ``Document`` per kept input, in input order.
        """
        docs = list(documents)
        results = self.compressor.compress(
            [d.page_content for d in docs],
            query=query or None,
            rate=self.rate,
            target_tokens=self.target_tokens,
        )
        out = []
        for doc, res in zip(docs, results):
            if res.dropped and not self.keep_dropped:
                continue
            stats = result_stats(res)
            metadata = {**doc.metadata, STATS_KEY: stats}
            out.append(Document(page_content=res.text, metadata=metadata, id=doc.id))
        return out

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Run :meth:`compress_documents` in a worker thread (the event loop is not blocked)."""
        return await asyncio.to_thread(self.compress_documents, documents, query, callbacks)
