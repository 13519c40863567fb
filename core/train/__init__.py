"""Training learned models: records, data builders from public QA sets, the training loop.

An app of the core (like ``cli`` and ``eval``): it may import every layer below it. Torch and
transformers are imported when training starts, not here.
"""

from __future__ import annotations

from lingua_core.train.builders import (
    hotpotqa_records,
    musique_records,
    nq_records,
    squad_records,
)
from lingua_core.train.pruner import PrunerTrainConfig, TrainResult, train_pruner
from lingua_core.train.records import (
    Passage,
    PrunerRecord,
    dedupe,
    parse_record,
    read_records,
    split_by_source,
    write_records,
)

__all__ = [
    "Passage",
    "PrunerRecord",
    "PrunerTrainConfig",
    "TrainResult",
    "dedupe",
    "hotpotqa_records",
    "musique_records",
    "nq_records",
    "parse_record",
    "read_records",
    "split_by_source",
    "squad_records",
    "train_pruner",
    "write_records",
]
