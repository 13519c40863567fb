"""The compressor interface: the abstract base class every method subclasses.

Every method runs the same pipeline (see docs/architecture.md): segment each text into units,
score the units (the only method-specific step), select units under the budget
(:mod:`lingua_core.pipeline.select`) and assemble the kept ones into an extractive result
(:func:`lingua_core.pipeline.text.assemble`, a :class:`~lingua_core.result.CompressionResult` per
text).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

import numpy as np

from lingua_core.options import (
    MethodOptions,
    Option,
    forced_positions,
    is_int,
    validate_budget,
    validate_texts,
)
from lingua_core.pipeline.cancel import check_cancelled
from lingua_core.pipeline.contract import Call, TextOutcome
from lingua_core.pipeline.languages import warn_spaceless_once
from lingua_core.pipeline.select import select, unit_costs_many
from lingua_core.pipeline.text import Units, assemble, segment
from lingua_core.pipeline.tokens import TokenCounter, get_token_counter, one_pass
from lingua_core.registry import methods_that
from lingua_core.result import ELISION, CompressionResult, join_results, join_spans
from lingua_core.stored.rows import call_rows
from lingua_core.stored.scores import StoredScores

logger = logging.getLogger(__name__)

# Re-exported: methods and adapters import these from here.
__all__ = [
    "ELISION",
    "MODEL_OPTIONS",
    "CompressionResult",
    "Compressor",
    "MethodOptions",
    "Option",
    "forced_positions",
    "is_int",
    "join_results",
    "join_spans",
    "validate_budget",
    "validate_texts",
]

OptionsT = TypeVar("OptionsT", bound=MethodOptions)
Rate = float | Literal["auto"] | None

#: Options that choose or load the model: given to ``get_compressor``, never per call.
MODEL_OPTIONS = (
    "model",
    "device",
    "dtype",
    "model_kwargs",
    "token_counter",
    "trust_remote_code",
    "allow_pickle",
)


#: The capability flags of a method class (:func:`lingua_core.registry.methods_that`).
CAPABILITIES = ("uses_model", "question_aware", "supports_auto_rate", "stores_scores")


class Compressor(StoredScores, Generic[OptionsT]):
    """Base class of every compression method.

    Subclasses set :attr:`method`, :attr:`options_class` (a frozen dataclass of their options,
    also the type parameter ``OptionsT``) and implement :meth:`_score` (and, if their units are not
    words, :meth:`_segment`), or :meth:`_compress_texts` for a pipeline of their own.

    Args:
        rate: Default rate of every call that gives neither ``rate`` nor ``target_tokens``
            (``None``: the method's :attr:`default_rate`).
        target_tokens: Default total budget, in the same case.
        model: Model alias, local folder or hub id (model-based methods).
        device: ``None`` auto-detects (cuda, mps, cpu).
        dtype: ``"auto"``, ``"float32"``, ``"float16"``, ``"bfloat16"`` or a ``torch.dtype``.
        model_kwargs: Passed to ``from_pretrained``.
        token_counter: The tokens in which rates and budgets are met (see
            :func:`lingua_core.pipeline.tokens.get_token_counter`); default: the method's own
            tokenizer.
        trust_remote_code: Allow code from a model repository to run (off by default).
        allow_pickle: Allow weights in pickle format (``pytorch_model.bin``), which can run code
            when loaded; off by default: weights load from safetensors only.
        cache_dir: Folder of a persistent score cache shared by processes
            (:mod:`lingua_core.stored.row_cache`); ``None``: ``$LINGUA_SCORE_CACHE``, else off.
        **options: Method options; defaults for every call (the fields of
            :attr:`options_class`).

    Raises:
        ValueError: For an unknown option or an invalid value.
    """

    #: Registry name of the method.
    method: ClassVar[str] = ""
    #: One line for ``lingua methods`` and the README.
    description: ClassVar[str] = ""
    #: Rate used when neither ``rate`` nor ``target_tokens`` is given.
    default_rate: ClassVar[float] = 0.5
    #: The method's options: a frozen dataclass (its fields are the options and defaults).
    options_class: ClassVar[type[MethodOptions]] = MethodOptions
    #: Token counter used when ``token_counter`` is not given and the method has no tokenizer.
    fallback_counter: ClassVar[str | None] = None
    #: Whether the method uses a model (and so takes model/device/dtype options).
    uses_model: ClassVar[bool] = False
    #: Whether the method's defaults need the query (at indexing time there is none).
    question_aware: ClassVar[bool] = False
    #: Whether the method takes ``rate="auto"`` (keeps what is relevant, reports the rate).
    supports_auto_rate: ClassVar[bool] = False
    #: Whether :meth:`score` can store the method's query-independent scores.
    stores_scores: ClassVar[bool] = False
    #: What a question-aware method does instead when a call has no query (the CLI says so).
    no_query_note: ClassVar[str | None] = None

    def _finds_words_by_whitespace(self, opts: OptionsT) -> bool:
        """Whether the call's units are whitespace words or phrases (``unit`` word or phrase).

        Such methods cut Chinese or Japanese text only at full-width punctuation: the pipeline
        says so once per compressor (:func:`lingua_core.pipeline.languages.warn_spaceless_once`).
        """
        return getattr(opts, "unit", None) in ("word", "phrase")

    def __init__(
        self,
        *,
        rate: Rate = None,
        target_tokens: int | None = None,
        model: Any = None,
        device: str | None = None,
        dtype: Any = "auto",
        model_kwargs: Mapping[str, Any] | None = None,
        token_counter: Any = None,
        trust_remote_code: bool = False,
        allow_pickle: bool = False,
        cache_dir: str | None = None,
        **options: Any,
    ) -> None:
        if not self.uses_model and (model is not None or model_kwargs):
            msg = f"method {self.method!r} uses no model; do not pass model= or model_kwargs="
            raise ValueError(msg)
        self.model = model
        self.device = device
        self.dtype = dtype
        self.model_kwargs = dict(model_kwargs or {})
        self.trust_remote_code = bool(trust_remote_code)
        self.allow_pickle = bool(allow_pickle)
        StoredScores.__init__(self, cache_dir)
        self._token_counter_spec = token_counter
        self._counter: TokenCounter | None = None
        self._lock = threading.Lock()
        self._check_auto(rate, target_tokens)
        validate_budget(None if rate == "auto" else rate, target_tokens)
        self.rate = rate
        self.target_tokens = target_tokens
        self.options: OptionsT = self._resolve_options(
            cast(OptionsT, self.options_class()), options
        )

    def __repr__(self) -> str:
        model = f", model={self.model!r}" if self.uses_model else ""
        budget = "".join(
            f", {k}={v!r}"
            for k, v in (("rate", self.rate), ("target_tokens", self.target_tokens))
            if v is not None
        )
        return (
            f"{type(self).__name__}(method={self.method!r}{model}{budget}, "
            f"options={self.defaults!r})"
        )

    @property
    def defaults(self) -> dict[str, Any]:
        """The options every call starts from, by name (a copy; see :attr:`options`)."""
        return self.options.as_dict()

    # ------------------------------------------------------------------ options

    def _resolve_options(self, base: OptionsT, given: Mapping[str, Any]) -> OptionsT:
        for name in given:
            if name in MODEL_OPTIONS:
                msg = (
                    f"{name!r} chooses or loads the model: give it to get_compressor(), not per "
                    "call (create another compressor for another model)"
                )
                raise ValueError(msg)
        return base.updated(given, method=self.method)

    # ------------------------------------------------------------------ model and counter

    def warmup(self) -> None:
        """Load the model and token counter now (servers avoid first-request latency)."""
        _ = self.token_counter

    @property
    def token_counter(self) -> TokenCounter:
        """The counter in whose tokens rates and budgets are met (resolved on first use)."""
        if self._counter is None:
            with self._lock:
                if self._counter is None:
                    spec = self._token_counter_spec
                    if spec is None and self.fallback_counter is not None:
                        spec = self.fallback_counter
                    default = self._default_counter() if spec is None else None
                    self._counter = get_token_counter(spec, default=default)
        return self._counter

    def _default_counter(self) -> TokenCounter | None:
        """The method's own tokenizer as a counter (model-based methods override this)."""
        return None

    # ------------------------------------------------------------------ the pipeline

    def compress(
        self,
        texts: Sequence[str],
        *,
        query: str | None = None,
        rate: float | Literal["auto"] | None = None,
        target_tokens: int | None = None,
        scores: Sequence[Any] | None = None,
        **options: Any,
    ) -> list[CompressionResult]:
        """Compress each text; one result per input, in the same order.

        Args:
            texts: The texts (e.g. retrieved documents). A bare ``str`` is rejected.
            query: The question, for question-aware methods (others ignore it).
            rate: Fraction of tokens to keep, in (0, 1]; or ``"auto"`` where the method
                supports it (it keeps what is relevant; ``result.rate`` reports the rate).
            target_tokens: Total budget in tokens across all texts.
            scores: Stored scores (:meth:`score`), one payload or ``None`` per text: their rows
                are not computed again; a payload that does not match is ignored with a
                warning.
            **options: Per-call overrides of the method options.

        Returns:
            One :class:`CompressionResult` per text, in order. Empty and whitespace-only texts
            come back unchanged, and so does a text whose compressed form would hold more tokens
            than itself (possible only on degenerate inputs, since runs are rejoined by spaces).

        Raises:
            TypeError: For a bare string or a non-string item.
            ValueError: For an invalid rate or budget, both given, or an unknown option.
        """
        check_cancelled()  # a call cancelled before it started (lingua_core.pipeline.cancel)
        items = validate_texts(texts)
        with one_pass():  # each text tokenized once per tokenizer in this call
            rows = self._stored_rows(items, scores)
            if rows is None:
                return self._compress_call(items, query, rate, target_tokens, options)
            with call_rows(rows):
                out = self._compress_call(items, query, rate, target_tokens, options)
        self._count_stored(rows)
        return out

    def _compress_call(
        self,
        items: list[str],
        query: str | None,
        rate: float | Literal["auto"] | None,
        target_tokens: int | None,
        options: Mapping[str, Any],
    ) -> list[CompressionResult]:
        self._check_auto(rate, target_tokens)
        validate_budget(None if rate == "auto" else rate, target_tokens)
        if query is not None and not isinstance(query, str):
            msg = f"query must be a str or None, got {type(query).__name__}"
            raise TypeError(msg)
        opts = self._resolve_options(self.options, options)
        if rate is None and target_tokens is None:
            rate, target_tokens = self.rate, self.target_tokens
        if not items:
            return []
        counter = self.token_counter
        original_tokens = counter.count(items)
        live = [i for i, t in enumerate(items) if t.strip()]
        results: list[CompressionResult | None] = [None] * len(items)
        for i, t in enumerate(items):
            if not t.strip():
                blank = ((0, len(t)),) if t else ()
                n = original_tokens[i]
                results[i] = CompressionResult(t, t, blank, n, n, self.method)
        if live:
            live_texts = [items[i] for i in live]
            if self._finds_words_by_whitespace(opts):
                warn_spaceless_once(self, live_texts)
            call = Call(
                live_texts,
                [original_tokens[i] for i in live],
                query,
                rate,
                target_tokens,
                opts,
                tuple(live),
                len(items),
            )
            kept = self._compress_texts(call)
            compressed_tokens = counter.count([k.text for k in kept])
            for j, i in enumerate(live):
                text, spans, elided = kept[j].text, list(kept[j].spans), kept[j].elided
                if compressed_tokens[j] > original_tokens[i]:
                    # Rejoining runs with spaces can cost tokens; on degenerate inputs the result
                    # could outgrow the input, and then the input itself is the better answer.
                    text, spans, elided = items[i], [(0, len(items[i]))], ()
                    compressed_tokens[j] = original_tokens[i]
                results[i] = CompressionResult(
                    text,
                    items[i],
                    tuple(spans),
                    original_tokens[i],
                    compressed_tokens[j],
                    self.method,
                    dropped=not spans,
                    order=kept[j].order,
                    relevance=kept[j].relevance,
                    elided=tuple(elided),
                )
        return [r for r in results if r is not None]

    def _scoring_call(self, text: str) -> None:
        """Run the method's query-independent scoring of ``text`` (under a recording call)."""
        self.compress([text], rate=0.5)

    def _check_auto(self, rate: Any, target_tokens: Any) -> None:
        if not (isinstance(rate, str) and rate == "auto"):
            return
        if not self.supports_auto_rate:
            msg = (
                f"method {self.method!r} takes rate as a number in (0, 1]; rate='auto' is "
                f"supported by: {', '.join(methods_that('supports_auto_rate'))}"
            )
            raise ValueError(msg)
        if target_tokens is not None:
            msg = "rate='auto' chooses the length itself: do not give target_tokens with it"
            raise ValueError(msg)

    def _rate(self, call: Call[OptionsT]) -> float:
        """The call's rate as a number: the compressor's default when it gives none."""
        return self.default_rate if call.fixed_rate is None else call.fixed_rate

    def _total_budget(self, call: Call[OptionsT]) -> float:
        """One budget over all texts: ``target_tokens``, else the rate x their total tokens."""
        if call.target_tokens is not None:
            return float(call.target_tokens)
        return self._rate(call) * float(sum(call.n_tokens))

    def _budgets(self, call: Call[OptionsT]) -> list[float]:
        """A budget per text: its share of ``target_tokens``, else the rate x its tokens."""
        if call.target_tokens is not None:
            total = max(sum(call.n_tokens), 1)
            return [call.target_tokens * n / total for n in call.n_tokens]
        r = self._rate(call)
        return [r * n for n in call.n_tokens]

    def _compress_texts(self, call: Call[OptionsT]) -> list[TextOutcome]:
        """Segment, score, select and assemble the call's texts: one outcome per text.

        Methods with a pipeline of their own override this instead of :meth:`_score`.
        """
        texts, opts = call.texts, call.options
        units = [self._segment(t, opts) for t in texts]
        costs = unit_costs_many(texts, units, self.token_counter)
        budgets = self._budgets(call)
        if all(b >= n for b, n in zip(budgets, call.n_tokens)):
            keeps = [np.ones(len(u), dtype=bool) for u in units]  # everything fits: no scoring
        else:
            scores = self._score(texts, units, call.query, opts)
            default_scope = "global" if call.target_tokens else "text"
            scope = getattr(opts, "budget_scope", None) or default_scope
            keeps = select(scores, costs, budgets, scope=scope)
        return [TextOutcome.kept(assemble(t, u, k)) for t, u, k in zip(texts, units, keeps)]

    def _segment(self, text: str, opts: OptionsT) -> Units:
        """Units of ``text`` (words by default; ``opts.unit`` where the method has one)."""
        return segment(text, getattr(opts, "unit", "word"))

    def _score(
        self,
        texts: list[str],
        units: list[Units],
        query: str | None,
        opts: OptionsT,
    ) -> list[np.ndarray]:
        """Score the units of every text (higher = keep first); all texts in one batch.

        Methods that run the shared pipeline implement this; methods with a pipeline of their
        own override :meth:`_compress_texts` instead.
        """
        msg = f"{type(self).__name__} implements neither _score nor _compress_texts"
        raise NotImplementedError(msg)
