"""Micro-batching: concurrent callers of one model share forward batches and in-flight work.

Scorers hand the rows they need scored (hashable token sequences) to the model's
:class:`MicroBatcher`. A row already being computed for another caller is not computed again:
the caller waits for that result. The first caller to find no batch forming becomes the
*leader*: it waits up to ``max_wait_ms`` for other callers to add rows, then computes every
pending row in one call (which the scorer splits into ``batch_tokens``-capped forwards on the
model's worker thread) and hands each caller its rows; a caller that arrives while a batch runs
joins the next one. The leader waits only while the model has callers at once (two callers'
work overlapped within the last :data:`CONCURRENCY_WINDOW_S`): a caller alone does not pay the
wait for batch-mates that are not coming. With ``max_wait_ms=0`` nobody waits, but identical
in-flight rows are still computed once. The results of the last ``keep`` rows stay at hand, so
a caller that asks for a row just finished for another (before that caller's own caches have it)
does not compute it again.

A failing batch is retried row by row, so one bad request (an out-of-memory row, say) fails
alone and its batch-mates get their results. Results do not depend on who shares a batch:
every row is scored on its own (right-padded, masked), as the scorers' batch tests check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import Any

from lingua_core._lru import LRU
from lingua_core.models.rows import current_call_rows, model_fingerprint, row_key

Compute = Callable[[Sequence[Any]], list[Any]]

#: Seconds after two callers' work last overlapped during which a leader still waits for
#: batch-mates (a caller alone, on an idle model, computes at once).
CONCURRENCY_WINDOW_S = 1.0


class MicroBatcher:
    """Merges concurrent requests for one model's rows into shared batches.

    Args:
        compute: Scores a list of rows; returns one result per row, in order.
        max_rows: Most rows one merged call takes (the rest wait for the next).
        keep: Results of this many recently computed rows kept for later callers (0: none).
    """

    def __init__(
        self,
        compute: Compute,
        *,
        max_rows: int = 4096,
        keep: int = 2048,
        kind: str = "rows",
        fingerprint: Callable[[], str] | None = None,
    ) -> None:
        self.compute = compute
        self.kind = kind
        self._fingerprint = fingerprint
        self.max_rows = max_rows
        self._done = LRU(keep)
        self._lock = threading.Lock()
        self._pending: dict[Hashable, Future[Any]] = {}  # waiting for a batch
        self._running: dict[Hashable, Future[Any]] = {}  # in the batch being computed
        self._leader = False
        self._overlap_at = float("-inf")  # when two callers' work last overlapped
        #: Rows computed, merged calls made, rows served from in-flight work and rows served
        #: from recent results (for tests and benchmarks).
        self.stats = {"rows": 0, "calls": 0, "shared": 0, "recent": 0}

    def score(self, rows: Sequence[Hashable], *, max_wait_ms: float = 2.0) -> list[Any]:
        """The results of ``rows`` (duplicates and rows in flight for others computed once).

        Rows that the call's stored scores or score cache hold
        (:func:`lingua_core.models.rows.current_call_rows`) are not computed.

        Raises:
            Exception: Whatever computing one of the caller's own rows raised.
        """
        ctx = current_call_rows()
        if ctx is None or self._fingerprint is None:
            return self._score(rows, max_wait_ms)
        fp = self._fingerprint()
        keys = [row_key(self.kind, r) for r in rows]
        found = ctx.lookup(fp, list(dict.fromkeys(keys)))
        todo = {k: r for k, r in zip(keys, rows) if k not in found}
        if todo:
            fresh = dict(zip(todo, self._score(list(todo.values()), max_wait_ms)))
            ctx.computed(fp, fresh)
            found.update(fresh)
        ctx.used(fp, found)
        return [found[k] for k in keys]

    def _score(self, rows: Sequence[Hashable], max_wait_ms: float) -> list[Any]:
        futures: list[Future[Any]] = []
        lead = False
        with self._lock:
            for row in rows:
                fut = self._running.get(row) or self._pending.get(row)
                if fut is None and row in self._done:
                    fut = Future()
                    fut.set_result(self._done.get(row))
                    self.stats["recent"] += 1
                elif fut is None:
                    fut = Future()
                    self._pending[row] = fut
                else:
                    self.stats["shared"] += 1
                futures.append(fut)
            if self._leader or self._running:
                self._overlap_at = time.monotonic()
            if self._pending and not self._leader:
                self._leader = lead = True
            alone = time.monotonic() - self._overlap_at > CONCURRENCY_WINDOW_S
        if lead:
            self._lead(0.0 if alone else max_wait_ms)
        return [f.result() for f in futures]

    def forget(self) -> None:
        """Drop the recent results (rows in flight are unaffected)."""
        with self._lock:
            self._done.clear()

    def _lead(self, max_wait_ms: float) -> None:
        try:
            if max_wait_ms > 0:
                time.sleep(max_wait_ms / 1000.0)  # let concurrent callers add their rows
            while True:
                with self._lock:
                    if not self._pending:
                        self._leader = False
                        return
                    keys = list(self._pending)[: self.max_rows]
                    batch = {k: self._pending.pop(k) for k in keys}
                    self._running.update(batch)
                try:
                    self._run(batch)
                finally:
                    with self._lock:
                        for k in batch:
                            self._running.pop(k, None)
        except BaseException:
            with self._lock:
                self._leader = False
            raise

    def _run(self, batch: dict[Hashable, Future[Any]]) -> None:
        keys = list(batch)
        self.stats["calls"] += 1
        try:
            results = self.compute(keys)
        except Exception as e:
            if len(keys) == 1:
                self.stats["rows"] += 1
                batch[keys[0]].set_exception(e)
                return
            for k in keys:  # one bad row must not fail its batch-mates
                self._run({k: batch[k]})
            return
        self.stats["rows"] += len(keys)
        for k, r in zip(keys, results):
            self._done[k] = r
            batch[k].set_result(r)


def batcher_for(loaded: Any, name: str, compute: Compute) -> MicroBatcher:
    """The model's batcher called ``name`` (created on first use with ``compute``).

    The part of ``name`` before the first ``:`` is the kind of its rows, in row keys: batchers
    whose names differ after it (a batch size) compute the same results.
    """
    facts = loaded.facts
    key = f"batcher:{name}"
    with _CREATE:
        if key not in facts:
            facts[key] = MicroBatcher(
                compute,
                kind=name.split(":")[0],
                fingerprint=lambda: model_fingerprint(loaded),
            )
    batcher: MicroBatcher = facts[key]
    return batcher


def batchers(loaded: Any) -> dict[str, MicroBatcher]:
    """The model's batchers by name (their ``stats`` count its forwards; ``forget`` clears them)."""
    return {
        k.removeprefix("batcher:"): v
        for k, v in list(loaded.facts.items())
        if isinstance(k, str) and k.startswith("batcher:")
    }


def forget_recent(loaded: Any) -> int:
    """Drop every batcher's recent results for ``loaded``; the rows they computed so far."""
    found = batchers(loaded).values()
    for b in found:
        b.forget()
    return sum(b.stats["rows"] for b in found)


_CREATE = threading.Lock()
