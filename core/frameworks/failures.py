"""The adapters' failure policy (``on_error``): what a call returns when compression fails.

``"raise"`` (the default) lets the error propagate; ``"passthrough"`` logs one warning and
returns every input unchanged, flagged in its stats, so that a RAG pipeline keeps answering
from the uncompressed context.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lingua_core.base import CompressionResult
from lingua_core.frameworks.documents import SCORES_KEY, call_stats, error_text, result_stats
from lingua_core.registry import resolve
from lingua_core.stored.scores import dumps

logger = logging.getLogger(__name__)

#: What an adapter does when compression fails: ``"raise"`` the error (the default), or
#: ``"passthrough"``: return the inputs unchanged, flagged, and log a warning.
OnError = Literal["raise", "passthrough"]


@dataclass(frozen=True)
class Outcome:
    """What one adapter call produced for its texts, in input order.

    Attributes:
        texts: The output text of each input: compressed, or the original on passthrough.
        stats: The ``metadata["lingua"]`` dict of each input (a fresh dict for each).
        dropped: Whether a coarse filter dropped each input (never on passthrough).
        call: The call's stats for the ``"lingua_compression"`` event.
        passthrough: Whether compression failed and the inputs came back unchanged
            (``on_error="passthrough"``).
        orders: Each result's ``order`` (its place in the prompt), when compression ran.
    """

    texts: list[str]
    stats: list[dict[str, Any]]
    dropped: list[bool]
    call: dict[str, Any]
    passthrough: bool = False
    orders: list[int | None] | None = None


def compress_or_pass(
    compress: Callable[[], Sequence[CompressionResult]],
    texts: Sequence[str],
    ids: Sequence[Any],
    *,
    method: str,
    on_error: OnError,
    adapter: str,
) -> Outcome:
    """Run one adapter call's compression under the ``on_error`` failure policy.

    The policy covers any ``Exception`` that ``compress`` raises: building the core compressor
    (it is built on first use, so an unknown option or a model that cannot be loaded fails
    here), loading the model, and compressing. ``BaseException`` that is not an ``Exception``
    (``KeyboardInterrupt``, ``SystemExit``) always propagates.

    Args:
        compress: Builds the compressor if needed and compresses ``texts``.
        texts: The input texts, in order.
        ids: The input ids (reported in the call stats), same order.
        method: The canonical method name (reported in the call stats, and on passthrough).
        on_error: ``"raise"``: the error propagates. ``"passthrough"``: a one-line warning is
            logged (the traceback at DEBUG) and every text comes back unchanged, its stats
            ``{"error": "<Type>: <message>", "passthrough": True, "method": method}``.
        adapter: The adapter's class name, for the warning.

    Returns:
        The outcome of the call, one entry per text.

    Raises:
        Exception: Whatever ``compress`` raised, when ``on_error="raise"``.
    """
    try:
        results = list(compress())
    except Exception as error:
        if on_error != "passthrough":
            raise
        return _passed_through(error, texts, method, adapter)
    return _outcome(results, ids, method)


async def acompress_or_pass(
    compress: Callable[[], Awaitable[Sequence[CompressionResult]]],
    texts: Sequence[str],
    ids: Sequence[Any],
    *,
    method: str,
    on_error: OnError,
    adapter: str,
) -> Outcome:
    """:func:`compress_or_pass` for an awaitable compression (the same policy).

    Raises:
        Exception: Whatever ``compress`` raised, when ``on_error="raise"``.
    """
    try:
        results = list(await compress())
    except Exception as error:
        if on_error != "passthrough":
            raise
        return _passed_through(error, texts, method, adapter)
    return _outcome(results, ids, method)


def _outcome(results: Sequence[CompressionResult], ids: Sequence[Any], method: str) -> Outcome:
    return Outcome(
        texts=[r.text for r in results],
        stats=[result_stats(r) for r in results],
        dropped=[r.dropped for r in results],
        call=call_stats(results, ids, method),
        orders=[r.order for r in results],
    )


def _warn_passthrough(
    adapter: str, failed: str, returned: str, error: Exception, n: int, method: str
) -> dict[str, Any]:
    """Log a one-line warning (the traceback at debug level); the inputs' passthrough flag."""
    logger.warning(
        "%s: %s failed (%s: %s); returning the %d input(s) %s (on_error='passthrough')",
        adapter,
        failed,
        type(error).__name__,
        error,
        n,
        returned,
    )
    logger.debug("%s: traceback of the failure", adapter, exc_info=error)
    return {"error": error_text(error), "passthrough": True, "method": method}


def _passed_through(error: Exception, texts: Sequence[str], method: str, adapter: str) -> Outcome:
    """Every text back unchanged, flagged, with a one-line warning (``on_error="passthrough"``)."""
    flag = _warn_passthrough(adapter, "compression", "unchanged", error, len(texts), method)
    call = {
        "method": method,
        "documents": len(texts),
        "rate": 1.0,
        "dropped_ids": [],
        "error": flag["error"],
        "passthrough": True,
    }
    return Outcome(
        texts=list(texts),
        stats=[dict(flag) for _ in texts],
        dropped=[False] * len(texts),
        call=call,
        passthrough=True,
    )


@dataclass
class Scored:
    """What an indexing call in ``mode="score"`` produced for its texts, in input order.

    Attributes:
        extra: Metadata to add to each document: ``{"lingua_scores": JSON string}``, or
            nothing on passthrough.
        stats: The ``metadata["lingua"]`` dict of each input.
    """

    extra: list[dict[str, Any]]
    stats: list[dict[str, Any]]


def score_or_pass(settings: Any, texts: list[str]) -> Scored:
    """Store ``texts``' scores (:meth:`Compressor.score`) under the ``on_error`` policy."""
    method = resolve(settings.method)[0]
    try:
        payloads = settings.compressor.score(texts)
    except Exception as error:
        if settings.on_error != "passthrough":
            raise
        flag = _warn_passthrough(
            type(settings).__name__,
            "scoring",
            "without stored scores",
            error,
            len(texts),
            method,
        )
        return Scored([{} for _ in texts], [dict(flag) for _ in texts])
    strings = [dumps(p) for p in payloads]
    return Scored(
        [{SCORES_KEY: x} for x in strings],
        [{"method": method, "stored_scores_bytes": len(x)} for x in strings],
    )
