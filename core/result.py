"""What a user gets back: one :class:`CompressionResult` per input text, and the joined prompt."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lingua_core.pipeline.languages import SPACELESS_RANGES

#: Put between two kept pieces where the words dropped between them cut into a sentence (two
#: pieces of one sentence, or a sentence whose end or start was dropped), so that a reader can
#: tell the words either side were not adjacent ("X was, … among male viewers").
ELISION = " … "
#: The same between two pieces joined without a space (see :func:`join_spans`).
ELISION_UNSPACED = "…"
#: Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer, kana, CJK
#: ideographs) and the CJK and full-width punctuation: two kept pieces that meet on such
#: characters are joined without a space, as the script is written.
_UNSPACED = re.compile(f"[{SPACELESS_RANGES}\u3000-\u303f\uff00-\uffef]")


def _separator(left: str, right: str, elided: bool) -> str:
    """What goes between two kept pieces: a space, or nothing between two spaceless-script ends."""
    if left and right and _UNSPACED.match(left[-1]) and _UNSPACED.match(right[0]):
        return ELISION_UNSPACED if elided else ""
    return ELISION if elided else " "


def join_spans(original: str, spans: Sequence[tuple[int, int]], elided: Sequence[int] = ()) -> str:
    """The compressed text of ``spans`` of ``original``: how every result's ``text`` is built.

    Kept pieces are joined by one space, or by :data:`ELISION` before a piece whose index is in
    ``elided`` (the words dropped before it cut into a sentence). Two pieces that meet on
    characters of a script written without spaces (Chinese, Japanese, Thai, ...) or on CJK
    punctuation are joined with nothing between them (``"…"`` for an elision), so that no space
    is inserted into such text.

    Args:
        original: The input text.
        spans: ``(start, end)`` character offsets of the kept pieces, in order.
        elided: Indices of the pieces that follow an elision.

    Returns:
        The compressed text.
    """
    marked = set(elided)
    out: list[str] = []
    for i, (s, e) in enumerate(spans):
        piece = original[s:e]
        if i:
            out.append(_separator(out[-1], piece, i in marked))
        out.append(piece)
    return "".join(out)


@dataclass(frozen=True)
class CompressionResult:
    """The compressed form of one input text.

    Attributes:
        text: The compressed text, built only from pieces of ``original_text``:
            ``text == join_spans(original_text, spans, elided)``, the pieces joined by one space,
            or by ``" … "`` (:data:`ELISION`) where the words dropped between two pieces cut
            into a sentence (the default's clauses of long sentences); by nothing (``"…"``)
            where they meet on Chinese, Japanese or Thai script, which is written without
            spaces.
        original_text: The input text, unchanged.
        spans: Character offsets ``(start, end)`` into ``original_text`` of every kept run, in
            order and non-overlapping.
        original_tokens: Tokens of ``original_text`` (in the compressor's token counter).
        compressed_tokens: Tokens of ``text`` (same counter).
        method: The method that produced it.
        dropped: ``True`` when the whole text was removed (``text`` and ``spans`` empty): by a
            coarse filter, or by a global budget (``budget_scope="global"``, the default with
            ``target_tokens``) that gave it no unit. A non-blank text is never emptied otherwise.
        order: Where a method that reorders texts (LongLLMLingua's ``reorder_context``) places
            this text in the prompt, 0 first; ``None`` when it does not reorder, or the text was
            dropped. Results always come back in input order: :func:`join_results` builds the
            prompt in this order.
        relevance: The text's score in a coarse ranking against the query (higher is more
            relevant), when the method ranked texts; else ``None``.
        elided: Indices of the spans after a gap that cuts into a sentence: ``text`` has
            :data:`ELISION` before each of them instead of a space.
    """

    text: str
    original_text: str
    spans: tuple[tuple[int, int], ...]
    original_tokens: int
    compressed_tokens: int
    method: str
    dropped: bool = False
    order: int | None = None
    relevance: float | None = None
    elided: tuple[int, ...] = ()

    @property
    def rate(self) -> float:
        """Achieved rate: ``compressed_tokens / original_tokens`` (1.0 for an empty text)."""
        if self.original_tokens == 0:
            return 1.0
        return self.compressed_tokens / self.original_tokens


def join_results(results: Sequence[CompressionResult], sep: str = "\n\n") -> str:
    """The kept texts joined into one context, in the order the method chose.

    Texts with an ``order`` come first, by ``order``; the others follow in input order. Dropped
    and empty texts are left out. Each text is its ``text`` (its pieces already joined by
    :func:`join_spans`, elisions marked).

    Args:
        results: Results of one :meth:`Compressor.compress` call.
        sep: Put between texts.

    Returns:
        The joined context.
    """
    ranked = sorted(
        range(len(results)),
        key=lambda i: (results[i].order is None, results[i].order or 0, i),
    )
    return sep.join(results[i].text for i in ranked if results[i].text and not results[i].dropped)
