"""GPU benchmark: LLMLingua-2, the SmolLM2 methods and the default, against the reference.

Runs on CUDA when present (``--device cpu --quick`` in CI, so that it cannot rot). Models are
built with random weights from their configs (speed does not depend on the weights), on tokenizer
files prepared once (``--prepare``, from the embedded models; ``build/gpu_assets``, small enough
to carry to a machine that has neither model package):

- LLMLingua-2 on a BERT-base-sized (12 x 768) and an XLM-R-large-sized (24 x 1024) token
  classifier (both on the MiniLM WordPiece vocabulary: the XLM-R 250k embedding table is a
  lookup, it changes memory, not speed), fp32 / bf16 / fp16 and several ``batch_tokens``;
- Selective Context, LLMLingua and LongLLMLingua on a SmolLM2-135M-sized LM (its config);
- the default (``coarse_to_fine``) on a MiniLM-sized encoder (its config);
- the reference ``llmlingua`` 0.2.2's LLMLingua-2 on the same models, device and inputs, when it
  imports (``--prepare`` copies it and its pure-Python dependencies into the assets).

Per row: tokens/s (model-tokenizer tokens of the inputs per second of calls), the ratio to the
reference, p50 / p99 of one 20-passage call, peak accelerator memory (CUDA) and, for the
classifiers, the share of the measured bf16 (or the row's dtype) matmul roofline that the
encoder's forward FLOPs reach. Results: ``benchmarks/results/gpu[_cpu_quick].md`` and ``.jsonl``.

    .venv/bin/python benchmarks/gpu.py --prepare            # once, where the models are
    python benchmarks/gpu.py [--device cuda|cpu] [--quick] [--calls 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "build" / "gpu_assets"
CORPUS = ROOT / "lingua_demo" / "data" / "nq_corpus.jsonl.gz"
QUERY = "Who won the first Nobel Prize in Physics?"
#: Dense bf16 tensor-core peaks (TFLOP/s, vendor data sheets), for the spec roofline column.
SPEC_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}
#: Pure-Python packages the reference needs beside torch / transformers / numpy.
REFERENCE_PACKAGES = ("llmlingua", "nltk", "yaml", "tiktoken", "tiktoken_ext", "regex")

log = logging.getLogger("gpu_bench")


# ----------------------------------------------------------------------------- assets


def prepare(assets: Path) -> None:
    """Copy tokenizer files, configs and the reference's packages into ``assets``."""
    from lingua_core.models.embedded import embedded_causal_lm_path, embedded_encoder_path
    from lingua_core.pipeline.tokens import find_tiktoken_file

    if assets.exists():
        shutil.rmtree(assets)
    enc, lm = embedded_encoder_path(), embedded_causal_lm_path()
    for src, name, files in (
        (enc, "minilm", ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt")),
        (lm, "smollm2", ("config.json", "tokenizer.json", "tokenizer_config.json")),
    ):
        (assets / name).mkdir(parents=True)
        for f in files:
            if (src / f).exists():
                shutil.copy2(src / f, assets / name / f)
    for extra in ("special_tokens_map.json", "modules.json", "1_Pooling"):
        p = enc / extra
        if p.is_dir():
            shutil.copytree(p, assets / "minilm" / extra)
        elif p.exists():
            shutil.copy2(p, assets / "minilm" / extra)
    site = assets / "site"
    site.mkdir()
    for pkg in REFERENCE_PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec is None or spec.origin is None:
            continue
        src = Path(spec.origin).parent
        shutil.copytree(src, site / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    cl100k = find_tiktoken_file("cl100k_base")
    (assets / "tiktoken").mkdir()
    for f in cl100k.parent.iterdir():
        shutil.copy2(f, assets / "tiktoken" / f.name)
    size = sum(f.stat().st_size for f in assets.rglob("*") if f.is_file())
    print(f"prepared {assets}: {size / 2**20:.1f} MiB")


def build_models(assets: Path, out: Path, quick: bool) -> dict[str, Path]:
    """Random-weight models from configs (saved as safetensors folders under ``out``)."""
    import torch
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForCausalLM,
        AutoTokenizer,
        BertConfig,
        BertForTokenClassification,
        XLMRobertaConfig,
        XLMRobertaForTokenClassification,
    )

    wp = AutoTokenizer.from_pretrained(str(assets / "minilm"))
    small = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2}
    small["intermediate_size"] = 128
    specs: dict[str, Any] = {
        "bert-base": BertConfig(vocab_size=len(wp), num_labels=2, **(small if quick else {})),
        "xlmr-large": XLMRobertaConfig(
            vocab_size=len(wp),
            num_labels=2,
            max_position_embeddings=514,
            pad_token_id=wp.pad_token_id,
            **(
                small
                if quick
                else {
                    "num_hidden_layers": 24,
                    "hidden_size": 1024,
                    "num_attention_heads": 16,
                    "intermediate_size": 4096,
                }
            ),
        ),
    }
    folders = {}
    torch.manual_seed(0)
    for name, cfg in specs.items():
        cls = (
            BertForTokenClassification if name == "bert-base" else XLMRobertaForTokenClassification
        )
        # The reference picks its word rule by the checkpoint's name: a BERT name for WordPiece.
        folders[name] = out / (
            "bert-base-multilingual-cased-random" if name == "bert-base" else name
        )
        cls(cfg).save_pretrained(folders[name])
        wp.save_pretrained(folders[name])
    lm_cfg = AutoConfig.from_pretrained(str(assets / "smollm2"))
    enc_cfg = AutoConfig.from_pretrained(str(assets / "minilm"))
    if quick:
        lm_cfg.num_hidden_layers, enc_cfg.num_hidden_layers = 2, 2
    folders["smollm2"] = out / "smollm2"
    AutoModelForCausalLM.from_config(lm_cfg).save_pretrained(folders["smollm2"])
    AutoTokenizer.from_pretrained(str(assets / "smollm2")).save_pretrained(folders["smollm2"])
    folders["minilm"] = out / "minilm"
    AutoModel.from_config(enc_cfg).save_pretrained(folders["minilm"])
    shutil.copytree(assets / "minilm", folders["minilm"], dirs_exist_ok=True, ignore=_configs)
    return folders


def _configs(_: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "config.json"]


def passages(n: int) -> list[str]:
    rows = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows.append(f"{r['title']}\n{r['text']}")
    return [rows[i % len(rows)] for i in range(n)]


# ----------------------------------------------------------------------------- measuring


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_mb(device: str) -> float | None:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return None


def matmul_tflops(device: str, dtype: str, quick: bool) -> float:
    """Measured dense matmul throughput (the roofline the encoder is compared with)."""
    import torch

    n = 8192 if device.startswith("cuda") else (256 if quick else 1024)
    dt = getattr(torch, dtype)
    a = torch.randn(n, n, device=device, dtype=dt)
    b = torch.randn(n, n, device=device, dtype=dt)
    for _ in range(3):
        a @ b
    _sync(device)
    iters = 20 if device.startswith("cuda") else 3
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - t0) / 1e12


def encoder_flops_per_token(folder: Path, mean_len: float) -> float:
    """Forward FLOPs per token of a BERT-style encoder (matmuls and attention)."""
    cfg = json.loads((folder / "config.json").read_text())
    d, ff, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    return layers * (2 * (4 * d * d + 2 * d * ff) + 4 * mean_len * d)


def time_calls(fn: Any, calls: list[list[str]], device: str) -> list[float]:
    fn(calls[0])  # warm-up (kernels, allocator)
    _sync(device)
    out = []
    for c in calls:
        t0 = time.perf_counter()
        fn(c)
        _sync(device)
        out.append(time.perf_counter() - t0)
    return out


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def model_tokens(folder: Path, calls: list[list[str]]) -> tuple[int, float]:
    """Tokens of all calls under the model's tokenizer, and the mean chunk length (<= 512)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    lens = [len(tok(t)["input_ids"]) for c in calls for t in c]
    return sum(lens), statistics.fmean(min(n, 512) for n in lens)


def row(system: str, model: str, dtype: str, bt: Any, lat: list[float], tokens: int) -> dict:
    return {
        "system": system,
        "model": model,
        "dtype": dtype,
        "batch_tokens": bt,
        "tokens_per_s": tokens / sum(lat),
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * pct(lat, 0.99),
    }


def run_ours(
    method: str, folder: Path, dtype: str, bt: Any, calls: list[list[str]], device: str
) -> dict:
    from lingua_core import get_compressor
    from lingua_core.models import clear_models

    clear_models()
    _reset_peak(device)
    opts: dict[str, Any] = {"model": str(folder), "device": device, "dtype": dtype}
    if bt is not None:
        opts["batch_tokens"] = bt
    comp = get_compressor(method, **opts)
    # LLMLingua-2 as the reference runs it: query-agnostic (with a query, ours also ranks the
    # texts with the sentence encoder first); the other methods are question-aware.
    query = None if method == "llmlingua2" else QUERY
    lat = time_calls(lambda c: comp.compress(c, rate=0.5, query=query), calls, device)
    tokens, _ = model_tokens(folder, calls)
    out = row(f"lingua {method}", folder.name, dtype, bt, lat, tokens)
    out["peak_mb"] = _peak_mb(device)
    comp = None  # free the model before the next row
    clear_models()
    return out


def run_reference(folder: Path, calls: list[list[str]], device: str, assets: Path) -> dict:
    """llmlingua 0.2.2's LLMLingua-2 (its own dtype choice: the saved fp32) on the same calls."""
    site = assets / "site"
    if site.is_dir() and str(site) not in sys.path:
        sys.path.append(str(site))  # after the installed packages: only fills in what is missing
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(assets / "tiktoken"))  # cl100k, offline
    try:
        from llmlingua import PromptCompressor

        _reset_peak(device)
        comp = PromptCompressor(model_name=str(folder), use_llmlingua2=True, device_map=device)
    except Exception as e:  # an absent or broken copy: the row says why
        return {"system": "reference llmlingua 0.2.2", "model": folder.name, "error": repr(e)}
    lat = time_calls(lambda c: comp.compress_prompt_llmlingua2(c, rate=0.5), calls, device)
    tokens, _ = model_tokens(folder, calls)
    out = row("reference llmlingua 0.2.2", folder.name, "float32", "-", lat, tokens)
    out["peak_mb"] = _peak_mb(device)
    comp = None  # free the model before the next row
    return out


# ----------------------------------------------------------------------------- main


def plan(device: str, quick: bool) -> list[tuple[str, str, str, Any]]:
    """(method, model, dtype, batch_tokens) rows to run."""
    cuda = device.startswith("cuda")
    dtypes = ("float32", "bfloat16", "float16") if cuda else ("float32", "bfloat16")
    sizes: tuple[Any, ...] = (4096, 16384, 65536) if cuda else (512, 2048)
    rows: list[tuple[str, str, str, Any]] = []
    for dt in dtypes:
        rows.append(("llmlingua2", "bert-base", dt, None))
    for bt in sizes:
        rows.append(("llmlingua2", "bert-base", "bfloat16", bt))
    rows.append(("llmlingua2", "xlmr-large", "bfloat16", None))
    if cuda and not quick:
        rows.append(("llmlingua2", "xlmr-large", "float16", None))
    lm_dt = "bfloat16" if cuda else "float32"
    for m in ("selective_context", "llmlingua", "longllmlingua"):
        rows.append((m, "smollm2", lm_dt, None))
    rows.append(("default", "minilm", lm_dt, None))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepare", action="store_true", help="write the assets folder and stop")
    ap.add_argument("--assets", type=Path, default=ASSETS)
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    ap.add_argument("--quick", action="store_true", help="2-layer models, 3 calls (CI)")
    ap.add_argument("--calls", type=int, default=None, help="20-passage calls per row")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.prepare:
        prepare(args.assets)
        return
    import torch
    import transformers

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    if not args.assets.is_dir():
        prepare(args.assets)
    n_calls = args.calls or (3 if args.quick else 30)
    texts = passages(20 * n_calls)
    calls = [texts[i * 20 : (i + 1) * 20] for i in range(n_calls)]
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor()
    env = {
        "device": device,
        "name": name or platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "quick": args.quick,
        "calls": n_calls,
    }
    tflops = {dt: matmul_tflops(device, dt, args.quick) for dt in ("bfloat16", "float16")}
    tflops["float32"] = matmul_tflops(device, "float32", args.quick)
    env["matmul_tflops"] = {k: round(v, 2) for k, v in tflops.items()}
    spec = next((v for k, v in SPEC_BF16_TFLOPS.items() if k in str(name)), None)
    print(json.dumps(env), flush=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = build_models(args.assets, Path(tmp), args.quick)
        ref = run_reference(folders["bert-base"], calls, device, args.assets)
        rows.append(ref)
        print(json.dumps(ref), flush=True)
        for method, model, dt, bt in plan(device, args.quick):
            r = run_ours(method, folders[model], dt, bt, calls, device)
            if method == "llmlingua2":
                _, mean_len = model_tokens(folders[model], calls)
                achieved = encoder_flops_per_token(folders[model], mean_len) * r["tokens_per_s"]
                r["roofline_share"] = achieved / (tflops[dt] * 1e12)
                if spec is not None and dt == "bfloat16":
                    r["spec_share"] = achieved / (spec * 1e12)
            if "tokens_per_s" in ref and model == "bert-base":
                r["vs_reference"] = r["tokens_per_s"] / ref["tokens_per_s"]
            rows.append(r)
            print(json.dumps(r), flush=True)
    write(rows, env, args)


def write(rows: list[dict], env: dict, args: argparse.Namespace) -> None:
    suffix = "" if env["device"].startswith("cuda") else "_cpu"
    suffix += "_quick" if args.quick else ""
    out = args.out or ROOT / "benchmarks" / "results" / f"gpu{suffix}.md"
    out.parent.mkdir(parents=True, exist_ok=True)

    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    lines = [
        f"# benchmarks/gpu.py on {env['name']} ({env['device']}): torch {env['torch']}, "
        f"transformers {env['transformers']}, CUDA {env['cuda']}; {env['calls']} calls of 20 "
        f"passages, rate 0.5{'; --quick (2-layer models)' if env['quick'] else ''}",
        "",
        f"Measured matmul roofline (TFLOP/s): {env['matmul_tflops']}",
        "",
        "| system | model | dtype | batch_tokens | tokens/s | vs reference | p50 ms | p99 ms "
        "| peak GPU MB | roofline share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['system']} | {r['model']} | unavailable: {r['error']} |")
            continue
        share = f(r.get("roofline_share"), ".1%")
        if "spec_share" in r:
            share += f" ({r['spec_share']:.1%} of spec)"
        lines.append(
            f"| {r['system']} | {r['model']} | {r['dtype']} | {r['batch_tokens'] or 'auto'} | "
            f"{r['tokens_per_s']:.0f} | {f(r.get('vs_reference'), '.1f')}"
            f"{'x' if 'vs_reference' in r else ''} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{f(r.get('peak_mb'), '.0f')} | {share} |"
        )
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(out.with_suffix(".jsonl"), "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"env": env}) + "\n")
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    print("\n".join(lines))
    print(json.dumps({"rows": len(rows), "out": str(out)}))


if __name__ == "__main__":
    main()
