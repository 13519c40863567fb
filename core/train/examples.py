"""Training examples: encoded rows with token labels, batches, unit F1 (sentences, words).

A record's every (question, passage) pair becomes one row in the tokenizer's pair layout
(:func:`lingua_core.scorers.pruner_inputs.pair_row`, as at inference); a kept sentence's label is
spread to its tokens, and question, special and padding tokens are labelled -100 (left out of the
loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core.pipeline.text import assign_to_units, sentence_units
from lingua_core.scorers.pruner_inputs import pair_row, special_count
from lingua_core.train.records import PrunerRecord

#: Thresholds tried on validation for the sentence F1.
THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass
class Example:
    """One encoded (question, passage) pair."""

    ids: tuple[int, ...]
    types: tuple[int, ...]
    labels: np.ndarray  # float32 per token, -100 where not scored
    sentence: np.ndarray  # sentence index per token, -1 where none
    sentence_labels: np.ndarray  # 0/1 per sentence present in the row
    relevant: float


def encode_examples(
    records: Sequence[PrunerRecord], tokenizer: Any, max_length: int, max_question: int
) -> list[Example]:
    """Every (question, passage) pair as a row with token and sentence labels.

    A passage longer than the row is cut at the row's end (its kept sentences beyond are not
    seen, and its relevance label is whether a kept sentence is left in the row).
    """
    room = max_length - special_count(tokenizer)
    units_of: dict[str, Any] = {}
    out = []
    for r in records:
        q = tokenizer(r.question, add_special_tokens=False)["input_ids"][:max_question]
        for p in r.passages:
            units = units_of.get(p.text)
            if units is None:
                units = units_of[p.text] = sentence_units(p.text)
            enc = tokenizer(
                p.text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
            pid = enc["input_ids"][: room - len(q)]
            starts = np.asarray([s for s, _ in enc["offset_mapping"][: len(pid)]], dtype=np.int64)
            sent = assign_to_units(units, starts)
            keep = np.zeros(len(units), dtype=np.float32)
            keep[[k for k in p.keep if k < len(units)]] = 1.0
            row = pair_row(tokenizer, q, pid)
            sentence = np.full(len(row.ids), -1, dtype=np.int64)
            sentence[row.offset : row.offset + len(pid)] = sent
            out.append(labelled_row(row.ids, row.types, sentence, keep))
    return out


def labelled_row(
    ids: tuple[int, ...], types: tuple[int, ...], unit: np.ndarray, keep: np.ndarray
) -> Example:
    """A row whose tokens carry their unit's label (``unit``: each token's unit, -1: none).

    Tokens of no unit are labelled -100 (left out of the loss); the row is relevant when a
    unit present in it is kept.
    """
    labels = np.where(unit >= 0, keep[np.maximum(unit, 0)], -100.0).astype(np.float32)
    present = np.unique(unit[unit >= 0])
    kept = keep[present]
    return Example(ids, types, labels, unit, kept, float(kept.any()) if present.size else 0.0)


def pad_id(tokenizer: Any) -> int:
    """The tokenizer's padding id, 0 when it has none (padded positions are masked anyway)."""
    pad = tokenizer.pad_token_id
    return 0 if pad is None else int(pad)


def batches(
    n: int, examples: Sequence[Example], size: int, seed: int, epoch: int
) -> list[list[int]]:
    """Seeded batches of similar length: shuffled, sorted by length in pools of 50 batches."""
    rng = np.random.default_rng(seed + epoch)
    order = rng.permutation(n).tolist()
    pool = size * 50
    out: list[list[int]] = []
    for i in range(0, n, pool):
        chunk = sorted(order[i : i + pool], key=lambda j: len(examples[j].ids))
        out += [chunk[k : k + size] for k in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


def collate(examples: Sequence[Example], pad_id: int, torch: Any) -> dict[str, Any]:
    """A padded batch: ``ids``, ``types``, ``mask``, ``labels``, ``relevant`` tensors."""
    width = max(len(e.ids) for e in examples)
    b = len(examples)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    types = torch.zeros((b, width), dtype=torch.long)
    mask = torch.zeros((b, width), dtype=torch.long)
    labels = torch.full((b, width), -100.0)
    for i, e in enumerate(examples):
        n = len(e.ids)
        ids[i, :n] = torch.tensor(e.ids)
        types[i, :n] = torch.tensor(e.types)
        mask[i, :n] = 1
        labels[i, :n] = torch.from_numpy(e.labels)
    rel = torch.tensor([e.relevant for e in examples])
    return {"ids": ids, "types": types, "mask": mask, "labels": labels, "relevant": rel}


def sentence_f1(
    probs: Sequence[np.ndarray], examples: Sequence[Example], thresholds: Sequence[float]
) -> dict[float, float]:
    """Sentence F1 at each threshold.

    A sentence is kept when its tokens' mean keep probability is at least the threshold.
    """
    tp = np.zeros(len(thresholds))
    fp = np.zeros(len(thresholds))
    fn = np.zeros(len(thresholds))
    th = np.asarray(thresholds)
    for p, e in zip(probs, examples):
        sent = e.sentence[: p.shape[0]]
        present = np.unique(sent[sent >= 0])
        for s, gold in zip(present.tolist(), e.sentence_labels.tolist()):
            m = float(p[sent == s].mean())
            pred = m >= th
            tp += pred & (gold > 0)
            fp += pred & (gold == 0)
            fn += ~pred & (gold > 0)
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return {t: float(v) for t, v in zip(thresholds, f1)}


class TokenLabels:
    """The loop's objective for keep labels on tokens (a pruner, an LLMLingua-2 classifier).

    The net is ``net(ids, mask, types) -> (keep_logits, relevance_logits)``. Each token's keep
    logit is trained on its label (binary cross-entropy; -100 tokens left out), the relevance
    logit, when ``relevance_weight`` is not 0, on whether the row has a kept unit. The score is
    the validation F1 of the keep class over units (sentences or words: a unit is kept when the
    mean keep probability of its tokens reaches the threshold, the best of
    :data:`THRESHOLDS`), which also becomes the model's default threshold.

    Args:
        pad: The tokenizer's padding id.
        relevance_weight: Weight of the relevance loss (0: keep labels only).
    """

    shown, unit = "f1", "unit F1"

    def __init__(self, pad: int, relevance_weight: float = 0.0) -> None:
        self.pad = pad
        self.relevance_weight = relevance_weight

    def collate(self, rows: Sequence[Example], torch: Any) -> dict[str, Any]:
        """A padded batch of ``rows`` (:func:`collate`)."""
        return collate(rows, self.pad, torch)

    def _forward(self, net: Any, batch: dict[str, Any], torch: Any) -> tuple[Any, Any]:
        keep, rel = net(batch["ids"], batch["mask"], batch["types"])
        keep, rel = keep.float(), rel.float()
        labels = batch["labels"]
        scored = labels >= 0
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        loss = bce(keep[scored], labels[scored]) if scored.any() else keep.sum() * 0
        if self.relevance_weight:
            loss = loss + self.relevance_weight * bce(rel, batch["relevant"])
        return loss, keep

    def loss(self, net: Any, batch: dict[str, Any], torch: Any) -> Any:
        """The batch's training loss."""
        return self._forward(net, batch, torch)[0]

    def evaluate(
        self, net: Any, rows: Sequence[Example], batch_size: int, dev: str, torch: Any
    ) -> dict[str, Any]:
        """``score`` (the best F1), ``f1``, ``threshold``, ``val_loss`` and ``f1_at``."""
        probs: list[np.ndarray] = []
        losses = []
        for i in range(0, len(rows), batch_size):
            part = rows[i : i + batch_size]
            batch = {k: v.to(dev) for k, v in self.collate(part, torch).items()}
            loss, keep = self._forward(net, batch, torch)
            losses.append(float(loss) * len(part))
            p = torch.sigmoid(keep).cpu().numpy()
            probs += [p[j, : len(e.ids)] for j, e in enumerate(part)]
        f1 = sentence_f1(probs, rows, THRESHOLDS)
        best = max(f1, key=lambda t: (f1[t], -abs(t - 0.5)))
        return {
            "score": f1[best],
            "f1": f1[best],
            "threshold": best,
            "val_loss": sum(losses) / max(len(rows), 1),
            "f1_at": {str(t): v for t, v in f1.items()},
        }

    def saved(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """What the saved model records of its best evaluation."""
        return {"threshold": metrics.get("threshold", 0.5), "validation_f1": metrics.get("f1")}
