"""The quick version of the overload run (benchmarks/serve_overload.py --quick): a flood, clients
that leave, cheap requests, cold starts and hostile inputs against ``lingua serve``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "nq-open-oracle.jsonl.gz"


@pytest.mark.skipif(not DATA.is_file(), reason="needs ../shared/data (NQ passages)")
def test_a_flood_is_shed_with_retry_after_and_abandoned_work_stops(tmp_path):
    out = tmp_path / "overload.json"
    done = subprocess.run(
        [
            sys.executable,
            "serve_overload.py",
            "--quick",
            "--only",
            "flood,abandon,cheap,cold,abuse",
            "--out",
            str(out),
        ],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    flood = report["flood"]
    assert set(flood["statuses"]) <= {"200", "503"}  # no 504, no reset connection
    assert flood["statuses"].get("503", 0) > 0 and flood["refused_without_retry_after"] == 0
    assert flood["mismatched"] == 0 and flood["exit_code"] == 0
    assert flood["cpu_s_after_clients_left"] <= 1.0
    abandon = report["abandon"]
    # 50 requests of 40 passages (~0.5 s each) whose clients left after 1 s: at most the chunk
    # running when they left is finished (the tree before computed all 50: 9.9 CPU-s).
    assert abandon["cpu_s_in_15_s_after"] <= 3.0
    assert report["cheap"]["ok"] == 64
    assert report["cold"]["runs_with_a_hang_or_error"] == []
    abuse = report["abuse"]
    assert not [k for k, v in abuse.items() if k != "wall_s" and v[0] == 500], abuse
    assert abuse["JSON nested 100,000 deep"][0] == 400
    assert abuse["300 MB chunked body"][0] == 413
    assert abuse["text/plain body"][0] == 415
    assert abuse["lowercase bearer"][0] == 200 and abuse["bare key"][0] == 401
    assert abuse["GET /metrics without the key"][0] == 401
    assert abuse["half-sent headers (50 sockets) closed"][0] == 50
    assert abuse["body shorter than its Content-Length"][0].startswith("HTTP/1.1 408")
    assert abuse["exit code after SIGTERM"][0] == 0
