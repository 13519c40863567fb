"""Answer metrics: SQuAD-style normalisation, answer survival, exact match and token F1."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = frozenset(string.punctuation) | {"“", "”", "‘", "’", "–", "—", "…"}


def normalize(text: str) -> str:
    """Lower case, NFKC, punctuation to spaces, articles removed, single spaces (SQuAD style)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_in(text: str, answers: Sequence[str]) -> bool:
    """Whether any normalised answer occurs in the normalised text, on word boundaries.

    This is *answer survival* when ``text`` is a compressed context, and "answer in output"
    when it is a reader's reply.
    """
    haystack = f" {normalize(text)} "
    return any(f" {a} " in haystack for a in map(normalize, answers) if a)


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    """Whether the normalised prediction equals a normalised answer."""
    p = normalize(prediction)
    return any(p == normalize(a) for a in answers)


def f1(prediction: str, answers: Sequence[str]) -> float:
    """Best token-overlap F1 of the prediction against the answers (SQuAD)."""
    pred = normalize(prediction).split()
    best = 0.0
    for a in answers:
        gold = normalize(a).split()
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if not pred or not gold:
            score = float(pred == gold)
        elif same == 0:
            score = 0.0
        else:
            precision, recall = same / len(pred), same / len(gold)
            score = 2 * precision * recall / (precision + recall)
        best = max(best, score)
    return best
