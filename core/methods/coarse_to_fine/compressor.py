"""The default method: question-aware, coarse to fine, under one budget (``coarse_to_fine``).

One pass of a small sentence encoder (the embedded all-MiniLM-L6-v2) and BM25 ranks the texts,
then the sentences within them (clauses of long ones), fusing the two signals; a multi-hop pass
re-scores every sentence against the question plus its best sentences and raises the texts
those sentences name (bridges); sentences are kept best first under one budget over all texts.
Each step and the reasons behind the defaults: docs/methods.md ("How the default works");
long inputs first go through :mod:`lingua_core.methods._first_stage`, and the learned pruner's
optional signal is in :mod:`lingua_core.methods.coarse_to_fine.pruner_signal`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core.methods import _first_stage as first_stage
from lingua_core.methods._sentences import (
    has_kept,
    leading_keep,
    outcomes,
    select_with_titles,
    warn_no_query_once,
)
from lingua_core.methods.coarse_to_fine.pruner_signal import add_pruner
from lingua_core.methods.coarse_to_fine.scores import FirstPass, raise_bridges
from lingua_core.methods.embedding import EmbeddingCompressor, EncoderOptions
from lingua_core.options import flag, is_int, option
from lingua_core.pipeline.contract import Call, TextOutcome
from lingua_core.pipeline.passages import bridge_names, split_long, title_of
from lingua_core.pipeline.select import unit_costs_many
from lingua_core.pipeline.text import Units, assign_to_units, sentence_units
from lingua_core.scorers.rank import FUSIONS, bm25_scores, fuse

logger = logging.getLogger(__name__)


def _weight(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


@dataclass(frozen=True)
class CoarseToFineOptions(EncoderOptions):
    """Options of ``coarse_to_fine``, the default method."""

    fusion: str = option(
        "z",
        "How signals combine: 'z' (weighted sum of z-scores) or 'rrf' (reciprocal ranks).",
        choices=FUSIONS,
    )
    doc_weight: float = option(
        1.0,
        "Weight of the text's relevance in a sentence's score.",
        check=_weight,
        expect="a number >= 0",
    )
    bm25_weight: float = option(
        0.3,
        "Weight of BM25 in a text's relevance (beside its best sentence cosine).",
        check=_weight,
        expect="a number >= 0",
    )
    sentence_bm25_weight: float = option(
        0.3,
        "Weight of a sentence's own BM25 score in its score.",
        check=_weight,
        expect="a number >= 0",
    )
    title_context: bool = flag(
        True, "Embed each sentence with its text's title (a short first line)."
    )
    multi_hop: bool = flag(
        True,
        "Re-score every sentence against the question plus its best sentences and keep the "
        "better score (finds second-hop passages).",
    )
    hop_sentences: int = option(
        4,
        "Best sentences added to the question for the multi-hop query.",
        check=lambda v: is_int(v) and v >= 1,
        expect="an int >= 1",
    )
    hop_weight: float = option(
        1.0,
        "Weight of the multi-hop score against the first (a sentence keeps the larger).",
        check=_weight,
        expect="a number >= 0",
    )
    bridge_weight: float = option(
        3.0,
        "Multi-hop: standard deviations added to the best units and the relevance of a "
        "bridge text (one whose title the best sentences of other texts name and the "
        "question does not); 0 turns bridges off.",
        check=_weight,
        expect="a number >= 0",
    )
    bridge_units: int = option(
        2,
        "Multi-hop: how many of a bridge text's best units are raised.",
        check=lambda v: is_int(v) and v >= 1,
        expect="an int >= 1",
    )
    hop_bm25: str = option(
        "question",
        "BM25 query of the multi-hop pass: 'question', or 'bridge' (the question plus the "
        "names in the best sentences that the question lacks: the bridge entities).",
        choices=("question", "bridge"),
    )
    max_unit_words: int = option(
        15,
        "Cut sentences longer than this many words at commas, semicolons and colons into "
        "clauses (pieces of at least 4 words); None keeps whole sentences.",
        check=lambda v: v is None or (is_int(v) and v >= 4),
        expect="None or an int >= 4",
    )
    keep_titles: bool = flag(
        True,
        "A kept text keeps its title (short first line), charged to the budget; titles are "
        "never kept alone. False: titles are units like any other.",
    )
    auto_threshold: float = option(
        0.5,
        "With rate='auto': keep sentences scoring at least this far from the worst to the "
        "best (0 keeps all, 1 only the best).",
        check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
        expect="a number in [0, 1]",
    )
    reorder: str = option(
        "sort",
        "Prompt order of kept texts (result.order): 'sort' (most relevant first) or 'original'.",
        choices=("sort", "original"),
    )
    pruner_weight: float = option(
        0.0,
        "Weight of the learned pruner's keep score (z-scored) in a unit's score; 0: off.",
        check=_weight,
        expect="a number >= 0",
    )
    pruner_relevance_weight: float = option(
        0.0,
        "Weight of the learned pruner's relevance (z-scored) in a text's relevance.",
        check=_weight,
        expect="a number >= 0",
    )
    pruner_span: float = option(
        3.0,
        "The pruner reads the best texts by the first signals up to this multiple of the "
        "budget (all texts with rate='auto').",
        check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1,
        expect="a number >= 1",
    )
    pruner_model: str | None = option(
        None,
        "The pruner: None (the embedded one), a folder or a hub id (see the pruner method).",
        check=lambda v: v is None or isinstance(v, str),
        expect="None or a str",
    )
    first_stage_words: int | None = option(
        4000,
        "Inputs of more words than this are first cut into ~120-word chunks, and only the "
        "best chunks by BM25, up to this many words, are read by the model (a 50,000-word "
        "file in about two seconds on a 2-core CPU); None reads everything.",
        check=lambda v: v is None or (is_int(v) and v >= 100),
        expect="None or an int >= 100",
    )


class CoarseToFineCompressor(EmbeddingCompressor[CoarseToFineOptions]):
    """Question-aware coarse-to-fine selection of sentences under one budget (the default)."""

    method = "coarse_to_fine"
    description = (
        "Default: texts and sentences ranked by fused embedding + BM25 signals with the query "
        "(one MiniLM pass), multi-hop re-scoring, one budget; rate='auto' adapts."
    )
    default_rate = 0.5
    supports_auto_rate = True
    options_class = CoarseToFineOptions
    scoring_overrides = {"multi_hop": False}  # noqa: RUF012 - read only

    no_query_note = "no query: each text's leading sentences"

    def _compress_texts(self, call: Call[CoarseToFineOptions]) -> list[TextOutcome]:
        texts, opts, question = call.texts, call.options, call.question
        if not question:
            return self._no_query(call)
        chunked = first_stage.run(self, call)
        if chunked is not None:
            return chunked
        units, flat, inputs, is_title, titles, groups = self._units(texts, opts)
        sizes = [len(u) for u in units]
        doc = np.repeat(np.arange(len(texts)), sizes)
        if not flat:
            return [TextOutcome.whole(t) for t in texts]
        vecs = self.embedder().embed([*inputs, question])
        sent_vecs, qvec = vecs[:-1], vecs[-1]
        text_bm25 = bm25_scores(texts, question)
        sent_bm25 = bm25_scores(flat, question)
        score, relevance = self._scores(sent_vecs @ qvec, doc, text_bm25, sent_bm25, opts)
        if opts.multi_hop and len(flat) > 1:
            first = FirstPass(texts, flat, doc, titles, question, sent_vecs, text_bm25, sent_bm25)
            top = np.argsort(-score, kind="stable")[: int(opts.hop_sentences)]
            score, relevance = self._hop(first, score, relevance, top, opts)
            score, relevance = raise_bridges(first, score, relevance, top, opts)

        budget = None if call.rate == "auto" else self._total_budget(call)
        if opts.pruner_weight or opts.pruner_relevance_weight:
            score, relevance = add_pruner(self._pruner(opts), call, units, score, relevance, budget)
        if budget is None:
            lo, hi = float(score.min()), float(score.max())
            keep = score >= lo + float(opts.auto_threshold) * (hi - lo)
            if opts.keep_titles:
                keep &= ~is_title
        else:
            costs = np.concatenate(unit_costs_many(texts, units, self.token_counter))
            keep = select_with_titles(
                score, costs, budget, doc, is_title if opts.keep_titles else None
            )
        if opts.keep_titles:
            keep |= is_title & has_kept(keep & ~is_title, doc)[doc]
        return outcomes(texts, units, keep, relevance, opts.reorder, groups)

    def _pruner(self, opts: CoarseToFineOptions) -> Any:
        """The pruner's scorer (its model loaded and shared on first use)."""
        from lingua_core.models.pruners import load_pruner
        from lingua_core.scorers.pruner import PrunerScorer

        loaded = load_pruner(opts.pruner_model, device=self.device)
        return PrunerScorer(loaded, batch_tokens=opts.batch_tokens, max_wait_ms=opts.max_wait_ms)

    def _no_query(self, call: Call[CoarseToFineOptions]) -> list[TextOutcome]:
        """Without a query: each text's leading sentences (no model pass at all).

        Answers are specific facts, which encyclopaedic and news text states early; on the
        tuning sets leading sentences kept the answer more often than random or central ones
        and than ``naive`` (figures: docs/methods.md, "No query"). The rate applies to
        every text on its own (``"auto"``: :attr:`default_rate`); ``target_tokens`` is one
        budget over all texts, shared out by position (every text's first sentence, then every
        second one). Logged once per compressor.
        """
        texts, opts = call.texts, call.options
        warn_no_query_once(self)
        units, flat, _, is_title, _, groups = self._units(texts, opts)
        if not flat:
            return [TextOutcome.whole(t) for t in texts]
        sizes = [len(u) for u in units]
        costs = np.concatenate(unit_costs_many(texts, units, self.token_counter))
        titles = is_title if opts.keep_titles else None
        keep = leading_keep(
            sizes, costs, titles, call.n_tokens, self._rate(call), call.target_tokens
        )
        return outcomes(texts, units, keep, groups=groups)

    @staticmethod
    def _units(
        texts: list[str], opts: CoarseToFineOptions
    ) -> tuple[list[Units], list[str], list[str], np.ndarray, list[str | None], list[np.ndarray]]:
        """Units of every text, their strings, embedding inputs, which are titles, and more.

        Returns: the units, their strings, their embedding inputs, which are titles, each
        text's title, and per text the sentence of each unit (clauses of one sentence share it).
        """
        sentences = [sentence_units(t) for t in texts]
        units = sentences
        if opts.max_unit_words:
            units = [split_long(t, u, int(opts.max_unit_words)) for t, u in zip(texts, units)]
        groups = [assign_to_units(s, u.starts) for s, u in zip(sentences, units)]
        flat: list[str] = []
        inputs: list[str] = []
        is_title = np.zeros(sum(len(u) for u in units), dtype=bool)
        titles: list[str | None] = []
        for t, u in zip(texts, units):
            title = title_of(t, u) if opts.title_context else None
            titles.append(title)
            if title:
                is_title[len(flat)] = True
            for k, s in enumerate(u.texts(t)):
                flat.append(s)
                inputs.append(f"{title}: {s}" if title and k else s)
        return units, flat, inputs, is_title, titles, groups

    def _hop(
        self,
        first: FirstPass,
        score: np.ndarray,
        relevance: np.ndarray,
        top: np.ndarray,
        opts: CoarseToFineOptions,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores after re-scoring against the question plus its best sentences (``top``)."""
        question = first.question
        found = [first.flat[i] for i in sorted(top.tolist())]
        qvec2 = self.embedder().embed([" ".join([question, *found])])[0]
        t_bm, s_bm = first.text_bm25, first.unit_bm25
        if opts.hop_bm25 == "bridge":
            q_terms = f"{question} {' '.join(bridge_names(found, question))}"
            t_bm, s_bm = bm25_scores(first.texts, q_terms), bm25_scores(first.flat, q_terms)
        score2, rel2 = self._scores(first.unit_vecs @ qvec2, first.doc, t_bm, s_bm, opts)
        w = float(opts.hop_weight)
        out = np.maximum(score, w * score2)
        # The first hop's best stay above the rest, lifted together by one offset, each keeping
        # the better of its lifted first-hop score and its multi-hop score (all set to one value,
        # as before, they tied and went by position).
        rest = np.ones(out.shape[0], dtype=bool)
        rest[top] = False
        lift = max(float(out[rest].max()) - float(score[top].min()), 0.0) if rest.any() else 0.0
        out[top] = np.maximum(out[top], score[top] + lift + (1e-9 if rest.any() else 0.0))
        return out, np.maximum(relevance, w * rel2)

    @staticmethod
    def _scores(
        cos: np.ndarray,
        doc: np.ndarray,
        text_bm25: np.ndarray,
        sent_bm25: np.ndarray,
        opts: CoarseToFineOptions,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sentence scores and text relevance for one query."""
        best = np.full(text_bm25.shape[0], -1.0)
        np.maximum.at(best, doc, cos)
        how = opts.fusion
        relevance = fuse([best, text_bm25], [1.0, opts.bm25_weight], how)
        score = fuse(
            [cos, relevance[doc], sent_bm25],
            [1.0, opts.doc_weight, opts.sentence_bm25_weight],
            how,
        )
        return score, relevance
