"""Bounded resources: peak memory on one 200,000-character document, and linear cost in its size.

One document is built from the NQ oracle passages (``title\\ntext``, in file order, joined by a
blank line, cut at the last space before the size), so a smaller size is a prefix of a larger
one. Every (method, size) runs in a fresh child process, which loads the model, warms it up on
another text, then compresses the document once at rate 0.5 (the query is the first NQ question;
only ``longllmlingua`` uses it) and reports:

- wall time of the call (the median of ``--repeats`` calls, each on a fresh compressor so that no
  cached score is reused, for sizes below 50,000 characters; one call above);
- memory: the resident set before the call (model loaded and warmed up) and its peak during the
  call (``VmHWM`` after resetting it through ``/proc/self/clear_refs``; ``ru_maxrss`` where that
  is not available), and the increase, which is what the call itself costs;
- what goes through the model's body: forward passes, token positions (padding included), the
  largest padded batch (rows x padded length, to compare with the ``batch_tokens`` cap) and the
  most key positions one row attends to (the KV cache of the iterative methods).

Then, per method, the ratios of time and forwarded positions at 10x and 100x the smallest size,
and the marginal ratio ``(t(100x) - t(10x)) / (t(10x) - t(1x))``: 10 for a cost linear in the
input, 100 for a quadratic one, whatever the fixed cost per call.

Model methods run the embedded SmolLM2-135M at the library defaults (fp32 on CPU, ``window``
1024, ``batch_tokens`` None: 1024 on CPU); ``--cap-sweep`` adds Selective Context runs of the
20,000-character document (``--cap-size``) at the default and other ``batch_tokens`` caps, to
show what the peak depends on.

    .venv/bin/python benchmarks/bounded_resources.py [--methods selective_context,naive]
        [--sizes 2000,20000,200000] [--threads 1] [--cap-sweep 2048,4096,16384] [--out FILE]

Results go to ``benchmarks/results/bounded_resources.txt``. The committed run took 35 minutes with
``--threads 1`` on 2 CPU cores shared with another job (LongLLMLingua on 200,000 characters alone:
8 minutes); ``--sizes 2000,20000 --cap-sweep ''`` takes about 6.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import DEFAULT_DATA, ROOT

MODEL_METHODS = ("selective_context", "llmlingua", "longllmlingua")
METHODS = (*MODEL_METHODS, "naive", "random")
SIZES = (2_000, 20_000, 200_000)
RATE = 0.5
REPEAT_BELOW = 50_000


def document(path: Path, size: int) -> tuple[str, str]:
    """The first ``size`` characters (cut at a space) of the NQ passages, and the first question."""
    parts: list[str] = []
    total = 0
    question = ""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            question = question or row["question"]
            ctx = row["ctxs"][0]
            parts.append(f"{ctx['title']}\n{ctx['text']}")
            total += len(parts[-1]) + 2
            if total > size:
                break
    text = "\n\n".join(parts)
    if len(text) < size:
        msg = f"{path} holds only {len(text)} characters; asked for {size}"
        raise SystemExit(msg)
    cut = text.rfind(" ", 0, size + 1)
    return text[: cut if cut > 0 else size], question


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux): ``VmHWM`` then measures from here."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _max_rss_kb() -> int:
    scale = 1 if platform.system() == "Linux" else 1024  # macOS reports bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale


def count_forwards(model: object) -> list[tuple[int, int, int]]:
    """Record ``(rows, padded length, key positions per row)`` of every forward of the body."""
    calls: list[tuple[int, int, int]] = []

    def hook(_module: object, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        mask = kwargs.get("attention_mask")
        keys = int(mask.shape[-1]) if mask is not None else int(ids.shape[1])
        calls.append((int(ids.shape[0]), int(ids.shape[1]), keys))

    model.base_model.register_forward_pre_hook(hook, with_kwargs=True)  # type: ignore[attr-defined]
    return calls


def child(args: argparse.Namespace) -> None:
    import gc

    import torch

    from lingua_core import get_compressor

    if args.threads:
        torch.set_num_threads(args.threads)
    doc, question = document(args.data, args.size)
    opts = {} if args.batch_tokens is None else {"batch_tokens": args.batch_tokens}
    model_method = args.child in MODEL_METHODS

    def make() -> object:
        return get_compressor(args.child, **(opts if model_method else {}))

    # Load and warm up on text outside the document (no cached score can serve the document).
    warm_text, _ = document(args.data, 2_000)
    make().compress([warm_text[::-1]], rate=RATE, query=question)  # type: ignore[attr-defined]
    calls: list[tuple[int, int, int]] = []
    cap = None
    if model_method:
        from lingua_core.scorers.lm import CausalLMScorer

        comp = make()
        loaded = comp._loaded()  # type: ignore[attr-defined]
        calls = count_forwards(loaded.model)
        cap = CausalLMScorer(loaded, batch_tokens=args.batch_tokens).batch_tokens
    comp = make()
    gc.collect()
    before_kb = _status_kb("VmRSS")
    reset = _reset_peak()
    max_rss_before = _max_rss_kb()
    t0 = time.perf_counter()
    res = comp.compress([doc], rate=RATE, query=question)  # type: ignore[attr-defined]
    first = time.perf_counter() - t0
    peak_kb = _status_kb("VmHWM") if reset else None
    max_rss_after = _max_rss_kb()
    forwards = list(calls)
    times = [first]
    if args.size < REPEAT_BELOW:
        for _ in range(args.repeats - 1):
            fresh = make()
            t0 = time.perf_counter()
            fresh.compress([doc], rate=RATE, query=question)  # type: ignore[attr-defined]
            times.append(time.perf_counter() - t0)
    r = res[0]
    if before_kb is None or peak_kb is None:  # no /proc: the process-lifetime peak only
        before_kb, peak_kb = max_rss_before, max(max_rss_before, max_rss_after)
    out = {
        "method": args.child,
        "size": len(doc),
        "batch_tokens": cap,
        "original_tokens": r.original_tokens,
        "compressed_tokens": r.compressed_tokens,
        "seconds": statistics.median(times),
        "calls": len(times),
        "rss_before_mb": before_kb / 1024,
        "rss_peak_mb": peak_kb / 1024,
        "rss_increase_mb": (peak_kb - before_kb) / 1024,
        "max_rss_mb": max_rss_after / 1024,
        "forwards": len(forwards),
        "positions": sum(rows * width for rows, width, _ in forwards),
        "largest_batch": max((rows * width for rows, width, _ in forwards), default=0),
        "largest_rows": max((rows for rows, _, _ in forwards), default=0),
        "max_keys_per_row": max((keys for _, _, keys in forwards), default=0),
    }
    print(json.dumps(out))


def run_child(args: argparse.Namespace, method: str, size: int, cap: int | None) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        method,
        "--size",
        str(size),
        "--data",
        str(args.data),
    ]
    cmd += ["--repeats", str(args.repeats), "--threads", str(args.threads)]
    if cap is not None:
        cmd += ["--batch-tokens", str(cap)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{method} at {size} characters failed")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"{method} {size} cap={cap}: {row['seconds']:.2f} s, +{row['rss_increase_mb']:.0f} MB "
        f"({time.perf_counter() - t0:.0f} s with loading)",
        file=sys.stderr,
    )
    return row


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}" if b else "-"


def report(rows: list[dict], sweep: list[dict], args: argparse.Namespace) -> str:
    sizes = sorted({r["size"] for r in rows})
    largest = sizes[-1]
    lines = [
        "# Bounded resources",
        "",
        f"Document: the NQ oracle passages in file order, cut to {', '.join(map(str, sizes))} "
        f"characters; rate {RATE}; one call per fresh process; commit {args.commit}. "
        f"Torch threads: {args.threads or 'default'}; {os.cpu_count()} CPU cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end (other jobs ran alongside: times are indicative, "
        "positions and batches are exact). Model methods: embedded SmolLM2-135M, fp32, CPU, "
        "library defaults (window 1024, batch_tokens 1024 on CPU, raised to window + 1 = 1025).",
        "",
        f"## Peak memory on the {largest:,}-character document",
        "",
        "| method | tokens | kept | s | tokens/s | RSS before MB | peak MB | increase MB "
        "| forwards | positions | largest batch | cap | max keys/row |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in [x for x in rows if x["size"] == largest]:
        model = r["batch_tokens"] is not None
        lines.append(
            f"| {r['method']} | {r['original_tokens']:,} | {r['compressed_tokens']:,} "
            f"| {r['seconds']:.1f} | {r['original_tokens'] / r['seconds']:,.0f} "
            f"| {r['rss_before_mb']:.0f} | {r['rss_peak_mb']:.0f} | {r['rss_increase_mb']:.0f} "
            + (
                f"| {r['forwards']} | {r['positions']:,} | {r['largest_batch']:,} "
                f"| {r['batch_tokens']:,} | {r['max_keys_per_row']:,} |"
                if model
                else "| - | - | - | - | - |"
            )
        )
    lines += [
        "",
        "Tokens are the method's counter: SmolLM2 tokens for the model methods, words for the "
        "baselines.",
    ]
    if sweep:
        lines += [
            "",
            f"## Selective Context by batch_tokens cap ({sweep[0]['size']:,} characters, "
            f"{sweep[0]['original_tokens']:,} tokens)",
            "",
            "| cap | forwards | largest rows | largest batch | s | peak MB | increase MB |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in sweep:
            lines.append(
                f"| {r['batch_tokens']:,} | {r['forwards']} | {r['largest_rows']} "
                f"| {r['largest_batch']:,} | {r['seconds']:.1f} | {r['rss_peak_mb']:.0f} "
                f"| {r['rss_increase_mb']:.0f} |"
            )
    lines += [
        "",
        "## Peak increase by size (MB)",
        "",
        "| method | " + " | ".join(f"{s:,}" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["method"], r["size"]): r for r in rows}
    for m in methods:
        cells = [f"{by[m, s]['rss_increase_mb']:.0f}" if (m, s) in by else "-" for s in sizes]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if len(sizes) >= 2:
        lines += [
            "",
            "## Cost against input size",
            "",
            "Ratios to the smallest size. Marginal: (t(100x) - t(10x)) / (t(10x) - t(1x)), "
            "10 when the cost is linear (a fixed cost per call cancels), 100 when quadratic.",
            "",
            "| method | size | tokens | s | time ratio | tokens ratio | positions | "
            "positions ratio |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for m in methods:
            base = by.get((m, sizes[0]))
            if base is None:
                continue
            for s in sizes:
                r = by.get((m, s))
                if r is None:
                    continue
                model = r["batch_tokens"] is not None
                lines.append(
                    f"| {m} | {s:,} | {r['original_tokens']:,} | {r['seconds']:.2f} "
                    f"| {_ratio(r['seconds'], base['seconds'])} "
                    f"| {_ratio(r['original_tokens'], base['original_tokens'])} "
                    + (
                        f"| {r['positions']:,} | {_ratio(r['positions'], base['positions'])} |"
                        if model
                        else "| - | - |"
                    )
                )
        if len(sizes) >= 3:
            lines += [
                "",
                "| method | marginal time ratio | marginal positions ratio |",
                "|---|---|---|",
            ]
            for m in methods:
                got = [by.get((m, s)) for s in sizes[:3]]
                if any(g is None for g in got):
                    continue
                a, b, c = got
                t = _ratio(c["seconds"] - b["seconds"], b["seconds"] - a["seconds"])
                p = (
                    _ratio(c["positions"] - b["positions"], b["positions"] - a["positions"])
                    if a["batch_tokens"] is not None
                    else "-"
                )
                lines.append(f"| {m} | {t} | {p} |")
    lines += ["", BOUND_NOTE]
    return "\n".join(lines) + "\n"


BOUND_NOTE = """## What bounds the peak

The increase is what one call adds to a process that already holds the model (about 1 GB for
SmolLM2 in fp32). Measured at the CPU defaults on 200,000 characters (48,833 tokens): at most
440 MB for the model methods, under 10 MB for the baselines. It does not follow the document
(from 20,000 to 200,000 characters it moved by 4 to 64 MB: token ids, offsets, units and one score
per token, which are linear in the document, plus allocator noise) because:

- a text longer than the window is cut into rows of at most `window` tokens (1024 for SmolLM2;
  Selective Context carries 128 tokens of context into each later row, LLMLingua cuts blocks of
  window - 1 - prefix tokens);
- rows run in batches of at most `batch_tokens` padded positions (run_in_batches in
  core/scorers/_batching.py; at least one row). The CPU default, 1024, is raised to window + 1 =
  1025: one full row per forward (the largest batch column);
- the vocabulary projection runs on at most `head_chunk` = 1024 positions at a time
  (CausalLMScorer._nll): 1024 x 49,152 fp32 logits are 192 MiB, and the cross-entropy holds a
  second copy. These ~385 MB are most of the peak; logits for all 48,833 tokens at once would be
  9.6 GB;
- the iterative methods (llmlingua, longllmlingua) count `variants x (prefix + 2 x
  iterative_size)` positions per block against the cap, and a row's KV cache holds one block plus
  its re-run kept tokens (at most 1,367 key positions here: 1.3 windows).

A larger cap lets more rows share a forward (the table by cap): the body's activations grow with
it (about +100 MB for 3 rows of 1,025), the logits chunk does not. RSS depends on the allocator, so
the 6-row run came out below the 3-row one. On CUDA the default cap is 16,384.

Regression test: tests/unit/models/test_bounded.py (20,000 characters on tiny models with a 2,048
cap: no padded batch above the cap, positions forwarded linear in the input, no row attending to
more than two windows, logits for at most 1,024 positions at once).
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="characters, comma-separated"
    )
    ap.add_argument("--repeats", type=int, default=3, help=f"calls timed below {REPEAT_BELOW:,}")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument(
        "--cap-sweep",
        default="2048,4096,16384",
        help="extra batch_tokens caps for Selective Context ('' for none)",
    )
    ap.add_argument("--cap-size", type=int, default=20_000, help="characters for --cap-sweep")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/bounded_resources.txt")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--batch-tokens", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    args.commit = proc.stdout.strip() or "unknown"
    methods = [m for m in args.methods.split(",") if m]
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    rows = [run_child(args, m, s, None) for m in methods for s in sizes]
    caps = [int(c) for c in args.cap_sweep.split(",") if c]
    sweep = []
    if "selective_context" in methods and caps:
        sweep = [run_child(args, "selective_context", args.cap_size, c) for c in [None, *caps]]
    text = report(rows, sweep, args)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
