"""Ranking texts against a question without a model: BM25 (Okapi).

Used to rank retrieved documents (LongLLMLingua's ``rank_method="bm25"``), as a whole-passage
baseline, and to pick distractor passages when building evaluation data. Terms are lower-cased
word tokens (the reference splits on single spaces, which keeps punctuation glued to words).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

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
