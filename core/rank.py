"""Ranking texts against a question: BM25 (Okapi), question likelihood, or both.

Used to rank retrieved documents (LongLLMLingua's ``rank_method="bm25"``), as a whole-passage
baseline, and to pick distractor passages when building evaluation data. Terms are lower-cased
word tokens (the reference splits on single spaces, which keeps punctuation glued to words).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

_TERM_RE = re.compile(r"\w+")


def terms(text: str) -> list[str]:
    """Lower-cased word terms of ``text``."""
    return _TERM_RE.findall(text.lower())


def bm25_scores(
    corpus: Sequence[str],
    query: str,
    *,
    k1: float = 1.5,
    b: float = 0.75,
    epsilon: float = 0.25,
) -> np.ndarray:
    """BM25 Okapi score of every text of ``corpus`` for ``query``.

    Same formula and defaults as ``rank_bm25.BM25Okapi``: IDF ``log((N - df + 0.5) / (df + 0.5))``,
    and terms whose IDF would be negative (in more than half the texts) get ``epsilon`` times the
    mean IDF instead.

    Args:
        corpus: The texts to score.
        query: The question.
        k1: Term-frequency saturation.
        b: Length normalisation.
        epsilon: Floor for negative IDFs, as a fraction of the mean IDF.

    Returns:
        One score per text (float64), higher is more relevant.
    """
    docs = [Counter(terms(t)) for t in corpus]
    n = len(docs)
    if n == 0:
        return np.zeros(0)
    lengths = np.asarray([sum(d.values()) for d in docs], dtype=np.float64)
    avg = float(lengths.mean()) or 1.0
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    idf = {t: math.log(n - f + 0.5) - math.log(f + 0.5) for t, f in df.items()}
    mean_idf = sum(idf.values()) / max(len(idf), 1)
    floor = epsilon * mean_idf
    idf = {t: (v if v >= 0 else floor) for t, v in idf.items()}
    scores = np.zeros(n)
    norm = k1 * (1 - b + b * lengths / avg)
    for q in terms(query):
        if q not in idf:
            continue
        tf = np.asarray([d.get(q, 0) for d in docs], dtype=np.float64)
        scores += idf[q] * tf * (k1 + 1) / (tf + norm)
    return scores


#: Appended to the question when scoring its likelihood given a text (LongLLMLingua).
QUESTION_SUFFIX = " We can get the answer to this question in the given documents."
RANK_METHODS = ("longllmlingua", "bm25", "hybrid")


def question_nll(scorer: Any, texts: Sequence[str], question: str) -> np.ndarray:
    """Mean surprisal of the question (plus :data:`QUESTION_SUFFIX`) given each text.

    LongLLMLingua's coarse ranking (``condition_in_question="after"``): a text that makes the
    question likely is a text that answers it. All texts go through the model in one batched
    call; a text longer than half the model window conditions with its last tokens.

    Args:
        scorer: A :class:`lingua_core.scorers.lm.CausalLMScorer`.
        texts: The texts.
        question: The question.

    Returns:
        One mean surprisal (nats per token) per text; lower ranks higher.
    """
    if not texts:
        return np.zeros(0)
    target = question + QUESTION_SUFFIX
    scores = scorer.surprisal([target] * len(texts), prefixes=list(texts))
    return np.asarray([float(s.scores.mean()) if s.scores.size else 0.0 for s in scores])


def _z(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x)


def rank_texts(
    texts: Sequence[str], question: str, *, method: str = "longllmlingua", scorer: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rank texts by how well they answer ``question``.

    Args:
        texts: The texts.
        question: The question.
        method: ``"longllmlingua"`` (question likelihood under the causal LM), ``"bm25"``, or
            ``"hybrid"`` (the sum of both z-scored).
        scorer: The causal-LM scorer (for ``longllmlingua`` and ``hybrid``).

    Returns:
        ``(order, relevance)``: text indices best first, and one relevance per text (higher is
        better; ties keep the original order).

    Raises:
        ValueError: For an unknown method, or a model-based method without a scorer.
    """
    if method not in RANK_METHODS:
        msg = f"unknown rank_method {method!r}; valid: {', '.join(RANK_METHODS)}"
        raise ValueError(msg)
    if method != "bm25" and scorer is None:
        msg = f"rank_method {method!r} needs a causal-LM scorer"
        raise ValueError(msg)
    if method == "bm25":
        relevance = bm25_scores(texts, question)
    elif method == "longllmlingua":
        relevance = -question_nll(scorer, texts, question)
    else:
        relevance = _z(bm25_scores(texts, question)) + _z(-question_nll(scorer, texts, question))
    order = np.lexsort((np.arange(len(texts)), -relevance))
    return order, relevance
