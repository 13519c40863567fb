"""Property-based checks of the compressor contract on arbitrary text (tiny models, bounded runs).

tests/unit/test_fuzz.py adds hard inputs, rate tolerance, independence and the adapters;
tests/unit/models/test_concurrency.py threads and tasks. Here: no exception but the documented ones,
one result per input in order, spans in bounds, ordered, non-overlapping and reproducing
``text``, token counts that never grow, and deterministic output. Profile ``ci`` (the
default): 25 examples per method; ``LINGUA_HYPOTHESIS_PROFILE=long`` runs 500.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lingua_core import get_compressor
from lingua_core.result import join_spans

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # lone surrogates cannot be UTF-8
    max_size=300,
)
WORDY = st.lists(
    st.sampled_from(
        [
            "the",
            "Paris",
            "1969",
            ",",
            ".",
            "\n",
            "\n\n",
            "東京",
            "🚀",
            "naïve",
            "e\u0301",
            "مرحبا",
            "\x00",
            "\t",
            "--",
            "```",
            '{"a": 1}',
            "# Title",
            "  ",
            "U.S.",
            "don't",
        ]
    ),
    max_size=60,
).map(" ".join)
TEXTS = st.lists(st.one_of(TEXT, WORDY), min_size=0, max_size=6)
RATES = st.sampled_from([0.1, 0.33, 0.5, 0.9, 1.0])


def check(results, texts):
    assert len(results) == len(texts)
    for r, t in zip(results, texts):
        assert r.original_text == t
        prev = 0
        for s, e in r.spans:
            assert 0 <= s < e <= len(t) and s >= prev
            prev = e
        assert r.text == join_spans(t, r.spans, r.elided)
        assert 0 <= r.compressed_tokens <= r.original_tokens or r.text == t
        if not t.strip():
            assert r.text == t


@pytest.fixture(scope="module")
def compressors(tiny_llama_dir, tiny_bert_clf_dir):
    return {
        "selective_context": get_compressor("selective_context", model=str(tiny_llama_dir)),
        "selective_context_token": get_compressor(
            "selective_context", model=str(tiny_llama_dir), unit="token"
        ),
        "llmlingua2": get_compressor("llmlingua2", model=str(tiny_bert_clf_dir)),
        "llmlingua2_forced": get_compressor(
            "llmlingua2",
            model=str(tiny_bert_clf_dir),
            force_tokens=["\n", ".", "the"],
            force_reserve_digit=True,
            drop_consecutive=True,
        ),
        "random": get_compressor("random"),
        "naive": get_compressor("naive"),
        "none": get_compressor("none"),
        "llmlingua": get_compressor("llmlingua", model=str(tiny_llama_dir), iterative_size=32),
        "longllmlingua": get_compressor(
            "longllmlingua", model=str(tiny_llama_dir), iterative_size=32, keep_split=True
        ),
        "llmlingua_token": get_compressor(
            "llmlingua", model=str(tiny_llama_dir), iterative_size=32, unit="token"
        ),
        "llmlingua2_token": get_compressor(
            "llmlingua2", model=str(tiny_bert_clf_dir), unit="token"
        ),
        "longllmlingua_token": get_compressor(
            "longllmlingua",
            model=str(tiny_llama_dir),
            unit="token",
            rank_method="hybrid",
            use_sentence_level_filter=True,
            keep_first_sentence=1,
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "selective_context",
        "selective_context_token",
        "llmlingua2",
        "llmlingua2_forced",
        "llmlingua2_token",
        "random",
        "naive",
        "none",
    ],
)
@given(texts=TEXTS, rate=RATES)
def test_contract_holds_on_arbitrary_text(compressors, name, texts, rate):
    c = compressors[name]
    results = c.compress(texts, rate=rate)
    check(results, texts)
    assert not any(r.dropped for r in results)  # rate, text scope, no filter: nothing dropped
    assert c.compress(texts, rate=rate) == results  # deterministic
    if texts:
        total = sum(r.original_tokens for r in results)
        budget = c.compress(texts, target_tokens=max(1, total // 3))
        check(budget, texts)


@pytest.mark.parametrize(
    "name", ["llmlingua", "llmlingua_token", "longllmlingua", "longllmlingua_token"]
)
@given(texts=TEXTS, rate=RATES, query=st.one_of(st.none(), TEXT))
def test_llmlingua_contract_holds_on_arbitrary_text(compressors, name, texts, rate, query):
    """One budget over all texts: a text may be dropped, and then it says so."""
    c = compressors[name]
    results = c.compress(texts, rate=rate, query=query)
    check(results, texts)
    for r in results:
        if r.dropped:
            assert r.text == "" and r.spans == () and r.order is None and r.original_text.strip()
        elif r.original_text.strip():
            assert r.text.strip()
    assert c.compress(texts, rate=rate, query=query) == results  # deterministic
    if texts:
        total = sum(r.original_tokens for r in results)
        check(c.compress(texts, target_tokens=max(1, total // 3), query=query), texts)
