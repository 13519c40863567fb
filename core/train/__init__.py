"""Training learned models: a pruner, an LLMLingua-2 classifier, an aligned small LM, one loop.

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
from lingua_core.train.distill import align, label_file, read_pairs
from lingua_core.train.llmlingua2 import LLMLingua2TrainConfig, read_labels, train_llmlingua2
from lingua_core.train.lm_align import AlignConfig, align_lm, read_targets
from lingua_core.train.loop import LoopConfig, TrainResult
from lingua_core.train.pruner import PrunerTrainConfig, train_pruner
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
    "AlignConfig",
    "LLMLingua2TrainConfig",
    "LoopConfig",
    "Passage",
    "PrunerRecord",
    "PrunerTrainConfig",
    "TrainResult",
    "align",
    "align_lm",
    "dedupe",
    "hotpotqa_records",
    "label_file",
    "musique_records",
    "nq_records",
    "parse_record",
    "read_labels",
    "read_pairs",
    "read_records",
    "read_targets",
    "split_by_source",
    "squad_records",
    "train_llmlingua2",
    "train_pruner",
    "write_records",
]
