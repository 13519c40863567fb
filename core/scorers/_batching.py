"""Batching shared by the scorers: length-sorted padded batches, and OOM recovery.

Rows (token-id sequences) run longest first in batches of at most ``batch_tokens`` padded tokens.
Every row is padded to a multiple of :data:`PAD_MULTIPLE` tokens and a batch holds rows of one
padded length only, so that a row's scores do not depend on its batch-mates: padded to its
batch's longest row, a bf16 MiniLM embedding moves with the batch enough to change a selection;
padded to a multiple of 8 and batched by padded length, it is bit-identical alone and in any
batch. This is what lets concurrent calls share batches (:mod:`lingua_core.models.batcher`) and
stored scores equal online ones.
When a batch runs out of accelerator memory it is split in halves and retried, down to a single
row; a single row that still does not fit raises a ``RuntimeError`` that says what to lower.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from lingua_core._deps import require

logger = logging.getLogger(__name__)

Row = TypeVar("Row")

#: Rows are padded to a multiple of this many tokens (and batched by padded length).
PAD_MULTIPLE = 8


def padded_length(n: int, max_width: int | None = None) -> int:
    """Length a row of ``n`` tokens is padded to (at most ``max_width``, never below ``n``)."""
    width = -(-max(1, n) // PAD_MULTIPLE) * PAD_MULTIPLE
    return width if max_width is None else max(n, min(width, max_width))


def is_oom(error: BaseException) -> bool:
    """Whether ``error`` is an out-of-memory error from torch (CUDA, MPS or the CPU allocator)."""
    torch = require("torch")
    oom_types = tuple(
        t
        for t in (getattr(torch, "OutOfMemoryError", None), torch.cuda.OutOfMemoryError)
        if isinstance(t, type)
    )
    return isinstance(error, oom_types) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
    )


def _free_cache() -> None:
    torch = require("torch")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_in_batches(
    rows: Sequence[Row],
    length: Callable[[Row], int],
    batch_tokens: int,
    step: Callable[[Sequence[Row]], None],
    runner: Callable[..., Any] | None = None,
    max_width: int | None = None,
    bucket: bool = True,
) -> None:
    """Run ``step`` over ``rows`` (sorted longest first) in padded-token-capped batches.

    Args:
        rows: The rows, longest first.
        length: Padded length of a row.
        batch_tokens: Most padded tokens per batch (a batch holds at least one row).
        step: Runs one batch and stores its results.
        runner: Runs each ``step`` as ``runner(step, batch)``: the model's
            :meth:`~lingua_core.models.LoadedModel.run`, so that threads sharing a model hand
            their batches to its one worker and memory stays that of one batch. ``None`` runs
            them in the calling thread.
        max_width: Most tokens the model takes per row (padding stops there); give ``step``'s
            :func:`pad` the same.
        bucket: Batch rows of one :func:`padded_length` only (``False``: a step that pads
            its own rows, such as the iterative scorer's key-value groups).

    Raises:
        RuntimeError: When a single row does not fit in memory.
    """
    i = 0
    while i < len(rows):
        width = padded_length(length(rows[i]), max_width) if bucket else length(rows[i])
        per_batch = max(1, batch_tokens // width)
        j = i + 1
        while (
            j < len(rows)
            and j - i < per_batch
            and (not bucket or padded_length(length(rows[j]), max_width) == width)
        ):
            j += 1
        _run_splitting(rows[i:j], length, step, runner or _inline)
        i = j


def map_rows(
    rows: Sequence[Sequence[int]],
    forward: Callable[[Any, Any], np.ndarray],
    per_row: Callable[[np.ndarray, int], np.ndarray],
    *,
    pad_id: int,
    device: str,
    batch_tokens: int,
    runner: Callable[..., Any] | None = None,
    max_width: int | None = None,
) -> list[np.ndarray]:
    """One result per row of token ids, in order: what every scorer's batcher computes.

    Rows run longest first in :func:`run_in_batches`; ``forward(ids, mask)`` gives a batch's
    output as a numpy array (one leading entry per row) and ``per_row(output_b, n)`` cuts out a
    row of ``n`` tokens' result (copied, so it does not hold the batch's memory).
    """
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    out: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(rows)

    def step(batch: Sequence[int]) -> None:
        ids, mask = pad([rows[i] for i in batch], pad_id, device, max_width)
        got = forward(ids, mask)
        for b, i in enumerate(batch):
            out[i] = per_row(got[b], len(rows[i])).copy()

    run_in_batches(order, lambda i: len(rows[i]), batch_tokens, step, runner, max_width=max_width)
    return out


def _run_splitting(
    batch: Sequence[Row],
    length: Callable[[Row], int],
    step: Callable[[Sequence[Row]], None],
    runner: Callable[..., Any],
) -> None:
    try:
        runner(step, batch)
        return
    except Exception as e:
        if not is_oom(e):
            raise
        _free_cache()
        if len(batch) == 1:
            msg = (
                f"out of memory on a single row of {length(batch[0])} tokens; lower the window "
                "(window= or max_len=), use dtype='bfloat16', a smaller model, or the CPU"
            )
            raise RuntimeError(msg) from e
        logger.warning("out of memory on a batch of %d rows; splitting it", len(batch))
    mid = len(batch) // 2
    _run_splitting(batch[:mid], length, step, runner)
    _run_splitting(batch[mid:], length, step, runner)


def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def pad(
    rows: Sequence[Sequence[int] | np.ndarray],
    pad_id: int,
    device: str,
    max_width: int | None = None,
) -> tuple[Any, Any]:
    """Right-padded ``input_ids`` and ``attention_mask`` on ``device`` (pinned copy on CUDA).

    The width is the longest row's :func:`padded_length` (a multiple of :data:`PAD_MULTIPLE`,
    at most ``max_width``).
    """
    torch = require("torch")
    longest = padded_length(max(len(r) for r in rows), max_width)
    ids = np.full((len(rows), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), longest), dtype=np.int64)
    for b, row in enumerate(rows):
        ids[b, : len(row)] = row
        mask[b, : len(row)] = 1
    ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
    pin = device.startswith("cuda")
    if pin:
        ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
    return ids_t.to(device, non_blocking=pin), mask_t.to(device, non_blocking=pin)


def resolve_batch_tokens(
    given: int | None, device: str, *, cpu: int, cuda: int, at_least: int = 1
) -> int:
    """The ``batch_tokens`` cap a scorer uses: the given one, else its CPU or CUDA default.

    Args:
        given: The caller's cap, or None for the scorer's default.
        device: The model's device (``cuda...`` takes the CUDA default).
        cpu: The default on CPU (and MPS), measured per scorer on CPU.
        cuda: The default on CUDA.
        at_least: The smallest cap that still holds one row (a chunk or a window).

    Returns:
        The cap, at least ``at_least``.
    """
    if given is None:
        given = cuda if device.startswith("cuda") else cpu
    return max(int(given), at_least)
