"""Ranking texts against a question: BM25 (Okapi), question likelihood, embeddings, or fused.

Used to rank retrieved documents (LongLLMLingua's ``rank_method``), by the whole-passage
baselines, the default method, and to pick distractor passages when building evaluation data.
BM25 terms are lower-cased word tokens (the reference splits on single spaces, which keeps
punctuation glued to words). Several signals combine by :func:`fuse`: the sum of their z-scores
(weighted) or reciprocal-rank fusion.
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
RANK_METHODS = ("llmlingua", "longllmlingua", "bm25", "embedding", "hybrid", "fused")
#: Other spellings of rank methods (the reference calls embedding ranking ``sentbert``).
RANK_ALIASES = {"sentbert": "embedding"}
#: Signals that ``rank_method="fused"`` can combine: BM25, cosine of sentence embeddings, and
#: the question's likelihood under the causal LM (LongLLMLingua's ranking).
SIGNALS = ("bm25", "embedding", "lm")
#: How fused signals combine: ``"z"`` sums z-scores, ``"rrf"`` sums ``1 / (60 + rank)``.
FUSIONS = ("z", "rrf")
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
    q_ids = scorer.conditioning_ids(scorer.tokenize([question + QUESTION_SUFFIX])[0][0])
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


def zscore(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / std``; all zeros when ``x`` is constant."""
    x = np.asarray(x, dtype=np.float64)
    std = float(x.std()) if x.size else 0.0
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x)


_z = zscore
RRF_K = 60


def fuse(
    signals: Sequence[np.ndarray], weights: Sequence[float] | None = None, how: str = "z"
) -> np.ndarray:
    """Combine per-text scores of several signals into one (higher is better).

    Args:
        signals: One array per signal, one score per text (higher is better).
        weights: One weight per signal (default 1 each).
        how: ``"z"``: weighted sum of z-scores (scale-free, keeps margins); ``"rrf"``:
            reciprocal-rank fusion, weighted sum of ``1 / (60 + rank)`` (ranks from 1).

    Raises:
        ValueError: For an unknown ``how`` or mismatched weights.
    """
    if how not in FUSIONS:
        msg = f"unknown fusion {how!r}; valid: {', '.join(FUSIONS)}"
        raise ValueError(msg)
    w = [1.0] * len(signals) if weights is None else [float(x) for x in weights]
    if len(w) != len(signals):
        msg = f"{len(w)} weights for {len(signals)} signals"
        raise ValueError(msg)
    if not signals:
        msg = "fuse needs at least one signal"
        raise ValueError(msg)
    n = len(signals[0])
    out = np.zeros(n)
    for s, wi in zip(signals, w):
        s = np.asarray(s, dtype=np.float64)
        if how == "z":
            out += wi * zscore(s)
        else:
            ranks = np.empty(n)
            ranks[np.lexsort((np.arange(n), -s))] = np.arange(1, n + 1)
            out += wi / (RRF_K + ranks)
    return out


def check_signals(signals: Any) -> tuple[str, ...]:
    """``signals`` as a tuple of known signal names.

    Raises:
        ValueError: For an empty list or an unknown signal, naming the valid ones.
    """
    if isinstance(signals, str):
        signals = (signals,)
    got = tuple(signals or ())
    bad = [x for x in got if x not in SIGNALS]
    if not got or bad:
        msg = f"unknown fusion signal(s) {bad or got!r}; valid: {', '.join(SIGNALS)}"
        raise ValueError(msg)
    return got


def rank_method_name(method: str) -> str:
    """A rank method name with aliases resolved (``"sentbert"`` -> ``"embedding"``).

    Raises:
        ValueError: For an unknown rank method, naming the valid ones.
    """
    name = RANK_ALIASES.get(method, method)
    if name not in RANK_METHODS:
        valid = ", ".join((*RANK_METHODS, *RANK_ALIASES))
        msg = f"unknown rank_method {method!r}; valid: {valid}"
        raise ValueError(msg)
    return name


def rank_texts(
    texts: Sequence[str],
    question: str,
    *,
    method: str = "longllmlingua",
    scorer: Any = None,
    condition: str = "after",
    cache: MutableMapping[Any, float] | None = None,
    on_text_scores: Callable[[int, list[int], np.ndarray], None] | None = None,
    embedder: Any = None,
    signals: Sequence[str] = ("embedding", "bm25"),
    weights: Sequence[float] | None = None,
    fusion: str = "z",
) -> tuple[np.ndarray, np.ndarray]:
    """Rank texts by how well they answer ``question``.

    Args:
        texts: The texts.
        question: The question.
        method: ``"longllmlingua"`` (question likelihood under the causal LM, see
            ``condition``), ``"llmlingua"`` (the text's perplexity, question ignored),
            ``"bm25"``, ``"embedding"`` (cosine of sentence embeddings; alias ``"sentbert"``),
            ``"hybrid"`` (BM25 + LM relevance, z-scored, as before) or ``"fused"`` (``signals``
            combined by ``fusion``).
        scorer: The causal-LM scorer (for the LM methods and the ``"lm"`` signal).
        condition: How the LM relates question and text (see :func:`lm_relevance`).
        cache: Relevance cache passed to :func:`lm_relevance`.
        on_text_scores: Passed to :func:`lm_relevance`.
        embedder: A :class:`lingua_core.scorers.embed.Embedder` (for ``"embedding"`` and that
            signal).
        signals: With ``"fused"``: names from :data:`SIGNALS`.
        weights: With ``"fused"``: one weight per signal.
        fusion: With ``"fused"``: ``"z"`` or ``"rrf"`` (see :func:`fuse`).

    Returns:
        ``(order, relevance)``: text indices best first, and one relevance per text (higher is
        better; ties keep the original order).

    Raises:
        ValueError: For an unknown method, signal, fusion or condition, or a model-based method
            without its model.
    """
    method = rank_method_name(method)
    used = (
        check_signals(signals)
        if method == "fused"
        else {"hybrid": ("bm25", "lm"), "embedding": ("embedding",), "bm25": ("bm25",)}.get(
            method, ("lm",)
        )
    )
    if "lm" in used and scorer is None:
        msg = f"rank_method {method!r} needs a causal-LM scorer"
        raise ValueError(msg)
    if "embedding" in used and embedder is None:
        msg = f"rank_method {method!r} needs a sentence-embedding model (embedder=)"
        raise ValueError(msg)
    values: dict[str, np.ndarray] = {}
    for sig in used:
        if sig == "bm25":
            values[sig] = bm25_scores(texts, question)
        elif sig == "embedding":
            values[sig] = embedding_relevance(embedder, texts, question)
        else:
            cond = "none" if method == "llmlingua" else condition
            values[sig] = lm_relevance(scorer, texts, question, cond, cache, on_text_scores)
    if len(used) == 1:
        relevance = values[used[0]]
    elif method == "hybrid":
        relevance = _z(values["bm25"]) + _z(values["lm"])
    else:
        relevance = fuse([values[s] for s in used], weights, fusion)
    order = np.lexsort((np.arange(len(texts)), -relevance))
    return order, relevance


def embedding_relevance(embedder: Any, texts: Sequence[str], question: str) -> np.ndarray:
    """Cosine between each text's embedding and the question's (higher is more relevant)."""
    if not texts:
        return np.zeros(0)
    vecs = embedder.embed([*texts, question])
    cos: np.ndarray = (vecs[:-1] @ vecs[-1]).astype(np.float64)
    return cos
