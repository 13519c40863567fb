"""The checks every request passes before it is admitted: transport, auth, host, schema.

:class:`RequestChecks` is the part of :class:`~lingua_core.serve.app.Service` that reads and
refuses requests (a 4xx for every bad input, never a 500 or a hang); :class:`Guard` is the ASGI
middleware that applies the host and auth checks to every route, names the instance and logs one
line per request.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

logger = logging.getLogger("lingua_core.serve")

FIELDS = ("texts", "query", "method", "rate", "target_tokens", "options")
#: Statuses ``/metrics`` counts (499: the client disconnected before its answer).
STATUSES = ("200", "400", "401", "408", "413", "415", "421", "499", "500", "503", "504")
#: Host names a loopback server accepts when it has no API key.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
#: The header that shortens a request's deadline (milliseconds from its arrival).
DEADLINE_HEADER = "x-lingua-deadline-ms"
MAX_DEPTH = 16


class RequestError(ValueError):
    """A request the service refuses, with its HTTP status (and extra response headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value (stops counting past ``limit``)."""
    if limit <= 0:
        return 1
    if isinstance(value, dict):
        return 1 + max((_depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v, limit - 1) for v in value), default=0)
    return 0


class RequestChecks:
    """Reading and checking a request (mixed into :class:`~lingua_core.serve.app.Service`).

    Uses the service's ``api_key``, ``allowed_hosts``, ``timeout_s``, ``body_timeout_s``,
    ``max_body``, ``max_texts``, ``max_chars`` and ``engine``.
    """

    api_key: str | None
    allowed_hosts: set[str] | None
    timeout_s: float
    body_timeout_s: float
    max_body: int
    max_texts: int
    max_chars: int
    engine: Any

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
        if _depth(req, MAX_DEPTH + 1) > MAX_DEPTH:
            raise RequestError(400, f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
        unknown = sorted(set(req) - set(FIELDS))
        if unknown:
            shown = [str(u)[:40] for u in unknown[:5]]
            raise RequestError(400, f"unknown fields {shown}; valid: {', '.join(FIELDS)}")
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
            return str(self.engine.canonical(req.get("method")))
        except (ValueError, TypeError) as e:
            raise RequestError(400, str(e)) from None


class Guard:
    """Pure ASGI middleware: host check, auth, the instance header, one log line per request.

    (Starlette's ``BaseHTTPMiddleware`` would hide a client's disconnect from the route.)
    """

    def __init__(self, app: Any, svc: Any) -> None:
        self.app, self.svc = app, svc
        self.state = app.state  # as FastAPI's: ``create_app(...).state.service``

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Check, pass on and log one request (other scopes pass through)."""
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
