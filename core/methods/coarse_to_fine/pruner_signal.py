"""The learned pruner as a signal of the default method.

Where the cheap signals point, a cross-encoder reads question and passage together. The texts
the first signals rank best, up to ``pruner_span`` times the budget, are read by the pruner (the
embedded one unless ``pruner_model`` names another, :mod:`lingua_core.models.pruners`); each
unit's keep score (the mean keep probability of its tokens) and each text's relevance are
z-scored over what it read and added to the fused scores with weights ``pruner_weight`` and
``pruner_relevance_weight``. Units it did not read get the lowest of those z-scores, so that an
unread text never gains from the pruner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lingua_core.pipeline.contract import Call
from lingua_core.pipeline.text import Units
from lingua_core.scorers.rank import zscore

if TYPE_CHECKING:
    from lingua_core.methods.coarse_to_fine.compressor import CoarseToFineOptions


def candidates(
    relevance: np.ndarray, n_tokens: list[int], budget: float | None, span: float
) -> list[int]:
    """Texts by relevance, best first, until they hold ``span`` x the budget (all with none)."""
    ranked = np.argsort(-relevance, kind="stable").tolist()
    if budget is None:
        return sorted(ranked)
    out: list[int] = []
    total = 0.0
    for i in ranked:
        if out and total >= span * budget:
            break
        out.append(int(i))
        total += n_tokens[i]
    return sorted(out)


def add_pruner(
    scorer: Any,
    call: Call[CoarseToFineOptions],
    units: list[Units],
    score: np.ndarray,
    relevance: np.ndarray,
    budget: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and relevance with the pruner's signal added (see the module docstring).

    ``budget`` is the call's token budget (None with ``rate="auto"``: the pruner reads every
    text); ``units`` are the sentences of the call's texts, ``score`` and ``relevance`` the
    first signals' per sentence and per text.
    """
    opts, texts = call.options, call.texts
    w = float(opts.pruner_weight)
    read = candidates(relevance, call.n_tokens, budget, float(opts.pruner_span))
    spec = scorer.spec
    got = scorer.score(
        call.question, [texts[i] for i in read], [units[i] for i in read], spec.threshold
    )
    starts = np.r_[0, np.cumsum([len(u) for u in units])]
    unit_p = np.full(score.shape[0], np.nan)
    text_p = np.full(relevance.shape[0], np.nan)
    for i, s in zip(read, got):
        unit_p[starts[i] : starts[i + 1]] = s.sentences
        text_p[i] = s.relevance
    seen = ~np.isnan(unit_p)
    z = np.zeros_like(unit_p)
    if seen.any():
        z[seen] = zscore(unit_p[seen])
        z[~seen] = float(z[seen].min())
    zt = np.zeros_like(text_p)
    ok = ~np.isnan(text_p) & np.isfinite(text_p)
    if ok.any():
        zt[ok] = zscore(text_p[ok])
        zt[~ok] = float(zt[ok].min())
    return score + w * z, relevance + float(opts.pruner_relevance_weight) * zt
