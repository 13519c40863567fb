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
alone and its batch-mates get their results. A caller whose call is cancelled
(:mod:`lingua_core.pipeline.cancel`: its client left, its deadline passed) withdraws its pending
rows that no other caller wants, and the merged computation takes at most ``max_rows`` rows, so the
rows of a cancelled call stop being computed after the running chunk. Results do not depend on who
shares a batch: every row is scored on its own (right-padded, masked), as the scorers' batch
tests check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, wait
from typing import Any

from lingua_core.models._lru import LRU
from lingua_core.pipeline.cancel import CancelToken, current_token
from lingua_core.stored.rows import current_call_rows, model_fingerprint, row_key

Compute = Callable[[Sequence[Any]], list[Any]]

#: Seconds after two callers' work last overlapped during which a leader still waits for
#: batch-mates (a caller alone, on an idle model, computes at once).
CONCURRENCY_WINDOW_S = 1.0
#: Seconds a waiting caller sleeps between looks at its cancel token and at a batch nobody leads.
POLL_S = 0.05
_MISSING = object()


class MicroBatcher:
    """Merges concurrent requests for one model's rows into shared batches.

    Every wait has a way out: a caller waits on its rows' futures in short slices, and between
    them it takes over the leadership of a batch nobody leads (a leader that left, a leader that
    was cancelled), withdraws its rows when its call is cancelled
    (:mod:`lingua_core.pipeline.cancel`), and finds each of its futures settled once a batch ends,
    with a result or an error, even when the batch's computation broke its contract.

    Args:
        compute: Scores a list of rows; returns one result per row, in order.
        max_rows: Most rows one merged computation takes (the rest wait for the next): the
            granularity at which a cancelled caller's rows stop being computed.
        keep: Results of this many recently computed rows kept for later callers (0: none).
        kind: The kind of its rows, in row keys (stored scores, the score cache).
        fingerprint: The model fingerprint the row keys are stored under.
    """

    def __init__(
        self,
        compute: Compute,
        *,
        max_rows: int = 256,
        keep: int = 2048,
        kind: str = "rows",
        fingerprint: Callable[[], str] | None = None,
    ) -> None:
        self.compute = compute
        self.kind = kind
        self._fingerprint = fingerprint
        self.max_rows = max(1, int(max_rows))
        self._done = LRU(keep)
        self._lock = threading.Lock()
        self._pending: dict[Hashable, Future[Any]] = {}  # waiting for a batch
        self._wanted: dict[Hashable, int] = {}  # callers waiting for each pending row
        self._running: dict[Hashable, Future[Any]] = {}  # in the batch being computed
        self._leader = False
        self._overlap_at = float("-inf")  # when two callers' work last overlapped
        #: Rows computed, merged calls made, rows served from in-flight work, rows served from
        #: recent results and rows withdrawn by cancelled callers (for tests and benchmarks).
        self.stats = {"rows": 0, "calls": 0, "shared": 0, "recent": 0, "withdrawn": 0}

    def score(self, rows: Sequence[Hashable], *, max_wait_ms: float = 2.0) -> list[Any]:
        """The results of ``rows`` (duplicates and rows in flight for others computed once).

        Rows that the call's stored scores or score cache hold
        (:func:`lingua_core.stored.rows.current_call_rows`) are not computed.

        Raises:
            Cancelled: When the call's cancel token is set before its rows are computed.
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
        token = current_token()
        if token is not None:
            token.raise_if_cancelled()
        futures: list[Future[Any]] = []
        mine: list[Hashable] = []  # pending rows this caller waits for (withdrawn if cancelled)
        with self._lock:
            for row in rows:
                fut = self._running.get(row) or self._pending.get(row)
                if fut is None:
                    hit = self._done.get(row, _MISSING)
                    if hit is not _MISSING:
                        fut = Future()
                        fut.set_result(hit)
                        self.stats["recent"] += 1
                    else:
                        fut = Future()
                        self._pending[row] = fut
                else:
                    self.stats["shared"] += 1
                if self._pending.get(row) is fut:
                    self._wanted[row] = self._wanted.get(row, 0) + 1
                    mine.append(row)
                futures.append(fut)
            if self._leader or self._running:
                self._overlap_at = time.monotonic()
            lead = bool(self._pending) and not self._leader
            if lead:
                self._leader = True
            alone = time.monotonic() - self._overlap_at > CONCURRENCY_WINDOW_S
        if lead:
            self._lead(0.0 if alone else max_wait_ms, token)
        self._wait(futures, mine, token)
        return [f.result() for f in futures]

    def _wait(
        self, futures: list[Future[Any]], mine: list[Hashable], token: CancelToken | None
    ) -> None:
        """Wait for ``futures``, leading an unled batch and leaving when cancelled."""
        while True:
            if token is not None and token.cancelled:
                self._withdraw(mine)
                token.raise_if_cancelled()
            open_ = [f for f in futures if not f.done()]
            if not open_:
                return
            with self._lock:
                take = bool(self._pending) and not self._leader
                if take:
                    self._leader = True
            if take:
                self._lead(0.0, token)
                continue
            wait(open_, timeout=POLL_S)

    def _withdraw(self, rows: list[Hashable]) -> None:
        """Remove a cancelled caller's pending rows that no other caller waits for."""
        with self._lock:
            for row in rows:
                n = self._wanted.get(row, 0) - 1
                if n > 0:
                    self._wanted[row] = n
                    continue
                self._wanted.pop(row, None)
                fut = self._pending.pop(row, None)
                if fut is not None:
                    fut.cancel()
                    self.stats["withdrawn"] += 1

    def forget(self) -> None:
        """Drop the recent results (rows in flight are unaffected)."""
        with self._lock:
            self._done.clear()

    def _lead(self, max_wait_ms: float, token: CancelToken | None) -> None:
        """Compute pending rows, ``max_rows`` at a time, until none are left.

        A leader whose own call is cancelled stops after its running chunk; another waiting
        caller then takes over.
        """
        try:
            if max_wait_ms > 0:
                time.sleep(max_wait_ms / 1000.0)  # let concurrent callers add their rows
            while token is None or not token.cancelled:
                with self._lock:
                    if not self._pending:
                        return
                    keys = list(self._pending)[: self.max_rows]
                    batch = {k: self._pending.pop(k) for k in keys}
                    for k in keys:
                        self._wanted.pop(k, None)
                    self._running.update(batch)
                try:
                    self._run(batch)
                finally:
                    with self._lock:
                        for k in batch:
                            self._running.pop(k, None)
                    for k, fut in batch.items():  # a broken compute must not strand a waiter
                        if not fut.done():
                            fut.set_exception(RuntimeError(f"row {k!r} got no result"))
        finally:
            with self._lock:
                self._leader = False

    def _run(self, batch: dict[Hashable, Future[Any]]) -> None:
        keys = list(batch)
        self.stats["calls"] += 1
        try:
            results = self.compute(keys)
            if len(results) != len(keys):
                msg = f"the batch computed {len(results)} results for {len(keys)} rows"
                raise RuntimeError(msg)
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
