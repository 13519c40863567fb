"""The method contract: one :class:`Call` in, one :class:`TextOutcome` per text out.

:meth:`lingua_core.base.Compressor.compress` checks the caller's arguments, drops blank texts and
hands a method one :class:`Call` (the texts, their token counts, the query, the budget, the
resolved options and where each text sits among the inputs), as LlamaIndex hands a
postprocessor one ``QueryBundle``. The method returns one :class:`TextOutcome` per text, which
the pipeline turns into a :class:`~lingua_core.result.CompressionResult` (token counts, the
method's name, ``dropped``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class Call(Generic[OptionsT]):
    """One compression call as a method sees it.

    Attributes:
        texts: The non-blank texts to compress, in input order.
        n_tokens: Each text's length in the compressor's tokens.
        query: The question, or None.
        rate: The kept fraction in (0, 1], ``"auto"`` (only for methods that declare
            ``supports_auto_rate``), or None: the compressor's default unless
            ``target_tokens`` is given.
        target_tokens: A total token budget over all texts, or None.
        options: The method's options for this call, checked and merged with its defaults.
        positions: The input index of each text (blank inputs are not passed), for options
            that name input indices such as ``force_context_ids``.
        n_inputs: How many texts the caller gave, blank ones included.
    """

    texts: list[str]
    n_tokens: list[int]
    query: str | None
    rate: float | Literal["auto"] | None
    target_tokens: int | None
    options: OptionsT
    positions: tuple[int, ...]
    n_inputs: int

    @property
    def question(self) -> str:
        """The query stripped of surrounding whitespace; empty when there is none."""
        return (self.query or "").strip()

    @property
    def fixed_rate(self) -> float | None:
        """``rate`` as a number; None when it is None or ``"auto"``."""
        return None if self.rate is None or self.rate == "auto" else float(self.rate)

    def on(
        self,
        texts: list[str],
        n_tokens: list[int],
        *,
        rate: float | Literal["auto"] | None,
        target_tokens: int | None,
        options: OptionsT,
    ) -> Call[OptionsT]:
        """The same question on other texts (chunks of these, say), each its own input."""
        n = len(texts)
        return Call(texts, n_tokens, self.query, rate, target_tokens, options, tuple(range(n)), n)


@dataclass
class TextOutcome:
    """What a method made of one text.

    Attributes:
        text: The kept pieces of the text, joined (empty when nothing is kept).
        spans: The ``(start, end)`` character spans of the kept pieces; empty: dropped.
        order: The text's place in the prompt among the kept texts (0 first), when the method
            ranks texts; None otherwise.
        relevance: The method's relevance score of the text, when it has one.
        elided: Indices of the spans after an elision inside a sentence (see
            :attr:`lingua_core.result.CompressionResult.elided`).
    """

    text: str
    spans: list[tuple[int, int]]
    order: int | None = None
    relevance: float | None = None
    elided: tuple[int, ...] = ()

    @classmethod
    def whole(
        cls, text: str, *, order: int | None = None, relevance: float | None = None
    ) -> TextOutcome:
        """The text kept whole."""
        return cls(text, [(0, len(text))], order, relevance)

    @classmethod
    def dropped(cls, *, order: int | None = None, relevance: float | None = None) -> TextOutcome:
        """Nothing of the text kept."""
        return cls("", [], order, relevance)

    @classmethod
    def kept(cls, assembled: tuple[str, list[tuple[int, int]]]) -> TextOutcome:
        """From :func:`lingua_core.pipeline.text.assemble`'s ``(text, spans)``."""
        return cls(assembled[0], list(assembled[1]))
