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


def answer_survives(context: str, answers: list[str]) -> bool:
    """Whether a normalised gold answer occurs in the context (``lingua_core.eval.answer_in``)."""
    from lingua_core.eval import answer_in

    return answer_in(context, answers)


def rag_examples(path: Path, questions: range, k: int = 20, seed: int = 0) -> list[dict]:
    """:func:`lingua_core.eval.nq_multidoc` examples as the dicts the benchmark scripts use.

    Returns:
        Dicts with ``index``, ``question``, ``answers``, ``texts`` and ``gold`` (its position).
    """
    from lingua_core.eval import nq_multidoc

    return [
        {
            "index": ex.meta["index"],
            "question": ex.question,
            "answers": list(ex.answers),
            "texts": list(ex.contexts),
            "gold": ex.gold,
        }
        for ex in nq_multidoc(path, questions, k=k, seed=seed)
    ]


def _rows(path: Path, wanted: range) -> list[dict]:
    """The JSON lines of a gzipped file whose indices are in ``wanted``."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= wanted.stop:
                break
            if i in wanted:
                out.append(json.loads(line))
    return out


def nq_gold(path: Path, questions: range) -> list[tuple[str, list[str]]]:
    """Gold passages (``title\ntext``) of NQ questions in ``questions``, with their answers."""
    return [
        (f"{r['ctxs'][0]['title']}\n{r['ctxs'][0]['text']}", list(r["answers"]))
        for r in _rows(path, questions)
    ]


def squad_articles(path: Path, articles: range) -> list[dict]:
    """SQuAD articles (``title``, ``paragraphs``) by index; their titles with spaces."""
    return [{**a, "title": a["title"].replace("_", " ")} for a in _rows(path, articles)]
