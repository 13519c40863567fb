"""Tuning runs behind two choices of the default (issue 25), on the tuning ranges only.

``--units``: clauses (``max_unit_words=15``) against whole sentences (``None``) at the same word
budgets: answer survival and words kept on NQ questions 0-99 (20 passages), HotpotQA + MuSiQue
records 0-49 and SQuAD same-article questions of articles 10-11 (150, seeded). Writes
``benchmarks/results/tune_units.jsonl``.

``--no-query``: query-agnostic choices for the default without a query, at rate 0.33: each
text's leading sentences, its central ones (cosine to the mean embedding of its sentences, with
the default's title context), both fused (z-scores, lead weight 1), random sentences and
``naive``; answer survival on NQ gold passages 0-299, SQuAD paragraphs of articles 0-9 (every
answer of the paragraph) and NQ 20-passage contexts 0-59. Writes
``benchmarks/results/tune_no_query.jsonl``.

    python benchmarks/tune_default_units.py --units --no-query
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import nq_gold, squad_articles

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
NQ = DATA / "nq-open-oracle.jsonl.gz"
SQUAD = DATA / "squad_v1_train_sample.jsonl.gz"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))


def units_run(out: Path) -> None:
    from lingua_core import get_compressor, join_results
    from lingua_core.eval.data import hotpotqa, musique, nq_multidoc, squad_same_article
    from lingua_core.eval.metrics import answer_in

    sets = {
        "nq": nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", range(0, 100)),
        "multihop": [
            *hotpotqa(DATA / "hotpotqa_distractor.jsonl.gz", range(0, 50)),
            *musique(DATA / "musique_ans_train_sample.jsonl.gz", range(0, 50)),
        ],
        "same_article": squad_same_article(
            DATA / "squad_v1_train_sample.jsonl.gz", range(10, 12), limit=150
        ),
    }
    with out.open("w", encoding="utf-8") as f:
        for muw in (15, None):
            comp = get_compressor(token_counter="words", max_unit_words=muw)
            for name, examples in sets.items():
                for rate in (0.33, 0.1):
                    hits = words = 0
                    for ex in examples:
                        res = comp.compress(list(ex.contexts), query=ex.question, rate=rate)
                        joined = join_results(res)
                        hits += answer_in(joined, ex.answers)
                        words += len(joined.split())
                    row = {
                        "max_unit_words": muw,
                        "set": name,
                        "rate": rate,
                        "n": len(examples),
                        "survival": round(hits / len(examples), 3),
                        "mean_words": round(words / len(examples), 1),
                    }
                    print(json.dumps(row), flush=True)
                    f.write(json.dumps(row) + "\n")


def _z_within(x: np.ndarray, doc: np.ndarray) -> np.ndarray:
    n = np.bincount(doc).astype(np.float64)
    mean = np.bincount(doc, weights=x) / n
    sd = np.sqrt(np.bincount(doc, weights=(x - mean[doc]) ** 2) / n)[doc]
    return np.where(sd > 0, (x - mean[doc]) / np.where(sd > 0, sd, 1.0), 0.0)


def no_query_run(out: Path) -> None:
    from lingua_core import get_compressor, join_results
    from lingua_core.eval.data import nq_multidoc
    from lingua_core.eval.metrics import answer_in
    from lingua_core.methods._sentences import has_kept, select_with_titles
    from lingua_core.pipeline.select import unit_costs_many
    from lingua_core.pipeline.text import assemble_marked

    nq = [([text], answers, False) for text, answers in nq_gold(NQ, range(0, 300))]
    squad = [
        (
            [f"{art['title']}\n{p['context']}"],
            [x["text"] for qa in p["qas"] for x in qa["answers"]],
            True,
        )
        for art in squad_articles(SQUAD, range(0, 10))
        for p in art["paragraphs"][:30]
    ]
    multi = [(list(e.contexts), list(e.answers), False) for e in nq_multidoc(NQ, range(0, 60))]
    sets = {"nq_gold": nq, "squad_par": squad, "nq20": multi}
    comp = get_compressor(token_counter="words")
    opts = comp.options

    def choose(scorer: Callable[[Any, np.ndarray, list[int]], np.ndarray], texts: list[str]) -> str:
        units, flat, inputs, is_title, _, groups = comp._units(texts, opts)
        sizes = [len(u) for u in units]
        doc = np.repeat(np.arange(len(texts)), sizes)
        score = scorer(inputs, doc, sizes)
        costs = np.concatenate(unit_costs_many(texts, units, comp.token_counter))
        n_tokens = comp.token_counter.count(texts)
        keep = np.zeros(len(flat), dtype=bool)
        for i, n in enumerate(n_tokens):
            idx = np.flatnonzero(doc == i)
            keep[idx] = select_with_titles(
                score[idx], costs[idx], 0.33 * n, doc[idx] - i, is_title[idx]
            )
        keep |= is_title & has_kept(keep & ~is_title, doc)[doc]
        parts = np.split(keep, np.cumsum(sizes)[:-1])
        return "\n\n".join(
            assemble_marked(t, u, k, g)[0] for t, u, k, g in zip(texts, units, parts, groups)
        )

    def lead(inputs: Any, doc: np.ndarray, sizes: list[int]) -> np.ndarray:
        first = np.r_[0, np.cumsum(sizes)[:-1]]
        return -(np.arange(doc.shape[0]) - first[doc]).astype(np.float64)

    def central(inputs: Any, doc: np.ndarray, sizes: list[int]) -> np.ndarray:
        vecs = comp.embedder().embed(inputs).astype(np.float64)
        centroid = np.zeros((len(sizes), vecs.shape[1]))
        np.add.at(centroid, doc, vecs)
        centroid /= np.maximum(np.linalg.norm(centroid, axis=1, keepdims=True), 1e-12)
        return np.einsum("ij,ij->i", vecs, centroid[doc])

    def fused(inputs: Any, doc: np.ndarray, sizes: list[int]) -> np.ndarray:
        return _z_within(central(inputs, doc, sizes), doc) + _z_within(
            lead(inputs, doc, sizes), doc
        )

    def rand(inputs: Any, doc: np.ndarray, sizes: list[int]) -> np.ndarray:
        return np.random.default_rng(len(inputs)).random(doc.shape[0])

    naive = get_compressor("naive", token_counter="words")
    candidates: dict[str, Callable[[list[str]], str]] = {
        "leading sentences": lambda texts: choose(lead, texts),
        "central sentences": lambda texts: choose(central, texts),
        "central + leading (z, 1:1)": lambda texts: choose(fused, texts),
        "random sentences": lambda texts: choose(rand, texts),
        "naive": lambda texts: join_results(naive.compress(texts, rate=0.33)),
    }
    with out.open("w", encoding="utf-8") as f:
        for name, run in candidates.items():
            row: dict[str, Any] = {"choice": name, "rate": 0.33}
            for set_name, items in sets.items():
                total = 0.0
                for texts, answers, each in items:
                    kept = run(texts)
                    if each:
                        total += float(np.mean([answer_in(kept, [a]) for a in answers]))
                    else:
                        total += answer_in(kept, answers)
                row[set_name] = round(total / len(items), 3)
            print(json.dumps(row), flush=True)
            f.write(json.dumps(row) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--units", action="store_true")
    ap.add_argument("--no-query", action="store_true")
    args = ap.parse_args()
    if args.units:
        units_run(RESULTS / "tune_units.jsonl")
    if args.no_query:
        no_query_run(RESULTS / "tune_no_query.jsonl")


if __name__ == "__main__":
    main()
