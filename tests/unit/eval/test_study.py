"""The comparison study: task types, metrics, study files, dry runs, runs, resume and analysis."""

from __future__ import annotations

import gzip
import importlib.machinery
import json
import math
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from lingua_core.eval import analysis, runner
from lingua_core.eval.code_exec import extract_code, passes
from lingua_core.eval.metrics import content_recall, final_number, rouge_l
from lingua_core.eval.readers import FakeReader, HostedReader, get_reader
from lingua_core.eval.study import BUILTIN, StudyError, dry_run, load_study
from lingua_core.eval.tasks import TASK_TYPES, task_type

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))


def load(kind: str, file: str, n: int = 2, start: int | None = None, **options):
    t = task_type(kind)
    opts = {**t.options, **options}
    return t.load(DATA / file, t.start if start is None else start, n, opts)


# ---------------------------------------------------------------- task types and metrics


def test_qa_multidoc_and_kv_loaders_give_contexts_answers_and_survival():
    (nq, _) = load("qa_multidoc", "nq-open-oracle.jsonl.gz")
    assert len(nq.contexts) == 20 and nq.id == "nq-500"
    t = task_type("qa_multidoc")
    assert t.proxy(nq, "\n\n".join(nq.contexts)) == 1.0 and t.proxy(nq, "") == 0.0
    (kv,) = load("kv_retrieval", "kv-retrieval-75_keys.jsonl.gz", 1)
    assert len(kv.contexts) == 75 and kv.answers[0] in kv.contexts[kv.gold]
    assert task_type("kv_retrieval").score(kv, f"It is {kv.answers[0]}.")["exact_match"] == 1.0


def test_multihop_reads_hotpotqa_and_musique_and_keeps_yes_no_for_readers_only():
    hot = load("multihop", "hotpotqa_distractor.jsonl.gz", 100, start=0)
    yes_no = [e for e in hot if e.meta["yes_no"]]
    assert yes_no and len(hot) == 100
    t = task_type("multihop")
    assert t.proxy(yes_no[0], "no yes") is None  # survival of "no" means nothing
    assert t.score(yes_no[0], yes_no[0].answers[0])["exact_match"] == 1.0
    (mu,) = load("multihop", "musique_ans_train_sample.jsonl.gz", 1, start=0)
    assert mu.id == "musique-0" and len(mu.contexts) == 20


def test_summarization_chunks_the_transcript_and_its_proxy_is_relative_recall():
    (ex,) = load("summarization", "summarization_qmsum.jsonl.gz", 1, chunk_words=200)
    assert len(ex.contexts) > 5
    with gzip.open(DATA / "summarization_qmsum.jsonl.gz", "rt") as f:
        doc = json.loads(f.readline())["document"]
    assert "\n".join(ex.contexts) == "\n".join(ln for ln in doc.splitlines() if ln.strip())
    t = task_type("summarization")
    assert t.proxy(ex, "\n".join(ex.contexts)) == pytest.approx(1.0)
    assert 0.0 <= t.proxy(ex, ex.contexts[0]) < 0.9
    assert t.score(ex, ex.meta["reference"])["rouge_l"] == pytest.approx(1.0)


def test_reasoning_compresses_demonstrations_and_keeps_the_question():
    (ex,) = load(
        "reasoning", "gsm8k_test.jsonl.gz", 1, shots=4, demos=str(DATA / "gsm8k_train.jsonl.gz")
    )
    assert len(ex.contexts) == 4 and all(c.startswith("Question: ") for c in ex.contexts)
    t = task_type("reasoning")
    assert t.proxy is None and ex.question in t.prompt(ex, "")[-1]["content"]
    assert t.score(ex, f"so the total is #### {ex.meta['gold']:g}")["accuracy"] == 1.0
    assert t.score(ex, "#### 123456789")["accuracy"] == 0.0


def test_code_runs_the_tests_in_a_subprocess_with_a_time_limit():
    (ex,) = load("code", "humaneval.jsonl.gz", 1)
    with gzip.open(DATA / "humaneval.jsonl.gz", "rt") as f:
        row = json.loads(f.readline())
    good = f"```python\n{row['prompt']}{row['canonical_solution']}```"
    assert task_type("code").score(ex, good)["pass_at_1"] == 1.0
    assert task_type("code").score(ex, f"{row['prompt']}    return False\n")["pass_at_1"] == 0.0
    loop = "def f():\n    while True:\n        pass\n"
    assert not passes(loop, "def check(c):\n    c()\n", "f", timeout=1.0)
    net = "import socket\ndef f():\n    socket.create_connection(('127.0.0.1', 9))\n"
    assert not passes(net, "def check(c):\n    c()\n", "f")
    assert extract_code("text\n```py\nx = 1\n```") == "x = 1\n"


def test_text_metrics():
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert rouge_l("cat mat", "the cat sat on the mat") == pytest.approx(2 * (1 * 0.5) / 1.5)
    assert rouge_l("", "x") == 0.0
    assert content_recall("budget approved", "The budget was approved.") == 1.0
    assert content_recall("budget", "The budget was approved.") == 0.5
    assert final_number("5 + 3 = 8 so #### 1,234") == 1234.0 and final_number("none") is None


def test_every_task_type_has_a_reader_metric_and_a_proxy_or_none():
    for t in TASK_TYPES.values():
        assert t.reader_metric and (t.proxy is None) == (t.proxy_metric is None)


# ---------------------------------------------------------------- study files


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "study.toml"
    p.write_text(text)
    return p


SMALL = f"""
[tasks.nq]
type = "qa_multidoc"
data = "{DATA / "nq-open-oracle.jsonl.gz"}"
k = 5

[tasks.kv]
type = "kv_retrieval"
data = "{DATA / "kv-retrieval-75_keys.jsonl.gz"}"

[phases.quick]
algorithms = ["random", "naive"]
rates = [1.0, 0.5]
tasks = ["nq", "kv"]
samples = 3
reader = "fake"
"""


def test_the_builtin_study_has_the_three_phases():
    study = load_study(BUILTIN, data_dir=DATA)
    assert list(study.phases) == [
        "phase1_quick_validation",
        "phase2_algorithm_pairs",
        "phase3_full_comparison",
    ]
    assert study.phases["phase1_quick_validation"].algorithms == ("llmlingua2", "random")
    with pytest.raises(ValueError, match="phases: phase1_quick_validation, phase2"):
        study.phase("phase4")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("samples = 3", "samples = 3\nsample = 2"),
            r"line 16: unknown key 'sample' in a phase; valid: description",
        ),
        (
            ('type = "kv_retrieval"', 'type = "kv"'),
            r"line 8: unknown task type 'kv'; valid: qa_multidoc",
        ),
        (('"random", "naive"', '"random", "nope"'), r"line 12: algorithm 'nope': unknown method"),
        (
            ('"random", "naive"', '"random:seed=x"'),
            r"line 12: algorithm 'random:seed=x': invalid seed",
        ),
        (
            ('tasks = ["nq", "kv"]', 'tasks = ["nq", "qa"]'),
            r"line 14: unknown task 'qa'; tasks: nq, kv",
        ),
        (
            ("k = 5", "k = 5\nshots = 2"),
            r"line 6: unknown key 'shots' for a qa_multidoc task; valid: type, data, start, sam",
        ),
        (("rates = [1.0, 0.5]", "rates = [1.5]"), r"line 13: rates must be numbers in \(0, 1\]"),
        (('reader = "fake"', 'reader = "acme:x"'), r"line 16: unknown reader 'acme:x'"),
    ],
)
def test_a_bad_study_is_rejected_before_anything_runs_naming_the_line(tmp_path, change, message):
    text = SMALL.replace(*change)
    with pytest.raises(StudyError, match=message):
        load_study(write(tmp_path, text))


def test_dry_run_counts_calls_tokens_and_dollars(tmp_path):
    """Checked by hand: 2 algorithms x 2 rates x 2 tasks x 3 samples = 24 calls; the input
    tokens are, per sample and condition, the bare prompt plus rate x the context."""
    from lingua_core.pipeline.tokens import get_token_counter

    study = load_study(write(tmp_path, SMALL))
    phase = study.phase("quick")
    est = dry_run(study, phase, reader="none")
    assert (est.compressor_calls, est.reader_calls, est.dollars) == (24, 0, 0.0)
    est = dry_run(study, phase, reader="anthropic:claude-3-haiku-20240307")
    counter = get_token_counter("cl100k_base")
    expected_in = 0
    for name in ("nq", "kv"):
        inst = study.tasks[name]
        for ex in inst.type.load(inst.data, inst.start, 3, inst.options):
            ctx = counter.count(["\n\n".join(ex.contexts)])[0]
            bare = counter.count(["\n".join(m["content"] for m in inst.type.prompt(ex, ""))])[0]
            expected_in += 2 * (1.0 + 0.5) * ctx + 4 * bare
    expected_out = (
        12 * TASK_TYPES["qa_multidoc"].output_tokens + 12 * TASK_TYPES["kv_retrieval"].output_tokens
    )
    assert est.reader_calls == 24
    assert est.input_tokens == round(expected_in) and est.output_tokens == expected_out
    assert est.dollars == pytest.approx(round(expected_in) / 1e6 * 0.25 + expected_out / 1e6 * 1.25)
    assert "$" in est.line() and "24 reader calls" in est.line()


# ---------------------------------------------------------------- runs


class Counting(FakeReader):
    def __init__(self, crash_after: int | None = None, fail_on: str | None = None) -> None:
        self.calls, self.crash_after, self.fail_on = 0, crash_after, fail_on

    def __call__(self, messages, max_tokens):
        if self.crash_after is not None and self.calls >= self.crash_after:
            raise KeyboardInterrupt  # a crash: not a recorded reader error
        self.calls += 1
        if self.fail_on and self.fail_on in messages[-1]["content"]:
            raise RuntimeError("server said no")
        return super().__call__(messages, max_tokens)


def test_a_run_writes_one_record_per_condition_and_resumes_without_paying_twice(
    tmp_path, monkeypatch
):
    study = load_study(write(tmp_path, SMALL))
    out = tmp_path / "results.jsonl"
    crashing = Counting(crash_after=7)
    monkeypatch.setattr(runner, "get_reader", lambda spec: crashing)
    with pytest.raises(KeyboardInterrupt):
        runner.run_study(study, ["quick"], out, concurrency=1, progress=False)
    first = crashing.calls
    resumed = Counting()
    monkeypatch.setattr(runner, "get_reader", lambda spec: resumed)
    summary = runner.run_study(study, ["quick"], out, concurrency=2, progress=False)
    records = [json.loads(x) for x in out.read_text().splitlines()]
    keys = [(r["task"], r["algorithm"], r["rate"], r["example"]) for r in records]
    assert len(keys) == len(set(keys)) == 24  # every condition once, none twice
    assert first == 7 and summary.already > 0  # the crashed run had written some records
    replies = [json.loads(x)["key"] for x in runner.responses_path(out).read_text().splitlines()]
    assert len(replies) == len(set(replies)) == first + resumed.calls  # no call paid twice
    assert all("reply" in r and "exact_match" in r and "survived" in r for r in records)
    again = runner.run_study(study, ["quick"], out, progress=False)
    assert again.written == 0 and again.already == 24


def test_a_reader_error_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    study = load_study(write(tmp_path, SMALL.replace('tasks = ["nq", "kv"]', 'tasks = ["kv"]')))
    reader = Counting(fail_on="What is the value")
    monkeypatch.setattr(runner, "get_reader", lambda spec: reader)
    out = tmp_path / "r.jsonl"
    summary = runner.run_study(study, ["quick"], out, progress=False)
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert summary.reader_errors == 12 == len(records)
    assert all(r["error"] == "RuntimeError: server said no" for r in records)
    assert all("survived" in r for r in records)  # the offline metric is still there


def test_an_unavailable_checkpoint_skips_the_algorithm_and_says_how_to_pass_model(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = SMALL.replace('"random", "naive"', '"llmlingua2", "random"').replace(
        'reader = "fake"', 'reader = "none"'
    )
    study = load_study(write(tmp_path, text))
    summary = runner.run_study(study, ["quick"], tmp_path / "r.jsonl", progress=False)
    assert (
        "llmlingua2" in summary.skipped
        and "llmlingua2:model=FOLDER" in summary.skipped["llmlingua2"]
    )
    assert summary.written == 12  # random still ran


def test_hosted_readers_name_what_is_missing(monkeypatch):
    with pytest.raises(ImportError, match="pip install langchain-anthropic"):
        HostedReader("anthropic:claude-3-haiku-20240307").check()
    fake = types.ModuleType("langchain_openai")
    fake.__spec__ = importlib.machinery.ModuleSpec("langchain_openai", None)
    monkeypatch.setitem(sys.modules, "langchain_openai", fake)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        HostedReader("openai:gpt-4o-mini").check()
    with pytest.raises(ValueError, match="valid: none, local, fake, or PROVIDER:MODEL"):
        get_reader("acme:model")


def test_hosted_readers_come_from_the_langchain_plugin_and_the_core_imports_no_framework():
    from langchain_lingua.readers import chat_model
    from lingua_core.eval.readers import _plugins

    assert chat_model in _plugins()


def test_hosted_readers_retry_rate_limits_with_backoff(monkeypatch):
    reader = HostedReader("openai:gpt-4o-mini", backoff=0.0)
    calls = []

    class Chat:
        def bind(self, **kw):
            return self

        def invoke(self, messages):
            calls.append(messages)
            if len(calls) < 3:
                raise RuntimeError("Error code: 429 - rate limit exceeded")
            return types.SimpleNamespace(content=[{"type": "text", "text": "Paris"}])

    reader._chat = Chat()
    assert reader([{"role": "user", "content": "q"}], 8) == "Paris" and len(calls) == 3
    calls.clear()

    class Broken(Chat):
        def invoke(self, messages):
            raise RuntimeError("invalid request")

    reader._chat = Broken()
    with pytest.raises(RuntimeError, match="invalid request"):
        reader([{"role": "user", "content": "q"}], 8)


# ---------------------------------------------------------------- analysis


def synthetic(curves: dict[tuple[str, str], list[float]], rates, n=40, seed=0):
    """Records whose per-sample success at each rate is drawn with the given probabilities."""
    rng = np.random.default_rng(seed)
    out = []
    for (algo, task), probs in curves.items():
        for s in range(n):
            u = rng.random()
            for rate, p in zip(rates, probs):
                out.append(
                    {
                        "algorithm": algo,
                        "task_type": task,
                        "rate": rate,
                        "example": f"{task}-{s}",
                        "survived": float(u < p),
                    }
                )
    return out


RATES = [1.0, 0.7, 0.5, 0.3, 0.1]


def test_equal_thresholds_are_not_rejected():
    same = [1.0, 1.0, 0.97, 0.6, 0.3]
    recs = synthetic(
        {(a, t): same for a in ("a", "b", "c") for t in ("qa_multidoc", "kv_retrieval")}, RATES
    )
    result = analysis.analyse(recs, permutations=199)
    assert result["homogeneity"]["p_value"] > 0.05
    assert "H1" in result["verdict"][0] and "not rejected" in result["verdict"][0]


def test_a_built_in_interaction_is_detected_and_different_thresholds_rejected():
    good, bad = [1.0, 1.0, 1.0, 0.95, 0.9], [1.0, 0.5, 0.2, 0.1, 0.05]
    recs = synthetic(
        {
            ("a", "qa_multidoc"): good,
            ("b", "qa_multidoc"): bad,
            ("a", "kv_retrieval"): bad,
            ("b", "kv_retrieval"): good,
        },
        RATES,
        n=60,
    )
    result = analysis.analyse(recs, permutations=199)
    assert result["interaction"]["p_value"] < 0.01 and result["interaction"]["df"] == 1
    assert "H2" in result["verdict"][1] and ": rejected" in result["verdict"][1]
    assert result["homogeneity"]["by_task"]["qa_multidoc"]["p_value"] < 0.05
    th = result["thresholds"]
    assert th["a"]["qa_multidoc"]["r_star"] <= 0.3 and th["b"]["qa_multidoc"]["r_star"] == 1.0


def test_an_algorithm_that_never_fails_or_never_succeeds_breaks_nothing(tmp_path):
    recs = synthetic(
        {
            ("none", "qa_multidoc"): [1.0] * 5,
            ("none", "kv_retrieval"): [1.0] * 5,
            ("zero", "qa_multidoc"): [0.0] * 5,
            ("zero", "kv_retrieval"): [0.0] * 5,
            ("x", "qa_multidoc"): [1.0, 0.9, 0.7, 0.4, 0.2],
            ("x", "kv_retrieval"): [1.0, 1.0, 0.9, 0.8, 0.5],
        },
        RATES,
    )
    result = analysis.analyse(recs, permutations=99)
    assert result["thresholds"]["none"]["qa_multidoc"]["r_star"] == 0.1  # the lowest rate tested
    text = json.dumps(result)
    assert "NaN" not in text and "Infinity" not in text
    for test in (result["homogeneity"], result["interaction"]):
        assert set(test) >= {"test", "statistic", "df", "p_value", "n"}
        assert math.isfinite(test["statistic"]) and 0.0 <= test["p_value"] <= 1.0
    assert "ridge" in result["interaction"]["test"]  # the plain fit separates
    md = analysis.markdown(result)
    assert "| none |" in md and "Verdicts:" in md
    path = analysis.plot(recs, result, str(tmp_path / "t.png"))
    assert Path(path).stat().st_size > 1000


def test_reader_metrics_without_a_reader_say_so():
    recs = [{"algorithm": "a", "task_type": "reasoning", "rate": 1.0, "example": "g", "seed": None}]
    with pytest.raises(
        ValueError, match=r"reasoning: no offline proxy exists .* run with --reader"
    ):
        analysis.analyse(recs)


def test_the_cli_dry_runs_runs_and_reports_a_study(tmp_path, capsys):
    from lingua_core.cli import main

    study = write(tmp_path, SMALL)
    assert main(["eval", "run", "--study", str(study), "--dry-run"]) == 0
    assert "quick: 24 compressor calls, 24 reader calls (fake)" in capsys.readouterr().out
    assert main(["eval", "run", "--study", str(study), "--phase", "slow", "--out", "x"]) == 2
    assert "no phase 'slow'" in capsys.readouterr().err and not Path("x").exists()
    out = tmp_path / "r.jsonl"
    args = ["eval", "run", "--study", str(study), "--phase", "quick", "--out", str(out)]
    assert main([*args, "--reader", "none"]) == 0
    assert "24 records written" in capsys.readouterr().out
    report, png = tmp_path / "report.json", tmp_path / "t.png"
    assert main(["eval", "report", str(out), "--output", str(report), "--plot", str(png)]) == 0
    md = capsys.readouterr().out
    assert "| naive |" in md and "H1: the break point" in md
    result = json.loads(report.read_text())
    assert set(result) >= {"thresholds", "homogeneity", "interaction", "verdict"}
    assert set(result["thresholds"]["random"]) == {"qa_multidoc", "kv_retrieval"}
    assert png.stat().st_size > 1000


def test_a_missing_data_file_is_named_before_anything_runs(tmp_path):
    with pytest.raises(StudyError, match=r"line 4: data file not found: .*nope.jsonl"):
        load_study(write(tmp_path, SMALL.replace("nq-open-oracle.jsonl.gz", "nope.jsonl")))
    with pytest.raises(StudyError, match="give --data-dir DIR"):
        load_study(BUILTIN, data_dir=tmp_path)


def test_an_algorithm_that_never_compresses_is_left_out_of_the_tests():
    same = [1.0, 1.0, 0.97, 0.6, 0.3]
    tasks = ("qa_multidoc", "kv_retrieval")
    recs = synthetic({(a, t): same for a in ("a", "b") for t in tasks}, RATES, n=30)
    recs += synthetic({("none", t): [1.0] * 5 for t in tasks}, RATES, n=30)
    for r in recs:
        r["achieved_rate"] = 1.0 if r["algorithm"] == "none" else r["rate"]
    result = analysis.analyse(recs, permutations=199)
    assert result["references"] == ["none"]
    assert result["thresholds"]["none"]["qa_multidoc"]["r_star"] == 0.1  # still in the table
    assert result["homogeneity"]["df"] == 1  # a and b only
    assert result["homogeneity"]["p_value"] > 0.05
    assert "never compress" in analysis.markdown(result)
