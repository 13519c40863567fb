"""Which coarse ranking should rank retrieved texts? Every rank method on the tuning questions.

LongLLMLingua's ``rank_method`` (and the fused signals the default method uses): question
likelihood under the embedded SmolLM2 (``longllmlingua``), ``bm25``, ``embedding`` (MiniLM
cosine, the reference's ``sentbert``), ``hybrid`` (BM25 + LM, z-scores) and ``fused``
combinations by z-scores and by reciprocal ranks. Measured on tuning data only: NQ questions
0-49 (20 passages; gold passage's rank: MRR and recall@1/@3) and HotpotQA + MuSiQue records
0-49 (supporting paragraphs: recall@2 and @4). Writes ``benchmarks/results/rank_methods.txt``.

    python benchmarks/rank_methods.py [--nq 50] [--records 50]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "rank_methods.txt"

CONFIGS = [
    ("bm25", {"method": "bm25"}),
    ("embedding (sentbert)", {"method": "embedding"}),
    ("longllmlingua (LM question likelihood)", {"method": "longllmlingua"}),
    ("hybrid (bm25 + lm, z)", {"method": "hybrid"}),
    ("fused embedding + bm25, z", {"method": "fused", "signals": ("embedding", "bm25")}),
    (
        "fused embedding + bm25, rrf",
        {"method": "fused", "signals": ("embedding", "bm25"), "fusion": "rrf"},
    ),
    ("fused embedding + lm, z", {"method": "fused", "signals": ("embedding", "lm")}),
    ("fused embedding + bm25 + lm, z", {"method": "fused", "signals": ("embedding", "bm25", "lm")}),
    (
        "fused embedding + bm25 + lm, rrf",
        {"method": "fused", "signals": ("embedding", "bm25", "lm"), "fusion": "rrf"},
    ),
]


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nq", type=int, default=50)
    p.add_argument("--records", type=int, default=50)
    a = p.parse_args()

    from lingua_core.eval.data import hotpotqa, musique, nq_multidoc
    from lingua_core.models import fast_dtype, load_causal_lm
    from lingua_core.models._lru import LRU
    from lingua_core.scorers.embed import Embedder
    from lingua_core.scorers.lm import CausalLMScorer
    from lingua_core.scorers.rank import rank_texts

    nq = nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", range(a.nq))
    mh = [
        *hotpotqa(DATA / "hotpotqa_distractor.jsonl.gz", range(a.records)),
        *musique(DATA / "musique_ans_train_sample.jsonl.gz", range(a.records)),
    ]
    scorer = CausalLMScorer(load_causal_lm(None))
    embedder = Embedder(dtype=fast_dtype("cpu"))
    cache = LRU(1 << 20)  # LM relevance shared by every configuration that uses it
    lines = [
        f"Tuning data: NQ questions 0-{a.nq - 1} (20 passages, n = {len(nq)}); HotpotQA + "
        f"MuSiQue records 0-{a.records - 1} (n = {len(mh)}). LM: embedded SmolLM2, condition "
        "'after'; embeddings: MiniLM.",
        "",
        f"{'rank method':40s} {'NQ MRR':>7s} {'R@1':>5s} {'R@3':>5s} {'MH R@2':>7s} "
        f"{'MH R@4':>7s} {'s/call':>7s}",
    ]
    for label, kw in CONFIGS:
        t0 = time.perf_counter()
        rr, r1, r3 = [], [], []
        for ex in nq:
            order, _ = rank_texts(
                list(ex.contexts), ex.question, scorer=scorer, embedder=embedder, cache=cache, **kw
            )
            pos = int(np.flatnonzero(order == ex.gold)[0])
            rr.append(1 / (pos + 1))
            r1.append(pos < 1)
            r3.append(pos < 3)
        m2, m4 = [], []
        for ex in mh:
            order, _ = rank_texts(
                list(ex.contexts), ex.question, scorer=scorer, embedder=embedder, cache=cache, **kw
            )
            sup = set(ex.meta["supporting"])
            m2.append(len(sup & set(order[:2].tolist())) / len(sup))
            m4.append(len(sup & set(order[:4].tolist())) / len(sup))
        secs = (time.perf_counter() - t0) / (len(nq) + len(mh))
        lines.append(
            f"{label:40s} {np.mean(rr):7.3f} {np.mean(r1):5.2f} {np.mean(r3):5.2f} "
            f"{np.mean(m2):7.3f} {np.mean(m4):7.3f} {secs:7.2f}"
        )
        print(lines[-1], flush=True)
    lines.append("")
    lines.append("s/call of the first configuration using the LM includes its LM passes; later")
    lines.append("ones reuse the cached LM relevance.")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
