"""The HTTP service behind ``lingua serve``: the core's ``compress`` over JSON (FastAPI).

- ``POST /v1/compress`` takes ``{"texts": [...], "query": ..., "method": ..., "rate" |
  "target_tokens": ..., "options": {...}}`` and returns ``{"results": [...], "usage": {...}}``,
  one result per text in input order, exactly what :meth:`Compressor.compress` returns.
  ``method`` omitted: the server's default.
- ``GET /v1/methods`` lists the methods; ``GET /health`` is 200 once the default method is
  warmed up (503 before); ``GET /metrics`` has Prometheus-style counters.

Every invalid request (bad JSON, a schema error, a bad option, a rate out of range) gets 400 with
the core's own message; more than ``max_texts`` texts, ``max_chars`` characters or ``max_body``
bytes, 413; with an API key, a missing or wrong bearer token, 401; a call that runs past
``timeout_s``, 504. Compression runs in worker threads, where concurrent calls on one model
share forward batches (:mod:`lingua_core.models.batcher`). One log line per request (method,
tokens in and out, milliseconds).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict
from typing import Any

from lingua_core._deps import require

require("fastapi")  # this module is the app: ``pip install 'lingua-rag[serve]'``

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, PlainTextResponse  # noqa: E402

logger = logging.getLogger("lingua_core.serve")

_FIELDS = ("texts", "query", "method", "rate", "target_tokens", "options")


class RequestError(ValueError):
    """A request the service refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def result_json(result: Any) -> dict[str, Any]:
    """One :class:`~lingua_core.result.CompressionResult` as the service returns it."""
    out = asdict(result)
    out.pop("original_text", None)
    out["spans"] = [list(s) for s in result.spans]
    return out


class Service:
    """The state behind the app: compressors by method, limits, counters.

    Args:
        method: Default method of requests that name none.
        max_texts: Most texts per request.
        max_chars: Most characters per request, all texts together.
        max_body: Most bytes of a request body.
        api_key: Bearer token every request must carry (``None``: no auth).
        timeout_s: Seconds a compression may take before the request fails with 504.
        instance: Name of this server in the ``X-Lingua-Instance`` response header and the
            log (default ``HOST:PID``; a Ray Serve replica gives its replica id).
    """

    def __init__(
        self,
        method: str | None = None,
        *,
        max_texts: int = 512,
        max_chars: int = 2_000_000,
        max_body: int = 8_000_000,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        instance: str | None = None,
    ) -> None:
        from lingua_core.registry import DEFAULT_METHOD, resolve

        self.method = resolve(method or DEFAULT_METHOD)[0]
        self.max_texts, self.max_chars, self.max_body = max_texts, max_chars, max_body
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.ready = False
        self._compressors: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.tokens = Counter[str]()
        self.seconds = 0.0

    def compressor(self, method: str) -> Any:
        """The shared compressor of ``method`` (built on first use)."""
        from lingua_core.registry import get_compressor, resolve

        name = resolve(method)[0]
        with self._lock:
            if name not in self._compressors:
                self._compressors[name] = get_compressor(name)
            return self._compressors[name]

    def warmup(self) -> None:
        """Load the default method's model; ``/health`` is ready afterwards."""
        self.compressor(self.method).warmup()
        self.ready = True

    def authorize(self, header: str | None) -> None:
        """Check the bearer token.

        Raises:
            RequestError: 401 for a missing or wrong token.
        """
        if self.api_key is None:
            return
        given = (header or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise RequestError(401, "missing or wrong API key (Authorization: Bearer KEY)")

    def parse(self, body: bytes) -> dict[str, Any]:
        """The request's fields, checked against the schema and the limits.

        Raises:
            RequestError: 400 for bad JSON or a schema error, 413 past a limit.
        """
        if len(body) > self.max_body:
            raise RequestError(413, f"request body over {self.max_body} bytes")
        try:
            req = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise RequestError(400, f"invalid JSON: {e}") from None
        if not isinstance(req, dict):
            raise RequestError(400, "the request must be a JSON object")
        unknown = sorted(set(req) - set(_FIELDS))
        if unknown:
            raise RequestError(400, f"unknown fields {unknown}; valid: {', '.join(_FIELDS)}")
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

    def compress(self, req: dict[str, Any]) -> dict[str, Any]:
        """Run one parsed request (``ValueError``/``TypeError`` carry the core's message)."""
        comp = self.compressor(req.get("method") or self.method)
        results = comp.compress(
            req["texts"],
            query=req.get("query"),
            rate=req.get("rate"),
            target_tokens=req.get("target_tokens"),
            **req.get("options", {}),
        )
        usage = {
            "texts": len(results),
            "original_tokens": sum(r.original_tokens for r in results),
            "compressed_tokens": sum(r.compressed_tokens for r in results),
        }
        return {"method": comp.method, "results": [result_json(r) for r in results], "usage": usage}

    def metrics(self) -> str:
        """Prometheus text exposition of the counters."""
        lines = ["# TYPE lingua_requests_total counter"]
        for key, n in sorted(self.counts.items()):
            method, status = key.split("|")
            lines.append(f'lingua_requests_total{{method="{method}",status="{status}"}} {n}')
        lines += [
            "# TYPE lingua_tokens_in_total counter",
            f"lingua_tokens_in_total {self.tokens['in']}",
            "# TYPE lingua_tokens_out_total counter",
            f"lingua_tokens_out_total {self.tokens['out']}",
            "# TYPE lingua_request_seconds_total counter",
            f"lingua_request_seconds_total {self.seconds:.6f}",
        ]
        return "\n".join(lines) + "\n"


def create_app(service: Service | None = None, *, warmup: bool = True) -> Any:
    """The FastAPI app of ``service`` (a default :class:`Service` if none).

    Args:
        service: What the app serves.
        warmup: Load the default method's model in the background at start-up.
    """
    from contextlib import asynccontextmanager

    svc = service or Service()

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        task = asyncio.create_task(asyncio.to_thread(svc.warmup)) if warmup else None
        if task is None:
            svc.ready = True
        yield
        if task is not None and not task.done():
            task.cancel()

    app = FastAPI(title="lingua-rag", lifespan=lifespan)
    app.state.service = svc

    @app.middleware("http")
    async def name_instance(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["X-Lingua-Instance"] = svc.instance
        return response

    def refuse(e: RequestError, method: str) -> Any:
        svc.counts[f"{method}|{e.status}"] += 1
        logger.info("compress %s -> %d: %s", method, e.status, e)
        return JSONResponse({"error": str(e)}, status_code=e.status)

    @app.post("/v1/compress")
    async def compress(request: Request) -> Any:
        t0 = time.perf_counter()
        method = svc.method
        try:
            svc.authorize(request.headers.get("authorization"))
            req = svc.parse(await request.body())
            method = str(req.get("method") or svc.method)
            try:
                out = await asyncio.wait_for(
                    asyncio.to_thread(svc.compress, req), timeout=svc.timeout_s
                )
            except (ValueError, TypeError) as e:
                raise RequestError(400, str(e)) from None
            except asyncio.TimeoutError:
                raise RequestError(504, f"compression took over {svc.timeout_s} s") from None
        except RequestError as e:
            return refuse(e, method)
        ms = (time.perf_counter() - t0) * 1000
        usage = out["usage"]
        usage["ms"] = round(ms, 3)
        svc.counts[f"{out['method']}|200"] += 1
        svc.tokens["in"] += usage["original_tokens"]
        svc.tokens["out"] += usage["compressed_tokens"]
        svc.seconds += ms / 1000
        logger.info(
            "compress %s: %d -> %d tokens in %.1f ms",
            out["method"],
            usage["original_tokens"],
            usage["compressed_tokens"],
            ms,
        )
        return out

    @app.get("/v1/methods")
    async def methods() -> Any:
        from lingua_core.registry import available_methods, method_class

        return {
            "default": svc.method,
            "methods": {m: method_class(m).description for m in available_methods()},
        }

    @app.get("/health")
    async def health() -> Any:
        status = 200 if svc.ready else 503
        return JSONResponse({"status": "ok" if svc.ready else "warming up"}, status_code=status)

    @app.get("/metrics")
    async def metrics() -> Any:
        return PlainTextResponse(svc.metrics())

    return app
