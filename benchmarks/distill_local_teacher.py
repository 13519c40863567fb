"""A language-model teacher for LLMLingua-2's data, offline: what the embedded SmolLM2 writes
when told to compress by deleting words, and what ``lingua distill label``'s filters make of it.

The teacher is ``local`` (SmolLM2-135M-Instruct, greedy) on the first ``--chunks`` chunks of
``--chunk-tokens`` cl100k tokens of QMSum training meeting 0 (split "train"; the meetings the
end-to-end run trains on, never its evaluation meetings), next to ``lingua:naive`` on the same
chunks. Reported per teacher: the label summary (chunks kept by the filters; mean compression,
variation and matching rates and alignment gap), seconds per chunk, and the first chunk's reply.
A 135M model is a weak teacher: the figures show the filters at work on a real model's output,
not a teacher worth training on.

    .venv/bin/python benchmarks/distill_local_teacher.py [--chunks 16] [--chunk-tokens 256]

Writes ``benchmarks/results/distill_local_teacher.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))
OUT = Path(__file__).resolve().parent / "results" / "distill_local_teacher.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--chunks", type=int, default=16)
    p.add_argument("--chunk-tokens", type=int, default=256)
    p.add_argument("--work", type=Path, default=Path("/tmp/lingua-distill-local"))
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()

    from lingua_core.pipeline.tokens import get_token_counter
    from lingua_core.train.collect import chunks_of, collect
    from lingua_core.train.distill import label_file

    with gzip.open(DATA / "summarization_qmsum.jsonl.gz", "rt", encoding="utf-8") as f:
        meeting = next(r for r in map(json.loads, f) if r["split"] == "train")
    counter = get_token_counter("cl100k_base")
    chunks = list(chunks_of("m", meeting["document"], counter, a.chunk_tokens))[: a.chunks]
    a.work.mkdir(parents=True, exist_ok=True)
    corpus = a.work / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": c.id, "text": c.text}) + "\n" for c in chunks), encoding="utf-8"
    )
    report: dict[str, object] = {
        "meeting": meeting["id"],
        "chunks": len(chunks),
        "chunk_tokens": a.chunk_tokens,
    }
    for teacher in ("lingua:naive", "local"):
        name = teacher.replace(":", "-")
        pairs, labels = a.work / f"{name}.pairs.jsonl", a.work / f"{name}.labels.jsonl"
        t0 = time.perf_counter()
        collected = collect(
            corpus, pairs, teacher, chunk_tokens=a.chunk_tokens * 4, concurrency=1
        )  # each corpus row is already one chunk
        seconds = time.perf_counter() - t0
        summary = label_file(pairs, labels)
        first = json.loads(pairs.read_text(encoding="utf-8").splitlines()[0])
        report[teacher] = {
            **summary,
            "asked": collected["asked"],
            "seconds_per_chunk": round(seconds / max(collected["asked"], 1), 2),
            "first_chunk": {
                "original": first["original"][:300],
                "reply": first["compressed"][:300],
            },
        }
        print(teacher, json.dumps(summary))
    a.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
