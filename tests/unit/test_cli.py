"""The ``lingua`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lingua_core.cli import main


@pytest.fixture
def files(tmp_path, sample_texts):
    paths = []
    for i, t in enumerate([sample_texts[0], sample_texts[3]]):
        p = tmp_path / f"doc{i}.txt"
        p.write_text(t, encoding="utf-8")
        paths.append(str(p))
    return paths


def test_compress_prints_text_and_summary(files, capsys):
    assert main(["compress", *files, "--method", "random", "--rate", "0.5"]) == 0
    out, err = capsys.readouterr()
    assert "==> " in out and out.count("==>") == 2
    assert "random:" in err and "tokens (rate 0." in err and " s [words]" in err


def test_compress_json(files, capsys, sample_texts):
    assert main(["compress", *files, "-m", "naive", "-t", "12", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "naive"
    assert [r["file"] for r in data["results"]] == files
    for r, original in zip(data["results"], [sample_texts[0], sample_texts[3]]):
        assert r["text"] == " ".join(original[s:e] for s, e in r["spans"])
    assert data["summary"]["compressed_tokens"] <= 14


def test_compress_with_options_and_stdin(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("One. Two three. Four five six."))
    assert (
        main(["compress", "-", "-m", "random", "-r", "0.5", "-o", "unit=sentence", "-o", "seed=2"])
        == 0
    )
    out = capsys.readouterr().out.strip()
    kept = [s if s.endswith(".") else s + "." for s in out.split(". ")]
    assert set(kept) < {"One.", "Two three.", "Four five six."}  # whole sentences only


def test_bad_input_exits_2_with_a_message(files, capsys):
    assert main(["compress", *files, "-m", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(["compress", *files, "-m", "random", "-r", "1.5"]) == 2
    assert "rate must be in (0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compress", *files, "-r", "0.5", "-t", "10"])


def test_methods_lists_every_method(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in (
        "coarse_to_fine (default)",
        "selective_context",
        "random",
        "naive",
        "none",
        "unit='phrase'",
    ):
        assert name in out


def test_console_script_is_installed():
    out = subprocess.run(
        [sys.executable, "-m", "lingua_core.cli", "methods"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "selective_context" in out.stdout
