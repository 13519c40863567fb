"""A corpus run on Ray Data, on a local 2-CPU cluster: the local engine's output, each id once."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

pq = pytest.importorskip("pyarrow.parquet")


def test_ray_data_writes_what_the_local_engine_writes_and_resumes(tmp_path, nq20):
    from lingua_core.corpus import compress_corpus

    src = tmp_path / "in.jsonl"
    rows = [{"id": f"p{i}", "text": f"{i}. {nq20[i % 20]}"} for i in range(60)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    local = tmp_path / "local"
    compress_corpus(src, local, method="naive", rate=0.4, engine="local")
    ray_out = tmp_path / "ray"
    # A first run on the local engine stops after 20 rows (as a killed run would)...
    head = tmp_path / "head.jsonl"
    head.write_text("".join(json.dumps(r) + "\n" for r in rows[:20]), encoding="utf-8")
    compress_corpus(head, ray_out, method="naive", rate=0.4, engine="local")
    # ... and Ray Data, with 2 actors, does the rest.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lingua_core.cli",
            "corpus",
            "compress",
            str(src),
            str(ray_out),
            "--method",
            "naive",
            "--rate",
            "0.4",
            "--engine",
            "ray",
            "--actors",
            "2",
            "--batch-size",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary == {"rows": 60, "skipped": 20, "written": 40, "engine": "ray"}
    want = pq.read_table(local).to_pylist()
    got = pq.read_table(ray_out).to_pylist()
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in want)  # each id once
    assert sorted(got, key=lambda r: r["id"]) == sorted(want, key=lambda r: r["id"])
