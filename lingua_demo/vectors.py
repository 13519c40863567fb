"""The demo corpus's passage vectors, stored with it: the demo indexes 300 passages unembedded.

``data/nq_corpus.minilm.npy`` holds the embedded MiniLM's vector of each passage (its title, a
newline and its text), float32, in corpus order; ``data/nq_corpus.minilm.json`` the revision of the
model that computed them and a hash of the texts. ``benchmarks/make_demo_corpus.py --vectors``
writes both. They are used only for that model and those texts; otherwise the passages are
embedded as before, and a log line says why.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from importlib import resources
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

VECTORS = "data/nq_corpus.minilm.npy"
META = "data/nq_corpus.minilm.json"


def texts_hash(texts: list[str]) -> str:
    """What identifies the passages the vectors belong to."""
    return hashlib.sha1(json.dumps(texts).encode("utf-8")).hexdigest()


def passage_texts(corpus: list[dict[str, Any]]) -> list[str]:
    """The text embedded for each corpus row: its title, a newline, its text."""
    return [f"{r['title']}\n{r['text']}" for r in corpus]


def stored_vectors(embedder: Any, texts: list[str]) -> np.ndarray | None:
    """The stored vectors of ``texts`` when ``embedder`` (an ``Embedder``) computed them.

    Returns:
        An array of shape ``(len(texts), dim)``, or None (with an INFO log line saying why)
        when the stored vectors are for another model or other texts, or are not there.
    """
    from lingua_core.stored.rows import model_revision

    data = resources.files("lingua_demo")
    missing = "no stored passage vectors: embedding the corpus"
    try:
        meta = json.loads(data.joinpath(META).read_text("utf-8"))
    except FileNotFoundError:
        logger.info(missing)
        return None
    if meta.get("texts") != texts_hash(texts):
        logger.info("the stored passage vectors are for other texts: embedding the corpus")
        return None
    if meta.get("model_revision") != model_revision(embedder.loaded()):
        logger.info("the stored passage vectors are for another encoder: embedding the corpus")
        return None
    try:  # read only once the cheap checks passed
        raw = data.joinpath(VECTORS).read_bytes()
    except FileNotFoundError:
        logger.info(missing)
        return None
    vectors = np.load(io.BytesIO(raw), allow_pickle=False)
    if vectors.shape[0] != len(texts):
        logger.info("the stored passage vectors do not match the corpus: embedding it")
        return None
    return np.asarray(vectors, dtype=np.float32)


def write_vectors(embedder: Any, texts: list[str], folder: Any) -> None:
    """Embed ``texts`` with ``embedder`` and write the vectors and their facts into ``folder``."""
    from pathlib import Path

    from lingua_core.stored.rows import model_revision

    out = Path(folder)
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    np.save(out / Path(VECTORS).name, vectors, allow_pickle=False)
    meta = {"model_revision": model_revision(embedder.loaded()), "texts": texts_hash(texts)}
    (out / Path(META).name).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
