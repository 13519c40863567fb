"""Task types of a comparison study: what is compressed, what the reader is asked, how it is scored.

Each :class:`TaskType` has a loader (any file path; the shared data files are examples), the
texts a compressor gets (``QAExample.contexts``) and the query it gets, the reader's prompt and
metric, and where one means something an offline proxy computed on the compressed context alone:

- ``qa_multidoc``: NQ-Open oracle, 20 passages with BM25-hard distractors. Proxy: answer
  survival. Reader: exact match (and F1).
- ``multihop``: HotpotQA or MuSiQue. Proxy: answer survival (not on yes/no questions).
  Reader: exact match (and F1).
- ``kv_retrieval``: KV retrieval, 75 pairs. Proxy: value survival. Reader: exact match.
- ``summarization``: QMSum meetings, the transcript in chunks of consecutive lines. Proxy:
  relative content recall. Reader: ROUGE-L against the reference summary.
- ``reasoning``: GSM8K, the few-shot demonstrations compressed and the question kept. No
  proxy. Reader: accuracy on the final number.
- ``code``: HumanEval prompts. No proxy. Reader: pass@1 (the tests run in a subprocess).

The summarization proxy is the ROUGE-1 recall of the reference summary's content words (stop
words removed) in the compressed transcript, divided by the same recall in the whole transcript.
Questions answered "yes" or "no" (HotpotQA comparisons) count for reader metrics only: the word
"no" in a text says nothing about the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingua_core.eval import data
from lingua_core.eval.data import QAExample
from lingua_core.eval.metrics import (
    answer_in,
    content_recall,
    exact_match,
    f1,
    final_number,
    rouge_l,
)

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class TaskType:
    """One kind of prompt a study compresses.

    Attributes:
        name: The type's name in study files.
        load: ``(path, start, n, options) -> examples``.
        prompt: ``(example, compressed context) -> chat messages`` for the reader.
        score: ``(example, reply) -> metrics`` of a reader's reply; the first is the main one.
        proxy: ``(example, compressed context) -> value`` computed without a reader, or
            ``None`` when no offline proxy means anything for the type.
        proxy_metric: The proxy's name in records.
        reader_metric: The main reader metric's name.
        output_tokens: Reply tokens expected per reader call (for dry-run costs).
        max_tokens: Most tokens a reader may write.
        options: The extra keys a study may give a task of this type, with their defaults.
        start: The first example used by default.
    """

    name: str
    load: Callable[[Path, int, int, Mapping[str, Any]], list[QAExample]]
    prompt: Callable[[QAExample, str], Messages]
    score: Callable[[QAExample, str], dict[str, float]]
    proxy: Callable[[QAExample, str], float | None] | None
    proxy_metric: str | None
    reader_metric: str
    output_tokens: int
    max_tokens: int
    options: Mapping[str, Any] = field(default_factory=dict)
    start: int = 0


def _qa_prompt(ex: QAExample, context: str) -> Messages:
    return [
        {"role": "system", "content": "Answer with a few words from the documents."},
        {"role": "user", "content": f"Documents:\n{context}\n\nQuestion: {ex.question}"},
    ]


def _qa_score(ex: QAExample, reply: str) -> dict[str, float]:
    return {"exact_match": float(exact_match(reply, ex.answers)), "f1": f1(reply, ex.answers)}


def _survival(ex: QAExample, context: str) -> float | None:
    if ex.meta.get("yes_no"):
        return None
    return float(answer_in(context, ex.answers))


def _load_nq(path: Path, start: int, n: int, opts: Mapping[str, Any]) -> list[QAExample]:
    return data.nq_multidoc(
        path, range(start, start + n), k=int(opts["k"]), position=opts["position"]
    )


def _load_multihop(path: Path, start: int, n: int, opts: Mapping[str, Any]) -> list[QAExample]:
    with data._open(path) as f:
        first = f.readline()
    if '"paragraphs"' in first:
        out = data.musique(path, None)
    else:
        out = data.hotpotqa(path, None, yes_no=True)
        out = [
            QAExample(
                e.id,
                e.question,
                e.answers,
                e.contexts,
                e.gold,
                {**e.meta, "yes_no": e.answers[0].strip().lower() in ("yes", "no")},
            )
            for e in out
        ]
    return out[start : start + n]


def _load_kv(path: Path, start: int, n: int, opts: Mapping[str, Any]) -> list[QAExample]:
    return data.kv_retrieval(path, limit=start + n)[start:]


def _kv_prompt(ex: QAExample, context: str) -> Messages:
    return [
        {
            "role": "system",
            "content": "Find the value of the given key among the key-value pairs. Reply with "
            "the value only.",
        },
        {"role": "user", "content": f"{context}\n\n{ex.question}"},
    ]


def _kv_score(ex: QAExample, reply: str) -> dict[str, float]:
    return {"exact_match": float(answer_in(reply, ex.answers))}


def _chunks(document: str, words: int) -> tuple[str, ...]:
    """Consecutive lines of a transcript grouped into chunks of about ``words`` words."""
    out, cur, size = [], [], 0
    for line in document.splitlines():
        if not line.strip():
            continue
        cur.append(line)
        size += len(line.split())
        if size >= words:
            out.append("\n".join(cur))
            cur, size = [], 0
    if cur:
        out.append("\n".join(cur))
    return tuple(out)


def _load_summaries(path: Path, start: int, n: int, opts: Mapping[str, Any]) -> list[QAExample]:
    out = []
    for i, row in data._records(path, range(start, start + n)):
        document, summary = str(row.get("document", "")), str(row.get("summary", ""))
        if not document or not summary:
            msg = f"{path}, record {i}: needs fields 'document' and 'summary'"
            raise ValueError(msg)
        chunks = _chunks(document, int(opts["chunk_words"]))
        query = str(row.get("query") or "Summarize the meeting")
        meta = {"reference": summary, "full_recall": content_recall(document, summary)}
        out.append(
            QAExample(str(row.get("id", f"summary-{i}")), query, (summary,), chunks, None, meta)
        )
    return out


def _summary_prompt(ex: QAExample, context: str) -> Messages:
    return [
        {"role": "system", "content": "Summarize the meeting transcript in about 100 words."},
        {"role": "user", "content": f"Transcript:\n{context}\n\n{ex.question}."},
    ]


def _summary_score(ex: QAExample, reply: str) -> dict[str, float]:
    return {"rouge_l": rouge_l(reply, str(ex.meta["reference"]))}


def _summary_proxy(ex: QAExample, context: str) -> float:
    full = float(ex.meta["full_recall"])
    return content_recall(context, str(ex.meta["reference"])) / full if full else 1.0


def _load_gsm8k(path: Path, start: int, n: int, opts: Mapping[str, Any]) -> list[QAExample]:
    shots = int(opts["shots"])
    demos_path = opts.get("demos")
    rows = [row for _, row in data._rows(path)]
    if demos_path:
        demos = [row for _, row in data._rows(Path(demos_path))][:shots]
        pool = rows
    else:  # the file's first records are the demonstrations, the questions come after
        demos, pool = rows[:shots], rows[shots:]
    texts = tuple(f"Question: {d['question']}\nAnswer: {d['answer']}" for d in demos)
    out = []
    for j, row in enumerate(pool[start : start + n], start):
        gold = final_number(str(row["answer"]))
        out.append(
            QAExample(f"gsm8k-{j}", str(row["question"]), (str(gold),), texts, None, {"gold": gold})
        )
    return out


def _gsm8k_prompt(ex: QAExample, context: str) -> Messages:
    return [
        {
            "role": "system",
            "content": "Solve the problem step by step like the examples; end with "
            "'#### <number>'.",
        },
        {"role": "user", "content": f"{context}\n\nQuestion: {ex.question}\nAnswer:"},
    ]


def _gsm8k_score(ex: QAExample, reply: str) -> dict[str, float]:
    got, gold = final_number(reply), ex.meta["gold"]
    return {"accuracy": float(got is not None and gold is not None and abs(got - gold) < 1e-6)}


def _load_humaneval(path: Path, start: int, n: int, opts: Mapping[str, Any]) -> list[QAExample]:
    out = []
    for i, row in data._records(path, range(start, start + n)):
        meta = {"test": str(row["test"]), "entry_point": str(row["entry_point"])}
        out.append(
            QAExample(
                str(row.get("task_id", f"code-{i}")),
                "Complete the function.",
                (),
                (str(row["prompt"]),),
                None,
                meta,
            )
        )
    return out


def _code_prompt(ex: QAExample, context: str) -> Messages:
    return [
        {
            "role": "system",
            "content": "Write the complete Python function, with its imports, in one ```python "
            "block.",
        },
        {"role": "user", "content": context},
    ]


def _code_score(ex: QAExample, reply: str) -> dict[str, float]:
    from lingua_core.eval.code_exec import extract_code, passes

    ok = passes(extract_code(reply), str(ex.meta["test"]), str(ex.meta["entry_point"]))
    return {"pass_at_1": float(ok)}


TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            "qa_multidoc",
            _load_nq,
            _qa_prompt,
            _qa_score,
            _survival,
            "survived",
            "exact_match",
            8,
            32,
            {"k": 20, "position": "random"},
            start=500,
        ),
        TaskType(
            "multihop",
            _load_multihop,
            _qa_prompt,
            _qa_score,
            _survival,
            "survived",
            "exact_match",
            8,
            32,
            start=50,
        ),
        TaskType(
            "kv_retrieval",
            _load_kv,
            _kv_prompt,
            _kv_score,
            _survival,
            "survived",
            "exact_match",
            40,
            64,
        ),
        TaskType(
            "summarization",
            _load_summaries,
            _summary_prompt,
            _summary_score,
            _summary_proxy,
            "content_recall",
            "rouge_l",
            150,
            256,
            {"chunk_words": 250},
        ),
        TaskType(
            "reasoning",
            _load_gsm8k,
            _gsm8k_prompt,
            _gsm8k_score,
            None,
            None,
            "accuracy",
            150,
            320,
            {"shots": 8, "demos": None},
        ),
        TaskType(
            "code", _load_humaneval, _code_prompt, _code_score, None, None, "pass_at_1", 150, 384
        ),
    )
}


def task_type(name: str) -> TaskType:
    """The task type called ``name``.

    Raises:
        ValueError: For an unknown type (naming the valid ones).
    """
    try:
        return TASK_TYPES[name]
    except KeyError:
        msg = f"unknown task type {name!r}; valid: {', '.join(TASK_TYPES)}"
        raise ValueError(msg) from None
