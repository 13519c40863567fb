"""Async calls take the compressor's async path where it has one (a ``lingua serve`` endpoint):
no worker thread, the HTTP call awaited on the event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from langchain_lingua import LinguaCompressor, LinguaRetriever
from lingua_core import get_compressor
from llamaindex_lingua import LinguaPostprocessor

TEXTS = ["The Eiffel Tower was completed in 1889.", "Mount Everest is 8,849 metres high."]


class AsyncOnly:
    """A remote-like compressor: ``acompress`` works, ``compress`` must not be called."""

    method = "random"

    def __init__(self) -> None:
        self.inner = get_compressor("random", seed=1)
        self.threads: list[str] = []

    def compress(self, texts: Any, **kwargs: Any) -> Any:
        raise AssertionError("the sync path was taken")

    async def acompress(self, texts: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread().name)
        await asyncio.sleep(0)
        return self.inner.compress(texts, **kwargs)

    def warmup(self) -> None:
        """Nothing to load."""


def _with(settings: Any) -> AsyncOnly:
    fake = AsyncOnly()
    settings._compressor = fake  # what endpoint= builds: a compressor with acompress
    return fake


def test_langchain_awaits_the_async_path_on_the_loop():
    compressor = LinguaCompressor(method="random", rate=0.5)
    fake = _with(compressor)
    docs = asyncio.run(compressor.acompress_documents([Document(t) for t in TEXTS], "when?"))
    expected = get_compressor("random", seed=1).compress(TEXTS, query="when?", rate=0.5)
    assert [d.page_content for d in docs] == [r.text for r in expected]
    assert fake.threads == [threading.main_thread().name]  # no worker thread


def test_the_retriever_awaits_it_too():
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore.from_documents(
        [Document(t) for t in TEXTS], DeterministicFakeEmbedding(size=8)
    )
    retriever = LinguaRetriever(base_retriever=store.as_retriever(), method="random", rate=0.5)
    fake = _with(retriever)
    assert len(asyncio.run(retriever.ainvoke("when?"))) == 2
    assert fake.threads == [threading.main_thread().name]


def test_llamaindex_awaits_the_async_path_on_the_loop():
    post = LinguaPostprocessor(method="random", rate=0.5)
    fake = _with(post)
    nodes = [NodeWithScore(node=TextNode(text=t), score=1.0) for t in TEXTS]
    out = asyncio.run(post.apostprocess_nodes(nodes, QueryBundle("when?")))
    assert len(out) == 2 and all("lingua" in n.node.metadata for n in out)
    assert fake.threads == [threading.main_thread().name]
