"""What the framework adapters share.

Checking their settings, building the core compressor, and the per-document stats they attach
under ``metadata["lingua"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    if result.relevance is not None:  # question-aware ranking (LLMLingua family)
        stats["relevance"] = result.relevance
    if result.order is not None:
        stats["order"] = result.order
    return stats


#: Name of the event (LangChain custom event, LlamaIndex instrumentation event) carrying a
#: call's stats.
EVENT_NAME = "lingua_compression"


def call_stats(
    results: Sequence[CompressionResult], ids: Sequence[Any], method: str
) -> dict[str, Any]:
    """Stats of one adapter call, for tracing: totals, rate and the ids of dropped documents."""
    original = sum(r.original_tokens for r in results)
    compressed = sum(r.compressed_tokens for r in results)
    return {
        "method": method,
        "documents": len(results),
        "original_tokens": original,
        "compressed_tokens": compressed,
        "rate": compressed / original if original else 1.0,
        "dropped_ids": [i for i, r in zip(ids, results) if r.dropped],
    }


def settings_base() -> type:
    """The pydantic base class holding the settings both adapters share (imported on use).

    Fields: ``method``, ``model``, ``rate``, ``target_tokens``, ``device``, ``options``,
    ``keep_dropped``; conflicting settings are rejected at construction; the core compressor is
    built on first use (thread-safe) and held in a private attribute.
    """
    global _SETTINGS_BASE
    if _SETTINGS_BASE is None:
        _SETTINGS_BASE = _make_settings_base()
    return _SETTINGS_BASE


_SETTINGS_BASE: type | None = None


def _make_settings_base() -> type:
    import threading

    from lingua_core._deps import require
    from lingua_core.registry import DEFAULT_METHOD

    pydantic = require("pydantic")
    build_lock = threading.Lock()

    class LinguaSettings(pydantic.BaseModel):
        """Settings shared by the LangChain and LlamaIndex adapters."""

        model_config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)

        method: str = pydantic.Field(
            DEFAULT_METHOD, description="Method name or alias (see lingua_core.get_compressor)."
        )
        model: str | None = pydantic.Field(
            None, description="Model alias, local folder or hub id; None: the method's default."
        )
        rate: float | None = pydantic.Field(
            None, description="Fraction of tokens to keep, in (0, 1]."
        )
        target_tokens: int | None = pydantic.Field(
            None, description="Total token budget over all documents of a call."
        )
        device: str | None = pydantic.Field(
            None, description="Device for the model (cpu, cuda, mps); None auto-detects."
        )
        options: dict[str, Any] = pydantic.Field(
            default_factory=dict, description="Further keyword arguments for get_compressor."
        )
        keep_dropped: bool = pydantic.Field(
            False,
            description="Keep documents a coarse filter dropped (empty, flagged in the stats).",
        )

        _compressor: Compressor | None = pydantic.PrivateAttr(default=None)

        @pydantic.model_validator(mode="after")
        def _check_settings(self) -> Any:
            check_settings(self.rate, self.target_tokens, self.model, self.device, self.options)
            return self

        @property
        def compressor(self) -> Compressor:
            """The core compressor, built on first access (thread-safe)."""
            if self._compressor is None:
                with build_lock:
                    if self._compressor is None:
                        self._compressor = build_compressor(
                            self.method, self.model, self.device, self.options
                        )
            return self._compressor

        def _compress_texts(self, texts: list[str], query: str | None) -> list[CompressionResult]:
            return self.compressor.compress(
                texts, query=query or None, rate=self.rate, target_tokens=self.target_tokens
            )

    return LinguaSettings
