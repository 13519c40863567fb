"""Selective Context on a tiny random-weight Llama: scoring, windows, batching, units."""

from __future__ import annotations

import numpy as np
import pytest

from lingua_core import get_compressor
from lingua_core.models import load_causal_lm
from lingua_core.result import join_spans
from lingua_core.scorers.lm import CausalLMScorer


@pytest.fixture(scope="module")
def scorer(tiny_llama_dir):
    return CausalLMScorer(load_causal_lm(str(tiny_llama_dir)), window=1024)


def test_batched_scores_equal_scores_alone(scorer, nq20):
    texts = nq20[:6]
    together = scorer.surprisal(texts)
    for text, ts in zip(texts, together):
        alone = scorer.surprisal([text])[0]
        np.testing.assert_allclose(ts.scores, alone.scores, rtol=1e-4, atol=1e-4)
        assert np.isfinite(ts.scores).all() and (ts.scores > 0).all()


def test_surprisal_is_minus_log_prob(scorer, tiny_llama_dir):
    import torch

    loaded = load_causal_lm(str(tiny_llama_dir))
    text = "Paris is the capital of France."
    ts = scorer.surprisal([text])[0]
    ids = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    full = torch.tensor([[loaded.tokenizer.bos_token_id, *ids]])
    with torch.no_grad():
        logp = torch.log_softmax(loaded.model(full).logits[0, :-1].float(), -1)
    expected = -logp[torch.arange(len(ids)), torch.tensor(ids)].numpy()
    np.testing.assert_allclose(ts.scores, expected, rtol=1e-4, atol=1e-4)


def test_long_texts_are_scored_in_windows_past_the_context_length(tiny_llama_dir, nq20):
    # The tiny model has 512 positions; this text is several times longer.
    long_text = " ".join(nq20) * 2
    loaded = load_causal_lm(str(tiny_llama_dir))
    sc = CausalLMScorer(loaded, window=4096, batch_tokens=1024)
    assert sc.window == 511
    ts = sc.surprisal([long_text, "short one"])[0]
    n = len(loaded.tokenizer(long_text, add_special_tokens=False)["input_ids"])
    assert n > 3 * 511
    assert ts.scores.shape == (n,) and np.isfinite(ts.scores).all()
    # With the same window, tokens of the first window score as they do alone.
    head = sc.surprisal([long_text])[0].scores[:200]
    np.testing.assert_allclose(ts.scores[:200], head, rtol=1e-4, atol=1e-4)
    c = get_compressor("selective_context", model=str(tiny_llama_dir), window=128)
    r = c.compress([long_text], rate=0.3)[0]
    assert abs(r.rate - 0.3) <= 0.05


@pytest.mark.parametrize("unit", ["token", "word", "phrase", "sentence"])
def test_units(unit, tiny_llama_dir, nq20):
    c = get_compressor("selective_context", model=str(tiny_llama_dir), unit=unit)
    results = c.compress(nq20[:8], rate=0.5)
    for r, t in zip(results, nq20[:8]):
        assert r.text == join_spans(t, r.spans, r.elided)
    achieved = sum(r.compressed_tokens for r in results) / sum(r.original_tokens for r in results)
    tolerance = 0.05 if unit != "sentence" else 0.15  # sentences are coarse units
    assert abs(achieved - 0.5) <= tolerance


def test_word_units_keep_whole_words(tiny_llama_dir, nq20):
    c = get_compressor("selective_context", model=str(tiny_llama_dir), unit="word")
    for r, t in zip(c.compress(nq20[:4], rate=0.4), nq20[:4]):
        words = set(t.split())
        assert r.text and all(w in words for w in r.text.split())


def test_a_text_without_visible_tokens_is_kept_not_dropped(tiny_llama_dir):
    """Control characters have no token offsets: the text falls back to word units."""
    c = get_compressor("selective_context", model=str(tiny_llama_dir), unit="token")
    (r,) = c.compress(["\x06"], rate=0.1)
    assert not r.dropped and r.text == "\x06"


def test_sentence_units_keep_whole_sentences(tiny_llama_dir):
    text = "Alpha is first. Beta comes second here. Gamma is the third one. Delta ends it."
    r = get_compressor("selective_context", model=str(tiny_llama_dir), unit="sentence").compress(
        [text], rate=0.5
    )[0]
    sentences = {
        "Alpha is first.",
        "Beta comes second here.",
        "Gamma is the third one.",
        "Delta ends it.",
    }
    pieces = [p for s, e in r.spans for p in [text[s:e]]]
    assert all(all(x in sentences for x in _split(p)) for p in pieces)


def _split(piece: str) -> list[str]:
    import re

    return [s for s in re.split(r"(?<=\.)\s+", piece.strip()) if s]


def test_aggregate_mean_differs_from_sum(tiny_llama_dir, nq20):
    c = get_compressor("selective_context", model=str(tiny_llama_dir), unit="sentence")
    by_sum = c.compress(nq20[:4], rate=0.5)
    by_mean = c.compress(nq20[:4], rate=0.5, aggregate="mean")
    assert [r.spans for r in by_sum] != [r.spans for r in by_mean]


def test_counts_are_in_the_models_tokens(tiny_llama_dir, smol_tokenizer):
    c = get_compressor("selective_context", model=str(tiny_llama_dir))
    text = "Marie Curie won two Nobel prizes, in physics and in chemistry."
    r = c.compress([text], rate=0.5)[0]
    assert r.original_tokens == len(smol_tokenizer(text, add_special_tokens=False)["input_ids"])
    assert r.compressed_tokens == len(smol_tokenizer(r.text, add_special_tokens=False)["input_ids"])


def test_split_head_path_equals_full_logits_path(tiny_llama_dir, nq20):
    loaded = load_causal_lm(str(tiny_llama_dir))
    sc = CausalLMScorer(loaded)
    assert sc.can_split_head() is True  # a plain Llama: head applied to real positions only
    split = sc.surprisal(nq20[:4])
    loaded.facts["split_head"] = False  # as for a model that post-processes its logits
    try:
        full = sc.surprisal(nq20[:4])
    finally:
        loaded.facts.pop("split_head")
    for a, b in zip(split, full):
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-4)


def _manual_nll(loaded, prefix: str, text: str) -> np.ndarray:
    import torch

    tok = loaded.tokenizer
    p_ids = tok(prefix, add_special_tokens=False)["input_ids"] if prefix else []
    t_ids = tok(text, add_special_tokens=False)["input_ids"]
    full = torch.tensor([[tok.bos_token_id, *p_ids, *t_ids]])
    with torch.no_grad():
        logp = torch.log_softmax(loaded.model(full).logits[0, :-1].float(), -1)
    pos = torch.arange(len(p_ids), len(p_ids) + len(t_ids))
    return -logp[pos, torch.tensor(t_ids)].numpy()


def test_prefix_conditions_the_scores(tiny_llama_dir, nq20):
    loaded = load_causal_lm(str(tiny_llama_dir))
    sc = CausalLMScorer(loaded)
    question = "who got the first nobel prize in physics?"
    texts = nq20[:3]
    shared = sc.surprisal(texts, prefixes=question)
    for text, ts in zip(texts, shared):
        np.testing.assert_allclose(ts.scores, _manual_nll(loaded, question, text), atol=1e-4)
    per_text = sc.surprisal(texts, prefixes=["a", "", "c d"])
    np.testing.assert_allclose(per_text[1].scores, sc.surprisal([texts[1]])[0].scores, atol=1e-4)
    np.testing.assert_allclose(per_text[2].scores, _manual_nll(loaded, "c d", texts[2]), atol=1e-4)
    assert not np.allclose(shared[0].scores, sc.surprisal([texts[0]])[0].scores)
    with pytest.raises(ValueError, match="got 2 prefixes for 3 texts"):
        sc.surprisal(texts, prefixes=["a", "b"])


def test_long_prefix_is_truncated_with_a_warning_and_long_text_windowed(
    tiny_llama_dir, nq20, caplog
):
    loaded = load_causal_lm(str(tiny_llama_dir))
    sc = CausalLMScorer(loaded, window=128)
    question = " ".join(nq20[:2])  # far longer than half the window
    text = " ".join(nq20[2:6])
    with caplog.at_level("WARNING", logger="lingua_core.scorers.lm"):
        ts = sc.surprisal([text], prefixes=question)[0]
    assert "keeping its last 64 tokens" in caplog.text
    n = len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert ts.scores.shape == (n,) and np.isfinite(ts.scores).all()
    q_ids = loaded.tokenizer(question, add_special_tokens=False)["input_ids"][-64:]
    kept_q = loaded.tokenizer.decode(q_ids)
    head = _manual_nll(loaded, kept_q, text)[:32]
    np.testing.assert_allclose(ts.scores[:32], head, atol=2e-3)


def test_start_token_conventions(tiny_llama_dir):
    loaded = load_causal_lm(str(tiny_llama_dir))
    assert CausalLMScorer(loaded).start_id == loaded.tokenizer.bos_token_id
    bare = CausalLMScorer(loaded, start="tokenizer")  # SmolLM2's tokenizer adds no BOS
    assert bare.start_id is None
    ts = bare.surprisal(["Paris is the capital of France."])[0]
    assert np.isfinite(ts.scores).all()
    assert ts.scores[0] == pytest.approx(float(ts.scores[1:].mean()))
    with pytest.raises(ValueError, match="valid: 'bos', 'tokenizer'"):
        CausalLMScorer(loaded, start="none")
