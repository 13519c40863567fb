r"""Learned question-aware pruning (``pruner``): a cross-encoder labels the sentences to keep.

One forward reads the question with each passage (windows of the model's length for long
ones) and gives every token a keep probability and every passage a relevance score; a sentence's
score is its tokens' probabilities combined by the family's rule (mean for OpenProvence, Zilliz
and lingua-rag; Provence's share of tokens over the threshold), see
:mod:`lingua_core.scorers.pruner`. Then, as everywhere in lingua-rag:

- ``rate`` / ``target_tokens``: the best sentences of all texts under one budget;
- ``rate="auto"``: every sentence whose score passes the threshold (the family's published one
  unless ``threshold=`` says otherwise), the model choosing the length;
- a text with nothing kept comes back ``dropped``; ``result.order`` ranks kept texts by the
  relevance score; a text's title line comes with its kept sentences (``keep_titles``).

``model=None`` runs the pruner lingua-rag ships (trained on the embedded MiniLM: see the docs'
models page for its data and training command); ``model=`` takes a folder or hub id of naver
Provence / XProvence, OpenProvence, Zilliz semantic-highlight (unverified: its code is not
public), verbatim-rag's token classifier, or a folder written by ``lingua train pruner``
(:mod:`lingua_core.models.pruners`; never remote code). Without a query each text keeps its
leading sentences (no model pass), logged once per compressor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core.methods import _first_stage as first_stage
from lingua_core.methods._model import ModelCompressor
from lingua_core.methods._sentences import (
    has_kept,
    leading_keep,
    outcomes,
    select_with_titles,
    warn_no_query_once,
)
from lingua_core.models import LoadedModel
from lingua_core.options import MethodOptions, flag, is_int, max_wait_option, option
from lingua_core.pipeline.contract import Call, TextOutcome
from lingua_core.pipeline.passages import title_of
from lingua_core.pipeline.select import unit_costs_many
from lingua_core.pipeline.text import sentence_units

logger = logging.getLogger(__name__)


def _unit_interval(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1)


@dataclass(frozen=True)
class PrunerOptions(MethodOptions):
    """Options of ``pruner``."""

    threshold: float | None = option(
        None,
        "rate='auto' keeps sentences scoring above this; None: the model family's published "
        "threshold (Provence and OpenProvence 0.1, verbatim-rag 0.2, lingua-rag's from "
        "validation).",
        check=_unit_interval,
        expect="None or a number in [0, 1]",
    )
    sentence_rule: str | None = option(
        None,
        "How token probabilities make a sentence score: 'mean' (their mean) or 'decisions' "
        "(the share of tokens above the threshold, Provence's); None: the family's.",
        choices=(None, "mean", "decisions"),
    )
    relevance_weight: float = option(
        0.0,
        "Weight of the text's relevance (as a probability) added to its sentences' scores.",
        check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
        expect="a number >= 0",
    )
    drop_below: float | None = option(
        None,
        "Drop a text whose relevance probability is below this, whatever its sentences score; "
        "None: a text is dropped only when none of its sentences is kept.",
        check=_unit_interval,
        expect="None or a number in [0, 1]",
    )
    keep_titles: bool = flag(
        True,
        "A kept text keeps its title (short first line), charged to the budget; titles are "
        "never kept alone.",
    )
    reorder: str = option(
        "sort",
        "Prompt order of kept texts (result.order): 'sort' (most relevant first) or 'original'.",
        choices=("sort", "original"),
    )
    first_stage_words: int | None = option(
        4000,
        "Inputs of more words than this are first cut into ~120-word chunks, and only the "
        "best chunks by BM25, up to this many words, are read by the model (a 50,000-word "
        "file in about two seconds on a 2-core CPU); None reads everything.",
        check=lambda v: v is None or (is_int(v) and v >= 100),
        expect="None or an int >= 100",
    )
    window: int | None = option(
        None,
        "Most tokens per forward row, special tokens included; longer texts are windowed at "
        "sentence ends. None: the model's (256 for lingua-rag's, 512 for the others).",
        check=lambda v: v is None or (is_int(v) and v >= 32),
        expect="None or an int >= 32",
    )
    max_question: int = option(
        64,
        "Most question tokens read with each window.",
        check=lambda v: is_int(v) and v >= 1,
        expect="an int >= 1",
    )
    batch_tokens: int | None = option(
        None,
        "Most padded tokens per forward pass. None: 2048 on CPU, 16384 on CUDA.",
        check=lambda v: v is None or (is_int(v) and v > 0),
        expect="None or a positive int",
    )
    max_wait_ms: float = max_wait_option()


def as_probability(relevance: np.ndarray, kind: str) -> np.ndarray:
    """Relevance scores as probabilities (a Provence ranking logit through a sigmoid)."""
    r = np.where(np.isfinite(relevance), relevance, -50.0 if kind == "logit" else 0.0)
    return 1.0 / (1.0 + np.exp(-r)) if kind == "logit" else r


class PrunerCompressor(ModelCompressor[PrunerOptions]):
    """A trained cross-encoder pruner (lingua-rag's own, Provence, OpenProvence, ...)."""

    method = "pruner"
    description = (
        "Learned pruner: a cross-encoder reads question and passage and labels the sentences "
        "to keep (embedded MiniLM pruner, or Provence / OpenProvence / Zilliz / verbatim-rag)."
    )
    default_model_name = "lingua-pruner"
    default_rate = 0.5
    supports_auto_rate = True
    question_aware = True
    options_class = PrunerOptions
    no_query_note = "no query: each text's leading sentences"

    def _load(self) -> LoadedModel:
        from lingua_core.models.pruners import load_pruner

        return load_pruner(
            self.model, device=self.device, dtype=self.dtype, model_kwargs=self.model_kwargs
        )

    def spec(self) -> Any:
        """The loaded family's :class:`~lingua_core.models.pruners.PrunerSpec`."""
        return self._loaded().facts["pruner_spec"]

    def _scorer(self, opts: PrunerOptions) -> Any:
        from lingua_core.scorers.pruner import PrunerScorer

        return PrunerScorer(
            self._loaded(),
            window=opts.window,
            max_question=opts.max_question,
            batch_tokens=opts.batch_tokens,
            max_wait_ms=opts.max_wait_ms,
        )

    def _compress_texts(self, call: Call[PrunerOptions]) -> list[TextOutcome]:
        texts, n_tokens, opts, question = call.texts, call.n_tokens, call.options, call.question
        if question:
            chunked = first_stage.run(self, call)
            if chunked is not None:
                return chunked
        units = [sentence_units(t) for t in texts]
        sizes = [len(u) for u in units]
        if not sum(sizes):
            return [TextOutcome.whole(t) for t in texts]
        is_title = np.zeros(sum(sizes), dtype=bool)
        first = np.r_[0, np.cumsum(sizes)[:-1]]
        for i, (t, u) in enumerate(zip(texts, units)):
            if opts.keep_titles and title_of(t, u):
                is_title[first[i]] = True
        titles = is_title if opts.keep_titles else None
        costs = np.concatenate(unit_costs_many(texts, units, self.token_counter))
        if not question:
            warn_no_query_once(self)
            keep = leading_keep(
                sizes, costs, titles, n_tokens, self._rate(call), call.target_tokens
            )
            return outcomes(texts, units, keep)
        spec = self.spec()
        threshold = spec.threshold if opts.threshold is None else float(opts.threshold)
        scored = self._scorer(opts).score(question, texts, units, threshold, opts.sentence_rule)
        relevance = as_probability(np.asarray([s.relevance for s in scored]), spec.relevance)
        doc = np.repeat(np.arange(len(texts)), sizes)
        score = np.concatenate([s.sentences for s in scored]).astype(np.float64)
        if opts.relevance_weight:
            score = score + float(opts.relevance_weight) * relevance[doc]
        if call.rate == "auto":
            keep = (score > threshold) & ~is_title
        else:
            keep = select_with_titles(score, costs, self._total_budget(call), doc, titles)
        if opts.drop_below is not None:
            keep &= (relevance >= float(opts.drop_below))[doc]
        if titles is not None:
            keep |= is_title & has_kept(keep & ~is_title, doc)[doc]
        return outcomes(texts, units, keep, relevance, opts.reorder)
