"""LangChain and LlamaIndex adapters: thin, order-preserving, metadata-preserving, lazy."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from lingua_core import get_compressor

TEXTS = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
    "It is named after the engineer Gustave Eiffel, whose company designed and built it.",
    "Photosynthesis converts light energy into chemical energy. Plants, algae and many "
    "bacteria use it; oxygen is released as a by-product.",
    "Short text here.",
    "",
]
QUERY = "Who built the Eiffel Tower?"
RANDOM = {"method": "random", "options": {"seed": 0}, "rate": 0.5}


def expected_texts(method: str = "random", **kwargs) -> list[str]:
    options = {"seed": 0} if method == "random" else {}
    results = get_compressor(method, **options).compress(TEXTS, query=QUERY, **kwargs)
    return [r.text for r in results]


def test_packages_import_without_frameworks_or_torch():
    code = (
        "import sys, langchain_lingua, llamaindex_lingua\n"
        "assert 'langchain_core' not in sys.modules\n"
        "assert 'llama_index.core' not in sys.modules\n"
        "assert 'torch' not in sys.modules\n"
        "assert 'LinguaCompressor' in dir(langchain_lingua)\n"
        "assert 'LinguaPostprocessor' in dir(llamaindex_lingua)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_lazy_attribute_errors():
    import langchain_lingua
    import llamaindex_lingua

    with pytest.raises(AttributeError):
        _ = langchain_lingua.Nope
    with pytest.raises(AttributeError):
        _ = llamaindex_lingua.Nope


def test_missing_framework_gives_install_hint():
    code = (
        "import sys\n"
        "sys.modules['langchain_core'] = None\n"
        "sys.modules['llama_index.core'] = None\n"
        "import langchain_lingua, llamaindex_lingua\n"
        "for mod, name, extra in ((langchain_lingua, 'LinguaCompressor', 'langchain'),\n"
        "                         (llamaindex_lingua, 'LinguaPostprocessor', 'llamaindex')):\n"
        "    try:\n"
        "        getattr(mod, name)\n"
        "    except ImportError as e:\n"
        "        assert f'lingua-rag[{extra}]' in str(e), str(e)\n"
        "    else:\n"
        "        raise AssertionError('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ---------------------------------------------------------------------------- LangChain


def lc_docs():
    from langchain_core.documents import Document

    return [
        Document(page_content=t, metadata={"source": f"s{i}", "i": i}, id=f"doc-{i}")
        for i, t in enumerate(TEXTS)
    ]


def test_langchain_order_metadata_ids_and_text():
    from langchain_lingua import LinguaCompressor

    docs = lc_docs()
    out = LinguaCompressor(**RANDOM).compress_documents(docs, QUERY)
    assert [d.id for d in out] == [d.id for d in docs]
    assert [d.page_content for d in out] == expected_texts(rate=0.5)
    for doc, new in zip(docs, out):
        stats = new.metadata.pop("lingua")
        assert new.metadata == doc.metadata
        assert "lingua" not in doc.metadata  # the input is not modified
        assert set(stats) == {"original_tokens", "compressed_tokens", "rate", "method"}
        assert stats["method"] == "random"
        assert stats["compressed_tokens"] <= stats["original_tokens"]
    assert out[0].page_content != docs[0].page_content


def test_langchain_none_method_is_identity():
    from langchain_lingua import LinguaCompressor

    docs = lc_docs()
    out = LinguaCompressor(method="none").compress_documents(docs, QUERY)
    assert [d.page_content for d in out] == TEXTS
    assert all(d.metadata["lingua"]["rate"] == 1.0 for d in out)


def test_langchain_target_tokens_matches_core():
    from langchain_lingua import LinguaCompressor

    out = LinguaCompressor(
        method="random", options={"seed": 0}, target_tokens=20
    ).compress_documents(lc_docs(), QUERY)
    want = get_compressor("random", seed=0).compress(TEXTS, query=QUERY, target_tokens=20)
    kept = [r.text for r in want if not r.dropped]
    assert [d.page_content for d in out] == kept


def test_langchain_dropped_documents():
    from langchain_lingua import LinguaCompressor

    texts = ["alpha beta gamma delta " * 5, "one two three four " * 5]
    want = get_compressor("random", seed=0).compress(texts, target_tokens=1)
    assert any(r.dropped for r in want)
    docs = [d.model_copy(update={"page_content": t}) for d, t in zip(lc_docs(), texts)]
    kwargs = {"method": "random", "options": {"seed": 0}, "target_tokens": 1}
    dropped_out = LinguaCompressor(**kwargs).compress_documents(docs, "")
    assert [d.id for d in dropped_out] == [d.id for d, r in zip(docs, want) if not r.dropped]
    kept = LinguaCompressor(**kwargs, keep_dropped=True).compress_documents(docs, "")
    assert [d.id for d in kept] == [d.id for d in docs]
    for doc, r in zip(kept, want):
        assert doc.metadata["lingua"].get("dropped", False) is r.dropped
        if r.dropped:
            assert doc.page_content == ""


def test_langchain_validation():
    from langchain_lingua import LinguaCompressor

    with pytest.raises(ValueError, match="not both"):
        LinguaCompressor(method="random", rate=0.5, target_tokens=10)
    with pytest.raises(ValueError):
        LinguaCompressor(method="random", not_a_field=1)
    bad = LinguaCompressor(method="random", options={"no_such_option": 1})  # lazy: no error yet
    with pytest.raises(ValueError, match="no_such_option"):
        bad.compress_documents(lc_docs(), QUERY)


def test_langchain_async_matches_sync():
    from langchain_lingua import LinguaCompressor

    compressor = LinguaCompressor(**RANDOM)
    sync = compressor.compress_documents(lc_docs(), QUERY)
    result = asyncio.run(compressor.acompress_documents(lc_docs(), QUERY))
    assert list(result) == list(sync)


def test_langchain_contextual_compression_retriever():
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_core.retrievers import BaseRetriever

    from langchain_lingua import LinguaCompressor

    class FixedRetriever(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            return lc_docs()

    retriever = ContextualCompressionRetriever(
        base_compressor=LinguaCompressor(**RANDOM), base_retriever=FixedRetriever()
    )
    out = retriever.invoke(QUERY)
    assert [d.page_content for d in out] == expected_texts(rate=0.5)
    assert [d.id for d in out] == [f"doc-{i}" for i in range(len(TEXTS))]
    assert all("lingua" in d.metadata for d in out)
    assert asyncio.run(retriever.ainvoke(QUERY)) == out


# ---------------------------------------------------------------------------- LlamaIndex


def li_nodes():
    from llama_index.core.schema import NodeRelationship, NodeWithScore, RelatedNodeInfo, TextNode

    return [
        NodeWithScore(
            node=TextNode(
                id_=f"node-{i}",
                text=t,
                metadata={"source": f"s{i}"},
                excluded_llm_metadata_keys=["lingua"] if i == 0 else [],
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"src-{i}")},
            ),
            score=1.0 - i / 10,
        )
        for i, t in enumerate(TEXTS)
    ]


def test_llamaindex_nodes_ids_scores_metadata_and_text():
    from llama_index.core.schema import MetadataMode, NodeRelationship

    from llamaindex_lingua import LinguaPostprocessor

    nodes = li_nodes()
    out = LinguaPostprocessor(**RANDOM).postprocess_nodes(nodes, query_str=QUERY)
    assert [n.node.node_id for n in out] == [n.node.node_id for n in nodes]
    assert [n.score for n in out] == [n.score for n in nodes]
    assert [n.node.get_content() for n in out] == expected_texts(rate=0.5)
    for old, new in zip(nodes, out):
        if not old.node.get_content().strip():
            assert new is old  # nothing to compress: returned as it came
            continue
        assert new.node is not old.node
        assert new.node.relationships[NodeRelationship.SOURCE].node_id == (
            old.node.relationships[NodeRelationship.SOURCE].node_id
        )
        stats = new.node.metadata["lingua"]
        assert {k: v for k, v in new.node.metadata.items() if k != "lingua"} == old.node.metadata
        assert stats["method"] == "random"
        assert new.node.excluded_llm_metadata_keys.count("lingua") == 1
        assert new.node.excluded_embed_metadata_keys.count("lingua") == 1
        for mode in (MetadataMode.LLM, MetadataMode.EMBED):
            content = new.node.get_content(metadata_mode=mode)
            assert "original_tokens" not in content and "lingua" not in content
            assert "s" in content
        # the inputs are not modified
        assert "lingua" not in old.node.metadata
        assert old.node.get_content() in TEXTS
    assert nodes[1].node.excluded_llm_metadata_keys == []


def test_llamaindex_query_bundle_and_none_method():
    from llama_index.core.schema import QueryBundle

    from llamaindex_lingua import LinguaPostprocessor

    postprocessor = LinguaPostprocessor(method="none")
    assert postprocessor.class_name() == "LinguaPostprocessor"
    out = postprocessor.postprocess_nodes(li_nodes(), QueryBundle(QUERY))
    assert [n.node.get_content() for n in out] == TEXTS
    assert len(postprocessor.postprocess_nodes(li_nodes())) == len(TEXTS)


def test_llamaindex_dropped_nodes():
    from llamaindex_lingua import LinguaPostprocessor

    texts = ["alpha beta gamma delta " * 5, "one two three four " * 5]
    want = get_compressor("random", seed=0).compress(texts, target_tokens=1)
    nodes = li_nodes()[:2]
    for n, t in zip(nodes, texts):
        n.node.set_content(t)
    kwargs = {"method": "random", "options": {"seed": 0}, "target_tokens": 1}
    out = LinguaPostprocessor(**kwargs).postprocess_nodes(nodes)
    assert [n.node.node_id for n in out] == [
        n.node.node_id for n, r in zip(nodes, want) if not r.dropped
    ]
    kept = LinguaPostprocessor(**kwargs, keep_dropped=True).postprocess_nodes(nodes)
    assert [n.node.node_id for n in kept] == [n.node.node_id for n in nodes]
    for n, r in zip(kept, want):
        assert n.node.metadata["lingua"].get("dropped", False) is r.dropped


def test_llamaindex_validation():
    from llamaindex_lingua import LinguaPostprocessor

    with pytest.raises(ValueError, match="not both"):
        LinguaPostprocessor(method="random", rate=0.5, target_tokens=10)
    bad = LinguaPostprocessor(method="random", options={"no_such_option": 1})
    with pytest.raises(ValueError, match="no_such_option"):
        bad.postprocess_nodes(li_nodes(), query_str=QUERY)


def test_llamaindex_async_matches_sync():
    from llamaindex_lingua import LinguaPostprocessor

    postprocessor = LinguaPostprocessor(**RANDOM)
    sync = postprocessor.postprocess_nodes(li_nodes(), query_str=QUERY)
    result = asyncio.run(postprocessor.apostprocess_nodes(li_nodes(), query_str=QUERY))
    assert [(n.node.node_id, n.score, n.node.get_content()) for n in result] == [
        (n.node.node_id, n.score, n.node.get_content()) for n in sync
    ]


def test_conflicting_adapter_settings_are_rejected():
    from langchain_lingua import LinguaCompressor
    from llamaindex_lingua import LinguaPostprocessor

    for cls in (LinguaCompressor, LinguaPostprocessor):
        with pytest.raises(ValueError, match="'model' is given both as a field and in options"):
            cls(method="selective_context", model="a", options={"model": "b"})
        with pytest.raises(ValueError, match="'rate' is a field of its own"):
            cls(method="random", options={"rate": 0.5})


def test_adapters_share_documented_fields_and_forbid_unknown_ones():
    from langchain_lingua import LinguaCompressor
    from llamaindex_lingua import LinguaPostprocessor

    for cls in (LinguaCompressor, LinguaPostprocessor):
        for name in ("method", "model", "rate", "target_tokens", "device", "options"):
            assert cls.model_fields[name].description
        with pytest.raises(ValueError, match="bogus"):
            cls(method="random", bogus=1)


def test_adapters_keep_input_order_unless_asked_to_reorder(nq20):
    """Input order by default (every document back, in order); ``options={"reorder": "sort"}``
    returns the method's prompt order, and LlamaIndex's non-text nodes keep their slots."""
    from langchain_core.documents import Document
    from llama_index.core.schema import ImageNode, NodeWithScore, QueryBundle, TextNode

    from langchain_lingua import LinguaCompressor
    from llamaindex_lingua import LinguaPostprocessor

    question = "Who won the first Nobel Prize in Physics?"
    docs = [Document(page_content=t, id=f"d{i}") for i, t in enumerate(nq20[:6])]
    plain = LinguaCompressor(rate=0.5, keep_dropped=True).compress_documents(docs, question)
    assert [d.id for d in plain] == [d.id for d in docs]
    ranked = LinguaCompressor(
        rate=0.5, keep_dropped=True, options={"reorder": "sort"}
    ).compress_documents(docs, question)
    orders = [d.metadata["lingua"].get("order") for d in ranked]
    placed = [o for o in orders if o is not None]
    assert placed == list(range(len(placed))) and None not in orders[: len(placed)]
    assert sorted(d.id for d in ranked) == sorted(d.id for d in docs)
    assert [d.id for d in ranked] != [d.id for d in docs]  # the first passage is not the best

    nodes = [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=1.0) for i, t in enumerate(nq20[:4])
    ]
    nodes.insert(2, NodeWithScore(node=ImageNode(image="aGk=", id_="img"), score=0.5))
    nodes.insert(0, NodeWithScore(node=TextNode(text="  ", id_="blank"), score=0.1))
    out = LinguaPostprocessor(
        rate=0.5, keep_dropped=True, options={"reorder": "sort"}
    ).postprocess_nodes(nodes, query_bundle=QueryBundle(question))
    ids = [n.node.node_id for n in out]
    assert ids[0] == "blank" and ids[3] == "img"  # nothing to compress: same slot
    assert sorted(ids) == sorted(n.node.node_id for n in nodes)  # none lost
    ranked_nodes = [n for n in out if n.node.node_id.startswith("n")]
    orders = [n.node.metadata["lingua"].get("order") for n in ranked_nodes]
    placed = [o for o in orders if o is not None]
    assert placed == list(range(len(placed)))
    default = LinguaPostprocessor(rate=0.5, keep_dropped=True).postprocess_nodes(
        nodes, query_bundle=QueryBundle(question)
    )
    assert [n.node.node_id for n in default] == [n.node.node_id for n in nodes]
