"""LLMLingua-2 speed: ours vs the reference ``llmlingua`` 0.2.2 on the same model and inputs.

A BERT-base-sized token classifier (12 layers, 768 wide, random weights on the MiniLM WordPiece
tokenizer; ``--model`` takes a real checkpoint folder instead), 10 calls of 20 NQ passages each,
rate 0.5. Each system runs in a child process of this script (so peak memory is its own):
the reference (fp32), ours in fp32 and ours in bf16. Prints tokens/s, the ratio to the reference,
tokens forwarded, peak RSS and the kept-word agreement; the README quotes the table.

    python benchmarks/llmlingua2_speed.py [--data PATH] [--model FOLDER] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, load_passages


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text.lower())
    return re.findall(r"\w+", "".join(ch for ch in text if not unicodedata.combining(ch)))


def agreement(a: list[str], b: list[str]) -> float:
    return float(
        np.mean(
            [
                difflib.SequenceMatcher(a=words(x), b=words(y), autojunk=False).ratio()
                for x, y in zip(a, b)
            ]
        )
    )


def build_model(out: Path) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from lingua_core.models import embedded_encoder_path

    tok = AutoTokenizer.from_pretrained(str(embedded_encoder_path()))
    config = BertConfig(vocab_size=tok.vocab_size, num_labels=2)  # BERT-base: 12 x 768
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertForTokenClassification(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)


def child(args: argparse.Namespace) -> None:
    texts = load_passages(args.data, args.passages * args.calls)
    calls = [texts[i * args.passages : (i + 1) * args.passages] for i in range(args.calls)]
    outputs: list[str] = []
    if args.which == "reference":
        from llmlingua import PromptCompressor

        comp = PromptCompressor(model_name=args.model, use_llmlingua2=True, device_map=args.device)
        comp.compress_prompt_llmlingua2(calls[0][:2], rate=0.5)  # warm-up
        tok = comp.tokenizer
        t0 = time.perf_counter()
        for batch in calls:
            outputs += comp.compress_prompt_llmlingua2(batch, rate=0.5)["compressed_prompt_list"]
        seconds = time.perf_counter() - t0
        n_chunks = sum(len(tok.tokenize(t)) // 510 + 1 for t in texts)
        forwarded = n_chunks * 512
    else:
        from lingua_core import get_compressor

        dtype = "bfloat16" if args.which == "ours-bf16" else "float32"
        comp = get_compressor(
            "llmlingua2",
            model=args.model,
            device=args.device,
            dtype=dtype,
            token_counter="cl100k_base",
            budget_scope="chunk",
            unit="token",  # the reference's words
        )
        comp.compress(calls[0][:2], rate=0.5)  # warm-up
        tok = comp._loaded().tokenizer
        t0 = time.perf_counter()
        for batch in calls:
            outputs += [r.text for r in comp.compress(batch, rate=0.5)]
        seconds = time.perf_counter() - t0
        forwarded = sum(len(tok(t, add_special_tokens=True)["input_ids"]) for t in texts)
    import tiktoken  # noqa: F401  (counted with the same encoding for every system)

    from lingua_core.pipeline.tokens import get_token_counter

    n_tokens = sum(get_token_counter("cl100k_base").count(texts))
    print(
        json.dumps(
            {
                "which": args.which,
                "seconds": seconds,
                "tokens": n_tokens,
                "tokens_per_s": n_tokens / seconds,
                "forwarded": forwarded,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "outputs": outputs,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--passages", type=int, default=20)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--which", default=None)
    args = ap.parse_args()
    if args.which:
        child(args)
        return
    from lingua_core.pipeline.tokens import find_tiktoken_file

    env = dict(os.environ)
    env.setdefault("TIKTOKEN_CACHE_DIR", str(find_tiktoken_file("cl100k_base").parent))
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            model = str(Path(tmp) / "bert-base-multilingual-cased-random")
            build_model(Path(model))
        runs = {}
        for which in ("reference", "ours-fp32", "ours-bf16"):
            cmd = [
                sys.executable,
                __file__,
                "--which",
                which,
                "--model",
                model,
                "--data",
                str(args.data),
                "--device",
                args.device,
                "--passages",
                str(args.passages),
                "--calls",
                str(args.calls),
            ]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            runs[which] = json.loads(out.stdout.strip().splitlines()[-1])
    ref = runs["reference"]
    print(
        f"{args.calls} calls x {args.passages} NQ passages, {ref['tokens']} cl100k tokens, "
        f"rate 0.5, device {args.device}, model {args.model or 'random BERT-base'}\n"
    )
    print(
        "| system | seconds | tokens/s | vs reference | tokens forwarded | peak RSS MB "
        "| agreement |"
    )
    print("|---|---|---|---|---|---|---|")
    for which, r in runs.items():
        agree = (
            "-"
            if which == "reference"
            else f"{agreement(ref['outputs'], r['outputs']):.3f} vs reference"
        )
        if which == "ours-bf16":
            agree += f", {agreement(runs['ours-fp32']['outputs'], r['outputs']):.3f} vs fp32"
        print(
            f"| {which} | {r['seconds']:.2f} | {r['tokens_per_s']:.0f} | "
            f"{r['tokens_per_s'] / ref['tokens_per_s']:.2f}x | {r['forwarded']} | "
            f"{r['peak_rss_mb']:.0f} | {agree} |"
        )


if __name__ == "__main__":
    main()
