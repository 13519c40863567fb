"""BM25 ranking."""

from __future__ import annotations

import math

import numpy as np

from lingua_core.scorers.rank import bm25_scores, terms
from tests.conftest import nq_passages


def test_bm25_matches_the_okapi_formula_by_hand():
    corpus = ["the cat sat on the mat", "the dog barked", "a cat and a dog", "nothing here"]
    scores = bm25_scores(corpus, "cat dog")
    n, avg = 4, (6 + 3 + 5 + 2) / 4
    idf = math.log((n - 2 + 0.5) / (2 + 0.5))  # cat and dog are each in 2 texts

    def term(tf, length):
        return idf * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * length / avg))

    expected = [term(1, 6), term(1, 3), term(1, 5) + term(1, 5), 0.0]
    np.testing.assert_allclose(scores, expected)


def test_bm25_ranks_the_gold_passage_high_on_real_questions():
    passages, rows = nq_passages(200)
    hits = 0
    for i in range(50):
        scores = bm25_scores(passages, rows[i]["question"])
        hits += int(np.argsort(-scores)[:5].tolist().count(i) > 0)
    assert hits >= 40  # the gold passage is in the top 5 of 200 for most questions


def test_terms_and_empty_inputs():
    assert terms("Hello, World! 42") == ["hello", "world", "42"]
    assert bm25_scores([], "q").shape == (0,)
    assert bm25_scores(["a b"], "").tolist() == [0.0]


def test_question_likelihood_ranking_matches_a_manual_forward(tiny_llama_dir):
    import torch

    from lingua_core.models import load_causal_lm
    from lingua_core.scorers.lm import CausalLMScorer
    from lingua_core.scorers.rank import QUESTION_SUFFIX, question_nll, rank_texts

    loaded = load_causal_lm(str(tiny_llama_dir))
    scorer = CausalLMScorer(loaded)
    texts = ["Paris is the capital of France.", "Bananas are yellow.", "Rome is in Italy."]
    question = "What is the capital of France?"
    nll = question_nll(scorer, texts, question)
    tok = loaded.tokenizer
    for text, value in zip(texts, nll):
        t_ids = tok(text, add_special_tokens=False)["input_ids"]
        q_ids = tok(question + QUESTION_SUFFIX, add_special_tokens=False)["input_ids"]
        full = torch.tensor([[tok.bos_token_id, *t_ids, *q_ids]])
        with torch.no_grad():
            logp = torch.log_softmax(loaded.model(full).logits[0, :-1].float(), -1)
        pos = torch.arange(len(t_ids), len(t_ids) + len(q_ids))
        expected = float(-logp[pos, torch.tensor(q_ids)].mean())
        assert abs(value - expected) < 1e-4
    order, relevance = rank_texts(texts, question, scorer=scorer)
    assert order.tolist() == np.argsort(nll, kind="stable").tolist()
    np.testing.assert_allclose(relevance, -nll)
    hybrid_order, _ = rank_texts(texts, question, method="hybrid", scorer=scorer)
    assert sorted(hybrid_order.tolist()) == [0, 1, 2]


def test_rank_texts_bad_input():
    import pytest

    from lingua_core.scorers.rank import rank_texts

    with pytest.raises(
        ValueError, match="valid: llmlingua, longllmlingua, bm25, embedding, hybrid, fused"
    ):
        rank_texts(["a"], "q", method="gzip")
    with pytest.raises(ValueError, match="needs a causal-LM scorer"):
        rank_texts(["a"], "q", method="hybrid")
    order, _ = rank_texts(["x y", "q z", "q q"], "q", method="bm25")
    assert order.tolist() == [2, 1, 0]
