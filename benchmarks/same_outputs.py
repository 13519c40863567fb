"""Hash every method's outputs on fixed inputs, to show that a refactor changed no result.

Run it once on each tree and compare the two files (``--compare``). The other tree's package
goes first on ``PYTHONPATH`` through a folder that links its ``core`` as ``lingua_core``:

    git worktree add /tmp/old <commit>; mkdir -p /tmp/oldpath
    ln -s /tmp/old/core /tmp/oldpath/lingua_core
    PYTHONPATH=/tmp/oldpath python benchmarks/same_outputs.py /tmp/old.json
    python benchmarks/same_outputs.py /tmp/new.json --compare /tmp/old.json

``SAME_OUTPUTS_TEXTS_ONLY=1`` hashes the compressed texts alone (what reaches the LLM), for a
change that moves scores but should rarely move a selection.

Inputs: NQ questions 500-503 (10 passages each) and HotpotQA records 50-52, rates 0.33 and 0.1,
plus a 200-token total budget, a call without a query, ``rate="auto"`` where the method takes it
and, for the methods with a first stage, one long input (the passages of all four NQ questions,
twice); every method on the embedded models (LLMLingua-2 needs a
classifier checkpoint: its unit tests compare it on tiny models). Each result's text, spans,
order, relevance (5 decimals), dropped flag and token count go into the hash.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))

METHODS = [
    ("coarse_to_fine", {}),
    ("pruner", {}),
    ("embeddings_filter", {}),
    ("sentence_embeddings", {}),
    ("bm25", {}),
    ("random", {"seed": 1}),
    ("naive", {}),
    ("none", {}),
    ("selective_context", {}),
    ("llmlingua", {}),
    ("longllmlingua", {}),
    ("longllmlingua", {"rank_method": "fused"}),
]

LONG = ("coarse_to_fine", "pruner")


def hashes() -> dict[str, str]:
    from lingua_core import get_compressor
    from lingua_core.eval.data import hotpotqa, nq_multidoc

    ex = nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", range(500, 504), k=10)
    ex += hotpotqa(DATA / "hotpotqa_distractor.jsonl.gz", range(50, 53))
    long_texts = [" ".join(c for e in ex[:4] for c in e.contexts)] * 2
    out = {}
    for method, kw in METHODS:
        comp = get_compressor(method, **kw)
        for e in ex:
            for rate in (0.33, 0.1):
                forced = method == "longllmlingua" and rate == 0.1
                extra = {"force_context_ids": [1]} if forced else {}
                res = comp.compress(list(e.contexts), query=e.question, rate=rate, **extra)
                out[f"{method}{kw}|{e.id}|{rate}"] = _digest(res)
        res = comp.compress(list(ex[0].contexts), target_tokens=200, query=ex[0].question)
        out[f"{method}{kw}|target200"] = _digest(res)
        res = comp.compress(list(ex[1].contexts), rate=0.33)
        out[f"{method}{kw}|no-query"] = _digest(res)
        if comp.supports_auto_rate:
            res = comp.compress(list(ex[2].contexts), query=ex[2].question, rate="auto")
            out[f"{method}{kw}|auto"] = _digest(res)
        if method in LONG:  # past the first stage's 4,000 words
            res = comp.compress(long_texts, query=ex[3].question, rate=0.1)
            out[f"{method}{kw}|long"] = _digest(res)
    return out


TEXTS_ONLY = os.environ.get("SAME_OUTPUTS_TEXTS_ONLY") == "1"


def _digest(results: list) -> str:
    if TEXTS_ONLY:  # what reaches the LLM, without the scores
        return hashlib.sha1(json.dumps([r.text for r in results]).encode()).hexdigest()
    rows = [
        [
            r.text,
            [list(s) for s in r.spans],
            r.order,
            None if r.relevance is None else round(r.relevance, 5),
            r.dropped,
            r.compressed_tokens,
        ]
        for r in results
    ]
    return hashlib.sha1(json.dumps(rows).encode()).hexdigest()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--compare", type=Path, help="another run's file")
    a = p.parse_args()
    got = hashes()
    a.out.write_text(json.dumps(got, indent=0, sort_keys=True), encoding="utf-8")
    if a.compare:
        other = json.loads(a.compare.read_text(encoding="utf-8"))
        differ = sorted(k for k in set(got) | set(other) if got.get(k) != other.get(k))
        print(f"{len(got) - len(differ)} of {len(got)} outputs identical; differ: {differ}")
    else:
        print(f"{len(got)} outputs hashed")


if __name__ == "__main__":
    main()
