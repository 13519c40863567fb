"""Build the demo corpus in ``lingua_demo/data/nq_corpus.jsonl.gz`` (run once; output committed).

300 gold passages of NQ-Open questions 2300-2599 of the "Lost in the Middle" oracle file (Liu et
al. 2023, MIT; passages from Wikipedia, CC BY-SA 3.0), outside the tuning (0-499) and reporting
(500-1499) ranges of the benchmarks. Each line: ``title``, ``text``, ``question``, ``answers``.

    python benchmarks/make_demo_corpus.py [--data PATH]
    python benchmarks/make_demo_corpus.py --vectors   # the passages' MiniLM vectors only

``--vectors`` writes ``lingua_demo/data/nq_corpus.minilm.npy`` and ``.json`` (the demo indexes
with them instead of embedding 300 passages on every run; see ``lingua_demo/vectors.py``).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from _common import DEFAULT_DATA

OUT = Path(__file__).resolve().parents[1] / "lingua_demo" / "data" / "nq_corpus.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--start", type=int, default=2300)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--vectors", action="store_true", help="write the passages' vectors only")
    args = ap.parse_args()
    if args.vectors:
        from lingua_core.scorers.embed import Embedder
        from lingua_demo.rag import load_corpus
        from lingua_demo.vectors import passage_texts, write_vectors

        write_vectors(Embedder(), passage_texts(load_corpus()), OUT.parent)
        print(f"vectors of {len(load_corpus())} passages -> {OUT.parent}")
        return
    rows = []
    with gzip.open(args.data, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if args.start <= i < args.start + args.n:
                r = json.loads(line)
                c = r["ctxs"][0]
                rows.append(
                    {
                        "title": c["title"],
                        "text": c["text"],
                        "question": r["question"],
                        "answers": r["answers"],
                    }
                )
    # mtime=0: the same input gives the same bytes.
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())
    print(f"{len(rows)} passages -> {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
