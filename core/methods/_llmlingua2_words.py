"""LLMLingua-2's words: one text's word units with their scores and flags.

Also splitting words at forced tokens, and dropping repeated words (``drop_consecutive``).
"""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np

from lingua_core.pipeline.text import Units, assign_to_units, word_units


class _Words:
    """Units of one text with their scores and flags."""

    __slots__ = ("chunk", "forced", "forced_tok", "raw", "scores", "units")

    def __init__(
        self,
        units: Units,
        scores: np.ndarray,
        raw: np.ndarray,
        forced: np.ndarray,
        forced_tok: np.ndarray,
        chunk: np.ndarray,
    ) -> None:
        self.units = units
        self.scores = scores
        self.raw = raw
        self.forced = forced
        self.forced_tok = forced_tok
        self.chunk = chunk


def _split_at_force(
    text: str,
    units: Units,
    scores: np.ndarray,
    raw: np.ndarray,
    chunk: np.ndarray,
    force_re: re.Pattern[str],
) -> tuple[Units, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Make every occurrence of a force token a unit of its own (splitting words around it).

    An occurrence inside a word splits the word; one in the whitespace between words (e.g. a
    newline) becomes a unit of its own. Pieces inherit their word's score and chunk; the
    occurrences are forced.
    """
    occ = [(m.start(), m.end()) for m in force_re.finditer(text) if m.end() > m.start()]
    if not occ:
        return units, scores, raw, chunk, np.zeros(len(units), dtype=bool)
    occ_s = np.asarray([a for a, _ in occ], dtype=np.int64)
    occ_e = np.asarray([b for _, b in occ], dtype=np.int64)
    cuts = np.unique(np.concatenate([occ_s, occ_e]))
    lo = np.searchsorted(cuts, units.starts, side="right")
    hi = np.searchsorted(cuts, units.ends, side="left")
    pieces: list[tuple[int, int, int]] = []  # (start, end, source unit)
    for k in range(len(units)):
        s, e = int(units.starts[k]), int(units.ends[k])
        if hi[k] <= lo[k]:
            pieces.append((s, e, k))
            continue
        bounds = [s, *cuts[lo[k] : hi[k]].tolist(), e]
        pieces.extend((a, b, k) for a, b in pairwise(bounds) if b > a)
    last = np.searchsorted(units.starts, occ_e, side="left") - 1
    for j, (a, b) in enumerate(occ):
        i = int(last[j])
        if i < 0 or units.ends[i] <= a:  # in a gap between units
            pieces.append((a, b, max(i, 0) if len(units) else -1))
    pieces.sort()
    p_s = np.asarray([p[0] for p in pieces], dtype=np.int64)
    p_e = np.asarray([p[1] for p in pieces], dtype=np.int64)
    src = np.asarray([p[2] for p in pieces], dtype=np.int64)
    occ_i = np.searchsorted(occ_s, p_s, side="right") - 1
    at = np.maximum(occ_i, 0)
    forced = (occ_i >= 0) & (p_e <= occ_e[at]) & (p_s >= occ_s[at])
    keep = np.ones(len(pieces), dtype=bool)
    for i in np.flatnonzero(~forced).tolist():  # trim split-off parts of words
        piece = text[p_s[i] : p_e[i]]
        stripped = piece.strip()
        if not stripped:
            keep[i] = False
            continue
        p_s[i] += len(piece) - len(piece.lstrip())
        p_e[i] = p_s[i] + len(stripped)
    p_s, p_e, src, forced = p_s[keep], p_e[keep], src[keep], forced[keep]
    base = np.maximum(src, 0)
    has = (src >= 0) & (len(scores) > 0)
    new_scores = np.where(has, scores[base] if len(scores) else 0.0, 0.0)
    new_raw = np.where(has, raw[base] if len(raw) else 0.0, 0.0)
    new_chunk = chunk[base] if len(chunk) else np.zeros(len(p_s), dtype=np.int64)
    new_scores = np.where(forced, 1.0, new_scores)
    return Units(p_s, p_e), new_scores, new_raw, new_chunk, forced


def _drop_consecutive(text: str, words: _Words, keep: np.ndarray) -> None:
    """Unkeep a forced token equal to the kept unit just before it (reference semantics)."""
    prev = None
    for i in np.flatnonzero(keep).tolist():
        piece = text[words.units.starts[i] : words.units.ends[i]]
        if words.forced_tok[i] and piece == prev:
            keep[i] = False
            continue
        prev = piece


def whole_words(
    text: str, units: Units, scores: np.ndarray, raw: np.ndarray, chunk: np.ndarray
) -> tuple[Units, np.ndarray, np.ndarray, np.ndarray]:
    """Merge the tokenizer's words into whole words of the text (``unit="word"``).

    The reference's words are the tokenizer's (a new word at every lone punctuation mark, every
    CJK character), so "75%" is two words and "$3,450.75" six, and dropping one changes the
    number. Here each of them joins the word of :func:`lingua_core.pipeline.text.word_units` that
    holds its last character, scored by the mean of its parts (``chunk``: the last).
    """
    if len(units) == 0:
        return units, scores, raw, chunk
    words = word_units(text)
    idx = assign_to_units(words, units.ends - 1)
    ok = idx >= 0
    n = len(words)
    counts = np.bincount(idx[ok], minlength=n)
    used = counts > 0
    mean = np.bincount(idx[ok], weights=scores[ok], minlength=n) / np.maximum(counts, 1)
    mean_raw = np.bincount(idx[ok], weights=raw[ok], minlength=n) / np.maximum(counts, 1)
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, idx[ok], chunk[ok])
    kept = Units(words.starts[used], words.ends[used])
    return kept, mean[used], mean_raw[used], last[used]
