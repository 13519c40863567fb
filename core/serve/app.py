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
  (:mod:`lingua_core.cancel`), as is the work of a request whose client disconnected (counted as
  status 499 in ``/metrics``).

Compression runs in an executor (:mod:`~lingua_core.serve.executor`): a worker process for
``lingua serve``, so that it never holds up the event loop, or threads of this process. One log
line per request (``lingua_core.serve`` logger): method, path, status, milliseconds, and for a
compression its method and tokens in and out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from lingua_core._deps import require

require("fastapi")  # this module is the app: ``pip install 'lingua-rag[serve]'``

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, PlainTextResponse  # noqa: E402

from lingua_core.serve.admission import (  # noqa: E402
    Admission,
    Overloaded,
    Ticket,
    retry_after_header,
)
from lingua_core.serve.engine import Engine, result_json, served_methods  # noqa: E402
from lingua_core.serve.executor import ProcessExecutor, ThreadExecutor, WorkerLost  # noqa: E402

logger = logging.getLogger("lingua_core.serve")

_FIELDS = ("texts", "query", "method", "rate", "target_tokens", "options")
#: Statuses ``/metrics`` counts (499: the client disconnected before its answer).
STATUSES = ("200", "400", "401", "408", "413", "415", "421", "499", "500", "503", "504")
#: Host names a loopback server accepts when it has no API key.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
#: The header that shortens a request's deadline (milliseconds from its arrival).
DEADLINE_HEADER = "x-lingua-deadline-ms"
_MAX_DEPTH = 16

__all__ = ["LOOPBACK_HOSTS", "RequestError", "Service", "create_app", "result_json"]


class RequestError(ValueError):
    """A request the service refuses, with its HTTP status (and extra response headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


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


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value (stops counting past ``limit``)."""
    if limit <= 0:
        return 1
    if isinstance(value, dict):
        return 1 + max((_depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v, limit - 1) for v in value), default=0)
    return 0


class Service:
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

    def authorize(self, header: str | None) -> None:
        """Check the bearer token (the scheme is case-insensitive and required).

        Raises:
            RequestError: 401 for a missing or wrong token.
        """
        if self.api_key is None:
            return
        scheme, _, given = (header or "").strip().partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "surrogatepass"),
            self.api_key.encode("utf-8", "surrogatepass"),
        )
        if not ok:
            msg = "missing or wrong API key (Authorization: Bearer KEY)"
            raise RequestError(401, msg, {"WWW-Authenticate": "Bearer"})

    def check_host(self, host: str | None) -> None:
        """Refuse a ``Host`` header that is not one of :attr:`allowed_hosts`.

        Raises:
            RequestError: 421 for another host.
        """
        if self.allowed_hosts is None:
            return
        value = (host or "").strip().lower()
        name = value.rsplit(":", 1)[0] if value.count(":") == 1 or "]:" in value else value
        if name not in self.allowed_hosts:
            msg = (
                f"Host {value[:100]!r} is not served here; allowed: "
                f"{', '.join(sorted(self.allowed_hosts))}"
            )
            raise RequestError(421, msg)

    def deadline(self, header: str | None) -> float:
        """``time.monotonic()`` by which a request arriving now must finish.

        Raises:
            RequestError: 400 for a deadline header that is not a positive number.
        """
        seconds = self.timeout_s
        if header is not None:
            try:
                ms = float(header)
            except ValueError:
                ms = float("nan")
            if not ms > 0 or ms == float("inf"):
                msg = f"{DEADLINE_HEADER} must be a positive number of milliseconds"
                raise RequestError(400, msg)
            seconds = min(seconds, ms / 1000)
        return time.monotonic() + seconds

    async def read_body(self, request: Request) -> bytes:
        """The body, read in chunks up to :attr:`max_body` within :attr:`body_timeout_s`.

        Raises:
            RequestError: 413 past the limit (before reading it when the length is declared),
                408 when it does not arrive in time, 415 for another content type, 499 when the
                client disconnects.
        """
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            msg = f"Content-Type must be application/json, got {ctype[:60]!r}"
            raise RequestError(415, msg)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise RequestError(413, f"request body over {self.max_body} bytes")
        buf = bytearray()

        async def read() -> None:
            async for chunk in request.stream():
                buf.extend(chunk)
                if len(buf) > self.max_body:
                    raise RequestError(413, f"request body over {self.max_body} bytes")

        from starlette.requests import ClientDisconnect

        try:
            await asyncio.wait_for(read(), self.body_timeout_s)
        except asyncio.TimeoutError:
            msg = f"request body not received within {self.body_timeout_s:g} s"
            raise RequestError(408, msg) from None
        except ClientDisconnect:
            raise RequestError(499, "client disconnected while sending") from None
        return bytes(buf)

    def parse(self, body: bytes) -> dict[str, Any]:
        """The request's fields, checked against the schema and the limits.

        Raises:
            RequestError: 400 for bad JSON or a schema error, 413 past a limit.
        """
        if len(body) > self.max_body:
            raise RequestError(413, f"request body over {self.max_body} bytes")
        try:
            req = json.loads(body)
        except RecursionError:
            raise RequestError(400, "invalid JSON: nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise RequestError(400, f"invalid JSON: {e}") from None
        if not isinstance(req, dict):
            raise RequestError(400, "the request must be a JSON object")
        if _depth(req, _MAX_DEPTH + 1) > _MAX_DEPTH:
            raise RequestError(400, f"invalid JSON: nested deeper than {_MAX_DEPTH} levels")
        unknown = sorted(set(req) - set(_FIELDS))
        if unknown:
            shown = [str(u)[:40] for u in unknown[:5]]
            raise RequestError(400, f"unknown fields {shown}; valid: {', '.join(_FIELDS)}")
        texts = req.get("texts")
        if not isinstance(texts, list):
            raise RequestError(400, "'texts' must be a list of strings")
        if len(texts) > self.max_texts:
            raise RequestError(413, f"{len(texts)} texts; at most {self.max_texts} per request")
        chars = sum(len(t) for t in texts if isinstance(t, str))
        if chars > self.max_chars:
            raise RequestError(413, f"{chars} characters; at most {self.max_chars} per request")
        if not isinstance(req.get("options", {}), dict):
            raise RequestError(400, "'options' must be an object")
        if req.get("method") is not None and not isinstance(req["method"], str):
            raise RequestError(400, "'method' must be a string")
        return req

    def method_of(self, req: dict[str, Any]) -> str:
        """The canonical method of a parsed request.

        Raises:
            RequestError: 400 for an unknown method or one not served here.
        """
        try:
            return self.engine.canonical(req.get("method"))
        except (ValueError, TypeError) as e:
            raise RequestError(400, str(e)) from None

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


class _Guard:
    """Pure ASGI middleware: host check, auth, the instance header, one log line per request.

    (Starlette's ``BaseHTTPMiddleware`` would hide a client's disconnect from the route.)
    """

    def __init__(self, app: Any, svc: Service) -> None:
        self.app, self.svc = app, svc
        self.state = app.state  # as FastAPI's: ``create_app(...).state.service``

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        note: dict[str, Any] = {"status": 500}
        scope.setdefault("state", {})["lingua"] = note
        instance = self.svc.instance.encode("latin-1", "replace")

        async def send_named(message: Any) -> None:
            if message["type"] == "http.response.start":
                note["status"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-lingua-instance", instance)]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            self.svc.check_host(headers.get("host"))
            if scope["path"] != "/health":
                self.svc.authorize(headers.get("authorization"))
        except RequestError as e:
            self.svc.count(None, e.status)
            response = JSONResponse({"error": str(e)}, e.status, headers=e.headers)
            await response(scope, receive, send_named)
        else:
            await self.app(scope, receive, send_named)
        ms = (time.perf_counter() - t0) * 1000
        extra = ""
        if "tokens" in note:
            extra = f" {note.get('method')} {note['tokens'][0]} -> {note['tokens'][1]} tokens"
        elif note.get("error"):
            extra = f" {note['error'][:200]}"
        logger.info(
            "%s %s %s %d %.1f ms%s",
            scope.get("client", ("-",))[0] if scope.get("client") else "-",
            scope["method"],
            scope["path"],
            note["status"],
            ms,
            extra,
        )


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

    return _Guard(app, svc)
