r"""The default method: question-aware, coarse to fine, under one budget (``coarse_to_fine``).

Made for what sits between a retriever and an LLM. In one pass of a small sentence encoder (the
embedded all-MiniLM-L6-v2 by default):

1. **Sentences.** Each text is cut into sentences (pysbd, offline), and a sentence of more than
   ``max_unit_words`` words into clauses at its commas, semicolons and colons. A text whose first
   line is a short title (NQ, HotpotQA and MuSiQue passages are ``title\ntext``) lends it to
   every other unit's embedding input (``"title: sentence"``), so that "It stars Charlton
   Heston." is embedded as part of "Ben-Hur (1959 film)"; the output keeps the original
   characters only, and a title is kept only with a kept unit of its text (``keep_titles``).
2. **Texts.** A text's relevance fuses the best cosine of its sentences with the text's BM25
   score (weight ``bm25_weight``).
3. **Sentences within texts.** A sentence's score fuses its cosine to the query, its text's
   relevance (weight ``doc_weight``) and its own BM25 score (weight ``sentence_bm25_weight``);
   ``fusion="z"`` sums z-scores, ``"rrf"`` reciprocal ranks.
4. **Multi-hop** (``multi_hop``): the question plus its ``hop_sentences`` best sentences is
   embedded as a second query, and every sentence scored against it the same way; a sentence
   keeps the better of its two scores, so the passage of a second hop, which often shares no
   word with the question, can rank by what the first hop found. One more short embedding.
   **Bridge texts**: a text whose title is named in those best sentences (of other texts) but
   not in the question is the second hop that Wikipedia-style corpora link to ("... the third
   album by M. Ward" → the text titled "M. Ward"); its ``bridge_units`` best sentences and its
   relevance are raised by ``bridge_weight`` standard deviations (up to the first hop's best
   sentences, never above them).
   (``hop_bm25="bridge"`` also re-runs BM25 on the names the best sentences add; measured no
   better, so off.)
5. **Budget.** Sentences are kept best first while they fit one budget over all texts (``rate``
   x their tokens, or ``target_tokens``); a text left with nothing comes back ``dropped``.
   ``rate="auto"`` keeps every sentence whose score lies within ``auto_threshold`` of the best
   (range-normalised: 1 keeps only the best, 0 everything) and reports the achieved rate.

Kept texts come back in input order; ``result.order`` ranks them by relevance (``reorder``) and
:func:`lingua_core.join_results` builds the prompt in that order. With no query the method
falls back to the best query-agnostic method here, Selective Context, and logs so. Every figure
behind the defaults is in the docs' results section (tuned on NQ questions 0-499 and HotpotQA /
MuSiQue records 0-49).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core.methods.embedding import EmbeddingCompressor, EncoderOptions
from lingua_core.options import flag, is_int, option
from lingua_core.outcome import CallContext, TextOutcome
from lingua_core.rank import FUSIONS, bm25_scores, fuse
from lingua_core.select import select, unit_costs_many
from lingua_core.text import (
    Units,
    assemble,
    bridge_names,
    bridge_texts,
    sentence_units,
    split_long,
    title_of,
)

logger = logging.getLogger(__name__)

#: The query-agnostic method used when no query is given.
FALLBACK_METHOD = "selective_context"


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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fallback_obj: Any = None

    def _fallback(self) -> Any:
        if self._fallback_obj is None:
            from lingua_core.registry import get_compressor

            self._fallback_obj = get_compressor(
                FALLBACK_METHOD, token_counter=self.token_counter, device=self.device
            )
        return self._fallback_obj

    def _compress_texts(
        self,
        texts: list[str],
        n_tokens: list[int],
        query: str | None,
        rate: Any,
        target_tokens: int | None,
        opts: CoarseToFineOptions,
        call: CallContext,
    ) -> list[TextOutcome]:
        question = (query or "").strip()
        if not question:
            logger.warning(
                "%s: no query given; falling back to the query-agnostic %s",
                self.method,
                FALLBACK_METHOD,
            )
            r = None if rate == "auto" else rate
            got = self._fallback().compress(texts, rate=r, target_tokens=target_tokens)
            return [TextOutcome(x.text, list(x.spans)) for x in got]
        units, flat, inputs, is_title, titles = self._units(texts, opts)
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
            top = np.argsort(-score, kind="stable")[: int(opts.hop_sentences)]
            score, relevance = self._hop(
                texts,
                flat,
                doc,
                question,
                sent_vecs,
                score,
                relevance,
                top,
                text_bm25,
                sent_bm25,
                opts,
            )
            score, relevance = _raise_bridges(
                score, relevance, top, flat, doc, titles, question, opts
            )

        counter = self.token_counter
        costs = np.concatenate(unit_costs_many(texts, units, counter))
        if rate == "auto":
            lo, hi = float(score.min()), float(score.max())
            keep = score >= lo + float(opts.auto_threshold) * (hi - lo)
            if opts.keep_titles:
                keep &= ~is_title
        else:
            budget = self._total_budget(n_tokens, rate, target_tokens)
            keep = _select_with_titles(
                score, costs, budget, doc, is_title if opts.keep_titles else None
            )
        if opts.keep_titles:
            keep |= is_title & _has_kept(keep & ~is_title, doc)[doc]
        keeps = np.split(keep, np.cumsum(sizes)[:-1])
        ranked = [int(i) for i in np.argsort(-relevance, kind="stable") if keeps[i].any()]
        if opts.reorder == "original":
            ranked.sort()
        order = {i: p for p, i in enumerate(ranked)}
        out: list[TextOutcome] = []
        for i, (t, u, k) in enumerate(zip(texts, units, keeps)):
            rel, place = float(relevance[i]), order.get(i)
            if len(u) == 0:  # nothing a sentence splitter could read: keep it whole
                out.append(TextOutcome.whole(t, order=place, relevance=rel))
                continue
            text, spans = assemble(t, u, k)
            out.append(TextOutcome(text, spans, place, rel))
        return out

    @staticmethod
    def _units(
        texts: list[str], opts: CoarseToFineOptions
    ) -> tuple[list[Units], list[str], list[str], np.ndarray, list[str | None]]:
        """Units of every text, their strings, their embedding inputs, which are titles, titles."""
        units = [sentence_units(t) for t in texts]
        if opts.max_unit_words:
            units = [split_long(t, u, int(opts.max_unit_words)) for t, u in zip(texts, units)]
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
        return units, flat, inputs, is_title, titles

    def _hop(
        self,
        texts: list[str],
        flat: list[str],
        doc: np.ndarray,
        question: str,
        sent_vecs: np.ndarray,
        score: np.ndarray,
        relevance: np.ndarray,
        top: np.ndarray,
        text_bm25: np.ndarray,
        sent_bm25: np.ndarray,
        opts: CoarseToFineOptions,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores after re-scoring against the question plus its best sentences (``top``)."""
        found = [flat[i] for i in sorted(top.tolist())]
        qvec2 = self.embedder().embed([" ".join([question, *found])])[0]
        t_bm, s_bm = text_bm25, sent_bm25
        if opts.hop_bm25 == "bridge":
            q_terms = f"{question} {' '.join(bridge_names(found, question))}"
            t_bm, s_bm = bm25_scores(texts, q_terms), bm25_scores(flat, q_terms)
        score2, rel2 = self._scores(sent_vecs @ qvec2, doc, t_bm, s_bm, opts)
        w = float(opts.hop_weight)
        out = np.maximum(score, w * score2)
        out[top] = np.maximum(out[top], float(score.max()))  # the first hop's best stay first
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


def _raise_bridges(
    score: np.ndarray,
    relevance: np.ndarray,
    top: np.ndarray,
    flat: list[str],
    doc: np.ndarray,
    titles: list[str | None],
    question: str,
    opts: CoarseToFineOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores with the best units and the relevance of every bridge text raised.

    The bridges are looked for in the first pass's best sentences (``top``), the same ones the
    multi-hop query is made of; a bridge's units rise up to
    those sentences' scores, never above them, so the first hop's evidence stays in the prompt.
    """
    weight = float(opts.bridge_weight)
    if not weight:
        return score, relevance
    found = [flat[i] for i in top.tolist()]
    bridges = bridge_texts(titles, found, set(doc[top].tolist()), question)
    if not bridges:
        return score, relevance
    score, relevance = score.copy(), relevance.copy()
    step, rel_step = float(score.std()) or 1.0, float(relevance.std()) or 1.0
    cap = float(score[top].min())  # raised up to the first hop's best, never above them
    rel_cap = float(relevance[doc[top]].min())
    for d in bridges:
        idx = np.flatnonzero(doc == d)
        best = idx[np.argsort(-score[idx], kind="stable")[: int(opts.bridge_units)]]
        score[best] = np.maximum(score[best], np.minimum(score[best] + weight * step, cap))
        relevance[d] = max(relevance[d], min(relevance[d] + weight * rel_step, rel_cap))
    logger.debug("bridge texts: %s", bridges)
    return score, relevance


def _has_kept(keep: np.ndarray, doc: np.ndarray) -> np.ndarray:
    """Per text, whether any of its units is kept."""
    out = np.zeros(int(doc.max()) + 1 if doc.size else 0, dtype=bool)
    np.logical_or.at(out, doc, keep)
    return out


def _select_with_titles(
    score: np.ndarray,
    costs: np.ndarray,
    budget: float,
    doc: np.ndarray,
    is_title: np.ndarray | None,
) -> np.ndarray:
    """Budgeted selection of sentences, each kept text's title coming along with them.

    A title alone tells the reader nothing, so titles are not selected on their own: they come
    with the first sentence kept from their text, and their cost is taken from the budget (a
    second pass with the budget less the titles of the texts the first pass kept).
    """
    if is_title is None:  # titles are units like any other
        return select([score], [costs], [budget], scope="global")[0]
    masked = np.where(is_title, 10**12, costs)  # never selected by itself
    keep = select([score], [masked], [budget], scope="global")[0]
    titles = float(costs[is_title & _has_kept(keep, doc)[doc]].sum())
    if titles:
        keep = select([score], [masked], [max(budget - titles, 0.0)], scope="global")[0]
    out: np.ndarray = keep & ~is_title
    return out
