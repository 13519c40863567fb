"""Training an LLMLingua-2 token classifier on distilled word labels (``lingua train llmlingua2``).

The labels come from :mod:`lingua_core.train.distill` (``lingua distill label``): the words of
each chunk, keep or drop. Any Hugging Face encoder becomes a 2-label token classifier, trained
with the shared loop (:func:`lingua_core.train.loop.fit`). Against Microsoft's
``train_roberta.py``:

- every sub-token of a word carries the word's label, and special and padding positions are
  labelled -100 (left out of the loss; the reference labels them 0, "drop", so padding counts
  and biases the model towards dropping) with no shift at the end (the reference moves the last
  word's label onto the separator);
- the split is seeded and by source document (the reference splits chunks 80/20, unseeded, so
  chunks of one meeting land on both sides);
- gradients are clipped after the backward pass (the reference clips before it: a no-op);
- early stopping and the best checkpoint follow the validation F1 of the keep class over words,
  a word kept when the mean keep probability of its pieces reaches the threshold (close to how
  ``llmlingua2`` reads the model, ``token_to_word="mean"``, which averages per tokenizer word
  first), not token accuracy.

The output ``model/`` folder is a plain ``*ForTokenClassification`` checkpoint (safetensors) that
``get_compressor("llmlingua2", model=...)`` loads unchanged; ``lingua_llmlingua2.json`` beside
it records the training config and the validation F1.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lingua_core._deps import require
from lingua_core.methods.llmlingua2 import TRAINING_META
from lingua_core.models.embedded import resolve_model_source
from lingua_core.pipeline.text import assign_to_units, word_units
from lingua_core.scorers.classifier import punctuation_ids, tokenizer_word_starts
from lingua_core.train.examples import Example, TokenLabels, labelled_row, pad_id
from lingua_core.train.loop import LoopConfig, TrainResult, begin, fit, place
from lingua_core.train.records import split_by_source

logger = logging.getLogger(__name__)

#: Written beside the weights: the training config and validation F1.
META_FILE = TRAINING_META


@dataclass(frozen=True)
class LLMLingua2TrainConfig(LoopConfig):
    """How an LLMLingua-2 classifier is trained (recorded in ``lingua_llmlingua2.json``).

    The loop's fields (:class:`~lingua_core.train.loop.LoopConfig`), and: the encoder it starts
    from (an alias such as ``minilm``, a folder or a hub id), the row length in tokens (the
    paper's chunks are 512 tokens), and which pieces of a word carry its label: ``all``
    (Microsoft's way; read back with ``token_to_word="mean"``) or the ``first`` (read back with
    ``"first"``; the model records it and ``llmlingua2`` follows).
    """

    base_model: str = "minilm"
    max_length: int = 512
    learning_rate: float = 5e-5
    label_pieces: str = "all"

    ADDED_LATER: ClassVar[dict[str, Any]] = {"label_pieces": "all"}  # older checkpoints

    def check(self) -> None:
        """Raise ``ValueError`` naming a field outside its range."""
        super().check()
        if self.label_pieces not in ("all", "first"):
            msg = f"label_pieces must be one of 'all', 'first', got {self.label_pieces!r}"
            raise ValueError(msg)
        self.check_ints(max_length=8)


@dataclass(frozen=True)
class LabelledChunk:
    """One chunk of ``lingua distill label``'s output: its text and its words' labels."""

    id: str
    source: str
    text: str
    labels: tuple[bool, ...]


def read_labels(path: str | Path, *, kept_only: bool = True) -> list[LabelledChunk]:
    """The chunks of a label file (only those that passed the filters, by default).

    Raises:
        ValueError: For a line without ``text`` and ``labels``, or whose labels do not match
            the words of its text, naming the line (1-based).
    """
    out = []
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not {"text", "labels"} <= row.keys():
                msg = f"{path}:{line_no}: expected lingua distill label's keys (text, labels)"
                raise ValueError(msg)
            if kept_only and not row.get("kept", True):
                continue
            n = len(word_units(row["text"]))
            if n != len(row["labels"]):
                msg = f"{path}:{line_no}: {len(row['labels'])} labels for {n} words"
                raise ValueError(msg)
            source = str(row.get("source", row.get("id", line_no)))
            out.append(
                LabelledChunk(
                    str(row.get("id", line_no)), source, row["text"], tuple(row["labels"])
                )
            )
    return out


def encode_chunks(
    chunks: Sequence[LabelledChunk], tokenizer: Any, max_length: int, pieces: str = "all"
) -> list[Example]:
    """Each chunk as one row: every piece of a word labelled as the word, specials -100.

    With ``pieces="first"`` only the first piece of each tokenizer word (a new word id, or a
    punctuation token: the pieces ``token_to_word="first"`` reads) carries the label of the
    whitespace word it is in (and is scored in validation); the others are -100.

    A chunk longer than ``max_length`` tokens is cut there (its words beyond are not seen; the
    log says how many chunks were cut).
    """
    out = []
    cut = 0
    punct = punctuation_ids(tokenizer) if pieces == "first" else None
    for c in chunks:
        enc = tokenizer(
            c.text,
            truncation=True,
            max_length=max_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            verbose=False,
        )
        ids = tuple(int(i) for i in enc["input_ids"])
        special = np.asarray(enc["special_tokens_mask"], dtype=bool)
        starts = np.asarray([s for s, _ in enc["offset_mapping"]], dtype=np.int64)
        units = word_units(c.text)
        word = assign_to_units(units, starts)
        word[special] = -1
        if punct is not None:  # the first piece of each tokenizer word, as "first" reads it
            wids = np.asarray([-1 if w is None else w for w in enc.word_ids()], dtype=np.int64)
            word[~tokenizer_word_starts(np.asarray(ids), wids, punct)] = -1
        cut += bool(len(units)) and int(word.max(initial=-1)) < len(units) - 1
        keep = np.asarray(c.labels, dtype=np.float32)
        out.append(labelled_row(ids, (0,) * len(ids), word, keep))
    if cut:
        logger.info(
            "%d of %d chunks run past %d tokens: their last words are cut",
            cut,
            len(out),
            max_length,
        )
    return out


def _classifier(source: str, hf_kwargs: dict[str, Any], torch: Any) -> tuple[Any, Any, Any]:
    """A 2-label token classifier on ``source``, wrapped for the loop, and its tokenizer."""
    transformers = require("transformers")
    model = transformers.AutoModelForTokenClassification.from_pretrained(
        source,
        num_labels=2,
        id2label={0: "drop", 1: "keep"},
        label2id={"drop": 0, "keep": 1},
        use_safetensors=True,
        **hf_kwargs,
    )
    tok = transformers.AutoTokenizer.from_pretrained(source, **hf_kwargs)

    class KeepLogits(torch.nn.Module):  # type: ignore[misc]
        """The classifier as the loop's net: the keep logit (label 1 minus label 0)."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids: Any, mask: Any, types: Any) -> tuple[Any, Any]:
            logits = self.inner(input_ids=ids, attention_mask=mask).logits
            keep = logits[..., 1] - logits[..., 0]  # sigmoid of it = softmax of label 1
            return keep, keep.new_zeros(keep.shape[0])

    return KeepLogits(model), model, tok


def train_llmlingua2(
    chunks: Sequence[LabelledChunk],
    output: str | Path,
    config: LLMLingua2TrainConfig | None = None,
) -> TrainResult:
    """Train a token classifier on labelled chunks; resume from ``output/checkpoint``.

    Args:
        chunks: Labelled chunks (:func:`read_labels`); split by source here.
        output: The run's folder: ``model/`` (the best model, loadable by ``llmlingua2``),
            ``checkpoint/``, ``history.jsonl``.
        config: Hyper-parameters; defaults train the embedded MiniLM.

    Returns:
        Where the model is, its validation word F1 and threshold, steps and time.

    Raises:
        ValueError: For an invalid config or chunks without any kept word.
    """
    cfg = config or LLMLingua2TrainConfig()
    cfg.check()
    torch = require("torch")
    from lingua_core.models.hub import hub_kwargs

    out = begin(cfg, output, torch)
    source = resolve_model_source(cfg.base_model, kind="encoder")
    net, model, tok = _classifier(source, dict(hub_kwargs(source, None)), torch)
    dev, autocast, run_dtype = place(net, cfg, torch)
    train, val = split_by_source(chunks, cfg.validation, cfg.seed)
    t0 = time.perf_counter()
    train_ex = encode_chunks(train, tok, cfg.max_length, cfg.label_pieces)
    val_ex = encode_chunks(val, tok, cfg.max_length, cfg.label_pieces)
    if not any(e.relevant for e in train_ex):
        msg = "the labelled chunks have no kept word: nothing to learn"
        raise ValueError(msg)
    logger.info(
        "llmlingua2 data: %d train chunks (%d sources), %d validation chunks; encoded in %.1f s",
        len(train_ex),
        len({c.source for c in train}),
        len(val_ex),
        time.perf_counter() - t0,
    )
    training = {
        "config": asdict(cfg),
        "train_chunks": len(train_ex),
        "validation_chunks": len(val_ex),
        "dtype": run_dtype,
        "token_to_word": "first" if cfg.label_pieces == "first" else "mean",
    }

    def save_model(folder: Path, metrics: dict[str, Any]) -> None:
        model.save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)
        meta = {"training": training, **metrics}
        (folder / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")

    return fit(
        net,
        train_ex,
        val_ex,
        out=out,
        cfg=cfg,
        dev=dev,
        objective=TokenLabels(pad_id(tok)),
        autocast=autocast,
        save_model=save_model,
        name="llmlingua2",
    )
