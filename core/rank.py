"""Ranking texts against a question: BM25 (Okapi), question likelihood, or both.

Used to rank retrieved documents (LongLLMLingua's ``rank_method="bm25"``), as a whole-passage
baseline, and to pick distractor passages when building evaluation data. Terms are lower-cased
word tokens (the reference splits on single spaces, which keeps punctuation glued to words).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, MutableMapping, Sequence
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
RANK_METHODS = ("llmlingua", "longllmlingua", "bm25", "hybrid")
#: How the causal LM relates question and text: ``after`` scores the question given the text,
#: ``before`` the text given the question, ``none`` the text alone (its perplexity).
CONDITIONS = ("none", "before", "after")


def _mean(scores: Any) -> float:
    return float(scores.scores.mean()) if scores.scores.size else 0.0


def question_nll(
    scorer: Any,
    texts: Sequence[str],
    question: str,
    on_text_scores: Callable[[int, list[int], np.ndarray], None] | None = None,
) -> np.ndarray:
    """Mean surprisal of the question (plus :data:`QUESTION_SUFFIX`) given each text.

    LongLLMLingua's coarse ranking (``condition_in_question="after"``): a text that makes the
    question likely is a text that answers it. Each text and the question run as one sequence,
    all texts in one batched call; a question longer than half the window keeps its last tokens
    (with a warning), and a text longer than the window is read in windows, the question
    conditioned on the last one.

    Args:
        scorer: A :class:`lingua_core.scorers.lm.CausalLMScorer`.
        texts: The texts.
        question: The question.
        on_text_scores: Called with ``(index, text token ids, their surprisal)``: the same
            forward scores every text's own tokens (given the start token only), which
            LLMLingua's token level reuses.

    Returns:
        One mean surprisal (nats per token) per text; lower ranks higher.
    """
    if not texts:
        return np.zeros(0)
    q_ids = scorer._truncated(scorer.tokenize([question + QUESTION_SUFFIX])[0][0])
    text_ids = [ids for ids, _, _ in scorer.tokenize(list(texts))]
    scores = scorer.surprisal_ids([ids + q_ids for ids in text_ids])
    out = np.zeros(len(texts))
    for i, (ids, s) in enumerate(zip(text_ids, scores)):
        q = s[len(ids) :]
        out[i] = float(q.mean()) if q.size else 0.0
        if on_text_scores is not None:
            on_text_scores(i, ids, s[: len(ids)])
    return out


def lm_relevance(
    scorer: Any,
    texts: Sequence[str],
    question: str,
    condition: str = "after",
    cache: MutableMapping[Any, float] | None = None,
    on_text_scores: Callable[[int, list[int], np.ndarray], None] | None = None,
) -> np.ndarray:
    """Relevance of each text under the causal LM (higher is better), as LongLLMLingua ranks.

    Args:
        scorer: A :class:`lingua_core.scorers.lm.CausalLMScorer`.
        texts: The texts.
        question: The question (unused with ``condition="none"``).
        condition: ``"after"``: minus the mean surprisal of the question given the text;
            ``"before"``: minus the mean surprisal of the text given the question; ``"none"``:
            the text's own mean surprisal (LLMLingua's coarse rule: perplexing texts carry more
            information and rank first).
        cache: Optional mapping from ``(condition, question, text, window)`` to a relevance; hits
            skip the model, misses are computed in one batch and stored. Relevance does not
            depend on the rate, so a rate sweep ranks each text once.
        on_text_scores: Called, for texts scored here with ``condition`` ``"after"`` or
            ``"none"``, with ``(index, text token ids, surprisal of the text's tokens given the
            start token)``.

    Returns:
        One relevance per text.

    Raises:
        ValueError: For an unknown condition.
    """
    if condition not in CONDITIONS:
        msg = f"unknown condition_in_question {condition!r}; valid: {', '.join(CONDITIONS)}"
        raise ValueError(msg)
    q = "" if condition == "none" else question
    keys = [(condition, q, t, scorer.window, scorer.start_id) for t in texts]
    out = np.zeros(len(texts))
    todo = []
    for i, key in enumerate(keys):
        hit = None if cache is None else cache.get(key)
        if hit is None:
            todo.append(i)
        else:
            out[i] = hit
    if todo:
        # Identical texts are scored once (and so score identically, cached or not).
        first_of: dict[str, int] = {}
        for i in todo:
            first_of.setdefault(texts[i], i)
        unique = list(first_of.values())
        missing = [texts[i] for i in unique]

        def report(j: int, ids: list[int], s: np.ndarray) -> None:
            if on_text_scores is not None:
                on_text_scores(unique[j], ids, s)

        if condition == "after":
            vals = -question_nll(scorer, missing, q, report)
        elif condition == "before":
            got = scorer.surprisal(missing, prefixes=q + QUESTION_SUFFIX)
            vals = -np.asarray([_mean(s) for s in got])
        else:
            ids = [x for x, _, _ in scorer.tokenize(missing)]
            got_ids = scorer.surprisal_ids(ids)
            vals = np.asarray([float(s.mean()) if s.size else 0.0 for s in got_ids])
            for j, (x, s) in enumerate(zip(ids, got_ids)):
                report(j, x, s)
        value = dict(zip(missing, vals.tolist()))
        for i in todo:
            out[i] = value[texts[i]]
            if cache is not None:
                cache[keys[i]] = out[i]
    return out


def _z(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x)


def rank_texts(
    texts: Sequence[str],
    question: str,
    *,
    method: str = "longllmlingua",
    scorer: Any = None,
    condition: str = "after",
    cache: MutableMapping[Any, float] | None = None,
    on_text_scores: Callable[[int, list[int], np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rank texts by how well they answer ``question``.

    Args:
        texts: The texts.
        question: The question.
        method: ``"longllmlingua"`` (question likelihood under the causal LM, see
            ``condition``), ``"llmlingua"`` (the text's perplexity, question ignored),
            ``"bm25"``, or ``"hybrid"`` (the sum of the BM25 and LM relevance, both z-scored).
        scorer: The causal-LM scorer (for every method but ``bm25``).
        condition: How the LM relates question and text (see :func:`lm_relevance`).
        cache: Relevance cache passed to :func:`lm_relevance`.
        on_text_scores: Passed to :func:`lm_relevance`.

    Returns:
        ``(order, relevance)``: text indices best first, and one relevance per text (higher is
        better; ties keep the original order).

    Raises:
        ValueError: For an unknown method or condition, or a model-based method without a scorer.
    """
    if method not in RANK_METHODS:
        msg = f"unknown rank_method {method!r}; valid: {', '.join(RANK_METHODS)}"
        raise ValueError(msg)
    if method != "bm25" and scorer is None:
        msg = f"rank_method {method!r} needs a causal-LM scorer"
        raise ValueError(msg)
    if method == "bm25":
        relevance = bm25_scores(texts, question)
    elif method == "llmlingua":
        relevance = lm_relevance(scorer, texts, question, "none", cache, on_text_scores)
    elif method == "longllmlingua":
        relevance = lm_relevance(scorer, texts, question, condition, cache, on_text_scores)
    else:
        lm = lm_relevance(scorer, texts, question, condition, cache, on_text_scores)
        relevance = _z(bm25_scores(texts, question)) + _z(lm)
    order = np.lexsort((np.arange(len(texts)), -relevance))
    return order, relevance
