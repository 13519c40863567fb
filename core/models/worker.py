"""A loaded model and its worker thread: every forward batch of a shared model runs there."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from lingua_core._deps import require

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model with its tokenizer, device and dtype.

    ``facts`` caches what is derived once per model (e.g. whether its head can be split off).
    """

    model: Any
    tokenizer: Any
    device: str
    dtype: Any
    source: str
    facts: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _worker: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def run(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` (a forward batch) on this model's own worker thread; its result.

        Every thread sharing the model hands its batches to one worker, which runs them one at
        a time under ``torch.inference_mode``: memory stays that of one batch however many
        threads call (concurrent forwards on one device only oversubscribe it), and the large
        buffers are allocated and freed by one thread, so the allocator does not keep a copy per
        calling thread. Called on the worker itself (a nested forward), ``fn`` runs inline.
        Exceptions (out-of-memory included) reach the caller unchanged.
        """
        if getattr(_ON_WORKER, "model", None) is self:
            return fn(*args)
        with _POOL_LOCK:
            pool = self._worker.get("pool")
            if pool is None:
                from concurrent.futures import ThreadPoolExecutor

                pool = ThreadPoolExecutor(1, thread_name_prefix="lingua-model")
                self._worker["pool"] = pool
        return pool.submit(_on_worker, self, fn, args).result()

    def close(self) -> None:
        """Stop the worker thread (after the batches already handed to it)."""
        pool = self._worker.pop("pool", None)
        if pool is not None:
            pool.shutdown(wait=False)


_ON_WORKER = threading.local()
_POOL_LOCK = threading.Lock()


def _on_worker(model: LoadedModel, fn: Any, args: tuple[Any, ...]) -> Any:
    torch = require("torch")
    _ON_WORKER.model = model
    try:
        with torch.inference_mode():
            return fn(*args)
    finally:
        _ON_WORKER.model = None
