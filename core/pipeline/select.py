"""Budgeted selection of units, shared by every method.

Each unit has a score (higher = keep first) and a cost (the counter's tokens it holds). Selection
keeps the highest-scored units whose costs fit the budget: units are taken in score order (ties:
earlier position first), a unit that would overflow is skipped and smaller ones after it still fill
the budget, and at the end the skipped unit that lands nearest the budget is added if that is at
least as near as stopping short. The best unit is never given up for worse ones: when it alone does
not fit, it is kept on its own, over the budget by at most that unit (units costed :data:`NEVER`
are never kept). With ``scope="text"`` a non-empty text always keeps at least its best unit; with
``scope="global"`` a text may lose every unit, and the compressor then reports it as ``dropped``
(as a coarse filter would). The achieved rate is therefore the closest the unit sizes allow; with
word-sized units it is within a few tokens of the request.

``scope="text"`` gives every text its own budget (``rate`` x its tokens), so a text's result does
not depend on the other texts of the call; ``scope="global"`` pools all units of all texts under
one budget, so informative texts keep more than redundant ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from lingua_core.pipeline.text import Units, assign_to_units
from lingua_core.pipeline.tokens import TokenCounter, token_ends_many

SCOPES = ("text", "global")

#: A cost that marks a unit as never selectable (callers mask units with it).
NEVER = 10**12
RULES = ("budget", "threshold")


def unit_costs_many(
    texts: Sequence[str],
    units: Sequence[Units],
    counter: TokenCounter,
    *,
    standalone: bool = False,
) -> list[np.ndarray]:
    """:func:`unit_costs` of several texts, tokenized in one call where the counter allows.

    ``standalone=True`` counts each unit's own text on its own (how LLMLingua-2 weighs words),
    every unit of every text in one call.
    """
    if standalone:  # every unit of every text counted in one call
        pieces = [u.texts(t) for t, u in zip(texts, units)]
        flat = counter.count([p for ps in pieces for p in ps])
        bounds = np.cumsum([0, *(len(ps) for ps in pieces)])
        arr = np.asarray(flat, dtype=np.int64)
        return [arr[a:b] for a, b in itertools.pairwise(bounds)]
    ends = token_ends_many(counter, texts)
    return [unit_costs(t, u, counter, ends=e) for t, u, e in zip(texts, units, ends)]


def unit_costs(
    text: str,
    units: Units,
    counter: TokenCounter,
    *,
    ends: np.ndarray | None = None,
) -> np.ndarray:
    """Tokens of ``counter`` held by each unit.

    In context (the default) a token of the whole text belongs to the unit where it ends, and
    tokens that end in whitespace between units (e.g. a newline token) are charged to the next
    unit, since runs are rejoined with whitespace anyway: the costs add up to the text's tokens.
    ``ends``: the text's token ends, if already known (:func:`token_ends_many`).
    """
    costs = np.zeros(len(units), dtype=np.int64)
    if len(units) == 0:
        return costs
    if ends is None:
        ends = counter.token_ends(text)
    if ends.size == 0:
        return costs
    pos = ends - 1
    idx = assign_to_units(units, pos)
    gap = idx < 0
    if gap.any():  # charge to the following unit (or the last one)
        nxt = np.searchsorted(units.starts, pos[gap], side="right")
        idx[gap] = np.minimum(nxt, len(units) - 1)
    np.add.at(costs, idx, 1)
    return costs


def _select(scores: np.ndarray, costs: np.ndarray, budget: float, forced: np.ndarray) -> np.ndarray:
    n = scores.shape[0]
    keep: np.ndarray = forced.copy()
    if n == 0:
        return keep
    used = float(costs[keep].sum())
    order = np.lexsort((np.arange(n), -scores))  # score desc, then position asc
    order = order[~keep[order]]
    oc = costs[order]
    cum = np.cumsum(oc) + used
    fits = int(np.searchsorted(cum, budget, side="right"))
    if fits == 0 and used < budget:
        best = order[costs[order] < NEVER]
        if best.size and costs[best[0]] > budget - used:
            # The best unit does not fit: keep it (over the budget by at most this unit)
            # rather than fill the budget with worse units; units that cost nothing come too.
            keep[best[0]] = True
            keep[order[costs[order] == 0]] = True
            return keep
    keep[order[:fits]] = True
    if fits:
        used = float(cum[fits - 1])
    rest = order[fits:]
    free = rest[costs[rest] == 0]
    keep[free] = True
    rest = rest[costs[rest] > 0]
    # Fill: keep taking, in score order, the next unit that still fits.
    while rest.size:
        ok = np.flatnonzero(costs[rest] <= budget - used)
        if ok.size == 0:
            break
        j = rest[ok[0]]
        keep[j] = True
        used += float(costs[j])
        rest = rest[ok[0] + 1 :]
    # Nearest: the skipped unit that lands nearest the budget (ties: the better scored), if that
    # is at least as near as stopping short.
    remaining = order[~keep[order]]
    if remaining.size and used < budget:
        j = remaining[int(np.argmin(np.abs(used + costs[remaining] - budget)))]
        if used + costs[j] - budget <= budget - used:
            keep[j] = True
    return keep


def _threshold(
    scores: np.ndarray, costs: np.ndarray, budget: float, forced: np.ndarray
) -> np.ndarray:
    """Keep units scoring above the token-weighted ``1 - rate`` quantile (LLMLingua-2's rule)."""
    total = float(costs.sum())
    if scores.shape[0] == 0 or total <= 0:
        none: np.ndarray = forced.copy()
        return none
    rate = min(max(budget / total, 0.0), 1.0)
    threshold = float(np.percentile(np.repeat(scores, costs), 100.0 * (1.0 - rate)))
    keep: np.ndarray = (scores > threshold) | ((threshold == 1.0) & (scores == threshold)) | forced
    return keep


def _keep_one(keep: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """A non-empty text never comes back empty: keep at least its best unit."""
    if keep.size and not keep.any():
        keep = keep.copy()
        keep[int(np.argmax(scores))] = True
    return keep


def select(
    scores: Sequence[np.ndarray],
    costs: Sequence[np.ndarray],
    budgets: Sequence[float],
    *,
    scope: str = "text",
    forced: Sequence[np.ndarray] | None = None,
    rule: str = "budget",
) -> list[np.ndarray]:
    """Choose the units to keep.

    Args:
        scores: Per text, one score per unit (higher is kept first).
        costs: Per text, the tokens of each unit.
        budgets: Per text, its budget in tokens (``scope="text"``); with ``scope="global"`` their
            sum is the one budget.
        scope: ``"text"`` or ``"global"``.
        forced: Per text, a mask of units that are always kept (they count against the budget).
        rule: ``"budget"`` (greedy fill to the budget, described above) or ``"threshold"`` (keep
            units scoring above the token-weighted quantile ``1 - budget / tokens``, the
            reference LLMLingua-2 rule: no fill, so it can land a little under the budget).

    Returns:
        Per text, a boolean mask over its units. With ``scope="text"`` a text with units keeps
        at least one; with ``scope="global"`` it may keep none.

    Raises:
        ValueError: For an unknown scope.
    """
    if scope not in SCOPES:
        msg = f"unknown threshold scope {scope!r}; valid: {', '.join(SCOPES)}"
        raise ValueError(msg)
    if rule not in RULES:
        msg = f"unknown selection rule {rule!r}; valid: {', '.join(RULES)}"
        raise ValueError(msg)
    pick = _select if rule == "budget" else _threshold
    forced_masks = [
        np.zeros(len(s), dtype=bool) if forced is None else np.asarray(forced[i], dtype=bool)
        for i, s in enumerate(scores)
    ]
    if scope == "text":
        return [
            _keep_one(pick(np.asarray(s, dtype=np.float64), np.asarray(c), b, f), s)
            for s, c, b, f in zip(scores, costs, budgets, forced_masks)
        ]
    sizes = [len(s) for s in scores]
    if sum(sizes) == 0:
        return [np.zeros(0, dtype=bool) for _ in sizes]
    keep = pick(
        np.concatenate([np.asarray(s, dtype=np.float64) for s in scores]),
        np.concatenate([np.asarray(c, dtype=np.int64) for c in costs]),
        float(sum(budgets)),
        np.concatenate(forced_masks),
    )
    return np.split(keep, np.cumsum(sizes)[:-1])
