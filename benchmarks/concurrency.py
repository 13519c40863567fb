"""One shared embedded model under 32 threads and 64 asyncio tasks: same results, bounded memory.

Each mode runs in a fresh child process that loads the embedded SmolLM2 once and runs the same
96 calls (mixed methods and rates: Selective Context phrase and token units, LLMLingua,
LongLLMLingua, random, naive; 2-6 NQ passages each):

- ``sequential``: one call after another (the reference results);
- ``threads``: a pool of 32 threads;
- ``tasks``: 64 asyncio tasks through the LangChain adapter (``acompress_documents``) and the
  LlamaIndex one (``apostprocess_nodes``), the rest sequential.

Reported per mode: wall time, resident set after loading and its peak during the calls
(``ru_maxrss``), and whether every result equals the sequential one (a hash of all results).

    .venv/bin/python benchmarks/concurrency.py [--calls 96] [--out FILE]
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
SPECS = (
    ("selective_context", {}),
    ("selective_context", {"unit": "token"}),
    ("llmlingua", {}),
    ("longllmlingua", {}),
    ("random", {}),
    ("naive", {}),
)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, calls: int) -> dict:
    from lingua_core import get_compressor

    passages = load_passages(DEFAULT_DATA, 40)
    comps = [get_compressor(m, **o) for m, o in SPECS]
    for c in comps:
        c.warmup()
    comps[0].compress(passages[30:32], rate=0.5)  # first forward outside the measurement
    jobs = [
        (i % len(comps), passages[i % 25 : i % 25 + 2 + i % 5], RATES[i % len(RATES)])
        for i in range(calls)
    ]
    before = rss_mb()
    t0 = time.perf_counter()
    if mode == "sequential":
        out = [comps[k].compress(t, rate=r, query=QUERY) for k, t, r in jobs]
        texts = [[x.text for x in res] for res in out]
    elif mode == "threads":
        with ThreadPoolExecutor(max_workers=int(os.environ.get("WORKERS", "32"))) as pool:
            out = list(pool.map(lambda j: comps[j[0]].compress(j[1], rate=j[2], query=QUERY), jobs))
        texts = [[x.text for x in res] for res in out]
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
            head = [one(i, *jobs[i]) for i in range(min(64, calls))]
            first = await asyncio.gather(*head)
            rest = [await one(i, *jobs[i]) for i in range(64, calls)]
            return [*first, *rest]

        texts = asyncio.run(main())
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
    return {
        "mode": mode,
        "seconds": seconds,
        "rss_before": before,
        "rss_peak": rss_mb(),
        "digest": digest,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=96)
    ap.add_argument("--child", default=None)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/concurrency.txt"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.calls)))
        return
    rows = []
    for mode in ("sequential", "threads", "tasks"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--calls", str(args.calls)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    ref = rows[0]["digest"]
    lines = [
        f"# benchmarks/concurrency.py --calls {args.calls}: embedded SmolLM2, {platform.machine()}"
        f" CPU x{__import__('os').cpu_count()}",
        "",
        "| mode | seconds | RSS after load MB | peak RSS MB | increase MB | same results |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['seconds']:.1f} | {r['rss_before']:.0f} | {r['rss_peak']:.0f} | "
            f"{r['rss_peak'] - r['rss_before']:.0f} | {'yes' if r['digest'] == ref else 'NO'} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
