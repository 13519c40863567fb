"""The persistent score cache: shared by processes, bounded, distrustful, never fatal."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np

from lingua_core import get_compressor
from lingua_core.models import load_causal_lm
from lingua_core.models.batcher import forget_recent as _forget_and_count
from lingua_core.stored.row_cache import RowCache


def test_a_second_compressor_reads_the_cache_instead_of_the_model(tiny_llama_dir, nq20, tmp_path):
    opts = {"model": str(tiny_llama_dir), "cache_dir": str(tmp_path)}
    first = get_compressor("selective_context", **opts)
    want = first.compress(nq20[:6], rate=0.4)
    assert first.score_stats()["cache_misses"] > 0
    loaded = load_causal_lm(str(tiny_llama_dir))
    before = _forget_and_count(loaded)
    second = get_compressor("selective_context", **opts)
    assert second.compress(nq20[:6], rate=0.4) == want
    assert _forget_and_count(loaded) == before  # no forward
    stats = second.score_stats()
    assert stats["cache_hits"] > 0 and stats["cache_misses"] == 0
    assert stats["cache_hit_rate"] == 1.0


def test_the_environment_variable_turns_the_cache_on(tiny_llama_dir, nq20, tmp_path, monkeypatch):
    monkeypatch.setenv("LINGUA_SCORE_CACHE", str(tmp_path / "env"))
    get_compressor("selective_context", model=str(tiny_llama_dir)).compress(nq20[:2], rate=0.5)
    assert (tmp_path / "env" / "scores.sqlite").exists()


def test_processes_writing_at_once_lose_nothing(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from lingua_core.stored.row_cache import RowCache
        cache = RowCache({str(tmp_path)!r})
        who = sys.argv[1]
        for i in range(0, 400, 20):
            cache.put_many("fp", {{f"{{who}}:{{j}}": np.full(64, j, np.float32)
                                  for j in range(i, i + 20)}})
        assert cache.enabled
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, w]) for w in "abcd"]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    cache = RowCache(tmp_path)
    keys = [f"{w}:{j}" for w in "abcd" for j in range(400)]
    got = cache.get_many("fp", keys)
    assert len(got) == 1600
    assert all(np.array_equal(got[k], np.full(64, int(k[2:]), np.float32)) for k in keys)


def test_corrupt_rows_are_ignored_and_rewritten(tmp_path):
    cache = RowCache(tmp_path)
    cache.put_many("fp", {"good": np.ones(4, np.float32)})
    with sqlite3.connect(tmp_path / "scores.sqlite") as conn:
        conn.execute("INSERT INTO rows VALUES ('fp', 'bad', x'010203', 0)")
    assert set(cache.get_many("fp", ["good", "bad"])) == {"good"}
    assert cache.stats["corrupt"] == 1
    cache.put_many("fp", {"bad": np.zeros(2, np.float32)})
    assert np.array_equal(cache.get_many("fp", ["bad"])["bad"], np.zeros(2, np.float32))
    assert cache.get_many("other-model", ["good"]) == {}  # another fingerprint: not its rows


def test_a_file_that_is_not_a_database_is_started_again(tmp_path, caplog):
    (tmp_path / "scores.sqlite").write_bytes(b"this is not sqlite" * 100)
    with caplog.at_level(logging.WARNING):
        cache = RowCache(tmp_path)
        cache.put_many("fp", {"k": np.ones(3, np.float32)})
    assert "is not a database: starting it again" in caplog.text
    assert cache.enabled and "k" in cache.get_many("fp", ["k"])


def test_an_unwritable_cache_turns_itself_off_and_the_call_goes_on(
    tiny_llama_dir, nq20, tmp_path, caplog
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        comp = get_compressor(
            "selective_context", model=str(tiny_llama_dir), cache_dir=str(blocker / "cache")
        )
        got = comp.compress(nq20[:2], rate=0.5)
    want = get_compressor("selective_context", model=str(tiny_llama_dir)).compress(
        nq20[:2], rate=0.5
    )
    assert got == want
    assert "score cache" in caplog.text and "turned off" in caplog.text


def test_the_cache_stays_within_its_bound_and_keeps_the_recent_rows(tmp_path):
    cache = RowCache(tmp_path, max_bytes=40_000)
    for i in range(100):  # 100 x 1 KB rows: 2.5x the bound
        cache.put_many("fp", {f"k{i}": np.full(256, i, np.float32)})
    assert cache.size_bytes() <= 40_000 + 4 * 1024
    assert cache.stats["evicted"] > 0
    assert "k99" in cache.get_many("fp", ["k99"])
    assert cache.get_many("fp", ["k0"]) == {}
