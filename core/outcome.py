"""The typed contract between the pipeline and a method: a call's context, a text's outcome.

:meth:`lingua_core.base.Compressor.compress` hands a method the non-blank texts of a call with a
:class:`CallContext` (where each of them sits among the inputs), and the method returns one
:class:`TextOutcome` per text, which the pipeline turns into a
:class:`~lingua_core.result.CompressionResult` (token counts, the method's name, ``dropped``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallContext:
    """Facts about the whole call that a method may need besides its texts.

    Attributes:
        positions: The input index of each text the method sees (blank inputs are not passed).
        n_inputs: How many texts the caller gave, blank ones included.
    """

    positions: tuple[int, ...]
    n_inputs: int


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
        """From :func:`lingua_core.text.assemble`'s ``(text, spans)``."""
        return cls(assembled[0], list(assembled[1]))
