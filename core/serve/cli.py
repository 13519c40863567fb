"""``lingua serve``: the HTTP service on uvicorn (one machine)."""

from __future__ import annotations

import argparse
import ipaddress
import os
from typing import Any

from lingua_core.serve.remote import API_KEY_ENV


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand to the ``lingua`` parser."""
    s = sub.add_parser("serve", help="serve compression over HTTP (FastAPI on uvicorn)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--method", default=None, help="default method of requests that name none")
    s.add_argument("--max-texts", type=int, default=512, help="most texts per request (413)")
    s.add_argument("--max-chars", type=int, default=2_000_000, help="most characters (413)")
    s.add_argument(
        "--api-key",
        default=None,
        help=f"bearer token every request must carry (default: ${API_KEY_ENV}); without one "
        "the server binds loopback only",
    )
    s.add_argument("--timeout", type=float, default=120.0, help="seconds per request (504)")
    s.set_defaults(run=run)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    """Start the server; it finishes in-flight requests on SIGINT / SIGTERM."""
    from lingua_core._deps import require

    key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if key is None and not _loopback(args.host):
        msg = (
            f"refusing to bind {args.host} without an API key: give --api-key or "
            f"${API_KEY_ENV}, or bind 127.0.0.1"
        )
        raise ValueError(msg)
    uvicorn = require("uvicorn")
    from lingua_core.serve.app import Service, create_app

    service = Service(
        args.method,
        max_texts=args.max_texts,
        max_chars=args.max_chars,
        api_key=key,
        timeout_s=args.timeout,
    )
    uvicorn.run(
        create_app(service),
        host=args.host,
        port=args.port,
        log_level="info",
        timeout_graceful_shutdown=30,
    )
    return 0
