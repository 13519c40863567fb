"""``LinguaRetriever``: any LangChain retriever, its documents compressed by a lingua-rag method.

LangChain 1.x keeps ``ContextualCompressionRetriever`` in ``langchain-classic`` (legacy); this
retriever needs only ``langchain-core``, and is what an agent's retrieval tool wraps
(``create_retriever_tool(LinguaRetriever(...), ...)``).
"""

from __future__ import annotations

from lingua_core._deps import missing
from lingua_core.frameworks.settings import LinguaSettings

try:
    import pydantic
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as e:  # the framework is an extra of lingua-rag
    raise missing("langchain_core") from e

from langchain_lingua.compressor import acompress_with, aemit, compress_with, emit


class LinguaRetriever(LinguaSettings, BaseRetriever):
    """A base retriever whose documents are compressed for the query before they are returned.

    The base retriever's documents (its first ``k`` when ``k`` is set, in the constructor or
    per call: ``retriever.invoke(query, k=3)``) are compressed as :class:`LinguaCompressor`
    compresses them: one new ``Document`` per kept input (same ``id``, metadata kept but for
    the stored scores, the stats in ``metadata["lingua"]``), in the base retriever's order;
    documents a coarse filter dropped are left out unless ``keep_dropped=True``. The
    ``"lingua_compression"`` custom event reaches the run's callbacks. ``ainvoke`` awaits the
    base retriever's async path and compresses without blocking the event loop (a local model
    in a worker thread, a ``lingua serve`` endpoint over async HTTP).

    Example:
        >>> retriever = LinguaRetriever(base_retriever=base, rate=0.33)  # doctest: +SKIP
        >>> docs = retriever.invoke("Who wrote Hamlet?")  # doctest: +SKIP
    """

    base_retriever: BaseRetriever = pydantic.Field(
        description="The retriever whose documents are compressed."
    )
    k: int | None = pydantic.Field(
        None, description="Compress and return at most the base retriever's first k documents."
    )

    @pydantic.field_validator("k")
    @classmethod
    def _check_k(cls, value: int | None) -> int | None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            msg = f"k must be None or an int >= 1, got {value!r}"
            raise ValueError(msg)
        return value

    def _first(self, docs: list[Document], k: int | None) -> list[Document]:
        limit = self.k if k is None else self._check_k(k)
        return docs if limit is None else docs[:limit]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        child = run_manager.get_child()
        docs = self._first(self.base_retriever.invoke(query, config={"callbacks": child}), k)
        out, stats = compress_with(self, docs, query)
        emit(stats, {"callbacks": child})
        return out

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        child = run_manager.get_child()
        found = await self.base_retriever.ainvoke(query, config={"callbacks": child})
        docs = self._first(found, k)
        out, stats = await acompress_with(self, docs, query)
        await aemit(stats, {"callbacks": child})
        return out
