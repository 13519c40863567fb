"""Shared by the benchmark scripts: the NQ passages they run on."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nq-open-oracle.jsonl.gz"


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
