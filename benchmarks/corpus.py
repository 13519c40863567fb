"""Corpus throughput: the local engine against Ray Data with 2 actors, on the same rows.

Rows: NQ gold passages (up to half of the rows; the file has 2,655) and ~150-word chunks of QMSum
meeting transcripts (whole lines) for the rest, with distinct ids; fewer rows than asked when
both run out. The job is the indexing step of the default method (``lingua
corpus score``: stored sentence and passage embeddings, embedded MiniLM). Each engine runs in a
fresh child process on a fresh output folder; the Ray run includes starting its local cluster.
Reported: rows/s, words/s, the ratio, and a plan for 100 million passages from the measured
throughput.

    .venv/bin/python benchmarks/corpus.py [--rows 4000] [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA, ROOT, load_passages

QMSUM = DEFAULT_DATA.parent / "summarization_qmsum.jsonl.gz"


def build_rows(n: int) -> list[dict]:
    nq = load_passages(DEFAULT_DATA, n // 2)
    chunks: list[str] = []
    with gzip.open(QMSUM, "rt", encoding="utf-8") as f:
        for line in f:
            words, part = 0, []
            for turn in json.loads(line)["document"].splitlines():
                part.append(turn)
                words += len(turn.split())
                if words >= 150:
                    chunks.append("\n".join(part))
                    words, part = 0, []
            if len(chunks) >= n - len(nq):
                break
    texts = nq + chunks[: n - len(nq)]
    return [{"id": f"nq{i}" if i < len(nq) else f"qm{i}", "text": t} for i, t in enumerate(texts)]


def child(engine: str, src: str, out: str, actors: int) -> None:
    from lingua_core.corpus import score_corpus

    t0 = time.perf_counter()
    summary = score_corpus(src, out, method="default", engine=engine, actors=actors)
    summary["seconds"] = time.perf_counter() - t0
    print(json.dumps(summary))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument(
        "--price", type=float, default=0.10, help="assumed USD per hour of a 2-vCPU machine"
    )
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "IN", "OUT"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/corpus.md")
    args = ap.parse_args()
    if args.child:
        child(*args.child, args.actors)
        return
    rows = build_rows(args.rows)
    words = sum(len(r["text"].split()) for r in rows)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        for engine in ("local", "ray"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    engine,
                    str(src),
                    f"{tmp}/{engine}",
                    "--actors",
                    str(args.actors),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs[engine] = json.loads(out.strip().splitlines()[-1])
            print(engine, runs[engine], flush=True)
    local, ray = runs["local"], runs["ray"]
    rps = {k: v["rows"] / v["seconds"] for k, v in runs.items()}
    per_m = 1e6 / rps["ray"] / 3600  # hours per million passages on this machine
    lines = [
        f"# benchmarks/corpus.py --rows {args.rows}: `lingua corpus score --method default` "
        f"(embedded MiniLM), {platform.machine()} CPU x{os.cpu_count()}",
        "",
        f"{len(rows)} rows ({sum(r['id'].startswith('nq') for r in rows)} NQ passages, the rest "
        "~150-word QMSum chunks), "
        f"{words} words, distinct ids.",
        "",
        "| engine | seconds | rows/s | words/s | vs local | rows written |",
        "|---|---|---|---|---|---|",
    ]
    for k, v in runs.items():
        lines.append(
            f"| {k}{f' ({args.actors} actors)' if k == 'ray' else ''} | {v['seconds']:.1f} | "
            f"{rps[k]:.1f} | {words / v['seconds']:.0f} | {rps[k] / rps['local']:.2f}x | "
            f"{v['written']} |"
        )
    lines += [
        "",
        f"Ray's overheads (cluster start, actor start-up, object transfers) are inside its "
        f"{ray['seconds']:.1f} s; the local engine's model load is inside its "
        f"{local['seconds']:.1f} s.",
        "",
        "**100 million passages** at this machine's Ray throughput: "
        f"{per_m:.1f} machine-hours per million passages, {100 * per_m:,.0f} machine-hours "
        f"for 100 million (2 CPU cores each); at an assumed ${args.price:.2f} per machine-hour "
        f"(a 2-vCPU cloud VM on demand), ${per_m * args.price:.2f} per million passages and "
        f"${100 * per_m * args.price:,.0f} for 100 million. Assumptions: passages like these "
        "(~100-150 "
        "words), throughput scaling linearly with actors (one model per actor, no shared "
        "state), and a cluster of N such machines dividing the wall time by N. No GPU was "
        "measured here: benchmarks/gpu.py measures the encoders' GPU throughput when a GPU is "
        "lent, from which the same arithmetic gives GPU-hours.",
    ]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
