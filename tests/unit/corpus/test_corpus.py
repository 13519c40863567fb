"""Corpus runs: checked input, Parquet output, resumable, each id exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

pq = pytest.importorskip("pyarrow.parquet")

from lingua_core.corpus import compress_corpus, read_rows, run_corpus, score_corpus  # noqa: E402


def _write(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def corpus(tmp_path, nq20):
    src = tmp_path / "in.jsonl"
    _write(src, [{"id": f"p{i}", "text": t, "extra": i} for i, t in enumerate(nq20)])
    return src


def test_bad_input_fails_before_any_work_naming_the_line(tmp_path):
    src = tmp_path / "in.jsonl"
    _write(src, [{"id": "a", "text": "x"}, {"text": "no id"}])
    with pytest.raises(ValueError, match="line 2 has no 'id'"):
        read_rows(src)
    _write(src, [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}, {"id": "a", "text": "z"}])
    with pytest.raises(ValueError, match="line 3 repeats id 'a' \\(first at line 1\\)"):
        compress_corpus(src, tmp_path / "out", method="naive", rate=0.5, engine="local")
    assert not list((tmp_path / "out").glob("*.parquet"))
    with pytest.raises(ValueError, match="invalid engine 'spark'; valid: local, ray"):
        compress_corpus(src, tmp_path / "o", method="naive", rate=0.5, engine="spark")
    with pytest.raises(ValueError, match="no query-independent scores"):
        score_corpus(src, tmp_path / "o", method="naive", engine="local")


def test_compress_writes_parquet_with_every_id_once_and_resumes(corpus, tmp_path, nq20):
    out = tmp_path / "out"
    got = compress_corpus(corpus, out, method="naive", rate=0.5, engine="local", batch_size=6)
    assert got == {"rows": 20, "skipped": 0, "written": 20, "engine": "local"}
    assert all(f.suffix == ".parquet" for f in out.iterdir())
    table = pq.read_table(out)
    assert sorted(table.column("id").to_pylist()) == sorted(f"p{i}" for i in range(20))
    assert set(table.schema.names) == {"id", "text", "original_tokens", "compressed_tokens"}
    from lingua_core import get_compressor

    want = {
        f"p{i}": get_compressor("naive").compress([t], rate=0.5)[0].text for i, t in enumerate(nq20)
    }
    assert dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist())) == want
    again = compress_corpus(corpus, out, method="naive", rate=0.5, engine="local")
    assert again["skipped"] == 20 and again["written"] == 0


def test_scores_written_by_a_corpus_run_are_the_compressors(corpus, tmp_path, tiny_llama_dir, nq20):
    out = tmp_path / "scores"
    score_corpus(
        corpus,
        out,
        method="selective_context",
        options={"model": str(tiny_llama_dir)},
        engine="local",
    )
    table = pq.read_table(out)
    by_id = dict(zip(table.column("id").to_pylist(), table.column("scores").to_pylist()))
    from lingua_core import get_compressor

    comp = get_compressor("selective_context", model=str(tiny_llama_dir))
    assert comp.compress(nq20, rate=0.4, scores=[by_id[f"p{i}"] for i in range(20)]) == (
        comp.compress(nq20, rate=0.4)
    )


def test_a_killed_run_resumes_and_writes_each_id_exactly_once(tmp_path, nq20, tiny_llama_dir):
    n = 1200
    src = tmp_path / "in.jsonl"
    _write(src, [{"id": f"p{i}", "text": f"{i}. {nq20[i % 20]}"} for i in range(n)])
    out = tmp_path / "out"
    model = str(tiny_llama_dir)
    cmd = [
        sys.executable,
        "-m",
        "lingua_core.cli",
        "corpus",
        "compress",
        str(src),
        str(out),
        "--method",
        "selective_context",
        "--model",
        model,
        "--rate",
        "0.5",
        "--engine",
        "local",
        "--batch-size",
        "4",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(out.glob("part-*.parquet"))) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # the driver dies mid-run, perhaps mid-write
    proc.wait(30)
    first = len(pq.read_table(out).column("id"))
    assert 0 < first < n
    summary = run_corpus(
        "compress",
        src,
        out,
        method="selective_context",
        rate=0.5,
        options={"model": model},
        engine="local",
    )
    assert summary["skipped"] == first and summary["written"] == n - first
    ids = pq.read_table(out).column("id").to_pylist()
    assert sorted(ids) == sorted(f"p{i}" for i in range(n))  # every id, exactly once
    assert not list(out.glob(".tmp-*"))
