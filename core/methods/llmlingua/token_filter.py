"""LLMLingua's token level, as data: what each kept text offers the iterative filter, and the rule.

:class:`TokenPlan` holds one kept text's part in the token-level filter (its units, the unit of
each LM token, each token's share of its unit's cost, which tokens take part and which are
forced); :func:`token_plan` builds it, :func:`blocks` cuts its tokens into window-sized blocks
and :func:`decide` is the rule applied to each scored segment. The stages
(:mod:`lingua_core.methods.llmlingua.stages`) run them through the iterative scorer and get one
:class:`Kept` per text back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lingua_core.pipeline.select import select, unit_costs
from lingua_core.pipeline.text import Units, assign_to_units, merge_overlapping, word_units
from lingua_core.pipeline.tokens import TokenCounter

_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class Kept:
    """What the fine stages keep of one text: its units and a mask over them."""

    units: Units
    keep: np.ndarray

    @classmethod
    def whole(cls, text: str) -> Kept:
        """The whole text as one kept unit."""
        return cls(Units.from_lists([0], [len(text)]), np.ones(1, dtype=bool))


@dataclass(frozen=True)
class SentencePlan:
    """A kept text's sentences: which the sentence filter kept and which are protected."""

    units: Units
    keep: np.ndarray
    protected: np.ndarray


@dataclass(frozen=True)
class TokenPlan:
    """One kept text's part in the token-level filter.

    Attributes:
        ids: The text's LM token ids.
        units: What is kept or dropped whole: LM tokens (merged where they overlap) or words.
        tok_unit: The unit of each token; -1 for tokens outside every unit (whitespace).
        cost: Each token's share of its unit's cost (in the compressor's token counter).
        allowed: Tokens that take part (those inside sentences the sentence filter dropped do
            not).
        forced: Tokens always kept (protected sentences, blank-line flanks with keep_split).
    """

    ids: list[int]
    units: Units
    tok_unit: np.ndarray
    cost: np.ndarray
    allowed: np.ndarray
    forced: np.ndarray

    @property
    def free_cost(self) -> float:
        """Cost of the tokens the ratio applies to (taking part, not forced)."""
        return float(self.cost[self.allowed & ~self.forced].sum())

    @property
    def forced_cost(self) -> float:
        """Cost of the forced tokens that take part."""
        return float(self.cost[self.allowed & self.forced].sum())

    def unit_keep(self, token_keep: np.ndarray) -> Kept:
        """The units holding a kept token."""
        keep = np.zeros(len(self.units), dtype=bool)
        hit = token_keep & (self.tok_unit >= 0)
        keep[self.tok_unit[hit]] = True
        return Kept(self.units, keep)


def token_plan(
    text: str,
    tokens: tuple[list[int], np.ndarray, np.ndarray],
    sentences: SentencePlan,
    *,
    unit: str,
    keep_split: bool,
    counter: TokenCounter,
) -> TokenPlan:
    """The :class:`TokenPlan` of ``text`` from its tokens ``(ids, starts, ends)``.

    Args:
        text: The text.
        tokens: Its LM token ids and character offsets.
        sentences: Its sentences, as the sentence level left them.
        unit: ``"token"`` or ``"word"`` (a token belongs to the word holding its last
            character).
        keep_split: Force the tokens on both sides of each blank line.
        counter: The token counter costs are in.
    """
    ids, starts, ends = tokens
    if unit == "word":
        u = word_units(text)
        tok_unit = assign_to_units(u, np.maximum(ends - 1, starts))
        tok_unit[ends <= starts] = -1
    else:
        u, tok_unit = merge_overlapping(starts, ends, text)
    ucost = unit_costs(text, u, counter).astype(np.float64)
    per_unit = np.bincount(tok_unit[tok_unit >= 0], minlength=max(len(u), 1))
    safe = np.maximum(tok_unit, 0)
    cost = np.zeros(len(ids), dtype=np.float64)
    if len(u):
        cost = np.where(tok_unit >= 0, ucost[safe] / np.maximum(per_unit[safe], 1), 0.0)
    # Tokens inside a removed sentence take no part; protected sentences are forced.
    s_idx = assign_to_units(sentences.units, np.maximum(np.asarray(ends) - 1, np.asarray(starts)))
    allowed = np.ones(len(ids), dtype=bool)
    forced = np.zeros(len(ids), dtype=bool)
    inside = s_idx >= 0
    allowed[inside] = sentences.keep[s_idx[inside]]
    forced[inside] = sentences.protected[s_idx[inside]]
    if keep_split:
        forced |= _split_flanks(text, starts, ends, tok_unit)
    return TokenPlan(list(ids), u, tok_unit, cost, allowed, forced)


def blocks(plan: TokenPlan, block: int) -> list[np.ndarray]:
    """Positions of the taking-part tokens, cut into balanced blocks of at most ``block``.

    A text past the window is cut into equal parts, never into full blocks and a tiny last one
    scored with almost no context.
    """
    pos = np.flatnonzero(plan.allowed)
    size = -(-len(pos) // max(1, -(-len(pos) // block))) if len(pos) else block
    return [pos[b : b + size] for b in range(0, len(pos), size)]


def decide(
    plan: TokenPlan,
    positions: np.ndarray,
    scores: list[np.ndarray],
    ratio: float,
    *,
    compare: bool,
) -> np.ndarray:
    """Which tokens of one scored segment are kept (a mask over ``positions``).

    The segment keeps ``ratio`` of its free cost plus its forced tokens, most surprising first
    (with ``compare``: largest surprisal drop given the question, contrastive perplexity). Tokens
    of one unit (a word, or byte pieces of one character) are kept or dropped together, by
    their mean score; tokens outside units (whitespace) stand alone.
    """
    sc = scores[1] - scores[0] if compare else scores[0]
    sc = np.nan_to_num(np.asarray(sc, dtype=np.float64), nan=np.inf)
    c = plan.cost[positions]
    f = plan.forced[positions]
    budget = ratio * float(c[~f].sum()) + float(c[f].sum())
    g = plan.tok_unit[positions]
    keys = np.where(g >= 0, g, -1 - np.arange(g.shape[0]))
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))  # groups in text order
    inv = rank[inv]
    n = first.shape[0]
    gscore = np.bincount(inv, weights=sc, minlength=n) / np.bincount(inv, minlength=n)
    gscore = np.where(np.isnan(gscore), np.inf, gscore)
    gcost = np.bincount(inv, weights=c, minlength=n)
    gforced = np.bincount(inv, weights=f.astype(np.float64), minlength=n) > 0
    keep = select([gscore], [gcost], [budget], scope="global", forced=[gforced])[0]
    mask: np.ndarray = keep[inv]
    return mask


def _split_flanks(
    text: str, starts: np.ndarray, ends: np.ndarray, tok_unit: np.ndarray
) -> np.ndarray:
    """Tokens of the units just before and just after each blank line."""
    forced = np.zeros(len(starts), dtype=bool)
    if tok_unit.size == 0:
        return forced
    unit_start: dict[int, int] = {}
    unit_end = {}
    for t, u in enumerate(tok_unit.tolist()):
        if u < 0:
            continue
        unit_start.setdefault(u, int(starts[t]))
        unit_end[u] = int(ends[t])
    if not unit_start:
        return forced
    us = np.asarray(sorted(unit_start))
    begins = np.asarray([unit_start[u] for u in us])
    finish = np.asarray([unit_end[u] for u in us])
    chosen = set()
    for m in _BLANK_LINE_RE.finditer(text):
        before = np.flatnonzero(finish <= m.start())
        after = np.flatnonzero(begins >= m.end() - 1)
        if before.size and after.size:
            chosen.add(int(us[before[-1]]))
            chosen.add(int(us[after[0]]))
    if chosen:
        forced = np.isin(tok_unit, list(chosen))
    return forced
