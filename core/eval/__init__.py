"""Evaluation harness: data, metrics, rate sweeps, comparison studies and their analysis.

``lingua eval`` (the CLI) and this package compare methods across compression rates:
:mod:`~lingua_core.eval.data` builds or loads examples, :mod:`~lingua_core.eval.metrics` scores a
compressed context (answer survival, content recall) and a reader's answer (exact match, F1,
ROUGE-L, the final number), :mod:`~lingua_core.eval.sweep` runs methods x rates into a resumable
JSONL file and :mod:`~lingua_core.eval.report` turns it into tables, bootstrap intervals and
thresholds. Studies: :mod:`~lingua_core.eval.tasks` (the six task types),
:mod:`~lingua_core.eval.readers` (none, local, fake, hosted; the response cache),
:mod:`~lingua_core.eval.study` (study files, the built-in study, dry runs),
:mod:`~lingua_core.eval.runner` (resumable runs) and :mod:`~lingua_core.eval.analysis` (r*,
homogeneity and interaction tests, verdicts). Importing it loads no model and no torch.
"""

from __future__ import annotations

from lingua_core.eval.data import QAExample, kv_retrieval, load_jsonl, nq_multidoc
from lingua_core.eval.metrics import answer_in, exact_match, f1, normalize

__all__ = [
    "QAExample",
    "answer_in",
    "exact_match",
    "f1",
    "kv_retrieval",
    "load_jsonl",
    "normalize",
    "nq_multidoc",
]
