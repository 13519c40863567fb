"""Selective Context on the embedded SmolLM2: time, throughput and achieved rate on 20 NQ passages.

Runs, in one process: one batched call over all 20 passages (what the library does) against one
call per passage (what a per-document loop, like the original Selective Context code, does), at
three rates and three units. Prints a Markdown table; the README quotes it.

    python benchmarks/selective_context_cpu.py [--data ../shared/data/nq-open-oracle.jsonl.gz]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import DEFAULT_DATA, load_passages

from lingua_core import get_compressor


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--passages", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="auto", help="auto (fp32 on CPU), bfloat16, ...")
    args = ap.parse_args()
    texts = load_passages(args.data, args.passages)
    c = get_compressor("selective_context", dtype=args.dtype)
    t0 = time.perf_counter()
    c.warmup()
    print(f"model load (converted folder cached): {time.perf_counter() - t0:.2f} s")
    c.compress(texts[:2], rate=0.5)  # first-call allocations
    n_tokens = sum(c.token_counter.count(texts))
    print(f"{len(texts)} passages, {n_tokens} SmolLM2 tokens, dtype {args.dtype}\n")
    print("| unit | rate | achieved | batched s | tokens/s | per-text loop s | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for unit in ("phrase", "token", "sentence"):
        for rate in (0.5, 0.33, 0.2):
            results = c.compress(texts, rate=rate, unit=unit)
            achieved = sum(r.compressed_tokens for r in results) / n_tokens
            batched = timed(
                lambda rate=rate, unit=unit: c.compress(texts, rate=rate, unit=unit), args.repeats
            )
            looped = timed(
                lambda rate=rate, unit=unit: [c.compress([t], rate=rate, unit=unit) for t in texts],
                args.repeats,
            )
            print(
                f"| {unit} | {rate} | {achieved:.3f} | {batched:.2f} | {n_tokens / batched:.0f} "
                f"| {looped:.2f} | {looped / batched:.2f}x |"
            )


if __name__ == "__main__":
    main()
