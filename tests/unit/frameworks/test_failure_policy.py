"""The adapters' failure policy: ``on_error="raise"`` (default) or ``"passthrough"``."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.unit.frameworks.test_adapters import QUERY, RANDOM, TEXTS

LOGGER = "lingua_core.frameworks.failures"
PASSTHROUGH = {**RANDOM, "on_error": "passthrough"}


def adapter_classes():
    from langchain_lingua import LinguaCompressor, LinguaDocumentTransformer
    from llamaindex_lingua import LinguaPostprocessor

    return (LinguaCompressor, LinguaDocumentTransformer, LinguaPostprocessor)


def boom(*args, **kwargs):
    raise RuntimeError("boom")


def failing(cls, monkeypatch, error=boom, **kwargs):
    """An adapter whose built core compressor raises on ``compress``."""
    adapter = cls(**{**RANDOM, **kwargs})
    monkeypatch.setattr(adapter.compressor, "compress", error)
    return adapter


def missing_model(cls, tmp_path, **kwargs):
    """An adapter whose model folder does not exist (found when the model loads, on use)."""
    return cls(method="selective_context", model=str(tmp_path / "no-such-model"), **kwargs)


def lc_docs():
    from langchain_core.documents import Document

    return [
        Document(page_content=t, metadata={"source": f"s{i}", "i": i}, id=f"doc-{i}")
        for i, t in enumerate(TEXTS)
    ]


def assert_passed_through(out, docs, error):
    """Every LangChain document came back unchanged, in order, flagged with ``error``."""
    assert [d.id for d in out] == [d.id for d in docs]
    assert [d.page_content for d in out] == [d.page_content for d in docs]
    for old, new in zip(docs, out):
        flag = new.metadata["lingua"]
        assert {k: v for k, v in new.metadata.items() if k != "lingua"} == old.metadata
        assert "lingua" not in old.metadata  # the input is not modified
        assert flag["passthrough"] is True
        assert flag["error"].startswith(error)
        assert set(flag) == {"error", "passthrough", "method"}
    assert len({id(d.metadata["lingua"]) for d in out}) == len(out)  # one dict per document


def assert_warned(caplog, error):
    records = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    (record,) = records
    assert error in record.getMessage() and "passthrough" in record.getMessage()
    assert record.exc_info is None  # one line; the traceback goes to DEBUG
    debug = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.DEBUG]
    assert debug and debug[-1].exc_info is not None and debug[-1].exc_info[0].__name__ in error


# ---------------------------------------------------------------------------- settings


def test_on_error_defaults_to_raise_and_is_documented():
    for cls in adapter_classes():
        assert cls(method="random").on_error == "raise"
        description = cls.model_fields["on_error"].description
        assert "raise" in description and "passthrough" in description


@pytest.mark.parametrize("value", ["ignore", "Passthrough", "", None, 1])
def test_invalid_on_error_is_rejected_naming_the_choices(value):
    for cls in adapter_classes():
        with pytest.raises(ValueError, match="on_error") as info:
            cls(method="random", on_error=value)
        assert "'raise'" in str(info.value) and "'passthrough'" in str(info.value)


def test_passthrough_does_not_hide_bad_settings():
    for cls in adapter_classes():
        with pytest.raises(ValueError, match="rate"):
            cls(method="random", rate=2.0, on_error="passthrough")
        with pytest.raises(ValueError, match="not both"):
            cls(method="random", rate=0.5, target_tokens=10, on_error="passthrough")
        with pytest.raises(ValueError, match="unknown method 'nope'"):
            cls(method="nope", on_error="passthrough")
        with pytest.raises(ValueError, match="'rate' is a field of its own"):
            cls(method="random", options={"rate": 0.5}, on_error="passthrough")


# ---------------------------------------------------------------------------- LangChain


def test_compressor_raises_by_default(monkeypatch, tmp_path, caplog):
    from langchain_lingua import LinguaCompressor

    with pytest.raises(RuntimeError, match="boom"):
        failing(LinguaCompressor, monkeypatch).compress_documents(lc_docs(), QUERY)
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        missing_model(LinguaCompressor, tmp_path).compress_documents(lc_docs(), QUERY)
    assert not [r for r in caplog.records if r.name == LOGGER]  # raised, not logged


def test_compressor_passthrough_returns_originals_flagged(monkeypatch, caplog):
    from langchain_lingua import LinguaCompressor

    docs = lc_docs()
    compressor = failing(LinguaCompressor, monkeypatch, on_error="passthrough")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        out = compressor.compress_documents(docs, QUERY)
    assert_passed_through(out, docs, "RuntimeError: boom")
    assert out[0].metadata["lingua"] == {
        "error": "RuntimeError: boom",
        "passthrough": True,
        "method": "random",
    }
    assert_warned(caplog, "RuntimeError: boom")


def test_compressor_passthrough_on_a_model_that_does_not_exist(tmp_path, caplog):
    from langchain_lingua import LinguaCompressor

    docs = lc_docs()
    compressor = missing_model(LinguaCompressor, tmp_path, rate=0.5, on_error="passthrough")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        out = compressor.compress_documents(docs, QUERY)
    assert_passed_through(out, docs, "FileNotFoundError: model folder does not exist")
    assert out[0].metadata["lingua"]["method"] == "selective_context"
    assert_warned(caplog, "FileNotFoundError")


def test_compressor_async_paths(monkeypatch, tmp_path, caplog):
    from langchain_lingua import LinguaCompressor

    docs = lc_docs()
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(failing(LinguaCompressor, monkeypatch).acompress_documents(docs, QUERY))
    compressor = failing(LinguaCompressor, monkeypatch, on_error="passthrough")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        out = asyncio.run(compressor.acompress_documents(docs, QUERY))
    assert_passed_through(out, docs, "RuntimeError: boom")
    assert_warned(caplog, "RuntimeError: boom")
    missing = missing_model(LinguaCompressor, tmp_path, on_error="passthrough")
    out = asyncio.run(missing.acompress_documents(docs, QUERY))
    assert_passed_through(out, docs, "FileNotFoundError")


def test_runnable_passthrough_and_event(monkeypatch, caplog):
    from langchain_lingua import LinguaCompressor
    from tests.unit.frameworks.test_adapters_runnable import Recorder

    docs = lc_docs()
    value = {"question": QUERY, "context": docs}
    with pytest.raises(RuntimeError, match="boom"):
        failing(LinguaCompressor, monkeypatch).as_runnable().invoke(value)

    runnable = failing(LinguaCompressor, monkeypatch, on_error="passthrough").as_runnable()
    rec = Recorder()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        out = runnable.invoke(value, config={"callbacks": [rec.handler]})
    assert_passed_through(out, docs, "RuntimeError: boom")
    assert_warned(caplog, "RuntimeError: boom")
    ((name, stats),) = rec.events
    assert name == "lingua_compression"
    assert stats == {
        "method": "random",
        "documents": len(docs),
        "rate": 1.0,
        "dropped_ids": [],
        "error": "RuntimeError: boom",
        "passthrough": True,
    }
    assert_passed_through(asyncio.run(runnable.ainvoke(value)), docs, "RuntimeError: boom")
    # input errors are the caller's, not compression failures: always raised
    with pytest.raises(TypeError, match="'context'"):
        runnable.invoke(docs)


def test_passthrough_inside_a_retriever(monkeypatch):
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_core.retrievers import BaseRetriever

    from langchain_lingua import LinguaCompressor

    class FixedRetriever(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            return lc_docs()

    compressor = failing(LinguaCompressor, monkeypatch, on_error="passthrough")
    retriever = ContextualCompressionRetriever(
        base_compressor=compressor, base_retriever=FixedRetriever()
    )
    assert_passed_through(retriever.invoke(QUERY), lc_docs(), "RuntimeError: boom")


def test_options_are_checked_on_first_use_so_passthrough_covers_them(caplog):
    from langchain_lingua import LinguaCompressor

    bad = LinguaCompressor(method="random", options={"no_such_option": 1}, on_error="passthrough")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        out = bad.compress_documents(lc_docs(), QUERY)
    assert_passed_through(out, lc_docs(), "ValueError")
    assert "no_such_option" in out[0].metadata["lingua"]["error"]
    assert_warned(caplog, "ValueError")
    assert "no_such_option" in caplog.text


def test_passthrough_never_swallows_keyboard_interrupt(monkeypatch):
    from langchain_lingua import LinguaCompressor

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    compressor = failing(LinguaCompressor, monkeypatch, error=interrupt, on_error="passthrough")
    with pytest.raises(KeyboardInterrupt):
        compressor.compress_documents(lc_docs(), QUERY)


def test_passthrough_recovers_when_the_failure_goes_away(monkeypatch):
    from langchain_lingua import LinguaCompressor
    from tests.unit.frameworks.test_adapters import expected_texts

    compressor = LinguaCompressor(**PASSTHROUGH)
    real = compressor.compressor.compress
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return real(*args, **kwargs)

    monkeypatch.setattr(compressor.compressor, "compress", flaky)
    first = compressor.compress_documents(lc_docs(), QUERY)
    assert all(d.metadata["lingua"]["passthrough"] for d in first)
    second = compressor.compress_documents(lc_docs(), QUERY)
    assert [d.page_content for d in second] == expected_texts(rate=0.5)
    assert all("passthrough" not in d.metadata["lingua"] for d in second)


def test_transformer_raise_and_passthrough(monkeypatch, tmp_path, caplog):
    from langchain_lingua import LinguaDocumentTransformer

    docs = lc_docs()
    with pytest.raises(RuntimeError, match="boom"):
        failing(LinguaDocumentTransformer, monkeypatch).transform_documents(docs)
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        missing_model(LinguaDocumentTransformer, tmp_path).transform_documents(docs)

    transformer = failing(LinguaDocumentTransformer, monkeypatch, on_error="passthrough")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        out = transformer.transform_documents(docs)
    assert_passed_through(out, docs, "RuntimeError: boom")
    assert_warned(caplog, "RuntimeError: boom")
    assert_passed_through(
        asyncio.run(transformer.atransform_documents(docs)), docs, "RuntimeError: boom"
    )
    missing = missing_model(LinguaDocumentTransformer, tmp_path, on_error="passthrough")
    assert_passed_through(missing.transform_documents(docs), docs, "FileNotFoundError")


# ---------------------------------------------------------------------------- LlamaIndex


def li_nodes():
    from llama_index.core.schema import (
        ImageNode,
        NodeRelationship,
        NodeWithScore,
        RelatedNodeInfo,
        TextNode,
    )

    text = [
        NodeWithScore(
            node=TextNode(
                id_=f"node-{i}",
                text=t,
                metadata={"source": f"s{i}"},
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"src-{i}")},
            ),
            score=1.0 - i / 10,
        )
        for i, t in enumerate(TEXTS)
    ]
    image = NodeWithScore(node=ImageNode(image="aGVsbG8=", id_="img"), score=0.3)
    return [text[0], image, *text[1:]]


def assert_nodes_passed_through(out, nodes, error):
    from llama_index.core.schema import MetadataMode, NodeRelationship

    assert [n.node.node_id for n in out] == [n.node.node_id for n in nodes]
    assert [n.score for n in out] == [n.score for n in nodes]
    assert [n.node.get_content() for n in out] == [n.node.get_content() for n in nodes]
    for old, new in zip(nodes, out):
        if old.node.node_id == "img" or not old.node.get_content().strip():
            assert new is old  # nothing to compress: returned as it came, not flagged
            continue
        assert new.node is not old.node
        assert new.node.relationships[NodeRelationship.SOURCE].node_id == (
            old.node.relationships[NodeRelationship.SOURCE].node_id
        )
        flag = new.node.metadata["lingua"]
        assert {k: v for k, v in new.node.metadata.items() if k != "lingua"} == old.node.metadata
        assert flag["passthrough"] is True and flag["error"].startswith(error)
        assert new.node.excluded_llm_metadata_keys.count("lingua") == 1
        assert new.node.excluded_embed_metadata_keys.count("lingua") == 1
        for mode in (MetadataMode.LLM, MetadataMode.EMBED):
            content = new.node.get_content(metadata_mode=mode)
            assert "passthrough" not in content and error not in content
            assert "source" in content  # the other metadata still reaches them
        assert "lingua" not in old.node.metadata  # the input is not modified
        assert "lingua" not in old.node.excluded_llm_metadata_keys


def test_postprocessor_raises_by_default(monkeypatch, tmp_path):
    from llamaindex_lingua import LinguaPostprocessor

    with pytest.raises(RuntimeError, match="boom"):
        failing(LinguaPostprocessor, monkeypatch).postprocess_nodes(li_nodes(), query_str=QUERY)
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        missing_model(LinguaPostprocessor, tmp_path).postprocess_nodes(li_nodes())
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(
            failing(LinguaPostprocessor, monkeypatch).apostprocess_nodes(
                li_nodes(), query_str=QUERY
            )
        )


def test_postprocessor_passthrough_and_event(monkeypatch, caplog):
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    from llamaindex_lingua import LinguaPostprocessor

    seen = []

    class Handler(BaseEventHandler):
        def handle(self, event, **kwargs):
            if event.class_name() == "lingua_compression":
                seen.append(event.stats)

    nodes = li_nodes()
    post = failing(LinguaPostprocessor, monkeypatch, on_error="passthrough")
    handler = Handler()
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        with caplog.at_level(logging.DEBUG, logger=LOGGER):
            out = post.postprocess_nodes(nodes, query_str=QUERY)
    finally:
        root.event_handlers.remove(handler)
    assert_nodes_passed_through(out, nodes, "RuntimeError: boom")
    assert_warned(caplog, "RuntimeError: boom")
    (stats,) = seen
    assert stats["error"] == "RuntimeError: boom" and stats["passthrough"] is True
    assert stats["rate"] == 1.0 and stats["dropped_ids"] == []
    assert stats["documents"] == len(TEXTS) - 1  # the image and the empty text are not sent


def test_postprocessor_passthrough_async_and_missing_model(monkeypatch, tmp_path, caplog):
    from llamaindex_lingua import LinguaPostprocessor

    nodes = li_nodes()
    post = failing(LinguaPostprocessor, monkeypatch, on_error="passthrough")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        out = asyncio.run(post.apostprocess_nodes(nodes, query_str=QUERY))
    assert_nodes_passed_through(out, nodes, "RuntimeError: boom")
    assert_warned(caplog, "RuntimeError: boom")
    missing = missing_model(LinguaPostprocessor, tmp_path, on_error="passthrough")
    out = missing.postprocess_nodes(nodes, query_str=QUERY)
    assert_nodes_passed_through(out, nodes, "FileNotFoundError: model folder does not exist")
