"""``lingua serve``: the HTTP service on uvicorn (one machine) or Ray Serve (``--ray``)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from lingua_core.serve.remote import API_KEY_ENV, is_loopback

logger = logging.getLogger("lingua_core.serve")


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand to the ``lingua`` parser."""
    s = sub.add_parser(
        "serve", help="serve compression over HTTP (FastAPI on uvicorn, or Ray Serve with --ray)"
    )
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--method", default=None, help="default method of requests that name none")
    s.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods requests may name, loaded at start (default: bm25, "
        "embeddings_filter, sentence_embeddings, random, naive, none; --method always)",
    )
    s.add_argument("--max-texts", type=int, default=512, help="most texts per request (413)")
    s.add_argument("--max-chars", type=int, default=2_000_000, help="most characters (413)")
    s.add_argument("--max-body", type=int, default=8_000_000, help="most body bytes (413)")
    s.add_argument(
        "--api-key",
        default=None,
        help=f"bearer token every request must carry (default: ${API_KEY_ENV}); without one "
        "the server binds loopback only and accepts loopback Host headers only",
    )
    s.add_argument("--timeout", type=float, default=120.0, help="seconds per request (504)")
    load = s.add_argument_group("load (503 with Retry-After past these limits)")
    load.add_argument(
        "--max-concurrency",
        type=int,
        default=None,
        help="requests in compression at once (default: a quarter of the CPUs, at least 1; 16 "
        "on a GPU)",
    )
    load.add_argument("--max-queue", type=int, default=256, help="requests waiting at once")
    load.add_argument(
        "--max-queue-wait",
        type=float,
        default=0.25,
        help="longest expected wait, in seconds, a request is queued for (default 0.25)",
    )
    load.add_argument(
        "--executor",
        choices=("process", "thread"),
        default="process",
        help="compress in a worker process (default: the event loop is never held up) or in "
        "threads of the server's process",
    )
    load.add_argument(
        "--worker-nice", type=int, default=5, help="lower CPU priority of the worker process"
    )
    load.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a connection may take to send a request's headers (closed after)",
    )
    load.add_argument(
        "--body-timeout", type=float, default=10.0, help="seconds to send a body (408 after)"
    )
    load.add_argument(
        "--max-connections", type=int, default=1024, help="open connections at once (503)"
    )
    ray = s.add_argument_group("Ray Serve (pip install 'lingua-rag[ray]')")
    ray.add_argument("--ray", action="store_true", help="serve on Ray Serve instead of uvicorn")
    ray.add_argument("--replicas", type=int, default=1, help="replicas, each with its models")
    ray.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per replica (0: CPU)")
    ray.add_argument("--num-cpus", type=float, default=1.0, help="CPUs reserved per replica")
    ray.add_argument(
        "--address", default=None, help="Ray cluster to join (default: start a local one)"
    )
    s.set_defaults(run=run)


def _log_to_stderr() -> None:
    """One line per request on stderr (the application configures logging, not the library)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("lingua_core.serve")
    if not log.handlers:
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def run(args: argparse.Namespace) -> int:
    """Start the server; on SIGINT / SIGTERM it drains in-flight requests and exits 0."""
    from lingua_core._deps import require

    key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if key is None and not is_loopback(args.host):
        msg = (
            f"refusing to bind {args.host} without an API key: give --api-key or "
            f"${API_KEY_ENV}, or bind 127.0.0.1"
        )
        raise ValueError(msg)
    _log_to_stderr()
    from lingua_core.serve.app import LOOPBACK_HOSTS

    service_kwargs: dict[str, Any] = {
        "method": args.method,
        "methods": args.methods,  # comma-separated: served_methods splits it
        "max_texts": args.max_texts,
        "max_chars": args.max_chars,
        "max_body": args.max_body,
        "api_key": key,
        "timeout_s": args.timeout,
        "max_concurrency": args.max_concurrency,
        "max_queue": args.max_queue,
        "max_queue_wait_s": args.max_queue_wait,
        "body_timeout_s": args.body_timeout,
        "allowed_hosts": LOOPBACK_HOSTS if key is None else None,
    }
    if args.ray:
        from lingua_core.serve import ray_app

        ray_app.run(
            service_kwargs,
            host=args.host,
            port=args.port,
            address=args.address,
            replicas=args.replicas,
            num_gpus=args.num_gpus,
            num_cpus=args.num_cpus,
        )
        return 0
    uvicorn = require("uvicorn")
    from lingua_core.serve.app import Service, create_app

    service = Service(**service_kwargs, executor=args.executor, worker_nice=args.worker_nice)
    config = uvicorn.Config(
        create_app(service),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,  # lingua_core.serve logs one line per request
        timeout_graceful_shutdown=30,
        limit_concurrency=args.max_connections,
        http=header_timeout_protocol(args.header_timeout),
    )
    _draining_server(config).run()
    return 0


def header_timeout_protocol(seconds: float) -> Any:
    """Uvicorn's HTTP protocol with a deadline for a request's headers.

    uvicorn times out idle keep-alive connections, but a new connection, or one that sends part
    of its headers and stops (slowloris), is held open for ever. Here a connection whose request
    headers are not complete ``seconds`` after it opened (or after its previous response) is
    closed; the body has its own deadline in the app (408).
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_timer: Any = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(seconds, self._header_timeout)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:
                self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # arms uvicorn's keep-alive timeout

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def _draining_server(config: Any) -> Any:
    """Uvicorn's server, less its re-raising of SIGTERM after a graceful shutdown.

    uvicorn re-raised the signal once every request had drained, so the process exited -15;
    here it exits 0.
    """
    from lingua_core._deps import require

    class DrainingServer(require("uvicorn").Server):  # type: ignore[misc]
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
            for sig in previous:
                signal.signal(sig, self.handle_exit)
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return DrainingServer(config)
