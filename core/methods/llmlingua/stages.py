"""LLMLingua's stages below the budget controller, shared with LongLLMLingua.

The plan (ranking method and question conditioning), the ranking arguments, and the sentence- and
token-level filters (iterative compression by surprisal).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core.methods._lm import CausalLMCompressor
from lingua_core.methods.llmlingua.budget import solve_ratios
from lingua_core.methods.llmlingua.options import LLMLinguaOptions
from lingua_core.methods.llmlingua.token_filter import (
    Kept,
    SentencePlan,
    blocks,
    decide,
    token_plan,
)
from lingua_core.models._lru import LRU
from lingua_core.pipeline.select import select, unit_costs
from lingua_core.pipeline.text import Units, sentence_units
from lingua_core.scorers.rank import (
    rank_method_name,
    rank_texts,
)

logger = logging.getLogger(__name__)


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
        from lingua_core.scorers.embed import Embedder

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
    ) -> dict[int, Kept]:
        """Sentence- and token-level selection of the kept texts: what each keeps."""
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
            return {i: Kept(sents[i], sent_keep[i]) for i in kept_idx}
        sentences = {i: SentencePlan(sents[i], sent_keep[i], protected[i]) for i in kept_idx}
        return self._token_filter(texts, sentences, target, deltas, plan, opts)

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
        sentences: dict[int, SentencePlan],
        target: float,
        deltas: dict[int, float],
        plan: _Plan,
        opts: LLMLinguaOptions,
    ) -> dict[int, Kept]:
        """Iterative token-level compression of the kept texts (keys of ``sentences``)."""
        from lingua_core.scorers.iterative import iterative_scores

        kept_idx = list(sentences)
        scorer = self._scorer(opts)
        toks = scorer.tokenize([texts[i] for i in kept_idx])
        plans = {
            i: token_plan(
                texts[i],
                tk,
                sentences[i],
                unit=opts.unit,
                keep_split=opts.keep_split,
                counter=self.token_counter,
            )
            for i, tk in zip(kept_idx, toks)
        }
        forced_cost = sum(plans[i].forced_cost for i in kept_idx)
        solved = solve_ratios(
            [plans[i].free_cost for i in kept_idx],
            [deltas.get(i, 0.0) for i in kept_idx],
            target - forced_cost,
        )
        ratios = dict(zip(kept_idx, solved))
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
        items = [(i, p) for i in kept_idx for p in blocks(plans[i], block)]

        def on_segment(item: int, s: int, e: int, scores: list[np.ndarray]) -> np.ndarray:
            i, p = items[item]
            return decide(plans[i], p[s:e], scores, ratios[i], compare=plan.compare)

        _, item_keeps = iterative_scores(
            scorer,
            [[plans[i].ids[j] for j in p.tolist()] for i, p in items],
            variants,
            opts.iterative_size,
            on_segment,
            first_cache=self._first_cache,
        )
        token_keep = {i: np.zeros(len(plans[i].ids), dtype=bool) for i in kept_idx}
        for (i, p), k in zip(items, item_keeps):
            token_keep[i][p] = k
        return {i: plans[i].unit_keep(token_keep[i]) for i in kept_idx}
