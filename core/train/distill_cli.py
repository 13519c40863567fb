"""``lingua distill collect|label``: LLMLingua-2's data, a teacher's compressions and labels.

Registered by :mod:`lingua_core.cli` next to ``lingua train``; the work is in
:mod:`lingua_core.train.collect` and :mod:`lingua_core.train.distill`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lingua_core.train.collect import CHUNK_TOKENS
from lingua_core.train.distill import GAP_PERCENTILE, VARIATION_PERCENTILE, WINDOW


def register(sub: Any) -> None:
    """Add ``lingua distill`` to the ``lingua`` parser."""
    d = sub.add_parser("distill", help="LLMLingua-2 data: a teacher's compressions, labels")
    jobs = d.add_subparsers(dest="distill_command", required=True)
    col = jobs.add_parser(
        "collect", help="a teacher's compressions of every chunk of a corpus (resumable)"
    )
    col.add_argument("corpus", type=Path, help="JSONL or Parquet with id and text")
    col.add_argument("out", type=Path, help="output JSONL of pairs (appended, resumed)")
    col.add_argument(
        "--teacher",
        required=True,
        help="PROVIDER:MODEL (a hosted chat model), local (SmolLM2) or lingua:METHOD "
        "(a deterministic extractive teacher, e.g. lingua:naive)",
    )
    col.add_argument("--chunk-tokens", type=int, default=CHUNK_TOKENS)
    col.add_argument("--token-counter", default="cl100k_base", help="tiktoken name or words")
    col.add_argument("--concurrency", type=int, default=4)
    col.add_argument("--dry-run", action="store_true", help="count and price, call nobody")
    col.add_argument("--id-column", default="id")
    col.add_argument("--text-column", default="text")
    col.set_defaults(run=_collect)
    lab = jobs.add_parser(
        "label",
        help="label each word of every chunk keep/drop by aligning the teacher's compression; "
        "filter the chunks where the alignment fails",
    )
    lab.add_argument(
        "pairs",
        type=Path,
        help="JSONL: id, source, original, compressed per line, or the MeetingBank-LLMCompressed "
        "layout (prompt_list, compressed_prompt_list, idx)",
    )
    lab.add_argument("out", type=Path, help="output JSONL: words, labels, kept, statistics")
    lab.add_argument("--window", type=int, default=WINDOW, help="alignment window, in words")
    lab.add_argument(
        "--variation-percentile",
        type=float,
        default=VARIATION_PERCENTILE,
        help="drop chunks whose variation rate is above this percentile",
    )
    lab.add_argument(
        "--gap-percentile",
        type=float,
        default=GAP_PERCENTILE,
        help="then those whose alignment gap is above this percentile",
    )
    lab.set_defaults(run=_label)


def _collect(args: Any) -> int:
    from lingua_core.train.collect import collect

    summary = collect(
        args.corpus,
        args.out,
        args.teacher,
        chunk_tokens=args.chunk_tokens,
        token_counter=args.token_counter,
        concurrency=args.concurrency,
        dry_run=args.dry_run,
        id_column=args.id_column,
        text_column=args.text_column,
    )
    print(json.dumps(summary))
    return 0


def _label(args: Any) -> int:
    from lingua_core.train.distill import label_file

    summary = label_file(
        args.pairs,
        args.out,
        window=args.window,
        variation_percentile=args.variation_percentile,
        gap_percentile=args.gap_percentile,
    )
    print(json.dumps(summary))
    return 0
