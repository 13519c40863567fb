"""The default method's multi-hop re-scoring: the first pass's signals, bridges raised.

:mod:`~lingua_core.methods.coarse_to_fine.compressor` calls these on flat arrays over the
units of all texts of a call (``doc`` gives each unit's text); the selection under a budget is
:mod:`lingua_core.methods._sentences`'s, shared with the ``pruner`` method.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lingua_core.pipeline.passages import bridge_texts

if TYPE_CHECKING:
    from lingua_core.methods.coarse_to_fine.compressor import CoarseToFineOptions

logger = logging.getLogger("lingua_core.methods.coarse_to_fine")


@dataclass(frozen=True)
class FirstPass:
    """What the first pass of one call computed, read by the re-scoring steps after it.

    Attributes:
        texts: The call's texts.
        flat: Every unit's string, over all texts.
        doc: Each unit's text (index into ``texts``).
        titles: Each text's title (``None``: none).
        question: The query.
        unit_vecs: Each unit's embedding.
        text_bm25: Each text's BM25 score against the question.
        unit_bm25: Each unit's BM25 score against the question.
    """

    texts: list[str]
    flat: list[str]
    doc: np.ndarray
    titles: list[str | None]
    question: str
    unit_vecs: np.ndarray
    text_bm25: np.ndarray
    unit_bm25: np.ndarray


def raise_bridges(
    first: FirstPass,
    score: np.ndarray,
    relevance: np.ndarray,
    top: np.ndarray,
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
    doc = first.doc
    found = [first.flat[i] for i in top.tolist()]
    bridges = bridge_texts(first.titles, found, set(doc[top].tolist()), first.question)
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
