"""Evaluation harness: multi-document QA data, metrics, rate sweeps and reports.

``lingua eval`` (the CLI) and this package compare methods across compression rates on real QA:
:mod:`~lingua_core.eval.data` builds or loads examples, :mod:`~lingua_core.eval.metrics` scores a
compressed context (answer survival) and a reader's answer (exact match, F1),
:mod:`~lingua_core.eval.sweep` runs methods x rates into a resumable JSONL file, and
:mod:`~lingua_core.eval.report` turns it into tables, bootstrap intervals and thresholds.
Importing it loads no model and no torch.
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
