"""LangChain Runnable, callbacks events, indexing-time transformer; LlamaIndex events, non-text
nodes; concurrency of async calls (tiny models, offline)."""

from __future__ import annotations

import asyncio

import pytest

from lingua_core import get_compressor
from tests.unit.frameworks.test_adapters import QUERY, RANDOM, TEXTS, expected_texts


def lc_docs():
    from langchain_core.documents import Document

    return [Document(page_content=t, metadata={"i": i}, id=f"d{i}") for i, t in enumerate(TEXTS)]


class Recorder:
    def __init__(self):
        from langchain_core.callbacks import BaseCallbackHandler

        events = self.events = []

        class Handler(BaseCallbackHandler):
            def on_custom_event(self, name, data, **kwargs):
                events.append((name, data))

        self.handler = Handler()


def test_runnable_maps_question_and_context_to_documents():
    from langchain_lingua import LinguaCompressor

    runnable = LinguaCompressor(**RANDOM).as_runnable()
    rec = Recorder()
    out = runnable.invoke(
        {"question": QUERY, "context": lc_docs()}, config={"callbacks": [rec.handler]}
    )
    assert [d.id for d in out] == [f"d{i}" for i in range(len(TEXTS))]
    assert [d.page_content for d in out] == expected_texts(rate=0.5)
    assert [d.metadata["i"] for d in out] == list(range(len(TEXTS)))
    ((name, stats),) = rec.events
    assert name == "lingua_compression"
    assert stats["documents"] == len(TEXTS) and stats["method"] == "random"
    assert stats["compressed_tokens"] < stats["original_tokens"] and stats["dropped_ids"] == []
    batch = runnable.batch([{"question": QUERY, "context": lc_docs()}] * 3)
    assert all([d.page_content for d in b] == expected_texts(rate=0.5) for b in batch)
    abatch = asyncio.run(runnable.abatch([{"question": QUERY, "context": lc_docs()}] * 3))
    assert abatch == batch
    with pytest.raises(TypeError, match="'context'"):
        runnable.invoke(lc_docs())


def test_runnable_in_an_lcel_chain():
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from langchain_lingua import LinguaCompressor

    retriever = RunnableLambda(lambda q: lc_docs())
    chain = {"context": retriever, "question": RunnablePassthrough()} | RunnablePassthrough.assign(
        context=LinguaCompressor(**RANDOM).as_runnable()
    )
    out = chain.invoke(QUERY)
    assert out["question"] == QUERY
    assert [d.page_content for d in out["context"]] == expected_texts(rate=0.5)


def test_dropped_ids_reach_callbacks_inside_a_retriever(tiny_llama_dir, nq20):
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    from langchain_lingua import LinguaCompressor

    docs = [Document(page_content=t, id=f"p{i}") for i, t in enumerate(nq20[:6])]

    class Fixed(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager=None):
            return docs

    compressor = LinguaCompressor(method="longllmlingua", model=str(tiny_llama_dir), rate=0.3)
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=Fixed())
    rec = Recorder()
    out = retriever.invoke(
        "Who won the first Nobel Prize in Physics?", config={"callbacks": [rec.handler]}
    )
    ((_, stats),) = rec.events
    assert stats["dropped_ids"], "a low rate drops some passages"
    assert sorted(stats["dropped_ids"] + [d.id for d in out]) == sorted(d.id for d in docs)
    ids = [d.id for d in out]
    assert ids == sorted(ids, key=lambda x: int(x[1:]))  # input order kept


def test_transformer_compresses_at_indexing_time_and_rejects_question_aware():
    from langchain_lingua import LinguaDocumentTransformer

    t = LinguaDocumentTransformer(**RANDOM)
    out = t.transform_documents(lc_docs())
    assert [d.id for d in out] == [f"d{i}" for i in range(len(TEXTS))]
    assert [d.page_content for d in out] == expected_texts(rate=0.5)
    assert asyncio.run(t.atransform_documents(lc_docs())) == out
    with pytest.raises(ValueError, match=r"needs a question.*selective_context"):
        LinguaDocumentTransformer(method="longllmlingua")


def test_concurrent_async_calls_equal_sequential(tiny_llama_dir, nq20):
    from langchain_core.documents import Document

    from langchain_lingua import LinguaCompressor

    compressor = LinguaCompressor(method="selective_context", model=str(tiny_llama_dir), rate=0.4)
    calls = [
        [Document(page_content=t, id=str(j)) for j, t in enumerate(nq20[i : i + 4])]
        for i in range(0, 20, 1)
    ]
    sequential = [compressor.compress_documents(docs, QUERY) for docs in calls]

    async def together():
        return await asyncio.gather(*(compressor.acompress_documents(d, QUERY) for d in calls))

    assert asyncio.run(together()) == sequential


def test_llamaindex_events_and_non_text_nodes():
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.schema import ImageNode, NodeWithScore, TextNode

    from llamaindex_lingua import LinguaPostprocessor

    seen = []

    class Handler(BaseEventHandler):
        def handle(self, event, **kwargs):
            if event.class_name() == "lingua_compression":
                seen.append(event.stats)

    handler = Handler()
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        image = NodeWithScore(node=ImageNode(image="aGVsbG8=", id_="img"), score=0.3)
        text = [
            NodeWithScore(node=TextNode(text=t, id_=f"t{i}"), score=1.0)
            for i, t in enumerate(TEXTS)
        ]
        nodes = [text[0], image, *text[1:]]
        out = LinguaPostprocessor(**RANDOM).postprocess_nodes(nodes, query_str=QUERY)
    finally:
        root.event_handlers.remove(handler)
    assert [n.node.node_id for n in out] == [n.node.node_id for n in nodes]
    assert out[1] is image  # passed through untouched
    assert [n.node.get_content() for n in (out[0], *out[2:])] == expected_texts(rate=0.5)
    (stats,) = seen
    assert stats["documents"] == len(TEXTS) - 1  # the empty text is not compressed
    assert stats["compressed_tokens"] < stats["original_tokens"]


def test_inside_a_document_compressor_pipeline():
    from langchain_classic.retrievers.document_compressors import DocumentCompressorPipeline

    from langchain_lingua import LinguaCompressor

    first = LinguaCompressor(method="naive")  # no budget: drops stop words
    second = LinguaCompressor(**RANDOM)
    out = DocumentCompressorPipeline(transformers=[first, second]).compress_documents(
        lc_docs(), QUERY
    )
    assert [d.id for d in out] == [f"d{i}" for i in range(len(TEXTS))]
    naive = [r.text for r in get_compressor("naive").compress(TEXTS)]
    assert all(len(d.page_content) <= len(n) for d, n in zip(out, naive))
    assert out[0].metadata["lingua"]["method"] == "random"


def test_llamaindex_concurrent_async_calls_equal_sequential(tiny_llama_dir, nq20):
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from llamaindex_lingua import LinguaPostprocessor

    post = LinguaPostprocessor(method="longllmlingua", model=str(tiny_llama_dir), rate=0.4)
    calls = [
        [
            NodeWithScore(node=TextNode(text=t, id_=f"{i}-{j}"), score=1.0 / (j + 1))
            for j, t in enumerate(nq20[i : i + 4])
        ]
        for i in range(20)
    ]
    query = QueryBundle("Who won the first Nobel Prize in Physics?")
    sequential = [post.postprocess_nodes(nodes, query) for nodes in calls]

    async def together():
        return await asyncio.gather(*(post.apostprocess_nodes(n, query) for n in calls))

    def plain(batches):
        return [[(n.node.node_id, n.score, n.node.get_content()) for n in b] for b in batches]

    assert plain(asyncio.run(together())) == plain(sequential)


def test_no_documents_give_no_documents():
    from langchain_lingua import LinguaCompressor
    from llamaindex_lingua import LinguaPostprocessor

    assert LinguaCompressor(**RANDOM).compress_documents([], QUERY) == []
    assert LinguaCompressor(**RANDOM).as_runnable().invoke({"question": QUERY, "context": []}) == []
    assert LinguaPostprocessor(**RANDOM).postprocess_nodes([], query_str=QUERY) == []
