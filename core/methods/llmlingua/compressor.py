"""The LLMLingua and LongLLMLingua compressors: their options and the three-stage pipeline."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from lingua_core.base import FORCE_CONTEXT_IDS, Option, flag, forced_positions, is_int
from lingua_core.methods._lm import LM_OPTIONS
from lingua_core.methods.llmlingua.budget import (
    _context_budget_ok,
    apply_context_budget,
    rank_deltas,
    reorder,
)
from lingua_core.methods.llmlingua.stages import LLMLinguaStages
from lingua_core.outcome import CallContext, TextOutcome
from lingua_core.rank import (
    CONDITIONS,
    FUSIONS,
    RANK_ALIASES,
    RANK_METHODS,
    SIGNALS,
    check_signals,
    rank_texts,
)
from lingua_core.text import (
    Units,
    assemble,
)

logger = logging.getLogger(__name__)

REORDERS = ("original", "sort", "two_stage")
CONDITION_CHOICES = (*CONDITIONS, *(f"{c}_condition" for c in CONDITIONS))


def _signals_ok(v: Any) -> bool:
    try:
        check_signals(v)
    except ValueError:
        return False
    return not isinstance(v, str)


def _nonneg_int(v: Any) -> bool:
    return is_int(v) and v >= 0


class LLMLinguaCompressor(LLMLinguaStages):
    """LLMLingua: budget controller and iterative token-level compression under a causal LM."""

    method = "llmlingua"
    description = "Budget controller + iterative token-level perplexity compression (small LM)."
    default_rate = 0.5
    options_spec: ClassVar[dict[str, Option]] = {
        "iterative_size": Option(
            200,
            "Tokens per segment of iterative token-level compression.",
            check=lambda v: is_int(v) and v >= 1,
            expect="an int >= 1",
        ),
        "unit": Option(
            "token",
            "What the token level keeps or drops: 'token' (LM tokens, the reference) or 'word' "
            "(whole words, scored by the mean of their tokens, so no word is cut in pieces).",
            choices=("token", "word"),
        ),
        "use_context_level_filter": flag(True, "Drop whole texts first, by rank."),
        "use_sentence_level_filter": flag(False, "Drop whole sentences next, by rank."),
        "use_token_level_filter": flag(True, "Drop tokens last (iterative compression)."),
        "context_budget": Option(
            "+100",
            "Slack of the context-level budget: an operator and a number ('+100', '*1.5').",
            check=_context_budget_ok,
            expect="a string like '+100', '-50', '*1.5' or '/2'",
        ),
        "token_budget_ratio": Option(
            1.4,
            "Sentence-level budget as a multiple of the budget.",
            check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
            expect="a positive number",
        ),
        "force_context_ids": FORCE_CONTEXT_IDS,
        "keep_first_sentence": Option(
            0,
            "Sentences kept whole at the start of each text.",
            check=_nonneg_int,
            expect="an int >= 0",
        ),
        "keep_last_sentence": Option(
            0,
            "Sentences kept whole at the end of each text.",
            check=_nonneg_int,
            expect="an int >= 0",
        ),
        "keep_sentence_number": Option(
            0,
            "Best-ranked sentences of each text the sentence-level filter always keeps.",
            check=_nonneg_int,
            expect="an int >= 0",
        ),
        "keep_split": flag(
            False,
            "Keep blank-line breaks: the tokens on both sides of each blank line are kept, so "
            "the break stays in the output.",
        ),
        "rank_method": Option(
            "llmlingua",
            "Coarse ranking: 'llmlingua' (perplexity), 'longllmlingua' (question likelihood), "
            "'bm25', 'embedding' (cosine of sentence embeddings, alias 'sentbert'), 'hybrid' "
            "(BM25 + question likelihood) or 'fused' (rank_signals combined by fusion).",
            choices=(*RANK_METHODS, *RANK_ALIASES),
        ),
        "rank_signals": Option(
            ("embedding", "bm25", "lm"),
            f"Signals of rank_method='fused', from {', '.join(SIGNALS)} ('lm': question "
            "likelihood).",
            check=_signals_ok,
            expect=f"a list of signals from {', '.join(SIGNALS)}",
        ),
        "fusion": Option(
            "z",
            "How rank_method='fused' combines signals: 'z' (sum of z-scores) or 'rrf' "
            "(reciprocal-rank fusion).",
            choices=FUSIONS,
        ),
        "embedding_model": Option(
            None,
            "Sentence-embedding model of the 'embedding' ranking and signal: None (the embedded "
            "MiniLM), a folder or a hub id.",
            check=lambda v: v is None or isinstance(v, str),
            expect="None or a str",
        ),
        "condition_in_question": Option(
            "none",
            "'after' ranks by p(question | text), 'before' by p(text | question), 'none' by the "
            "text alone; the suffix '_condition' also conditions token scores on the question.",
            choices=CONDITION_CHOICES,
        ),
        "condition_compare": flag(
            False,
            "Contrastive perplexity: keep the tokens whose surprisal drops most given the "
            "question (implies '_condition').",
        ),
        "dynamic_context_compression_ratio": Option(
            0.0,
            "Spread of per-text ratios by rank: the best text keeps this much more than the "
            "average, the worst this much less.",
            check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
            expect="a number in [0, 1]",
        ),
        "reorder_context": Option(
            "original",
            "Prompt order of kept texts (result.order): 'original', 'sort' (best first) or "
            "'two_stage' (best at both ends).",
            choices=REORDERS,
        ),
        "instruction": Option(
            "",
            "Text that conditions the token scores (placed before the texts); never returned.",
            check=lambda v: isinstance(v, str),
            expect="a str",
        ),
        **LM_OPTIONS,
    }

    # ------------------------------------------------------------------ pipeline

    def _compress_texts(
        self,
        texts: list[str],
        n_tokens: list[int],
        query: str | None,
        rate: float | None,
        target_tokens: int | None,
        opts: dict[str, Any],
        call: CallContext,
    ) -> list[TextOutcome]:
        plan = self._plan(opts, query)
        total = float(sum(n_tokens))
        target = self._total_budget(n_tokens, rate, target_tokens)
        n = len(texts)
        forced_ctx = forced_positions(opts, call)
        counter = self.token_counter
        fits = target >= total

        # 1. Context level.
        used = list(range(n))
        relevance: np.ndarray | None = None
        coarse = opts["use_context_level_filter"] and n > 1
        if coarse and (not fits or opts["reorder_context"] != "original"):
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
            budget = apply_context_budget(opts["context_budget"], target)
            budget -= sum(n_tokens[i] for i in used)
            for i in ranked:
                if i in forced_ctx:
                    continue
                if budget < 0 and not fits:
                    break
                budget -= n_tokens[i]
                used.append(i)
        prompt = reorder(used, opts["reorder_context"]) if coarse else used
        deltas: dict[int, float] = {}
        if relevance is not None:  # dynamic ratios follow the ranking (none without one)
            spread = rank_deltas(len(used), opts["dynamic_context_compression_ratio"])
            deltas = dict(zip(used, spread.tolist()))

        # Units of every kept text: LM tokens (token level) or sentences.
        kept_idx = sorted(used)
        keeps: dict[int, np.ndarray] = {}
        units: dict[int, Units] = {}
        if fits:
            for i in kept_idx:
                units[i] = Units.from_lists([0], [len(texts[i])])
                keeps[i] = np.ones(1, dtype=bool)
        else:
            self._fine(texts, kept_idx, target, deltas, plan, opts, units, keeps, counter)

        out: list[TextOutcome] = []
        position = {i: p for p, i in enumerate(prompt)}
        for i, text in enumerate(texts):
            rel = None if relevance is None else float(relevance[i])
            place = position.get(i) if coarse and i in keeps else None
            if i not in keeps:
                out.append(TextOutcome.dropped(order=place, relevance=rel))
                continue
            t, spans = assemble(text, units[i], keeps[i])
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
    options_spec: ClassVar[dict[str, Option]] = {
        **LLMLinguaCompressor.options_spec,
        "rank_method": Option(
            "longllmlingua",
            LLMLinguaCompressor.options_spec["rank_method"].doc,
            choices=(*RANK_METHODS, *RANK_ALIASES),
        ),
        "condition_in_question": Option(
            "after_condition",
            LLMLinguaCompressor.options_spec["condition_in_question"].doc,
            choices=CONDITION_CHOICES,
        ),
        "condition_compare": flag(True, LLMLinguaCompressor.options_spec["condition_compare"].doc),
        "dynamic_context_compression_ratio": Option(
            0.3,
            LLMLinguaCompressor.options_spec["dynamic_context_compression_ratio"].doc,
            check=LLMLinguaCompressor.options_spec["dynamic_context_compression_ratio"].check,
            expect="a number in [0, 1]",
        ),
        "reorder_context": Option(
            "sort", LLMLinguaCompressor.options_spec["reorder_context"].doc, choices=REORDERS
        ),
    }
