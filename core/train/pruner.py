"""Training a question-aware pruner: one loop, any Hugging Face encoder, CPU or CUDA.

One forward reads ``question + passage`` (:func:`lingua_core.scorers.pruner_inputs.pair_row`);
the token head learns the sentence labels spread to the sentence's tokens (question, special and
padding tokens labelled -100, left out of the loss) and the relevance head whether the passage
has a kept sentence; the loss is their sum (``relevance_weight`` on the second). The split is
seeded and by source document (:func:`lingua_core.train.records.split_by_source`); validation
sentence F1 (a sentence kept when the mean keep probability of its tokens reaches the threshold,
the best of a grid) decides early stopping and the model's default threshold.

The loop, resumable, is :func:`lingua_core.train.loop.fit` (shared with LLMLingua-2's);
``output/model/`` is the best model so far, a folder :func:`lingua_core.get_compressor` loads
with ``method="pruner"``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from lingua_core._deps import require
from lingua_core.models.embedded import resolve_model_source
from lingua_core.train.examples import TokenLabels, encode_examples, pad_id
from lingua_core.train.loop import LoopConfig, TrainResult, begin, fit, place
from lingua_core.train.records import PrunerRecord, split_by_source

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrunerTrainConfig(LoopConfig):
    """How a pruner is trained (every field recorded in the output's ``lingua_pruner.json``).

    The loop's fields (:class:`~lingua_core.train.loop.LoopConfig`: batches, schedule,
    evaluation, seed, dtype), and the pruner's: the encoder it starts from, the row layout, the
    weight of the relevance loss, whether the word embeddings train.
    """

    base_model: str = "minilm"
    init_from: str | None = None
    max_length: int = 256
    max_question: int = 64
    relevance_weight: float = 0.5
    freeze_word_embeddings: bool = True

    ADDED_LATER: ClassVar[dict[str, Any]] = {"init_from": None}  # older checkpoints

    def check(self) -> None:
        """Raise ``ValueError`` naming a field outside its range."""
        super().check()
        self.check_ints(max_length=1, max_question=1)
        if self.max_question >= self.max_length - 8:
            msg = f"max_question ({self.max_question}) must leave room in max_length"
            raise ValueError(msg)


def _initial_net(cfg: PrunerTrainConfig) -> tuple[Any, Any]:
    """The network a run starts from: ``base_model`` with new heads, or ``init_from``'s pruner.

    Raises:
        ValueError: When ``init_from`` is not a lingua-rag pruner folder.
    """
    from lingua_core.models.hub import hub_kwargs
    from lingua_core.models.pruner_net import new_pruner
    from lingua_core.models.pruners import load_lingua_folder, resolve_pruner_source

    if cfg.init_from is None:
        source = resolve_model_source(cfg.base_model, kind="encoder")
        return new_pruner(source, hf_kwargs=hub_kwargs(source, None))
    folder = Path(resolve_pruner_source(cfg.init_from))
    if not (folder / "lingua_pruner.json").is_file():
        msg = (
            f"init_from must be a lingua-rag pruner folder (with lingua_pruner.json) or "
            f"'lingua-pruner', got {cfg.init_from!r}"
        )
        raise ValueError(msg)
    return load_lingua_folder(folder)


def train_pruner(
    records: Sequence[PrunerRecord],
    output: str | Path,
    config: PrunerTrainConfig | None = None,
) -> TrainResult:
    """Train a pruner on labelled records; resume from ``output/checkpoint`` when it is there.

    Args:
        records: Training records (:func:`lingua_core.train.read_records` or the builders);
            split by source into train and validation here.
        output: The run's folder: ``model/`` (the best model, loadable), ``checkpoint/``,
            ``history.jsonl``.
        config: Hyper-parameters; defaults train the embedded MiniLM.

    Returns:
        Where the model is, its validation F1 and threshold, steps and time.

    Raises:
        ValueError: For an invalid config or records without any kept sentence.
    """
    cfg = config or PrunerTrainConfig()
    cfg.check()
    torch = require("torch")
    require("transformers")
    from lingua_core.models.pruner_net import save_pruner

    out = begin(cfg, output, torch)
    net, tok = _initial_net(cfg)
    if cfg.freeze_word_embeddings:
        emb = net.backbone.get_input_embeddings()
        emb.weight.requires_grad_(False)
    dev, autocast, run_dtype = place(net, cfg, torch)
    train, val = split_by_source(records, cfg.validation, cfg.seed)
    t0 = time.perf_counter()
    train_ex = encode_examples(train, tok, cfg.max_length, cfg.max_question)
    val_ex = encode_examples(val, tok, cfg.max_length, cfg.max_question)
    if not any(e.relevant for e in train_ex):
        msg = "the training records have no kept sentence: nothing to learn"
        raise ValueError(msg)
    logger.info(
        "pruner data: %d train pairs (%d sources), %d validation pairs; encoded in %.1f s",
        len(train_ex),
        len({r.source for r in train}),
        len(val_ex),
        time.perf_counter() - t0,
    )
    pad = pad_id(tok)
    meta_base = {
        "max_length": cfg.max_length,
        "max_question": cfg.max_question,
        "training": {
            "config": asdict(cfg),
            "train_pairs": len(train_ex),
            "validation_pairs": len(val_ex),
            "dtype": run_dtype,
        },
    }

    def save_model(folder: Path, metrics: dict[str, Any]) -> None:
        save_pruner(net, tok, folder, {**meta_base, **metrics})

    return fit(
        net,
        train_ex,
        val_ex,
        out=out,
        cfg=cfg,
        dev=dev,
        objective=TokenLabels(pad, cfg.relevance_weight),
        autocast=autocast,
        save_model=save_model,
        name="pruner",
    )
