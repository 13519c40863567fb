"""Train your own LLMLingua-2, end to end, offline: QMSum meetings, collect, label, train, compress.

Ranges (QMSum's own split field, by meeting): training = the first ``--train`` meetings of
split "train" (inside them, the validation chunks are a seeded 10% of meetings); evaluation =
the first ``--eval`` meetings of split "val". The teacher is deterministic and extractive,
``lingua:naive`` (the stop-word filter): the figures say what a distilled model learns of its
teacher and what it keeps of a meeting, not that this teacher is good.

Steps: ``collect`` (512-token chunks at sentence ends, cl100k) -> ``label`` (alignment,
filters) -> ``train_llmlingua2`` on the embedded MiniLM (CPU) -> each evaluation meeting
compressed at ``--rate`` (budgets in cl100k tokens) by the distilled model, by the same network
with random weights, by the ``random`` control and by the teacher itself; the metric is the
study's QMSum proxy: the share of the reference summary's content words the compressed text
keeps (:func:`lingua_core.eval.metrics.content_recall`).

    .venv/bin/python benchmarks/distill_qmsum.py [--train 20] [--eval 10] [--rate 0.33]

Writes ``benchmarks/results/distill_qmsum.json``; the work folder (pairs, labels, the run) is
``--work`` (default /tmp/lingua-distill-qmsum, resumed if there).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import re
import time
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))
OUT = Path(__file__).resolve().parent / "results" / "distill_qmsum.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--train", type=int, default=20)
    p.add_argument("--eval", type=int, default=10)
    p.add_argument("--rate", type=float, default=0.33)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument(
        "--first-piece",
        action="store_true",
        help="also train with only each word's first piece labelled (read back with 'first')",
    )
    p.add_argument("--work", type=Path, default=Path("/tmp/lingua-distill-qmsum"))
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()

    import numpy as np

    from lingua_core import get_compressor
    from lingua_core.eval.metrics import content_recall
    from lingua_core.train.collect import collect
    from lingua_core.train.distill import label_file
    from lingua_core.train.llmlingua2 import LLMLingua2TrainConfig, read_labels, train_llmlingua2

    with gzip.open(DATA / "summarization_qmsum.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    train_docs = [r for r in rows if r["split"] == "train"][: a.train]
    eval_docs = [r for r in rows if r["split"] == "val"][: a.eval]
    a.work.mkdir(parents=True, exist_ok=True)
    corpus = a.work / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": r["id"], "text": r["document"]}) + "\n" for r in train_docs)
    )
    t0 = time.perf_counter()
    collected = collect(corpus, a.work / "pairs.jsonl", "lingua:naive", concurrency=2)
    collect_s = time.perf_counter() - t0
    labelled = label_file(a.work / "pairs.jsonl", a.work / "labels.jsonl")
    chunks = read_labels(a.work / "labels.jsonl")
    cfg = LLMLingua2TrainConfig(
        base_model="minilm",
        max_length=512,
        epochs=a.epochs,
        batch_size=16,
        eval_every=20,
        patience=4,
        validation=0.1,
        progress=False,
    )
    result = train_llmlingua2(chunks, a.work / "run", cfg)
    firsts = None
    if a.first_piece:
        first_cfg = dataclasses.replace(cfg, label_pieces="first")
        firsts = train_llmlingua2(chunks, a.work / "run-first-piece", first_cfg)
    random_dir = _random_weights(a.work / "random-weights")
    cl100k = {"token_counter": "cl100k_base"}
    compressors = {
        "distilled llmlingua2": get_compressor("llmlingua2", model=str(result.model_dir), **cl100k),
        **(
            {
                "distilled llmlingua2, first piece": get_compressor(
                    "llmlingua2", model=str(firsts.model_dir), **cl100k
                )
            }
            if firsts
            else {}
        ),
        "random-weight llmlingua2": get_compressor("llmlingua2", model=str(random_dir), **cl100k),
        "random": get_compressor("random", seed=1, **cl100k),
        "teacher (naive)": get_compressor("naive", **cl100k),
    }
    scores: dict[str, dict[str, float]] = {}
    for name, comp in compressors.items():
        recall, rates, kept = [], [], Counter()
        t0 = time.perf_counter()
        for r in eval_docs:
            [res] = comp.compress([r["document"]], rate=a.rate)
            recall.append(content_recall(res.text, r["summary"]))
            rates.append(res.rate)
            kept.update(_kinds(r["document"], res.spans))
        words = max(kept["words"], 1)
        scores[name] = {
            "summary_content_recall": round(float(np.mean(recall)), 4),
            "achieved_rate": round(float(np.mean(rates)), 4),
            "seconds": round(time.perf_counter() - t0, 1),
            "kept_words": {
                "speaker_labels": round(kept["speaker"] / words, 4),
                "markup": round(kept["markup"] / words, 4),
                "stop_words": round(kept["stop"] / words, 4),
                "other_words": round(kept["other"] / words, 4),
                "distinct_other_per_meeting": round(kept["distinct"] / len(eval_docs), 1),
            },
        }
        print(name, scores[name])
    report = {
        "ranges": {
            "train_meetings": [r["id"] for r in train_docs],
            "eval_meetings": [r["id"] for r in eval_docs],
        },
        "teacher": "lingua:naive",
        "collect": {**collected, "seconds": round(collect_s, 1)},
        "label": labelled,
        "training": {
            "chunks": len(chunks),
            "steps": result.steps,
            "seconds": round(result.seconds, 1),
            "validation_word_f1_vs_teacher": round(result.best_f1, 4),
            "threshold": result.threshold,
        },
        **(
            {
                "training_first_piece": {
                    "steps": firsts.steps,
                    "seconds": round(firsts.seconds, 1),
                    "validation_word_f1_vs_teacher": round(firsts.best_f1, 4),
                    "threshold": firsts.threshold,
                }
            }
            if firsts
            else {}
        ),
        "rate": a.rate,
        "compression": scores,
    }
    a.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {a.out}")


_SPEAKER = re.compile(r"^[^:\n]{1,40}:", re.M)
_MARKUP = re.compile(r"\{\w+\}")


def _kinds(text: str, spans: tuple[tuple[int, int], ...]) -> Counter[str]:
    """What the kept words of a meeting are: speaker labels ("Grad C:" at a line's start),
    transcript markup ("{disfmarker}"), stop words, other words; and how many distinct others."""
    from lingua_core.pipeline.text import STOP_WORDS

    speaker = [(m.start(), m.end()) for m in _SPEAKER.finditer(text)]
    out: Counter[str] = Counter()
    distinct = set()
    si = ki = 0
    runs = sorted(spans)
    for m in re.finditer(r"\S+", text):
        while ki < len(runs) and runs[ki][1] <= m.start():
            ki += 1
        if not (ki < len(runs) and runs[ki][0] < m.end()):
            continue
        while si < len(speaker) and speaker[si][1] <= m.start():
            si += 1
        out["words"] += 1
        word = m.group().lower().strip(".,?!:;'\"")
        if si < len(speaker) and speaker[si][0] <= m.start():
            out["speaker"] += 1
        elif _MARKUP.search(m.group()):
            out["markup"] += 1
        elif not word or word in STOP_WORDS:
            out["stop"] += 1
        else:
            out["other"] += 1
            distinct.add(word)
    out["distinct"] = len(distinct)
    return out


def _random_weights(folder: Path) -> Path:
    """The embedded MiniLM's architecture as a 2-label token classifier with random weights."""
    import torch
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    from lingua_core.models.embedded import resolve_model_source

    source = resolve_model_source("minilm", kind="encoder")
    config = AutoConfig.from_pretrained(source, num_labels=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = AutoModelForTokenClassification.from_config(config)
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


if __name__ == "__main__":
    main()
