"""``lingua demo``: the subcommand this package adds to the core's ``lingua`` command.

Registered under the ``lingua.commands`` entry-point group (see ``pyproject.toml``); the core
command line finds it there and never imports this package by name.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from lingua_core import get_compressor
from lingua_core.cli import rate_arg
from lingua_core.registry import DEFAULT_METHOD


def register(sub: Any) -> None:
    """Add the ``demo`` parser to the ``lingua`` subparsers.

    Args:
        sub: The object ``ArgumentParser.add_subparsers`` returned.
    """
    d = sub.add_parser(
        "demo",
        help="offline RAG: retrieve from a bundled corpus, compress, answer with SmolLM2",
    )
    d.add_argument("--method", "-m", default=DEFAULT_METHOD)
    d.add_argument(
        "--rate",
        "-r",
        type=rate_arg,
        default=0.5,
        help="fraction of tokens to keep, in (0, 1], or 'auto' (methods that support it)",
    )
    d.add_argument(
        "--framework",
        choices=("langchain", "llamaindex"),
        default="langchain",
        help="which adapter runs the pipeline",
    )
    d.add_argument("--question", "-q", default=None, help="the question (default: a bundled one)")
    d.add_argument("-k", type=int, default=5, help="passages retrieved")
    d.add_argument(
        "--agent",
        action="store_true",
        help="a LangChain agent (create_agent) whose retrieval tool result is compressed by "
        "LinguaMiddleware: what its model reads, without and with",
    )
    d.add_argument(
        "--context-only",
        action="store_true",
        help="only compress the bundled 5-passage sample context and show it before and after",
    )
    d.add_argument("--verbose", "-v", action="store_true")
    d.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``lingua demo`` with the parsed arguments; returns the exit status.

    Raises:
        ValueError: For an unknown method, or a rate it does not take (``'auto'`` included),
            before anything loads.
    """
    compressor = get_compressor(args.method, rate=args.rate)  # checks method and rate, loads none
    if args.agent or not args.context_only:  # --agent wins over --context-only
        from lingua_demo import rag
        from lingua_demo.agent import run_agent

        question = args.question or rag.DEFAULT_QUESTION
        pipeline = (
            run_agent
            if args.agent
            else rag.run_langchain
            if args.framework == "langchain"
            else rag.run_llamaindex
        )
        pipeline(question, args.method, args.rate, args.k, out=print)
        return 0
    from lingua_demo.rag import load_sample

    sample = load_sample()
    texts = [f"{p['title']}\n{p['text']}" for p in sample["passages"]]
    question = sample["question"]
    answers = sample["answers"]
    print(f"Question: {question}   (answer: {' / '.join(answers)})")
    print(f"Context: {len(texts)} retrieved passages. Source: {sample['source']}\n")
    t0 = time.perf_counter()
    compressor.warmup()
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = compressor.compress(texts, query=question, rate=args.rate)
    seconds = time.perf_counter() - t0
    for i, r in enumerate(results, 1):
        gold = "  [gold passage]" if sample["passages"][i - 1]["gold"] else ""
        print(f"--- passage {i}: {r.original_tokens} -> {r.compressed_tokens} tokens{gold}")
        print(f"before: {r.original_text}")
        print(f"after:  {r.text}\n")
    before = sum(r.original_tokens for r in results)
    after = sum(r.compressed_tokens for r in results)
    survived = any(a.lower() in r.text.lower() for r in results for a in answers)
    print(
        f"{compressor.method} on {compressor.token_counter.name}: {before} -> {after} tokens "
        f"(rate {after / before:.3f} asked {args.rate}); compression {seconds:.2f} s, model "
        f"load {load:.2f} s; answer still in the context: {'yes' if survived else 'no'}"
    )
    return 0
