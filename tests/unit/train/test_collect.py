"""A teacher's compressions of a corpus: chunks at sentence ends, resumable, priced dry runs, and a
collect-label-train run on the command line whose model ``llmlingua2`` loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lingua_core import get_compressor
from lingua_core.pipeline.tokens import get_token_counter
from lingua_core.train.collect import chunks_of, collect, teacher_for
from lingua_core.train.distill import label_file


def _doc(d: int = 0) -> str:
    return " ".join(
        f"Meeting {d} item {i}: the council discussed the budget of the {c} district and it was "
        f"approved with {i + 3} votes."
        for i, c in enumerate(["north", "south", "east", "west", "central", "harbour"] * 2)
    )


DOC = _doc()


def _corpus(path, n: int = 6) -> None:
    rows = [json.dumps({"id": f"doc{d}", "text": _doc(d)}) for d in range(n)]
    path.write_text("\n".join(rows) + "\n")


def test_chunks_end_at_sentences_and_cover_the_text():
    words = get_token_counter("words")
    chunks = list(chunks_of("d", DOC, words, 40))
    assert len(chunks) > 2 and [c.id for c in chunks][:2] == ["d-0", "d-1"]
    assert all(c.text.endswith("votes.") for c in chunks)
    assert all(words.count([c.text])[0] <= 40 for c in chunks)
    assert " ".join(c.text for c in chunks) == DOC
    [whole] = chunks_of("d", "One very long sentence " * 30 + "ends.", words, 20)
    assert whole.text.endswith("ends.")  # a sentence longer than the size is a chunk of its own


def test_collect_resumes_and_caches(tmp_path):
    _corpus(tmp_path / "corpus.jsonl", 2)
    out = tmp_path / "pairs.jsonl"
    kw = {"chunk_tokens": 40, "token_counter": "words", "concurrency": 2}
    first = collect(tmp_path / "corpus.jsonl", out, "lingua:naive", **kw)
    assert first["done_before"] == 0 and first["asked"] == first["chunks"] > 2
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    naive = get_compressor("naive")
    for r in rows:
        assert r["compressed"] == naive.compress([r["original"]])[0].text
        assert r["teacher"] == "lingua:naive" and r["source"] in ("doc0", "doc1")
    again = collect(tmp_path / "corpus.jsonl", out, "lingua:naive", **kw)
    assert again["done_before"] == first["chunks"] and again["asked"] == 0
    # a run killed mid-line: the cut pair is asked again from the cache, the file stays JSONL
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    resumed = collect(tmp_path / "corpus.jsonl", out, "lingua:naive", **kw)
    assert resumed["cached"] == 1 and resumed["asked"] == 0
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]  # every line parses
    assert sorted(ids) == sorted(r["id"] for r in rows)
    assert label_file(out, tmp_path / "labels.jsonl")["chunks"] == len(rows)
    # another chunking into the same file is refused, not mixed in
    with pytest.raises(ValueError, match="holds chunk 'doc0-0' with other text"):
        collect(tmp_path / "corpus.jsonl", out, "lingua:naive", **{**kw, "chunk_tokens": 70})


def test_a_dry_run_prices_without_calling(tmp_path):
    _corpus(tmp_path / "corpus.jsonl", 3)
    kw = {"chunk_tokens": 40, "token_counter": "words", "dry_run": True}
    priced = collect(tmp_path / "corpus.jsonl", tmp_path / "p.jsonl", "openai:gpt-4o-mini", **kw)
    assert priced["prompt_tokens"] > priced["output_tokens_estimate"] > 0
    assert priced["cost_usd"] > 0
    unknown = collect(tmp_path / "corpus.jsonl", tmp_path / "p.jsonl", "openai:unlisted", **kw)
    assert unknown["cost_usd"] is None
    free = collect(tmp_path / "corpus.jsonl", tmp_path / "p.jsonl", "lingua:naive", **kw)
    assert free["cost_usd"] == 0.0
    assert not (tmp_path / "p.jsonl").exists()  # nobody was called, nothing written


def test_bad_teachers_and_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown teacher 'fake'; valid: lingua:METHOD, local"):
        teacher_for("fake")
    with pytest.raises(ValueError, match="unknown reader 'nope:x'"):
        teacher_for("nope:x")
    _corpus(tmp_path / "corpus.jsonl", 1)
    with pytest.raises(ValueError, match="chunk_tokens must be >= 16"):
        collect(tmp_path / "corpus.jsonl", tmp_path / "p.jsonl", "lingua:naive", chunk_tokens=8)
    with pytest.raises(ValueError, match="concurrency must be >= 1"):
        collect(tmp_path / "corpus.jsonl", tmp_path / "p.jsonl", "lingua:naive", concurrency=0)
    with pytest.raises(ValueError, match="unknown teacher"):  # a dry run checks it too
        collect(tmp_path / "corpus.jsonl", tmp_path / "p.jsonl", "fake", dry_run=True)


def test_collect_label_train_on_the_command_line(tmp_path, tiny_encoder_dir):
    _corpus(tmp_path / "corpus.jsonl", 10)

    def lingua(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "lingua_core.cli", *args],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    pairs, labels, run = tmp_path / "pairs.jsonl", tmp_path / "labels.jsonl", tmp_path / "run"
    got = lingua(
        "distill",
        "collect",
        str(tmp_path / "corpus.jsonl"),
        str(pairs),
        "--teacher",
        "lingua:naive",
        "--token-counter",
        "words",
        "--chunk-tokens",
        "60",
    )
    assert got["asked"] == got["chunks"] >= 10
    summary = lingua("distill", "label", str(pairs), str(labels))
    assert summary["kept"] == summary["chunks"]  # an exact extractive teacher: nothing to filter
    trained = lingua(
        "train",
        "llmlingua2",
        str(labels),
        "--output",
        str(run),
        "--base-model",
        str(tiny_encoder_dir),
        "--max-steps",
        "4",
        "--batch-size",
        "4",
        "--eval-every",
        "2",
        "--max-length",
        "96",
        "--validation",
        "0.2",
        "--dtype",
        "float32",
        "--no-progress",
    )
    assert trained["steps"] == 4 and 0 <= trained["validation_word_f1"] <= 1
    [r] = get_compressor("llmlingua2", model=trained["model"]).compress([DOC], rate=0.5)
    assert 0 < len(r.text) < len(DOC)
