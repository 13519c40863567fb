"""Shared by the benchmark scripts: the NQ passages they run on."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nq-open-oracle.jsonl.gz"
ROOT = Path(__file__).resolve().parents[1]

#: The reference's recommended LongLLMLingua settings (its README), our ``longllmlingua`` defaults.
LONG_SETTINGS = {
    "rank_method": "longllmlingua",
    "condition_in_question": "after_condition",
    "condition_compare": True,
    "reorder_context": "sort",
    "dynamic_context_compression_ratio": 0.3,
    "context_budget": "+100",
}


def add_reference_args(ap: object) -> None:
    """``--ref-python`` and ``--ref-model``: the venv and model of ``reference_env.sh``."""
    import os

    ap.add_argument(  # type: ignore[attr-defined]
        "--ref-python",
        default=os.environ.get("REF_PYTHON", str(ROOT / "benchmarks/.ref-venv/bin/python")),
    )
    ap.add_argument(  # type: ignore[attr-defined]
        "--ref-model",
        default=os.environ.get(
            "REF_MODEL", str(ROOT / "benchmarks/.ref-smollm2-transformers-4.44")
        ),
    )


def load_passages(path: Path, n: int) -> list[str]:
    """The first ``n`` gold passages of the NQ oracle file, as ``title\\ntext``."""
    texts = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts.append(f"{row['ctxs'][0]['title']}\n{row['ctxs'][0]['text']}")
            if len(texts) == n:
                break
    return texts


def _normalize(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation or articles, single spaces."""
    import re
    import string
    import unicodedata

    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def answer_survives(context: str, answers: list[str]) -> bool:
    """Whether any normalised gold answer occurs, on word boundaries, in the normalised context."""
    ctx = f" {_normalize(context)} "
    return any(f" {a} " in ctx for a in map(_normalize, answers) if a)


def rag_examples(path: Path, questions: range, k: int = 20, seed: int = 0) -> list[dict]:
    """Multi-document QA examples built from the NQ oracle file.

    Each question gets its gold passage and ``k - 1`` distractors: the other questions' gold
    passages that score highest under BM25 against the question and contain none of its answers.
    The gold passage goes to a position drawn from ``numpy.random.default_rng(seed + index)``.
    Passages are ``title\\ntext``.

    Returns:
        Dicts with ``index``, ``question``, ``answers``, ``texts`` and ``gold`` (its position).
    """
    import numpy as np

    from lingua_core.rank import bm25_scores

    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
    passages = [f"{r['ctxs'][0]['title']}\n{r['ctxs'][0]['text']}" for r in rows]
    out = []
    for qi in questions:
        row = rows[qi]
        scores = bm25_scores(passages, row["question"])
        distractors: list[int] = []
        seen = {passages[qi]}
        for j in np.argsort(-scores, kind="stable").tolist():
            if len(distractors) == k - 1:
                break
            if j == qi or passages[j] in seen or answer_survives(passages[j], row["answers"]):
                continue
            seen.add(passages[j])
            distractors.append(j)
        pos = int(np.random.default_rng(seed + qi).integers(0, k))
        ids = [*distractors[:pos], qi, *distractors[pos:]]
        out.append(
            {
                "index": qi,
                "question": row["question"],
                "answers": row["answers"],
                "texts": [passages[i] for i in ids],
                "gold": pos,
            }
        )
    return out
