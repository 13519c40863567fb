"""Corpus runs: score or compress every row of a JSONL or Parquet file, locally or on Ray Data.

:mod:`~lingua_core.corpus.runs` (reading rows, resumable runs, the engines) and
:mod:`~lingua_core.corpus.cli` (``lingua corpus``).
"""

from __future__ import annotations

from lingua_core.corpus.cli import register_cli, run_from_args
from lingua_core.corpus.runs import (
    ENGINES,
    JOBS,
    compress_corpus,
    done_ids,
    read_rows,
    run_corpus,
    score_corpus,
)

__all__ = [
    "ENGINES",
    "JOBS",
    "compress_corpus",
    "done_ids",
    "read_rows",
    "register_cli",
    "run_corpus",
    "run_from_args",
    "score_corpus",
]
