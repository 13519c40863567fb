"""Sentence selection shared by the sentence-level methods (``coarse_to_fine``, ``pruner``).

On flat arrays over the units of all texts of a call (``doc`` gives each unit's text): the
budgeted selection with titles, the leading sentences when there is no query, and the outcomes
per text.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from lingua_core.pipeline.contract import TextOutcome
from lingua_core.pipeline.select import NEVER, select
from lingua_core.pipeline.text import Units, assemble_marked

if TYPE_CHECKING:
    from lingua_core.base import Compressor


def has_kept(keep: np.ndarray, doc: np.ndarray) -> np.ndarray:
    """Per text, whether any of its units is kept."""
    out = np.zeros(int(doc.max()) + 1 if doc.size else 0, dtype=bool)
    np.logical_or.at(out, doc, keep)
    return out


def select_with_titles(
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
    masked = np.where(is_title, NEVER, costs)  # never selected by itself
    keep = select([score], [masked], [budget], scope="global")[0]
    titles = float(costs[is_title & has_kept(keep, doc)[doc]].sum())
    if titles:
        keep = select([score], [masked], [max(budget - titles, 0.0)], scope="global")[0]
    out: np.ndarray = keep & ~is_title
    return out


def leading_keep(
    sizes: list[int],
    costs: np.ndarray,
    is_title: np.ndarray | None,
    n_tokens: list[int],
    rate: float,
    target_tokens: int | None,
) -> np.ndarray:
    """Without a query: each text's leading units (no model pass), titles with their text.

    ``rate`` applies to every text on its own; ``target_tokens`` is one budget over all texts,
    shared out by position (every text's first unit, then every second one).
    """
    doc = np.repeat(np.arange(len(sizes)), sizes)
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    score = -(np.arange(doc.shape[0]) - first[doc]).astype(np.float64)  # earlier first
    if target_tokens is not None:
        keep = select_with_titles(score, costs, float(target_tokens), doc, is_title)
    else:
        keep = np.zeros(doc.shape[0], dtype=bool)
        bounds = np.cumsum([0, *sizes])
        for i, n in enumerate(n_tokens):
            idx = np.arange(bounds[i], bounds[i + 1])
            keep[idx] = select_with_titles(
                score[idx],
                costs[idx],
                rate * n,
                doc[idx] - i,
                None if is_title is None else is_title[idx],
            )
    if is_title is not None:
        keep |= is_title & has_kept(keep & ~is_title, doc)[doc]
    return keep


def warn_no_query_once(comp: Compressor[Any]) -> None:
    """Log once per compressor that a call without a query keeps each text's leading sentences."""
    if not getattr(comp, "_warned_no_query", False):
        comp._warned_no_query = True  # type: ignore[attr-defined]
        logging.getLogger(type(comp).__module__).warning(  # under the method's own name
            "%s: no query given; keeping each text's leading sentences (pass query= for "
            "question-aware compression; logged once per compressor)",
            comp.method,
        )


def outcomes(
    texts: list[str],
    units: list[Units],
    keep: np.ndarray,
    relevance: np.ndarray | None = None,
    reorder: str = "sort",
    groups: list[np.ndarray] | None = None,
) -> list[TextOutcome]:
    """One outcome per text from a keep mask over the units of all texts.

    With ``relevance``, kept texts are ranked by it (``reorder="original"``: input order) and
    each outcome carries it; a text with no unit is kept whole. ``groups`` gives each unit's
    sentence, so that cuts inside a sentence are marked
    (:func:`lingua_core.pipeline.text.assemble_marked`).
    """
    keeps = np.split(keep, np.cumsum([len(u) for u in units])[:-1])
    order: dict[int, int] = {}
    if relevance is not None:
        ranked = [int(i) for i in np.argsort(-relevance, kind="stable") if keeps[i].any()]
        if reorder == "original":
            ranked.sort()
        order = {i: p for p, i in enumerate(ranked)}
    out: list[TextOutcome] = []
    for i, (t, u, k) in enumerate(zip(texts, units, keeps)):
        rel = None if relevance is None else float(relevance[i])
        if len(u) == 0:  # nothing a sentence splitter could read: keep it whole
            out.append(TextOutcome.whole(t, order=order.get(i), relevance=rel))
            continue
        text, spans, elided = assemble_marked(t, u, k, None if groups is None else groups[i])
        out.append(TextOutcome(text, spans, order.get(i), rel, elided))
    return out
