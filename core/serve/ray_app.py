"""The same HTTP service on Ray Serve: several replicas, GPUs and nodes behind one address.

Each replica is one :class:`~lingua_core.serve.app.Service` and the FastAPI app of
:func:`~lingua_core.serve.app.create_app`, so the contract (routes, status codes, messages, auth,
limits) is the uvicorn server's. A replica warms its default method's model before Ray routes it
any request, and Ray's health check asks the replica's service. ``/metrics`` counts the replica
that answers (the ``X-Lingua-Instance`` response header names it); Ray's own metrics cover the
deployment.

    lingua serve --ray --replicas 2 [--num-gpus 1] [--address ray://head:10001]

``pip install 'lingua-rag[ray]'``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from lingua_core._deps import require
from lingua_core.serve.remote import is_loopback

serve = require("ray.serve")  # this module is the deployment: ``pip install 'lingua-rag[ray]'``

logger = logging.getLogger("lingua_core.serve")

APP_NAME = "lingua"


@serve.ingress()
class LinguaDeployment:
    """One replica: a warmed-up :class:`~lingua_core.serve.app.Service` and its app.

    Args:
        service_kwargs: Arguments of :class:`~lingua_core.serve.app.Service`.
    """

    def __init__(self, service_kwargs: dict[str, Any]) -> None:
        from lingua_core.serve.app import Service

        kwargs = dict(service_kwargs)
        kwargs.setdefault("instance", _replica_id())
        kwargs.pop("allowed_hosts", None)  # Ray's proxy forwards its own Host
        self.service = Service(**kwargs)
        self.service.engine.warmup()  # Ray routes nothing to a replica before this returns

    def __serve_build_asgi_app__(self) -> Any:
        from lingua_core.serve.app import create_app

        return create_app(self.service, warmup=False)

    def check_health(self) -> None:
        """Ray's periodic health check: raises when the service is not ready."""
        if self.service.executor is not None and not self.service.ready:
            msg = "the service is not warmed up"
            raise RuntimeError(msg)


def _replica_id() -> str | None:
    try:
        return str(serve.get_replica_context().replica_id.unique_id)
    except Exception:  # outside a replica: Ray raises RayServeException
        return None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def build(
    service_kwargs: dict[str, Any],
    *,
    replicas: int = 1,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    max_ongoing_requests: int | None = None,
    max_queued_requests: int | None = None,
) -> Any:
    """The bound Ray Serve application of ``replicas`` copies of the service.

    Args:
        service_kwargs: Arguments of :class:`~lingua_core.serve.app.Service` (method, limits,
            API key, timeout).
        replicas: Replicas (each loads its own models).
        num_gpus: GPUs per replica (fractions share one GPU); 0 runs on CPU.
        num_cpus: CPUs Ray reserves per replica.
        max_ongoing_requests: Requests one replica takes at once (its micro-batcher merges
            their forwards); default: the service's ``max_concurrency``.
        max_queued_requests: Requests Ray's proxy queues for the replicas before it answers
            503; default: the service's ``max_queue``. The same limits as ``lingua serve``'s,
            through Ray Serve's own settings.

    Raises:
        ValueError: For a replica count below 1 or negative resources.
    """
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        msg = f"replicas must be an int >= 1, got {replicas!r}"
        raise ValueError(msg)
    for name, value in (("num_gpus", num_gpus), ("num_cpus", num_cpus)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            msg = f"{name} must be a number >= 0, got {value!r}"
            raise ValueError(msg)
    from lingua_core.serve.app import default_concurrency

    if max_ongoing_requests is None:
        max_ongoing_requests = service_kwargs.get("max_concurrency") or default_concurrency(
            "cuda" if num_gpus > 0 else "cpu"
        )
    if max_queued_requests is None:
        max_queued_requests = int(service_kwargs.get("max_queue", 256))
    deployment = serve.deployment(
        LinguaDeployment,
        name="LinguaDeployment",
        num_replicas=replicas,
        ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus},
        max_ongoing_requests=max_ongoing_requests,
        max_queued_requests=max_queued_requests,
        graceful_shutdown_timeout_s=30,
        health_check_period_s=10,
    )
    return deployment.bind(dict(service_kwargs))


def run(
    service_kwargs: dict[str, Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    address: str | None = None,
    blocking: bool = True,
    **deployment: Any,
) -> None:
    """Start Ray (or join ``address``), then serve the application at ``host:port``.

    Args:
        service_kwargs: Arguments of :class:`~lingua_core.serve.app.Service`.
        host: Address Ray's HTTP proxy binds.
        port: Its port.
        address: A Ray cluster to join (``ray://...`` or ``auto``); ``None`` starts a local one.
        blocking: Serve until interrupted (SIGINT), then shut the replicas down gracefully
            and stop the local cluster; ``False`` returns once the replicas are up.
        **deployment: Passed to :func:`build` (replicas, num_gpus, num_cpus, ...).
    """
    ray = require("ray")
    app = build(service_kwargs, **deployment)
    started = not ray.is_initialized()
    if started:
        local: dict[str, Any] = {}
        if address is None and is_loopback(host):
            local["_node_ip_address"] = "127.0.0.1"  # a local cluster on loopback only
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, **local)
    http = {"host": host, "port": port, "request_timeout_s": service_kwargs.get("timeout_s")}
    if not blocking:
        serve.start(http_options=http)
        serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
        return
    if threading.current_thread() is threading.main_thread():
        # After ray.init, which installs its own: SIGTERM shuts down as gracefully as SIGINT.
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve.start(http_options=http)
        serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
        logger.info("serving %s on http://%s:%d (Ray Serve)", APP_NAME, host, port)
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        logger.info("shutting down: replicas finish their in-flight requests (30 s at most)")
    finally:
        serve.shutdown()
        if started:
            ray.shutdown()
