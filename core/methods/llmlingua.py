"""LLMLingua (Jiang et al. 2023) and LongLLMLingua (Jiang et al. 2024) on the shared causal LM.

One budget (``rate`` x the tokens of all texts, or ``target_tokens``) is met in three stages, as
in the reference's ``compress_prompt``:

1. **Context level** (``use_context_level_filter``): texts are ranked (``rank_method``) and kept
   best first until the budget plus ``context_budget`` is spent; the rest come back ``dropped``.
   LLMLingua ranks by perplexity (informative texts first); LongLLMLingua by how likely the
   question is given the text (``condition_in_question="after"``), by BM25, or by both.
2. **Sentence level** (``use_sentence_level_filter``, off by default as in the reference):
   sentences of the kept texts ranked the same way, kept under ``token_budget_ratio`` x budget.
3. **Token level** (``use_token_level_filter``): iterative compression. Each text is cut into
   segments of ``iterative_size`` tokens; a segment's tokens are scored by surprisal given the
   conditioning prefix (instruction, and the question when ``condition_in_question`` ends in
   ``_condition``) and the tokens already kept, and the most surprising (or, with
   ``condition_compare``, those the question makes most predictable: contrastive perplexity) are
   kept at the text's ratio. With ``dynamic_context_compression_ratio`` the ratio falls linearly
   with the text's rank; the ratios are solved so that the total meets the budget.

``reorder_context`` does not reorder the results (they always come back in input order): it sets
each result's ``order``; :func:`lingua_core.join_results` builds the prompt in that order.

Differences from the reference, on purpose: texts are scored as rows of one batch, each
conditioned on the prefix only rather than on the preceding texts (so a text's tokens do not
depend on where the ranking put it, and texts batch); a text longer than the model window is
compressed in window-sized blocks; ``rate`` counts the texts' tokens only (the instruction and
question condition the scores but are never returned or charged); sentences kept by
``keep_first_sentence`` / ``keep_last_sentence`` are kept whole, per text; the output is
extractive (original characters; runs joined by one space).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lingua_core._lru import LRU
from lingua_core.base import FORCE_CONTEXT_IDS, Option, flag, forced_positions, is_int
from lingua_core.methods._lm import LM_OPTIONS, CausalLMCompressor
from lingua_core.rank import (
    CONDITIONS,
    FUSIONS,
    RANK_ALIASES,
    RANK_METHODS,
    SIGNALS,
    check_signals,
    rank_method_name,
    rank_texts,
)
from lingua_core.select import select, unit_costs
from lingua_core.text import (
    Units,
    assemble,
    assign_to_units,
    merge_overlapping,
    sentence_units,
    word_units,
)

logger = logging.getLogger(__name__)

REORDERS = ("original", "sort", "two_stage")
CONDITION_CHOICES = (*CONDITIONS, *(f"{c}_condition" for c in CONDITIONS))
_BUDGET_RE = re.compile(r"^\s*([+\-*/])\s*(\d+(?:\.\d+)?)\s*$")
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")


def _signals_ok(v: Any) -> bool:
    try:
        check_signals(v)
    except ValueError:
        return False
    return not isinstance(v, str)


def _nonneg_int(v: Any) -> bool:
    return is_int(v) and v >= 0


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


@dataclass
class _Plan:
    rank_method: str
    condition: str  # none / before / after (ranking)
    condition_tokens: bool  # question conditions token scores
    compare: bool
    question: str


class LLMLinguaCompressor(CausalLMCompressor):
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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rank_cache = LRU(65536)
        self._first_cache = LRU(8192)
        self._embedders: dict[str | None, Any] = {}

    # ------------------------------------------------------------------ plan

    def _plan(self, opts: dict[str, Any], query: str | None) -> _Plan:
        rank = rank_method_name(opts["rank_method"])
        cond = opts["condition_in_question"]
        compare = bool(opts["condition_compare"])
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

    def _reuse(self, scorer: Any, opts: dict[str, Any]) -> Any:
        """A callback that files the ranking pass's text scores as first-segment scores.

        Ranking by perplexity (or by the question after the text) already scores each text's
        tokens given the start token alone: exactly the token level's first segment without a
        prefix. Filing them saves the token level that forward.
        """
        if scorer.start_id is None:
            return None
        lead = (int(scorer.start_id),)
        size = opts["iterative_size"]

        def keep(_: int, ids: list[int], scores: np.ndarray) -> None:
            if ids and not np.isnan(scores[: min(size, len(ids))]).any():
                self._first_cache[(lead, tuple(ids[:size]))] = scores[:size].copy()

        return keep

    @staticmethod
    def _uses_lm(plan: _Plan, opts: dict[str, Any]) -> bool:
        if plan.rank_method == "fused":
            return "lm" in opts["rank_signals"]
        return plan.rank_method not in ("bm25", "embedding")

    def _rank_args(self, plan: _Plan, opts: dict[str, Any], scorer: Any) -> dict[str, Any]:
        embedder = None
        if plan.rank_method == "embedding" or (
            plan.rank_method == "fused" and "embedding" in opts["rank_signals"]
        ):
            embedder = self._embedder(opts["embedding_model"])
        return {
            "method": plan.rank_method,
            "scorer": scorer,
            "condition": plan.condition,
            "embedder": embedder,
            "signals": tuple(opts["rank_signals"]),
            "fusion": opts["fusion"],
        }

    def _embedder(self, model: str | None) -> Any:
        from lingua_core.embed import Embedder

        with self._lock:
            if model not in self._embedders:
                self._embedders[model] = Embedder(model, device=self.device)
            return self._embedders[model]

    # ------------------------------------------------------------------ pipeline

    def _compress_texts(
        self,
        texts: list[str],
        n_tokens: list[int],
        query: str | None,
        rate: float | None,
        target_tokens: int | None,
        opts: dict[str, Any],
    ) -> list[tuple[Any, ...]]:
        plan = self._plan(opts, query)
        total = float(sum(n_tokens))
        if target_tokens is not None:
            target = float(target_tokens)
        else:
            target = (self.default_rate if rate is None else float(rate)) * total
        n = len(texts)
        forced_ctx = forced_positions(opts)
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

        out: list[tuple[Any, ...]] = []
        position = {i: p for p, i in enumerate(prompt)}
        for i, text in enumerate(texts):
            extra: dict[str, Any] = {
                "relevance": None if relevance is None else float(relevance[i]),
                "order": position.get(i) if coarse and i in keeps else None,
            }
            if i not in keeps:
                out.append(("", [], extra))
                continue
            t, spans = assemble(text, units[i], keeps[i])
            if not spans:
                extra["order"] = None
            out.append((t, spans, extra))
        # Number the prompt positions of the texts that kept something 0, 1, 2, ...
        placed = sorted((x[2]["order"], j) for j, x in enumerate(out) if x[2]["order"] is not None)
        for rank, (_, j) in enumerate(placed):
            out[j][2]["order"] = rank
        return out

    def _fine(
        self,
        texts: list[str],
        kept_idx: list[int],
        target: float,
        deltas: dict[int, float],
        plan: _Plan,
        opts: dict[str, Any],
        units: dict[int, Units],
        keeps: dict[int, np.ndarray],
        counter: Any,
    ) -> None:
        """Sentence- and token-level selection of the kept texts (fills ``units``, ``keeps``)."""
        first, last = opts["keep_first_sentence"], opts["keep_last_sentence"]
        need = (
            opts["use_sentence_level_filter"] or first or last or not opts["use_token_level_filter"]
        )
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
        if opts["use_sentence_level_filter"] and sum(len(s) for s in sents.values()) > 1:
            sent_keep = self._sentence_filter(texts, kept_idx, sents, protected, target, plan, opts)
        if not opts["use_token_level_filter"]:
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
        opts: dict[str, Any],
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
            best = opts["keep_sentence_number"]
            if best:
                f[np.argsort(-s, kind="stable")[:best]] = True
            scores.append(s)
            costs.append(unit_costs(texts[i], sents[i], counter))
            forced.append(f)
        budget = target * float(opts["token_budget_ratio"])
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
        opts: dict[str, Any],
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
            if opts["unit"] == "word":  # a token belongs to the word holding its last char
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
            if opts["keep_split"]:
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
        instr = opts["instruction"].strip()
        with_q = [p for p in (instr, plan.question if plan.condition_tokens else "") if p]
        variants_text = ["\n\n".join(with_q) + "\n\n" if with_q else ""]
        if plan.compare:
            variants_text.append(instr + "\n\n" if instr else "")
        variants = [
            scorer._truncated(scorer.tokenize([v])[0][0]) if v else [] for v in variants_text
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
            opts["iterative_size"],
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
