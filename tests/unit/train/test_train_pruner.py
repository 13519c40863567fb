"""Training a pruner: records, builders, the split, a tiny run whose output the method loads."""

from __future__ import annotations

import json

import pytest

from lingua_core.eval.metrics import answer_in
from lingua_core.pipeline.text import sentence_units
from lingua_core.train import (
    PrunerRecord,
    PrunerTrainConfig,
    dedupe,
    hotpotqa_records,
    nq_records,
    parse_record,
    read_records,
    split_by_source,
    squad_records,
)
from lingua_core.train.records import Passage
from tests.conftest import SHARED_DATA

needs_data = pytest.mark.skipif(
    not (SHARED_DATA / "squad_v1_train_sample.jsonl.gz").is_file(), reason="no ../shared/data"
)


def test_parse_record_names_what_is_wrong():
    with pytest.raises(ValueError, match="'question' must be a non-empty string"):
        parse_record({"passages": [{"text": "a"}]})
    with pytest.raises(ValueError, match="'passages' must be a non-empty list"):
        parse_record({"question": "q", "passages": []})
    with pytest.raises(ValueError, match="passage 0: 'keep' must be a list of sentence indices"):
        parse_record({"question": "q", "passages": [{"text": "a", "keep": [-1]}]})
    r = parse_record({"question": "q", "passages": [{"text": "a. b.", "keep": [1, 1]}]})
    assert r.passages[0].keep == (1,) and r.passages[0].relevant


def test_read_records_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "q", "passages": [{"text": "a"}]}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2: not JSON"):
        read_records(path)
    with pytest.raises(FileNotFoundError):
        read_records(tmp_path / "missing.jsonl")


def test_split_never_cuts_a_source():
    records = [PrunerRecord(f"q{i}", (Passage("x"),), source=f"doc{i % 7}") for i in range(70)]
    train, val = split_by_source(records, 0.2, seed=3)
    assert len(train) + len(val) == 70 and len(val) >= 14
    assert not {r.source for r in train} & {r.source for r in val}
    again = split_by_source(records, 0.2, seed=3)
    assert [r.question for r in again[1]] == [r.question for r in val]
    with pytest.raises(ValueError, match="fraction in"):
        split_by_source(records, 1.5)


def test_dedupe_removes_repeated_pairs():
    a = PrunerRecord("Who?", (Passage("p1", (0,)), Passage("p2")))
    b = PrunerRecord("who? ", (Passage("p2"), Passage("p3")))
    c = PrunerRecord("who?", (Passage("p1"),))
    out = dedupe([a, b, c])
    assert [len(r.passages) for r in out] == [2, 1]


@needs_data
def test_squad_builder_labels_the_answer_sentence():
    records = squad_records(SHARED_DATA / "squad_v1_train_sample.jsonl.gz", range(0, 1))
    assert len(records) > 100
    for r in records[:60]:
        gold, *negs = r.passages
        sents = sentence_units(gold.text).texts(gold.text)
        assert gold.keep and any(answer_in(sents[k], r.answers) for k in gold.keep)
        assert len(negs) == 3 and not any(answer_in(n.text, r.answers) for n in negs)
        assert r.source.startswith("squad:")


@needs_data
def test_hotpotqa_and_nq_builders():
    hp = hotpotqa_records(SHARED_DATA / "hotpotqa_distractor.jsonl.gz", range(0, 5))
    for r in hp:
        assert len(r.passages) == 10 and 1 <= sum(p.relevant for p in r.passages) <= 4
    nq = nq_records(SHARED_DATA / "nq-open-oracle.jsonl.gz", range(700, 720), pool=range(700, 900))
    for r in nq:
        gold, *negs = r.passages
        assert gold.keep and not any(answer_in(n.text, r.answers) for n in negs)


def test_teacher_relabels_and_caches(tmp_path):
    from lingua_core.train.teacher import parse_reply, relabel

    calls = []

    class FakeChat:
        def invoke(self, prompt: str):
            calls.append(prompt)
            return type("Msg", (), {"content": "2"})()

    rec = PrunerRecord("Where?", (Passage("It rained. Paris is in France."), Passage("x.")))
    out = relabel([rec], FakeChat(), cache=tmp_path / "teacher.jsonl")
    assert [p.keep for p in out[0].passages] == [(1,), ()]
    assert "2. Paris is in France." in calls[0]
    again = relabel([rec], FakeChat(), cache=tmp_path / "teacher.jsonl")
    assert len(calls) == 2 and again == out  # second pass: all from the cache
    assert parse_reply("none of them", 3) == () and parse_reply("1, 3, 9", 3) == (0, 2)


def _records() -> list[PrunerRecord]:
    """Tiny, learnable records: the kept sentence always names a colour."""
    colours = ["red", "blue", "green", "yellow", "purple", "orange"]
    out = []
    for i in range(48):
        c = colours[i % 6]
        text = f"The house number is {i}. The door is painted {c}. It has {i % 5 + 2} rooms."
        other = f"A river flows past. The bridge is {i % 9} metres long."
        out.append(
            PrunerRecord(
                "What colour is the door?",
                (Passage(text, (1,)), Passage(other)),
                (c,),
                f"doc{i % 12}",
            )
        )
    return out


@pytest.mark.slow
def test_tiny_training_run_loss_falls_resumes_and_loads(tmp_path, tiny_encoder_dir):
    from lingua_core import get_compressor
    from lingua_core.train import train_pruner

    cfg = PrunerTrainConfig(
        base_model=str(tiny_encoder_dir),
        batch_size=8,
        max_steps=12,
        eval_every=6,
        learning_rate=3e-3,
        validation=0.2,
        max_length=64,
        max_question=16,
        progress=False,
        freeze_word_embeddings=True,
    )
    first = train_pruner(_records(), tmp_path / "run", cfg)
    assert first.steps == 12 and (tmp_path / "run" / "checkpoint" / "trainer.json").is_file()
    more = PrunerTrainConfig(**{**cfg.__dict__, "max_steps": 30})
    result = train_pruner(_records(), tmp_path / "run", more)  # resumes at step 12
    assert result.steps == 30
    history = [json.loads(x) for x in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [6, 12, 18, 24, 30]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert result.best_f1 > 0.5
    meta = json.loads((result.model_dir / "lingua_pruner.json").read_text())
    assert meta["format"] == "lingua-pruner" and meta["threshold"] == result.threshold
    comp = get_compressor("pruner", model=str(result.model_dir), rate="auto")
    text = "The house number is 7. The door is painted red. It has 3 rooms."
    [res] = comp.compress([text], query="What colour is the door?")
    assert "red" in res.text and res.spans


@pytest.mark.slow
def test_export_delta_rebuilds_the_model(tmp_path, tiny_encoder_dir):
    import numpy as np
    import torch

    from lingua_core import get_compressor
    from lingua_core.models.pruner_net import export_delta
    from lingua_core.train import train_pruner

    cfg = PrunerTrainConfig(
        base_model=str(tiny_encoder_dir),
        batch_size=8,
        max_steps=4,
        eval_every=4,
        validation=0.2,
        max_length=64,
        max_question=16,
        progress=False,
    )
    whole = train_pruner(_records(), tmp_path / "run", cfg).model_dir
    delta = export_delta(
        whole,
        tmp_path / "delta",
        backbone=str(tiny_encoder_dir),
        backbone_source=str(tiny_encoder_dir),
        dtype=torch.float32,
    )
    names = json.loads((delta / "lingua_pruner.json").read_text())["omitted"]
    assert names == ["backbone.embeddings.word_embeddings.weight"]
    assert not (delta / "config.json").exists()
    text = ["The door is painted red. It has 3 rooms.", "A river flows past."]
    a = get_compressor("pruner", model=str(whole)).compress(text, query="door colour?", rate=0.5)
    b = get_compressor("pruner", model=str(delta)).compress(text, query="door colour?", rate=0.5)
    assert [r.text for r in a] == [r.text for r in b]
    assert np.allclose([r.relevance for r in a], [r.relevance for r in b])
    # Continued training starts from the delta's weights: at learning rate 0 it keeps them.
    still = PrunerTrainConfig(**{**cfg.__dict__, "init_from": str(delta), "learning_rate": 0.0})
    kept = train_pruner(_records(), tmp_path / "continued", still).model_dir
    c = get_compressor("pruner", model=str(kept)).compress(text, query="door colour?", rate=0.5)
    assert np.allclose([r.relevance for r in c], [r.relevance for r in b], atol=1e-5)
    with pytest.raises(ValueError, match="init_from must be a lingua-rag pruner folder"):
        bad = PrunerTrainConfig(**{**cfg.__dict__, "init_from": str(tiny_encoder_dir)})
        train_pruner(_records(), tmp_path / "bad", bad)


def test_train_cli_data_and_bad_range(tmp_path, capsys):
    from lingua_core.cli import main

    if not (SHARED_DATA / "hotpotqa_distractor.jsonl.gz").is_file():
        pytest.skip("no ../shared/data")
    out = tmp_path / "d.jsonl"
    rc = main(
        [
            "train",
            "data",
            str(out),
            "--hotpotqa",
            str(SHARED_DATA / "hotpotqa_distractor.jsonl.gz"),
            "--hotpotqa-records",
            "0-2",
        ]
    )
    assert rc == 0 and len(read_records(out)) == 3
    assert json.loads(capsys.readouterr().out)["pairs"] == 30
    with pytest.raises(SystemExit):
        main(["train", "data", str(out), "--hotpotqa-records", "9-2"])
    assert main(["train", "data", str(out)]) == 2
    assert "no source given" in capsys.readouterr().err
