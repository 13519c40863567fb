"""Answer survival on multi-document NQ: LongLLMLingua vs Selective Context, random, BM25, ref.

NQ questions ``--start`` (default 500: 0-499 are for tuning) to ``--start + --questions``, 20
passages each (the gold passage at a seeded random position, 19 BM25-chosen distractors, see
``_common.rag_examples``), rates 0.5, 0.33 and 0.2. A context "keeps the answer" when a
normalised gold answer occurs in it. Every method meets the rate in the same tokens (SmolLM2's);
the achieved rate is also reported in cl100k tokens.

Systems: ``longllmlingua`` (our defaults), ``longllmlingua-word`` (``unit="word"``),
``selective_context`` (phrases), ``random`` (words, seeded per text), ``bm25-passages`` (whole
passages best BM25 first until the budget is met), and ``reference`` (llmlingua 0.2.2's
LongLLMLingua with its recommended settings, in the venv of ``benchmarks/reference_env.sh``;
slow, so ``--reference-questions`` bounds it). Results are appended to a JSONL file, one record
per system x question x rate, and a rerun skips what is there (resumable). ``--report`` prints
the table: survival with 95% bootstrap intervals (resampling questions), and the paired difference
to LongLLMLingua on the questions both ran.

    .venv/bin/python benchmarks/quality_rag.py --out benchmarks/results/quality_rag.jsonl
    .venv/bin/python benchmarks/quality_rag.py --out benchmarks/results/quality_rag.jsonl --report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    DEFAULT_DATA,
    LONG_SETTINGS,
    ROOT,
    add_reference_args,
    answer_survives,
    rag_examples,
)

RATES = (0.5, 0.33, 0.2)
OURS = ("longllmlingua", "longllmlingua-word", "selective_context", "random", "bm25-passages")
LONG = LONG_SETTINGS


def done_keys(path: Path) -> set[tuple[str, int, float]]:
    if not path.is_file():
        return set()
    keys = set()
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            keys.add((r["system"], r["index"], r["rate"]))
    return keys


def run_ours(examples: list[dict], out: Path, systems: list[str]) -> None:
    from lingua_core import get_compressor, join_results
    from lingua_core.models import load_causal_lm
    from lingua_core.pipeline.select import select
    from lingua_core.pipeline.tokens import HFTokenCounter, get_token_counter
    from lingua_core.scorers.rank import bm25_scores

    counter = HFTokenCounter(load_causal_lm(None).tokenizer, name="smollm2")
    cl100k = get_token_counter("cl100k_base")
    long = get_compressor("longllmlingua")
    comps = {
        "longllmlingua": (long, {}),
        "longllmlingua-word": (long, {"unit": "word"}),  # same instance: shared score caches
        "selective_context": (get_compressor("selective_context"), {}),
        "random": (get_compressor("random", token_counter=counter), {}),
    }
    done = done_keys(out)
    with out.open("a") as f:
        for ex in examples:
            n_tokens = counter.count(ex["texts"])
            for system in systems:
                for rate in RATES:
                    if (system, ex["index"], rate) in done:
                        continue
                    t0 = time.perf_counter()
                    if system == "bm25-passages":
                        rel = bm25_scores(ex["texts"], ex["question"])
                        keep = select(
                            [rel], [np.asarray(n_tokens)], [rate * sum(n_tokens)], scope="global"
                        )[0]
                        context = "\n\n".join(t for t, k in zip(ex["texts"], keep) if k)
                    else:
                        comp, kw = comps[system]
                        res = comp.compress(ex["texts"], query=ex["question"], rate=rate, **kw)
                        context = join_results(res)
                    seconds = time.perf_counter() - t0
                    rec = record(system, ex, rate, context, seconds, counter, cl100k)
                    f.write(json.dumps(rec) + "\n")
                    f.flush()


def record(system, ex, rate, context, seconds, counter, cl100k) -> dict:  # type: ignore[no-untyped-def]
    return {
        "system": system,
        "index": ex["index"],
        "rate": rate,
        "survived": answer_survives(context, ex["answers"]),
        "rate_smollm2": counter.count([context])[0] / sum(counter.count(ex["texts"])),
        "rate_cl100k": cl100k.count([context])[0] / sum(cl100k.count(ex["texts"])),
        "seconds": seconds,
    }


def reference_child(examples_path: Path, model: str, out: Path) -> None:
    """Runs in the reference venv: prints one JSON line per (question, rate)."""
    from llmlingua import PromptCompressor

    examples = json.loads(examples_path.read_text())
    comp = PromptCompressor(model_name=model, device_map="cpu")
    for ex in examples:
        for rate in RATES:
            t0 = time.perf_counter()
            try:
                res = comp.compress_prompt(
                    ex["texts"],
                    question=ex["question"],
                    rate=rate,
                    concate_question=False,
                    **LONG,
                )
            except Exception as e:  # the reference crashes on some inputs: record it
                print(
                    json.dumps(
                        {
                            "index": ex["index"],
                            "rate": rate,
                            "error": f"{type(e).__name__}: {e}"[:300],
                        }
                    ),
                    flush=True,
                )
                continue
            print(
                json.dumps(
                    {
                        "index": ex["index"],
                        "rate": rate,
                        "context": res["compressed_prompt"],
                        "seconds": time.perf_counter() - t0,
                    }
                ),
                flush=True,
            )


def run_reference(examples: list[dict], out: Path, args: argparse.Namespace) -> None:
    from lingua_core.models import load_causal_lm
    from lingua_core.pipeline.tokens import HFTokenCounter, find_tiktoken_file, get_token_counter

    done = done_keys(out)
    todo = [ex for ex in examples if any(("reference", ex["index"], r) not in done for r in RATES)]
    if not todo:
        return
    counter = HFTokenCounter(load_causal_lm(None).tokenizer, name="smollm2")
    cl100k = get_token_counter("cl100k_base")
    env = dict(os.environ)
    env.setdefault("TIKTOKEN_CACHE_DIR", str(find_tiktoken_file("cl100k_base").parent))
    ex_path = out.with_suffix(".reference-examples.json")
    ex_path.write_text(json.dumps(todo))
    by_index = {ex["index"]: ex for ex in todo}
    cmd = [
        args.ref_python,
        __file__,
        "--reference-child",
        str(ex_path),
        "--ref-model",
        args.ref_model,
        "--out",
        str(out),
    ]
    with (
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) as proc,
        out.open("a") as f,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            r = json.loads(line)
            if ("reference", r["index"], r["rate"]) in done:
                continue
            if "error" in r:
                f.write(
                    json.dumps(
                        {
                            "system": "reference",
                            "index": r["index"],
                            "rate": r["rate"],
                            "error": r["error"],
                        }
                    )
                    + "\n"
                )
                f.flush()
                continue
            rec = record(
                "reference",
                by_index[r["index"]],
                r["rate"],
                r["context"],
                r["seconds"],
                counter,
                cl100k,
            )
            f.write(json.dumps(rec) + "\n")
            f.flush()
    ex_path.unlink(missing_ok=True)


def bootstrap(values: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(reps, len(values)))
    means = values[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def report(out: Path) -> None:
    recs = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    crashes = [r for r in recs if "error" in r]
    recs = [r for r in recs if "error" not in r]
    table: dict[tuple[str, float], dict[int, dict]] = {}
    for r in recs:
        table.setdefault((r["system"], r["rate"]), {})[r["index"]] = r
    systems = [
        s
        for s in (
            "longllmlingua",
            "longllmlingua-word",
            "reference",
            "selective_context",
            "bm25-passages",
            "random",
        )
        if any(k[0] == s for k in table)
    ]
    print(
        "| system | rate | n | answer kept (95% CI) | vs longllmlingua, same questions (95% CI) "
        "| achieved rate (SmolLM2 / cl100k) | s per call |"
    )
    print("|---|---|---|---|---|---|---|")
    for rate in RATES:
        base = table.get(("longllmlingua", rate), {})
        for s in systems:
            rows = table.get((s, rate), {})
            if not rows:
                continue
            v = np.asarray([rows[i]["survived"] for i in sorted(rows)], dtype=float)
            lo, hi = bootstrap(v)
            common = sorted(set(rows) & set(base))
            diff = "-"
            if s != "longllmlingua" and common:
                d = np.asarray(
                    [rows[i]["survived"] - base[i]["survived"] for i in common], dtype=float
                )
                dlo, dhi = bootstrap(d)
                diff = f"{100 * d.mean():+.0f} pts ({100 * dlo:+.0f}, {100 * dhi:+.0f}), n={len(d)}"
            r1 = np.mean([x["rate_smollm2"] for x in rows.values()])
            r2 = np.mean([x["rate_cl100k"] for x in rows.values()])
            sec = np.mean([x["seconds"] for x in rows.values()])
            print(
                f"| {s} | {rate} | {len(v)} | {100 * v.mean():.0f}% ({100 * lo:.0f}-"
                f"{100 * hi:.0f}) | {diff} | {r1:.3f} / {r2:.3f} | {sec:.2f} |"
            )
    _print_crashes(crashes)


def _print_crashes(crashes: list[dict]) -> None:
    for c in crashes:
        print(f"{c['system']} crashed on question {c['index']} at rate {c['rate']}: {c['error']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--start", type=int, default=500)
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--reference-questions", type=int, default=30)
    ap.add_argument("--systems", default=",".join((*OURS, "reference")))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/quality_rag.jsonl")
    ap.add_argument("--report", action="store_true")
    add_reference_args(ap)
    ap.add_argument("--reference-child", default=None)
    args = ap.parse_args()
    if args.reference_child:
        reference_child(Path(args.reference_child), args.ref_model, args.out)
        return
    if args.report:
        report(args.out)
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    examples = rag_examples(args.data, range(args.start, args.start + args.questions))
    systems = args.systems.split(",")
    ours = [s for s in systems if s in OURS]
    if ours:
        run_ours(examples, args.out, ours)
        print(f"ours done: {time.strftime('%H:%M:%S')}", file=sys.stderr)
    if "reference" in systems:
        run_reference(examples[: args.reference_questions], args.out, args)
        print(f"reference done: {time.strftime('%H:%M:%S')}", file=sys.stderr)
    report(args.out)


if __name__ == "__main__":
    main()
