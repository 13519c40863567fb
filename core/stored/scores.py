"""Stored scores: the query-independent part of a method's scoring, computed once per text.

:meth:`Compressor.score <lingua_core.base.Compressor.score>` returns one payload per text, a
JSON-safe dict (``json.dumps`` works on it as returned; :func:`dumps` gives the one string a
vector store's metadata takes)::

    {"format": "lingua-scores", "version": 1, "method": "llmlingua2",
     "fingerprint": "…",                  # method + the models' fingerprints
     "rows": {MODEL_FINGERPRINT: {ROW_KEY: BASE64_FLOAT32, ...}}}

A row is one forward row of the text (a classifier chunk, an LM window, an embedded sentence)
and its values are exactly the float32 results the scorer computes online, so selection from
stored scores equals online selection (forwards are batch-invariant). Offsets are not stored:
they come from the tokenizer at query time, which costs microseconds and cannot disagree with
the rows (a row key hashes the token ids).

``compress(texts, scores=[...])`` brings the payloads' rows to the call; a payload that is not
one (truncated, another version, another method or model) is ignored with a warning naming why,
and its text is scored anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lingua_core.options import validate_texts
from lingua_core.registry import methods_that
from lingua_core.stored.rows import (
    ENCODING_VERSION,
    STAT_KEYS,
    UNITS,
    CallRows,
    call_rows,
    current_call_rows,
    decode_array,
    encode_array,
)

if TYPE_CHECKING:
    from lingua_core.stored.row_cache import RowCache

logger = logging.getLogger("lingua_core")

FORMAT = "lingua-scores"
#: The metadata key the framework adapters store payloads under.
METADATA_KEY = "lingua_scores"


def fingerprint(method: str, model_fingerprints: Sequence[str]) -> str:
    """A payload's fingerprint: the method and the fingerprints of the models it scores with."""
    parts = [ENCODING_VERSION, method, sorted(model_fingerprints)]
    return hashlib.blake2b(json.dumps(parts).encode(), digest_size=8).hexdigest()


def make_payload(
    method: str, model_fingerprints: Sequence[str], rows: Mapping[str, Mapping[str, np.ndarray]]
) -> dict[str, Any]:
    """One text's payload from the rows its scoring used (by model fingerprint)."""
    return {
        "format": FORMAT,
        "version": ENCODING_VERSION,
        "method": method,
        "fingerprint": fingerprint(method, model_fingerprints),
        "rows": {
            fp: {k: encode_array(v) for k, v in sorted(r.items())}
            for fp, r in sorted(rows.items())
            if fp in model_fingerprints or fp == UNITS
        },
    }


def dumps(payload: Mapping[str, Any]) -> str:
    """A payload as one compact JSON string (for metadata that takes scalars only)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def _why_not(payload: Any, method: str, expected: str) -> str | None:
    if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
        return "not a lingua-scores payload"
    if payload.get("version") != ENCODING_VERSION:
        return f"encoding version {payload.get('version')!r}, this version reads {ENCODING_VERSION}"
    if payload.get("method") != method:
        return f"scored by {payload.get('method')!r}, not {method!r}"
    if payload.get("fingerprint") != expected:
        return "another model, dtype or device kind (fingerprint differs)"
    if not isinstance(payload.get("rows"), Mapping):
        return "no rows"
    return None


def read_payloads(
    payloads: Sequence[Any], method: str, model_fingerprints: Sequence[str]
) -> dict[str, dict[str, np.ndarray]]:
    """The rows of every usable payload, by model fingerprint (the others logged and skipped).

    Args:
        payloads: One per text: a payload dict, its JSON string, or ``None`` (none stored).
        method: The compressor's method.
        model_fingerprints: The compressor's models' fingerprints.
    """
    expected = fingerprint(method, model_fingerprints)
    out: dict[str, dict[str, np.ndarray]] = {}
    for i, payload in enumerate(payloads):
        if payload is None:
            continue
        if isinstance(payload, (str, bytes)):
            try:
                payload = json.loads(payload)
            except ValueError as e:
                logger.warning(
                    "stored scores of text %d ignored (scored anew): truncated or invalid "
                    "JSON (%s)",
                    i,
                    e,
                )
                continue
        why = _why_not(payload, method, expected)
        if why is None:
            try:
                rows = {
                    fp: {k: decode_array(v) for k, v in r.items()}
                    for fp, r in payload["rows"].items()
                    if fp in model_fingerprints or fp == UNITS
                }
            except (ValueError, TypeError, AttributeError) as e:
                why = f"rows do not decode ({e})"
        if why is not None:
            logger.warning("stored scores of text %d ignored (scored anew): %s", i, why)
            continue
        for fp, r in rows.items():
            out.setdefault(fp, {}).update(r)
    return out


def payload_bytes_per_100_words(
    payloads: Sequence[Mapping[str, Any]], texts: Sequence[str]
) -> float:
    """Size of the payloads as JSON strings, per 100 words of their texts."""
    words = sum(len(t.split()) for t in texts)
    return 100.0 * sum(len(dumps(p)) for p in payloads) / max(1, words)


def _methods_that_store() -> str:
    """The methods that store scores, for error messages."""
    return ", ".join(methods_that("stores_scores"))


class StoredScores:
    """The stored-scores capability of a compressor (:class:`~lingua_core.base.Compressor` has it).

    It gives :meth:`score`, ``compress(texts, scores=...)`` (through :meth:`_stored_rows`), the
    persistent score cache of ``cache_dir`` and :meth:`score_stats`. A method whose scoring has a
    query-independent part sets ``stores_scores = True`` and overrides
    :meth:`_model_fingerprints` and :meth:`_scoring_call`.
    """

    #: Registry name of the method.
    method: ClassVar[str] = ""
    #: Whether the method uses a model (only then is there a score cache).
    uses_model: ClassVar[bool] = False
    #: Whether :meth:`score` can store the method's query-independent scores.
    stores_scores: ClassVar[bool] = False
    #: Folder of the persistent score cache (``None``: ``$LINGUA_SCORE_CACHE``, else off).
    cache_dir: str | None = None

    def __init__(self, cache_dir: str | None = None) -> None:
        self.cache_dir = cache_dir
        self._score_stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._row_cache: RowCache | None = None
        self._row_cache_opened = False

    def score(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Stored scores: each text's query-independent scores, as a JSON-safe payload.

        Compute them once (when the corpus is indexed), keep them with each document
        (:func:`dumps` makes one string of a payload) and pass them back as
        ``compress(texts, scores=...)``: the rows they hold are not computed again, and the
        result equals the online one. Each text is scored alone, under a recording call, so its
        payload holds its own rows; the texts run in threads, whose forwards the model's
        micro-batcher merges into shared batches.

        Raises:
            TypeError: For a bare string or a non-string item.
            ValueError: For a method whose scores all depend on the query (naming those that
                store scores).
        """
        items = validate_texts(texts)
        if not self.stores_scores:
            msg = (
                f"method {self.method!r} has no query-independent scores to store; methods "
                f"that do: {_methods_that_store()}"
            )
            raise ValueError(msg)
        fps = self._model_fingerprints()
        cache = self._score_cache()

        def one(text: str) -> dict[str, Any]:
            rows = CallRows(record=True, cache=cache)
            with call_rows(rows):
                if text.strip():
                    self._scoring_call(text)
            return make_payload(self.method, fps, rows.recorded or {})

        if len(items) <= 1:
            return [one(t) for t in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(8, len(items)), thread_name_prefix="lingua-score") as pool:
            return list(pool.map(one, items))

    def score_stats(self) -> dict[str, int | float | None]:
        """Rows this compressor took from stored scores and the score cache, and the hit rate.

        ``{"stored": ..., "cache_hits": ..., "cache_misses": ..., "cache_hit_rate": ...}``
        (the rate is ``None`` before any lookup).
        """
        with self._stats_lock:
            counts = {k: self._score_stats[k] for k in STAT_KEYS}
        looked = counts["cache_hits"] + counts["cache_misses"]
        out: dict[str, int | float | None] = dict(counts)
        out["cache_hit_rate"] = counts["cache_hits"] / looked if looked else None
        return out

    def _model_fingerprints(self) -> list[str]:
        """Fingerprints of the models whose rows :meth:`score` stores."""
        return []

    def _scoring_call(self, text: str) -> None:
        """Run the method's query-independent scoring of ``text`` (under a recording call)."""
        raise NotImplementedError

    def _score_cache(self) -> RowCache | None:
        """The score cache (opened once: every call asks), or ``None``."""
        if not self.uses_model:
            return None
        if not self._row_cache_opened:
            from lingua_core.stored.row_cache import open_cache

            self._row_cache = open_cache(self.cache_dir)
            self._row_cache_opened = True
        return self._row_cache

    def _stored_rows(self, items: Sequence[str], scores: Sequence[Any] | None) -> CallRows | None:
        """The :class:`CallRows` a ``compress`` call runs under (``None``: nothing to bring).

        Raises:
            ValueError: For ``scores`` that are not one payload per text, or given to a method
                that stores none.
        """
        if current_call_rows() is not None:  # inside score() or a call that set them up
            return None
        cache = self._score_cache()
        if scores is None and cache is None:
            return None
        known: dict[str, dict[str, np.ndarray]] = {}
        if scores is not None:
            if isinstance(scores, (str, bytes, Mapping)) or len(scores) != len(items):
                msg = (
                    f"scores must be a list with one payload (or None) per text: {len(items)} texts"
                )
                raise ValueError(msg)
            if not self.stores_scores:
                msg = (
                    f"method {self.method!r} stores no scores (they depend on the query); "
                    f"methods that do: {_methods_that_store()}"
                )
                raise ValueError(msg)
            if any(p is not None for p in scores):
                known = read_payloads(scores, self.method, self._model_fingerprints())
        return CallRows(known, cache=cache)

    def _count_stored(self, rows: CallRows) -> None:
        """Add a finished call's row counts to :meth:`score_stats`."""
        with self._stats_lock:
            self._score_stats.update(rows.stats)
