"""Indexing-time scores through the adapters: stored by the transformer, used at query time."""

from __future__ import annotations

import json

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from langchain_lingua import LinguaCompressor, LinguaDocumentTransformer
from lingua_core.models import load_causal_lm
from lingua_core.models.batcher import forget_recent as _rows
from llamaindex_lingua import LinguaPostprocessor


def test_scores_stored_at_indexing_are_used_by_both_adapters(tiny_llama_dir, nq20):
    opts = {"method": "selective_context", "model": str(tiny_llama_dir)}
    docs = [Document(page_content=t, metadata={"i": i}, id=f"d{i}") for i, t in enumerate(nq20[:5])]
    indexed = LinguaDocumentTransformer(mode="score", **opts).transform_documents(docs)
    assert [d.page_content for d in indexed] == [d.page_content for d in docs]  # kept whole
    assert [d.id for d in indexed] == [d.id for d in docs]
    assert all(isinstance(d.metadata["lingua_scores"], str) for d in indexed)  # one scalar
    assert all(
        json.loads(d.metadata["lingua_scores"])["method"] == "selective_context" for d in indexed
    )
    assert [d.metadata["i"] for d in indexed] == list(range(5))

    want = LinguaCompressor(rate=0.4, **opts).compress_documents(docs, "q")
    loaded = load_causal_lm(str(tiny_llama_dir))
    before = _rows(loaded)
    got = LinguaCompressor(rate=0.4, **opts).compress_documents(indexed, "q")
    assert [d.page_content for d in got] == [d.page_content for d in want]
    assert _rows(loaded) == before  # stored scores: no forward

    nodes = [
        NodeWithScore(node=TextNode(text=d.page_content, metadata=dict(d.metadata)), score=1.0)
        for d in indexed
    ]
    out = LinguaPostprocessor(rate=0.4, **opts).postprocess_nodes(
        nodes, query_bundle=QueryBundle("q")
    )
    assert [n.node.get_content() for n in out] == [d.page_content for d in want]
    assert _rows(loaded) == before
    llm_view = out[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "lingua_scores" not in llm_view  # the payload never reaches the prompt


def test_score_mode_takes_methods_that_store_scores_only():
    with pytest.raises(ValueError, match=r"no query-independent scores to store.*llmlingua2"):
        LinguaDocumentTransformer(mode="score", method="llmlingua")
    LinguaDocumentTransformer(mode="score", method="default")  # stores its embeddings
    with pytest.raises(ValueError, match="needs a question"):
        LinguaDocumentTransformer(method="default")  # compress mode: query-agnostic only
