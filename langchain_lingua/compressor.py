"""``LinguaCompressor``: a LangChain document compressor backed by a lingua-rag method."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lingua_core._deps import missing
from lingua_core.frameworks.settings import (
    EVENT_NAME,
    SCORES_KEY,
    LinguaSettings,
    Outcome,
    asks_to_reorder,
    output_metadata,
    prompt_order,
)

try:
    from langchain_core.callbacks import Callbacks, adispatch_custom_event, dispatch_custom_event
    from langchain_core.documents import Document
    from langchain_core.documents.compressor import BaseDocumentCompressor
    from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
    from langchain_core.runnables.config import get_callback_manager_for_config
except ImportError as e:  # the framework is an extra of lingua-rag
    raise missing("langchain_core") from e

logger = logging.getLogger(__name__)


def emit(stats: dict[str, Any], config: RunnableConfig | None) -> None:
    """Send the call's stats to LangChain callbacks as a custom event, when inside a run."""
    if get_callback_manager_for_config(config or {}).parent_run_id is None:
        return  # not inside a traced run: nobody to tell
    dispatch_custom_event(EVENT_NAME, stats, config=config)


async def aemit(stats: dict[str, Any], config: RunnableConfig | None) -> None:
    """:func:`emit` for async code: async handlers run on the event loop, not in a thread."""
    if get_callback_manager_for_config(config or {}).parent_run_id is None:
        return
    await adispatch_custom_event(EVENT_NAME, stats, config=config)


def compress_with(
    settings: LinguaSettings, documents: Sequence[Document], query: str | None
) -> tuple[list[Document], dict[str, Any]]:
    """Compress ``documents`` under ``settings``: the output documents and the call's stats.

    What every LangChain component of lingua-rag returns (the compressor, the retriever, the
    agent middleware): new documents (same ``id``, metadata without stored scores, the stats in
    ``metadata["lingua"]``) in input order, or in the prompt order the options ask for, without
    the documents a coarse filter dropped unless ``keep_dropped``.
    """
    docs = list(documents)
    outcome = settings._compress_or_pass(*_inputs(docs, query))
    return _documents(settings, docs, outcome), outcome.call


async def acompress_with(
    settings: LinguaSettings, documents: Sequence[Document], query: str | None
) -> tuple[list[Document], dict[str, Any]]:
    """:func:`compress_with`, awaited.

    A remote compressor's HTTP call runs on the event loop; a local model in a worker thread.
    """
    docs = list(documents)
    outcome = await settings._acompress_or_pass(*_inputs(docs, query))
    return _documents(settings, docs, outcome), outcome.call


def _inputs(
    docs: list[Document], query: str | None
) -> tuple[list[str], str | None, list[Any], list[Any]]:
    return (
        [d.page_content for d in docs],
        query,
        [d.id for d in docs],
        [d.metadata.get(SCORES_KEY) for d in docs],
    )


def _documents(settings: LinguaSettings, docs: list[Document], outcome: Outcome) -> list[Document]:
    out = []
    for i in prompt_order(outcome, asks_to_reorder(settings.options)):
        if outcome.dropped[i] and not settings.keep_dropped:
            continue
        doc = docs[i]
        metadata = output_metadata(doc.metadata, outcome.stats[i])
        out.append(Document(page_content=outcome.texts[i], metadata=metadata, id=doc.id))
    return out


class LinguaCompressor(LinguaSettings, BaseDocumentCompressor):
    """Compress each retrieved document's text with a lingua-rag method.

    Every output document is a new ``Document`` (same ``id``, a copy of the metadata without
    the stored scores of ``metadata["lingua_scores"]``) whose ``page_content`` is the compressed
    text and whose ``metadata["lingua"]`` holds the stats (at most
    :data:`~lingua_core.frameworks.settings.MAX_LINGUA_BYTES` bytes as JSON). Documents come back in
    input order (``metadata["lingua"]["order"]`` gives the method's prompt order); when the options
    ask for a prompt order (``options={"reorder": "sort"}``, LongLLMLingua's
    ``reorder_context``), in that order.
    A document that a coarse filter dropped (question-aware methods rank documents and may drop
    the least relevant) is left out, as LangChain's filters do, unless ``keep_dropped=True``;
    either way its id is reported in the ``"lingua_compression"`` custom event that LangChain
    callbacks receive (with token totals), when the call runs inside a traced run. The core
    compressor (and its model) is built on first use.

    When compression fails (the model cannot be loaded, the compressor raises), the error
    propagates by default (``on_error="raise"``). With ``on_error="passthrough"`` a warning is
    logged and every input comes back unchanged (text, id, metadata) in order, flagged with
    ``metadata["lingua"] = {"error": "<Type>: <message>", "passthrough": True, "method": ...}``;
    the event is still sent, with ``rate`` 1.0 and the ``"error"``. Invalid settings are
    rejected at construction whatever ``on_error`` says.

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
            query: The question (used by question-aware methods; empty or ``None``: those run
                query-agnostic and log so).
            callbacks: Callbacks of the calling run; they receive the ``"lingua_compression"``
                custom event.

        Returns:
            One new ``Document`` per kept input, in input order.
        """
        out, stats = compress_with(self, documents, query)
        emit(stats, {"callbacks": callbacks} if callbacks is not None else None)
        return out

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Like :meth:`compress_documents`, without blocking the event loop.

        A local model runs in a worker thread; with ``endpoint`` the HTTP call is async.
        """
        out, stats = await acompress_with(self, documents, query)
        await aemit(stats, {"callbacks": callbacks} if callbacks is not None else None)
        return out

    def as_runnable(self) -> Runnable[dict[str, Any], list[Document]]:
        """A Runnable for LCEL: ``{"question": str, "context": list[Document]}`` -> documents.

        It supports ``invoke``/``ainvoke``/``batch``/``abatch``/``stream`` like any Runnable and
        sends the ``"lingua_compression"`` custom event to the run's callbacks.

        Example:
            >>> chain = {"context": retriever, "question": RunnablePassthrough()} | (
            ...     RunnablePassthrough.assign(context=compressor.as_runnable())
            ... )  # doctest: +SKIP
        """

        def parse(value: Any) -> tuple[list[Document], str | None]:
            if not isinstance(value, dict) or "context" not in value:
                msg = (
                    "LinguaCompressor runnable expects a dict with keys 'context' (a list of "
                    f"Documents) and 'question' (a str), got {type(value).__name__}"
                )
                raise TypeError(msg)
            docs = value["context"]
            if isinstance(docs, Document):
                docs = [docs]
            bad = [type(d).__name__ for d in docs if not isinstance(d, Document)]
            if bad:
                msg = f"'context' must hold Documents, got {bad[0]}"
                raise TypeError(msg)
            question = value.get("question")
            return list(docs), question if isinstance(question, str) else None

        def run(value: Any, config: RunnableConfig) -> list[Document]:
            docs, question = parse(value)
            out, stats = compress_with(self, docs, question)
            emit(stats, config)
            return out

        async def arun(value: Any, config: RunnableConfig) -> list[Document]:
            docs, question = parse(value)
            out, stats = await acompress_with(self, docs, question)
            await aemit(stats, config)
            return out

        return RunnableLambda(run, afunc=arun, name="LinguaCompressor")
