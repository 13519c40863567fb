"""LLMLingua's budget controller: the context budget expression, per-text ratios, ranks."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_BUDGET_RE = re.compile(r"^\s*([+\-*/])\s*(\d+(?:\.\d+)?)\s*$")


def _context_budget_ok(v: Any) -> bool:
    return isinstance(v, str) and _BUDGET_RE.match(v) is not None and v.strip() != "/0"


def apply_context_budget(expr: str, target: float) -> float:
    """``target`` adjusted by a context-budget expression such as ``"+100"`` or ``"*1.5"``.

    The reference ``eval``s the string; this parses one operator and one number.
    """
    m = _BUDGET_RE.match(expr)
    if m is None:  # validated before; kept for direct callers
        msg = f"invalid context_budget {expr!r}; expected an operator and a number, e.g. '+100'"
        raise ValueError(msg)
    op, num = m.group(1), float(m.group(2))
    if op == "+":
        return target + num
    if op == "-":
        return target - num
    if op == "*":
        return target * num
    return target / num if num else target


def solve_ratios(sizes: Sequence[float], deltas: Sequence[float], budget: float) -> np.ndarray:
    """Per-text keep ratios ``clip(tau + delta_i, 0, 1)`` with ``sum(ratio_i * size_i) = budget``.

    The reference adds the rank-based deltas to one base ratio and clips, which misses the
    budget when ratios clip or texts differ in size; here the base ``tau`` is solved (bisection)
    so that the total lands on the budget.
    """
    n = np.asarray(sizes, dtype=np.float64)
    d = np.asarray(deltas, dtype=np.float64)
    if n.size == 0:
        return np.zeros(0)
    if budget >= n.sum():
        return np.ones(n.size)
    if budget <= 0:
        return np.zeros(n.size)
    lo, hi = -1.0 - float(np.abs(d).max()), 1.0 + float(np.abs(d).max())
    for _ in range(60):
        mid = (lo + hi) / 2
        if float((np.clip(mid + d, 0, 1) * n).sum()) < budget:
            lo = mid
        else:
            hi = mid
    return np.clip(hi + d, 0.0, 1.0)


def reorder(used: Sequence[int], how: str) -> list[int]:
    """Prompt order of the kept texts, from ``used`` (best ranked first)."""
    if how == "original":
        return sorted(used)
    if how == "sort":
        return list(used)
    return list(used[0::2]) + list(used[1::2])[::-1]  # two_stage: best at both ends


def rank_deltas(n: int, ratio: float) -> np.ndarray:
    """LongLLMLingua's dynamic ratios: ``+ratio`` for the best ranked text down to ``-ratio``."""
    if n <= 1 or ratio <= 0:
        return np.zeros(n)
    return ratio * (n - 1 - 2 * np.arange(n)) / (n - 1)
