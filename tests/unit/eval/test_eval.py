"""Evaluation harness on tiny generated data: metrics, data loading, sweeps, resume, reports."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from lingua_core.cli import main
from lingua_core.eval import answer_in, exact_match, f1, kv_retrieval, load_jsonl, nq_multidoc
from lingua_core.eval.report import (
    bootstrap_ci,
    compare_all,
    compare_thresholds,
    load_records,
    markdown,
    plots,
    threshold,
    threshold_ci,
)
from lingua_core.eval.sweep import done_keys, parse_method, run_sweep


def test_answer_survival_on_hand_made_cases():
    assert answer_in("It was called Peking until 1949.", ["Peking"])
    assert answer_in("the U.S. Army's ", ["US Army"]) is False  # "u s army" != "us army"
    assert answer_in("THE Maginot line, built", ["The Maginot Line"])  # case and articles
    assert answer_in("won in 1901 by Röntgen", ["Röntgen"])
    assert not answer_in("Pekingese dogs", ["Peking"])  # word boundaries
    assert not answer_in("", ["Peking"]) and not answer_in("Peking", [""])
    assert answer_in("on November\xa013,\xa02017 it returned", ["November 13, 2017"])
    assert exact_match("the Peking.", ["Peking"]) and not exact_match("old Peking", ["Peking"])
    assert f1("William Wyler directed it", ["William Wyler"]) == pytest.approx(2 * 0.5 / 1.5)
    assert f1("", ["x"]) == 0.0 and f1("x", ["x"]) == 1.0


def test_load_jsonl_names_the_line_and_field(tmp_path):
    good = {"question": "q", "answers": ["a"], "contexts": ["a b", "c"], "gold": 0}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(good) + "\n")
    examples = load_jsonl(path)
    assert [e.id for e in examples] == ["1", "3"] and examples[0].contexts == ("a b", "c")
    for bad, message in [
        ({"answers": ["a"], "contexts": ["c"]}, "line 2: missing field 'question'"),
        ({"question": "q", "answers": "a", "contexts": ["c"]}, "field 'answers' must be a list"),
        ({"question": "q", "answers": ["a"], "contexts": ["c"], "gold": 3}, "field 'gold'"),
    ]:
        path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
        with pytest.raises(ValueError, match=message):
            load_jsonl(path)
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match="line 1: not valid JSON"):
        load_jsonl(path)


@pytest.fixture
def oracle(tmp_path):
    """A tiny NQ-oracle-like file: 30 questions, each with one passage."""
    rows = []
    for i in range(30):
        rows.append(
            {
                "question": f"what is the capital of country {i}",
                "answers": [f"City{i}"],
                "ctxs": [
                    {
                        "title": f"Country {i}",
                        "text": f"The capital of country {i} is City{i}. "
                        + "It has rivers and hills. " * (i % 3 + 1),
                    }
                ],
            }
        )
    rows[5]["ctxs"][0]["text"] += " Its neighbour's capital is City7."  # holds another's answer
    path = tmp_path / "nq-open-oracle.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_nq_multidoc_positions_and_distractors(oracle):
    for position, want in (("first", 0), ("middle", 5), ("last", 9), (3, 3)):
        ex = nq_multidoc(oracle, [7], k=10, position=position)[0]
        assert ex.gold == want and len(ex.contexts) == 10
        assert ex.id == f"nq-7@{position}"  # positions can share one results file
        assert ex.contexts[want].startswith("Country 7\n")
        others = [c for j, c in enumerate(ex.contexts) if j != want]
        assert not any(answer_in(c, ex.answers) for c in others)  # passage 5 is excluded
    a = nq_multidoc(oracle, range(10), k=5)
    assert a == nq_multidoc(oracle, range(10), k=5)  # seeded
    assert len({e.gold for e in a}) > 1
    with pytest.raises(ValueError, match="valid: random, first, middle, last"):
        nq_multidoc(oracle, [0], position="centre")
    with pytest.raises(ValueError, match="out of range: the file has 30"):
        nq_multidoc(oracle, [30])


def test_kv_retrieval_loader(tmp_path):
    path = tmp_path / "kv.jsonl"
    records = [["k1", "v1"], ["k2", "v2"], ["k3", "v3"]]
    path.write_text(json.dumps({"ordered_kv_records": str(records), "key": "k2", "value": "v2"}))
    (ex,) = kv_retrieval(path)
    assert ex.gold == 1 and ex.answers == ("v2",) and len(ex.contexts) == 3
    assert '"k2"' in ex.question and answer_in(ex.contexts[1], ex.answers)


def test_sweep_records_resume_and_bad_method(oracle, tmp_path):
    examples = nq_multidoc(oracle, range(4), k=6)
    out = tmp_path / "r.jsonl"
    methods = ["none", "random", "bm25", "naive"]
    n = run_sweep(examples, methods, out, rates=[1.0, 0.5], seeds=2, progress=False)
    assert n == 4 * 2 * (1 + 2 + 1 + 1)
    records = load_records(out)
    assert all(r["survived"] for r in records if r["method"] == "none")
    assert all(r["survived"] for r in records if r["rate"] == 1.0)
    assert {r["seed"] for r in records if r["method"] == "random"} == {0, 1}
    # Interrupted: drop the last records; a rerun writes exactly those again.
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-5]) + "\n")
    assert run_sweep(examples, methods, out, rates=[1.0, 0.5], seeds=2, progress=False) == 5
    assert len(load_records(out)) == n and len(done_keys(out)) == n
    assert run_sweep(examples, methods, out, rates=[1.0, 0.5], seeds=2, progress=False) == 0
    with pytest.raises(ValueError, match="known methods"):
        run_sweep(examples, ["bogus"], out, progress=False)
    assert parse_method("longllmlingua:unit=word,iterative_size=64") == (
        "longllmlingua",
        {"unit": "word", "iterative_size": 64},
    )


def test_bm25_baseline_keeps_the_matching_passage(oracle, tmp_path):
    examples = nq_multidoc(oracle, range(6), k=8)
    out = tmp_path / "b.jsonl"
    run_sweep(examples, ["bm25"], out, rates=[0.2], progress=False)
    records = load_records(out)
    assert np.mean([r["survived"] for r in records]) >= 5 / 6
    assert all(r["achieved_rate"] <= 0.3 for r in records)


def test_thresholds_on_synthetic_curves():
    rates = [1.0, 0.7, 0.5, 0.33, 0.2, 0.1]
    assert threshold(np.array([0.9, 0.9, 0.88, 0.86, 0.6, 0.5]), rates) == 0.33
    assert threshold(np.array([0.9, 0.8, 0.9, 0.9, 0.9, 0.9]), rates) == 1.0  # breaks at 0.7
    assert threshold(np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), rates) == 0.1
    # 200 examples that all keep the answer down to 0.33 and lose it below.
    m = np.tile(np.array([1, 1, 1, 1, 0, 0], dtype=float), (200, 1))
    point, lo, hi, _ = threshold_ci(m, rates)
    assert (point, lo, hi) == (0.33, 0.33, 0.33)
    lo, hi = bootstrap_ci(np.r_[np.ones(50), np.zeros(50)])
    assert 0.38 < lo < 0.5 < hi < 0.62


def synthetic_records(method, breaks_below, n=120, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kept = rng.random() < 0.9  # an example keeps its answer down to the break, or never
        for rate in (1.0, 0.5, 0.33, 0.2):
            survived = bool(kept and (rate >= breaks_below or rng.random() < 0.3))
            out.append(
                {
                    "method": method,
                    "example": str(i),
                    "rate": rate,
                    "seed": None,
                    "survived": survived,
                    "seconds": 0.01,
                    "gold": i % 4,
                }
            )
    return out


def test_compare_thresholds_and_report(tmp_path):
    records = synthetic_records("a", 0.5) + synthetic_records("b", 0.2, seed=1)
    cmp = compare_thresholds(records, "a", "b")
    assert cmp["difference"] == pytest.approx(0.3) and cmp["p"] < 0.05 and cmp["n"] == 120
    same = compare_thresholds(records, "a", "a")
    assert same["difference"] == 0 and same["p"] == 1.0
    table = markdown(records)
    assert "| a | 120 |" in table and "| 0.5 (0.5-0.5) |" in table
    assert "| 0.2 (0.2-0.2) |" in table
    assert "| a | b | 120 | +0.30 (+0.30 to +0.30) |" in table
    # gold positions 0-3 with survival independent of them: every cell is the overall mean.
    assert "| a | 0.5 | 30 | " in table and "gold at 3 |" in table
    paths = plots(records, tmp_path / "plots")
    assert [p.name for p in paths] == ["survival.png", "latency.png", "position.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_compare_all_adjusts_for_every_pair():
    records = (
        synthetic_records("a", 0.5)
        + synthetic_records("b", 0.2, seed=1)
        + synthetic_records("c", 0.5, seed=2)
        + synthetic_records("none", 0.2, seed=3)  # not a compressor: left out
    )
    rows = {(r["a"], r["b"]): r for r in compare_all(records, reps=500)}
    assert set(rows) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert rows[("a", "c")]["difference"] == 0 and rows[("a", "c")]["p_holm"] == 1.0
    for pair in (("a", "b"), ("b", "c")):
        assert rows[pair]["p"] <= rows[pair]["p_holm"] < 0.05
    # no rate 1.0 (no uncompressed reference): no threshold, no comparison
    low = [r for r in records if r["rate"] < 1]
    assert compare_all(low) == [] and "| a | 120 |" in markdown(low)
    assert "| - | 0.01 |" in markdown(low)


def test_cli_eval_run_and_report(oracle, tmp_path, capsys):
    out = tmp_path / "cli.jsonl"
    args = [
        "eval",
        "run",
        "--data",
        str(oracle),
        "--questions",
        "0:3",
        "-k",
        "5",
        "--methods",
        "none,random,bm25",
        "--rates",
        "1.0,0.5",
        "--seeds",
        "1",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert main(args) == 0  # resumes: nothing left to do
    assert "wrote 0 records" in capsys.readouterr().out
    assert len(load_records(out)) == 3 * 2 * 3
    assert main(["eval", "report", str(out)]) == 0
    assert "| bm25 | 3 |" in capsys.readouterr().out
    assert (
        main(["eval", "run", "--data", str(oracle), "--methods", "bogus", "--out", str(out)]) == 2
    )


def test_report_on_a_reader_metric():
    records = synthetic_records("a", 0.5)
    for r in records:
        r["answer_in_output"] = r["survived"] and r["example"] != "0"  # the reader misses one
    table = markdown(records, metric="answer_in_output")
    assert "| a | 120 | " in table and "by position of the gold passage" in table
    assert markdown(records) != table
    with pytest.raises(ValueError, match="valid: survived, answer_in_output, exact_match, f1"):
        markdown(records, metric="accuracy")
    with pytest.raises(ValueError, match="--reader local"):
        markdown(records, metric="f1")


def test_sweep_with_any_langchain_chat_model_as_reader(oracle, tmp_path):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from lingua_core.eval.sweep import chat_model_reader

    examples = nq_multidoc(oracle, range(2), k=3)
    answers = ["It is City0.", "no idea"]  # right, then wrong
    chat = FakeListChatModel(responses=answers * 2)
    out = tmp_path / "reader.jsonl"
    run_sweep(examples, ["none"], out, rates=[1.0], reader=chat_model_reader(chat), progress=False)
    recs = load_records(out)
    assert [r["answer"] for r in recs] == answers
    assert [r["answer_in_output"] for r in recs] == [True, False]
    assert [r["exact_match"] for r in recs] == [False, False]
    assert recs[0]["f1"] > 0 and recs[1]["f1"] == 0
    assert "| none | 2 | 50% (0-100) |" in markdown(recs, metric="answer_in_output")
