"""What the framework adapters share.

Checking their settings, building the core compressor, and the per-document stats they attach
under ``metadata["lingua"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lingua_core.base import CompressionResult, Compressor, validate_budget
from lingua_core.registry import get_compressor

#: Metadata key under which adapters store a document's compression stats.
STATS_KEY = "lingua"


def check_settings(
    rate: float | None,
    target_tokens: int | None,
    model: str | None,
    device: str | None,
    options: Mapping[str, Any],
) -> None:
    """Reject conflicting adapter settings at construction.

    Raises:
        ValueError: For an invalid budget, both budgets, or ``model``/``device`` given both as a
            field and inside ``options``.
    """
    validate_budget(rate, target_tokens)
    for name, value in (("model", model), ("device", device)):
        if value is not None and name in options:
            msg = f"{name!r} is given both as a field and in options; give it once"
            raise ValueError(msg)
    for name in ("rate", "target_tokens"):
        if name in options:
            msg = f"{name!r} is a field of its own, not an option"
            raise ValueError(msg)


def build_compressor(
    method: str, model: str | None, device: str | None, options: Mapping[str, Any]
) -> Compressor:
    """The core compressor for an adapter's fields."""
    given = {"model": model, "device": device}
    return get_compressor(method, **{**options, **{k: v for k, v in given.items() if v}})


def result_stats(result: CompressionResult) -> dict[str, Any]:
    """The stats an adapter attaches to one output document."""
    stats: dict[str, Any] = {
        "original_tokens": result.original_tokens,
        "compressed_tokens": result.compressed_tokens,
        "rate": result.rate,
        "method": result.method,
    }
    if result.dropped:
        stats["dropped"] = True
    return stats
