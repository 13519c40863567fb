"""Rate sweeps: every method at every rate on every example, appended to a resumable JSONL file.

One record per example x method x rate (x seed for ``random``). A method is a name or alias with
optional options, ``"longllmlingua:unit=word,rank_method=hybrid"``; ``"bm25"`` is the whole-passage
baseline (passages by BM25 against the question until the budget is spent). Compressors keep
their rate-independent scores cached, so each context is scored once and selected at every rate.
A rerun skips the records already in the file, so an interrupted sweep resumes without duplicates.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lingua_core.eval.data import QAExample
from lingua_core.eval.metrics import answer_in, exact_match, f1

logger = logging.getLogger(__name__)

DEFAULT_RATES = (1.0, 0.7, 0.5, 0.33, 0.2, 0.1)
#: The whole-passage BM25 baseline's method name.
BM25 = "bm25"
#: A reader: ``(question, context) -> answer``.
Reader = Callable[[str, str], str]


#: The reader prompt's system message.
READER_SYSTEM = "Answer with a few words from the documents."


def reader_prompt(question: str, context: str) -> list[dict[str, str]]:
    """The chat messages a reader gets: a short-answer instruction, the documents, the question."""
    return [
        {"role": "system", "content": READER_SYSTEM},
        {"role": "user", "content": f"Documents:\n{context}\n\nQuestion: {question}"},
    ]


def chat_model_reader(chat_model: Any) -> Reader:
    """A :data:`Reader` over any LangChain chat model (``BaseChatModel``: OpenAI, Ollama, ...).

    ``run_sweep(..., reader=chat_model_reader(ChatOpenAI(model="gpt-4o-mini")))`` scores answers
    of the LLM you deploy (needs ``langchain-core``). The CLI's ``--reader local`` sends the
    same prompt (:func:`reader_prompt`) to the embedded SmolLM2, a weak 135M reader.
    """

    def read(question: str, context: str) -> str:
        msgs = [(m["role"], m["content"]) for m in reader_prompt(question, context)]
        content = chat_model.invoke(msgs).content
        if isinstance(content, list):  # content blocks
            content = " ".join(
                b.get("text", "") if isinstance(b, dict) else str(b) for b in content
            )
        return str(content).strip()

    return read


def parse_method(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name:key=value,key=value"`` -> ``(name, options)``; JSON values are parsed.

    Raises:
        ValueError: For an option without ``=``.
    """
    name, _, rest = spec.partition(":")
    opts: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            msg = f"bad option {part!r} in method {spec!r}; expected key=value"
            raise ValueError(msg)
        try:
            opts[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            opts[key.strip()] = value.strip()
    return name.strip(), opts


def done_keys(path: Path) -> set[tuple[str, str, float, int | None]]:
    """Keys ``(method, example, rate, seed)`` of the records already in ``path``."""
    keys: set[tuple[str, str, float, int | None]] = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                keys.add((r["method"], r["example"], float(r["rate"]), r.get("seed")))
    return keys


def _bm25_context(ex: QAExample, rate: float, counter: Any) -> tuple[str, int, int]:
    from lingua_core.pipeline.select import select
    from lingua_core.scorers.rank import bm25_scores

    costs = np.asarray(counter.count(list(ex.contexts)), dtype=np.int64)
    rel = bm25_scores(list(ex.contexts), ex.question)
    keep = select([rel], [costs], [rate * float(costs.sum())], scope="global")[0]
    kept = [c for c, k in zip(ex.contexts, keep) if k]
    return "\n\n".join(kept), int(costs.sum()), int(costs[keep].sum())


def run_sweep(
    examples: Sequence[QAExample],
    methods: Sequence[str],
    out: str | Path,
    *,
    rates: Sequence[float] = DEFAULT_RATES,
    seeds: int = 3,
    token_counter: Any = None,
    model_options: dict[str, Any] | None = None,
    reader: Reader | None = None,
    progress: bool = True,
) -> int:
    """Run every method at every rate on every example; append records to ``out``.

    Args:
        examples: The examples.
        methods: Method specs (see :func:`parse_method`); ``"bm25"`` for the passage baseline.
            ``"random"`` runs ``seeds`` times.
        out: The JSONL file (created or appended to; existing records are skipped).
        rates: The rates.
        seeds: Seeds of the ``random`` control.
        token_counter: Counter every method meets its budget in (default: each method's own;
            the BM25 baseline and the model-free methods then count words). Give one (e.g.
            ``"cl100k_base"``) to compare methods in the same tokens.
        model_options: Passed to every model-based method (``device``, ``dtype``, ...).
        reader: Optional ``(question, context) -> answer``; adds ``answer_in_output``,
            ``exact_match`` and ``f1`` to each record.
        progress: Show a progress bar (tqdm).

    Returns:
        The number of records written.

    Raises:
        ValueError: For an unknown method (naming the known ones) or a rate outside (0, 1].
    """
    from lingua_core.base import join_results
    from lingua_core.pipeline.tokens import get_token_counter
    from lingua_core.registry import get_compressor, method_class, resolve

    for r in rates:
        if not 0 < float(r) <= 1:
            msg = f"rates must be in (0, 1], got {r!r}"
            raise ValueError(msg)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    compressors: dict[str, Any] = {}
    for spec in methods:
        if spec == BM25:
            continue
        name, opts = parse_method(spec)
        resolve(name)  # unknown names fail here, before any work
        cls = method_class(name)
        extra = dict(model_options or {}) if cls.uses_model else {}
        compressors[spec] = get_compressor(name, token_counter=token_counter, **extra, **opts)
    counter = get_token_counter(token_counter or "words")
    done = done_keys(path)
    jobs: list[tuple[QAExample, str, float, int | None]] = []
    for ex in examples:
        for spec in methods:
            is_random = spec == "random" or spec.startswith("random:")
            for rate in sorted(map(float, rates), reverse=True):
                for seed in range(seeds) if is_random else [None]:
                    if (spec, ex.id, rate, seed) not in done:
                        jobs.append((ex, spec, rate, seed))
    bar: Iterable[Any] = jobs
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(jobs, desc="lingua eval", unit="call")
    written = 0
    with path.open("a", encoding="utf-8") as f:
        for ex, spec, rate, seed in bar:
            t0 = time.perf_counter()
            if spec == BM25:
                context, original, kept = _bm25_context(ex, rate, counter)
            else:
                comp = compressors[spec]
                kw = {"seed": seed} if seed is not None else {}
                res = comp.compress(list(ex.contexts), query=ex.question, rate=rate, **kw)
                context = join_results(res)
                original = sum(r.original_tokens for r in res)
                kept = sum(r.compressed_tokens for r in res)
            seconds = time.perf_counter() - t0
            rec: dict[str, Any] = {
                "method": spec,
                "example": ex.id,
                "rate": rate,
                "seed": seed,
                "survived": answer_in(context, ex.answers),
                "original_tokens": original,
                "compressed_tokens": kept,
                "achieved_rate": kept / original if original else 1.0,
                "seconds": seconds,
                "gold": ex.gold,
                "passages": len(ex.contexts),
            }
            if reader is not None:
                answer = reader(ex.question, context)
                rec.update(
                    answer=answer,
                    answer_in_output=answer_in(answer, ex.answers),
                    exact_match=exact_match(answer, ex.answers),
                    f1=f1(answer, ex.answers),
                )
            f.write(json.dumps(rec) + "\n")
            f.flush()
            written += 1
    logger.info("wrote %d records to %s (%d already there)", written, path, len(done))
    return written
