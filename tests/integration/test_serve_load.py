"""The small version of the serving load and fault run (benchmarks/serve_load.py --quick)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_served_responses_equal_in_process_ones_under_load_and_faults(tmp_path):
    """1 / 8 / 64 clients on loopback, a client that disconnects mid-request, malformed JSON,
    an oversized body, a wrong token and a restart under load: nothing lost, nothing wrong."""
    out = tmp_path / "serve_load.md"
    done = subprocess.run(
        [sys.executable, "serve_load.py", "--quick", "--method", "naive", "--out", str(out)],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["mismatched"] == 0 and summary["lost"] == 0 and summary["restart_ok"]
    assert summary["faults"] == {
        "client disconnects mid-request, then a request": "200",
        "malformed JSON": "400",
        "oversized body": "413",
        "wrong token": "401",
    }
    assert "| 64 |" in out.read_text()
