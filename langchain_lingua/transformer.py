"""``LinguaDocumentTransformer``: compress documents at indexing time (no query)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

from lingua_core._deps import missing
from lingua_core.frameworks.settings import STATS_KEY, LinguaSettings, score_or_pass
from lingua_core.registry import DEFAULT_METHOD, INDEXING_METHOD, method_class

try:
    from langchain_core.documents import BaseDocumentTransformer, Document
    from pydantic import Field
except ImportError as e:  # the framework is an extra of lingua-rag
    raise missing("langchain_core") from e


class LinguaDocumentTransformer(LinguaSettings, BaseDocumentTransformer):
    """At indexing time: compress documents once, or store their scores for query time.

    ``mode="compress"`` (the default) compresses with a query-agnostic method; a question-aware
    one (``longllmlingua``) is rejected, since there is no question at indexing time.
    ``mode="score"`` keeps every document's full text and stores the method's query-independent
    scores in ``metadata["lingua_scores"]`` (one JSON string, which vector stores that take only
    scalars accept); ``LinguaCompressor`` and ``LinguaPostprocessor`` with the same method and
    model pick them up at query time and skip that scoring (the default method then embeds only
    the question), and leave the payload out of the documents they return. With
    ``mode="score"`` the default method is the query-time default (``coarse_to_fine``), so
    both defaults match. Same fields as :class:`langchain_lingua.LinguaCompressor`. Every input
    comes back, in order, with its metadata, id and ``metadata["lingua"]`` stats. With
    ``on_error="passthrough"``, a failure logs a warning and returns the inputs unchanged,
    flagged ``metadata["lingua"]["passthrough"]`` (see ``LinguaCompressor``).

    Example:
        >>> from langchain_core.documents import Document
        >>> t = LinguaDocumentTransformer(method="random", rate=0.5)
        >>> docs = t.transform_documents([Document("a b c d")])
    """

    method: str = Field(
        INDEXING_METHOD,
        description="A query-agnostic method name or alias (the default method needs a query); "
        "with mode='score', a method that stores scores (default: the query-time default, "
        "coarse_to_fine).",
    )
    mode: Literal["compress", "score"] = Field(
        "compress",
        description="'compress': compress the documents; 'score': keep them whole and store "
        "their scores in metadata['lingua_scores'] for query-time compression.",
    )

    def model_post_init(self, context: Any, /) -> None:
        """Choose the default method for the mode; reject methods that cannot run at indexing.

        With ``mode="score"`` and no ``method``, the default is the query-time default
        (``coarse_to_fine``), so that ``LinguaCompressor()`` with its defaults uses the stored
        scores; with ``mode="compress"`` it is a query-agnostic method (``selective_context``).
        """
        super().model_post_init(context)
        if self.mode == "score" and "method" not in self.model_fields_set:
            self.method = DEFAULT_METHOD
            self.__pydantic_fields_set__.discard("method")  # still the default, not named
        if self.mode == "score":
            if not method_class(self.method).stores_scores:
                from lingua_core.registry import available_methods

                valid = [m for m in available_methods() if method_class(m).stores_scores]
                msg = (
                    f"method {self.method!r} has no query-independent scores to store; "
                    f"mode='score' takes: {', '.join(valid)}"
                )
                raise ValueError(msg)
            if self.endpoint is not None:
                msg = "mode='score' stores scores of a local model: give no endpoint"
                raise ValueError(msg)
            return
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
        texts = [d.page_content for d in docs]
        if self.mode == "score":
            scored = score_or_pass(self, texts)
            return [
                Document(
                    page_content=doc.page_content,
                    metadata={**doc.metadata, **extra, STATS_KEY: stats},
                    id=doc.id,
                )
                for doc, extra, stats in zip(docs, scored.extra, scored.stats)
            ]
        outcome = self._compress_or_pass(texts, None, [d.id for d in docs])
        return [
            Document(page_content=text, metadata={**doc.metadata, STATS_KEY: stats}, id=doc.id)
            for doc, text, stats in zip(docs, outcome.texts, outcome.stats)
        ]

    async def atransform_documents(
        self, documents: Sequence[Document], **kwargs: Any
    ) -> list[Document]:
        """:meth:`transform_documents` in a worker thread."""
        return await asyncio.to_thread(self.transform_documents, documents, **kwargs)
