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


def _tokens(text: str) -> list[str]:
    return normalize(text).split()


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1: longest common subsequence of normalised tokens (Lin 2004, beta = 1)."""
    pred, ref = _tokens(prediction), _tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    prev = [0] * (len(ref) + 1)
    for p in pred:
        row = [0]
        for j, r in enumerate(ref):
            row.append(prev[j] + 1 if p == r else max(prev[j + 1], row[j]))
        prev = row
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def content_recall(text: str, reference: str) -> float:
    """ROUGE-1 recall of the reference's content words (stop words removed) in ``text``.

    Each distinct content word of the reference counts once; 1.0 for a reference without any.
    """
    from lingua_core.pipeline.text import STOP_WORDS

    wanted = {w for w in _tokens(reference) if w not in STOP_WORDS}
    if not wanted:
        return 1.0
    present = set(_tokens(text))
    return len(wanted & present) / len(wanted)


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def final_number(text: str) -> float | None:
    """The number a worked answer ends with: after ``####`` if present, else the last number."""
    tail = text.rsplit("####", 1)[1] if "####" in text else text
    found = _NUMBER.findall(tail)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None
