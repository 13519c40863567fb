"""Training learned models: a pruner, an LLMLingua-2 classifier, an aligned small LM, one loop.

An app of the core (like ``cli`` and ``eval``): it may import every layer below it. Torch and
transformers are imported when training starts, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lingua_core._deps import lazy_exports

if TYPE_CHECKING:
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

# Each name imports its module on first use: building the ``lingua`` parser (which registers
# ``lingua train`` and ``lingua distill``) loads none of them.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AlignConfig": "lingua_core.train.lm_align",
        "LLMLingua2TrainConfig": "lingua_core.train.llmlingua2",
        "LoopConfig": "lingua_core.train.loop",
        "Passage": "lingua_core.train.records",
        "PrunerRecord": "lingua_core.train.records",
        "PrunerTrainConfig": "lingua_core.train.pruner",
        "TrainResult": "lingua_core.train.loop",
        "align": "lingua_core.train.distill",
        "align_lm": "lingua_core.train.lm_align",
        "dedupe": "lingua_core.train.records",
        "hotpotqa_records": "lingua_core.train.builders",
        "label_file": "lingua_core.train.distill",
        "musique_records": "lingua_core.train.builders",
        "nq_records": "lingua_core.train.builders",
        "parse_record": "lingua_core.train.records",
        "read_labels": "lingua_core.train.llmlingua2",
        "read_pairs": "lingua_core.train.distill",
        "read_records": "lingua_core.train.records",
        "read_targets": "lingua_core.train.lm_align",
        "split_by_source": "lingua_core.train.records",
        "squad_records": "lingua_core.train.builders",
        "train_llmlingua2": "lingua_core.train.llmlingua2",
        "train_pruner": "lingua_core.train.pruner",
        "write_records": "lingua_core.train.records",
    },
)
