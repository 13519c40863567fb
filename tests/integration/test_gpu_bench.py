"""benchmarks/gpu.py --device cpu --quick: the GPU benchmark runs end to end, so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_gpu_benchmark_runs_every_row_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.md"
    done = subprocess.run(
        [sys.executable, "gpu.py", "--device", "cpu", "--quick", "--calls", "2", "--out", str(out)],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = out.with_suffix(".jsonl").read_text().splitlines()
    env, rows = json.loads(lines[0])["env"], [json.loads(x) for x in lines[1:]]
    assert env["device"] == "cpu" and env["matmul_tflops"]["float32"] > 0
    ref, ours = rows[0], rows[1:]
    assert ref["system"] == "reference llmlingua 0.2.2" and "error" not in ref
    systems = {r["system"] for r in ours}
    assert systems == {
        "lingua llmlingua2",
        "lingua selective_context",
        "lingua llmlingua",
        "lingua longllmlingua",
        "lingua default",
    }
    assert all(r["tokens_per_s"] > 0 and 0 < r["p50_ms"] <= r["p99_ms"] for r in ours)
    clf = [r for r in ours if r["system"] == "lingua llmlingua2"]
    assert {r["dtype"] for r in clf} == {"float32", "bfloat16"}
    # The roofline share is measured against the matmul probe's peak for the dtype. On a CPU
    # without bf16 instructions (AVX2 only) the probe's bf16 peak rounds to 0 and the model's
    # own kernels beat it, so the share is only meaningful where that peak is a real one.
    peak = env["matmul_tflops"]
    real = [r for r in clf if peak.get(r["dtype"], 0) >= 0.5 * peak["float32"]]
    assert real and all(0 < r["roofline_share"] < 1 for r in real)
    assert all(r["roofline_share"] > 0 for r in clf)
    assert all("vs_reference" in r for r in clf if "bert-base" in r["model"])
    assert "| reference llmlingua 0.2.2 |" in out.read_text()
