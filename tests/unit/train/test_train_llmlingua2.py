"""Training an LLMLingua-2 classifier: labels as llmlingua2 reads them, the loop's order, a tiny
collect-label-train run whose model ``llmlingua2`` loads."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from lingua_core import get_compressor
from lingua_core.train import loop
from lingua_core.train.distill import label_file
from lingua_core.train.examples import collate
from lingua_core.train.llmlingua2 import (
    LabelledChunk,
    LLMLingua2TrainConfig,
    encode_chunks,
    read_labels,
    train_llmlingua2,
)

COLOURS = ["red", "blue", "green", "yellow", "purple", "orange"]


def _pairs(path, n: int = 60) -> None:
    """A deterministic extractive teacher: it keeps the colours and numbers of each chunk."""
    rows = []
    for i in range(n):
        c, d = COLOURS[i % 6], COLOURS[(i + 2) % 6]
        text = f"Item {i}: the door was painted {c} in {1900 + i}, and the wall stayed {d}."
        kept = [w for w in text.split() if w.strip(".,:") in COLOURS or w.strip(".,:").isdigit()]
        rows.append(
            {
                "id": f"m{i // 3}-{i % 3}",
                "source": f"m{i // 3}",
                "original": text,
                "compressed": " ".join(kept),
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _labelled(tmp_path, n: int = 12) -> list[LabelledChunk]:
    """``n`` chunks of the colour teacher, labelled."""
    _pairs(tmp_path / "pairs.jsonl", n)
    label_file(tmp_path / "pairs.jsonl", tmp_path / "labels.jsonl")
    return read_labels(tmp_path / "labels.jsonl")


def _tiny(encoder, **kw: object) -> LLMLingua2TrainConfig:
    """A few steps on the tiny encoder, on CPU in float32."""
    base = {
        "base_model": str(encoder),
        "max_steps": 2,
        "batch_size": 4,
        "validation": 0.25,
        "progress": False,
        "dtype": "float32",
        "max_length": 64,
    }
    return LLMLingua2TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_every_piece_of_a_word_has_its_label_and_specials_are_left_out(minilm_tokenizer):
    text = "Renhe owned 75% of the unbelievably large mall."
    labels = (True, False, True, False, False, False, True, True)
    [e] = encode_chunks([LabelledChunk("c", "s", text, labels)], minilm_tokenizer, 64)
    ids = list(e.ids)
    assert ids[0] == minilm_tokenizer.cls_token_id and ids[-1] == minilm_tokenizer.sep_token_id
    assert e.labels[0] == -100 and e.labels[-1] == -100  # [CLS], [SEP]: not "drop"
    pieces = minilm_tokenizer.convert_ids_to_tokens(ids)
    by_word: dict[int, set[float]] = {}
    for w, lab in zip(e.sentence.tolist(), e.labels.tolist()):
        if w >= 0:
            by_word.setdefault(w, set()).add(lab)
    assert {w: labs for w, labs in by_word.items()} == {
        k: {float(v)} for k, v in enumerate(labels)
    }  # every piece of every word, the last word ("mall.") included: no shift
    assert len(pieces) > len(labels) + 2  # words cut into several pieces were labelled whole
    batch = collate(
        [e, *encode_chunks([LabelledChunk("d", "s", "short", (True,))], minilm_tokenizer, 64)],
        0,
        __import__("torch"),
    )
    assert (batch["labels"][1, 3:] == -100).all()  # padding is left out of the loss too


def test_gradients_are_clipped_after_the_backward_pass(tiny_encoder_dir, tmp_path, monkeypatch):
    import torch

    calls: list[bool] = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        params = list(params)
        calls.append(
            all(p.grad is not None for p in params)
            and any(float(p.grad.abs().sum()) > 0 for p in params)
        )
        return real(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(loop.require("torch").nn.utils, "clip_grad_norm_", spy)
    train_llmlingua2(_labelled(tmp_path), tmp_path / "run", _tiny(tiny_encoder_dir, max_steps=3))
    assert calls == [True, True, True]  # the official script clips before backward: no grads


def test_collect_label_train_and_llmlingua2_loads_the_model(tiny_encoder_dir, tmp_path):
    _pairs(tmp_path / "pairs.jsonl")
    summary = label_file(tmp_path / "pairs.jsonl", tmp_path / "labels.jsonl")
    assert summary["chunks"] == 60 and summary["kept"] == 60  # an exact extractive teacher
    chunks = read_labels(tmp_path / "labels.jsonl")
    cfg = LLMLingua2TrainConfig(
        base_model=str(tiny_encoder_dir),
        max_steps=40,
        batch_size=8,
        eval_every=20,
        validation=0.2,
        learning_rate=5e-4,
        progress=False,
        dtype="float32",
        max_length=64,
    )
    result = train_llmlingua2(chunks, tmp_path / "run", cfg)
    assert result.best_f1 > 0.8  # it learned the teacher: colours and numbers, the rest dropped
    assert result.steps == 40 and (result.model_dir / "model.safetensors").is_file()
    meta = json.loads((result.model_dir / "lingua_llmlingua2.json").read_text())
    assert meta["training"]["token_to_word"] == "mean" and meta["steps"] in (20, 40)
    comp = get_compressor("llmlingua2", model=str(result.model_dir))
    text = "Item 99: the door was painted green in 1999, and the wall stayed red."
    [r] = comp.compress([text], rate=0.4)
    assert 0 < len(r.text) < len(text)
    # resumable: the same folder goes on from its checkpoint
    more = train_llmlingua2(
        chunks, tmp_path / "run", LLMLingua2TrainConfig(**{**cfg.__dict__, "max_steps": 60})
    )
    assert more.steps == 60
    history = [json.loads(x) for x in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [20, 40, 60]
    assert np.isfinite([h["f1"] for h in history]).all()


def test_bad_label_files_name_the_line(tmp_path):
    bad = tmp_path / "labels.jsonl"
    bad.write_text(json.dumps({"text": "a b c", "labels": [True]}) + "\n")
    with pytest.raises(ValueError, match=r"labels.jsonl:1: 1 labels for 3 words"):
        read_labels(bad)
    bad.write_text(json.dumps({"words": ["a"]}) + "\n")
    with pytest.raises(ValueError, match="expected lingua distill label's keys"):
        read_labels(bad)
    with pytest.raises(ValueError, match="max_length must be an int >= 8"):
        LLMLingua2TrainConfig(max_length=4).check()


def test_first_piece_labels_and_llmlingua2_reads_them_as_trained(
    minilm_tokenizer, tiny_encoder_dir, tmp_path, monkeypatch
):
    from lingua_core.methods.llmlingua2 import LLMLingua2Compressor
    from lingua_core.scorers.classifier import punctuation_ids, tokenizer_word_starts

    text = "Renhe owned 75% of the unbelievably large mall."
    labels = (True, False, True, False, False, False, True, True)
    [e] = encode_chunks([LabelledChunk("c", "s", text, labels)], minilm_tokenizer, 64, "first")
    enc = minilm_tokenizer(text)
    wids = np.asarray([-1 if w is None else w for w in enc.word_ids()])
    ids = np.asarray(enc["input_ids"])
    starts = tokenizer_word_starts(ids, wids, punctuation_ids(minilm_tokenizer)) & (wids >= 0)
    scored = e.labels != -100
    assert scored.tolist() == starts.tolist()  # the pieces token_to_word="first" reads
    pieces = minilm_tokenizer.convert_ids_to_tokens(e.ids)
    got = {p: float(v) for p, v, s in zip(pieces, e.labels, scored) if s}
    assert (got["ren"], got["75"], got["%"], got["mall"], got["."]) == (1, 1, 1, 1, 1)
    assert (got["owned"], got["un"]) == (0, 0)  # "##he" and "##bel" are not scored
    cfg = _tiny(tiny_encoder_dir, label_pieces="first")
    result = train_llmlingua2(_labelled(tmp_path), tmp_path / "run", cfg)
    meta = json.loads((result.model_dir / "lingua_llmlingua2.json").read_text())
    assert meta["training"]["token_to_word"] == "first"
    seen: list[str] = []
    real = LLMLingua2Compressor._words

    def spy(self, text, tk, probs, token_to_word, *args, **kwargs):
        seen.append(token_to_word)
        return real(self, text, tk, probs, token_to_word, *args, **kwargs)

    monkeypatch.setattr(LLMLingua2Compressor, "_words", spy)
    sample = "Item 99: the unbelievably large door was painted green in 1999."
    for choice in (None, "mean", "first"):
        get_compressor("llmlingua2", model=str(result.model_dir), token_to_word=choice).compress(
            [sample], rate=0.5
        )
    assert seen == ["first", "mean", "first"]  # as trained, unless told otherwise
    with pytest.raises(ValueError, match="label_pieces must be one of 'all', 'first'"):
        LLMLingua2TrainConfig(label_pieces="last").check()


def test_a_checkpoint_from_before_objectives_resumes(tiny_encoder_dir, tmp_path):
    chunks = _labelled(tmp_path)
    cfg = _tiny(tiny_encoder_dir, eval_every=2)
    first = train_llmlingua2(chunks, tmp_path / "run", cfg)
    info_path = tmp_path / "run" / "checkpoint" / "trainer.json"
    info = json.loads(info_path.read_text())
    state = info["state"]
    info["state"] = {  # the layout a run of the previous release wrote
        "step": state["step"],
        "best_f1": 2.0,  # above any F1: the old best must stand
        "threshold": 0.3,
        "bad_evals": 0,
        "seconds": state["seconds"],
    }
    info_path.write_text(json.dumps(info))
    more = train_llmlingua2(chunks, tmp_path / "run", dataclasses.replace(cfg, max_steps=4))
    assert more.steps == 4 and [h["step"] for h in more.history] == [2, 4]
    assert (more.best_score, more.threshold) == (2.0, 0.3)  # read from the old names
    assert first.steps == 2
