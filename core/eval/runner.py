"""Run a study's phases into one resumable JSONL file: every algorithm x rate x task x sample.

For each phase and task, the samples are loaded once; for each algorithm, every sample is
compressed at every rate (the compressor's caches make the later rates cheap), the offline proxy
is computed, and the reader (if any) answers the compressed prompt, several calls at a time.
Each record is written as soon as it is complete, and every reply as soon as it arrives
(:class:`~lingua_core.eval.readers.ResponseCache`), so an interrupted run resumes where it
stopped without paying for a reader call twice. Models are freed between algorithms. An
algorithm whose model is not available (LLMLingua-2's hub checkpoint, offline) is reported as
skipped with how to pass ``model=``; a reader error is recorded for that call and the run goes
on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingua_core.eval.data import QAExample
from lingua_core.eval.readers import HostedReader, Reader, ResponseCache, get_reader
from lingua_core.eval.study import Phase, Study, TaskInstance

logger = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What a run did."""

    written: int = 0
    already: int = 0
    reader_errors: int = 0
    cache_hits: int = 0
    skipped: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary, for the terminal."""
        out = [
            f"{self.written} records written ({self.already} already there), "
            f"{self.reader_errors} reader errors, {self.cache_hits} replies from the cache"
        ]
        out += [f"skipped {a}: {why}" for a, why in self.skipped.items()]
        return out


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["phase"], r["task"], r["algorithm"], float(r["rate"]), r["example"], r.get("seed"))


def responses_path(out: Path) -> Path:
    """Where the replies of the run writing ``out`` are recorded."""
    return out.with_name(out.stem + ".responses.jsonl")


def run_study(
    study: Study,
    phases: Sequence[str],
    out: str | Path,
    *,
    reader: str | None = None,
    concurrency: int = 4,
    progress: bool = True,
) -> RunSummary:
    """Run ``phases`` of ``study``; append records to ``out``.

    Args:
        study: The checked study.
        phases: Names of the phases to run, in order.
        out: The results file (JSONL; existing records are skipped).
        reader: Overrides every phase's reader (``none``, ``local``, ``fake``,
            ``PROVIDER:MODEL``).
        concurrency: Reader calls in flight at once.
        progress: Show a progress bar with an ETA.

    Raises:
        ValueError: For an unknown phase, or a hosted reader without its key.
        ImportError: For a hosted reader without its provider package.
    """
    chosen = [study.phase(p) for p in phases]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    readers = {p.name: get_reader(reader or p.reader) for p in chosen}
    for r in readers.values():
        if isinstance(r, HostedReader):
            r.check()  # a missing package or key fails before any work
    done = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                done.add(_key(json.loads(line)))
            except (ValueError, KeyError):
                continue
    cache = ResponseCache(responses_path(path))
    summary = RunSummary(already=len(done))
    total = sum(
        len(p.algorithms) * len(p.rates) * p.seeds * study.tasks[t].samples(p)
        for p in chosen
        for t in p.tasks
    )
    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="lingua study", unit="call")
    with path.open("a", encoding="utf-8") as f:
        for phase in chosen:
            for tname in phase.tasks:
                inst = study.tasks[tname]
                examples = inst.load(phase)
                for algo in phase.algorithms:
                    _run_algorithm(
                        phase,
                        inst,
                        algo,
                        examples,
                        readers[phase.name],
                        cache,
                        done,
                        f,
                        summary,
                        concurrency,
                        bar,
                    )
    if bar is not None:
        bar.close()
    summary.cache_hits = cache.hits
    return summary


def _compressor(algo: str) -> Any:
    from lingua_core.eval.sweep import parse_method
    from lingua_core.registry import get_compressor

    name, opts = parse_method(algo)
    comp = get_compressor(name, **opts)
    comp.warmup()
    return comp


def _run_algorithm(
    phase: Phase,
    inst: TaskInstance,
    algo: str,
    examples: list[QAExample],
    reader: Reader | None,
    cache: ResponseCache,
    done: set[tuple[Any, ...]],
    f: Any,
    summary: RunSummary,
    concurrency: int,
    bar: Any,
) -> None:
    from lingua_core.models import clear_models
    from lingua_core.result import join_results

    seeds = [None] if phase.seeds <= 1 else list(range(phase.seeds))
    jobs = [
        (ex, rate, seed)
        for ex in examples
        for rate in phase.rates
        for seed in seeds
        if (phase.name, inst.name, algo, float(rate), ex.id, seed) not in done
    ]
    if bar is not None:
        bar.update(len(examples) * len(phase.rates) * len(seeds) - len(jobs))
    if not jobs:
        return
    try:
        comp = _compressor(algo)
    except OSError as e:
        summary.skipped[algo] = (
            f'{e} (give the algorithm a local checkpoint: "{algo.split(":")[0]}:model=FOLDER")'
        )
        logger.warning("skipping %s: %s", algo, e)
        if bar is not None:
            bar.update(len(jobs))
        return
    ttype = inst.type
    pending = []
    for ex, rate, seed in jobs:
        t0 = time.perf_counter()
        kw = {"seed": seed} if seed is not None else {}
        res = comp.compress(list(ex.contexts), query=ex.question, rate=rate, **kw)
        context = join_results(res)
        original = sum(r.original_tokens for r in res)
        kept = sum(r.compressed_tokens for r in res)
        rec: dict[str, Any] = {
            "phase": phase.name,
            "task": inst.name,
            "task_type": ttype.name,
            "algorithm": algo,
            "method": algo,
            "rate": float(rate),
            "example": ex.id,
            "seed": seed,
            "original_tokens": original,
            "compressed_tokens": kept,
            "achieved_rate": kept / original if original else 1.0,
            "seconds": time.perf_counter() - t0,
        }
        if ttype.proxy is not None and ttype.proxy_metric is not None:
            rec[ttype.proxy_metric] = ttype.proxy(ex, context)
        pending.append((rec, ex, context))
    if reader is None:
        for rec, _, _ in pending:
            _write(f, rec, bar, summary)
    else:

        def answer(item: tuple[dict[str, Any], QAExample, str]) -> dict[str, Any]:
            rec, ex, context = item
            rec["reader"] = reader.name
            try:
                reply = cache.ask(reader, ttype.prompt(ex, context), ttype.max_tokens)
            except Exception as e:  # one failed call is recorded; the run goes on
                rec["error"] = f"{type(e).__name__}: {e}"
                return rec
            rec["reply"] = reply
            rec.update(ttype.score(ex, reply))
            return rec

        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            for rec in pool.map(answer, pending):
                if "error" in rec:
                    summary.reader_errors += 1
                _write(f, rec, bar, summary)
    del comp
    clear_models()


def _write(f: Any, rec: dict[str, Any], bar: Any, summary: RunSummary) -> None:
    f.write(json.dumps(rec) + "\n")
    f.flush()
    summary.written += 1
    if bar is not None:
        bar.update(1)
