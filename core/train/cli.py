"""``lingua train data|pruner|export|llmlingua2``: training data, a pruner, LLMLingua-2.

Registered by :mod:`lingua_core.cli` like ``serve``; everything heavy is imported when a command
runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from lingua_core.train.pruner import PrunerTrainConfig


def index_range(value: str) -> range:
    """``"700-1499"`` (inclusive) or ``"5"`` as a range.

    Raises:
        argparse.ArgumentTypeError: For anything else.
    """
    try:
        lo, _, hi = value.partition("-")
        start, end = int(lo), int(hi or lo)
    except ValueError:
        msg = f"expected an index or an inclusive range like 700-1499, got {value!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if start < 0 or end < start:
        msg = f"expected 0 <= start <= end, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return range(start, end + 1)


def register(sub: Any) -> None:
    """Add ``lingua train`` to the ``lingua`` parser."""
    t = sub.add_parser("train", help="build training data, train and export learned models")
    jobs = t.add_subparsers(dest="train_command", required=True)
    d = jobs.add_parser("data", help="pruner records (JSONL) from SQuAD, HotpotQA, MuSiQue, NQ")
    d.add_argument("out", type=Path, help="output .jsonl")
    d.add_argument("--squad", type=Path, help="SQuAD v1.1 JSONL, one article per line")
    d.add_argument("--squad-articles", type=index_range, default=None)
    d.add_argument("--hotpotqa", type=Path, help="HotpotQA distractor JSONL")
    d.add_argument("--hotpotqa-records", type=index_range, default=None)
    d.add_argument("--musique", type=Path, help="MuSiQue-Ans JSONL")
    d.add_argument("--musique-records", type=index_range, default=None)
    d.add_argument("--nq", type=Path, help="NQ-Open oracle JSONL (lost-in-the-middle)")
    d.add_argument("--nq-questions", type=index_range, default=None)
    d.add_argument("--nq-pool", type=index_range, default=None, help="negatives' pool lines")
    d.add_argument("--negatives", type=int, default=3, help="negatives per question")
    d.set_defaults(run=_data)
    defaults = PrunerTrainConfig()
    p = jobs.add_parser("pruner", help="train a question-aware pruner (resumable)")
    p.add_argument("data", type=Path, nargs="+", help="JSONL records (lingua train data)")
    p.add_argument("--output", type=Path, required=True, help="run folder (resumed if there)")
    p.add_argument("--base-model", default=defaults.base_model, help="encoder: minilm, folder, id")
    p.add_argument(
        "--init-from",
        default=None,
        help="continue from a lingua-rag pruner folder, or lingua-pruner (the embedded one)",
    )
    add_loop_arguments(p, defaults, ints=("max_length", "max_question"))
    p.add_argument(
        "--relevance-weight", type=float, default=defaults.relevance_weight, help="0: keep only"
    )
    p.add_argument("--train-word-embeddings", action="store_true", help="do not freeze them")
    p.set_defaults(run=_pruner)
    _register_llmlingua2(jobs)
    e = jobs.add_parser("export", help="write a trained pruner as a small delta over its backbone")
    e.add_argument("model", type=Path, help="RUN/model (a whole pruner folder)")
    e.add_argument("out", type=Path)
    e.add_argument("--backbone", default="minilm", help="what the delta is over (minilm, folder)")
    e.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    e.set_defaults(run=_export)


def _register_llmlingua2(jobs: Any) -> None:
    from lingua_core.train.llmlingua2 import LLMLingua2TrainConfig

    defaults = LLMLingua2TrainConfig()
    m = jobs.add_parser(
        "llmlingua2", help="train an LLMLingua-2 token classifier on lingua distill labels"
    )
    m.add_argument("labels", type=Path, nargs="+", help="JSONL from lingua distill label")
    m.add_argument("--output", type=Path, required=True, help="run folder (resumed if there)")
    m.add_argument("--base-model", default=defaults.base_model, help="encoder: minilm, folder, id")
    m.add_argument("--all-chunks", action="store_true", help="also the chunks the filters drop")
    m.add_argument(
        "--label-pieces",
        choices=("all", "first"),
        default=defaults.label_pieces,
        help="which pieces of a word carry its label (llmlingua2 reads the model accordingly)",
    )
    add_loop_arguments(m, defaults, ints=("max_length",))
    m.set_defaults(run=_llmlingua2)


def _llmlingua2(args: Any) -> int:
    from lingua_core.train.llmlingua2 import (
        LLMLingua2TrainConfig,
        read_labels,
        train_llmlingua2,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    chunks = [c for path in args.labels for c in read_labels(path, kept_only=not args.all_chunks)]
    cfg = LLMLingua2TrainConfig(
        base_model=args.base_model,
        max_length=args.max_length,
        label_pieces=args.label_pieces,
        **loop_settings(args),
    )
    result = train_llmlingua2(chunks, args.output, cfg)
    print(json.dumps(summary(result, "validation_word_f1")))
    return 0


def _data(args: Any) -> int:
    from lingua_core.train import builders
    from lingua_core.train.records import dedupe, write_records

    records = []
    if args.squad:
        records += builders.squad_records(
            args.squad, args.squad_articles or range(0, 1), negatives=args.negatives
        )
    if args.hotpotqa:
        records += builders.hotpotqa_records(args.hotpotqa, args.hotpotqa_records)
    if args.musique:
        records += builders.musique_records(args.musique, args.musique_records)
    if args.nq:
        if args.nq_questions is None:
            msg = "--nq needs --nq-questions (an inclusive range of lines, e.g. 700-1499)"
            raise ValueError(msg)
        records += builders.nq_records(
            args.nq, args.nq_questions, negatives=args.negatives, pool=args.nq_pool
        )
    if not records:
        msg = "no source given: pass one or more of --squad, --hotpotqa, --musique, --nq"
        raise ValueError(msg)
    kept = dedupe(records)
    n = write_records(kept, args.out)
    pairs = sum(len(r.passages) for r in kept)
    print(json.dumps({"records": n, "pairs": pairs, "out": str(args.out)}))
    return 0


def _pruner(args: Any) -> int:
    from lingua_core.train import read_records, train_pruner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    records = [r for path in args.data for r in read_records(path)]
    cfg = PrunerTrainConfig(
        base_model=args.base_model,
        init_from=args.init_from,
        max_length=args.max_length,
        max_question=args.max_question,
        relevance_weight=args.relevance_weight,
        freeze_word_embeddings=not args.train_word_embeddings,
        **loop_settings(args),
    )
    result = train_pruner(records, args.output, cfg)
    print(json.dumps(summary(result, "validation_f1")))
    return 0


def add_loop_arguments(parser: Any, defaults: Any, ints: tuple[str, ...] = ()) -> None:
    """Add the loop's options and the task's own int options ``ints`` to ``parser``.

    The loop's are :class:`~lingua_core.train.loop.LoopConfig`'s; defaults are ``defaults``'.
    """
    for name in (*ints, "batch_size", "eval_every", "patience", "seed"):
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name)
        )
    parser.add_argument("--max-steps", type=int, default=None)
    for name in ("epochs", "learning_rate", "warmup", "weight_decay", "validation"):
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name)
        )
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-progress", action="store_true")


def loop_settings(args: Any) -> dict[str, Any]:
    """The training loop's settings from the parsed arguments (both models share them)."""
    names = [
        *("batch_size", "epochs", "max_steps", "learning_rate", "warmup", "weight_decay"),
        *("validation", "eval_every", "patience", "seed", "device", "dtype", "threads"),
    ]
    return {
        **{n: getattr(args, n) for n in names},
        "progress": not args.no_progress and sys.stderr.isatty(),
    }


def summary(result: Any, f1_name: str | None) -> dict[str, Any]:
    """A run's summary line: the model, its best evaluation, steps and seconds."""
    best = {f1_name: result.best.get("validation_f1"), "threshold": result.threshold}
    return {
        "model": str(result.model_dir),
        **(best if f1_name else result.best),
        "steps": result.steps,
        "seconds": round(result.seconds, 1),
    }


def _export(args: Any) -> int:
    import torch

    from lingua_core.models.embedded import resolve_model_source
    from lingua_core.models.hub import hub_kwargs
    from lingua_core.models.pruner_net import export_delta

    source = resolve_model_source(args.backbone, kind="encoder")
    out = export_delta(
        args.model,
        args.out,
        backbone=args.backbone,
        backbone_source=source,
        dtype=torch.float16 if args.dtype == "float16" else torch.float32,
        hf_kwargs=hub_kwargs(source),
    )
    size = sum(f.stat().st_size for f in out.iterdir())
    print(json.dumps({"out": str(out), "bytes": size}))
    return 0
