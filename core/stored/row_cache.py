"""A persistent score cache: row results in SQLite, shared by processes, bounded, LRU.

Keyed by (model fingerprint, row key) (:mod:`lingua_core.stored.rows`), so a passage retrieved
again costs a lookup instead of a forward, in this process or another. The database runs in WAL
mode (readers do not block the writer; several processes write in turn, each write one
transaction), is bounded in bytes (least recently used rows go first) and distrusts its own
contents: a row that does not decode is deleted and computed again. Any error of the file
system (a full disk, a read-only folder) turns the cache off with one warning; the call goes on
without it.

Turn it on per compressor (``get_compressor(..., cache_dir="~/.cache/lingua-scores")``) or for
every compressor with ``$LINGUA_SCORE_CACHE``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Environment variable naming the cache folder when ``cache_dir`` is not given.
CACHE_ENV = "LINGUA_SCORE_CACHE"
DEFAULT_MAX_BYTES = 1 << 30
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    fp TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, atime REAL NOT NULL,
    PRIMARY KEY (fp, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_atime ON rows (atime);
"""


def _busy(error: BaseException) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class RowCache:
    """Row results in ``folder/scores.sqlite``.

    Args:
        folder: The cache folder (created if missing).
        max_bytes: Most bytes of stored values; past it the least recently used rows go.
    """

    def __init__(self, folder: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = Path(folder).expanduser() / "scores.sqlite"
        self.max_bytes = int(max_bytes)
        self.enabled = True
        self._local = threading.local()
        self._lock = threading.Lock()
        self._writes_since_check = 0
        #: Lookups answered and missed, rows written and evicted, corrupt rows dropped.
        self.stats = {"hits": 0, "misses": 0, "writes": 0, "evicted": 0, "corrupt": 0}
        self._guard(self._connect)

    # ------------------------------------------------------------------ plumbing

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            # Switching to WAL does not wait for a busy database (another process creating or
            # switching it at the same moment): retry, a few seconds at most.
            for attempt in range(12):
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.executescript(_SCHEMA)
                    break
                except sqlite3.OperationalError as e:
                    if not _busy(e) or attempt == 11:
                        raise
                    time.sleep(0.01 * 2 ** min(attempt, 8))
            self._local.conn = conn
        return conn

    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.enabled:
            return None
        try:
            return fn(*args)
        except (sqlite3.Error, OSError) as e:
            if isinstance(e, sqlite3.OperationalError) and _busy(e):
                # Other processes held the database past the timeout: skip this lookup or
                # write (it is a cache), keep the cache on.
                logger.warning("score cache %s busy; skipped one operation: %s", self.path, e)
                return None
            if isinstance(e, sqlite3.DatabaseError) and "not a database" in str(e):
                logger.warning("score cache %s is not a database: starting it again", self.path)
                return self._restart(fn, *args)
            self.enabled = False
            logger.warning("score cache %s turned off: %s", self.path, e)
            return None

    def _restart(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            self._local.conn = None
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return fn(*args)
        except (sqlite3.Error, OSError) as e:
            self.enabled = False
            logger.warning("score cache %s turned off: %s", self.path, e)
            return None

    # ------------------------------------------------------------------ the cache

    def get_many(self, fingerprint: str, keys: list[str]) -> dict[str, np.ndarray]:
        """The cached results of ``keys`` (missing and corrupt ones left out)."""
        got: dict[str, np.ndarray] | None = self._guard(self._get_many, fingerprint, keys)
        return got or {}

    def _get_many(self, fingerprint: str, keys: list[str]) -> dict[str, np.ndarray]:
        conn = self._connect()
        out: dict[str, np.ndarray] = {}
        bad: list[str] = []
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = conn.execute(
                f"SELECT key, value FROM rows WHERE fp = ? AND key IN ({marks})",
                [fingerprint, *part],
            ).fetchall()
            for key, value in rows:
                if isinstance(value, bytes) and len(value) % 4 == 0:
                    out[key] = np.frombuffer(value, dtype=np.float32).copy()
                else:
                    bad.append(key)
        if out:
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "UPDATE rows SET atime = ? WHERE fp = ? AND key = ?",
                [(now, fingerprint, k) for k in out],
            )
            if bad:
                conn.executemany(
                    "DELETE FROM rows WHERE fp = ? AND key = ?", [(fingerprint, k) for k in bad]
                )
            conn.execute("COMMIT")
        with self._lock:
            self.stats["hits"] += len(out)
            self.stats["misses"] += len(keys) - len(out)
            self.stats["corrupt"] += len(bad)
        return out

    def put_many(self, fingerprint: str, results: Mapping[str, np.ndarray]) -> None:
        """Store row results (replacing what the keys held)."""
        self._guard(self._put_many, fingerprint, results)

    def _put_many(self, fingerprint: str, results: Mapping[str, np.ndarray]) -> None:
        conn = self._connect()
        now = time.time()
        rows = [
            (fingerprint, k, np.ascontiguousarray(v, dtype=np.float32).tobytes(), now)
            for k, v in results.items()
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        with self._lock:
            self.stats["writes"] += len(rows)
            self._writes_since_check += sum(len(r[2]) for r in rows)
            check = self._writes_since_check > self.max_bytes // 20
            if check:
                self._writes_since_check = 0
        if check:
            self._evict(conn)

    def _evict(self, conn: sqlite3.Connection) -> None:
        total = conn.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM rows").fetchone()[0]
        if total <= self.max_bytes:
            return
        goal = int(self.max_bytes * 0.9)
        conn.execute("BEGIN IMMEDIATE")
        freed, n = 0, 0
        for key_fp, key, size in conn.execute(
            "SELECT fp, key, LENGTH(value) FROM rows ORDER BY atime"
        ).fetchall():
            if total - freed <= goal:
                break
            conn.execute("DELETE FROM rows WHERE fp = ? AND key = ?", (key_fp, key))
            freed += size
            n += 1
        conn.execute("COMMIT")
        with self._lock:
            self.stats["evicted"] += n

    def size_bytes(self) -> int:
        """Bytes of stored values."""
        got = self._guard(
            lambda: (
                self._connect()
                .execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM rows")
                .fetchone()[0]
            )
        )
        return int(got or 0)

    def hit_rate(self) -> float | None:
        """Hits over lookups so far (``None`` before any)."""
        n = self.stats["hits"] + self.stats["misses"]
        return None if n == 0 else self.stats["hits"] / n


_CACHES: dict[tuple[str, int], RowCache] = {}
_CACHES_LOCK = threading.Lock()


def open_cache(
    folder: str | os.PathLike[str] | None, max_bytes: int | None = None
) -> RowCache | None:
    """The process's :class:`RowCache` for ``folder`` (``None``: ``$LINGUA_SCORE_CACHE`` or off)."""
    folder = folder if folder is not None else (os.environ.get(CACHE_ENV) or None)
    if folder is None:
        return None
    size = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
    key = (str(Path(folder).expanduser().resolve()), size)
    with _CACHES_LOCK:
        if key not in _CACHES:
            _CACHES[key] = RowCache(folder, max_bytes=size)
        return _CACHES[key]
