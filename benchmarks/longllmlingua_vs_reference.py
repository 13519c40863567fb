"""LLMLingua and LongLLMLingua: ours vs the reference ``llmlingua`` 0.2.2, same model and inputs.

SmolLM2-135M-Instruct (the embedded model; the reference reads the copy that
``benchmarks/reference_env.sh`` exports for transformers 4.44), NQ questions ``--start`` to
``--start + --questions`` (default 0-9, the tuning range) with 20 passages each (gold passage
plus BM25-chosen distractors, see ``_common.rag_examples``), rates 0.5 then 0.33 on the same
texts. Each system runs in a child process: the reference in its own venv (fp32), ours in fp32
and in bf16. Reported per system and method: tokens/s over the whole sweep and over the first
rate alone (cold: our rate-independent scores are cached, so the second rate of the same texts is
cheaper; the reference recomputes everything), tokens forwarded through the model (padding
included), achieved rate in cl100k tokens, and in how many contexts the answer survived.

Settings: LongLLMLingua with the reference's recommended question-aware options
(``rank_method="longllmlingua"``, ``condition_in_question="after_condition"``,
``condition_compare=True``, ``reorder_context="sort"``, ``dynamic_context_compression_ratio=0.3``,
``context_budget="+100"``), which are our ``longllmlingua`` defaults; LLMLingua with the
reference's defaults (our ``llmlingua`` defaults). The reference gets ``concate_question=False``
so that its output is the compressed context alone.

    bash benchmarks/reference_env.sh
    .venv/bin/python benchmarks/longllmlingua_vs_reference.py [--questions 10] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    DEFAULT_DATA,
    LONG_SETTINGS,
    add_reference_args,
    answer_survives,
    rag_examples,
)

RATES = (0.5, 0.33)
LONG = LONG_SETTINGS


def count_forwarded(model: object) -> list[int]:
    """Count the token positions (padding included) that go through the model's body."""
    counter = [0]

    def hook(_module: object, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            counter[0] += int(ids.numel())

    model.base_model.register_forward_pre_hook(hook, with_kwargs=True)  # type: ignore[attr-defined]
    return counter


def child(args: argparse.Namespace) -> None:
    examples = json.loads(Path(args.examples).read_text())
    out: dict = {"which": args.which, "methods": {}}
    if args.which == "reference":
        from llmlingua import PromptCompressor

        comp = PromptCompressor(model_name=args.model, device_map=args.device)
        forwarded = count_forwarded(comp.model)

        def run(method: str, ex: dict, rate: float) -> str:
            kw = LONG if method == "longllmlingua" else {}
            res = comp.compress_prompt(
                ex["texts"], question=ex["question"], rate=rate, concate_question=False, **kw
            )
            return str(res["compressed_prompt"])

    else:
        from lingua_core import get_compressor, join_results

        dtype = "bfloat16" if args.which == "ours-bf16" else "float32"
        comps = {
            m: get_compressor(m, dtype=dtype, device=args.device, unit="token")  # the reference's
            for m in ("llmlingua", "longllmlingua")
        }
        for c in comps.values():
            c.warmup()
        forwarded = count_forwarded(comps["llmlingua"]._loaded().model)  # shared by both

        def run(method: str, ex: dict, rate: float) -> str:
            res = comps[method].compress(ex["texts"], query=ex["question"], rate=rate)
            return join_results(res)

    warm = examples[0]
    for method in ("llmlingua", "longllmlingua"):
        run(method, {**warm, "texts": warm["texts"][:3]}, 0.5)  # warm-up
        forwarded[0] = 0
        calls = []
        for ex in examples:
            for rate in RATES:
                t0 = time.perf_counter()
                text = run(method, ex, rate)
                calls.append(
                    {
                        "index": ex["index"],
                        "rate": rate,
                        "seconds": time.perf_counter() - t0,
                        "text": text,
                    }
                )
        out["methods"][method] = {"calls": calls, "forwarded": forwarded[0]}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def summarize(run: dict, examples: list[dict], counter: object) -> dict:
    by_index = {ex["index"]: ex for ex in examples}
    tokens = {ex["index"]: sum(counter.count(ex["texts"])) for ex in examples}  # type: ignore[attr-defined]
    out = {}
    for method, data in run["methods"].items():
        calls = data["calls"]
        total_tokens = sum(tokens[c["index"]] for c in calls)
        cold = [c for c in calls if c["rate"] == RATES[0]]
        row = {
            "tokens_per_s": total_tokens / sum(c["seconds"] for c in calls),
            "cold_tokens_per_s": sum(tokens[c["index"]] for c in cold)
            / sum(c["seconds"] for c in cold),
            "forwarded": data["forwarded"],
        }
        for rate in RATES:
            sel = [c for c in calls if c["rate"] == rate]
            kept = sum(counter.count([c["text"] for c in sel]))  # type: ignore[attr-defined]
            row[f"rate@{rate}"] = kept / sum(tokens[c["index"]] for c in sel)
            row[f"survival@{rate}"] = sum(
                answer_survives(c["text"], by_index[c["index"]]["answers"]) for c in sel
            )
        out[method] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--questions", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    add_reference_args(ap)
    ap.add_argument("--which", default=None)
    ap.add_argument("--examples", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--systems", default="reference,ours-fp32,ours-bf16")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw runs here")
    args = ap.parse_args()
    if args.which:
        child(args)
        return
    from lingua_core.pipeline.tokens import find_tiktoken_file, get_token_counter

    env = dict(os.environ)
    env.setdefault("TIKTOKEN_CACHE_DIR", str(find_tiktoken_file("cl100k_base").parent))
    examples = rag_examples(args.data, range(args.start, args.start + args.questions))
    counter = get_token_counter("cl100k_base")
    runs, table = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        ex_path = Path(tmp) / "examples.json"
        ex_path.write_text(json.dumps(examples))
        for which in args.systems.split(","):
            python = args.ref_python if which == "reference" else sys.executable
            cmd = [
                python,
                __file__,
                "--which",
                which,
                "--examples",
                str(ex_path),
                "--device",
                args.device,
                "--model",
                args.ref_model,
            ]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{which} failed")
            runs[which] = json.loads(proc.stdout.strip().splitlines()[-1])
            table[which] = summarize(runs[which], examples, counter)
            print(f"{which}: done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "table": table}))
    n = len(examples)
    tok = sum(sum(counter.count(ex["texts"])) for ex in examples) / n
    print(
        f"{n} questions x {len(examples[0]['texts'])} passages, {tok:.0f} cl100k tokens each; "
        f"rates {RATES}"
    )
    ref = table.get("reference")
    for method in ("llmlingua", "longllmlingua"):
        print(f"\n{method}")
        print(
            "| system | tokens/s (sweep) | vs ref | tokens/s (first rate) | vs ref | forwarded "
            "| rate@0.5 | rate@0.33 | answer kept @0.5 | @0.33 | peak RSS MB |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for which, t in table.items():
            r = t[method]
            vs = f"{r['tokens_per_s'] / ref[method]['tokens_per_s']:.2f}x" if ref else "-"
            vs_cold = (
                f"{r['cold_tokens_per_s'] / ref[method]['cold_tokens_per_s']:.2f}x" if ref else "-"
            )
            print(
                f"| {which} | {r['tokens_per_s']:.0f} | {vs} | {r['cold_tokens_per_s']:.0f} | "
                f"{vs_cold} | {r['forwarded']:,} | {r['rate@0.5']:.3f} | {r['rate@0.33']:.3f} | "
                f"{r['survival@0.5']}/{n} | {r['survival@0.33']}/{n} | "
                f"{runs[which]['peak_rss_mb']:.0f} |"
            )


if __name__ == "__main__":
    main()
