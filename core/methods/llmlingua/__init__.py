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

from lingua_core.methods.llmlingua.budget import (
    apply_context_budget,
    rank_deltas,
    reorder,
    solve_ratios,
)
from lingua_core.methods.llmlingua.compressor import LLMLinguaCompressor, LongLLMLinguaCompressor
from lingua_core.methods.llmlingua.options import (
    CONDITION_CHOICES,
    REORDERS,
    LLMLinguaOptions,
    LongLLMLinguaOptions,
)

__all__ = [
    "CONDITION_CHOICES",
    "REORDERS",
    "LLMLinguaCompressor",
    "LLMLinguaOptions",
    "LongLLMLinguaCompressor",
    "LongLLMLinguaOptions",
    "apply_context_budget",
    "rank_deltas",
    "reorder",
    "solve_ratios",
]
