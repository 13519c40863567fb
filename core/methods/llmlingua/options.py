"""The options of LLMLingua and LongLLMLingua: a frozen dataclass, and one changing defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lingua_core.methods._lm import LMOptions
from lingua_core.methods.llmlingua.budget import _context_budget_ok
from lingua_core.options import context_ids_option, flag, is_int, option, unit_option
from lingua_core.scorers.rank import (
    CONDITIONS,
    FUSIONS,
    RANK_ALIASES,
    RANK_METHODS,
    SIGNALS,
    check_signals,
)

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


@dataclass(frozen=True)
class LLMLinguaOptions(LMOptions):
    """Options of ``llmlingua`` (and, with other defaults, ``longllmlingua``)."""

    iterative_size: int = option(
        200,
        "Tokens per segment of iterative token-level compression.",
        check=lambda v: is_int(v) and v >= 1,
        expect="an int >= 1",
    )
    unit: str = unit_option(
        "word",
        ("word", "token"),
        "What the token level keeps or drops: 'word' (whole words, scored by the mean of their "
        "tokens: no word or number is cut in pieces) or 'token' (LM tokens, as Microsoft's "
        "llmlingua does: it can cut words and numbers, '75%' becoming '5%').",
    )
    use_context_level_filter: bool = flag(True, "Drop whole texts first, by rank.")
    use_sentence_level_filter: bool = flag(False, "Drop whole sentences next, by rank.")
    use_token_level_filter: bool = flag(True, "Drop tokens last (iterative compression).")
    context_budget: str = option(
        "+100",
        "Slack of the context-level budget: an operator and a number ('+100', '*1.5').",
        check=_context_budget_ok,
        expect="a string like '+100', '-50', '*1.5' or '/2'",
    )
    token_budget_ratio: float = option(
        1.4,
        "Sentence-level budget as a multiple of the budget.",
        check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
        expect="a positive number",
    )
    force_context_ids: tuple[int, ...] = context_ids_option()
    keep_first_sentence: int = option(
        0,
        "Sentences kept whole at the start of each text.",
        check=_nonneg_int,
        expect="an int >= 0",
    )
    keep_last_sentence: int = option(
        0,
        "Sentences kept whole at the end of each text.",
        check=_nonneg_int,
        expect="an int >= 0",
    )
    keep_sentence_number: int = option(
        0,
        "Best-ranked sentences of each text the sentence-level filter always keeps.",
        check=_nonneg_int,
        expect="an int >= 0",
    )
    keep_split: bool = flag(
        False,
        "Keep blank-line breaks: the tokens on both sides of each blank line are kept, so "
        "the break stays in the output.",
    )
    rank_method: str = option(
        "llmlingua",
        "Coarse ranking: 'llmlingua' (perplexity), 'longllmlingua' (question likelihood), "
        "'bm25', 'embedding' (cosine of sentence embeddings, alias 'sentbert'), 'hybrid' "
        "(BM25 + question likelihood) or 'fused' (rank_signals combined by fusion).",
        choices=(*RANK_METHODS, *RANK_ALIASES),
    )
    rank_signals: tuple[str, ...] = option(
        ("embedding", "bm25", "lm"),
        f"Signals of rank_method='fused', from {', '.join(SIGNALS)} ('lm': question likelihood).",
        check=_signals_ok,
        expect=f"a list of signals from {', '.join(SIGNALS)}",
    )
    fusion: str = option(
        "z",
        "How rank_method='fused' combines signals: 'z' (sum of z-scores) or 'rrf' "
        "(reciprocal-rank fusion).",
        choices=FUSIONS,
    )
    embedding_model: str | None = option(
        None,
        "Sentence-embedding model of the 'embedding' ranking and signal: None (the embedded "
        "MiniLM), a folder or a hub id.",
        check=lambda v: v is None or isinstance(v, str),
        expect="None or a str",
    )
    condition_in_question: str = option(
        "none",
        "'after' ranks by p(question | text), 'before' by p(text | question), 'none' by the "
        "text alone; the suffix '_condition' also conditions token scores on the question.",
        choices=CONDITION_CHOICES,
    )
    condition_compare: bool = flag(
        False,
        "Contrastive perplexity: keep the tokens whose surprisal drops most given the "
        "question (implies '_condition').",
    )
    dynamic_context_compression_ratio: float = option(
        0.0,
        "Spread of per-text ratios by rank: the best text keeps this much more than the "
        "average, the worst this much less.",
        check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
        expect="a number in [0, 1]",
    )
    reorder_context: str = option(
        "original",
        "Prompt order of kept texts (result.order): 'original', 'sort' (best first) or "
        "'two_stage' (best at both ends).",
        choices=REORDERS,
    )
    instruction: str = option(
        "",
        "Text that conditions the token scores (placed before the texts); never returned.",
        check=lambda v: isinstance(v, str),
        expect="a str",
    )


@dataclass(frozen=True)
class LongLLMLinguaOptions(LLMLinguaOptions):
    """Options of ``longllmlingua``: LLMLingua's, with the reference's question-aware defaults."""

    rank_method: str = LLMLinguaOptions.redefault("rank_method", "longllmlingua")
    condition_in_question: str = LLMLinguaOptions.redefault(
        "condition_in_question", "after_condition"
    )
    condition_compare: bool = LLMLinguaOptions.redefault("condition_compare", True)
    dynamic_context_compression_ratio: float = LLMLinguaOptions.redefault(
        "dynamic_context_compression_ratio", 0.3
    )
    reorder_context: str = LLMLinguaOptions.redefault("reorder_context", "sort")
