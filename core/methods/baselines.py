"""Baselines sharing the interface: ``random`` (the control), ``naive`` (stop words), ``none``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from lingua_core.base import Compressor, MethodOptions
from lingua_core.options import budget_scope_option, seed_option, unit_option
from lingua_core.pipeline.contract import Call, TextOutcome
from lingua_core.pipeline.text import STOP_WORDS, Units, assemble, bare_word


@dataclass(frozen=True)
class RandomOptions(MethodOptions):
    """Options of ``random``."""

    unit: str = unit_option(
        "word",
        ("word", "phrase", "sentence"),
        "Unit dropped at random: 'word', 'phrase' or 'sentence'.",
    )
    seed: int = seed_option()
    budget_scope: str | None = budget_scope_option()


@dataclass(frozen=True)
class NaiveOptions(MethodOptions):
    """Options of ``naive``."""

    budget_scope: str | None = budget_scope_option()


@dataclass(frozen=True)
class NoneOptions(MethodOptions):
    """``none`` has no options."""


class RandomCompressor(Compressor[RandomOptions]):
    """Keeps random units: the control every method must beat.

    Deterministic per input: the scores of a text depend only on the text and ``seed``, never on
    global RNG state or on the other texts of the call. Words and phrases come from whitespace:
    text written without spaces (Chinese, Japanese) is cut only after clause punctuation, which
    a warning says once per compressor (:func:`lingua_core.pipeline.languages.warn_spaceless_once`).
    """

    method = "random"
    description = "Random units (seeded per input text): the control."
    fallback_counter = "words"
    options_class = RandomOptions

    def _score(
        self, texts: list[str], units: list[Units], query: str | None, opts: RandomOptions
    ) -> list[np.ndarray]:
        out = []
        for text, u in zip(texts, units):
            digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            rng = np.random.default_rng(
                [int(opts.seed) & (2**63 - 1), int.from_bytes(digest, "little")]
            )
            out.append(rng.random(len(u)))
        return out


_PUNCT_ONLY = frozenset("-–—…·•|/\\*_~`#>")


class NaiveCompressor(Compressor[NaiveOptions]):
    """Drops stop words first, then the shortest words.

    With no ``rate`` or ``target_tokens`` it removes exactly the stop words (and punctuation-only
    tokens); with a budget it keeps content words before stop words, longer words first. The
    stop words are English and words come from whitespace: text written without spaces
    (Chinese, Japanese) gets a warning, once per compressor.
    """

    method = "naive"
    description = "Stop-word removal; with a budget, shortest words go next."
    fallback_counter = "words"
    options_class = NaiveOptions

    def _finds_words_by_whitespace(self, opts: NaiveOptions) -> bool:
        return True  # always words

    @staticmethod
    def _word_scores(text: str, u: Units) -> np.ndarray:
        scores = np.zeros(len(u), dtype=np.float64)
        for i, w in enumerate(u.texts(text)):
            bare = bare_word(w)
            if bare and bare not in STOP_WORDS and not set(bare) <= _PUNCT_ONLY:
                scores[i] = 1.0 + min(len(bare), 20) / 100.0
        return scores

    def _score(
        self, texts: list[str], units: list[Units], query: str | None, opts: NaiveOptions
    ) -> list[np.ndarray]:
        return [self._word_scores(t, u) for t, u in zip(texts, units)]

    def _compress_texts(self, call: Call[NaiveOptions]) -> list[TextOutcome]:
        if call.rate is not None or call.target_tokens is not None:
            return super()._compress_texts(call)
        out = []
        for t in call.texts:
            u = self._segment(t, call.options)
            keep = self._word_scores(t, u) > 0
            out.append(TextOutcome.kept(assemble(t, u, keep)))
        return out


class NoneCompressor(Compressor[NoneOptions]):
    """Returns every text unchanged: the uncompressed reference (``rate`` is accepted, ignored)."""

    method = "none"
    description = "No compression: every text comes back unchanged."
    default_rate = 1.0
    fallback_counter = "words"
    options_class = NoneOptions

    def _compress_texts(self, call: Call[NoneOptions]) -> list[TextOutcome]:
        return [TextOutcome.whole(t) for t in call.texts]
