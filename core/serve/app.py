"""The HTTP service behind ``lingua serve``: the core's ``compress`` over JSON (FastAPI).

- ``POST /v1/compress`` takes ``{"texts": [...], "query": ..., "method": ..., "rate" |
  "target_tokens": ..., "options": {...}}`` (``Content-Type: application/json``) and returns
  ``{"results": [...], "usage": {...}}``, one result per text in input order, exactly what
  :meth:`Compressor.compress` returns. ``method`` omitted: the server's default; a method the
  server was not started with (``methods``) is refused, so no request makes it load a model.
  An optional ``X-Lingua-Deadline-Ms`` header shortens the request's deadline (``timeout_s``).
- ``GET /v1/methods`` lists the served methods; ``GET /health`` is 200 once every served method
  is warm (503 before), and answers during overload; ``GET /metrics`` has Prometheus counters.

What a request can get, never a 500 for bad input or a hang:

- 400: bad JSON (nesting included), a schema error, a bad option or a method not served, with
  the core's own message; 401: a missing or wrong ``Authorization: Bearer KEY`` when the server
  has a key (every route but ``/health``); 408: a body not received within ``body_timeout_s``;
  413: a body, text count or character count over its limit (the body is read in chunks and
  refused at the limit); 415: a body that is not ``application/json``; 421: a ``Host`` header
  that is not the server's own (``allowed_hosts``: DNS rebinding against a loopback service).
- 503 with ``Retry-After``: the server is warming up, or busy (:mod:`~lingua_core.serve.
  admission`): past ``max_concurrency`` requests in compression and a queue bounded by count
  and expected wait, or a request that could not finish before its deadline.
- 504: the deadline passed while it queued or ran; its work is cancelled
  (:mod:`lingua_core.pipeline.cancel`), as is the work of a request whose client disconnected
  (counted as status 499 in ``/metrics``).

Compression runs in an executor (:mod:`~lingua_core.serve.executor`): a worker process for
``lingua serve``, so that it never holds up the event loop, or threads of this process. One log
line per request (``lingua_core.serve`` logger): method, path, status, milliseconds, and for a
compression its method and tokens in and out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from lingua_core._deps import missing

try:  # this module is the app: ``pip install 'lingua-rag[serve]'``
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse
except ImportError as e:
    raise missing("fastapi") from e

from lingua_core.serve.admission import (
    Admission,
    Overloaded,
    Ticket,
    retry_after_header,
)
from lingua_core.serve.checks import (
    DEADLINE_HEADER,
    LOOPBACK_HOSTS,
    STATUSES,
    Guard,
    RequestChecks,
    RequestError,
)
from lingua_core.serve.engine import Engine, result_json, served_methods
from lingua_core.serve.executor import ProcessExecutor, ThreadExecutor, WorkerLost

logger = logging.getLogger("lingua_core.serve")


__all__ = ["LOOPBACK_HOSTS", "RequestError", "Service", "create_app", "result_json"]


def default_concurrency(device: str | None = None) -> int:
    """Requests in compression at once: a quarter of the CPU count (at least 1), 16 on a GPU.

    On a CPU one forward already uses every core (torch's intra-op threads), and requests at
    once only contend: measured on 2 cores under 40 clients (``benchmarks/serve_overload.py``),
    1 at a time served 10.3 requests/s with an admitted p99 of 2.5x the unloaded one, 2 at a
    time 9.1 requests/s at 6.5x. On a GPU, a forward batch of 65,536 tokens holds 16 requests
    of 20 passages, which concurrent requests' micro-batches fill.
    """
    if device is None:
        import sys

        torch = sys.modules.get("torch")
        device = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda"):
        return 16
    return max(1, (os.cpu_count() or 1) // 4)


class Service(RequestChecks):
    """The state behind the app: the engine's executor, limits, admission control, counters.

    Args:
        method: Default method of requests that name none (always served).
        methods: Methods requests may name (default: the controls ``bm25``,
            ``embeddings_filter``, ``sentence_embeddings``, ``random``, ``naive``, ``none``);
            their models load at start.
        max_texts: Most texts per request.
        max_chars: Most characters per request, all texts together.
        max_body: Most bytes of a request body.
        api_key: Bearer token every request but ``/health`` must carry (``None``: no auth).
        timeout_s: Seconds a request may take, queue included, before it fails with 504.
        instance: Name of this server in the ``X-Lingua-Instance`` response header and the
            log (default ``HOST:PID``; a Ray Serve replica gives its replica id).
        max_concurrency: Requests in compression at once (default
            :func:`default_concurrency`).
        max_queue: Requests waiting for a slot at once.
        max_queue_wait_s: Longest expected wait a request is queued for (longer: 503).
        executor: ``"thread"`` (compress in this process) or ``"process"`` (a worker process).
        body_timeout_s: Seconds to receive a request's body (408 after).
        allowed_hosts: ``Host`` names accepted (with any port); ``None``: any.
        worker_nice: The worker process's lower CPU priority (``"process"`` only).

    Raises:
        ValueError: For an unknown method, executor or an invalid limit.
    """

    def __init__(
        self,
        method: str | None = None,
        *,
        methods: Sequence[str] | None = None,
        max_texts: int = 512,
        max_chars: int = 2_000_000,
        max_body: int = 8_000_000,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        instance: str | None = None,
        max_concurrency: int | None = None,
        max_queue: int = 256,
        max_queue_wait_s: float = 0.25,
        executor: str = "thread",
        body_timeout_s: float = 10.0,
        allowed_hosts: Sequence[str] | None = None,
        worker_nice: int = 5,
    ) -> None:
        from lingua_core.registry import DEFAULT_METHOD

        if executor not in ("thread", "process"):
            msg = f"invalid executor {executor!r}; valid: thread, process"
            raise ValueError(msg)
        self.engine = Engine(method or DEFAULT_METHOD, methods)
        self.method = self.engine.method
        self.methods = served_methods(self.method, methods)
        self.max_texts, self.max_chars, self.max_body = max_texts, max_chars, max_body
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.body_timeout_s = body_timeout_s
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        concurrency = max_concurrency or default_concurrency()
        self.admission = Admission(concurrency, max_queue, max_queue_wait_s)
        self.executor_kind = executor
        self.worker_nice = worker_nice
        self.executor: Any = None
        #: Why the executor could not start (``None`` while it starts or once it has).
        self.start_error: str | None = None
        self.counts: Counter[tuple[str, str]] = Counter()
        self.cancelled: Counter[str] = Counter()
        self.tokens = Counter[str]()
        self.seconds = 0.0
        self._jobs = itertools.count(1)

    @property
    def ready(self) -> bool:
        """Whether every served method is warm (``/health`` is 200)."""
        return bool(self.executor is not None and self.executor.ready)

    def make_executor(self, warmup: bool = True) -> Any:
        """The executor this service runs its requests on (not started)."""
        threads = self.admission.max_concurrency
        if self.executor_kind == "process":
            return ProcessExecutor(
                self.method, self.methods, threads=threads, nice=self.worker_nice
            )
        return ThreadExecutor(self.engine, threads=threads, warmup=warmup)

    # ------------------------------------------------------------------ checks

    # ------------------------------------------------------------------ counters

    def label(self, method: str | None) -> str:
        """The ``/metrics`` label of a method: a served one's name, else ``unknown``."""
        return method if method in self.methods else "unknown"

    def count(self, method: str | None, status: int) -> None:
        """Count one answered request."""
        code = str(status)
        self.counts[(self.label(method), code if code in STATUSES else "other")] += 1

    def metrics(self) -> str:
        """Prometheus text exposition of the counters and gauges."""
        lines = ["# TYPE lingua_requests_total counter"]
        for (method, status), n in sorted(self.counts.items()):
            lines.append(
                f'lingua_requests_total{{method="{_escape(method)}",status="{status}"}} {n}'
            )
        lines.append("# TYPE lingua_cancelled_total counter")
        for reason in ("disconnected", "deadline"):
            lines.append(f'lingua_cancelled_total{{reason="{reason}"}} {self.cancelled[reason]}')
        adm = self.admission
        restarts = 0 if self.executor is None else self.executor.restarts
        lines += [
            "# TYPE lingua_tokens_in_total counter",
            f"lingua_tokens_in_total {self.tokens['in']}",
            "# TYPE lingua_tokens_out_total counter",
            f"lingua_tokens_out_total {self.tokens['out']}",
            "# TYPE lingua_request_seconds_total counter",
            f"lingua_request_seconds_total {self.seconds:.6f}",
            "# TYPE lingua_running gauge",
            f"lingua_running {len(adm.running)}",
            "# TYPE lingua_queued gauge",
            f"lingua_queued {len(adm.queue)}",
            "# TYPE lingua_expected_wait_seconds gauge",
            f"lingua_expected_wait_seconds {adm.expected_wait():.6f}",
            "# TYPE lingua_worker_restarts_total counter",
            f"lingua_worker_restarts_total {restarts}",
        ]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ one request

    async def handle(self, request: Request, note: dict[str, Any]) -> dict[str, Any]:
        """Admit, run and answer one compression request (``note`` collects its log fields).

        Raises:
            RequestError: For every refusal (see the module docstring).
        """
        deadline = self.deadline(request.headers.get(DEADLINE_HEADER))
        if not self.ready:
            raise RequestError(503, self.start_error or "warming up", {"Retry-After": "1"})
        req = self.parse(await self.read_body(request))
        method = note["method"] = self.method_of(req)
        req["method"] = method
        chars = sum(len(t) for t in req["texts"] if isinstance(t, str))
        watch = asyncio.ensure_future(_disconnected(request))
        try:
            t0 = time.monotonic()
            ticket = await self._admit(method, chars, deadline, watch)
            queued = time.monotonic() - t0
            out = await self._run(req, ticket, chars, deadline, watch)
            out["usage"]["queue_ms"] = round(queued * 1000, 3)
        finally:
            watch.cancel()
        return out

    async def _admit(
        self, method: str, chars: int, deadline: float, watch: asyncio.Future[None]
    ) -> Ticket:
        acquire = asyncio.ensure_future(self.admission.acquire(method, chars, deadline))
        waits: set[asyncio.Future[Any]] = {acquire, watch}
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if acquire not in done:
            acquire.cancel()
            with contextlib.suppress(asyncio.CancelledError, Overloaded, asyncio.TimeoutError):
                ticket = await acquire
                self.admission.release(ticket)  # admitted just as the client left
            self.cancelled["disconnected"] += 1
            raise RequestError(499, "client disconnected while queued")
        try:
            return acquire.result()
        except Overloaded as e:
            raise _busy(e) from None
        except asyncio.TimeoutError:
            self.cancelled["deadline"] += 1
            raise RequestError(504, "the request's deadline passed while it queued") from None

    async def _run(
        self,
        req: dict[str, Any],
        ticket: Ticket,
        chars: int,
        deadline: float,
        watch: asyncio.Future[None],
    ) -> dict[str, Any]:
        job = next(self._jobs)
        fut = self.executor.submit(job, req)

        def settle(f: asyncio.Future[tuple[str, Any, float]]) -> None:
            seconds = None
            if not f.cancelled() and f.exception() is None and f.result()[0] == "ok":
                seconds = f.result()[2]
            self.admission.release(ticket, seconds, chars)  # the slot frees when the work stops

        fut.add_done_callback(settle)
        timeout = max(0.0, deadline - time.monotonic())
        waits: set[asyncio.Future[Any]] = {fut, watch}
        done, _ = await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
        if fut not in done:
            gone = watch in done
            reason = "disconnected" if gone else "deadline"
            self.executor.cancel(job, "client disconnected" if gone else "deadline passed")
            self.cancelled[reason] += 1
            if gone:
                raise RequestError(499, "client disconnected")
            raise RequestError(504, f"the request's deadline ({self.timeout_s:g} s at most) passed")
        try:
            status, payload, seconds = fut.result()
        except WorkerLost as e:
            raise RequestError(503, str(e), {"Retry-After": "1"}) from None
        if status == "invalid":
            raise RequestError(400, str(payload))
        if status == "cancelled":
            raise RequestError(504, f"cancelled: {payload}")
        if status != "ok":
            raise RequestError(500, f"compression failed: {payload}")
        out: dict[str, Any] = payload
        out["usage"]["compute_ms"] = round(seconds * 1000, 3)
        return out


def _busy(e: Overloaded) -> RequestError:
    return RequestError(503, str(e), {"Retry-After": retry_after_header(e.retry_after)})


async def _disconnected(request: Request) -> None:
    """Return when the client of ``request`` (whose body was read) disconnects."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _escape(value: str) -> str:
    """A Prometheus label value, escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def create_app(service: Service | None = None, *, warmup: bool = True) -> Any:
    """The ASGI app of ``service`` (a default :class:`Service` if none).

    Args:
        service: What the app serves.
        warmup: Load and warm the served methods' models in the background at start-up
            (``/health`` is 503 until they are); ``False`` marks the service ready at once and
            loads models on first use (tests, and Ray Serve replicas that warmed already).
    """
    from contextlib import asynccontextmanager

    svc = service or Service()

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        if svc.executor is None:
            svc.executor = svc.make_executor(warmup)

        async def start() -> None:
            try:
                await svc.executor.start()
            except RuntimeError as e:  # a model that cannot load: say so, on /health too
                svc.start_error = str(e)
                logger.error("the service cannot start: %s", e)
                return
            for name, cost in svc.executor.costs.items():
                if name not in svc.admission.costs:
                    svc.admission.set_cost(name, cost)

        task = asyncio.create_task(start())
        if not warmup:
            await task
        yield
        if not task.done():
            task.cancel()
        await svc.executor.close()

    app = FastAPI(title="lingua-rag", lifespan=lifespan)
    app.state.service = svc

    @app.post("/v1/compress")
    async def compress(request: Request) -> Any:
        note = request.scope["state"].setdefault("lingua", {})
        t0 = time.perf_counter()
        try:
            out = await svc.handle(request, note)
        except RequestError as e:
            svc.count(note.get("method"), e.status)  # refused before its method is known: unknown
            note["error"] = str(e)
            return JSONResponse({"error": str(e)}, status_code=e.status, headers=e.headers)
        ms = (time.perf_counter() - t0) * 1000
        usage = out["usage"]
        usage["ms"] = round(ms, 3)
        svc.count(out["method"], 200)
        svc.tokens["in"] += usage["original_tokens"]
        svc.tokens["out"] += usage["compressed_tokens"]
        svc.seconds += ms / 1000
        note["tokens"] = (usage["original_tokens"], usage["compressed_tokens"])
        return out

    @app.get("/v1/methods")
    async def methods() -> Any:
        from lingua_core.registry import method_class

        return {
            "default": svc.method,
            "methods": {m: method_class(m).description for m in svc.methods},
        }

    @app.get("/health")
    async def health() -> Any:
        if svc.ready:
            return JSONResponse({"status": "ok"})
        if svc.start_error is not None:
            return JSONResponse({"status": "failed", "error": svc.start_error}, 503)
        return JSONResponse({"status": "warming up"}, 503, headers={"Retry-After": "1"})

    @app.get("/metrics")
    async def metrics() -> Any:
        return PlainTextResponse(svc.metrics())

    return Guard(app, svc)
