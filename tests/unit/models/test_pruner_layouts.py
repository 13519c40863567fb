"""Each pruner layout on a random-weight surrogate of its architecture.

A surrogate is saved the way its family saves a checkpoint (its weight names, its config.json);
the method loads it with lingua-rag's code, and its ``rate="auto"`` decisions are checked
against an independent re-computation of the family's published rule: the model run on
``tokenizer(question, passage)`` here, token probabilities turned into sentence scores by this
test's own code (mean per sentence, or Provence's share of tokens over the threshold), kept
above the threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from safetensors.torch import save_file  # noqa: E402

from lingua_core import get_compressor  # noqa: E402
from lingua_core.pipeline.text import sentence_units  # noqa: E402

QUESTION = "What was Beijing formerly called?"
PASSAGE = (
    "Beijing, formerly romanized as Peking, is the capital of China. It has about 21 million "
    "people. The city hosted the 2008 Summer Olympics. Its airport is one of the busiest. "
    "Winters there are cold and dry."
)
SMALL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}


def _save(folder: Path, state: dict, config: dict, tokenizer) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tokenizer.save_pretrained(folder)
    return folder


def _spread(head: torch.nn.Linear, scale: float = 3.0) -> None:
    """Heads with large weights, so that probabilities spread over (0, 1)."""
    with torch.no_grad():
        head.weight.normal_(0, scale)
        head.bias.zero_()


class _Provence(torch.nn.Module):
    """The training class of naver's Provence (bergen), re-written here as a reference."""

    def __init__(self, config) -> None:
        super().__init__()
        self.deberta = transformers.DebertaV2Model(config)
        self.pooler = torch.nn.Module()
        self.pooler.dense = torch.nn.Linear(config.hidden_size, config.hidden_size)
        self.classifier = torch.nn.Linear(config.hidden_size, 1)
        self.token_classifier = torch.nn.Linear(config.hidden_size, 2)
        _spread(self.token_classifier)

    def reference(self, ids, mask):
        h = self.deberta(input_ids=ids, attention_mask=mask).last_hidden_state
        return torch.softmax(self.token_classifier(h), -1)[..., 1]


class _OpenProvence(torch.nn.Module):
    """OpenProvence's module tree: a stock reranker and a pruning head."""

    def __init__(self, base_config) -> None:
        super().__init__()
        self.ranking_model = transformers.AutoModelForSequenceClassification.from_config(
            base_config
        )
        self.pruning_head = torch.nn.Module()
        self.pruning_head.classifier = torch.nn.Linear(base_config.hidden_size, 2)
        _spread(self.pruning_head.classifier)

    def reference(self, ids, mask):
        out = self.ranking_model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        return torch.softmax(self.pruning_head.classifier(out.hidden_states[-1]), -1)[..., 1]


def _reference_keep(model, tokenizer, question: str, passage: str, threshold: float, rule: str):
    """Sentence decisions by the published rule, computed without lingua-rag's scorer."""
    enc = tokenizer(question, passage, return_offsets_mapping=True, return_tensors="pt")
    with torch.no_grad():
        probs = model.reference(enc["input_ids"], enc["attention_mask"])[0].numpy()
    seq = enc.sequence_ids(0)
    units = sentence_units(passage)
    keep = []
    for s, e in zip(units.starts.tolist(), units.ends.tolist()):
        toks = [
            i
            for i, (sid, (a, _)) in enumerate(zip(seq, enc["offset_mapping"][0].tolist()))
            if sid == 1 and s <= a < e
        ]
        p = probs[toks]
        score = float((p > threshold).mean()) if rule == "decisions" else float(p.mean())
        keep.append(score > threshold)
    return keep, units


def _kept_sentences(result, passage: str, units) -> list[bool]:
    return [
        any(a <= s and e <= b for a, b in result.spans)
        for s, e in zip(units.starts.tolist(), units.ends.tolist())
    ]


def _check(
    folder: Path, reference, tokenizer, rule: str, threshold: float, question: str = QUESTION
):
    comp = get_compressor("pruner", model=str(folder), rate="auto", threshold=threshold)
    [res] = comp.compress([PASSAGE], query=QUESTION)
    want, units = _reference_keep(reference, tokenizer, question, PASSAGE, threshold, rule)
    assert _kept_sentences(res, PASSAGE, units) == want
    return comp


@pytest.fixture(scope="module")
def tok(minilm_tokenizer):
    return minilm_tokenizer


def test_provence_deberta_layout(tmp_path, tok):
    torch.manual_seed(0)
    cfg = transformers.DebertaV2Config(vocab_size=len(tok), max_position_embeddings=512, **SMALL)
    model = _Provence(cfg).eval()
    folder = _save(
        tmp_path / "provence",
        model.state_dict(),
        {**cfg.to_dict(), "architectures": ["Provence"]},
        tok,
    )
    comp = get_compressor("pruner", model=str(folder))
    spec = comp.spec()
    assert (spec.layout, spec.threshold, spec.sentence_rule) == ("provence", 0.1, "decisions")
    # Provence reads the question lower-cased without punctuation.
    for t in (0.1, 0.5):
        _check(folder, model, tok, "decisions", t, question="what was beijing formerly called")


def test_open_provence_modernbert_layout(tmp_path, tok):
    torch.manual_seed(1)
    base = transformers.ModernBertConfig(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        cls_token_id=tok.cls_token_id,
        sep_token_id=tok.sep_token_id,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
        max_position_embeddings=512,
        num_labels=1,
        **SMALL,
    )
    model = _OpenProvence(base).eval()
    config = {
        "model_type": "open_provence",
        "architectures": ["OpenProvenceForSequenceClassification"],
        "base_model_config": base.to_dict(),
        "num_labels": 1,
        "max_length": 512,
        "encoder_architecture": "modernbert",
    }
    folder = _save(tmp_path / "op", model.state_dict(), config, tok)
    comp = get_compressor("pruner", model=str(folder))
    assert (comp.spec().layout, comp.spec().threshold) == ("open_provence", 0.1)
    for t in (0.1, 0.5):
        _check(folder, model, tok, "mean", t)


def test_zilliz_xlmr_layout_is_marked_unverified(tmp_path, tok):
    torch.manual_seed(2)
    base = transformers.XLMRobertaConfig(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        max_position_embeddings=514,
        type_vocab_size=1,
        num_labels=1,
        **SMALL,
    )
    model = _OpenProvence(base).eval()
    config = {
        "model_type": "open_provence",
        "base_model_config": base.to_dict(),
        "base_model_name_or_path": "BAAI/bge-reranker-v2-m3",
        "num_labels": 1,
        "max_length": 512,
        "default_threadshold": 0.5,
    }
    folder = _save(tmp_path / "zilliz", model.state_dict(), config, tok)
    comp = get_compressor("pruner", model=str(folder))
    spec = comp.spec()
    assert spec.family == "Zilliz semantic-highlight" and not spec.verified
    assert spec.threshold == 0.5
    _check(folder, model, tok, "mean", 0.5)


def test_token_classifier_layout(tmp_path, tok):
    torch.manual_seed(3)
    cfg = transformers.ModernBertConfig(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        cls_token_id=tok.cls_token_id,
        sep_token_id=tok.sep_token_id,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
        num_labels=2,
        **SMALL,
    )
    net = transformers.ModernBertForTokenClassification(cfg).eval()
    _spread(net.classifier)
    net.save_pretrained(tmp_path / "verbatim")
    tok.save_pretrained(tmp_path / "verbatim")

    class Ref(torch.nn.Module):
        def reference(self, ids, mask):
            return torch.softmax(net(input_ids=ids, attention_mask=mask).logits, -1)[..., 1]

    comp = get_compressor("pruner", model=str(tmp_path / "verbatim"))
    assert (comp.spec().layout, comp.spec().threshold) == ("token_classifier", 0.2)
    _check(tmp_path / "verbatim", Ref(), tok, "mean", 0.2)


def test_wrong_weights_name_the_keys(tmp_path, tok):
    torch.manual_seed(0)
    cfg = transformers.DebertaV2Config(vocab_size=len(tok), **SMALL)
    state = _Provence(cfg).state_dict()
    state.pop("pooler.dense.bias")
    state["extra.weight"] = torch.zeros(2)
    folder = _save(tmp_path / "bad", state, cfg.to_dict(), tok)
    with pytest.raises(ValueError, match=r"missing \['pooler.dense.bias'\].*extra.weight"):
        get_compressor("pruner", model=str(folder)).compress([PASSAGE], query=QUESTION)


def test_not_a_pruner_names_the_layouts(tmp_path, tok):
    cfg = transformers.BertConfig(vocab_size=len(tok), **SMALL)
    transformers.BertModel(cfg).save_pretrained(tmp_path / "plain")
    with pytest.raises(ValueError, match="layouts: lingua, provence, open_provence"):
        get_compressor("pruner", model=str(tmp_path / "plain")).compress([PASSAGE], query=QUESTION)


def test_pickle_only_folder_is_refused(tmp_path, tok):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "open_provence"}))
    (folder / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(OSError, match="pickle weights only"):
        get_compressor("pruner", model=str(folder)).compress([PASSAGE], query=QUESTION)


def test_windows_cut_at_sentence_ends():
    from lingua_core.scorers.pruner import windows

    unit_of = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3])
    got = windows(unit_of, 5)
    assert got[0] == (0, 5) and got[1] == (5, 10)  # sentence 2 is longer than 5: cut at 5
    assert windows(unit_of, 4)[0] == (0, 3)  # at the end of sentence 0
    spans = [t for s, e in windows(unit_of, 4) for t in range(s, e)]
    assert spans == list(range(len(unit_of)))


class _XProvence(torch.nn.Module):
    """naver's XProvence (bergen PR #49): XLM-R with its pooler, the same two heads."""

    def __init__(self, config) -> None:
        super().__init__()
        self.roberta = transformers.XLMRobertaModel(config)
        self.classifier = torch.nn.Linear(config.hidden_size, 1)
        self.token_classifier = torch.nn.Linear(config.hidden_size, 2)
        _spread(self.token_classifier)

    def reference(self, ids, mask):
        h = self.roberta(input_ids=ids, attention_mask=mask).last_hidden_state
        return torch.softmax(self.token_classifier(h), -1)[..., 1]


def test_xprovence_xlmr_layout(tmp_path, tok):
    torch.manual_seed(4)
    cfg = transformers.XLMRobertaConfig(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        max_position_embeddings=514,
        type_vocab_size=1,
        **SMALL,
    )
    model = _XProvence(cfg).eval()
    folder = _save(tmp_path / "xprovence", model.state_dict(), cfg.to_dict(), tok)
    comp = get_compressor("pruner", model=str(folder))
    assert comp.spec().layout == "provence"
    _check(folder, model, tok, "decisions", 0.3, question="what was beijing formerly called")
