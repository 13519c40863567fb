"""Where a served request's compression runs: worker threads, or a worker process.

Both executors take a job (a parsed request) from the event loop and give back an
``asyncio.Future`` of its response; :meth:`cancel` stops a job whose client left or whose
deadline passed (:mod:`lingua_core.pipeline.cancel`: its rows that no other job shares are withdrawn
from the model's micro-batcher; rows in a running forward finish, nothing runs after them).

- :class:`ProcessExecutor` (``lingua serve``'s default) runs the :class:`Engine` in a child
  process, with one thread per admitted job, so concurrent jobs still share forward batches.
  Compression holds the GIL for much of its time (tokenizers, NumPy, selection); in the server's
  process it starved the event loop, and refusals and ``/health`` waited behind it. In a child
  process, with a lower CPU priority (``nice``), the event loop answers at once whatever the load.
  A child that dies fails its jobs with :class:`WorkerLost` and is started again.
- :class:`ThreadExecutor` runs the engine in the calling process (Ray Serve replicas, whose
  proxy sheds load; tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lingua_core.pipeline.cancel import Cancelled, CancelToken, cancel_scope

logger = logging.getLogger("lingua_core.serve")


class WorkerLost(RuntimeError):
    """The worker process died (killed, out of memory) while the job was in it."""


class JobError(Exception):
    """A job failed in the engine: ``kind`` is ``"invalid"`` (a 400) or ``"internal"``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _run_job(engine: Any, req: dict[str, Any], token: CancelToken) -> tuple[str, Any, float]:
    """Run one job: ``(status, payload, seconds)``.

    The status is ``ok``, ``invalid`` (a 400), ``cancelled`` or ``internal``.
    """
    t0 = time.perf_counter()
    try:
        with cancel_scope(token):
            out: tuple[str, Any] = ("ok", engine.compress(req))
    except Cancelled as e:
        out = ("cancelled", str(e))
    except (ValueError, TypeError) as e:
        out = ("invalid", str(e))
    except Exception as e:  # reported to the caller as a 500 with its type, and logged
        logger.exception("compression failed")
        out = ("internal", f"{type(e).__name__}: {e}")
    return out[0], out[1], time.perf_counter() - t0


class ThreadExecutor:
    """Jobs on threads of this process.

    Args:
        engine: The :class:`~lingua_core.serve.engine.Engine` that runs them.
        threads: Jobs at once (the admission control keeps to it).
        warmup: Load and warm the engine's methods in :meth:`start`.
    """

    def __init__(self, engine: Any, *, threads: int, warmup: bool = True) -> None:
        self.engine = engine
        self.warm = warmup
        self.ready = False
        self.costs: dict[str, tuple[float, float]] = {}
        self.restarts = 0
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="lingua-job")
        self._tokens: dict[int, CancelToken] = {}

    async def start(self) -> None:
        """Warm the engine (in a thread); :attr:`ready` afterwards.

        Raises:
            RuntimeError: When a served method cannot load (its message).
        """
        if self.warm:
            try:
                self.costs = await asyncio.get_running_loop().run_in_executor(
                    self._pool, self.engine.warmup
                )
            except Exception as e:
                msg = f"the engine could not start: {type(e).__name__}: {e}"
                raise RuntimeError(msg) from e
        else:
            self.costs = dict(self.engine.costs)  # warmed by its owner, or measured as it runs
        self.ready = True

    def submit(self, job: int, req: dict[str, Any]) -> asyncio.Future[tuple[str, Any, float]]:
        """Start ``req``; the future gives ``(status, payload, seconds)``."""
        token = self._tokens[job] = CancelToken()
        fut = asyncio.get_running_loop().run_in_executor(
            self._pool, _run_job, self.engine, req, token
        )
        fut.add_done_callback(lambda _: self._tokens.pop(job, None))
        return fut

    def cancel(self, job: int, reason: str) -> None:
        """Cancel a running job (its thread raises :class:`Cancelled` where it next waits)."""
        token = self._tokens.get(job)
        if token is not None:
            token.cancel(reason)

    async def close(self) -> None:
        """Cancel what runs and stop the threads."""
        for token in list(self._tokens.values()):
            token.cancel("server shutting down")
        self._pool.shutdown(wait=False, cancel_futures=True)


# ----------------------------------------------------------------------------- worker process


def _limit_malloc_arenas(arenas: int) -> None:
    """Cap glibc's malloc arenas (a no-op elsewhere).

    By default each thread that allocates may get an arena of its own (up to 8 per core), and
    a worker's job threads keep the freed memory of each.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).mallopt(-8, arenas)  # M_ARENA_MAX


def worker_main(conn: Any, method: str, methods: list[str], threads: int, nice: int) -> None:
    """The worker process: warm the engine, then run jobs from ``conn`` until told to stop.

    Messages in: ``("run", job, request)``, ``("cancel", job, reason)``, ``("stop",)``.
    Messages out: ``("ready", costs)``, ``("done", job, status, payload, seconds)``,
    ``("failed", message)`` when the engine cannot start.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its worker itself
    _limit_malloc_arenas(2)
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    from lingua_core.serve.engine import Engine

    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock, contextlib.suppress(OSError, ValueError):
            conn.send(msg)

    try:
        engine = Engine(method, methods)
        costs = engine.warmup()
    except Exception as e:
        send(("failed", f"{type(e).__name__}: {e}"))
        return
    send(("ready", costs))
    tokens: dict[int, CancelToken] = {}
    pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="lingua-job")

    def job(job_id: int, req: dict[str, Any], token: CancelToken) -> None:
        try:
            status, payload, seconds = _run_job(engine, req, token)
        finally:
            tokens.pop(job_id, None)
        send(("done", job_id, status, payload, seconds))

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg[0] == "run":
            token = tokens[msg[1]] = CancelToken()
            pool.submit(job, msg[1], msg[2], token)
        elif msg[0] == "cancel":
            found = tokens.get(msg[1])
            if found is not None:
                found.cancel(msg[2])
        elif msg[0] == "stop":
            break
    pool.shutdown(wait=True)


class ProcessExecutor:
    """Jobs in a child process (see the module docstring).

    Args:
        method: Default method.
        methods: Served methods (:func:`~lingua_core.serve.engine.served_methods`).
        threads: Jobs at once in the child (the admission control keeps to it).
        nice: How much lower the child's CPU priority is than the server's (0: the same).
        start_timeout_s: Seconds the child may take to load and warm its models.
    """

    def __init__(
        self,
        method: str,
        methods: list[str],
        *,
        threads: int,
        nice: int = 5,
        start_timeout_s: float = 600.0,
    ) -> None:
        self.method, self.methods = method, list(methods)
        self.threads, self.nice = max(1, threads), nice
        self.start_timeout_s = start_timeout_s
        self.ready = False
        self.costs: dict[str, tuple[float, float]] = {}
        self.restarts = 0
        self._proc: Any = None
        self._conn: Any = None
        self._send_lock = threading.Lock()
        self._jobs: dict[int, asyncio.Future[tuple[str, Any, float]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._gen = 0  # which child the reader threads report on
        self._ready_event: asyncio.Event | None = None
        self._failed: str | None = None

    def _started_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            msg = "the executor is not started: await start() first"
            raise RuntimeError(msg)
        return self._loop

    @property
    def pid(self) -> int | None:
        """The worker process's id (``None`` before it starts)."""
        return None if self._proc is None else int(self._proc.pid)

    async def start(self) -> None:
        """Start the child and wait until its models are warm.

        Raises:
            RuntimeError: When the child cannot load its models (its message) or takes longer
                than ``start_timeout_s``.
        """
        self._loop = asyncio.get_running_loop()
        await self._spawn()

    async def _spawn(self) -> None:
        import multiprocessing

        loop = self._started_loop()
        ctx = multiprocessing.get_context("spawn")  # no fork after threads (and torch) started
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=worker_main,
            args=(child, self.method, self.methods, self.threads, self.nice),
            name="lingua-worker",
            daemon=True,
        )
        self.ready = False
        self._ready_event = asyncio.Event()
        self._failed = None
        await loop.run_in_executor(None, proc.start)
        child.close()
        self._proc, self._conn = proc, parent
        self._gen += 1
        gen = self._gen
        threading.Thread(
            target=self._reader, args=(parent, proc, gen), name="lingua-worker-reader", daemon=True
        ).start()
        try:
            await asyncio.wait_for(self._ready_event.wait(), self.start_timeout_s)
        except asyncio.TimeoutError:
            proc.kill()
            msg = f"the worker did not warm its models in {self.start_timeout_s} s"
            raise RuntimeError(msg) from None
        if self._failed is not None:
            msg = f"the worker could not start: {self._failed}"
            raise RuntimeError(msg)

    def _reader(self, conn: Any, proc: Any, gen: int) -> None:
        """Thread: hand the child's messages to the event loop; notice when it dies."""
        loop = self._started_loop()
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            with contextlib.suppress(RuntimeError):  # the loop closed: the server stopped
                loop.call_soon_threadsafe(self._on_message, msg)
        proc.join(5)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._on_lost, gen, proc.exitcode)

    def _on_message(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "ready":
            self.costs = {k: tuple(v) for k, v in msg[1].items()}
            self.ready = True
        elif kind == "failed":
            self._failed = str(msg[1])
        elif kind == "done":
            fut = self._jobs.pop(msg[1], None)
            if fut is not None and not fut.done():
                fut.set_result((msg[2], msg[3], float(msg[4])))
        if kind in ("ready", "failed") and self._ready_event is not None:
            self._ready_event.set()

    def _on_lost(self, gen: int, exitcode: Any) -> None:
        if self._ready_event is not None:
            self._ready_event.set()  # a child that died while warming up
        if self._closing or gen != self._gen:
            return
        self.ready = False
        jobs, self._jobs = self._jobs, {}
        for fut in jobs.values():
            if not fut.done():
                fut.set_exception(WorkerLost(f"the worker process exited ({exitcode})"))
        if self._failed is not None:
            logger.error("the worker could not start: %s", self._failed)
            return
        self.restarts += 1
        logger.error("the worker process exited (%s); starting a new one", exitcode)
        loop = self._started_loop()
        loop.create_task(self._respawn())

    async def _respawn(self) -> None:
        try:
            await self._spawn()
        except RuntimeError:
            logger.exception("the worker could not be started again")

    def _send(self, msg: tuple[Any, ...]) -> None:
        with self._send_lock:
            self._conn.send(msg)

    def submit(self, job: int, req: dict[str, Any]) -> asyncio.Future[tuple[str, Any, float]]:
        """Send ``req`` to the child; the future gives ``(status, payload, seconds)``.

        Raises:
            WorkerLost: (through the future) when the child dies before answering.
        """
        loop = self._started_loop()
        fut: asyncio.Future[tuple[str, Any, float]] = loop.create_future()
        if not self.ready or self._conn is None:
            fut.set_exception(WorkerLost("the worker process is starting"))
            return fut
        self._jobs[job] = fut
        try:
            self._send(("run", job, req))
        except (OSError, ValueError) as e:
            self._jobs.pop(job, None)
            fut.set_exception(WorkerLost(f"the worker process is gone: {e}"))
        return fut

    def cancel(self, job: int, reason: str) -> None:
        """Cancel a job in the child (it answers ``cancelled`` once its thread stops)."""
        if job in self._jobs and self._conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self._send(("cancel", job, reason))

    async def close(self, timeout_s: float = 30.0) -> None:
        """Let the child finish its jobs and exit (killed after ``timeout_s``)."""
        self._closing = True
        proc = self._proc
        if proc is None:
            return
        if not self.ready:  # still loading its models: nothing to finish
            proc.terminate()
        with contextlib.suppress(OSError, ValueError):
            self._send(("stop",))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, proc.join, timeout_s)
        if proc.is_alive():
            proc.kill()
            await loop.run_in_executor(None, proc.join, 5)
