"""The embedded pruner: shipped in the package, loads offline (sockets are blocked in tests)."""

from __future__ import annotations

import logging

import pytest

from lingua_core import get_compressor
from lingua_core.models.pruners import embedded_pruner_path
from lingua_core.result import join_spans

pytestmark = pytest.mark.integration

PASSAGES = [
    "Beijing\nBeijing is the capital of China. It was formerly romanized as Peking. "
    "The city hosted the 2008 Summer Olympics.",
    "Shanghai\nShanghai is the most populous city proper in China. It is a global centre of "
    "finance.",
]
QUESTION = "What was Beijing formerly called?"


def test_shipped_files_are_small_and_safetensors_only():
    folder = embedded_pruner_path()
    files = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert set(files) == {"lingua_pruner.json", "model.safetensors"}
    assert sum(files.values()) <= 25 * 1024 * 1024


def test_embedded_pruner_keeps_the_answer_offline():
    comp = get_compressor("pruner")
    assert comp.spec().layout == "lingua" and 0 < comp.spec().threshold < 1
    for rate in (0.3, "auto"):
        res = comp.compress(PASSAGES, query=QUESTION, rate=rate)
        assert len(res) == 2
        assert "Peking" in res[0].text and res[0].order == 0
        assert res[0].text == join_spans(PASSAGES[0], res[0].spans, res[0].elided)
    budget = comp.compress(PASSAGES, query=QUESTION, rate=0.3)
    assert (
        sum(r.compressed_tokens for r in budget)
        <= 0.3 * sum(r.original_tokens for r in budget) * 1.5
    )


def test_no_query_keeps_leading_sentences_and_warns_once(caplog):
    comp = get_compressor("pruner")
    with caplog.at_level(logging.WARNING):
        a = comp.compress(PASSAGES, rate=0.5)
        comp.compress(PASSAGES, rate=0.5)
    assert a[0].text.startswith("Beijing")
    assert sum("no query given" in r.message for r in caplog.records) == 1


def test_default_with_the_pruner_signal():
    comp = get_compressor("coarse_to_fine", pruner_weight=1.0, pruner_relevance_weight=1.0)
    res = comp.compress(PASSAGES, query=QUESTION, rate=0.3)
    assert "Peking" in res[0].text
