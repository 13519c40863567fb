"""LLMLingua-2 on tiny random-weight token classifiers (WordPiece and byte-level BPE)."""

from __future__ import annotations

import numpy as np
import pytest

from lingua_core import get_compressor
from lingua_core.models import load_token_classifier
from lingua_core.result import join_spans
from lingua_core.scorers.classifier import TokenClassifierScorer


@pytest.fixture
def l2(tiny_bert_clf_dir):
    return get_compressor("llmlingua2", model=str(tiny_bert_clf_dir))


def spans_ok(r):
    assert r.text == join_spans(r.original_text, r.spans, r.elided)
    ends = [e for _, e in r.spans]
    starts = [s for s, _ in r.spans]
    assert all(a <= b for a, b in zip(ends[:-1], starts[1:]))


@pytest.mark.parametrize("fixture", ["tiny_bert_clf_dir", "tiny_bpe_clf_dir"])
def test_rates_and_spans_on_wordpiece_and_byte_level_bpe(fixture, nq20, request):
    c = get_compressor("llmlingua2", model=str(request.getfixturevalue(fixture)))
    for rate in (0.33, 0.5, 0.7):
        results = c.compress(nq20, rate=rate)
        for r in results:
            spans_ok(r)
        achieved = sum(r.compressed_tokens for r in results) / sum(
            r.original_tokens for r in results
        )
        assert abs(achieved - rate) <= 0.05, (fixture, rate, achieved)


def test_words_come_from_the_tokenizer_and_keep_original_characters(l2):
    text = "Röntgen's X-rays (1895) changed MEDICINE forever; naïve café."
    for rate in (0.3, 0.5, 0.8):
        r = l2.compress([text], rate=rate)[0]
        spans_ok(r)
        # The (uncased, accent-stripping) tokenizer never leaks into the output.
        assert all(w in text for w in r.text.split()), r.text


def test_word_units_split_punctuation_like_the_reference(tiny_bert_clf_dir):
    c = get_compressor("llmlingua2", model=str(tiny_bert_clf_dir))
    scorer = c._scorer(c.options)
    text = "Hello, world! Unbelievably tokenized."
    tk = scorer.tokenize([text], frozenset({"."}))[0]
    words = c._words(text, tk, np.zeros(tk.ids.shape[0]), "mean", None, False, "token")
    assert words.units.texts(text) == ["Hello", ",", "world", "!", "Unbelievably", "tokenized", "."]
    whole = c._words(text, tk, np.zeros(tk.ids.shape[0]), "mean", None, False)  # the default
    assert whole.units.texts(text) == ["Hello,", "world!", "Unbelievably", "tokenized."]


def test_force_tokens_are_always_kept_even_multi_token_ones(l2, nq20):
    force = ["Nobel Prize", "\n", "?"]
    results = l2.compress(nq20[:5], rate=0.2, force_tokens=force)
    for r, t in zip(results, nq20[:5]):
        spans_ok(r)
        assert r.text.count("Nobel Prize") == t.count("Nobel Prize")
        assert r.text.count("\n") == t.count("\n")
    plain = l2.compress(nq20[:5], rate=0.2)
    assert sum(r.text.count("Nobel Prize") for r in plain) < sum(
        t.count("Nobel Prize") for t in nq20[:5]
    )


def test_force_reserve_digit_keeps_every_number(l2, nq20):
    import re

    results = l2.compress(nq20, rate=0.2, force_reserve_digit=True)
    for r, t in zip(results, nq20):
        assert re.findall(r"\d+", r.text) == re.findall(r"\d+", t)
    plain = l2.compress(nq20, rate=0.2)
    assert any(re.findall(r"\d+", r.text) != re.findall(r"\d+", t) for r, t in zip(plain, nq20))


def test_drop_consecutive_removes_repeated_forced_tokens(l2):
    text = "alpha , , , beta gamma , , delta epsilon zeta eta theta iota kappa"
    kept = l2.compress([text], rate=0.3, force_tokens=[","])[0]
    dropped = l2.compress([text], rate=0.3, force_tokens=[","], drop_consecutive=True)[0]
    assert kept.text.count(",") == 5
    assert ", ," not in dropped.text and dropped.text.count(",") < 5


def test_force_tokens_are_matched_literally_never_as_regex(l2):
    text = "alpha (x) beta gamma [y] delta .* epsilon a+b zeta eta theta iota kappa lambda mu"
    plain = l2.compress([text], rate=0.2)[0]
    forced = l2.compress([text], rate=0.2, force_tokens=[".*", "(x)", "[y]", "a+b"])[0]
    for literal in (".*", "(x)", "[y]", "a+b"):
        assert literal in forced.text
    # as regexes ".*" would match everything and "a+b" nothing here: neither happens
    assert forced.compressed_tokens < forced.original_tokens
    assert forced.text != plain.text
    l2.compress([text], rate=0.2, force_tokens=["(", "\\d+", "$", "|"])  # no re.error


def test_token_to_word_first_differs_from_mean(l2, nq20):
    mean = l2.compress(nq20, rate=0.5)
    first = l2.compress(nq20, rate=0.5, token_to_word="first")
    assert [r.spans for r in mean] != [r.spans for r in first]


def test_long_texts_are_chunked_at_chunk_end_tokens(tiny_bert_clf_dir, nq20):
    loaded = load_token_classifier(str(tiny_bert_clf_dir))
    scorer = TokenClassifierScorer(loaded, max_len=64)
    text = " ".join(nq20[:6])
    tk = scorer.tokenize([text], frozenset({".", "\n"}))[0]
    n_chunks = int(tk.chunk.max()) + 1
    assert n_chunks > tk.ids.shape[0] / 62
    at_end = 0
    for c in range(n_chunks - 1):
        idx = np.flatnonzero(tk.chunk == c)
        last = int(idx[-1])
        piece = text[tk.starts[last] : tk.ends[last]]
        gap = text[tk.ends[last] : tk.starts[last + 1]]
        at_end += piece == "." or "\n" in gap
        assert idx.size <= 62
        assert tk.word_starts[last + 1], "a chunk never ends inside a word"
    assert at_end >= 0.7 * (n_chunks - 1)  # long sentences fall back to a word boundary
    other = scorer.tokenize([text], frozenset({","}))[0]
    assert not np.array_equal(other.chunk, tk.chunk)
    c = get_compressor("llmlingua2", model=str(tiny_bert_clf_dir), max_len=64)
    r = c.compress([text * 5], rate=0.4)[0]
    spans_ok(r)
    assert abs(r.rate - 0.4) <= 0.05


def test_batched_probabilities_equal_probabilities_alone(tiny_bert_clf_dir, nq20):
    loaded = load_token_classifier(str(tiny_bert_clf_dir))
    scorer = TokenClassifierScorer(loaded, batch_tokens=600)
    tks = scorer.tokenize(nq20[:8], frozenset({"."}))
    together = scorer.keep_probs(tks)
    for tk, p in zip(tks, together):
        np.testing.assert_allclose(p, scorer.keep_probs([tk])[0], rtol=1e-5, atol=1e-5)


def test_budget_scopes(l2, nq20):
    texts = [nq20[0] * 4, nq20[1]]  # the first is longer than one 512-token chunk
    by_text = l2.compress(texts, rate=0.4)
    by_chunk = l2.compress(texts, rate=0.4, budget_scope="chunk")
    assert by_text[1] == by_chunk[1]  # one chunk: the same threshold
    assert by_text[0].spans != by_chunk[0].spans
    assert by_text[1] == l2.compress([texts[1]], rate=0.4)[0]  # text scope: independent
    several = nq20[:8]
    per_text = l2.compress(several, rate=0.4)
    pooled = l2.compress(several, rate=0.4, budget_scope="global")
    assert [r.rate for r in pooled] != [r.rate for r in per_text]
    assert np.std([r.rate for r in pooled]) > np.std([r.rate for r in per_text])


def test_context_level_filter_drops_whole_texts(l2, nq20):
    texts = nq20[:10]
    results = l2.compress(texts, rate=0.5, use_context_level_filter=True, target_context=4)
    dropped = [r.dropped for r in results]
    assert sum(dropped) == 6
    for r in results:
        if r.dropped:
            assert r.text == "" and r.spans == () and r.compressed_tokens == 0
    forced = l2.compress(
        texts,
        rate=0.5,
        use_context_level_filter=True,
        target_context=4,
        force_context_ids=[i for i, d in enumerate(dropped) if d][:1],
    )
    assert sum(r.dropped for r in forced) == 5
    only_context = l2.compress(
        texts, rate=0.5, use_context_level_filter=True, use_token_level_filter=False
    )
    kept = [r for r in only_context if not r.dropped]
    assert all(r.text == r.original_text for r in kept) and len(kept) < len(texts)
    with pytest.raises(ValueError, match="force_context_ids"):
        l2.compress(texts, use_context_level_filter=True, force_context_ids=[99])


def test_target_tokens_budget(l2, nq20):
    results = l2.compress(nq20, target_tokens=600)
    assert abs(sum(r.compressed_tokens for r in results) - 600) <= 60


def test_not_a_token_classifier_names_the_architecture(tiny_llama_dir):
    c = get_compressor("llmlingua2", model=str(tiny_llama_dir))
    with pytest.raises(ValueError, match=r"not a \*ForTokenClassification model.*LlamaForCausalLM"):
        c.compress(["some words here to compress"], rate=0.5)


def test_force_token_longer_than_the_model_allows(tiny_bert_clf_dir):
    c = get_compressor("llmlingua2", model=str(tiny_bert_clf_dir), max_len=16)
    with pytest.raises(ValueError, match=r"tokens long; the model allows at most 14"):
        c.compress(["a b c"], rate=0.5, force_tokens=[" ".join(["word"] * 20)])


def test_no_local_model_names_the_hub_ids(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("llmlingua2", "llmlingua2-bert"):
        with pytest.raises(OSError, match=r"llmlingua-2-xlm-roberta-large-meetingbank.*model="):
            get_compressor(name).compress(["some words here"], rate=0.5)


def test_bad_options(l2):
    with pytest.raises(
        ValueError, match="invalid token_to_word='max'; valid: None, 'mean', 'first'"
    ):
        l2.compress(["a b"], token_to_word="max")
    with pytest.raises(ValueError, match="invalid budget_scope='doc'"):
        l2.compress(["a b"], budget_scope="doc")
    with pytest.raises(ValueError, match="invalid force_tokens"):
        l2.compress(["a b"], force_tokens="abc")


def test_context_level_rate_sets_the_share_of_texts_kept(l2, nq20):
    kept = {
        clr: sum(
            not r.dropped
            for r in l2.compress(
                nq20, rate=0.5, use_context_level_filter=True, context_level_rate=clr
            )
        )
        for clr in (0.3, 0.6, 1.0)
    }
    assert kept[0.3] < kept[0.6] < kept[1.0] == 20
    assert abs(kept[0.3] - 6) <= 1 and abs(kept[0.6] - 12) <= 1
    default = l2.compress(nq20, rate=0.5, use_context_level_filter=True)  # (rate + 1) / 2
    assert abs(sum(not r.dropped for r in default) - 15) <= 1


def test_a_20000_word_text_runs_in_bounded_batches(tiny_bert_clf_dir, nq20):
    text = " ".join(nq20) * 12  # about 20,000 words
    assert len(text.split()) > 18_000
    c = get_compressor("llmlingua2", model=str(tiny_bert_clf_dir), batch_tokens=1024)
    r = c.compress([text], rate=0.3)[0]
    spans_ok(r)
    assert abs(r.rate - 0.3) <= 0.05


def test_text_the_tokenizer_reads_as_nothing_comes_back_whole(l2):
    texts = ["\x00\x01", "real words here and more words"]
    results = l2.compress(texts, rate=0.5)
    assert results[0].text == "\x00\x01" and not results[0].dropped
    assert results[1].text


def test_question_aware_ranking_drops_and_orders_texts(l2):
    """With a query, texts are ranked (MiniLM cosine + BM25) and dropped before tokens."""
    from tests.conftest import nq_passages

    texts, rows = nq_passages(10)
    question = rows[3]["question"]
    with_q = l2.compress(texts, query=question, rate=0.2)
    without = l2.compress(texts, rate=0.2)
    off = l2.compress(texts, query=question, rate=0.2, rank_with_query=False)
    assert off == without  # the option turns it off
    assert all(not r.dropped and r.order is None for r in without)
    assert sum(r.dropped for r in with_q) >= 4  # budget x coarse_ratio holds ~4 of 10 texts
    best = min((r.order, i) for i, r in enumerate(with_q) if r.order is not None)[1]
    assert best == 3  # the question's own passage ranks first
    assert with_q[3].relevance == max(r.relevance for r in with_q)
    kept = sum(r.compressed_tokens for r in with_q)
    total = sum(r.original_tokens for r in with_q)
    assert abs(kept / total - 0.2) <= 0.05
    forced = l2.compress(texts, query=question, rate=0.2, force_context_ids=[0])
    assert not forced[0].dropped
    wide = l2.compress(texts, query=question, rate=0.2, coarse_ratio=5.0)
    assert sum(r.dropped for r in wide) < sum(r.dropped for r in with_q)
