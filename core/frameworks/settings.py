"""What the framework adapters share: their settings class, the failure policy, the stats.

:class:`LinguaSettings` (a pydantic model, the base of every adapter class) checks the settings
and builds the core compressor; the failure policy (``on_error``) and the per-document stats
they attach under ``metadata["lingua"]`` are plain functions (in
:mod:`lingua_core.frameworks.documents`). Only the adapters import this module, and both frameworks
already depend on pydantic (declared in the ``langchain`` and ``llamaindex`` extras).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

try:
    import pydantic
except ImportError as e:  # pragma: no cover - pydantic comes with either framework
    raise ImportError(
        "The adapters need pydantic: pip install 'lingua-rag[langchain]' (or [llamaindex])"
    ) from e

from lingua_core.base import CompressionResult, Compressor, validate_budget
from lingua_core.frameworks.documents import (
    MAX_LINGUA_BYTES,
    SCORES_KEY,
    STATS_KEY,
    asks_to_reorder,
    call_stats,
    error_text,
    output_metadata,
    prompt_order,
    result_stats,
)
from lingua_core.frameworks.failures import (
    OnError,
    Outcome,
    Scored,
    acompress_or_pass,
    compress_or_pass,
    score_or_pass,
)
from lingua_core.registry import DEFAULT_METHOD, get_compressor, resolve

__all__ = [
    "EVENT_NAME",
    "MAX_LINGUA_BYTES",
    "SCORES_KEY",
    "STATS_KEY",
    "CompressorLike",
    "LinguaSettings",
    "OnError",
    "Outcome",
    "Scored",
    "acompress_or_pass",
    "asks_to_reorder",
    "build_compressor",
    "call_stats",
    "check_settings",
    "compress_or_pass",
    "error_text",
    "output_metadata",
    "prompt_order",
    "result_stats",
    "score_or_pass",
]


class CompressorLike(Protocol):
    """What adapters call: a local :class:`Compressor` or a remote one (same interface)."""

    @property
    def method(self) -> str:
        """The method's name."""
        ...

    def compress(
        self,
        texts: Sequence[str],
        *,
        query: str | None = None,
        rate: Any = None,
        target_tokens: int | None = None,
        **options: Any,
    ) -> list[CompressionResult]:
        """One result per text, in order."""
        ...

    def warmup(self) -> None:
        """Load the model (or wait for the server) now."""
        ...


def check_settings(
    rate: float | str | None,
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
    if rate == "auto" and target_tokens is not None:
        msg = "rate='auto' chooses the length itself: do not give target_tokens with it"
        raise ValueError(msg)
    validate_budget(None if rate == "auto" else rate, target_tokens)
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
) -> Compressor[Any]:
    """The core compressor for an adapter's fields."""
    given = {"model": model, "device": device}
    return get_compressor(method, **{**options, **{k: v for k, v in given.items() if v}})


#: Name of the event (LangChain custom event, LlamaIndex instrumentation event) carrying a
#: call's stats.
EVENT_NAME = "lingua_compression"


#: Held by the class, not by each instance: building compressors is rare and quick to guard.
_BUILD_LOCK = threading.Lock()


class LinguaSettings(pydantic.BaseModel):
    """Settings shared by the LangChain and LlamaIndex adapters (their pydantic base class).

    An unknown method and conflicting settings are rejected at construction; the core compressor
    is built on first use (thread-safe) and held in a private attribute;
    :meth:`_compress_or_pass` applies the ``on_error`` policy.
    """

    model_config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    method: str = pydantic.Field(
        DEFAULT_METHOD, description="Method name or alias (see lingua_core.get_compressor)."
    )
    model: str | None = pydantic.Field(
        None, description="Model alias, local folder or hub id; None: the method's default."
    )
    rate: float | Literal["auto"] | None = pydantic.Field(
        None,
        description="Fraction of tokens to keep, in (0, 1]; 'auto' where the method "
        "supports it (the default method does).",
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
    endpoint: str | None = pydantic.Field(
        None,
        description="URL of a `lingua serve` server to compress on (RemoteCompressor) instead "
        "of a local model; `method` is then sent only when given.",
    )
    api_key: str | None = pydantic.Field(
        None, description="Bearer token for `endpoint` (default: $LINGUA_API_KEY)."
    )
    keep_dropped: bool = pydantic.Field(
        False,
        description="Keep documents a coarse filter dropped (empty, flagged in the stats).",
    )
    on_error: OnError = pydantic.Field(
        "raise",
        description=(
            "What to do when compression fails (building the compressor or loading the "
            "model included): 'raise' the error, or 'passthrough': return the inputs "
            "unchanged with metadata['lingua'] = {'error': '<Type>: <message>', "
            "'passthrough': True, 'method': ...} and log a warning. Invalid settings are "
            "rejected at construction either way."
        ),
    )

    _compressor: CompressorLike | None = pydantic.PrivateAttr(default=None)

    @pydantic.model_validator(mode="after")
    def _check_settings(self) -> LinguaSettings:
        resolve(self.method)  # an unknown method fails here, not (maybe silently) on use
        check_settings(self.rate, self.target_tokens, self.model, self.device, self.options)
        if self.endpoint is not None and (self.model or self.device):
            msg = "with endpoint= the server chooses the model and device; give neither"
            raise ValueError(msg)
        return self

    @property
    def compressor(self) -> CompressorLike:
        """The compressor, built on first access (thread-safe).

        A core compressor, or with ``endpoint`` a :class:`~lingua_core.RemoteCompressor`.
        """
        if self._compressor is None:
            with _BUILD_LOCK:
                if self._compressor is None:
                    if self.endpoint is not None:
                        from lingua_core.serve.remote import RemoteCompressor

                        named = "method" in self.model_fields_set
                        self._compressor = RemoteCompressor(
                            self.endpoint,
                            method=self.method if named else None,
                            options=self.options,
                            api_key=self.api_key,
                        )
                    else:
                        self._compressor = build_compressor(
                            self.method, self.model, self.device, self.options
                        )
        built = self._compressor
        if built is None:  # pragma: no cover - assigned above
            msg = "compressor not built"
            raise RuntimeError(msg)
        return built

    def _call_kwargs(
        self, comp: CompressorLike, query: str | None, scores: Sequence[Any] | None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "query": query or None,
            "rate": self.rate,
            "target_tokens": self.target_tokens,
        }
        if (
            scores is not None
            and any(x is not None for x in scores)
            and getattr(comp, "stores_scores", False)
        ):
            kwargs["scores"] = list(scores)  # stored at indexing time (LinguaDocumentTransformer)
        return kwargs

    def _compress_texts(
        self, texts: list[str], query: str | None, scores: Sequence[Any] | None = None
    ) -> list[CompressionResult]:
        comp = self.compressor
        return comp.compress(texts, **self._call_kwargs(comp, query, scores))

    async def _acompress_texts(
        self, texts: list[str], query: str | None, scores: Sequence[Any] | None = None
    ) -> list[CompressionResult]:
        """:meth:`_compress_texts`, awaited.

        A remote compressor's ``acompress`` runs on the event loop (HTTP, no thread); a local
        model's forward passes run in a worker thread.
        """
        comp = self.compressor
        kwargs = self._call_kwargs(comp, query, scores)
        acompress = getattr(comp, "acompress", None)
        if acompress is not None:
            return list(await acompress(texts, **kwargs))
        return await asyncio.to_thread(comp.compress, texts, **kwargs)

    def _compress_or_pass(
        self,
        texts: list[str],
        query: str | None,
        ids: Sequence[Any],
        scores: Sequence[Any] | None = None,
    ) -> Outcome:
        """Compress ``texts`` under the ``on_error`` policy (see :func:`compress_or_pass`).

        ``scores``: each text's stored scores (``metadata["lingua_scores"]``) or ``None``.
        """
        return compress_or_pass(
            lambda: self._compress_texts(texts, query, scores),
            texts,
            ids,
            method=resolve(self.method)[0],
            on_error=self.on_error,
            adapter=type(self).__name__,
        )

    async def _acompress_or_pass(
        self,
        texts: list[str],
        query: str | None,
        ids: Sequence[Any],
        scores: Sequence[Any] | None = None,
    ) -> Outcome:
        """:meth:`_compress_or_pass` awaited (see :meth:`_acompress_texts`)."""
        return await acompress_or_pass(
            lambda: self._acompress_texts(texts, query, scores),
            texts,
            ids,
            method=resolve(self.method)[0],
            on_error=self.on_error,
            adapter=type(self).__name__,
        )
