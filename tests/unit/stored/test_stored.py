"""Stored scores: computed once per text, they give the online results without a forward."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from lingua_core import get_compressor
from lingua_core.models import load_causal_lm, load_token_classifier
from lingua_core.models.batcher import batchers, forget_recent
from lingua_core.stored import dumps

QUERY = "Who won the first Nobel Prize in Physics?"


def _forwards(loaded) -> int:
    return sum(b.stats["rows"] for b in batchers(loaded).values())


def _forget(loaded) -> None:
    forget_recent(loaded)


@pytest.fixture
def lm_case(tiny_llama_dir):
    return (
        "selective_context",
        {"model": str(tiny_llama_dir)},
        lambda: load_causal_lm(str(tiny_llama_dir)),
    )


@pytest.fixture
def clf_case(tiny_bert_clf_dir):
    return (
        "llmlingua2",
        {"model": str(tiny_bert_clf_dir)},
        lambda: load_token_classifier(str(tiny_bert_clf_dir)),
    )


@pytest.mark.parametrize("case", ["lm_case", "clf_case"])
def test_stored_scores_give_the_online_results_without_a_forward(case, request, nq20):
    method, opts, loaded_fn = request.getfixturevalue(case)
    texts = [*nq20[:8], ""]  # an empty text gets a payload too
    payloads = get_compressor(method, **opts).score(texts)
    assert len(payloads) == len(texts)
    assert json.loads(json.dumps(payloads)) == payloads  # JSON-safe as returned
    strings = [dumps(p) for p in payloads]  # one string each, for scalar-only metadata
    for rate in (0.2, 0.5, 0.8):
        online = get_compressor(method, **opts).compress(texts, rate=rate)
        loaded = loaded_fn()
        _forget(loaded)
        before = _forwards(loaded)
        fresh = get_compressor(method, **opts)  # nothing cached in the compressor
        assert fresh.compress(texts, rate=rate, scores=strings) == online
        assert _forwards(loaded) == before  # no model forward at all
    online = get_compressor(method, **opts).compress(texts, rate=0.5)
    assert fresh.compress(texts, rate=0.5, scores=payloads) == online  # dicts work as well


def test_the_default_stores_sentence_embeddings_and_embeds_only_the_question(nq20):
    texts = nq20[:6]
    payloads = get_compressor("default").score(texts)
    assert all(p["rows"] for p in payloads)
    online = get_compressor("default").compress(texts, query=QUERY, rate=0.3)
    fresh = get_compressor("default")
    loaded = fresh.embedder().loaded()
    _forget(loaded)
    before = _forwards(loaded)
    assert fresh.compress(texts, query=QUERY, rate=0.3, scores=payloads) == online
    # The question, and the multi-hop question (question + best sentences): nothing else.
    assert _forwards(loaded) - before <= 2


def test_a_payload_that_does_not_match_is_ignored_with_the_reason(
    tiny_llama_dir, tiny_bert_clf_dir, nq20, caplog
):
    texts = nq20[:3]
    sc = get_compressor("selective_context", model=str(tiny_llama_dir))
    good = sc.score(texts)
    online = sc.compress(texts, rate=0.4)
    other_model = get_compressor("llmlingua2", model=str(tiny_bert_clf_dir)).score(texts)
    other_model[0]["method"] = "selective_context"  # right method, another model
    cases = {
        "another model, dtype or device kind": [other_model[0], good[1], good[2]],
        "scored by 'llmlingua2'": [
            get_compressor("llmlingua2", model=str(tiny_bert_clf_dir)).score(texts[:1])[0],
            good[1],
            good[2],
        ],
        "truncated or invalid JSON": [dumps(good[0])[:40], good[1], None],
        "encoding version 99": [{**good[0], "version": 99}, good[1], good[2]],
        "rows do not decode": [
            {**good[0], "rows": {fp: {k: "!!" for k in r} for fp, r in good[0]["rows"].items()}},
            good[1],
            good[2],
        ],
    }
    for why, payloads in cases.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lingua_core"):
            got = get_compressor("selective_context", model=str(tiny_llama_dir)).compress(
                texts, rate=0.4, scores=payloads
            )
        assert got == online  # scored anew
        assert "stored scores of text 0 ignored (scored anew)" in caplog.text
        assert why in caplog.text


def test_bad_uses_of_scores_are_named(tiny_llama_dir, nq20):
    sc = get_compressor("selective_context", model=str(tiny_llama_dir))
    with pytest.raises(ValueError, match="one payload \\(or None\\) per text: 2 texts"):
        sc.compress(nq20[:2], rate=0.5, scores=[None])
    with pytest.raises(ValueError, match=r"stores no scores.*methods that do: .*llmlingua2"):
        get_compressor("random").compress(nq20[:1], rate=0.5, scores=[None])
    with pytest.raises(ValueError, match=r"no query-independent scores.*selective_context"):
        get_compressor("llmlingua").score(nq20[:1])


def test_payload_size_per_100_words(tiny_llama_dir, nq20):
    """The size the docs state: LM surprisal is one float per token (base64)."""
    from lingua_core.stored import payload_bytes_per_100_words

    texts = nq20[:5]
    payloads = get_compressor("selective_context", model=str(tiny_llama_dir)).score(texts)
    size = payload_bytes_per_100_words(payloads, texts)
    assert 300 < size < 3000
    values = [
        len(np.frombuffer(__import__("base64").b64decode(v), dtype=np.float32))
        for p in payloads
        for r in p["rows"].values()
        for v in r.values()
    ]
    assert sum(values) >= sum(len(t.split()) for t in texts)  # a value per token at least


def test_the_default_stores_its_sentences_so_a_stored_call_does_not_segment(nq20, monkeypatch):
    from lingua_core.pipeline import text as text_module

    texts = nq20[:4]
    payloads = get_compressor("default").score(texts)
    assert all("units" in p["rows"] for p in payloads)
    online = get_compressor("default").compress(texts, query=QUERY, rate=0.3)

    def no_segmenting(text):
        raise AssertionError("segmented a text whose sentences were stored")

    monkeypatch.setattr(text_module, "_sentence_units", no_segmenting)
    fresh = get_compressor("default")
    assert fresh.compress(texts, query=QUERY, rate=0.3, scores=payloads) == online


def test_the_registry_names_the_methods_of_a_capability():
    from lingua_core.registry import methods_that

    storing = methods_that("stores_scores")
    assert "coarse_to_fine" in storing and "llmlingua2" in storing and "random" not in storing
    assert "coarse_to_fine" in methods_that("supports_auto_rate")
    with pytest.raises(ValueError, match="valid: uses_model, question_aware"):
        methods_that("stores")
    with pytest.raises(ValueError, match=r"methods that do: .*coarse_to_fine"):
        get_compressor("random").score(["a text"])
