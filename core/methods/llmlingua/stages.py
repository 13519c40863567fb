"""LLMLingua's stages below the budget controller, shared with LongLLMLingua.

The plan (ranking method and question conditioning), the ranking arguments, and the sentence- and
token-level filters (iterative compression by surprisal).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core._lru import LRU
from lingua_core.methods._lm import CausalLMCompressor
from lingua_core.methods.llmlingua.budget import solve_ratios
from lingua_core.methods.llmlingua.options import LLMLinguaOptions
from lingua_core.rank import (
    rank_method_name,
    rank_texts,
)
from lingua_core.select import select, unit_costs
from lingua_core.text import (
    Units,
    assign_to_units,
    merge_overlapping,
    sentence_units,
    word_units,
)

logger = logging.getLogger(__name__)

_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")


@dataclass
class _Plan:
    rank_method: str
    condition: str  # none / before / after (ranking)
    condition_tokens: bool  # question conditions token scores
    compare: bool
    question: str


class LLMLinguaStages(CausalLMCompressor[LLMLinguaOptions]):
    """The planning, ranking and filtering steps LLMLingua and LongLLMLingua share."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rank_cache = LRU(65536)
        self._first_cache = LRU(8192)
        self._embedders: dict[str | None, Any] = {}

    # ------------------------------------------------------------------ plan

    def _plan(self, opts: LLMLinguaOptions, query: str | None) -> _Plan:
        rank = rank_method_name(opts.rank_method)
        cond = opts.condition_in_question
        compare = bool(opts.condition_compare)
        cond_tokens = cond.endswith("_condition") or compare
        cond = cond.removesuffix("_condition")
        question = (query or "").strip()
        if rank == "longllmlingua" and cond == "none":
            cond = "after"  # as the reference
        needs_question = rank != "llmlingua" or cond_tokens
        if needs_question and not question:
            logger.warning(
                "%s: no query given; compressing query-agnostic (rank by perplexity, no "
                "question conditioning)",
                self.method,
            )
            return _Plan("llmlingua", "none", False, False, "")
        return _Plan(rank, cond, cond_tokens, compare, question)

    def _reuse(self, scorer: Any, opts: LLMLinguaOptions) -> Any:
        """A callback that files the ranking pass's text scores as first-segment scores.

        Ranking by perplexity (or by the question after the text) already scores each text's
        tokens given the start token alone: exactly the token level's first segment without a
        prefix. Filing them saves the token level that forward.
        """
        if scorer.start_id is None:
            return None
        lead = (int(scorer.start_id),)
        size = opts.iterative_size

        def keep(_: int, ids: list[int], scores: np.ndarray) -> None:
            if ids and not np.isnan(scores[: min(size, len(ids))]).any():
                self._first_cache[(lead, tuple(ids[:size]))] = scores[:size].copy()

        return keep

    @staticmethod
    def _uses_lm(plan: _Plan, opts: LLMLinguaOptions) -> bool:
        if plan.rank_method == "fused":
            return "lm" in opts.rank_signals
        return plan.rank_method not in ("bm25", "embedding")

    def _rank_args(self, plan: _Plan, opts: LLMLinguaOptions, scorer: Any) -> dict[str, Any]:
        embedder = None
        if plan.rank_method == "embedding" or (
            plan.rank_method == "fused" and "embedding" in opts.rank_signals
        ):
            embedder = self._embedder(opts.embedding_model)
        return {
            "method": plan.rank_method,
            "scorer": scorer,
            "condition": plan.condition,
            "embedder": embedder,
            "signals": tuple(opts.rank_signals),
            "fusion": opts.fusion,
        }

    def _embedder(self, model: str | None) -> Any:
        from lingua_core.embed import Embedder

        with self._lock:
            if model not in self._embedders:
                self._embedders[model] = Embedder(model, device=self.device)
            return self._embedders[model]

    def _fine(
        self,
        texts: list[str],
        kept_idx: list[int],
        target: float,
        deltas: dict[int, float],
        plan: _Plan,
        opts: LLMLinguaOptions,
        units: dict[int, Units],
        keeps: dict[int, np.ndarray],
        counter: Any,
    ) -> None:
        """Sentence- and token-level selection of the kept texts (fills ``units``, ``keeps``)."""
        first, last = opts.keep_first_sentence, opts.keep_last_sentence
        need = opts.use_sentence_level_filter or first or last or not opts.use_token_level_filter
        empty = Units.from_lists([], [])
        sents = {i: sentence_units(texts[i]) if need else empty for i in kept_idx}
        protected = {}
        for i in kept_idx:
            m = np.zeros(len(sents[i]), dtype=bool)
            if first:
                m[:first] = True
            if last:
                m[max(0, len(sents[i]) - last) :] = True
            protected[i] = m
        sent_keep = {i: np.ones(len(sents[i]), dtype=bool) for i in kept_idx}
        if opts.use_sentence_level_filter and sum(len(s) for s in sents.values()) > 1:
            sent_keep = self._sentence_filter(texts, kept_idx, sents, protected, target, plan, opts)
        if not opts.use_token_level_filter:
            for i in kept_idx:
                units[i] = sents[i]
                keeps[i] = sent_keep[i]
            return
        self._token_filter(
            texts,
            kept_idx,
            sents,
            sent_keep,
            protected,
            target,
            deltas,
            plan,
            opts,
            units,
            keeps,
            counter,
        )

    def _sentence_filter(
        self,
        texts: list[str],
        kept_idx: list[int],
        sents: dict[int, Units],
        protected: dict[int, np.ndarray],
        target: float,
        plan: _Plan,
        opts: LLMLinguaOptions,
    ) -> dict[int, np.ndarray]:
        counter = self.token_counter
        flat: list[str] = []
        for i in kept_idx:
            flat.extend(sents[i].texts(texts[i]))
        scorer = self._scorer(opts) if self._uses_lm(plan, opts) else None
        _, rel = rank_texts(
            flat, plan.question, cache=self._rank_cache, **self._rank_args(plan, opts, scorer)
        )
        scores, costs, forced = [], [], []
        pos = 0
        for i in kept_idx:
            k = len(sents[i])
            s = np.asarray(rel[pos : pos + k], dtype=np.float64)
            pos += k
            f = protected[i].copy()
            best = opts.keep_sentence_number
            if best:
                f[np.argsort(-s, kind="stable")[:best]] = True
            scores.append(s)
            costs.append(unit_costs(texts[i], sents[i], counter))
            forced.append(f)
        budget = target * float(opts.token_budget_ratio)
        masks = select(scores, costs, [budget], scope="global", forced=forced)
        return dict(zip(kept_idx, masks))

    def _token_filter(
        self,
        texts: list[str],
        kept_idx: list[int],
        sents: dict[int, Units],
        sent_keep: dict[int, np.ndarray],
        protected: dict[int, np.ndarray],
        target: float,
        deltas: dict[int, float],
        plan: _Plan,
        opts: LLMLinguaOptions,
        units: dict[int, Units],
        keeps: dict[int, np.ndarray],
        counter: Any,
    ) -> None:
        from lingua_core.scorers.iterative import iterative_scores

        scorer = self._scorer(opts)
        toks = scorer.tokenize([texts[i] for i in kept_idx])
        # Per text: LM-token units, which tokens take part, their costs and forced flags.
        item_ids: list[list[int]] = []
        item_src: list[tuple[int, np.ndarray]] = []  # (text index, positions of its tokens)
        tok_info: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        sizes, forced_cost = [], 0.0
        for i, (ids, starts, ends) in zip(kept_idx, toks):
            text = texts[i]
            if opts.unit == "word":  # a token belongs to the word holding its last char
                u = word_units(text)
                tok_unit = assign_to_units(u, np.maximum(ends - 1, starts))
                tok_unit[ends <= starts] = -1
            else:
                u, tok_unit = merge_overlapping(starts, ends, text)
            units[i] = u
            ucost = unit_costs(text, u, counter).astype(np.float64)
            per_unit = np.bincount(tok_unit[tok_unit >= 0], minlength=max(len(u), 1))
            safe = np.maximum(tok_unit, 0)
            tcost = np.zeros(len(ids), dtype=np.float64)
            if len(u):
                tcost = np.where(tok_unit >= 0, ucost[safe] / np.maximum(per_unit[safe], 1), 0.0)
            # Tokens inside a removed sentence take no part; protected sentences are forced.
            s_idx = _sentence_of(sents[i], starts, ends)
            allowed = np.ones(len(ids), dtype=bool)
            forced = np.zeros(len(ids), dtype=bool)
            inside = s_idx >= 0
            allowed[inside] = sent_keep[i][s_idx[inside]]
            forced[inside] = protected[i][s_idx[inside]]
            if opts.keep_split:
                forced |= _split_flanks(text, starts, ends, tok_unit)
            tok_info[i] = (tok_unit, tcost, allowed, forced)
            sizes.append(float(tcost[allowed & ~forced].sum()))
            forced_cost += float(tcost[allowed & forced].sum())
        ratios = dict(
            zip(
                kept_idx,
                solve_ratios(sizes, [deltas.get(i, 0.0) for i in kept_idx], target - forced_cost),
            )
        )
        # Conditioning prefixes (variants): with the question and, for contrastive scores,
        # without it.
        instr = opts.instruction.strip()
        with_q = [p for p in (instr, plan.question if plan.condition_tokens else "") if p]
        variants_text = ["\n\n".join(with_q) + "\n\n" if with_q else ""]
        if plan.compare:
            variants_text.append(instr + "\n\n" if instr else "")
        variants = [
            scorer.conditioning_ids(scorer.tokenize([v])[0][0]) if v else [] for v in variants_text
        ]
        block = max(1, scorer.window - 1 - max(len(v) for v in variants))
        for i, (ids, _, _) in zip(kept_idx, toks):
            allowed = tok_info[i][2]
            pos = np.flatnonzero(allowed)
            # Balanced blocks: a text past the window is cut into equal parts, never into full
            # blocks and a tiny last one scored with almost no context.
            size = -(-len(pos) // max(1, -(-len(pos) // block))) if len(pos) else block
            for b in range(0, len(pos), size):
                p = pos[b : b + size]
                item_ids.append([ids[j] for j in p.tolist()])
                item_src.append((i, p))

        def decide(item: int, s: int, e: int, scores: list[np.ndarray]) -> np.ndarray:
            i, p = item_src[item]
            _, tcost, _, forced = tok_info[i]
            # With compare: the surprisal drop given the question (contrastive perplexity).
            sc = scores[1] - scores[0] if plan.compare else scores[0]
            sc = np.nan_to_num(np.asarray(sc, dtype=np.float64), nan=np.inf)
            c = tcost[p[s:e]]
            f = forced[p[s:e]]
            budget = ratios[i] * float(c[~f].sum()) + float(c[f].sum())
            # Tokens of one unit (a word, or byte pieces of one character) are kept or dropped
            # together, by their mean score; tokens outside units (whitespace) stand alone.
            g = tok_info[i][0][p[s:e]]
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
            return keep[inv]

        _, item_keeps = iterative_scores(
            scorer,
            item_ids,
            variants,
            opts.iterative_size,
            decide,
            first_cache=self._first_cache,
        )
        tok_keep = {i: np.zeros(len(tok_info[i][0]), dtype=bool) for i in kept_idx}
        for (i, p), k in zip(item_src, item_keeps):
            tok_keep[i][p] = k
        for i in kept_idx:
            tok_unit = tok_info[i][0]
            keep = np.zeros(len(units[i]), dtype=bool)
            hit = tok_keep[i] & (tok_unit >= 0)
            keep[tok_unit[hit]] = True
            keeps[i] = keep


def _sentence_of(sents: Units, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sentence index of each token (by its last character), -1 outside sentences."""
    return assign_to_units(sents, np.maximum(np.asarray(ends) - 1, np.asarray(starts)))


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
