"""The ``lingua`` command: ``compress``, ``methods``, ``eval``, and the apps' subcommands.

``serve``, ``train``, ``distill`` and ``corpus`` add their own subcommands here
(:func:`lingua_core.serve.cli.register`, :func:`lingua_core.train.cli.register`,
:func:`lingua_core.train.distill_cli.register`, :func:`lingua_core.corpus.cli.register_cli`).

Other packages add subcommands through the ``lingua.commands`` entry-point group (the demo
package adds ``demo``): each entry point is a function that takes the subparsers object, adds
its parser and sets ``run`` (a function of the parsed arguments returning the exit status) as a
default. The core never imports them by name.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from lingua_core.registry import ALIASES, DEFAULT_METHOD, available_methods, get_compressor

logger = logging.getLogger(__name__)

#: Entry-point group of the subcommands other packages add (``demo``).
PLUGIN_GROUP = "lingua.commands"

_PROGRESS_CHARS = 50_000  # show a progress bar above this much input (on a terminal)
_FILES_PER_CALL = 16


def _parse_option(item: str) -> tuple[str, Any]:
    if "=" not in item:
        msg = f"options are KEY=VALUE, got {item!r}"
        raise argparse.ArgumentTypeError(msg)
    key, raw = item.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def rate_arg(value: str) -> float | str:
    """The ``--rate`` of a command: a number, or ``auto`` (methods with ``supports_auto_rate``).

    Raises:
        argparse.ArgumentTypeError: For anything else.
    """
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        msg = f"rate must be a number in (0, 1] or 'auto', got {value!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lingua", description="Compress RAG context.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compress", help="compress files (each file is one text)")
    c.add_argument("files", nargs="+", help="text files; '-' reads standard input")
    c.add_argument("--method", "-m", default=DEFAULT_METHOD, help="method or alias")
    budget = c.add_mutually_exclusive_group()
    budget.add_argument(
        "--rate", "-r", type=rate_arg, help="fraction of tokens to keep, in (0, 1], or 'auto'"
    )
    budget.add_argument("--target-tokens", "-t", type=int, help="total token budget")
    c.add_argument("--query", "-q", help="the question (question-aware methods)")
    c.add_argument("--model", help="model alias, local folder or hub id")
    c.add_argument("--device", help="cpu, cuda, cuda:N, mps (default: auto)")
    c.add_argument("--token-counter", help="'words', a tiktoken encoding or a tokenizer")
    c.add_argument(
        "--option",
        "-o",
        action="append",
        type=_parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="a method option (repeatable), e.g. -o unit=sentence",
    )
    c.add_argument("--json", action="store_true", help="print results as JSON")
    c.add_argument("--verbose", "-v", action="store_true", help="log progress to stderr")

    sub.add_parser("methods", help="list the methods and aliases")

    e = sub.add_parser("eval", help="compare methods across rates on QA data")
    esub = e.add_subparsers(dest="eval_command", required=True)
    r = esub.add_parser(
        "run",
        help="run a study phase (--study/--phase) or a sweep (--data) into a resumable JSONL file",
    )
    r.add_argument(
        "--data",
        default=None,
        help="sweep mode: NQ oracle file, KV file or generic JSONL (without it: a study)",
    )
    r.add_argument(
        "--study", default="builtin", help="study TOML file (default: the built-in study)"
    )
    r.add_argument(
        "--phase", action="append", default=[], help="phase to run (repeatable; see --dry-run)"
    )
    r.add_argument("--data-dir", default=None, help="folder of the study's relative data paths")
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="run nothing: print each phase's calls, tokens and estimated cost",
    )
    r.add_argument("--concurrency", type=int, default=4, help="reader calls in flight (study)")
    r.add_argument(
        "--format",
        choices=("nq", "kv", "jsonl"),
        default=None,
        help="data format (default: guessed from the file name)",
    )
    r.add_argument(
        "--questions",
        default="500:600",
        help="START:END of NQ/KV questions, or N for the first N (default 500:600)",
    )
    r.add_argument("-k", type=int, default=20, help="passages per NQ example")
    r.add_argument(
        "--position",
        default="random",
        help="gold passage position: random, first, middle, last or an index; several, "
        "comma-separated, run each (e.g. first,middle,last for the position plot)",
    )
    r.add_argument(
        "--methods",
        default="selective_context,random,bm25,none",
        help="comma-separated method specs (name or name:key=value;key=value)",
    )
    r.add_argument("--rates", default="1.0,0.7,0.5,0.33,0.2,0.1")
    r.add_argument("--seeds", type=int, default=3, help="seeds of the random control")
    r.add_argument(
        "--token-counter",
        default=None,
        help="tokens every method's budget is met in (e.g. cl100k_base)",
    )
    r.add_argument(
        "--reader",
        default=None,
        help="none, local (the embedded SmolLM2, weak), local:FOLDER, fake (tests) or "
        "PROVIDER:MODEL (e.g. anthropic:claude-3-haiku-20240307); overrides the study phase's "
        "reader",
    )
    r.add_argument("--out", default=None, help="JSONL file (appended to; reruns resume)")
    r.add_argument("--verbose", "-v", action="store_true")
    rep = esub.add_parser("report", help="tables and plots from a sweep file")
    rep.add_argument("results", help="the sweep's JSONL file")
    rep.add_argument("--plots", default=None, help="folder for PNG plots (needs matplotlib)")
    rep.add_argument("--tolerance", type=float, default=0.05)
    rep.add_argument("--output", default=None, help="study results: write report.json here")
    rep.add_argument("--plot", default=None, help="study results: PNG of the metric curves, r*")
    rep.add_argument(
        "--metric",
        default="survived",
        help="survived (answer in the compressed context, default), or a reader metric: "
        "answer_in_output, exact_match, f1 (runs made with --reader)",
    )
    from lingua_core.serve.cli import register as register_serve

    register_serve(sub)
    from lingua_core.corpus import register_cli as register_corpus
    from lingua_core.train.cli import register as register_train
    from lingua_core.train.distill_cli import register as register_distill

    register_train(sub)
    register_distill(sub)
    register_corpus(sub, _corpus)
    for plugin in _plugins():
        plugin(sub)
    return p


def _corpus(args: argparse.Namespace) -> int:
    from lingua_core.corpus import run_from_args

    print(json.dumps(run_from_args(args)))
    return 0


def _plugins() -> list[Callable[[Any], None]]:
    """The subcommand registrars installed under the ``lingua.commands`` entry-point group."""
    out = []
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            out.append(ep.load())
        except Exception as e:  # a broken plugin must not take the core commands down
            logger.warning("lingua: skipping the %r command (%s: %s)", ep.name, type(e).__name__, e)
    return out


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def _compress(args: argparse.Namespace) -> int:
    texts = [_read(f) for f in args.files]
    options = dict(args.option)
    for key in ("model", "device", "token_counter"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    compressor = get_compressor(args.method, **options)
    start = time.perf_counter()
    if args.target_tokens is not None or sum(map(len, texts)) < _PROGRESS_CHARS:
        results = compressor.compress(
            texts, query=args.query, rate=args.rate, target_tokens=args.target_tokens
        )
    else:
        from tqdm import tqdm

        results = []
        with tqdm(total=len(texts), unit="text", disable=None, file=sys.stderr) as bar:
            for i in range(0, len(texts), _FILES_PER_CALL):
                batch = texts[i : i + _FILES_PER_CALL]
                results.extend(compressor.compress(batch, query=args.query, rate=args.rate))
                bar.update(len(batch))
    seconds = time.perf_counter() - start
    before = sum(r.original_tokens for r in results)
    after = sum(r.compressed_tokens for r in results)
    rate = after / before if before else 1.0
    if args.json:
        out = {
            "method": compressor.method,
            "results": [
                {
                    "file": f,
                    "text": r.text,
                    "spans": [list(s) for s in r.spans],
                    "elided": list(r.elided),
                    "original_tokens": r.original_tokens,
                    "compressed_tokens": r.compressed_tokens,
                    "rate": r.rate,
                    "dropped": r.dropped,
                }
                for f, r in zip(args.files, results)
            ],
            "summary": {
                "original_tokens": before,
                "compressed_tokens": after,
                "rate": rate,
                "seconds": seconds,
            },
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for f, r in zip(args.files, results):
            if len(results) > 1:
                print(f"==> {f} <==")
            print(r.text)
    ran = compressor.method
    if compressor.no_query_note and not (args.query or "").strip():
        ran = f"{ran} ({compressor.no_query_note})"
    print(
        f"{ran}: {before} -> {after} tokens (rate {rate:.3f}, "
        f"{before / max(after, 1):.1f}x) in {seconds:.2f} s [{compressor.token_counter.name}]",
        file=sys.stderr,
    )
    return 0


def _methods() -> int:
    """List the methods; a default model that is not on this machine is marked (no loading)."""
    from lingua_core.models import default_model_of, model_status
    from lingua_core.registry import method_class

    for name in available_methods():
        cls = method_class(name)
        aliases = sorted(a for a, v in ALIASES.items() if v.method == name)
        default = " (default)" if name == DEFAULT_METHOD else ""
        model = default_model_of(cls)
        present, where = model_status(model) if model else (True, "")
        print(f"{name}{default}{'' if present else ' [needs model]'}: {cls.description}")
        if model:
            print(f"    model: {model}: {where}")
        if aliases:
            print(f"    aliases: {', '.join(aliases)}")
        for opt, spec in cls.options_class.specs().items():
            print(f"    {opt}={spec.default!r}: {spec.doc}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from lingua_core.eval import data, report, sweep

    if args.eval_command == "report":
        records = report.load_records(args.results)
        if any("task_type" in r for r in records):
            return _study_report(args, records)
        print(report.markdown(records, args.tolerance, args.metric))
        if args.plots:
            for path in report.plots(records, args.plots, args.metric):
                print(f"wrote {path}", file=sys.stderr)
        return 0
    if args.data is None:
        return _study_run(args)
    if args.out is None:
        msg = "--out is required (the sweep's JSONL file)"
        raise ValueError(msg)
    if args.reader not in (None, "none", "local"):
        msg = f"a --data sweep takes --reader none or local, got {args.reader!r}"
        raise ValueError(msg)
    fmt = args.format or (
        "kv" if "kv" in args.data else "nq" if "nq-open" in args.data else "jsonl"
    )
    start, _, end = args.questions.partition(":")
    lo, hi = (0, int(start)) if not end else (int(start), int(end))
    if fmt == "nq":
        examples = []
        for how in filter(None, (p.strip() for p in args.position.split(","))):
            position: Any = int(how) if how.isdigit() else how
            examples += data.nq_multidoc(args.data, range(lo, hi), k=args.k, position=position)
    elif fmt == "kv":
        examples = data.kv_retrieval(args.data, limit=hi)[lo:]
    else:
        examples = data.load_jsonl(args.data, limit=hi)[lo:]
    reader = None
    if args.reader == "local":
        from lingua_core.models.generate import Reader

        local = Reader()

        def reader(question: str, context: str) -> str:
            return local.generate(sweep.reader_prompt(question, context))

    n = sweep.run_sweep(
        examples,
        [m.strip().replace(";", ",") for m in args.methods.split(",") if m.strip()],
        args.out,
        rates=[float(x) for x in args.rates.split(",")],
        seeds=args.seeds,
        token_counter=args.token_counter,
        reader=reader,
        progress=sys.stderr.isatty(),
    )
    print(f"wrote {n} records to {args.out}")
    return 0


def _study_run(args: argparse.Namespace) -> int:
    from lingua_core.eval.runner import run_study
    from lingua_core.eval.study import dry_run, load_study

    study = load_study(args.study, data_dir=args.data_dir)
    names = args.phase or (list(study.phases) if args.dry_run else [])
    if not names:
        msg = f"give --phase NAME (phases of {study.source}: {', '.join(study.phases)})"
        raise ValueError(msg)
    phases = [study.phase(n) for n in names]
    if args.dry_run:
        for p in phases:
            print(dry_run(study, p, reader=args.reader).line())
        return 0
    if args.out is None:
        msg = "--out is required (the results JSONL file; not with --dry-run)"
        raise ValueError(msg)
    summary = run_study(
        study,
        names,
        args.out,
        reader=args.reader,
        concurrency=args.concurrency,
        progress=sys.stderr.isatty(),
    )
    for line in summary.lines():
        print(line)
    return 0


def _study_report(args: argparse.Namespace, records: list[dict[str, Any]]) -> int:
    from lingua_core.eval import analysis

    result = analysis.analyse(records, tolerance=args.tolerance)
    print(analysis.markdown(result))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    if args.plot:
        print(f"wrote {analysis.plot(records, result, args.plot)}", file=sys.stderr)
    return 0


def _quiet_model_loading() -> None:
    """Keep transformers' and huggingface_hub's progress bars and advice out of the output.

    The command line is an application, so it may choose these process-wide settings (through
    the environment, which those libraries read when first imported); the library never does.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lingua`` command line (``--verbose``: logs, and the models' loading bars)."""
    args = _build_parser().parse_args(argv)
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        _quiet_model_loading()
    try:
        if args.command == "compress":
            return _compress(args)
        if args.command == "methods":
            return _methods()
        if args.command == "eval":
            return _eval(args)
        return int(args.run(args))
    except (ValueError, TypeError, ImportError, OSError) as e:
        print(f"lingua: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
