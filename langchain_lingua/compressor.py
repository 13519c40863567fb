"""``LinguaCompressor``: a LangChain document compressor backed by a lingua-rag method."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from lingua_core._deps import require
from lingua_core.adapters import STATS_KEY, result_stats, settings_base

require("langchain_core")

from langchain_core.callbacks import Callbacks  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.documents.compressor import BaseDocumentCompressor  # noqa: E402


class LinguaCompressor(settings_base(), BaseDocumentCompressor):  # type: ignore[misc]
    """Compress each retrieved document's text with a lingua-rag method.

    Every output document is a new ``Document`` (same ``id``, a copy of the metadata) whose
    ``page_content`` is the compressed text and whose ``metadata["lingua"]`` holds the stats.
    The core compressor (and its model) is built on first use.

    Example:
        >>> from langchain_core.documents import Document
        >>> compressor = LinguaCompressor(method="random", rate=0.5)
        >>> docs = compressor.compress_documents([Document("a b c d")], query="q")
    """

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
        results = self._compress_texts([d.page_content for d in docs], query)
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
