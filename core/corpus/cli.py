"""``lingua corpus score|compress``: the corpus runs on the command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lingua_core.corpus.runs import ENGINES, JOBS, run_corpus


def register_cli(sub: Any, run: Callable[[Any], int]) -> None:
    """Add ``lingua corpus score|compress`` to the ``lingua`` parser; ``run`` runs a job.

    ``run`` takes the parsed arguments and returns the exit status (the command line prints
    the summary of :func:`run_from_args`).
    """
    c = sub.add_parser("corpus", help="score or compress a corpus (JSONL / Parquet) to Parquet")
    jobs = c.add_subparsers(dest="job", required=True)
    for job in JOBS:
        j = jobs.add_parser(job, help=f"{job} every row of IN into the Parquet folder OUT")
        j.add_argument("source", metavar="IN", help=".jsonl, .jsonl.gz or .parquet")
        j.add_argument("out", metavar="OUT", help="folder of Parquet files (resumed if there)")
        j.add_argument("--method", required=True)
        if job == "compress":
            j.add_argument("--rate", type=float, required=True)
        j.add_argument("--model", default=None)
        j.add_argument("--engine", choices=ENGINES, default=None, help="default: ray if installed")
        j.add_argument("--actors", type=int, default=2, help="Ray actors (one model each)")
        j.add_argument("--num-gpus", type=float, default=None, help="GPUs per actor")
        j.add_argument("--batch-size", type=int, default=64)
        j.add_argument("--address", default=None, help="Ray cluster (default: a local one)")
        j.add_argument("--id-column", default="id")
        j.add_argument("--text-column", default="text")
        j.set_defaults(run=run)


def run_from_args(args: Any) -> dict[str, Any]:
    """Run the corpus job that ``lingua corpus`` parsed; its summary."""
    options = {"model": args.model} if args.model else {}
    return run_corpus(
        args.job,
        args.source,
        args.out,
        method=args.method,
        rate=getattr(args, "rate", None),
        options=options,
        engine=args.engine,
        actors=args.actors,
        num_gpus=args.num_gpus,
        batch_size=args.batch_size,
        address=args.address,
        id_column=args.id_column,
        text_column=args.text_column,
        progress=True,
    )
