"""Concurrency on one shared model: sequential vs 8 / 32 / 64 threads and 64 tasks.

Each (workload, mode) runs in a fresh child process that loads the model once and makes the
same calls: 10-20 NQ passages each, with a question, at rates 0.2-0.7, through one shared
compressor per method (caches on, as an application holds them). ``--models lm`` (the default)
cycles over Selective Context (phrase and token units), LLMLingua and LongLLMLingua on the
embedded SmolLM2; ``--models encoder`` over the default method and the embeddings filter on the
embedded MiniLM encoder.

Workloads:

- ``distinct``: no passage appears in two calls;
- ``shared``: half of every call's passages come from one common set of 10 (as when concurrent
  RAG calls retrieve the same popular passages).

Modes: ``sequential`` (one call after another: the reference results and time), ``threads-N``
(a pool of N threads) and ``tasks-64`` (64 asyncio tasks through the LangChain and LlamaIndex
adapters' async methods). Reported: wall time, its ratio to sequential (higher is faster),
peak resident set, rows the LM scored and rows shared in flight (the micro-batcher's counts),
and whether every result equals the sequential one.

    .venv/bin/python benchmarks/concurrency.py [--models lm|encoder] [--calls 32] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from _common import DEFAULT_DATA, ROOT, load_passages

RATES = (0.2, 0.33, 0.5, 0.7)
QUERY = "Who won the first Nobel Prize in Physics?"
SPEC_SETS = {
    "lm": (
        ("selective_context", {}),
        ("selective_context", {"unit": "token"}),
        ("llmlingua", {}),
        ("longllmlingua", {}),
    ),
    "encoder": (
        ("default", {}),
        ("default", {"multi_hop": False}),
        ("embeddings_filter", {"k": 5}),
    ),
}
MODEL_NAMES = {"lm": "embedded SmolLM2", "encoder": "embedded MiniLM encoder"}
SPECS = SPEC_SETS["lm"]
MODES = ("sequential", "threads-8", "threads-32", "threads-64", "tasks-64")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def jobs(workload: str, calls: int, passages: list[str]) -> list[tuple[int, list[str], float]]:
    common, pool = passages[:10], passages[10:]
    out, used = [], 0
    for i in range(calls):
        n = 10 + (i * 7) % 11  # 10-20 passages
        if workload == "shared":
            own = n - n // 2
            texts = common[: n // 2] + pool[used : used + own]
            used += own
        else:
            texts = pool[used : used + n]
            used += n
        out.append((i % len(SPECS), texts, RATES[i % len(RATES)]))
    return out


def child(workload: str, mode: str, calls: int) -> dict:
    from lingua_core import get_compressor
    from lingua_core.methods.embedding import EmbeddingCompressor
    from lingua_core.models.batcher import batchers

    passages = load_passages(DEFAULT_DATA, 10 + 20 * calls)
    comps = [get_compressor(m, **o) for m, o in SPECS]
    for c in comps:
        c.warmup()
    get_compressor("random").compress(passages[:2], rate=0.5)
    comps[0].compress(["Warm-up text outside the measurement."], rate=0.5)
    work = jobs(workload, calls, passages)
    first = comps[0]
    loaded = (
        first.embedder().loaded() if isinstance(first, EmbeddingCompressor) else first._loaded()
    )
    before = rss_mb()
    t0 = time.perf_counter()
    if mode == "sequential":
        texts = [[x.text for x in comps[k].compress(t, rate=r, query=QUERY)] for k, t, r in work]
    elif mode.startswith("threads-"):
        with ThreadPoolExecutor(max_workers=int(mode.split("-")[1])) as pool:
            got = pool.map(lambda j: comps[j[0]].compress(j[1], rate=j[2], query=QUERY), work)
            texts = [[x.text for x in res] for res in got]
    else:
        from langchain_core.documents import Document
        from llama_index.core.schema import NodeWithScore, TextNode

        from langchain_lingua import LinguaCompressor
        from llamaindex_lingua import LinguaPostprocessor

        async def one(i: int, k: int, t: list[str], r: float) -> list[str]:
            method, opts = SPECS[k]
            if i % 2:
                lc = LinguaCompressor(method=method, rate=r, options=opts, keep_dropped=True)
                lc._compressor = comps[k]  # share the warmed compressor, as an app would
                docs = [Document(page_content=x) for x in t]
                return [d.page_content for d in await lc.acompress_documents(docs, QUERY)]
            li = LinguaPostprocessor(method=method, rate=r, options=opts, keep_dropped=True)
            li._compressor = comps[k]
            nodes = [NodeWithScore(node=TextNode(text=x)) for x in t]
            got = await li.apostprocess_nodes(nodes, query_str=QUERY)
            return [n.node.get_content() for n in got]

        async def main() -> list[list[str]]:
            sem = asyncio.Semaphore(64)

            async def bounded(i: int) -> list[str]:
                async with sem:
                    return await one(i, *work[i])

            return list(await asyncio.gather(*(bounded(i) for i in range(calls))))

        texts = asyncio.run(main())
    seconds = time.perf_counter() - t0
    stats = {k: v.stats for k, v in batchers(loaded).items()}
    rows = sum(s["rows"] for s in stats.values())
    shared = sum(s["shared"] for s in stats.values())
    digest = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
    return {
        "workload": workload,
        "mode": mode,
        "seconds": seconds,
        "rss_before": before,
        "rss_peak": rss_mb(),
        "rows": rows,
        "shared": shared,
        "digest": digest,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=32)
    ap.add_argument("--models", choices=sorted(SPEC_SETS), default="lm")
    ap.add_argument("--child", nargs=2, default=None, metavar=("WORKLOAD", "MODE"))
    ap.add_argument("--out", default=None, help="default: results/concurrency[_encoder].md")
    args = ap.parse_args()
    global SPECS
    SPECS = SPEC_SETS[args.models]
    suffix = "" if args.models == "lm" else f"_{args.models}"
    out_path = args.out or str(ROOT / f"benchmarks/results/concurrency{suffix}.md")
    if args.child:
        print(json.dumps(child(*args.child, args.calls)))
        return
    rows = []
    for workload in ("distinct", "shared"):
        for mode in MODES:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    workload,
                    mode,
                    "--calls",
                    str(args.calls),
                    "--models",
                    args.models,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = [
        f"# benchmarks/concurrency.py --models {args.models} --calls {args.calls}: "
        f"{MODEL_NAMES[args.models]}, "
        f"{platform.machine()} CPU x{os.cpu_count()}; 10-20 NQ passages per call",
        "",
        "| workload | mode | seconds | speed vs sequential | peak RSS MB | model rows "
        "| rows shared in flight | same results |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref = next(x for x in rows if x["workload"] == r["workload"] and x["mode"] == "sequential")
        lines.append(
            f"| {r['workload']} | {r['mode']} | {r['seconds']:.1f} | "
            f"{ref['seconds'] / r['seconds']:.2f}x | {r['rss_peak']:.0f} | {r['rows']} | "
            f"{r['shared']} | {'yes' if r['digest'] == ref['digest'] else 'NO'} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
