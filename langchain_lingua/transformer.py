"""``LinguaDocumentTransformer``: compress documents at indexing time (no query)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from lingua_core._deps import require
from lingua_core.adapters import STATS_KEY, LinguaSettings
from lingua_core.registry import INDEXING_METHOD, method_class

require("langchain_core")

from langchain_core.documents import BaseDocumentTransformer, Document  # noqa: E402
from pydantic import Field  # noqa: E402


class LinguaDocumentTransformer(LinguaSettings, BaseDocumentTransformer):
    """Compress documents once, before they are indexed, with a query-agnostic method.

    Same fields as :class:`langchain_lingua.LinguaCompressor`; a question-aware method
    (``longllmlingua``) is rejected, since there is no question at indexing time. Every input
    comes back, in order, with its metadata, id and ``metadata["lingua"]`` stats. With
    ``on_error="passthrough"``, a failed compression logs a warning and returns the inputs
    unchanged, flagged ``metadata["lingua"]["passthrough"]`` (see ``LinguaCompressor``).

    Example:
        >>> from langchain_core.documents import Document
        >>> t = LinguaDocumentTransformer(method="random", rate=0.5)
        >>> docs = t.transform_documents([Document("a b c d")])
    """

    method: str = Field(
        INDEXING_METHOD,
        description="A query-agnostic method name or alias (the default method needs a query).",
    )

    def model_post_init(self, context: Any, /) -> None:
        """Reject question-aware methods when the transformer is built."""
        super().model_post_init(context)
        if method_class(self.method).question_aware:
            from lingua_core.registry import available_methods

            valid = [m for m in available_methods() if not method_class(m).question_aware]
            msg = (
                f"method {self.method!r} needs a question; at indexing time use a "
                f"query-agnostic one: {', '.join(valid)}"
            )
            raise ValueError(msg)

    def transform_documents(self, documents: Sequence[Document], **kwargs: Any) -> list[Document]:
        """Compress every document (one output per input, in order; ``kwargs`` unused).

        Raises:
            Exception: What compression raised, unless ``on_error="passthrough"``.
        """
        docs = list(documents)
        outcome = self._compress_or_pass([d.page_content for d in docs], None, [d.id for d in docs])
        return [
            Document(page_content=text, metadata={**doc.metadata, STATS_KEY: stats}, id=doc.id)
            for doc, text, stats in zip(docs, outcome.texts, outcome.stats)
        ]

    async def atransform_documents(
        self, documents: Sequence[Document], **kwargs: Any
    ) -> list[Document]:
        """:meth:`transform_documents` in a worker thread."""
        return await asyncio.to_thread(self.transform_documents, documents, **kwargs)
