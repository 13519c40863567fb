"""Selective Context (Li et al. 2023): drop the least informative units under a causal LM.

The self-information of a token is its surprisal ``-log p(token | preceding text)``; a unit's
is the sum over its tokens (the paper's additivity; ``aggregate="mean"`` scores by density
instead). Units are LM tokens, phrases (see :func:`lingua_core.pipeline.text.phrase_units` for the
offline approximation of noun chunks) or sentences; the highest-scored units are kept until the
rate or budget is met.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core.methods._lm import CausalLMCompressor, LMOptions
from lingua_core.models._lru import LRU
from lingua_core.options import budget_scope_option, option, unit_option
from lingua_core.pipeline.text import Units, assign_to_units, merge_overlapping, segment
from lingua_core.pipeline.tokens import encode_many
from lingua_core.scorers.lm import TokenScores
from lingua_core.stored.rows import current_call_rows


@dataclass(frozen=True)
class SelectiveContextOptions(LMOptions):
    """Options of ``selective_context``."""

    unit: str = unit_option(
        "phrase",
        ("token", "word", "phrase", "sentence"),
        "Lexical unit: 'token' (LM tokens), 'word', 'phrase' or 'sentence'.",
    )
    aggregate: str = option(
        "sum",
        "A unit's score from its tokens: 'sum' (the paper) or 'mean'.",
        choices=("sum", "mean"),
    )
    budget_scope: str | None = budget_scope_option()


class SelectiveContextCompressor(CausalLMCompressor[SelectiveContextOptions]):
    """Selective Context on the shared causal-LM scorer (embedded SmolLM2 by default)."""

    method = "selective_context"
    description = "Self-information of tokens, phrases or sentences under a small causal LM."
    default_rate = 0.5
    options_class = SelectiveContextOptions
    stores_scores = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cache = LRU(4096)

    def _surprisal(self, texts: list[str], opts: SelectiveContextOptions) -> list[TokenScores]:
        """Token surprisal of each text; cached, since it does not depend on the rate."""
        scorer = self._scorer(opts)
        keys = [(t, scorer.window, scorer.context, scorer.start_id) for t in texts]
        ctx = current_call_rows()
        if ctx is not None and ctx.recording:  # score(): every row must reach the record
            return scorer.surprisal(texts)  # type: ignore[no-any-return]
        out: list[TokenScores | None] = [self._cache.get(k) for k in keys]
        todo = [i for i, x in enumerate(out) if x is None]
        if todo:
            unique = list(dict.fromkeys(texts[i] for i in todo))  # duplicates scored once
            scored = dict(zip(unique, scorer.surprisal(unique)))
            for i in todo:
                out[i] = scored[texts[i]]
                self._cache[keys[i]] = out[i]
        return [x for x in out if x is not None]

    def _segment(self, text: str, opts: SelectiveContextOptions) -> Units:
        if opts.unit == "token":
            enc = encode_many(self._loaded().tokenizer, [text])[0]
            units, _ = merge_overlapping(enc.starts, enc.ends, text)
            if len(units):
                return units
            return segment(text, "word")  # no visible token (control characters): words
        return segment(text, opts.unit)

    def _score(
        self, texts: list[str], units: list[Units], query: str | None, opts: SelectiveContextOptions
    ) -> list[np.ndarray]:
        token_scores = self._surprisal(texts, opts)
        out = []
        for text, u, ts in zip(texts, units, token_scores):
            merged = merge_overlapping(ts.starts, ts.ends, text) if opts.unit == "token" else None
            if merged is not None and len(merged[0]) == len(u):
                idx = merged[1]
            else:
                # A token belongs to the unit holding its last non-space character.
                idx = assign_to_units(u, np.maximum(ts.ends - 1, ts.starts))
            ok = idx >= 0
            sums: np.ndarray = np.bincount(idx[ok], weights=ts.scores[ok], minlength=len(u))
            if opts.aggregate == "mean":
                counts = np.bincount(idx[ok], minlength=len(u))
                sums = sums / np.maximum(counts, 1)
            out.append(sums)
        return out
