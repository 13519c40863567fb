"""``lingua serve``: the HTTP service on uvicorn (one machine) or Ray Serve (``--ray``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from lingua_core.serve.remote import API_KEY_ENV, is_loopback


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand to the ``lingua`` parser."""
    s = sub.add_parser(
        "serve", help="serve compression over HTTP (FastAPI on uvicorn, or Ray Serve with --ray)"
    )
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
    ray = s.add_argument_group("Ray Serve (pip install 'lingua-rag[ray]')")
    ray.add_argument("--ray", action="store_true", help="serve on Ray Serve instead of uvicorn")
    ray.add_argument("--replicas", type=int, default=1, help="replicas, each with its models")
    ray.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per replica (0: CPU)")
    ray.add_argument("--num-cpus", type=float, default=1.0, help="CPUs reserved per replica")
    ray.add_argument(
        "--address", default=None, help="Ray cluster to join (default: start a local one)"
    )
    s.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Start the server; it finishes in-flight requests on SIGINT / SIGTERM."""
    from lingua_core._deps import require

    key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if key is None and not is_loopback(args.host):
        msg = (
            f"refusing to bind {args.host} without an API key: give --api-key or "
            f"${API_KEY_ENV}, or bind 127.0.0.1"
        )
        raise ValueError(msg)
    service_kwargs = {
        "method": args.method,
        "max_texts": args.max_texts,
        "max_chars": args.max_chars,
        "api_key": key,
        "timeout_s": args.timeout,
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

    service = Service(**service_kwargs)
    uvicorn.run(
        create_app(service),
        host=args.host,
        port=args.port,
        log_level="info",
        timeout_graceful_shutdown=30,
    )
    return 0
