"""LLMLingua-2's data: word labels from a teacher's compression, and the quality filters.

A teacher LLM compresses a chunk of text by deleting words only; every word of the original is
labelled keep or drop by aligning the teacher's words to it, and chunks where the alignment
fails are filtered out (Pan et al. 2024, section 3). Here:

- Words are the original's raw words (:func:`lingua_core.pipeline.text.word_units`, whitespace
  words with their punctuation: what ``llmlingua2`` scores), matched by
  :func:`~lingua_core.pipeline.text.bare_word` (lower-cased, surrounding punctuation off), not
  by lemmas without punctuation as in the reference scripts.
- The alignment is the paper's windowed greedy one, each teacher word matched to an unlabelled
  original word within ``window`` words of the last match, looking forward over the whole
  window before looking back: a teacher output that is a subsequence of the original (gaps
  under the window) gets exactly its words labelled keep, in order. The reference looks one
  step forward, then one step back, alternately, and can label an earlier repeat of a word.
- The statistics are the reference's: ``variation_rate`` (the share of teacher words found
  nowhere in the original: paraphrase), ``hitting_rate`` (teacher words found, per original
  word), ``matching_rate`` (original words labelled keep) and ``alignment_gap`` (hitting minus
  matching: found words the alignment could not place). The filters drop the chunks above the
  90th percentile of variation rate, then of alignment gap among those left, as the reference
  does (which drops those at the percentile too, and in its second pass pairs the chunks with
  the wrong "retrieval" list). Before them, a filter of ours drops the replies with more words
  than the original (compression rate above 1): not deletions, whatever the percentiles say.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lingua_core.pipeline.text import bare_word, word_units

logger = logging.getLogger(__name__)

#: Words either side of the last match that the alignment looks in (the reference's default).
WINDOW = 150
#: Chunks whose teacher wrote more words than the original are filtered out first.
MAX_COMPRESSION_RATE = 1.0
#: Chunks above these percentiles are filtered out (variation over the whole file, then the
#: alignment gap over the chunks left).
VARIATION_PERCENTILE = 90.0
GAP_PERCENTILE = 90.0


@dataclass(frozen=True)
class Alignment:
    """One chunk's word labels and the statistics the filters read.

    Attributes:
        words: The original's words (raw, with punctuation), in order.
        labels: Whether each word is kept by the teacher.
        compression_rate: Teacher words per original word.
        variation_rate: Share of teacher words found nowhere in the original (1.0 for an empty
            reply: nothing of the original came back).
        hitting_rate: Teacher words found in the original, per original word.
        matching_rate: Share of original words labelled keep.
        alignment_gap: ``hitting_rate - matching_rate``.
    """

    words: list[str]
    labels: list[bool]
    compression_rate: float
    variation_rate: float
    hitting_rate: float
    matching_rate: float
    alignment_gap: float

    def kept(self) -> list[str]:
        """The words labelled keep, in order."""
        return [w for w, keep in zip(self.words, self.labels) if keep]


def _key(word: str) -> str:
    bare = bare_word(word)
    return bare if bare else word


def align(original: str, compressed: str, window: int = WINDOW) -> Alignment:
    """Label each word of ``original`` keep or drop from the teacher's ``compressed`` text.

    Raises:
        ValueError: For a window below 1.
    """
    if window < 1:
        msg = f"window must be >= 1, got {window}"
        raise ValueError(msg)
    words = word_units(original).texts(original)
    teacher = [_key(w) for w in word_units(compressed).texts(compressed)]
    keys = [_key(w) for w in words]
    present = set(keys)
    labels = [False] * len(words)
    last = 0
    found = 0
    for token in teacher:
        found += token in present
        hit = _match(keys, labels, token, last, window)
        if hit is not None:
            labels[hit] = True
            last = hit
    n, m = len(words), len(teacher)
    hitting = found / n if n else 0.0
    matching = sum(labels) / n if n else 0.0
    return Alignment(
        words=words,
        labels=labels,
        compression_rate=m / n if n else 0.0,
        variation_rate=1.0 - found / m if m else 1.0,
        hitting_rate=hitting,
        matching_rate=matching,
        alignment_gap=hitting - matching,
    )


def _match(keys: list[str], labels: list[bool], token: str, last: int, window: int) -> int | None:
    """The first unlabelled ``token`` after ``last`` within the window, else the nearest before."""
    for j in range(last, min(len(keys), last + window)):
        if not labels[j] and keys[j] == token:
            return j
    for j in range(last - 1, max(-1, last - window), -1):
        if not labels[j] and keys[j] == token:
            return j
    return None


def keep_mask(
    alignments: Sequence[Alignment],
    variation_percentile: float = VARIATION_PERCENTILE,
    gap_percentile: float = GAP_PERCENTILE,
    max_compression_rate: float = MAX_COMPRESSION_RATE,
) -> list[bool]:
    """Which chunks pass the filters, in order, each over the chunks the previous ones left.

    1. Compression rate at most ``max_compression_rate`` (ours): a reply with more words than
       the original cannot be deletions only; the teacher repeated or invented text.
    2. Variation rate not above its ``variation_percentile``-th percentile (the paper's).
    3. Alignment gap not above its ``gap_percentile``-th percentile (the paper's).

    Raises:
        ValueError: For a percentile outside (0, 100] or a rate that is not positive.
    """
    for name, p in (("variation", variation_percentile), ("gap", gap_percentile)):
        if not 0 < p <= 100:
            msg = f"{name} percentile must be in (0, 100], got {p}"
            raise ValueError(msg)
    if not max_compression_rate > 0:
        msg = f"max_compression_rate must be > 0, got {max_compression_rate}"
        raise ValueError(msg)
    if not alignments:
        return []
    rate = np.array([a.compression_rate for a in alignments])
    keep = rate <= max_compression_rate
    if keep.any():
        variation = np.array([a.variation_rate for a in alignments])
        keep &= variation <= np.percentile(variation[keep], variation_percentile)
    if keep.any():
        gap = np.array([a.alignment_gap for a in alignments])
        keep &= gap <= np.percentile(gap[keep], gap_percentile)
    return [bool(k) for k in keep]


@dataclass(frozen=True)
class Pair:
    """A chunk of original text and the teacher's compression of it.

    Attributes:
        id: The chunk's id (unique in a file).
        source: The document it comes from (splits are by source).
        original: The chunk's text.
        compressed: The teacher's compression of it.
    """

    id: str
    source: str
    original: str
    compressed: str


def read_pairs(path: str | Path) -> Iterator[Pair]:
    """The pairs of a JSONL file (``.gz`` too), in either layout.

    - lingua-rag's (``lingua distill collect``): one chunk a line, ``id``, ``source``,
      ``original``, ``compressed``.
    - MeetingBank-LLMCompressed's (the released LLMLingua-2 data): one document a line,
      ``prompt_list`` and ``compressed_prompt_list`` (its chunks and their compressions) and
      ``idx`` (the document); chunk ids are ``"{idx}-{k}"``.

    A MeetingBank meeting whose two lists differ in length is skipped with a warning, as the
    reference skips it.

    Raises:
        ValueError: For a line that is not JSON or in neither layout, naming the file and the
            line (1-based).
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                msg = f"{path}:{line_no}: not a JSON line (cut by a crash?)"
                raise ValueError(msg) from None
            if not isinstance(row, dict):
                row = {}
            if {"original", "compressed"} <= row.keys():
                yield Pair(
                    str(row.get("id", line_no)),
                    str(row.get("source", row.get("id", line_no))),
                    str(row["original"]),
                    str(row["compressed"]),
                )
                continue
            if {"prompt_list", "compressed_prompt_list"} <= row.keys():
                chunks, comps = row["prompt_list"], row["compressed_prompt_list"]
                if len(chunks) != len(comps):
                    logger.warning(
                        "%s:%d: %d chunks but %d compressions; meeting skipped",
                        path,
                        line_no,
                        len(chunks),
                        len(comps),
                    )
                    continue
                source = str(row.get("idx", line_no))
                for k, (o, c) in enumerate(zip(chunks, comps)):
                    yield Pair(f"{source}-{k}", source, str(o), str(c))
                continue
            msg = (
                f"{path}:{line_no}: expected keys id, source, original, compressed (lingua-rag) "
                f"or prompt_list, compressed_prompt_list (MeetingBank-LLMCompressed); got "
                f"{sorted(row)}"
            )
            raise ValueError(msg)


def label_file(
    source: str | Path,
    out: str | Path,
    *,
    window: int = WINDOW,
    variation_percentile: float = VARIATION_PERCENTILE,
    gap_percentile: float = GAP_PERCENTILE,
    max_compression_rate: float = MAX_COMPRESSION_RATE,
) -> dict[str, Any]:
    """Label every pair of ``source`` and write one JSONL line per chunk to ``out``.

    Each line: ``id``, ``source``, ``text`` (the original), ``words``, ``labels``, ``kept``
    (whether the chunk passes the filters) and the chunk's statistics. Returns the summary:
    chunks, kept, and the mean statistics of all and of the kept chunks.
    """
    pairs = list(read_pairs(source))
    alignments = [align(p.original, p.compressed, window) for p in pairs]
    keep = keep_mask(alignments, variation_percentile, gap_percentile, max_compression_rate)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for p, a, k in zip(pairs, alignments, keep):
            row = {"id": p.id, "source": p.source, "text": p.original, **asdict(a), "kept": k}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = {
        "chunks": len(pairs),
        "kept": int(sum(keep)),
        "all": _means(alignments),
        "kept_means": _means([a for a, k in zip(alignments, keep) if k]),
    }
    logger.info("labelled %d chunks, %d kept: %s", len(pairs), sum(keep), out)
    return summary


def _means(alignments: Sequence[Alignment]) -> dict[str, float]:
    names = ("compression_rate", "variation_rate", "matching_rate", "alignment_gap")
    if not alignments:
        return dict.fromkeys(names, 0.0)
    return {n: round(float(np.mean([getattr(a, n) for a in alignments])), 4) for n in names}
