"""QA examples for evaluation: NQ multi-document contexts, KV retrieval, or your own JSONL.

The generic format, one JSON object per line::

    {"question": "...", "answers": ["...", ...], "contexts": ["passage 1", "passage 2", ...]}

(optional: ``"id"``, ``"gold"``: the index of the passage holding the answer).
"""

from __future__ import annotations

import ast
import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingua_core.eval.metrics import answer_in

#: Where the gold passage goes in :func:`nq_multidoc`.
POSITIONS = ("random", "first", "middle", "last")


@dataclass(frozen=True)
class QAExample:
    """One question with its contexts.

    Attributes:
        id: A stable identifier (used to resume sweeps).
        question: The question.
        answers: Acceptable answers.
        contexts: The retrieved passages, in prompt order.
        gold: Index of the passage that holds the answer, when known.
        meta: Anything else (e.g. the source row).
    """

    id: str
    question: str
    answers: tuple[str, ...]
    contexts: tuple[str, ...]
    gold: int | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


def _open(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        msg = f"data file not found: {path}"
        raise FileNotFoundError(msg)
    return (
        gzip.open(path, "rt", encoding="utf-8")
        if path.suffix == ".gz"
        else path.open(encoding="utf-8")
    )


def _rows(path: str | Path) -> Iterable[tuple[int, dict[str, Any]]]:
    with _open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                msg = f"{path}, line {n}: not valid JSON ({e.msg})"
                raise ValueError(msg) from None
            if not isinstance(row, dict):
                msg = f"{path}, line {n}: expected a JSON object"
                raise ValueError(msg)
            yield n, row


def _field(path: str | Path, n: int, row: dict[str, Any], name: str, kind: type) -> Any:
    if name not in row:
        msg = f"{path}, line {n}: missing field {name!r}"
        raise ValueError(msg)
    value = row[name]
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            msg = f"{path}, line {n}: field {name!r} must be a list of strings"
            raise ValueError(msg)
    elif not isinstance(value, kind):
        msg = f"{path}, line {n}: field {name!r} must be a {kind.__name__}"
        raise ValueError(msg)
    return value


def load_jsonl(path: str | Path, limit: int | None = None) -> list[QAExample]:
    """Examples from a JSONL file in the generic format (``.gz`` too).

    Raises:
        ValueError: Naming the line and field of a missing or malformed field.
        FileNotFoundError: For a missing file.
    """
    out = []
    for n, row in _rows(path):
        question = _field(path, n, row, "question", str)
        answers = _field(path, n, row, "answers", list)
        contexts = _field(path, n, row, "contexts", list)
        gold = row.get("gold")
        if gold is not None and not (isinstance(gold, int) and 0 <= gold < len(contexts)):
            msg = f"{path}, line {n}: field 'gold' must be an index into 'contexts'"
            raise ValueError(msg)
        out.append(
            QAExample(str(row.get("id", n)), question, tuple(answers), tuple(contexts), gold)
        )
        if limit is not None and len(out) >= limit:
            break
    return out


def _position(how: str | int, k: int, rng: Any) -> int:
    if isinstance(how, int):
        if not 0 <= how < k:
            msg = f"position {how} out of range for {k} passages"
            raise ValueError(msg)
        return how
    if how not in POSITIONS:
        msg = f"unknown position {how!r}; valid: {', '.join(POSITIONS)} or an index"
        raise ValueError(msg)
    if how == "random":
        return int(rng.integers(0, k))
    return {"first": 0, "middle": k // 2, "last": k - 1}[how]


def nq_multidoc(
    path: str | Path,
    questions: Sequence[int] | range,
    *,
    k: int = 20,
    position: str | int = "random",
    seed: int = 0,
) -> list[QAExample]:
    r"""Multi-document QA from the NQ-Open oracle file of the "Lost in the Middle" release.

    Each question keeps its gold passage and gets ``k - 1`` distractors: the other questions'
    gold passages that score highest under BM25 (Okapi) against the question and contain none of
    its answers (normalised), without duplicates. The gold passage goes ``"first"``,
    ``"middle"``, ``"last"``, at an index, or at a ``"random"`` position drawn from
    ``numpy.random.default_rng(seed + question index)``. Passages are ``title\ntext``. Example
    ids are ``nq-<index>``, with ``@<position>`` appended for a fixed position (so that runs at
    several positions can share one results file).

    Args:
        path: ``nq-open-oracle.jsonl.gz`` (lines with ``question``, ``answers``, ``ctxs``).
        questions: Indices of the questions (lines) to use.
        k: Passages per example.
        position: Where the gold passage goes.
        seed: Seed of the random positions.

    Raises:
        ValueError: For a bad position, a question index past the file, or a malformed line.
    """
    import numpy as np

    from lingua_core.scorers.rank import bm25_scores

    rows = []
    for n, row in _rows(path):
        _field(path, n, row, "question", str)
        _field(path, n, row, "answers", list)
        if not isinstance(row.get("ctxs"), list) or not row["ctxs"]:
            msg = f"{path}, line {n}: missing field 'ctxs' (a list of passages)"
            raise ValueError(msg)
        rows.append(row)
    passages = [f"{r['ctxs'][0]['title']}\n{r['ctxs'][0]['text']}" for r in rows]
    out = []
    for qi in questions:
        if not 0 <= qi < len(rows):
            msg = f"question index {qi} out of range: the file has {len(rows)} questions"
            raise ValueError(msg)
        row = rows[qi]
        scores = bm25_scores(passages, row["question"])
        distractors: list[int] = []
        seen = {passages[qi]}
        for j in np.argsort(-scores, kind="stable").tolist():
            if len(distractors) == k - 1:
                break
            if j == qi or passages[j] in seen or answer_in(passages[j], row["answers"]):
                continue
            seen.add(passages[j])
            distractors.append(j)
        pos = _position(position, k, np.random.default_rng(seed + qi))
        ids = [*distractors[:pos], qi, *distractors[pos:]]
        out.append(
            QAExample(
                f"nq-{qi}" if position == "random" else f"nq-{qi}@{position}",
                row["question"],
                tuple(row["answers"]),
                tuple(passages[i] for i in ids),
                pos,
                {"index": qi},
            )
        )
    return out


def kv_retrieval(path: str | Path, limit: int | None = None) -> list[QAExample]:
    """Key-value retrieval examples ("Lost in the Middle"): find the value of one UUID key.

    Each record becomes one context per pair (``'Key: "k", Value: "v"'``) so that methods can
    drop whole pairs; the answer is the value string (exact-string survival).
    """
    out = []
    for n, row in _rows(path):
        key = _field(path, n, row, "key", str)
        value = _field(path, n, row, "value", str)
        records = row.get("ordered_kv_records")
        if isinstance(records, str):
            records = ast.literal_eval(records)
        if not isinstance(records, list):
            msg = f"{path}, line {n}: missing field 'ordered_kv_records'"
            raise ValueError(msg)
        contexts = tuple(f'Key: "{k}", Value: "{v}"' for k, v in records)
        gold = next((i for i, (k, _) in enumerate(records) if k == key), None)
        question = f'What is the value of key "{key}"?'
        out.append(QAExample(f"kv-{n}", question, (value,), contexts, gold))
        if limit is not None and len(out) >= limit:
            break
    return out


def _literal(value: Any) -> Any:
    """A field stored either as JSON or as the text of a Python literal (the shared copies)."""
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def _records(
    path: str | Path, records: Sequence[int] | range | None
) -> list[tuple[int, dict[str, Any]]]:
    rows = [row for _, row in _rows(path)]
    wanted = range(len(rows)) if records is None else records
    out = []
    for i in wanted:
        if not 0 <= i < len(rows):
            msg = f"record index {i} out of range: the file has {len(rows)} records"
            raise ValueError(msg)
        out.append((i, rows[i]))
    return out


def _is_yes_no(answer: str) -> bool:
    return answer.strip().lower() in ("yes", "no")


def hotpotqa(
    path: str | Path,
    records: Sequence[int] | range | None = None,
    *,
    yes_no: bool = False,
) -> list[QAExample]:
    r"""Multi-hop QA from HotpotQA in the distractor setting (10 paragraphs per question).

    Each paragraph becomes one context, ``"title\n" + sentences``; the answer is the record's
    ``answer``. ``meta["supporting"]`` lists the indices of the supporting paragraphs and
    ``gold`` the first one that holds the answer (else the first supporting one). Example ids
    are ``hotpotqa-<record index>``.

    Args:
        path: ``hotpotqa_distractor.jsonl.gz`` (fields ``question``, ``answer``, ``context``,
            ``supporting_facts``, ``type``).
        records: Record indices (lines) to use; ``None``: all.
        yes_no: Keep questions answered "yes"/"no" (comparison questions whose answer string
            is rarely in any passage, so answer survival says nothing about them). Off.

    Raises:
        ValueError: For a record index past the file or a malformed record.
    """
    out = []
    for i, row in _records(path, records):
        answer = str(row.get("answer", ""))
        if not yes_no and _is_yes_no(answer):
            continue
        context = _literal(row.get("context"))
        if not isinstance(context, list) or not context:
            msg = f"{path}, record {i}: missing field 'context' (a list of [title, sentences])"
            raise ValueError(msg)
        titles = [str(c[0]) for c in context]
        passages = [f"{c[0]}\n{''.join(c[1]).strip()}" for c in context]
        support = {str(t) for t, _ in _literal(row.get("supporting_facts")) or []}
        supporting = [j for j, t in enumerate(titles) if t in support]
        holding = [j for j in supporting if answer_in(passages[j], [answer])]
        out.append(
            QAExample(
                f"hotpotqa-{i}",
                str(row["question"]),
                (answer,),
                tuple(passages),
                next(iter(holding or supporting), None),
                {"index": i, "supporting": supporting, "type": row.get("type")},
            )
        )
    return out


def musique(path: str | Path, records: Sequence[int] | range | None = None) -> list[QAExample]:
    r"""Multi-hop QA from MuSiQue-Ans (2-4 hops, 20 paragraphs per question).

    Each paragraph becomes one context, ``title\nparagraph_text``; answers are ``answer`` and
    its ``answer_aliases``. ``meta["supporting"]`` lists the supporting paragraphs and ``gold``
    the one of the last hop. Example ids are ``musique-<record index>``.

    Raises:
        ValueError: For a record index past the file or a malformed record.
    """
    out = []
    for i, row in _records(path, records):
        paragraphs = _literal(row.get("paragraphs"))
        if not isinstance(paragraphs, list) or not paragraphs:
            msg = f"{path}, record {i}: missing field 'paragraphs'"
            raise ValueError(msg)
        passages = [f"{p['title']}\n{p['paragraph_text']}" for p in paragraphs]
        supporting = [j for j, p in enumerate(paragraphs) if p.get("is_supporting")]
        steps = _literal(row.get("question_decomposition")) or []
        last = steps[-1].get("paragraph_support_idx") if steps else None
        aliases = [str(a) for a in _literal(row.get("answer_aliases")) or []]
        out.append(
            QAExample(
                f"musique-{i}",
                str(row["question"]),
                (str(row["answer"]), *aliases),
                tuple(passages),
                last if isinstance(last, int) and 0 <= last < len(passages) else None,
                {
                    "index": i,
                    "supporting": supporting,
                    "hop_answers": [str(s["answer"]) for s in steps if s.get("answer")],
                },
            )
        )
    return out


def squad_same_article(
    path: str | Path,
    articles: Sequence[int] | range,
    *,
    k: int = 10,
    seed: int = 0,
    limit: int | None = None,
) -> list[QAExample]:
    r"""SQuAD questions whose distractors are paragraphs of the same article (one topic).

    Each question keeps its paragraph and gets ``k - 1`` other paragraphs of its article, the
    ones that score highest under BM25 against the question and hold none of its answers; the
    gold paragraph goes at a position drawn from ``numpy.random.default_rng(seed + n)`` (``n``
    the question's running number). Passages are ``title\nparagraph`` with the article title.
    Questions whose answer is in the title, or in so many paragraphs that fewer than ``k - 1``
    distractors remain, are left out. Split by article: the articles given are the only ones
    read. Example ids are
    ``squad-<article>-<question id>``; ``limit`` keeps an even, seeded sample of the questions.

    Raises:
        ValueError: For an article index past the file or a malformed line.
    """
    import numpy as np

    from lingua_core.scorers.rank import bm25_scores

    out: list[QAExample] = []
    for a, row in _records(path, articles):
        title = str(row.get("title", "")).replace("_", " ")
        paragraphs = row.get("paragraphs")
        if not isinstance(paragraphs, list) or not paragraphs:
            msg = f"{path}, article {a}: missing field 'paragraphs'"
            raise ValueError(msg)
        passages = [f"{title}\n{p['context']}" for p in paragraphs]
        for pi, p in enumerate(paragraphs):
            for qa in p.get("qas", []):
                answers = tuple(dict.fromkeys(str(x["text"]) for x in qa["answers"]))
                if answer_in(title, answers):
                    continue  # every passage starts with the answer: says nothing
                scores = bm25_scores(passages, str(qa["question"]))
                others = [
                    j
                    for j in np.argsort(-scores, kind="stable").tolist()
                    if j != pi and not answer_in(passages[j], answers)
                ][: k - 1]
                if len(others) < k - 1:
                    continue  # the answer is in too many paragraphs for a full context
                n = len(out)
                pos = int(np.random.default_rng(seed + n).integers(0, len(others) + 1))
                ids = [*others[:pos], pi, *others[pos:]]
                out.append(
                    QAExample(
                        f"squad-{a}-{qa['id']}",
                        str(qa["question"]),
                        answers,
                        tuple(passages[j] for j in ids),
                        pos,
                        {"article": a},
                    )
                )
    if limit is not None and limit < len(out):
        pick = np.random.default_rng(seed).choice(len(out), size=limit, replace=False)
        out = [out[i] for i in sorted(pick.tolist())]
    return out
