"""Row results kept beyond one forward: stored scores and the persistent score cache.

A scorer's forward work is a set of *rows* (token-id sequences), and a row's result (surprisal,
keep-probabilities, an embedding) depends only on the row and the model: forwards are
batch-invariant (:mod:`lingua_core.scorers._batching`). So a result can be computed once (when
a corpus is indexed) and reused by any later call that needs the same row, bit for bit.

- :func:`row_key` names a row: its scorer kind and a 96-bit hash of its token ids.
- :func:`model_fingerprint` names what a result depends on beside the row: the model's files
  (config and weights), its dtype and the device kind, and this encoding's version.
- :class:`CallRows` is what one call brings (rows from stored scores, by model fingerprint), what
  it records (rows it used, for :meth:`Compressor.score`) and the persistent cache it reads and
  writes. :func:`call_rows` makes it current for the calling thread (a context variable), and
  each model's :class:`~lingua_core.models.batcher.MicroBatcher` consults it before computing.
- :class:`RowCache` (:mod:`lingua_core.stored.row_cache`) is the SQLite-backed cache.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import json
from collections.abc import Hashable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np

#: Version of the stored-scores encoding (part of every fingerprint).
ENCODING_VERSION = 1
#: The pseudo model fingerprint under which text units (sentence offsets) are kept: they
#: depend on the segmenter (its version is in their row kind), not on a model.
UNITS = "units"
#: The counters of :attr:`CallRows.stats`.
STAT_KEYS = ("stored", "cache_hits", "cache_misses")


def row_key(kind: str, row: Hashable) -> str:
    """``KIND:HASH`` of one row of token ids (hash: 96 bits of BLAKE2b, base64)."""
    data = np.asarray(row, dtype=np.int64).tobytes()
    digest = hashlib.blake2b(data, digest_size=12).digest()
    return f"{kind}:{base64.b64encode(digest).decode('ascii')}"


def text_key(kind: str, text: str) -> str:
    """``KIND:HASH`` of a text, for scorers whose rows follow from the text and the model."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).digest()
    return f"{kind}:{base64.b64encode(digest).decode('ascii')}"


def encode_array(values: np.ndarray) -> str:
    """A float32 array as base64 (lossless)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.float32).tobytes()).decode()


def decode_array(text: str) -> np.ndarray:
    """The float32 array :func:`encode_array` wrote.

    Raises:
        ValueError: For text that is not base64 of whole float32 values.
    """
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) % 4:
        msg = "not a whole number of float32 values"
        raise ValueError(msg)
    values: np.ndarray = np.frombuffer(raw, dtype=np.float32).copy()
    return values


def model_revision(loaded: Any) -> str:
    """What identifies a loaded model's weights: its config and its weight files' sizes and ends.

    Hashing whole weight files would cost seconds per model; their sizes, first and last 64 KiB
    and the config tell two checkpoints apart (a fine-tune rewrites the ends of the file).
    """
    facts = loaded.facts
    if "revision" not in facts:
        h = hashlib.blake2b(digest_size=16)
        folder = Path(str(loaded.source))
        files = sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors"))
        files += sorted(folder.glob("*.bin"))
        for f in files:
            h.update(f.name.encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
                continue
            size = f.stat().st_size
            h.update(str(size).encode())
            with open(f, "rb") as fh:
                h.update(fh.read(65536))
                fh.seek(max(0, size - 65536))
                h.update(fh.read(65536))
        if not files:  # not a folder (an in-memory model): its class and config
            cfg = getattr(getattr(loaded.model, "config", None), "to_json_string", None)
            h.update(type(loaded.model).__name__.encode())
            h.update((cfg() if callable(cfg) else str(loaded.source)).encode())
        facts["revision"] = h.hexdigest()
    revision: str = facts["revision"]
    return revision


def model_fingerprint(loaded: Any) -> str:
    """What a row's result depends on beside the row: model files, dtype, device kind, version."""
    facts = loaded.facts
    if "fingerprint" not in facts:
        device_kind = str(loaded.device).split(":")[0]
        parts = [ENCODING_VERSION, model_revision(loaded), str(loaded.dtype), device_kind]
        facts["fingerprint"] = hashlib.blake2b(
            json.dumps(parts).encode(), digest_size=8
        ).hexdigest()
    fingerprint: str = facts["fingerprint"]
    return fingerprint


class CallRows:
    """The rows one call brings, records and caches.

    Args:
        known: Row results by model fingerprint, then row key (from stored scores).
        record: Keep every row the call uses in :attr:`recorded`, by model fingerprint.
        cache: The persistent cache to read before computing and write after.
    """

    def __init__(
        self,
        known: Mapping[str, Mapping[str, np.ndarray]] | None = None,
        *,
        record: bool = False,
        cache: Any = None,
    ) -> None:
        self.known = {fp: dict(rows) for fp, rows in (known or {}).items()}
        self.recorded: dict[str, dict[str, np.ndarray]] | None = {} if record else None
        self.cache = cache
        #: Rows served from stored scores and from the cache (the call's stats).
        self.stats = dict.fromkeys(STAT_KEYS, 0)

    @property
    def recording(self) -> bool:
        """Whether the call records its rows.

        Caches above the batcher must then be skipped, or rows they answer would be missing.
        """
        return self.recorded is not None

    def lookup(self, fingerprint: str, keys: list[str]) -> dict[str, np.ndarray]:
        """Results of the ``keys`` that stored scores or the cache hold."""
        found: dict[str, np.ndarray] = {}
        known = self.known.get(fingerprint)
        if known:
            for k in keys:
                if k in known:
                    found[k] = known[k]
            self.stats["stored"] += len(found)
        rest = [k for k in keys if k not in found]
        if rest and self.cache is not None:
            hits = self.cache.get_many(fingerprint, rest)
            self.stats["cache_hits"] += len(hits)
            self.stats["cache_misses"] += len(rest) - len(hits)
            found.update(hits)
        return found

    def computed(self, fingerprint: str, results: Mapping[str, np.ndarray]) -> None:
        """Rows computed for this call: into the cache."""
        if self.cache is not None and results:
            self.cache.put_many(fingerprint, results)

    def used(self, fingerprint: str, results: Mapping[str, np.ndarray]) -> None:
        """Every row the call used (computed or not): recorded when recording."""
        if self.recorded is not None:
            self.recorded.setdefault(fingerprint, {}).update(results)


_CURRENT: contextvars.ContextVar[CallRows | None] = contextvars.ContextVar(
    "lingua_call_rows", default=None
)


def current_call_rows() -> CallRows | None:
    """The calling thread's :class:`CallRows`, if a call set one."""
    return _CURRENT.get()


@contextlib.contextmanager
def call_rows(rows: CallRows | None) -> Iterator[CallRows | None]:
    """Make ``rows`` current for the block (``None``: nothing to bring, record or cache)."""
    token = _CURRENT.set(rows)
    try:
        yield rows
    finally:
        _CURRENT.reset(token)


def merge_rows(
    into: MutableMapping[str, dict[str, np.ndarray]],
    more: Mapping[str, Mapping[str, np.ndarray]],
) -> None:
    """Add ``more`` (rows by fingerprint) to ``into``."""
    for fp, rows in more.items():
        into.setdefault(fp, {}).update(rows)
