"""Seconds per cold 20-passage NQ call: the default method beside LongLLMLingua and the baselines.

"Cold": a fresh compressor per call (the shared model stays loaded, as in a server; no cached
embeddings or scores). NQ evaluation questions 500-519 (20 passages, ~2,300 cl100k tokens),
rate 0.25, budgets in words. Also a plain MiniLM pass over the passages' sentences (in text
order, 32 sentences per batch, fp32: what a first implementation does), and whether the default
keeps the same text in bf16 as in fp32. Writes ``benchmarks/results/default_speed.txt``.

    python benchmarks/default_speed.py [--calls 20] [--lm-calls 5]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "default_speed.txt"


def plain_pass(loaded, sentences: list[str]) -> None:
    """Unsorted MiniLM pass: 32 sentences per batch, padded to the batch's longest."""
    import torch

    for b in range(0, len(sentences), 32):
        enc = loaded.tokenizer(
            sentences[b : b + 32],
            padding=True,
            truncation=True,
            max_length=256,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = loaded.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            _ = (hidden * mask).sum(1) / mask.sum(1)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--lm-calls", type=int, default=5, help="calls for the SmolLM2 methods")
    a = p.parse_args()

    import torch

    from lingua_core import get_compressor, join_results
    from lingua_core.eval.data import nq_multidoc
    from lingua_core.models import cpu_bf16_speedup, load_encoder
    from lingua_core.pipeline.text import sentence_units

    examples = nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", range(500, 500 + a.calls))
    configs = [
        ("coarse_to_fine (default, dtype auto)", "coarse_to_fine", {}),
        ("coarse_to_fine fp32", "coarse_to_fine", {"dtype": "float32"}),
        (
            "coarse_to_fine fp32, multi_hop off",
            "coarse_to_fine",
            {"dtype": "float32", "multi_hop": False},
        ),
        ("embeddings_filter (auto)", "embeddings_filter", {}),
        ("sentence_embeddings (auto)", "sentence_embeddings", {}),
        ("bm25", "bm25", {}),
        ("longllmlingua fp32", "longllmlingua", {}),
        ("selective_context fp32", "selective_context", {}),
    ]
    for _, m, kw in configs:  # load every model once, outside the timings
        get_compressor(m, **kw).warmup()
    times: dict[str, list[float]] = {}
    kept: dict[str, list[str]] = {}
    for label, method, kw in configs:
        n = a.lm_calls if method in ("longllmlingua", "selective_context") else a.calls
        for ex in examples[:n]:
            comp = get_compressor(method, token_counter="words", **kw)
            t0 = time.perf_counter()
            res = comp.compress(list(ex.contexts), query=ex.question, rate=0.25)
            times.setdefault(label, []).append(time.perf_counter() - t0)
            kept.setdefault(label, []).append(join_results(res))
    loaded = load_encoder(None, dtype="float32")
    label = "plain MiniLM pass over the sentences (fp32, unsorted)"
    for ex in examples:
        sents = [s for c in ex.contexts for s in sentence_units(c).texts(c)]
        t0 = time.perf_counter()
        plain_pass(loaded, sents)
        times.setdefault(label, []).append(time.perf_counter() - t0)

    lines = [
        "Cold 20-passage NQ calls (questions 500-519), rate 0.25, budgets in words; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, bf16 matmul {cpu_bf16_speedup():.2f}x fp32.",
        "",
        f"{'configuration':58s} {'calls':>5s} {'p50 s':>7s} {'p95 s':>7s} {'mean s':>7s}",
    ]
    for label, ts in times.items():
        t = np.asarray(ts)
        lines.append(
            f"{label:58s} {t.size:5d} {np.percentile(t, 50):7.3f} {np.percentile(t, 95):7.3f} "
            f"{t.mean():7.3f}"
        )
    base = float(np.median(times["plain MiniLM pass over the sentences (fp32, unsorted)"]))
    default = float(np.median(times["coarse_to_fine (default, dtype auto)"]))
    lines += ["", f"default p50 / plain-pass p50: {default / base:.2f}"]
    same = np.mean(
        [
            x == y
            for x, y in zip(
                kept["coarse_to_fine (default, dtype auto)"], kept["coarse_to_fine fp32"]
            )
        ]
    )
    lines.append(f"default (auto dtype) keeps the same text as fp32 in {same:.0%} of calls")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
