"""Training records of a question-aware pruner: reading, checking, labelling, splitting.

One record is one question with its passages, as JSON lines::

    {"question": "...", "passages": [{"text": "...", "keep": [0, 2]}, ...],
     "answers": ["..."], "source": "squad:Beyonce"}

``keep`` lists the indices of the passage's sentences that answer the question, in the
sentences of :func:`lingua_core.pipeline.text.sentence_units` (the segmentation the pruner sees at
inference). ``source`` names the document the passages come from: the train/validation split is
made by source, so that chunks of one document never straddle it. A passage with no kept sentence
is a negative (its relevance label is 0).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lingua_core.pipeline.text import sentence_units


class _Sourced(Protocol):
    @property
    def source(self) -> str: ...


SourcedT = TypeVar("SourcedT", bound=_Sourced)


@dataclass(frozen=True)
class Passage:
    """One passage with the indices of its kept sentences."""

    text: str
    keep: tuple[int, ...] = ()

    @property
    def relevant(self) -> bool:
        """Whether the passage answers the question (has a kept sentence)."""
        return bool(self.keep)


@dataclass(frozen=True)
class PrunerRecord:
    """One question with its labelled passages.

    Attributes:
        question: The question.
        passages: Passages with kept-sentence labels.
        answers: Answers, when known (used by the teacher and by checks, not by the loss).
        source: The source document: the unit of the train/validation split.
    """

    question: str
    passages: tuple[Passage, ...]
    answers: tuple[str, ...] = ()
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        out: dict[str, Any] = {
            "question": self.question,
            "passages": [{"text": p.text, "keep": list(p.keep)} for p in self.passages],
        }
        if self.answers:
            out["answers"] = list(self.answers)
        if self.source:
            out["source"] = self.source
        return out


def _bad(where: str, what: str) -> ValueError:
    return ValueError(f"{where}: {what}")


def parse_record(row: Any, where: str = "record") -> PrunerRecord:
    """Check one JSON record and build it.

    Raises:
        ValueError: Naming the field that is missing or malformed, and the expected shape.
    """
    if not isinstance(row, dict):
        raise _bad(where, "expected an object {question, passages: [{text, keep}], answers?}")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise _bad(where, "'question' must be a non-empty string")
    passages = row.get("passages")
    if not isinstance(passages, list) or not passages:
        raise _bad(where, "'passages' must be a non-empty list of {text, keep}")
    out = []
    for i, p in enumerate(passages):
        if not isinstance(p, dict) or not isinstance(p.get("text"), str):
            raise _bad(where, f"passage {i} must be an object with a string 'text'")
        keep = p.get("keep", [])
        if not isinstance(keep, list) or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in keep
        ):
            raise _bad(where, f"passage {i}: 'keep' must be a list of sentence indices >= 0")
        out.append(Passage(p["text"], tuple(sorted(set(keep)))))
    answers = row.get("answers") or []
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list):
        raise _bad(where, "'answers' must be a list of strings")
    return PrunerRecord(
        question, tuple(out), tuple(str(a) for a in answers), str(row.get("source") or "")
    )


def read_records(path: str | Path) -> list[PrunerRecord]:
    """Read JSON-lines records (``.jsonl`` or ``.jsonl.gz``).

    Raises:
        FileNotFoundError: For a missing file.
        ValueError: For a malformed line, naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"training data not found: {path}"
        raise FileNotFoundError(msg)
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise _bad(f"{path}, line {n}", f"not JSON ({e})") from None
            out.append(parse_record(row, f"{path}, line {n}"))
    if not out:
        msg = f"{path} holds no records"
        raise ValueError(msg)
    return out


def write_records(records: Iterable[PrunerRecord], path: str | Path) -> int:
    """Write records as JSON lines; the number written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n


def keep_overlapping(text: str, spans: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """Indices of the sentences of ``text`` that overlap any character span (the labels)."""
    units = sentence_units(text)
    keep = []
    for i, (s, e) in enumerate(zip(units.starts.tolist(), units.ends.tolist())):
        if any(a < e and s < b for a, b in spans):
            keep.append(i)
    return tuple(keep)


def dedupe(records: Iterable[PrunerRecord]) -> list[PrunerRecord]:
    """Records with each (question, passage) pair once.

    Later repeats of a pair are removed, and a record left with no passage is removed.
    """
    seen: set[tuple[str, str]] = set()
    out = []
    for r in records:
        q = " ".join(r.question.lower().split())
        kept = []
        for p in r.passages:
            key = (q, p.text)
            if key in seen:
                continue
            seen.add(key)
            kept.append(p)
        if kept:
            out.append(PrunerRecord(r.question, tuple(kept), r.answers, r.source, r.meta))
    return out


def split_by_source(
    records: Sequence[SourcedT], validation: float, seed: int = 0
) -> tuple[list[SourcedT], list[SourcedT]]:
    """Seeded train/validation split by source document, never inside one.

    Any records with a ``source`` attribute: pruner records, LLMLingua-2's labelled chunks.

    Sources are shuffled with ``seed`` and moved to validation until it holds at least
    ``validation`` of the records (a record with no source is its own source).

    Raises:
        ValueError: For a fraction outside [0, 1).
    """
    if not 0 <= validation < 1:
        msg = f"validation must be a fraction in [0, 1), got {validation!r}"
        raise ValueError(msg)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(r.source or f"#record-{i}", []).append(i)
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    want = validation * len(records)
    val: set[int] = set()
    for name in names:
        if len(val) >= want:
            break
        val.update(groups[name])
    train = [r for i, r in enumerate(records) if i not in val]
    return train, [r for i, r in enumerate(records) if i in val]
