"""Segmentation into units with character offsets, and extractive assembly of kept units.

A *unit* is a non-empty, whitespace-trimmed slice ``text[start:end]``. Units of one text are
ordered and never overlap. Every method segments texts into units, scores them, selects some
under a budget (see :mod:`lingua_core.pipeline.select`) and assembles the kept ones here, so that
every result is extractive: ``result.text == join_spans(original, result.spans, result.elided)``
(:func:`lingua_core.result.join_spans`: pieces joined by a space, or by " … " where the words
dropped between them cut into a sentence).

For the question-aware methods, :mod:`lingua_core.pipeline.passages` adds a passage's title, the
names that link one passage to another and cutting long sentences into clauses.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core.result import join_spans
from lingua_core.stored.rows import UNITS, current_call_rows, text_key

#: The units :func:`segment` makes without a tokenizer (``"token"`` needs the model's own).
TEXT_UNITS: tuple[str, ...] = ("word", "phrase", "sentence")

#: Full-width punctuation that ends a clause in Chinese and Japanese, which put no spaces between
#: words: a run of such text is cut after these marks, never inside (no word segmenter here).
CJK_CLAUSE_PUNCT = "，。、；：！？）」』》"
_WORD_RE = re.compile(rf"[^\s{CJK_CLAUSE_PUNCT}]*[{CJK_CLAUSE_PUNCT}]+|[^\s{CJK_CLAUSE_PUNCT}]+")
_TRAILING_PUNCT = frozenset(",;:.!?)]}\"'”’»" + CJK_CLAUSE_PUNCT)

#: A compact English stop-word list (function words), used by the ``naive`` baseline and by the
#: phrase approximation. Lower-case, no punctuation.
_STOP_WORDS_TEXT = """
a an the and or but nor so yet for of in on at to from by with without about above below
into onto upon over under between among through during before after since until while as
than then that this these those there here which who whom whose what when where why how
is am are was were be been being do does did doing have has had having will would shall
should can could may might must it its it's itself i me my mine myself we us our ours
ourselves you your yours yourself yourselves he him his himself she her hers herself they
them their theirs themselves not no if also just very too only own same such both each few
more most other some any all again further once out up down off s t ll re ve d m o
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORDS_TEXT.split())


@dataclass(frozen=True)
class Units:
    """Units of one text as parallel arrays of character offsets.

    Attributes:
        starts: Start offsets (int64), increasing.
        ends: End offsets (int64), ``starts[i] < ends[i] <= starts[i + 1]``.
    """

    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @classmethod
    def from_lists(cls, starts: list[int], ends: list[int]) -> Units:
        """Build units from Python lists of offsets."""
        return cls(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64))

    def texts(self, text: str) -> list[str]:
        """The unit strings of ``text``."""
        return [text[s:e] for s, e in zip(self.starts.tolist(), self.ends.tolist())]


def word_units(text: str) -> Units:
    """Whitespace-delimited words (punctuation stays attached to its word).

    Numbers, signs, decimals and percentages stay whole (``-12.5%`` is one word). Text without
    spaces (Chinese, Japanese) is cut after full-width clause punctuation
    (:data:`CJK_CLAUSE_PUNCT`), so such a "word" is a clause: a word of it is never cut.
    """
    starts: list[int] = []
    ends: list[int] = []
    for m in _WORD_RE.finditer(text):
        starts.append(m.start())
        ends.append(m.end())
    return Units.from_lists(starts, ends)


def bare_word(word: str) -> str:
    """A word lower-cased, without surrounding quotes, brackets and punctuation."""
    return word.strip("\"'“”‘’()[]{}.,;:!?«»").lower()


def phrase_units(text: str) -> Units:
    """Phrases by a documented approximation of noun-phrase chunking (no parser needed).

    Selective Context merges spaCy noun chunks; no spaCy model can be downloaded here, so a phrase
    is a run of words that starts either after punctuation that ends a word (``, ; : . ! ?`` and
    closing brackets/quotes) or at a function word (see :data:`STOP_WORDS`) that follows a content
    word. ``"The first moon landing took place in July 1969, said NASA."`` gives ``["The first moon
    landing took place", "in July 1969,", "said NASA."]``: function words attach to the content
    words that follow them, as in a noun or prepositional phrase.
    """
    words = word_units(text)
    n = len(words)
    if n == 0:
        return words
    wstarts = words.starts.tolist()
    wends = words.ends.tolist()
    starts = [wstarts[0]]
    ends: list[int] = []
    prev_stop = bare_word(text[wstarts[0] : wends[0]]) in STOP_WORDS
    prev_punct = text[wends[0] - 1] in _TRAILING_PUNCT
    for i in range(1, n):
        w = text[wstarts[i] : wends[i]]
        stop = bare_word(w) in STOP_WORDS
        if prev_punct or (stop and not prev_stop):
            ends.append(wends[i - 1])
            starts.append(wstarts[i])
        prev_stop = stop
        prev_punct = w[-1] in _TRAILING_PUNCT
    ends.append(wends[-1])
    return Units.from_lists(starts, ends)


_SEGMENTER_LOCAL = threading.local()


def _pysbd_segmenter() -> Any:
    seg = getattr(_SEGMENTER_LOCAL, "segmenter", None)
    if seg is None:
        from lingua_core._deps import require

        pysbd = require("pysbd")
        seg = pysbd.Segmenter(language="en", clean=False, char_span=False)
        _SEGMENTER_LOCAL.segmenter = seg
    return seg


_PARAGRAPH_RE = re.compile(r"\n\s*\n")


def sentence_units(text: str) -> Units:
    """Sentences found offline by pysbd (rule-based, abbreviation-aware), split at blank lines too.

    Offsets are recovered by locating each sentence in order, so they are exact even where pysbd's
    own ``char_span`` mode is not. Under stored scores or the score cache
    (:mod:`lingua_core.stored.rows`), a text's sentences are looked up there first and stored
    there after: segmenting is most of what a call with stored embeddings costs.
    """
    ctx = current_call_rows()
    if ctx is None or len(text) >= 1 << 24:  # offsets are stored as float32: exact below 2^24
        return _sentence_units(text)
    key = text_key(_sentence_kind(), text)
    found = ctx.lookup(UNITS, [key])
    if key in found:
        arr = found[key].astype(np.int64)
        half = arr.shape[0] // 2
        return Units(arr[:half], arr[half:])
    units = _sentence_units(text)
    stored = {key: np.concatenate([units.starts, units.ends]).astype(np.float32)}
    ctx.computed(UNITS, stored)
    ctx.used(UNITS, stored)
    return units


def _sentence_kind() -> str:
    """Row kind of stored sentence offsets: changes with pysbd's version and this algorithm."""
    global _SENTENCE_KIND
    if _SENTENCE_KIND is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            _SENTENCE_KIND = f"sent-pysbd{version('pysbd')}-v2"
        except PackageNotFoundError:
            _SENTENCE_KIND = "sent-v2"
    return _SENTENCE_KIND


_SENTENCE_KIND: str | None = None


def _sentence_units(text: str) -> Units:
    starts: list[int] = []
    ends: list[int] = []
    seg = _pysbd_segmenter()
    block_start = 0
    blocks = [*(m.start() for m in _PARAGRAPH_RE.finditer(text)), len(text)]
    for block_end in blocks:
        block = text[block_start:block_end]
        pos = 0
        if block.strip():
            for sent in seg.segment(block):
                s = sent.strip()
                if not s:
                    continue
                found = block.find(s, pos)
                if found < 0:  # pysbd altered the text; fall back to the rest of the block
                    rest = block[pos:].strip()
                    if rest:
                        found = block.find(rest, pos)
                        starts.append(block_start + found)
                        ends.append(block_start + found + len(rest))
                    pos = len(block)
                    break
                starts.append(block_start + found)
                ends.append(block_start + found + len(s))
                pos = found + len(s)
        block_start = block_end
    return _join_abbreviations(text, starts, ends)


#: Abbreviations that pysbd takes for a sentence end before a number or a lower-case word
#: ("Symphony No. 40", "KV. 550", "Vol. 2", "approx. 5", "pp. 12"), lower-cased.
_ABBREVIATIONS_TEXT = """
no nos nr vol vols kv k op opp fig figs pp p ch chap sec sect art arts para paras eq eqs ref refs
tab n approx ca cf vs v ed eds est dept univ corp inc ltd co jan feb mar apr jun jul aug sep sept
oct nov dec proc trans al
"""
ABBREVIATIONS: frozenset[str] = frozenset(_ABBREVIATIONS_TEXT.split())
_LAST_WORD_RE = re.compile(r"(?<![\w.])([^\W\d_]{1,6})\.$")


def _join_abbreviations(text: str, starts: list[int], ends: list[int]) -> Units:
    """Rejoin sentences that pysbd cut after an abbreviation ("KV. 550", "Vol. 2", "approx. 5").

    A cut is undone when the sentence before ends in a known abbreviation with a full stop
    (:data:`ABBREVIATIONS`) and the one after starts with a digit or a lower-case letter, with no
    line break between them: "The answer is No. He left." and "He moved to Rome. 12 people
    followed him." stay two.
    """
    out_s: list[int] = []
    out_e: list[int] = []
    for a, b in zip(starts, ends):
        if out_e:
            gap = text[out_e[-1] : a]
            head = text[a : a + 1]
            tail = text[max(out_s[-1], out_e[-1] - 12) : out_e[-1]]
            if (
                "\n" not in gap
                and not gap.strip()
                and (head.isdigit() or head.islower())
                and (m := _LAST_WORD_RE.search(tail)) is not None
                and m.group(1).lower() in ABBREVIATIONS
            ):
                out_e[-1] = b
                continue
        out_s.append(a)
        out_e.append(b)
    return Units.from_lists(out_s, out_e)


_SEGMENTERS = {"word": word_units, "phrase": phrase_units, "sentence": sentence_units}


def segment(text: str, unit: str) -> Units:
    """Segment ``text`` into units of the given kind.

    Args:
        text: The text.
        unit: One of ``"word"``, ``"phrase"``, ``"sentence"``.

    Raises:
        ValueError: For an unknown unit.
    """
    try:
        fn = _SEGMENTERS[unit]
    except KeyError:
        msg = f"unknown unit {unit!r}; valid units: {', '.join(_SEGMENTERS)}"
        raise ValueError(msg) from None
    return fn(text)


@functools.cache
def _space_codes() -> np.ndarray:
    """The code points ``str.strip()`` strips (``str.isspace``): 29, none above U+3000.

    Built on first use, not at import.
    """
    return np.asarray([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def merge_overlapping(starts: np.ndarray, ends: np.ndarray, text: str) -> tuple[Units, np.ndarray]:
    """Turn possibly overlapping, untrimmed token offsets into units.

    Token offsets from a tokenizer may include the leading space, be empty (special tokens) or
    overlap (byte-level pieces of one character). Offsets are trimmed of whitespace, empty ones
    dropped, and overlapping ones merged.

    Args:
        starts: Token start offsets, non-decreasing.
        ends: Token end offsets.
        text: The text the offsets point into.

    Returns:
        The units, and for every input token the index of its unit (``-1`` for dropped tokens).
    """
    n = len(starts)
    token_unit = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return Units.from_lists([], []), token_unit
    s = np.asarray(starts, dtype=np.int64).copy()
    e = np.asarray(ends, dtype=np.int64).copy()
    # Trim whitespace at both ends, of the offsets that begin or end on whitespace only.
    nonempty = e > s
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # one per character
    last = max(len(text) - 1, 0)
    edge = np.zeros(n, dtype=bool)
    if len(text):
        space = _space_codes()
        edge = np.isin(codes[np.clip(s, 0, last)], space) | np.isin(
            codes[np.clip(e - 1, 0, last)], space
        )
    for i in np.flatnonzero(nonempty & edge).tolist():
        a, b = int(s[i]), int(e[i])
        piece = text[a:b]
        stripped = piece.strip()
        if len(stripped) != len(piece):
            if not stripped:
                s[i] = e[i] = a
                continue
            lead = len(piece) - len(piece.lstrip())
            s[i] = a + lead
            e[i] = s[i] + len(stripped)
    keep = np.flatnonzero(e > s)
    if keep.size == 0:
        return Units.from_lists([], []), token_unit
    ks, ke = s[keep], e[keep]
    prev_max_end = np.maximum.accumulate(ke)
    new_group = np.ones(keep.size, dtype=bool)
    new_group[1:] = ks[1:] >= prev_max_end[:-1]
    group = np.cumsum(new_group) - 1
    n_groups = int(group[-1]) + 1
    ustarts = ks[new_group]
    uends = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(uends, group, ke)
    token_unit[keep] = group
    return Units(ustarts, uends), token_unit


def assign_to_units(units: Units, positions: np.ndarray) -> np.ndarray:
    """Index of the unit holding each character position, ``-1`` where none does."""
    if len(units) == 0:
        return np.full(len(positions), -1, dtype=np.int64)
    idx = np.searchsorted(units.ends, positions, side="right")
    ok = idx < len(units)
    idx_c = np.where(ok, idx, 0)
    ok &= units.starts[idx_c] <= positions
    return np.where(ok, idx, -1)


def assemble(text: str, units: Units, keep: np.ndarray) -> tuple[str, list[tuple[int, int]]]:
    """Join the kept units of ``text`` into the compressed text and its spans.

    Consecutive kept units form one run that keeps the original characters between them; runs
    are joined by one space (by nothing between Chinese, Japanese or Thai script: see
    :func:`lingua_core.result.join_spans`). A run that starts at the first unit (ends at the
    last one) also keeps the text's leading (trailing) characters, so keeping every unit
    returns ``text`` unchanged.

    Args:
        text: The original text.
        units: Its units.
        keep: Boolean mask over units.

    Returns:
        ``(compressed_text, spans)`` with ``compressed_text == join_spans(text, spans)``.
    """
    joined, spans, _ = assemble_marked(text, units, keep)
    return joined, spans


def assemble_marked(
    text: str, units: Units, keep: np.ndarray, groups: np.ndarray | None = None
) -> tuple[str, list[tuple[int, int]], tuple[int, ...]]:
    """:func:`assemble`, marking runs that continue a sentence whose words before were dropped.

    Args:
        text: The original text.
        units: Its units.
        keep: Boolean mask over units.
        groups: The sentence of each unit (units of one sentence share a number), or None.

    Returns:
        ``(compressed_text, spans, elided)``: ``elided`` holds the index of every span after a
        gap that cuts into a sentence (the span before ends inside its sentence, or this one
        starts inside its sentence); the text has :data:`lingua_core.result.ELISION` there
        (:func:`lingua_core.result.join_spans`).
    """
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return "", [], ()
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    first = idx[np.r_[0, breaks]]
    last = idx[np.r_[breaks - 1, idx.size - 1]]
    span_starts = units.starts[first].tolist()
    span_ends = units.ends[last].tolist()
    if first[0] == 0:
        span_starts[0] = 0
    if last[-1] == len(units) - 1:
        span_ends[-1] = len(text)
    spans = list(zip(span_starts, span_ends))
    elided: tuple[int, ...] = ()
    if groups is not None and len(spans) > 1:
        g = np.asarray(groups)
        starts_sentence = np.r_[True, g[1:] != g[:-1]]
        ends_sentence = np.r_[g[1:] != g[:-1], True]
        cut = ~ends_sentence[last[:-1]] | ~starts_sentence[first[1:]]
        elided = tuple((np.flatnonzero(cut) + 1).tolist())
    return join_spans(text, spans, elided), spans, elided
