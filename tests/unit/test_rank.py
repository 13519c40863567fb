"""BM25 ranking."""

from __future__ import annotations

import math

import numpy as np

from lingua_core.rank import bm25_scores, terms

from ..conftest import nq_passages


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
