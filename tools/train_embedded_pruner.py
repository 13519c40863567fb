"""Train the embedded pruner from ../shared/data, exactly as shipped (resumable; CPU, ~1.2 h).

    python tools/train_embedded_pruner.py [--output build/pruner_run] [--data-only]

Builds the training records from the train ranges only (NQ questions 700-1499 with BM25-hard
negatives from the gold passages of questions 700-2654, SQuAD articles 0-9, HotpotQA and MuSiQue
records 0-49), writes them to ``OUTPUT/train.jsonl``, then trains the embedded MiniLM on them
(``lingua_core.train.train_pruner``; run it again on the same folder to resume). Export the best
model into the package with ``lingua train export build/pruner_run/model
core/assets/pruner-minilm-v1 --backbone minilm``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lingua_core.train import (
    PrunerTrainConfig,
    dedupe,
    hotpotqa_records,
    musique_records,
    nq_records,
    read_records,
    squad_records,
    train_pruner,
    write_records,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: The shipped model's configuration (the defaults of PrunerTrainConfig, spelled out).
CONFIG = PrunerTrainConfig(
    base_model="minilm",
    max_length=256,
    max_question=64,
    batch_size=16,
    epochs=1.0,
    learning_rate=1e-4,
    warmup=0.06,
    relevance_weight=0.5,
    freeze_word_embeddings=True,
    validation=0.04,
    eval_every=150,
    patience=4,
    seed=0,
)


def build(out: Path) -> Path:
    """Write the training records (train ranges only) and return their path."""
    path = out / "train.jsonl"
    if path.is_file():
        return path
    records = dedupe(
        [
            *squad_records(DATA / "squad_v1_train_sample.jsonl.gz", range(0, 10), negatives=3),
            *hotpotqa_records(DATA / "hotpotqa_distractor.jsonl.gz", range(0, 50)),
            *musique_records(DATA / "musique_ans_train_sample.jsonl.gz", range(0, 50)),
            *nq_records(
                DATA / "nq-open-oracle.jsonl.gz",
                range(700, 1500),
                negatives=3,
                pool=range(700, 2655),
            ),
        ]
    )
    write_records(records, path)
    return path


def main() -> None:
    """Build the data and train (or resume)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--output", type=Path, default=Path("build/pruner_run"))
    ap.add_argument("--data-only", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args.output.mkdir(parents=True, exist_ok=True)
    path = build(args.output)
    if args.data_only:
        return
    result = train_pruner(read_records(path), args.output, CONFIG)
    logging.info(
        "best validation sentence F1 %.4f at threshold %.2f after %d steps, %.0f s",
        result.best_f1,
        result.threshold,
        result.steps,
        result.seconds,
    )


if __name__ == "__main__":
    main()
