"""LangChain's standard retriever suite (``langchain-tests``) on ``LinguaRetriever``.

The base retriever is an ``InMemoryVectorStore`` over deterministic fake embeddings; the method
is the seeded ``random`` (it keeps every document, so ``k`` is exact).
"""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_lingua import LinguaRetriever


def _base() -> Any:
    docs = [Document(f"passage {i} about topic {i % 3} " * 8, id=str(i)) for i in range(10)]
    store = InMemoryVectorStore.from_documents(docs, DeterministicFakeEmbedding(size=8))
    return store.as_retriever(search_kwargs={"k": 10})


class TestLinguaRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[LinguaRetriever]:
        return LinguaRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"base_retriever": _base(), "method": "random", "rate": 0.5, "options": {"seed": 1}}

    @property
    def retriever_query_example(self) -> str:
        return "topic 1"
