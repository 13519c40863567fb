"""What an adapter's output documents carry: the stats, the metadata, the order.

Plain functions over core results, shared by the LangChain and LlamaIndex adapters (through
:mod:`lingua_core.frameworks.settings`); no framework and no pydantic here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lingua_core.base import CompressionResult
from lingua_core.stored.scores import METADATA_KEY

if TYPE_CHECKING:
    from lingua_core.frameworks.settings import Outcome

#: Metadata key of a document's stored scores (a JSON string, :func:`lingua_core.stored.dumps`):
#: written by ``LinguaDocumentTransformer(mode="score")``, read by the compressor adapters.
SCORES_KEY = METADATA_KEY

#: Metadata key under which adapters store a document's compression stats.
STATS_KEY = "lingua"

#: Most characters of an error message carried in passthrough stats (the full one is logged).
ERROR_CHARS = 200

#: Most bytes of lingua metadata (``metadata["lingua"]`` as JSON) an output document carries: the
#: stats are a handful of numbers; the stored-score payload never travels with an output.
MAX_LINGUA_BYTES = 512


def error_text(error: BaseException) -> str:
    """``"<ExceptionType>: <message>"``, as reported in passthrough stats and events.

    The message is cut at :data:`ERROR_CHARS` characters (with "..."), so that a document's
    metadata stays small; the warning logged with it has the whole message.
    """
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


def output_metadata(metadata: Mapping[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """An output document's metadata: the input's, less the stored scores, plus the stats.

    The stored-score payload (``metadata["lingua_scores"]``, kilobytes of base64) has served
    its purpose once the document is compressed; left in, it would reach the prompt of any
    template that formats metadata. The stats stay under :data:`MAX_LINGUA_BYTES` by
    construction: a few numbers, and an error message cut at :data:`ERROR_CHARS`.

    Args:
        metadata: The input document's metadata (not modified).
        stats: The document's ``metadata["lingua"]``.

    Returns:
        A new dict.
    """
    out = {k: v for k, v in metadata.items() if k != SCORES_KEY}
    out[STATS_KEY] = stats
    return out


#: Options by which a user asks a method to reorder texts for the prompt (adapters follow them).
REORDER_OPTIONS = ("reorder", "reorder_context")


def asks_to_reorder(options: Mapping[str, Any]) -> bool:
    """Whether the adapter's ``options`` ask for a prompt order other than the input order.

    Args:
        options: The adapter's ``options`` (what the user gave).

    Returns:
        True when ``reorder`` or ``reorder_context`` is given and is not ``"original"``.
    """
    return any(options.get(k, "original") != "original" for k in REORDER_OPTIONS)


def prompt_order(outcome: Outcome, reorder: bool) -> list[int]:
    """Indices of an outcome's documents in the order the adapter returns them.

    Documents come back in input order unless the user asked for a prompt order
    (:func:`asks_to_reorder`): then documents with an ``order`` come first, by it, and the
    others follow in input order, as :func:`lingua_core.join_results` does. Passthrough keeps
    the input order.

    Args:
        outcome: One adapter call's outcome.
        reorder: Whether the user asked the method to reorder texts.

    Returns:
        A permutation of ``range(len(outcome.texts))``.
    """
    if not reorder:
        return list(range(len(outcome.texts)))
    orders = outcome.orders or [None] * len(outcome.texts)
    return sorted(range(len(outcome.texts)), key=lambda i: (orders[i] is None, orders[i] or 0, i))


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


def fit_newest_first(used: Sequence[int], budget: int) -> list[int | None]:
    """Token targets that fit earlier compressed results into ``budget``, the newest first.

    What an agent's context budget does (``LinguaMiddleware(context_budget=...)``): walking from
    the newest result (the last) back, a result that fits in what is left keeps its size
    (``None``); the first that does not is given what is left, at least 1 token, and every older
    one 1 token, so older results shrink first.

    Args:
        used: Each result's tokens now, oldest first.
        budget: Tokens for all of them together.

    Returns:
        One target per result, oldest first: None (keep it) or the tokens to compress it to.
    """
    left = budget
    out: list[int | None] = [None] * len(used)
    for i in range(len(used) - 1, -1, -1):
        if used[i] <= left:
            left -= used[i]
            continue
        out[i] = max(1, left)
        left = 0
    return out
