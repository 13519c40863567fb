"""The ``lingua`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lingua_core.cli import main
from lingua_core.result import join_spans


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
        assert r["text"] == join_spans(original, r["spans"], r["elided"])
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


def test_rate_auto_is_refused_with_the_methods_that_take_it(files, capsys):
    assert main(["compress", *files, "-m", "random", "-r", "auto"]) == 2
    err = capsys.readouterr().err
    assert "rate='auto' is supported by: coarse_to_fine" in err
    with pytest.raises(SystemExit):
        main(["compress", *files, "-r", "half"])
    assert "rate must be a number in (0, 1] or 'auto'" in capsys.readouterr().err


@pytest.mark.integration
def test_compress_rate_auto(files, capsys):
    args = ["compress", *files, "-m", "coarse_to_fine", "-r", "auto", "-q", "Who built it?"]
    assert main(args) == 0
    assert "coarse_to_fine:" in capsys.readouterr().err


def test_demo_refuses_auto_for_a_method_without_it_before_loading(capsys):
    from lingua_core.models import loaded_models

    before = list(loaded_models())
    assert main(["demo", "--context-only", "-m", "random", "-r", "auto"]) == 2
    assert "rate='auto' is supported by: coarse_to_fine" in capsys.readouterr().err
    assert loaded_models() == before


@pytest.mark.integration
def test_demo_rate_auto(capsys):
    assert main(["demo", "--context-only", "-m", "coarse_to_fine", "-r", "auto"]) == 0
    assert "asked auto" in capsys.readouterr().out


def test_the_two_sentence_example_and_what_ran_without_a_query(monkeypatch, capsys):
    """Issue 25: the README's first command keeps the answer; without a query the summary says
    what ran instead of the question-aware default."""
    import io

    text = "Beijing was formerly called Peking. Shanghai is big."
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["compress", "-", "-q", "old name of Beijing", "-r", "0.5"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "Beijing was formerly called Peking."
    assert "\ncoarse_to_fine: 10 -> 6 tokens" in "\n" + captured.err
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["compress", "-", "-r", "0.5"]) == 0
    assert "coarse_to_fine (no query: each text's leading sentences)" in capsys.readouterr().err
