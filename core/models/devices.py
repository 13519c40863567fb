"""Devices and dtypes: auto-detection, and bf16 on CPU only where it is measured to be fast."""

from __future__ import annotations

import logging
import threading
from typing import Any

from lingua_core._deps import require

logger = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "float16", "bfloat16")
DEVICES_HINT = "None (auto), 'cpu', 'cuda', 'cuda:N' or 'mps'"


def resolve_device(device: str | None = None) -> str:
    """The device to run on: ``device`` itself, else cuda, then mps, then cpu.

    Raises:
        ValueError: For a device string torch does not know, or cuda/mps asked but absent.
    """
    torch = require("torch")
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        msg = f"invalid device {device!r}; valid: {DEVICES_HINT}"
        raise ValueError(msg) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        msg = f"device {device!r} asked for but CUDA is not available; valid here: None or 'cpu'"
        raise ValueError(msg)
    return str(dev)


def resolve_dtype(dtype: Any, device: str) -> Any:
    """The torch dtype: ``"auto"``/``None`` gives bf16 (or fp16) on CUDA and fp32 elsewhere.

    Raises:
        ValueError: For a dtype name not in :data:`DTYPES`.
    """
    torch = require("torch")
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    names = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    names.update({"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16})
    if dtype not in names:
        msg = f"invalid dtype {dtype!r}; valid: {', '.join(DTYPES)} (or a torch.dtype)"
        raise ValueError(msg)
    return names[dtype]


_BF16_SPEEDUP: list[float] = []
_BF16_LOCK = threading.Lock()


def cpu_bf16_speedup() -> float:
    """How much faster a bfloat16 matmul runs than a float32 one on this CPU (measured once).

    ``torch.backends.cpu.get_cpu_capability()`` says which vector unit torch uses ("AVX2",
    "AVX512", "AMX"), but an AVX-512 CPU may or may not have bf16 instructions: with them bf16
    runs faster than fp32, without them (AVX2) a transformer-sized bf16 matmul runs far slower
    (figures in docs/models.md). So the ratio is measured: a 128x384x1536 matmul, best of three.
    """
    with _BF16_LOCK:
        if not _BF16_SPEEDUP:
            import time

            torch = require("torch")
            a = torch.randn(128, 384)
            b = torch.randn(384, 1536)
            times = {}
            for dt in (torch.float32, torch.bfloat16):
                x, y = a.to(dt), b.to(dt)
                x @ y  # warm
                best = float("inf")
                for _ in range(3):
                    t0 = time.perf_counter()
                    for _ in range(4):
                        x @ y
                    best = min(best, time.perf_counter() - t0)
                times[dt] = best
            ratio = times[torch.float32] / max(times[torch.bfloat16], 1e-9)
            _BF16_SPEEDUP.append(ratio)
            logger.info(
                "CPU capability %s: bf16 matmul %.2fx the speed of fp32",
                torch.backends.cpu.get_cpu_capability(),
                ratio,
            )
        return _BF16_SPEEDUP[0]


def fast_dtype(device: str) -> str:
    """The fastest dtype for a sentence encoder on ``device``.

    bf16 on CUDA and on CPUs where bf16 measures at least 1.3x faster than fp32
    (:func:`cpu_bf16_speedup`), fp32 elsewhere.
    """
    if device.startswith("cuda"):
        return "auto"
    if device == "cpu" and cpu_bf16_speedup() >= 1.3:
        return "bfloat16"
    return "float32"


def warn_slow_bf16(dtype: Any, device: str) -> None:
    """Log a warning when bfloat16 is asked for on a CPU that runs it slower than float32."""
    if device != "cpu" or str(dtype) not in ("bfloat16", "bf16", "torch.bfloat16"):
        return
    ratio = cpu_bf16_speedup()
    if ratio < 1.0:
        torch = require("torch")
        logger.warning(
            "dtype bfloat16 asked for on a CPU without fast bf16 (capability %s): bf16 runs "
            "%.2fx the speed of fp32 here; dtype='float32' (or 'auto') is faster",
            torch.backends.cpu.get_cpu_capability(),
            ratio,
        )
