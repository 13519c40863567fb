"""The learned pruner against the default and the stock filters, in one run (issue 26).

Answer survival (an answer string in the kept context) at equal word budgets, with 95% bootstrap
intervals and paired differences, on the evaluation ranges (``--tune``: the tuning ranges):

- ``squad``: SQuAD articles 12-13 (tune 10-11), the gold paragraph among 9 BM25-hardest
  paragraphs of its article, 200 questions; rates 0.1 and 0.33.
- ``multihop``: HotpotQA (10 paragraphs) and MuSiQue (20) records 50-99 (tune 0-49); 0.33, 0.1.
- ``nq``: NQ-Open questions 500-699 (tune 0-199), 20 passages with BM25-hard distractors; 0.1,
  0.05.
- ``long``: long documents, a 1,000-word budget: each SQuAD article 12-13 (tune 10-11) as one
  text (4.9k-8.9k words; 20 seeded questions each), NQ questions 500-539 (tune 0-39) with 60
  passages joined as one text (~7.5k words), and MuSiQue records 50-89 (tune 0-39) as 20
  passages. The
  controls: 100-word chunks by MiniLM cosine, by BM25, and sentences by MiniLM.
- ``speed``: a cold 20-passage call (a fresh process each, the model loaded and warmed up on
  another text first, p50 of 5) and one 50,000-word text never seen by the process (QMSum
  meetings joined; median of 3), per method.

    python benchmarks/learned_pruner.py --sets squad multihop nq long speed
    python benchmarks/learned_pruner.py --report
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))

METHODS = ["coarse_to_fine", "pruner", "embeddings_filter", "sentence_embeddings", "bm25"]
RATES = {"squad": (0.33, 0.1), "multihop": (0.33, 0.1), "nq": (0.1, 0.05)}
LONG_BUDGET = 1000


def examples(kind: str, tune: bool) -> list:
    """The examples of a set, in its evaluation (or tuning) range."""
    from lingua_core.eval import data

    if kind == "squad":
        arts = range(10, 12) if tune else range(12, 14)
        return data.squad_same_article(DATA / "squad_v1_train_sample.jsonl.gz", arts, limit=200)
    if kind == "multihop":
        recs = range(0, 50) if tune else range(50, 100)
        return [
            *data.hotpotqa(DATA / "hotpotqa_distractor.jsonl.gz", recs),
            *data.musique(DATA / "musique_ans_train_sample.jsonl.gz", recs),
        ]
    if kind == "nq":
        qs = range(0, 200) if tune else range(500, 700)
        return data.nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", qs)
    msg = f"unknown set {kind!r}"
    raise ValueError(msg)


def long_examples(tune: bool) -> list:
    """Long documents: (id, question, answers, texts) with one text or many passages."""
    from lingua_core.eval import data

    out = []
    rows = [json.loads(x) for x in _lines(DATA / "squad_v1_train_sample.jsonl.gz")]
    rng = np.random.default_rng(0)
    for a in range(10, 12) if tune else range(12, 14):
        row = rows[a]
        title = row["title"].replace("_", " ")
        doc = title + "\n\n" + "\n\n".join(p["context"] for p in row["paragraphs"])
        qas = [qa for p in row["paragraphs"] for qa in p["qas"]]
        for i in sorted(rng.choice(len(qas), size=20, replace=False).tolist()):
            qa = qas[i]
            answers = list(dict.fromkeys(x["text"] for x in qa["answers"]))
            out.append((f"squad-{a}-{qa['id']}", qa["question"], answers, [doc]))
    qs = range(0, 40) if tune else range(500, 540)
    for ex in data.nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", qs, k=60):
        out.append((f"nq60-{ex.id}", ex.question, list(ex.answers), ["\n\n".join(ex.contexts)]))
    recs = range(0, 40) if tune else range(50, 90)
    for ex in data.musique(DATA / "musique_ans_train_sample.jsonl.gz", recs):
        out.append((ex.id, ex.question, list(ex.answers), list(ex.contexts)))
    return out


def _lines(path: Path) -> list[str]:
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [x for x in f if x.strip()]


def chunks(texts: list[str], words: int = 100) -> list[str]:
    """Texts cut into chunks of ``words`` words."""
    out = []
    for t in texts:
        w = t.split()
        out += [" ".join(w[i : i + words]) for i in range(0, len(w), words)]
    return out


def run_long(methods: list[str], tune: bool, out: Path) -> None:
    """Every method on every long document under a 1,000-word budget."""
    from lingua_core import get_compressor, join_results
    from lingua_core.eval.metrics import answer_in
    from lingua_core.eval.sweep import parse_method

    done = {(r["method"], r["example"]) for r in _read(out)}
    specs = [*methods, "chunks:embeddings_filter", "chunks:bm25"]
    comps = {}
    for spec in specs:
        name, opts = parse_method(spec.removeprefix("chunks:"))
        comps[spec] = get_compressor(name, token_counter="words", **opts)
    with out.open("a", encoding="utf-8") as f:
        for ex_id, question, answers, texts in long_examples(tune):
            for spec in specs:
                if (spec, ex_id) in done:
                    continue
                inputs = chunks(texts) if spec.startswith("chunks:") else texts
                t0 = time.perf_counter()
                res = comps[spec].compress(inputs, query=question, target_tokens=LONG_BUDGET)
                secs = time.perf_counter() - t0
                kept = sum(r.compressed_tokens for r in res)
                rec = {
                    "method": spec,
                    "example": ex_id,
                    "survived": answer_in(join_results(res), answers),
                    "kept_words": kept,
                    "words": sum(len(t.split()) for t in texts),
                    "seconds": secs,
                }
                f.write(json.dumps(rec) + "\n")
                f.flush()


_SPEED = r"""
import json, sys, time
from lingua_core import get_compressor
from lingua_core.eval.sweep import parse_method
spec, kind = sys.argv[1], sys.argv[2]
name, opts = parse_method(spec)
payload = json.loads(sys.stdin.read())
comp = get_compressor(name, token_counter="words", **opts)
comp.warmup()  # imports and model loads are not the call's: time a warm model on new text
comp.compress(["The weather was mild in May."], query="How was the weather?", rate=0.5)
t0 = time.perf_counter()
if kind == "long":
    comp.compress(payload["texts"], query=payload["question"], target_tokens=1000)
else:
    comp.compress(payload["texts"], query=payload["question"], rate=0.1)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def run_speed(methods: list[str], out: Path) -> None:
    """Cold calls in fresh processes: 20 NQ passages (p50 of 5), and 50,000 words (median of 3,
    a different text each time)."""
    from lingua_core.eval.data import nq_multidoc

    exs = nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", range(1500, 1505))
    meetings = [json.loads(x)["document"] for x in _lines(DATA / "summarization_qmsum.jsonl.gz")]
    longs = []
    for i in range(3):
        words: list[str] = []
        j = i * 12
        while len(words) < 50_000:
            words += meetings[j % len(meetings)].split()
            j += 1
        longs.append(" ".join(words[:50_000]))
    result = {}
    for spec in methods:
        short = [
            _timed(spec, "short", {"texts": list(e.contexts), "question": e.question}) for e in exs
        ]
        long = [
            _timed(
                spec,
                "long",
                {"texts": [t], "question": "What did the group decide about the budget?"},
            )
            for t in longs
        ]
        result[spec] = {
            "cold_20_passages_p50": float(np.median(short)),
            "words_50k_median": float(np.median(long)),
            "short": short,
            "long": long,
        }
        print(spec, result[spec], file=sys.stderr)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def _timed(spec: str, kind: str, payload: dict) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _SPEED, spec, kind],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _ci(values: list[float], seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    a = np.asarray(values, dtype=np.float64)
    boots = a[rng.integers(0, a.size, size=(2000, a.size))].mean(1)
    return float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def _cell(vals: list[float]) -> str:
    lo, hi = _ci(vals)
    return f"{np.mean(vals):.3f} [{lo:.2f}, {hi:.2f}]"


def report(tag: str) -> str:
    """The markdown report of the result files with suffix ``tag``."""
    lines = [f"# Learned pruner (issue 26){' — tuning ranges' if tag else ''}", ""]
    lines.append("Answer survival at equal word budgets; 95% bootstrap intervals in brackets.")
    by: dict[tuple[str, str, float], dict[str, float]] = defaultdict(dict)
    achieved: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for r in _read(RESULTS / f"learned_pruner{tag}.jsonl"):
        kind = r["example"].split("-")[0]
        kind = "multihop" if kind in ("hotpotqa", "musique") else kind
        by[(kind, r["method"], r["rate"])][r["example"]] = float(r["survived"])
        achieved[(kind, r["method"], r["rate"])].append(r["achieved_rate"] / r["rate"])
    for kind, rates in RATES.items():
        methods = sorted(
            {m for k, m, _ in by if k == kind}, key=lambda m: (m not in METHODS[:2], m)
        )
        if not methods:
            continue
        n = max(len(by.get((kind, methods[0], r), {})) for r in rates)
        lines += [
            "",
            f"## {kind}, n = {n}",
            "",
            "| method | " + " | ".join(f"rate {r}" for r in rates) + " |",
        ]
        lines.append("|---|" + "---|" * len(rates))
        for m in methods:
            cells = [
                _cell(list(by[(kind, m, r)].values())) if by.get((kind, m, r)) else "-"
                for r in rates
            ]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines += ["", "Kept words / budget: mean, and the share of examples over 1.15x:", ""]
        for m in methods:
            parts = []
            for r in rates:
                a = np.asarray(achieved.get((kind, m, r), []))
                if a.size:
                    parts.append(f"rate {r}: {a.mean():.2f}, {np.mean(a > 1.15):.0%} over")
            lines.append(f"- {m}: " + "; ".join(parts))
    long = _read(RESULTS / f"learned_pruner_long{tag}.jsonl")
    if long:
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for r in long:
            groups[(r["example"].split("-")[0], r["method"])].append(r)
        lines += ["", f"## Long documents, {LONG_BUDGET}-word budget", ""]
        lines += [
            "| set | method | n | survival | mean kept words | mean seconds |",
            "|---|---|---|---|---|---|",
        ]
        for (kind, m), rs in sorted(groups.items()):
            vals = [float(r["survived"]) for r in rs]
            words = np.mean([r["kept_words"] for r in rs])
            secs = np.mean([r["seconds"] for r in rs])
            lines.append(f"| {kind} | {m} | {len(rs)} | {_cell(vals)} | {words:.0f} | {secs:.2f} |")
        per_method: dict[str, list[float]] = defaultdict(list)
        for r in long:
            per_method[r["method"]].append(float(r["survived"]))
        lines += [
            "",
            "All long documents: "
            + "; ".join(
                f"{m} {np.mean(v):.3f} (n = {len(v)})" for m, v in sorted(per_method.items())
            ),
        ]
    speed = RESULTS / "learned_pruner_speed.json"
    if speed.is_file() and not tag:
        s = json.loads(speed.read_text())
        base = s.get("coarse_to_fine", {})
        lines += [
            "",
            "## Speed (fresh process per call, this 2-core CPU)",
            "",
            "| method | cold 20 passages p50 (s) | ratio to coarse_to_fine | 50,000 words (s) |",
            "|---|---|---|---|",
        ]
        for m, v in s.items():
            ratio = (
                v["cold_20_passages_p50"] / base["cold_20_passages_p50"] if base else float("nan")
            )
            p50, long = v["cold_20_passages_p50"], v["words_50k_median"]
            lines.append(f"| {m} | {p50:.2f} | {ratio:.2f} | {long:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the chosen sets, or write the report."""
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sets", nargs="*", default=[], choices=[*RATES, "long", "speed"])
    p.add_argument("--methods", nargs="*", default=METHODS)
    p.add_argument("--tune", action="store_true", help="the tuning ranges")
    p.add_argument("--report", action="store_true")
    p.add_argument("--limit", type=int, default=None, help="a seeded sample of each set")
    p.add_argument("--rates", type=float, nargs="*", default=None, help="override the rates")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    args = p.parse_args()
    tag = "_tune" if args.tune else ""
    from lingua_core.eval.sweep import run_sweep

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    for kind in args.sets:
        if kind in RATES:
            out = RESULTS / f"learned_pruner{tag}.jsonl"
            exs = examples(kind, args.tune)
            if args.limit and args.limit < len(exs):
                pick = np.random.default_rng(0).choice(len(exs), size=args.limit, replace=False)
                exs = [exs[i] for i in sorted(pick.tolist())]
            run_sweep(
                exs,
                args.methods,
                out,
                rates=tuple(args.rates) if args.rates else RATES[kind],
                seeds=1,
                token_counter="words",
                progress=False,
            )
        elif kind == "long":
            run_long(
                [m for m in args.methods if m != "bm25"],
                args.tune,
                RESULTS / f"learned_pruner_long{tag}.jsonl",
            )
        elif kind == "speed":
            run_speed(
                [
                    m
                    for m in args.methods
                    if m in ("coarse_to_fine", "pruner")
                    or m.startswith(("coarse_to_fine:", "pruner:"))
                ],
                RESULTS / "learned_pruner_speed.json",
            )
    if args.report or not args.sets:
        text = report(tag)
        (RESULTS / f"learned_pruner{tag}.md").write_text(text, encoding="utf-8")
        print(text)


if __name__ == "__main__":
    main()
