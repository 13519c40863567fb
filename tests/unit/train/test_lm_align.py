"""Distribution alignment: rows scored on the response only, LoRA and full runs through the shared
loop (resumable, small checkpoints), an output that loads with ``model=``, the command."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys

import pytest

from lingua_core import get_compressor
from lingua_core.train.collect import collect
from lingua_core.train.lm_align import (
    AlignConfig,
    NextToken,
    TargetText,
    align_lm,
    encode_targets,
    perplexity,
    read_targets,
)

needs_peft = pytest.mark.skipif(
    importlib.util.find_spec("peft") is None, reason="LoRA needs peft (lingua-rag[align])"
)


def _texts(n: int = 48) -> list[TargetText]:
    return [
        TargetText(
            f"q{i}", f"q{i}", f"What is {i} plus {i}?", f"We add {i} and {i}: {2 * i}. #### {2 * i}"
        )
        for i in range(n)
    ]


def _cfg(tiny: object, **kw: object) -> AlignConfig:
    base = {
        "base_model": str(tiny),
        "max_steps": 12,
        "eval_every": 6,
        "batch_size": 8,
        "learning_rate": 5e-3,
        "validation": 0.25,
        "progress": False,
        "dtype": "float32",
    }
    return AlignConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_only_the_response_is_scored_and_long_prompts_lose_their_start(smol_tokenizer):
    tok = smol_tokenizer
    t = TargetText("a", "a", "Question one?", "Answer one.")
    [row] = encode_targets([t], tok, 64)
    prompt = tok("Question one?\n\n", add_special_tokens=False)["input_ids"]
    response = tok("Answer one.", add_special_tokens=False)["input_ids"]
    assert list(row.ids) == [tok.bos_token_id, *prompt, *response]
    assert row.scored_from == 1 + len(prompt)
    torch = pytest.importorskip("torch")
    batch = NextToken(0).collate([row, encode_targets([t], tok, 6)[0]], torch)
    labels = batch["labels"][0].tolist()
    assert labels[: row.scored_from] == [-100] * row.scored_from
    assert labels[row.scored_from :] == response
    assert batch["mask"][1].tolist().count(1) == 6  # the short row is padded, unscored
    long = TargetText("b", "b", "word " * 200, "Answer one.")
    [cut] = encode_targets([long], tok, 32)
    assert len(cut.ids) == 32 and list(cut.ids[cut.scored_from :]) == response  # answer kept
    both = TargetText("d", "d", "word " * 200, "answer " * 200)
    [half] = encode_targets([both], tok, 33)  # BOS + 32: half the room for each side
    assert half.scored_from == 1 + 16 and len(half.ids) == 33
    tail = tok("word " * 200 + "\n\n", add_special_tokens=False)["input_ids"][-16:]
    head = tok("answer " * 200, add_special_tokens=False)["input_ids"][:16]
    assert list(half.ids[1:]) == [*tail, *head]  # the prompt's end, the response's start
    [bare] = encode_targets([TargetText("c", "c", "", "Answer one.")], tok, 32)
    assert bare.scored_from == 1  # no prompt: everything after BOS is scored


@needs_peft
def test_lora_alignment_lowers_perplexity_and_loads_with_model(tmp_path, tiny_llama_dir):
    texts = _texts()
    result = align_lm(texts, tmp_path / "run", _cfg(tiny_llama_dir))
    model = result.model_dir
    meta = json.loads((model / "lingua_align.json").read_text())
    assert meta["lora"] and meta["base_model"] == str(tiny_llama_dir)
    assert meta["validation_perplexity"] < meta["perplexity_before"]
    assert result.best["validation_perplexity"] == meta["validation_perplexity"]
    assert (model / "adapter_config.json").is_file() and not (model / "README.md").exists()
    adapter = (model / "adapter_model.safetensors").stat().st_size
    base = (tiny_llama_dir / "model.safetensors").stat().st_size
    assert adapter < base / 20  # adapters only: the base's weights are not copied
    checkpoint = (tmp_path / "run" / "checkpoint" / "model.safetensors").stat().st_size
    assert checkpoint < base / 20  # a checkpoint holds the trained weights only
    assert perplexity(model, texts[:8]) < perplexity(tiny_llama_dir, texts[:8])
    text = "We add 7 and 7: 14. Then the shop sold the rest of the apples on Monday."
    aligned = get_compressor("llmlingua", model=str(model)).compress([text], rate=0.5)[0]
    plain = get_compressor("llmlingua", model=str(tiny_llama_dir)).compress([text], rate=0.5)[0]
    assert aligned.spans != plain.spans  # the aligned LM's surprisal decides differently
    assert 0 < aligned.compressed_tokens < aligned.original_tokens


@needs_peft
def test_a_moved_adapter_finds_its_base_by_name(tmp_path, tiny_llama_dir, monkeypatch, caplog):
    monkeypatch.chdir(tiny_llama_dir.parent)  # a relative base is recorded where it is
    cfg = _cfg(tiny_llama_dir.name, max_steps=2)
    result = align_lm(_texts(16), tmp_path / "run", cfg)
    cfg_file = json.loads((result.model_dir / "adapter_config.json").read_text())
    assert cfg_file["base_model_name_or_path"] == str(tiny_llama_dir)
    want = perplexity(result.model_dir, _texts(4))
    for gone in ("/nonexistent/machine/base", "./gone"):
        moved = shutil.copytree(result.model_dir, tmp_path / f"moved{len(gone)}")
        meta = json.loads((moved / "lingua_align.json").read_text())
        meta["base_model"] = str(tiny_llama_dir)  # the name the base goes by here
        (moved / "lingua_align.json").write_text(json.dumps(meta))
        cfg_file["base_model_name_or_path"] = gone
        (moved / "adapter_config.json").write_text(json.dumps(cfg_file))
        with caplog.at_level("WARNING"):
            assert perplexity(moved, _texts(4)) == pytest.approx(want)
        assert f"its base {gone!r} is not here" in caplog.text
    lost = shutil.copytree(result.model_dir, tmp_path / "lost")
    (lost / "lingua_align.json").unlink()
    cfg_file["base_model_name_or_path"] = "/nonexistent/machine/base"
    (lost / "adapter_config.json").write_text(json.dumps(cfg_file))
    with pytest.raises(OSError, match="is not on this machine"):
        perplexity(lost, _texts(4))


@needs_peft
def test_an_interrupted_lora_run_resumes_to_the_same_weights(tmp_path, tiny_llama_dir, monkeypatch):
    from safetensors.torch import load_file

    from lingua_core.train import lm_align

    cfg = _cfg(tiny_llama_dir, max_steps=4, eval_every=2)
    whole = align_lm(_texts(), tmp_path / "whole", cfg)
    real, calls = lm_align.NextToken.loss, []

    class Killed(Exception):
        pass

    def dies_at_step_3(self, net, batch, torch):
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        return real(self, net, batch, torch)

    monkeypatch.setattr(lm_align.NextToken, "loss", dies_at_step_3)
    with pytest.raises(Killed):
        align_lm(_texts(), tmp_path / "cut", cfg)
    monkeypatch.setattr(lm_align.NextToken, "loss", real)
    resumed = align_lm(_texts(), tmp_path / "cut", cfg)
    assert resumed.steps == 4 and [h["step"] for h in resumed.history] == [2, 4]
    a = load_file(str(tmp_path / "whole" / "checkpoint" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys() and all("lora_" in k for k in a)  # adapters only
    assert all((a[k] == b[k]).all() for k in a)  # the same run, step for step
    assert resumed.best_score == whole.best_score


def test_full_runs_resume_and_save_whole_models(tmp_path, tiny_llama_dir):
    cfg = _cfg(tiny_llama_dir, lora=False, max_steps=4, eval_every=2, learning_rate=1e-3)
    first = align_lm(_texts(), tmp_path / "run", cfg)
    assert first.steps == 4 and (first.model_dir / "model.safetensors").is_file()
    more = align_lm(_texts(), tmp_path / "run", dataclasses.replace(cfg, max_steps=6))
    assert more.steps == 6 and [h["step"] for h in more.history] == [2, 4, 6]  # went on
    with pytest.raises(ValueError, match="checkpoint of another run"):
        align_lm(_texts(), tmp_path / "run", _cfg(tiny_llama_dir, lora=False, lora_rank=4))
    assert perplexity(more.model_dir, _texts(8)) < perplexity(tiny_llama_dir, _texts(8))


def test_bad_input_is_named(tmp_path, tiny_llama_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q", "response": "a"}\n{"prompt": "only a prompt"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: no 'response' \(or 'text'\)"):
        read_targets(bad)
    bad.write_text('{"response": "a"}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: expected a JSON object"):
        read_targets(bad)
    bad.write_text('{"response": "a"}\n{"response": "b", "prompt": [{"role": "user"}]}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: 'prompt' must be a string"):
        read_targets(bad)
    bad.write_text('{"response": "a"}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: not JSON"):
        read_targets(bad)
    bad.write_text('{"response": "a"}\n{"text": "b"}\n')
    got = [(t.id, t.prompt) for t in read_targets(bad)]
    assert got == [("bad.jsonl:1", ""), ("bad.jsonl:2", "")]  # ids unique across files
    one_source = [dataclasses.replace(t, source="gsm8k") for t in _texts(8)]
    with pytest.raises(ValueError, match="no text left to train on: the 8 texts come from 1"):
        align_lm(one_source, tmp_path / "r", _cfg(tiny_llama_dir))
    with pytest.raises(ValueError, match="no texts to measure perplexity on"):
        perplexity(tiny_llama_dir, [])
    with pytest.raises(ValueError, match="lora_rank must be an int >= 1"):
        align_lm(_texts(4), tmp_path / "r", _cfg(tiny_llama_dir, lora_rank=0))
    with pytest.raises(ValueError, match="no target texts"):
        align_lm([], tmp_path / "r", _cfg(tiny_llama_dir))


def test_without_peft_the_error_names_the_extra(tmp_path, tiny_llama_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ImportError, match=r"lingua-rag\[align\]"):
        align_lm(_texts(8), tmp_path / "r", _cfg(tiny_llama_dir))


class _Target:
    """A target LLM for tests: it counts to the number in the prompt, and says nothing to 3."""

    name = "counting-target"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, messages, max_tokens):
        prompt = messages[-1]["content"]
        self.asked.append(prompt)
        n = int(prompt.split()[-1].rstrip("."))
        return "" if n == 3 else " ".join(str(k) for k in range(1, n + 2))


def test_collect_respond_keeps_replies_and_asks_again_for_empty_ones(
    tmp_path, tiny_llama_dir, monkeypatch
):
    from lingua_core.train import collect as collect_module

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"id": f"p{i}", "text": f"Count to {i}."}) + "\n" for i in range(8))
    )
    texts = tmp_path / "texts.jsonl"
    target = _Target()
    monkeypatch.setattr(collect_module, "teacher_for", lambda spec, task: target)
    got = collect(prompts, texts, "my:target", task="respond", max_tokens=8, concurrency=2)
    assert got == {"chunks": 8, "done_before": 0, "asked": 8, "cached": 0, "empty": 1}
    rows = [json.loads(x) for x in texts.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [f"p{i}" for i in range(8) if i != 3]
    assert {r["prompt"]: r["response"] for r in rows}["Count to 2."] == "1 2 3"
    assert all(r["teacher"] == "my:target" for r in rows)
    target.asked.clear()
    again = collect(prompts, texts, "my:target", task="respond", max_tokens=8)
    assert again["done_before"] == 7 and again["empty"] == 1
    assert target.asked == ["Count to 3."]  # the empty reply was not cached: asked again
    assert len(read_targets(texts)) == 7
    with pytest.raises(ValueError, match="holds rows of --task respond"):
        collect(prompts, texts, "lingua:naive")  # the other task's rows: refused
    monkeypatch.undo()
    with pytest.raises(ValueError, match="only compresses; --task respond needs a language"):
        collect(prompts, texts, "lingua:naive", task="respond")
    with pytest.raises(ValueError, match="unknown task 'answer'; valid: compress, respond"):
        collect(prompts, texts, f"local:{tiny_llama_dir}", task="answer")
    with pytest.raises(ValueError, match="local:FOLDER needs a model folder"):
        collect(prompts, texts, f"local:{tmp_path / 'none'}", task="respond")
    local = tmp_path / "local.jsonl"  # a real local model answers (a random-weight one)
    two = tmp_path / "two.jsonl"
    two.write_text(prompts.read_text().splitlines()[1] + "\n")
    done = collect(two, local, f"local:{tiny_llama_dir}", task="respond", max_tokens=4)
    assert done["asked"] == 1 and done["asked"] == done["empty"] + len(
        local.read_text().splitlines() if local.exists() else []
    )


@needs_peft
def test_align_on_the_command_line(tmp_path, tiny_llama_dir):
    texts = tmp_path / "texts.jsonl"
    texts.write_text(
        "".join(
            json.dumps({"id": t.id, "prompt": t.prompt, "response": t.response}) + "\n"
            for t in _texts(12)
        )
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lingua_core.cli",
            "distill",
            "align",
            str(texts),
            "--output",
            str(tmp_path / "run"),
            "--base-model",
            str(tiny_llama_dir),
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--validation",
            "0.25",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["validation_perplexity"] > 1
    assert summary["perplexity_before"] > 1
    assert (tmp_path / "run" / "model" / "adapter_config.json").is_file()
