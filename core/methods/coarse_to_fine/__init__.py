"""The default method: question-aware coarse-to-fine selection of sentences under one budget.

:mod:`~lingua_core.methods.coarse_to_fine.compressor` (the options and the method),
:mod:`~lingua_core.methods.coarse_to_fine.scores` (the fused signals, the multi-hop pass, the
selection with titles) and :mod:`~lingua_core.methods.coarse_to_fine.pruner_signal` (the learned
pruner as an optional signal).
"""

from __future__ import annotations

from lingua_core.methods.coarse_to_fine.compressor import (
    CoarseToFineCompressor,
    CoarseToFineOptions,
)

__all__ = ["CoarseToFineCompressor", "CoarseToFineOptions"]
