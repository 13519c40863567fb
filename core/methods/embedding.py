"""The filters RAG users already have, as methods: embedding filters and BM25 passages.

- ``embeddings_filter``: whole texts ranked by cosine to the query (LangChain's
  ``EmbeddingsFilter``), kept best first while they fit the budget; or LangChain's own rule
  (``similarity_threshold``, ``k``).
- ``sentence_embeddings``: sentences ranked by cosine to the query (LlamaIndex's
  ``SentenceEmbeddingOptimizer``), budgeted the same way; or LlamaIndex's own rule
  (``percentile_cutoff``, ``threshold_cutoff``, per text).
- ``bm25``: whole texts by BM25 (Okapi) against the query, budgeted.

They are the controls every other method is measured against. The budget is one over all texts
of the call (a unit that does not fit is skipped and the next one tried, see
:mod:`lingua_core.pipeline.select`); texts left with nothing come back ``dropped``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from lingua_core.base import Compressor
from lingua_core.options import MethodOptions, is_int, max_wait_option, option
from lingua_core.pipeline.contract import Call, TextOutcome
from lingua_core.pipeline.select import NEVER, select, unit_costs
from lingua_core.pipeline.text import Units, assemble, sentence_units
from lingua_core.pipeline.tokens import TokenCounter, shared_counter
from lingua_core.scorers.rank import bm25_scores

logger = logging.getLogger(__name__)


def _fraction(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1)


def _number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _real(v: Any) -> bool:
    return v is not None and _number(v)


def _cutoff(doc: str) -> Any:
    """An optional number (a similarity cutoff); None leaves the rule off."""
    return option(None, doc, check=_number, expect="None or a number")


@dataclass(frozen=True)
class EncoderOptions(MethodOptions):
    """The options of every sentence-encoder method: how the encoder runs."""

    max_length: int = option(
        256,
        "Tokens per embedded unit (longer ones are truncated; MiniLM was trained on 256).",
        check=lambda v: is_int(v) and v >= 2,
        expect="an int >= 2",
    )
    batch_tokens: int | None = option(
        None,
        "Most padded tokens per forward pass. None: 4096 on CPU, 65536 on CUDA.",
        check=lambda v: v is None or (is_int(v) and v > 0),
        expect="None or a positive int",
    )
    max_wait_ms: float = max_wait_option()


E = TypeVar("E", bound=EncoderOptions)

#: The question of :meth:`EmbeddingCompressor.score`'s scoring call (its own row is not stored).
_SCORING_QUERY = "scoring"


class EmbeddingCompressor(Compressor[E]):
    """A compressor that scores with a sentence-embedding model, loaded once and shared.

    ``dtype="auto"`` runs bfloat16 on CUDA and on CPUs where bf16 measures faster than fp32
    (:func:`lingua_core.models.fast_dtype`), float32 elsewhere.
    """

    uses_model = True
    question_aware = True
    stores_scores = True
    #: Option overrides of the scoring call of :meth:`score` (no query-dependent passes).
    scoring_overrides: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._embedder_obj: Any = None
        self._embedder_lock = threading.Lock()  # not self._lock: the counter needs the embedder

    def embedder(self) -> Any:
        """The :class:`lingua_core.scorers.embed.Embedder` (created on first use)."""
        if self._embedder_obj is None:
            with self._embedder_lock:
                if self._embedder_obj is None:
                    from lingua_core.models import fast_dtype, resolve_device
                    from lingua_core.scorers.embed import Embedder

                    dtype = self.dtype
                    if dtype in (None, "auto"):
                        dtype = fast_dtype(resolve_device(self.device))
                    self._embedder_obj = Embedder(
                        self.model,
                        device=self.device,
                        dtype=dtype,
                        max_length=self.options.max_length,
                        batch_tokens=self.options.batch_tokens,
                        max_wait_ms=self.options.max_wait_ms,
                        model_kwargs=self.model_kwargs,
                        trust_remote_code=self.trust_remote_code,
                        allow_pickle=self.allow_pickle,
                    )
        return self._embedder_obj

    def _model_fingerprints(self) -> list[str]:
        from lingua_core.stored.rows import model_fingerprint

        return [model_fingerprint(self.embedder().loaded())]

    def _scoring_call(self, text: str) -> None:
        """Embed ``text``'s units as a call would; the placeholder question's row is dropped."""
        from lingua_core.stored.rows import current_call_rows

        self.compress([text], query=_SCORING_QUERY, rate=0.5, **self.scoring_overrides)
        ctx = current_call_rows()
        if ctx is not None and ctx.recorded:
            drop = self.embedder().key(_SCORING_QUERY)
            for rows in ctx.recorded.values():
                rows.pop(drop, None)

    def warmup(self) -> None:
        """Load the encoder and the token counter now."""
        self.embedder().loaded()
        super().warmup()

    def _default_counter(self) -> TokenCounter:
        from lingua_core.models import EMBEDDED_ENCODER

        name = EMBEDDED_ENCODER if self.model is None else str(self.model)
        return shared_counter(self.embedder().loaded(), name)

    def cosines(self, units: list[str], query: str) -> np.ndarray:
        """Cosine of each unit's embedding to the query's."""
        if not units:
            return np.zeros(0)
        vecs = self.embedder().embed([*units, query])
        cos: np.ndarray = (vecs[:-1] @ vecs[-1]).astype(np.float64)
        return cos

    def relevance(self, units: list[str], query: str | None, what: str) -> np.ndarray:
        """Cosines to the query; without one, a warning and the leading ``what`` first."""
        if not (query or "").strip():
            return _leading(self.method, what, len(units))
        return self.cosines(units, str(query))


def _leading(method: str, what: str, n: int) -> np.ndarray:
    logger.warning("%s: no query given; keeping the leading %s", method, what)
    return -np.arange(n, dtype=np.float64)


def _whole_texts(
    texts: list[str],
    relevance: np.ndarray | None,
    keep: np.ndarray,
) -> list[TextOutcome]:
    """Results for whole-text selection: kept texts whole, the rest dropped; best first."""
    placed = [] if relevance is None else np.argsort(-relevance, kind="stable").tolist()
    order = {i: p for p, i in enumerate(j for j in placed if keep[j])}
    out: list[TextOutcome] = []
    for i, t in enumerate(texts):
        rel = None if relevance is None else float(relevance[i])
        place = order.get(i) if relevance is not None else None
        if keep[i]:
            out.append(TextOutcome.whole(t, order=place, relevance=rel))
        else:
            out.append(TextOutcome.dropped(order=place, relevance=rel))
    return out


@dataclass(frozen=True)
class EmbeddingsFilterOptions(EncoderOptions):
    """Options of ``embeddings_filter``."""

    similarity_threshold: float | None = _cutoff(
        "Drop texts whose cosine to the query is below this (LangChain's rule)."
    )
    k: int | None = option(
        None,
        "Keep at most the k most similar texts (LangChain's rule).",
        check=lambda v: v is None or (is_int(v) and v > 0),
        expect="None or an int >= 1",
    )


class EmbeddingsFilterCompressor(EmbeddingCompressor[EmbeddingsFilterOptions]):
    """Whole texts by cosine to the query (LangChain's ``EmbeddingsFilter``), budgeted."""

    method = "embeddings_filter"
    description = "Whole texts by embedding cosine to the query, best first (LangChain filter)."
    default_rate = 0.5
    options_class = EmbeddingsFilterOptions

    def _compress_texts(self, call: Call[EmbeddingsFilterOptions]) -> list[TextOutcome]:
        texts, n_tokens, query, opts = call.texts, call.n_tokens, call.query, call.options
        n = len(texts)
        relevance = self.relevance(texts, query, "texts")
        allowed = np.ones(n, dtype=bool)
        if opts.similarity_threshold is not None:
            allowed &= relevance >= float(opts.similarity_threshold)
        if opts.k is not None:
            top = np.argsort(-relevance, kind="stable")[: int(opts.k)]
            mask = np.zeros(n, dtype=bool)
            mask[top] = True
            allowed &= mask
        rule_given = opts.similarity_threshold is not None or opts.k is not None
        if rule_given and call.rate is None and call.target_tokens is None:
            keep = allowed
        else:
            budget = self._total_budget(call)
            costs = np.where(allowed, np.asarray(n_tokens), NEVER)  # never fits
            keep = select([relevance], [costs], [budget], scope="global")[0] & allowed
        return _whole_texts(texts, relevance, keep)


@dataclass(frozen=True)
class BM25Options(MethodOptions):
    """Options of ``bm25``."""

    k1: float = option(1.5, "Term-frequency saturation.", check=_real, expect="a number")
    b: float = option(0.75, "Length normalisation.", check=_real, expect="a number")


class BM25Compressor(Compressor[BM25Options]):
    """Whole texts by BM25 (Okapi) against the query, best first while they fit the budget."""

    method = "bm25"
    description = "Whole texts by BM25 against the query, best first (no model)."
    default_rate = 0.5
    fallback_counter = "words"
    question_aware = True
    options_class = BM25Options

    def _compress_texts(self, call: Call[BM25Options]) -> list[TextOutcome]:
        texts, n_tokens, query, opts = call.texts, call.n_tokens, call.query, call.options
        if not (query or "").strip():
            relevance = _leading(self.method, "texts", len(texts))
        else:
            relevance = bm25_scores(texts, str(query), k1=float(opts.k1), b=float(opts.b))
        budget = self._total_budget(call)
        keep = select([relevance], [np.asarray(n_tokens)], [budget], scope="global")[0]
        return _whole_texts(texts, relevance, keep)


@dataclass(frozen=True)
class SentenceEmbeddingsOptions(EncoderOptions):
    """Options of ``sentence_embeddings``."""

    percentile_cutoff: float | None = option(
        None,
        "Keep this top fraction of each text's sentences (LlamaIndex's rule).",
        check=_fraction,
        expect="None or a number in (0, 1]",
    )
    threshold_cutoff: float | None = _cutoff(
        "Drop sentences whose cosine to the query is below this (LlamaIndex's rule)."
    )


class SentenceEmbeddingsCompressor(EmbeddingCompressor[SentenceEmbeddingsOptions]):
    """Sentences by cosine to the query (LlamaIndex's ``SentenceEmbeddingOptimizer``)."""

    method = "sentence_embeddings"
    description = "Sentences by embedding cosine to the query (LlamaIndex optimizer)."
    default_rate = 0.5
    options_class = SentenceEmbeddingsOptions

    def _compress_texts(self, call: Call[SentenceEmbeddingsOptions]) -> list[TextOutcome]:
        texts, query, opts = call.texts, call.query, call.options
        units = [sentence_units(t) for t in texts]
        flat = [s for t, u in zip(texts, units) for s in u.texts(t)]
        cos = self.relevance(flat, query, "sentences")
        scores = np.split(cos, np.cumsum([len(u) for u in units])[:-1]) if units else []
        allowed = [np.ones(len(u), dtype=bool) for u in units]
        if opts.percentile_cutoff is not None:
            for s, a in zip(scores, allowed):
                keep_n = int(len(s) * float(opts.percentile_cutoff))
                mask = np.zeros(len(s), dtype=bool)
                mask[np.argsort(-s, kind="stable")[:keep_n]] = True
                a &= mask
        if opts.threshold_cutoff is not None:
            for s, a in zip(scores, allowed):
                a &= s >= float(opts.threshold_cutoff)
        rule_given = opts.percentile_cutoff is not None or opts.threshold_cutoff is not None
        if rule_given and call.rate is None and call.target_tokens is None:
            keeps = allowed
        else:
            counter = self.token_counter
            costs = [
                np.where(a, unit_costs(t, u, counter), NEVER)
                for t, u, a in zip(texts, units, allowed)
            ]
            budget = self._total_budget(call)
            keeps = select(scores, costs, [budget], scope="global")
            keeps = [k & a for k, a in zip(keeps, allowed)]
        return [_assemble(t, u, k) for t, u, k in zip(texts, units, keeps)]


def _assemble(text: str, units: Units, keep: np.ndarray) -> TextOutcome:
    if len(units) == 0:  # nothing a sentence splitter could read: keep the text whole
        return TextOutcome.whole(text)
    return TextOutcome.kept(assemble(text, units, keep))
