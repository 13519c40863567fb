"""Running a corpus job: checked rows in, resumable Parquet parts out, locally or on Ray Data.

``score_corpus(IN, OUT, method=...)`` stores each text's scores (:meth:`Compressor.score`, the
indexing step); ``compress_corpus(IN, OUT, method=..., rate=...)`` compresses each text. OUT is a
folder of Parquet files only (``part-*.parquet``), with the ``id`` column and ``scores`` (the
stored-scores string) or ``text`` (compressed), plus the stats as columns.

- The input is checked before any work: a row without an id or a text, or an id seen before,
  fails naming its line (JSONL, 1-based) or row (Parquet, 0-based).
- Runs resume: ids already in OUT are skipped. Every part file is written to a temporary name
  and renamed when complete, so a killed run leaves whole parts or none, and each id is written
  exactly once.
- ``engine="ray"`` maps batches over an actor pool (one compressor, so one model, per actor;
  ``num_gpus`` per actor when CUDA is there); the driver writes the parts as batches come back.
  ``engine="local"`` runs in this process. ``None``: Ray when it is installed.

    lingua corpus score IN OUT --method llmlingua2 [--engine ray|local] [--actors 2]
    lingua corpus compress IN OUT --method M --rate 0.33

(:mod:`lingua_core.corpus.cli` adds the command to ``lingua``).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingua_core._deps import require

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")
JOBS = ("score", "compress")


def read_rows(
    path: str | os.PathLike[str], id_column: str = "id", text_column: str = "text"
) -> list[tuple[str, str]]:
    """The ``(id, text)`` rows of a JSONL or Parquet file, checked.

    Raises:
        ValueError: For a missing or non-string id or text, or a duplicate id, naming the first
            offending line (JSONL) or row (Parquet); for another file type.
    """
    p = Path(path)
    if p.suffix in (".jsonl", ".json", ".gz"):
        import gzip

        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            records = [(i + 1, line) for i, line in enumerate(f) if line.strip()]
        where = "line"
        parsed: list[tuple[int, Any]] = []
        for n, line in records:
            try:
                parsed.append((n, json.loads(line)))
            except ValueError as e:
                msg = f"{p}: line {n} is not JSON ({e})"
                raise ValueError(msg) from None
    elif p.suffix == ".parquet":
        pq = require("pyarrow.parquet")
        table = pq.read_table(p)
        where = "row"
        parsed = list(enumerate(table.to_pylist()))
    else:
        msg = f"{p}: read .jsonl, .jsonl.gz or .parquet files, not {p.suffix or 'no suffix'!r}"
        raise ValueError(msg)
    seen: dict[str, int] = {}
    rows: list[tuple[str, str]] = []
    for n, rec in parsed:
        if not isinstance(rec, dict) or id_column not in rec or text_column not in rec:
            msg = f"{p}: {where} {n} has no {id_column!r} or no {text_column!r} column"
            raise ValueError(msg)
        rid, text = rec[id_column], rec[text_column]
        if rid is None or not isinstance(text, str):
            msg = f"{p}: {where} {n}: {id_column!r} must be set and {text_column!r} a string"
            raise ValueError(msg)
        key = str(rid)
        if key in seen:
            msg = f"{p}: {where} {n} repeats id {key!r} (first at {where} {seen[key]})"
            raise ValueError(msg)
        seen[key] = n
        rows.append((key, text))
    return rows


def done_ids(out: Path) -> set[str]:
    """Ids already written to ``out`` (complete parts only; leftovers of a killed run go)."""
    pq = require("pyarrow.parquet")
    ids: set[str] = set()
    if not out.exists():
        return ids
    for f in out.glob(".tmp-*"):
        f.unlink(missing_ok=True)
    for f in sorted(out.glob("part-*.parquet")):
        ids.update(str(x) for x in pq.read_table(f, columns=["id"]).column("id").to_pylist())
    return ids


def _write_part(out: Path, records: list[dict[str, Any]]) -> None:
    pa = require("pyarrow")
    pq = require("pyarrow.parquet")
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp = out / f".tmp-{name}"
    pq.write_table(pa.Table.from_pylist(records), tmp)
    os.replace(tmp, out / name)  # whole or absent: each id written exactly once


class _Worker:
    """One compressor (one model) applied to batches of ``{"id", "text"}``."""

    def __init__(self, job: str, method: str, options: dict[str, Any], rate: Any) -> None:
        from lingua_core.registry import get_compressor

        self.job, self.rate = job, rate
        self.comp = get_compressor(method, **options)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        ids, texts = [str(x) for x in batch["id"]], [str(x) for x in batch["text"]]
        if self.job == "score":
            from lingua_core.stored.scores import dumps

            strings = [dumps(p) for p in self.comp.score(texts)]
            return {"id": ids, "scores": strings, "scores_bytes": [len(s) for s in strings]}
        results = [self.comp.compress([t], rate=self.rate)[0] for t in texts]
        return {
            "id": ids,
            "text": [r.text for r in results],
            "original_tokens": [r.original_tokens for r in results],
            "compressed_tokens": [r.compressed_tokens for r in results],
        }


def _batches(rows: Sequence[tuple[str, str]], size: int) -> Iterator[dict[str, list[str]]]:
    for i in range(0, len(rows), size):
        part = rows[i : i + size]
        yield {"id": [r[0] for r in part], "text": [r[1] for r in part]}


def run_corpus(
    job: str,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    method: str,
    rate: Any = None,
    options: dict[str, Any] | None = None,
    engine: str | None = None,
    actors: int = 2,
    num_gpus: float | None = None,
    batch_size: int = 64,
    address: str | None = None,
    id_column: str = "id",
    text_column: str = "text",
    progress: bool = False,
) -> dict[str, Any]:
    """Score or compress every row of ``source`` into the Parquet folder ``out`` (resumable).

    Returns:
        ``{"rows", "skipped", "written", "engine"}``.

    Raises:
        ValueError: For an unknown job or engine, bad input rows, a method without stored
            scores for ``score``, or a missing rate for ``compress``.
    """
    from lingua_core.registry import method_class, resolve

    if job not in JOBS:
        msg = f"invalid job {job!r}; valid: {', '.join(JOBS)}"
        raise ValueError(msg)
    name = resolve(method)[0]
    if job == "score" and not method_class(name).stores_scores:
        msg = f"method {name!r} has no query-independent scores to store"
        raise ValueError(msg)
    if job == "compress" and rate is None:
        msg = "compress needs a rate (a number in (0, 1])"
        raise ValueError(msg)
    if engine is None:
        import importlib.util

        engine = "ray" if importlib.util.find_spec("ray") is not None else "local"
    if engine not in ENGINES:
        msg = f"invalid engine {engine!r}; valid: {', '.join(ENGINES)}"
        raise ValueError(msg)
    rows = read_rows(source, id_column, text_column)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    done = done_ids(folder)
    todo = [r for r in rows if r[0] not in done]
    bar = None
    if progress:
        tqdm = require("tqdm")
        bar = tqdm.tqdm(total=len(rows), initial=len(rows) - len(todo), unit="text")
    plan = _Plan(job, name, dict(options or {}), rate, batch_size, actors, num_gpus, address)
    written = 0
    batches = _run_ray if engine == "ray" else _run_local
    for result in batches(plan, todo):
        n = len(result["id"])
        _write_part(folder, [dict(zip(result, vals)) for vals in zip(*result.values())])
        written += n
        if bar is not None:
            bar.update(n)
    if bar is not None:
        bar.close()
    return {
        "rows": len(rows),
        "skipped": len(rows) - len(todo),
        "written": written,
        "engine": engine,
    }


@dataclass(frozen=True)
class _Plan:
    """What every batch of a run does, and where."""

    job: str
    method: str
    options: dict[str, Any]
    rate: Any
    batch_size: int
    actors: int
    num_gpus: float | None
    address: str | None


def _run_local(plan: _Plan, todo: list[tuple[str, str]]) -> Iterator[dict[str, list[Any]]]:
    if not todo:
        return
    worker = _Worker(plan.job, plan.method, plan.options, plan.rate)
    for batch in _batches(todo, plan.batch_size):
        yield worker(batch)


def _run_ray(plan: _Plan, todo: list[tuple[str, str]]) -> Iterator[dict[str, list[Any]]]:
    if not todo:
        return
    ray = require("ray")
    require("ray.data")
    if not ray.is_initialized():
        local: dict[str, Any] = {}
        if not plan.address:  # a local cluster, on loopback
            local = {"_node_ip_address": "127.0.0.1", "num_cpus": max(1, plan.actors)}
        ray.init(
            address=plan.address, include_dashboard=False, logging_level=logging.WARNING, **local
        )
    num_gpus = plan.num_gpus
    if num_gpus is None:
        num_gpus = 1.0 if _cuda() else 0.0
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in todo])
    mapped = ds.map_batches(
        _Worker,
        fn_constructor_args=(plan.job, plan.method, plan.options, plan.rate),
        batch_size=plan.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=max(1, plan.actors)),
        num_gpus=num_gpus,
        num_cpus=1,
    )
    for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
        yield {k: [x.item() if hasattr(x, "item") else x for x in v] for k, v in batch.items()}


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def score_corpus(
    source: str | os.PathLike[str], out: str | os.PathLike[str], **kwargs: Any
) -> dict[str, Any]:
    """Stored scores of every row (see :func:`run_corpus`)."""
    return run_corpus("score", source, out, **kwargs)


def compress_corpus(
    source: str | os.PathLike[str], out: str | os.PathLike[str], **kwargs: Any
) -> dict[str, Any]:
    """Compressed text of every row (see :func:`run_corpus`)."""
    return run_corpus("compress", source, out, **kwargs)
