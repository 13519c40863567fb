"""The default method (coarse_to_fine) against the filters RAG users already have (issue 13).

One run, budgets counted in words (the same for every method), answer survival (an answer string
in the kept context):

- NQ-Open multi-document (20 passages, BM25-hard distractors, seeded gold position): tuning
  questions 0-499 (``--tune``), evaluation questions 500-699 (``--nq``).
- HotpotQA (distractor, 10 paragraphs) and MuSiQue (20 paragraphs): tuning records 0-49, evaluation
  records 50-99; yes/no questions left out.
- ``rate="auto"``: survival and mean achieved rate at the default ``auto_threshold``, and (with
  ``--tune``) at a grid of thresholds.

Records go to ``benchmarks/results/default_method.jsonl`` through ``lingua eval``'s resumable
sweep; ``--report`` writes ``benchmarks/results/default_method.md`` with bootstrap intervals and
the paired comparison of the default with the best baseline.

    python benchmarks/default_method.py --nq --multihop --auto   # evaluation
    python benchmarks/default_method.py --tune                   # the tuning numbers
    python benchmarks/default_method.py --report
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "default_method.jsonl"
AUTO_OUT = RESULTS / "default_method_auto.jsonl"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))

BASELINES = ["embeddings_filter", "sentence_embeddings", "bm25"]
DEFAULT = "coarse_to_fine"
NQ_RATES = (0.5, 0.33, 0.25, 0.2, 0.1, 0.05)
MH_RATES = (0.33, 0.1)
LM_METHODS = ["longllmlingua", "selective_context"]
MH_METHODS = [DEFAULT, *BASELINES, *LM_METHODS, "naive", "random"]


def nq(questions: range) -> list:
    from lingua_core.eval.data import nq_multidoc

    return nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", questions)


def multihop(records: range) -> list:
    from lingua_core.eval.data import hotpotqa, musique

    return [
        *hotpotqa(DATA / "hotpotqa_distractor.jsonl.gz", records),
        *musique(DATA / "musique_ans_train_sample.jsonl.gz", records),
    ]


def sweep(examples: list, methods: list[str], rates: tuple[float, ...], out: Path) -> None:
    from lingua_core.eval.sweep import run_sweep

    run_sweep(examples, methods, out, rates=rates, seeds=1, token_counter="words")


def auto_run(examples: list, thresholds: list[float], out: Path, tag: str) -> None:
    from lingua_core import get_compressor, join_results
    from lingua_core.eval.metrics import answer_in

    comp = get_compressor(DEFAULT, token_counter="words")
    with out.open("a", encoding="utf-8") as f:
        for th in thresholds:
            for ex in examples:
                res = comp.compress(
                    list(ex.contexts), query=ex.question, rate="auto", auto_threshold=th
                )
                kept = sum(r.compressed_tokens for r in res)
                total = sum(r.original_tokens for r in res)
                rec = {
                    "set": tag,
                    "threshold": th,
                    "example": ex.id,
                    "survived": answer_in(join_results(res), ex.answers),
                    "achieved_rate": kept / max(total, 1),
                }
                f.write(json.dumps(rec) + "\n")


def _ci(values: list[float], seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    a = np.asarray(values, dtype=np.float64)
    boots = a[rng.integers(0, a.size, size=(2000, a.size))].mean(1)
    return float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def _paired(a: list[float], b: list[float], seed: int = 0) -> tuple[float, float, float]:
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, d.size, size=(2000, d.size))].mean(1)
    return float(d.mean()), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def report(path: Path, auto_path: Path, tuning: bool = False) -> str:
    recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    by: dict[tuple[str, str, float], dict[str, float]] = defaultdict(dict)
    for r in recs:
        kind = r["example"].split("-")[0]
        kind = "multihop" if kind in ("hotpotqa", "musique") else kind
        by[(kind, r["method"], r["rate"])][r["example"]] = float(r["survived"])
    lines = ["# The default method against the filters RAG users have (issue 13)", ""]
    lines.append("Answer survival, budgets in words; 95% bootstrap intervals in brackets.")
    for kind, rates in (("nq", NQ_RATES), ("multihop", MH_RATES)):
        methods = sorted({m for k, m, _ in by if k == kind}, key=lambda m: (m != DEFAULT, m))
        if not methods:
            continue
        n = len(by[(kind, methods[0], rates[0])])
        nq_range, mh_range = ("0-99", "0-49") if tuning else ("500-699", "50-99")
        title = (
            f"NQ-Open questions {nq_range} (20 passages)"
            if kind == "nq"
            else f"HotpotQA + MuSiQue records {mh_range} (yes/no left out)"
        )
        lines += ["", f"## {title}, n = {n}", ""]
        lines.append("| method | " + " | ".join(f"rate {r}" for r in rates) + " |")
        lines.append("|---|" + "---|" * len(rates))
        for m in methods:
            cells = []
            for r in rates:
                vals = list(by.get((kind, m, r), {}).values())
                if not vals:
                    cells.append("-")
                    continue
                lo, hi = _ci(vals)
                note = "" if len(vals) == n else f" (n = {len(vals)})"
                cells.append(f"{np.mean(vals):.3f} [{lo:.2f}, {hi:.2f}]{note}")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines += ["", "Default minus each baseline, paired over the same examples:", ""]
        for m in methods:
            if m == DEFAULT:
                continue
            parts = []
            for r in rates:
                a, b = by.get((kind, DEFAULT, r), {}), by.get((kind, m, r), {})
                common = sorted(set(a) & set(b))
                if not common:
                    continue
                d, lo, hi = _paired([a[e] for e in common], [b[e] for e in common])
                parts.append(f"rate {r}: {100 * d:+.1f} pts [{100 * lo:+.1f}, {100 * hi:+.1f}]")
            lines.append(f"- vs {m}: " + "; ".join(parts))
    if auto_path.is_file():
        auto = [json.loads(x) for x in auto_path.read_text().splitlines() if x.strip()]
        groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
        for r in auto:
            groups[(r["set"], r["threshold"])].append(r)
        lines += ["", "## rate='auto'", "", "| set | auto_threshold | n | survival | mean rate |"]
        lines.append("|---|---|---|---|---|")
        for (tag, th), rs in sorted(groups.items()):
            surv = np.mean([r["survived"] for r in rs])
            rate = np.mean([r["achieved_rate"] for r in rs])
            lines.append(f"| {tag} | {th} | {len(rs)} | {surv:.3f} | {rate:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--nq", action="store_true", help="NQ evaluation questions 500-699")
    p.add_argument("--multihop", action="store_true", help="HotpotQA + MuSiQue records 50-99")
    p.add_argument("--auto", action="store_true", help="rate='auto' on the evaluation sets")
    p.add_argument("--tune", action="store_true", help="tuning sets (own results files)")
    p.add_argument("--tune-n", type=int, default=100, help="NQ tuning questions (from 0)")
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    methods = [DEFAULT, *BASELINES]
    if a.tune:
        tune_out = RESULTS / "default_method_tune.jsonl"
        sweep(nq(range(a.tune_n)), methods, NQ_RATES, tune_out)
        sweep(multihop(range(50)), methods, MH_RATES, tune_out)
        auto_run(
            nq(range(a.tune_n)),
            [0.4, 0.5, 0.6, 0.7],
            RESULTS / "default_method_tune_auto.jsonl",
            "nq-tune",
        )
        text = report(tune_out, RESULTS / "default_method_tune_auto.jsonl", tuning=True)
        (RESULTS / "default_method_tune.md").write_text(text, encoding="utf-8")
        print(text)
    if a.nq:
        sweep(nq(range(500, 700)), methods, NQ_RATES, OUT)
    if a.multihop:  # the fast methods on every record first, then the SmolLM2 ones
        fast = [m for m in MH_METHODS if m not in LM_METHODS]
        sweep(multihop(range(50, 100)), fast, MH_RATES, OUT)
        sweep(multihop(range(50, 100)), LM_METHODS, MH_RATES, OUT)
    if a.auto:
        from lingua_core.methods.coarse_to_fine import CoarseToFineOptions

        th = CoarseToFineOptions.auto_threshold
        auto_run(nq(range(500, 700)), [th], AUTO_OUT, "nq-eval")
        auto_run(multihop(range(50, 100)), [th], AUTO_OUT, "multihop-eval")
    if a.report:
        text = report(OUT, AUTO_OUT)
        (RESULTS / "default_method.md").write_text(text, encoding="utf-8")
        print(text)


if __name__ == "__main__":
    main()
