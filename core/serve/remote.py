"""A compressor that runs on a ``lingua serve`` server: the core interface over HTTP (httpx).

``RemoteCompressor(url).compress(texts, query=..., rate=...)`` returns the same
:class:`~lingua_core.result.CompressionResult` objects a local compressor returns, in input
order; ``acompress`` is its async twin. Connection errors and 503 (a server warming up,
restarting or shedding load) are retried: after a 503 the client waits the server's
``Retry-After`` (at most ``max_retry_wait`` seconds), otherwise an exponential backoff, either
jittered by x0.5-1.5 so that refused clients do not come back together; ``deadline`` bounds the
whole call, retries included, and travels to the server (``X-Lingua-Deadline-Ms``), which
refuses at once what it could not finish in time. Any other refusal raises with the server's
message (400 as ``ValueError``, as the core would). The adapters take it in place of a local
compressor: ``LinguaCompressor(endpoint="http://host:8000", method="...", rate=0.5)``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lingua_core._deps import require
from lingua_core.result import CompressionResult

#: Environment variable holding the API key when none is given.
API_KEY_ENV = "LINGUA_API_KEY"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RemoteError(RuntimeError):
    """The server refused a request (other than a bad request, which raises ``ValueError``)."""


class RemoteCompressor:
    """The core compressor interface, served by ``lingua serve`` at ``url``.

    Args:
        url: The server, e.g. ``"http://127.0.0.1:8000"``.
        method: The method requests name; ``None``: the server's default. A call may name
            another (``compress(texts, method=...)``).
        options: Method options sent with every request.
        api_key: Bearer token (default: ``$LINGUA_API_KEY``).
        timeout: Seconds per request.
        retries: Attempts on connection errors and 503.
        backoff: First wait between attempts (doubled each time) when the server gives no
            ``Retry-After``.
        max_retry_wait: Longest wait between attempts, ``Retry-After`` included.
        deadline: Seconds the whole call may take, retries included (``None``: no bound but
            ``timeout`` per attempt and ``retries``).
    """

    def __init__(
        self,
        url: str,
        *,
        method: str | None = None,
        options: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 5,
        backoff: float = 0.2,
        max_retry_wait: float = 2.0,
        deadline: float | None = 120.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.method = method or ""
        self.options = dict(options or {})
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self.timeout, self.retries, self.backoff = timeout, max(1, int(retries)), backoff
        self.max_retry_wait = max_retry_wait
        self.deadline = deadline
        self._rng = random.Random()
        self._client: Any = None
        self._lock = threading.Lock()

    def _sync_client(self) -> Any:
        """One pooled ``httpx.Client`` per compressor (thread-safe, keeps connections open)."""
        httpx = require("httpx")
        with self._lock:
            if self._client is None:
                limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
                self._client = httpx.Client(timeout=self.timeout, limits=limits)
            return self._client

    def close(self) -> None:
        """Close the pooled connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __repr__(self) -> str:
        return f"RemoteCompressor({self.url!r}, method={self.method or None!r})"

    def warmup(self, wait_s: float = 120.0) -> None:
        """Wait until the server is ready (``/health`` answers 200), at most ``wait_s`` seconds.

        Raises:
            RemoteError: When it is not ready in time.
        """
        httpx = require("httpx")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=5.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                msg = f"{self.url} not ready after {wait_s} s"
                raise RemoteError(msg)
            time.sleep(0.2)

    def _request(
        self,
        texts: Sequence[str],
        query: str | None,
        rate: float | str | None,
        target_tokens: int | None,
        options: Mapping[str, Any],
        method: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        if method is not None and not isinstance(method, str):
            msg = f"method must be a str or None, got {type(method).__name__}"
            raise TypeError(msg)
        body: dict[str, Any] = {"texts": list(texts), "options": {**self.options, **options}}
        for key, value in (("query", query), ("rate", rate), ("target_tokens", target_tokens)):
            if value is not None:
                body[key] = value
        if method or self.method:
            body["method"] = method or self.method
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return body, headers

    def _results(self, status: int, payload: Any, texts: Sequence[str]) -> list[CompressionResult]:
        if status == 400:
            raise ValueError(_message(payload))
        if status != 200:
            msg = f"{self.url} answered {status}: {_message(payload)}"
            raise RemoteError(msg)
        out = []
        for original, r in zip(texts, payload["results"]):
            out.append(
                CompressionResult(
                    r["text"],
                    original,
                    tuple((int(s), int(e)) for s, e in r["spans"]),
                    int(r["original_tokens"]),
                    int(r["compressed_tokens"]),
                    str(r["method"]),
                    dropped=bool(r["dropped"]),
                    order=r["order"],
                    relevance=r["relevance"],
                    elided=tuple(int(i) for i in r.get("elided", ())),
                )
            )
        if len(out) != len(texts):
            msg = f"{self.url} returned {len(out)} results for {len(texts)} texts"
            raise RemoteError(msg)
        return out

    def _settle(
        self,
        attempt: int,
        response: Any,
        error: Exception | None,
        texts: Sequence[str],
        ends: float | None,
    ) -> list[CompressionResult] | float:
        """The results if this attempt settles the call; else the seconds to wait and retry.

        Connection errors and 503 are retried until the last attempt or the call's deadline.

        Raises:
            RemoteError: When the server stays unreachable or busy, or refuses (see
                :meth:`_results`).
        """
        last = attempt == self.retries - 1
        if error is None and response.status_code != 503:
            return self._results(response.status_code, _json(response), texts)
        wait = float(self.backoff * 2**attempt)
        if error is None:
            with_header = _retry_after(response)
            wait = wait if with_header is None else with_header
        wait = min(wait, self.max_retry_wait) * self._rng.uniform(0.5, 1.5)
        past = ends is not None and time.monotonic() + wait >= ends
        if error is not None and (last or past):
            msg = f"{self.url} unreachable: {error}"
            raise RemoteError(msg) from error
        if last or past:
            refused: list[CompressionResult] = self._results(503, _json(response), texts)
            return refused  # raises: a 503 is never results
        return wait

    def _attempt(self, headers: dict[str, str], ends: float | None) -> tuple[dict[str, str], float]:
        """Headers and timeout of one attempt (the time left to the call's deadline)."""
        if ends is None:
            return headers, self.timeout
        left = max(0.001, ends - time.monotonic())
        return {**headers, "X-Lingua-Deadline-Ms": f"{left * 1000:.0f}"}, min(self.timeout, left)

    def compress(
        self,
        texts: Sequence[str],
        *,
        query: str | None = None,
        rate: float | str | None = None,
        target_tokens: int | None = None,
        method: str | None = None,
        **options: Any,
    ) -> list[CompressionResult]:
        """Compress on the server; one result per text, in order (see the core's ``compress``).

        ``method`` names the method of this call (one the server runs: ``lingua serve
        --methods``); ``None``: the compressor's ``method``, else the server's default.

        Raises:
            ValueError: For a request the server finds invalid (its message).
            RemoteError: For another refusal, or a server that stays unreachable.
        """
        httpx = require("httpx")
        texts = list(texts)
        body, headers = self._request(texts, query, rate, target_tokens, options, method)
        client = self._sync_client()
        ends = None if self.deadline is None else time.monotonic() + self.deadline
        for attempt in range(self.retries):
            sent, timeout = self._attempt(headers, ends)
            try:
                url = f"{self.url}/v1/compress"
                r, error = client.post(url, json=body, headers=sent, timeout=timeout), None
            except httpx.TransportError as e:
                r, error = None, e
            done = self._settle(attempt, r, error, texts, ends)
            if not isinstance(done, float):
                return done
            time.sleep(done)
        raise RemoteError(self.url)  # pragma: no cover - the last attempt returns or raises

    async def acompress(
        self,
        texts: Sequence[str],
        *,
        query: str | None = None,
        rate: float | str | None = None,
        target_tokens: int | None = None,
        method: str | None = None,
        **options: Any,
    ) -> list[CompressionResult]:
        """:meth:`compress` without blocking the event loop (``httpx.AsyncClient``)."""
        httpx = require("httpx")
        texts = list(texts)
        body, headers = self._request(texts, query, rate, target_tokens, options, method)
        ends = None if self.deadline is None else time.monotonic() + self.deadline
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for attempt in range(self.retries):
                sent, timeout = self._attempt(headers, ends)
                try:
                    url = f"{self.url}/v1/compress"
                    r = await client.post(url, json=body, headers=sent, timeout=timeout)
                    error = None
                except httpx.TransportError as e:
                    r, error = None, e
                done = self._settle(attempt, r, error, texts, ends)
                if not isinstance(done, float):
                    return done
                await asyncio.sleep(done)
        raise RemoteError(self.url)  # pragma: no cover - the last attempt returns or raises


def _retry_after(response: Any) -> float | None:
    """The seconds of a response's ``Retry-After`` header (``None``: absent or a date)."""
    value = response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return None if seconds is None or not seconds >= 0 else seconds


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"error": response.text[:500]}


def _message(payload: Any) -> str:
    if isinstance(payload, dict) and "error" in payload:
        return str(payload["error"])
    return str(payload)[:500]
