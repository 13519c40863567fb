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


def test_defaults_store_and_use_the_same_scores_and_nothing_bulky_reaches_the_prompt(nq20, caplog):
    """Issue 25: with both defaults the stored scores are used (no warning), and the output
    documents carry no payload, only a few hundred bytes of lingua metadata."""
    from lingua_core.frameworks.settings import MAX_LINGUA_BYTES

    docs = [Document(page_content=t, metadata={"i": i}, id=f"d{i}") for i, t in enumerate(nq20[:5])]
    transformer = LinguaDocumentTransformer(mode="score")
    assert transformer.method == "coarse_to_fine"
    assert "method" not in transformer.model_fields_set
    assert LinguaDocumentTransformer().method == "selective_context"  # compress mode
    indexed = transformer.transform_documents(docs)
    assert all(
        json.loads(d.metadata["lingua_scores"])["method"] == "coarse_to_fine" for d in indexed
    )

    compressor = LinguaCompressor(rate=0.33)
    embedder = compressor.compressor.embedder()
    loaded = embedder.loaded()
    embedder._cache.clear()  # the transformer's scoring calls filled it
    before = _rows(loaded)
    with caplog.at_level("WARNING"):
        got = compressor.compress_documents(indexed, "Who won the first Nobel Prize in Physics?")
    assert _rows(loaded) - before <= 2  # only the question (and its multi-hop form) embedded
    embedder._cache.clear()
    want = compressor.compress_documents(docs, "Who won the first Nobel Prize in Physics?")
    assert _rows(loaded) - before > 10  # without stored scores every sentence is embedded
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert [d.page_content for d in got] == [d.page_content for d in want]
    for d in got:
        assert "lingua_scores" not in d.metadata
        assert len(json.dumps(d.metadata["lingua"])) <= MAX_LINGUA_BYTES
        assert d.metadata["i"] == int(d.id[1:])  # the user's metadata is kept
    prompt = "\n\n".join(f"{d.metadata}\n{d.page_content}" for d in got)
    whole = "\n\n".join(f"{d.metadata}\n{d.page_content}" for d in docs)
    assert len(prompt) < 0.6 * len(whole)  # a template that formats metadata gets shorter too

    nodes = [
        NodeWithScore(node=TextNode(text=d.page_content, metadata=dict(d.metadata)))
        for d in indexed
    ]
    out = LinguaPostprocessor(rate=0.33).postprocess_nodes(
        nodes, query_bundle=QueryBundle("Who won the first Nobel Prize in Physics?")
    )
    assert all("lingua_scores" not in n.node.metadata for n in out)


def test_passthrough_drops_the_payload_and_bounds_the_error(monkeypatch):
    from lingua_core.frameworks.settings import MAX_LINGUA_BYTES

    compressor = LinguaCompressor(method="random", rate=0.5, on_error="passthrough")

    def boom(*args, **kwargs):
        raise RuntimeError("x" * 5000)

    monkeypatch.setattr(compressor.compressor, "compress", boom)
    doc = Document(page_content="a b c d", metadata={"lingua_scores": "y" * 20000, "k": 1})
    (out,) = compressor.compress_documents([doc], "q")
    assert out.page_content == "a b c d" and out.metadata["k"] == 1
    assert "lingua_scores" not in out.metadata
    assert len(json.dumps(out.metadata["lingua"])) <= MAX_LINGUA_BYTES
