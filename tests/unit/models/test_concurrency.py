"""One shared model under many threads and asyncio tasks: exactly the sequential results.

Mixed methods and rates share the tiny models (one causal LM, one classifier, loaded once); 32
threads run 96 calls and 64 asyncio tasks go through both adapters. Every result must equal the
one the same call gives alone, in a single thread; nothing may deadlock (each wait is bounded).
"""

from __future__ import annotations

import asyncio
import resource
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from lingua_core import get_compressor

QUERY = "Who won the first Nobel Prize in Physics?"
RATES = (0.2, 0.33, 0.5, 0.7)


@pytest.fixture(scope="module")
def mixed(tiny_llama_dir, tiny_bert_clf_dir):
    llama, clf = str(tiny_llama_dir), str(tiny_bert_clf_dir)
    return [
        get_compressor("selective_context", model=llama),
        get_compressor("selective_context", model=llama, unit="token", batch_tokens=512),
        get_compressor("llmlingua2", model=clf),
        get_compressor("llmlingua2", model=clf, budget_scope="global", force_tokens=["\n"]),
        get_compressor("llmlingua", model=llama, iterative_size=64),
        get_compressor("longllmlingua", model=llama, iterative_size=64),
        get_compressor("random"),
        get_compressor("naive"),
    ]


def jobs(nq20, compressors, n):
    """``n`` calls: compressor, texts and rate vary; some calls repeat others' texts."""
    out = []
    for i in range(n):
        texts = nq20[i % 7 : i % 7 + 2 + i % 4]
        out.append((compressors[i % len(compressors)], texts, RATES[i % len(RATES)]))
    return out


def run(job):
    comp, texts, rate = job
    return comp.compress(texts, rate=rate, query=QUERY)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def fresh(compressors):
    """The same compressors, without the scores cached by earlier calls."""
    return [get_compressor(c.method, model=c.model, **c.defaults) for c in compressors]


def test_32_threads_of_mixed_methods_and_rates_equal_sequential(mixed, nq20):
    work = jobs(nq20, mixed, 96)
    expected = [run(j) for j in jobs(nq20, fresh(mixed), 96)]
    before = peak_rss_mb()
    threaded = fresh(mixed)  # cold caches: threads race to fill them
    with ThreadPoolExecutor(max_workers=32) as pool:
        futures = [pool.submit(run, j) for j in jobs(nq20, threaded, 96)]
        got = [f.result(timeout=300) for f in futures]
    assert got == expected
    # warm caches, the other order
    with ThreadPoolExecutor(max_workers=32) as pool:
        got = list(pool.map(run, reversed(work), timeout=300))
    assert got[::-1] == [run(j) for j in work]
    assert peak_rss_mb() - before < 1024  # bounded: no per-thread model copies


def test_64_asyncio_tasks_through_both_adapters_equal_sequential(mixed, nq20):
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode

    from langchain_lingua import LinguaCompressor
    from llamaindex_lingua import LinguaPostprocessor

    specs = [(c.method, c.model, dict(c.defaults)) for c in mixed]
    calls = []
    for i in range(64):
        method, model, options = specs[i % len(specs)]
        rate = RATES[i % len(RATES)]
        texts = nq20[i % 9 : i % 9 + 1 + i % 5]
        if i % 2:
            adapter = LinguaCompressor(
                method=method, model=model, rate=rate, options=options, keep_dropped=True
            )
            docs = [Document(page_content=t, id=f"d{i}-{j}") for j, t in enumerate(texts)]
        else:
            adapter = LinguaPostprocessor(
                method=method, model=model, rate=rate, options=options, keep_dropped=True
            )
            docs = [
                NodeWithScore(node=TextNode(text=t, id_=f"n{i}-{j}")) for j, t in enumerate(texts)
            ]
        calls.append((adapter, docs))

    def view(out):
        if out and isinstance(out[0], NodeWithScore):
            return [(n.node.id_, n.node.get_content(), n.node.metadata.get("lingua")) for n in out]
        return [(d.id, d.page_content, d.metadata.get("lingua")) for d in out]

    def call_sync(adapter, docs):
        if isinstance(adapter, LinguaCompressor):
            return adapter.compress_documents(docs, QUERY)
        return adapter.postprocess_nodes(docs, query_str=QUERY)

    async def call_async(adapter, docs):
        if isinstance(adapter, LinguaCompressor):
            return await adapter.acompress_documents(docs, QUERY)
        return await adapter.apostprocess_nodes(docs, query_str=QUERY)

    async def main():
        return await asyncio.wait_for(
            asyncio.gather(*(call_async(a, d) for a, d in calls)), timeout=300
        )

    got = [view(o) for o in asyncio.run(main())]
    assert got == [view(call_sync(a, d)) for a, d in calls]
    assert [len(g) for g in got] == [len(d) for _, d in calls]
