"""The LLMLingua and LongLLMLingua compressors: the three-stage pipeline."""

from __future__ import annotations

import logging

import numpy as np

from lingua_core.methods.llmlingua.budget import apply_context_budget, rank_deltas, reorder
from lingua_core.methods.llmlingua.options import LLMLinguaOptions, LongLLMLinguaOptions
from lingua_core.methods.llmlingua.stages import LLMLinguaStages
from lingua_core.methods.llmlingua.token_filter import Kept
from lingua_core.options import forced_positions
from lingua_core.pipeline.contract import Call, TextOutcome
from lingua_core.pipeline.text import assemble
from lingua_core.scorers.rank import rank_texts

logger = logging.getLogger(__name__)


class LLMLinguaCompressor(LLMLinguaStages):
    """LLMLingua: budget controller and iterative token-level compression under a causal LM."""

    method = "llmlingua"
    description = "Budget controller + iterative token-level perplexity compression (small LM)."
    default_rate = 0.5
    options_class = LLMLinguaOptions

    # ------------------------------------------------------------------ pipeline

    def _compress_texts(self, call: Call[LLMLinguaOptions]) -> list[TextOutcome]:
        texts, n_tokens, opts = call.texts, call.n_tokens, call.options
        plan = self._plan(opts, call.query)
        total = float(sum(n_tokens))
        target = self._total_budget(call)
        n = len(texts)
        forced_ctx = forced_positions(opts.force_context_ids, call)
        fits = target >= total

        # 1. Context level.
        used = list(range(n))
        relevance: np.ndarray | None = None
        coarse = opts.use_context_level_filter and n > 1
        if coarse and (not fits or opts.reorder_context != "original"):
            scorer = self._scorer(opts) if self._uses_lm(plan, opts) else None
            order, relevance = rank_texts(
                texts,
                plan.question,
                cache=self._rank_cache,
                on_text_scores=None if scorer is None else self._reuse(scorer, opts),
                **self._rank_args(plan, opts, scorer),
            )
            ranked = [int(i) for i in order]
            # Forced texts first (they count against the budget), then best ranked until the
            # budget is spent; the text that crosses it is kept, as in the reference.
            used = [i for i in ranked if i in forced_ctx]
            budget = apply_context_budget(opts.context_budget, target)
            budget -= sum(n_tokens[i] for i in used)
            for i in ranked:
                if i in forced_ctx:
                    continue
                if budget < 0 and not fits:
                    break
                budget -= n_tokens[i]
                used.append(i)
        prompt = reorder(used, opts.reorder_context) if coarse else used
        deltas: dict[int, float] = {}
        if relevance is not None:  # dynamic ratios follow the ranking (none without one)
            spread = rank_deltas(len(used), opts.dynamic_context_compression_ratio)
            deltas = dict(zip(used, spread.tolist()))

        # Units of every kept text: LM tokens (token level) or sentences.
        kept_idx = sorted(used)
        if fits:
            kept = {i: Kept.whole(texts[i]) for i in kept_idx}
        else:
            kept = self._fine(texts, kept_idx, target, deltas, plan, opts)

        out: list[TextOutcome] = []
        position = {i: p for p, i in enumerate(prompt)}
        for i, text in enumerate(texts):
            rel = None if relevance is None else float(relevance[i])
            place = position.get(i) if coarse and i in kept else None
            if i not in kept:
                out.append(TextOutcome.dropped(order=place, relevance=rel))
                continue
            t, spans = assemble(text, kept[i].units, kept[i].keep)
            out.append(TextOutcome(t, spans, place if spans else None, rel))
        # Number the prompt positions of the texts that kept something 0, 1, 2, ...
        placed = sorted((o.order, j) for j, o in enumerate(out) if o.order is not None)
        for rank, (_, j) in enumerate(placed):
            out[j].order = rank
        return out


class LongLLMLinguaCompressor(LLMLinguaCompressor):
    """LongLLMLingua: question-aware ranking, contrastive perplexity, dynamic ratios, reordering.

    The same compressor as :class:`LLMLinguaCompressor` with the reference's recommended
    question-aware settings as defaults. Without a query it runs query-agnostic and logs so.
    """

    method = "longllmlingua"
    description = "Question-aware LLMLingua: ranked texts, contrastive perplexity, reordering."
    question_aware = True
    options_class = LongLLMLinguaOptions
