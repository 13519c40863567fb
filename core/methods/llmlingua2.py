"""LLMLingua-2 (Pan et al. 2024): a token-classification encoder gives each word a keep-probability.

Faithful to the reference (``llmlingua`` 0.2.2, ``compress_prompt_llmlingua2``): the same
options with the same meaning, words built from the tokenizer's pieces (a new word at every
word-start piece and at every lone punctuation mark), word probability = mean (or first) of its
pieces' probabilities, forced words (``force_tokens``, digits) always kept, the optional
context-level filter that drops whole texts by their mean word probability. Different where the
reference is slow or lossy: dynamic padding instead of padding every chunk to 512, batched word
pooling instead of a Python loop per word, the model family read from the model itself (any
``*ForTokenClassification`` checkpoint), and extractive output (original characters, case and
spacing; runs joined by one space).

The threshold is the reference's: words scoring above the ``1 - rate`` quantile of the word
probabilities weighed by each word's tokens (in the chosen token counter; the shared selection
in :mod:`lingua_core.pipeline.select`, ``rule="threshold"``). ``budget_scope`` chooses where:
``"chunk"`` (the reference: per 512-token chunk), ``"text"`` (the default: each
text keeps ``rate`` of its tokens, independent of the other texts and of chunk boundaries;
identical to ``"chunk"`` for texts under one window) or ``"global"`` (one threshold over all
texts of the call, so an informative text keeps more than a redundant one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lingua_core.methods._llmlingua2_words import (
    _drop_consecutive,
    _split_at_force,
    _Words,
    whole_words,
)
from lingua_core.methods._model import ModelCompressor
from lingua_core.models import LoadedModel, ModelUnavailableError, load_token_classifier
from lingua_core.options import (
    MethodOptions,
    budget_scope_option,
    context_ids_option,
    flag,
    forced_positions,
    is_int,
    max_wait_option,
    option,
    strings,
    unit_option,
)
from lingua_core.pipeline.contract import Call, TextOutcome
from lingua_core.pipeline.select import select, unit_costs_many
from lingua_core.pipeline.text import Units, assemble, merge_overlapping

#: The published LLMLingua-2 checkpoints.
HUB_IDS = {
    "xlm-roberta": "microsoft/llmlingua-2-xlm-roberta-large-meetingbank",
    "bert": "microsoft/llmlingua-2-bert-base-multilingual-cased-meetingbank",
}


def _rate(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1


#: Written beside a model by ``lingua train llmlingua2``: its training, how words were labelled.
TRAINING_META = "lingua_llmlingua2.json"


@dataclass(frozen=True)
class LLMLingua2Options(MethodOptions):
    """Options of ``llmlingua2``."""

    force_tokens: tuple[str, ...] = strings((), "Strings always kept (multi-token strings too).")
    force_reserve_digit: bool = flag(False, "Always keep words containing a digit.")
    drop_consecutive: bool = flag(False, "Drop a forced token that repeats the previous kept word.")
    unit: str = unit_option(
        "word",
        ("word", "token"),
        "What is kept or dropped: 'word' (whole words of the text, scored by the mean of the "
        "tokenizer's words in them: no number or word is cut) or 'token' (the tokenizer's "
        "words, as Microsoft's llmlingua: '75%' is two, and CJK characters one each).",
    )
    token_to_word: str | None = option(
        None,
        "Word probability from its pieces: 'mean' or 'first'. None: what the model was trained "
        "for (lingua train llmlingua2 records it), else 'mean'.",
        choices=(None, "mean", "first"),
    )
    chunk_end_tokens: tuple[str, ...] = strings(
        (".", "\n"), "Where long texts may be cut into model-sized chunks."
    )
    use_token_level_filter: bool = flag(True, "Drop words (False: only the context-level filter).")
    use_context_level_filter: bool = flag(
        False, "First drop whole texts by their mean word probability."
    )
    context_level_rate: float | None = option(
        None,
        "Fraction of texts the context filter keeps (None: (rate + 1) / 2).",
        check=lambda v: v is None or _rate(v),
        expect="None or a number in (0, 1]",
    )
    target_context: int | None = option(
        None,
        "Number of texts the context filter keeps.",
        check=lambda v: v is None or (is_int(v) and v > 0),
        expect="None or an int >= 1",
    )
    force_context_ids: tuple[int, ...] = context_ids_option()
    rank_with_query: bool = flag(
        True,
        "With a query and several texts: drop and order the texts by the fused ranker "
        "(sentence-embedding cosine + BM25, as the default method ranks) before token "
        "classification, in the same call.",
    )
    coarse_ratio: float = option(
        2.0,
        "With rank_with_query: texts are kept best first up to this multiple of the budget; "
        "the token level then compresses them to the budget.",
        check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1,
        expect="a number >= 1",
    )
    ranker_model: str | None = option(
        None,
        "Sentence-embedding model of rank_with_query: None (the embedded MiniLM), a folder "
        "or a hub id.",
        check=lambda v: v is None or isinstance(v, str),
        expect="None or a str",
    )
    budget_scope: str = budget_scope_option("text", ("chunk", "text", "global"))
    max_len: int = option(
        512,
        "Most tokens per chunk, special tokens included (capped by the model).",
        check=lambda v: is_int(v) and v >= 8,
        expect="an int >= 8",
    )
    batch_tokens: int | None = option(
        None,
        "Most padded tokens per forward pass (bounds memory). None: 512 on CPU (larger "
        "batches measured slower there), 16384 on CUDA.",
        check=lambda v: v is None or (is_int(v) and v > 0),
        expect="None or a positive int",
    )
    max_wait_ms: float = max_wait_option()


class LLMLingua2Compressor(ModelCompressor[LLMLingua2Options]):
    """LLMLingua-2 on any token-classification model (hub id or local folder)."""

    method = "llmlingua2"
    description = "Keep-probability per word from a token-classification encoder (BERT, XLM-R)."
    default_model_name = HUB_IDS["xlm-roberta"]
    options_class = LLMLingua2Options
    stores_scores = True

    def _load(self) -> LoadedModel:
        model = self.model if self.model is not None else HUB_IDS["xlm-roberta"]
        try:
            return load_token_classifier(
                model,
                device=self.device,
                dtype=self.dtype,
                model_kwargs=self.model_kwargs,
                trust_remote_code=self.trust_remote_code,
                allow_pickle=self.allow_pickle,
            )
        except OSError as e:
            msg = (
                f"{e} LLMLingua-2 checkpoints: {', '.join(HUB_IDS.values())}; pass model= a local "
                "folder holding one of them (or any *ForTokenClassification model)."
            )
            if isinstance(e, ModelUnavailableError):  # no hub traceback to chain
                raise ModelUnavailableError(msg) from None
            kind = FileNotFoundError if isinstance(e, FileNotFoundError) else OSError
            raise kind(msg) from e  # a missing folder stays one, so the failure is remembered

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ranker: Any = None

    def _scorer(self, opts: LLMLingua2Options) -> Any:
        from lingua_core.scorers.classifier import TokenClassifierScorer

        return TokenClassifierScorer(
            self._loaded(),
            max_len=opts.max_len,
            batch_tokens=opts.batch_tokens,
            max_wait_ms=opts.max_wait_ms,
        )

    # ------------------------------------------------------------------ the method

    def _compress_texts(self, call: Call[LLMLingua2Options]) -> list[TextOutcome]:
        texts, n_tokens, opts = call.texts, call.n_tokens, call.options
        scorer = self._scorer(opts)
        force_tokens = list(opts.force_tokens)
        self._check_force_tokens(scorer, force_tokens)
        tokenized = scorer.tokenize(texts, frozenset(opts.chunk_end_tokens))
        probs = scorer.keep_probs(tokenized)
        force_re = (
            re.compile("|".join(re.escape(t) for t in sorted(force_tokens, key=len, reverse=True)))
            if force_tokens
            else None
        )
        to_word = opts.token_to_word or self._trained_token_to_word()
        per_text = [
            self._words(text, tk, p, to_word, force_re, opts.force_reserve_digit, opts.unit)
            for text, tk, p in zip(texts, tokenized, probs)
        ]
        counter = self.token_counter
        costs = unit_costs_many(texts, [w.units for w in per_text], counter, standalone=True)

        kept_texts = list(range(len(texts)))
        r = self._rate(call)
        target_tokens = call.target_tokens
        ranked: tuple[list[int], np.ndarray] | None = None
        if call.question and opts.rank_with_query and len(texts) > 1:
            ranked = self._rank(call)
            kept_texts = sorted(ranked[0])
            target_tokens = round(r * sum(n_tokens)) if target_tokens is None else target_tokens
        elif opts.use_context_level_filter and len(texts) > 1:
            kept_texts = self._context_filter(per_text, call)
        if target_tokens is not None:
            reserved = sum(n_tokens[i] for i in kept_texts)
            r = min(target_tokens / max(reserved, 1), 1.0)

        keeps = [np.zeros(len(w.units), dtype=bool) for w in per_text]
        if not opts.use_token_level_filter or r >= 1.0:
            for i in kept_texts:
                keeps[i][:] = True
        else:
            self._token_filter(per_text, costs, kept_texts, r, opts, keeps)
        if opts.drop_consecutive and force_tokens:
            for i in kept_texts:
                _drop_consecutive(texts[i], per_text[i], keeps[i])
        kept = set(kept_texts)
        out = [
            TextOutcome.kept(assemble(t, w.units, k))
            if len(w.units) or i not in kept
            else TextOutcome.whole(t)
            for i, (t, w, k) in enumerate(zip(texts, per_text, keeps))
        ]  # a text the tokenizer reads as nothing (e.g. control characters) comes back whole
        if ranked is None:
            return out
        order, relevance = ranked
        place = {i: p for p, i in enumerate(j for j in order if out[j].spans)}
        for i, o in enumerate(out):
            o.relevance, o.order = float(relevance[i]), place.get(i)
        return out

    def _rank(self, call: Call[LLMLingua2Options]) -> tuple[list[int], np.ndarray]:
        """Texts kept by the fused ranker (best first) and every text's relevance."""
        texts, n_tokens, opts = call.texts, call.n_tokens, call.options
        from lingua_core.scorers.embed import Embedder
        from lingua_core.scorers.rank import rank_texts

        with self._lock:
            if self._ranker is None or self._ranker.model != opts.ranker_model:
                self._ranker = Embedder(opts.ranker_model, device=self.device)
        order, relevance = rank_texts(
            texts,
            str(call.query),
            method="fused",
            embedder=self._ranker,
            signals=("embedding", "bm25"),
        )
        target = self._total_budget(call)
        if opts.use_token_level_filter:
            target *= float(opts.coarse_ratio)
        forced = forced_positions(opts.force_context_ids, call)
        kept = [i for i in order.tolist() if i in forced]
        used = float(sum(n_tokens[i] for i in kept))
        for i in order.tolist():
            if i in forced:
                continue
            if kept and used + n_tokens[i] > target:
                continue  # skip what does not fit; smaller texts may still
            kept.append(i)
            used += n_tokens[i]
        return kept, relevance

    def _check_force_tokens(self, scorer: Any, force_tokens: Sequence[str]) -> None:
        if not force_tokens:
            return
        lengths = self._loaded().tokenizer(
            list(force_tokens), add_special_tokens=False, verbose=False
        )
        width = scorer.max_len - 2
        for tok, ids in zip(force_tokens, lengths["input_ids"]):
            if len(ids) > width:
                msg = (
                    f"force token {tok[:40]!r} is {len(ids)} tokens long; the model allows at "
                    f"most {width} per chunk"
                )
                raise ValueError(msg)

    def _trained_token_to_word(self) -> str:
        """How the model's words were labelled in training: ``first`` piece or ``mean``."""
        loaded = self._loaded()
        if "token_to_word" not in loaded.facts:
            meta = Path(str(loaded.source)) / TRAINING_META
            found = "mean"
            if meta.is_file():
                training = json.loads(meta.read_text(encoding="utf-8")).get("training", {})
                found = "first" if training.get("token_to_word") == "first" else "mean"
            loaded.facts["token_to_word"] = found
        return str(loaded.facts["token_to_word"])

    def _words(
        self,
        text: str,
        tk: Any,
        probs: np.ndarray,
        token_to_word: str,
        force_re: re.Pattern[str] | None,
        reserve_digit: bool,
        unit: str = "word",
    ) -> _Words:
        n = tk.ids.shape[0]
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return _Words(
                Units(empty, empty),
                np.zeros(0),
                np.zeros(0),
                np.zeros(0, bool),
                np.zeros(0, bool),
                empty,
            )
        word = np.cumsum(tk.word_starts) - 1
        word[word < 0] = 0
        n_words = int(word[-1]) + 1
        wstart = np.full(n_words, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(wstart, word, tk.starts)
        wend = np.zeros(n_words, dtype=np.int64)
        np.maximum.at(wend, word, tk.ends)
        if token_to_word == "first":
            first = np.flatnonzero(np.r_[True, word[1:] != word[:-1]])
            wprob = probs[first].astype(np.float64)
        else:
            wprob = np.bincount(word, weights=probs, minlength=n_words) / np.bincount(
                word, minlength=n_words
            )
        wchunk = np.zeros(n_words, dtype=np.int64)
        np.maximum.at(wchunk, word, tk.chunk)
        units, w2u = merge_overlapping(wstart, wend, text)
        ok = w2u >= 0
        counts = np.maximum(np.bincount(w2u[ok], minlength=len(units)), 1)
        scores = np.bincount(w2u[ok], weights=wprob[ok], minlength=len(units)) / counts
        chunk = np.zeros(len(units), dtype=np.int64)
        np.maximum.at(chunk, w2u[ok], wchunk[ok])
        raw = scores.copy()  # probabilities before forcing (the context filter uses these)
        if unit == "word":
            units, scores, raw, chunk = whole_words(text, units, scores, raw, chunk)
        forced_tok = np.zeros(len(units), dtype=bool)
        if force_re is not None:
            units, scores, raw, chunk, forced_tok = _split_at_force(
                text, units, scores, raw, chunk, force_re
            )
        forced = forced_tok.copy()
        if reserve_digit and len(units):
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            digits = np.concatenate([[0], np.cumsum((codes >= 48) & (codes <= 57))])
            forced |= digits[units.ends] > digits[units.starts]
        return _Words(units, scores, raw, forced, forced_tok, chunk)

    def _context_filter(self, per_text: list[_Words], call: Call[LLMLingua2Options]) -> list[int]:
        opts, n_tokens, target_tokens, rate = (
            call.options,
            call.n_tokens,
            call.target_tokens,
            self._rate(call),
        )
        n = len(per_text)
        clr = opts.context_level_rate
        if opts.target_context is not None:
            clr = min(opts.target_context / n, 1.0)
        elif clr is None:
            token_filter = opts.use_token_level_filter
            if target_tokens is not None:
                target = target_tokens * 2 if token_filter else target_tokens
                clr = min(target / max(sum(n_tokens), 1), 1.0)
            else:
                clr = (rate + 1.0) / 2 if token_filter else rate
        means = np.asarray([w.raw.mean() if w.raw.size else 0.0 for w in per_text])
        threshold = np.percentile(means, int(100 * (1 - clr)))
        forced = forced_positions(opts.force_context_ids, call)
        return [i for i in range(n) if means[i] >= threshold or i in forced]

    def _token_filter(
        self,
        per_text: list[_Words],
        costs: list[np.ndarray],
        kept_texts: list[int],
        rate: float,
        opts: LLMLingua2Options,
        keeps: list[np.ndarray],
    ) -> None:
        scope = opts.budget_scope
        groups: list[tuple[int, np.ndarray]] = []  # (text, unit indices) per threshold group
        for i in kept_texts:
            w = per_text[i]
            if scope == "chunk" and len(w.units):
                order = np.arange(len(w.units))
                bounds = np.flatnonzero(np.diff(w.chunk)) + 1
                groups.extend((i, idx) for idx in np.split(order, bounds))
            else:
                groups.append((i, np.arange(len(w.units))))
        scores = [per_text[i].scores[idx] for i, idx in groups]
        group_costs = [costs[i][idx] for i, idx in groups]
        forced = [per_text[i].forced[idx] for i, idx in groups]
        budgets = [rate * float(c.sum()) for c in group_costs]
        masks = select(
            scores,
            group_costs,
            budgets,
            scope="global" if scope == "global" else "text",
            forced=forced,
            rule="threshold",
        )
        for (i, idx), m in zip(groups, masks):
            keeps[i][idx] = m
