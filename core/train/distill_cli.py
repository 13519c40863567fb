"""``lingua distill collect|label|align``: a teacher's data, labels, and the small LM aligned.

Registered by :mod:`lingua_core.cli` next to ``lingua train``; the work is in
:mod:`lingua_core.train.collect`, :mod:`lingua_core.train.distill` and
:mod:`lingua_core.train.lm_align`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lingua_core.train.collect import CHUNK_TOKENS, TASKS
from lingua_core.train.distill import (
    GAP_PERCENTILE,
    MAX_COMPRESSION_RATE,
    VARIATION_PERCENTILE,
    WINDOW,
)


def register(sub: Any) -> None:
    """Add ``lingua distill`` to the ``lingua`` parser."""
    d = sub.add_parser(
        "distill", help="a teacher's compressions and labels (LLMLingua-2), the small LM aligned"
    )
    jobs = d.add_subparsers(dest="distill_command", required=True)
    col = jobs.add_parser(
        "collect", help="a teacher's compressions of every chunk of a corpus (resumable)"
    )
    col.add_argument("corpus", type=Path, help="JSONL or Parquet with id and text")
    col.add_argument("out", type=Path, help="output JSONL of pairs (appended, resumed)")
    col.add_argument(
        "--teacher",
        required=True,
        help="PROVIDER:MODEL (a hosted chat model), local (SmolLM2), local:FOLDER or "
        "lingua:METHOD (a deterministic extractive teacher, e.g. lingua:naive)",
    )
    col.add_argument(
        "--task",
        choices=TASKS,
        default="compress",
        help="compress: LLMLingua-2 pairs; respond: the teacher's replies to each document "
        "(prompts), for lingua distill align",
    )
    col.add_argument("--max-tokens", type=int, default=512, help="longest reply (respond)")
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
    lab.add_argument(
        "--max-compression-rate",
        type=float,
        default=MAX_COMPRESSION_RATE,
        help="first drop chunks whose reply has more words than this times the original's",
    )
    lab.set_defaults(run=_label)
    _register_align(jobs)


def _register_align(jobs: Any) -> None:
    from lingua_core.train.cli import add_loop_arguments
    from lingua_core.train.lm_align import AlignConfig

    defaults = AlignConfig()
    a = jobs.add_parser(
        "align",
        help="fine-tune the small LM of llmlingua/longllmlingua/selective_context on the target "
        "LLM's texts (LoRA by default; resumable)",
    )
    a.add_argument(
        "texts", type=Path, nargs="+", help="JSONL: prompt, response (collect --task respond)"
    )
    a.add_argument("--output", type=Path, required=True, help="run folder (resumed if there)")
    a.add_argument("--base-model", default=defaults.base_model, help="smollm2, folder or hub id")
    a.add_argument("--full", action="store_true", help="train every weight, not LoRA adapters")
    a.add_argument("--lora-targets", default=defaults.lora_targets, help="all-linear or names")
    a.add_argument("--prompt-column", default="prompt")
    a.add_argument("--response-column", default="response")
    add_loop_arguments(a, defaults, ints=("max_length", "lora_rank", "lora_alpha"))
    a.set_defaults(run=_align)


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
        task=args.task,
        max_tokens=args.max_tokens,
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
        max_compression_rate=args.max_compression_rate,
    )
    print(json.dumps(summary))
    return 0


def _align(args: Any) -> int:
    import logging

    from lingua_core.train.cli import loop_settings, summary
    from lingua_core.train.lm_align import AlignConfig, align_lm, read_targets

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    texts = [
        t
        for path in args.texts
        for t in read_targets(
            path, prompt_column=args.prompt_column, response_column=args.response_column
        )
    ]
    cfg = AlignConfig(
        base_model=args.base_model,
        lora=not args.full,
        lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha,
        lora_targets=args.lora_targets,
        max_length=args.max_length,
        **loop_settings(args),
    )
    print(json.dumps(summary(align_lm(texts, args.output, cfg), None)))
    return 0
