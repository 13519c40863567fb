"""Stored scores: what a method computes once per text at indexing time and reuses per query.

:mod:`~lingua_core.stored.scores` (the payload format and the compressor's
:class:`StoredScores` capability), :mod:`~lingua_core.stored.rows` (the rows a call reads and
records) and :mod:`~lingua_core.stored.row_cache` (the persistent SQLite cache of rows).
"""

from __future__ import annotations

from lingua_core.stored.scores import (
    FORMAT,
    METADATA_KEY,
    StoredScores,
    dumps,
    fingerprint,
    make_payload,
    payload_bytes_per_100_words,
    read_payloads,
)

__all__ = [
    "FORMAT",
    "METADATA_KEY",
    "StoredScores",
    "dumps",
    "fingerprint",
    "make_payload",
    "payload_bytes_per_100_words",
    "read_payloads",
]
