"""The crash-safe SQLite results store (DESIGN.md section 3, "Store").

One file (default ``jacstab-results.sqlite``), WAL journal. A trial is identified by the SHA-256 of its canonical
spec, seed, metric set and package version; a finished trial (its row and all its values) is written in one
``BEGIN IMMEDIATE`` transaction, so a crash or ``kill -9`` loses at most the trials in flight and never leaves
half a trial. ``INSERT OR IGNORE`` on the trial id makes concurrent writers and reruns duplicate-free.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = "jacstab-results.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    trial_id TEXT PRIMARY KEY,
    spec_json TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'error')),
    error TEXT,
    duration_s REAL,
    finished REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trial_values (
    trial_id TEXT NOT NULL REFERENCES trials(trial_id),
    metric TEXT NOT NULL,
    idx INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, metric, idx)
);
CREATE INDEX IF NOT EXISTS trials_spec ON trials(spec_hash);
"""


def trial_id(spec_json: str, seed: int, metrics: Sequence[str], version: str) -> str:
    """SHA-256 (hex) of the canonical ``{spec, seed, metrics (sorted), version}``."""
    key = json.dumps(
        {"spec": json.loads(spec_json), "seed": seed, "metrics": sorted(metrics), "version": version},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class TrialResult:
    """A finished trial: ``values[metric]`` is the list of numbers of that metric (e.g. the depth curve)."""

    trial_id: str
    spec_json: str
    seed: int
    metrics: tuple[str, ...]
    version: str
    values: dict[str, list[float]]
    status: str = "done"
    error: str | None = None
    duration_s: float | None = None


class Store:
    """SQLite results store; safe for several processes writing at once (WAL + immediate transactions)."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, timeout: float = 60.0):
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"store path {str(self.path)!r} is a directory; give a file name")
        if not self.path.parent.is_dir():
            raise ValueError(f"store path {str(self.path)!r}: folder {str(self.path.parent)!r} does not exist")
        try:
            self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{str(self.path)!r} is not a jacstab results store ({e})") from e

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def finished(self, ids: Iterable[str] | None = None) -> set[str]:
        """The trial ids already stored (done or error), optionally restricted to ``ids``."""
        rows = self.conn.execute("SELECT trial_id FROM trials").fetchall()
        have = {r[0] for r in rows}
        return have if ids is None else have & set(ids)

    def write(self, result: TrialResult) -> bool:
        """Write one finished trial atomically; returns False if it was already stored (nothing written)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    result.trial_id,
                    result.spec_json,
                    hashlib.sha256(result.spec_json.encode()).hexdigest()[:16],
                    result.seed,
                    json.dumps(sorted(result.metrics)),
                    result.version,
                    result.status,
                    result.error,
                    result.duration_s,
                    time.time(),
                ),
            )
            new = cur.rowcount == 1
            if new:
                self.conn.executemany(
                    "INSERT INTO trial_values VALUES (?, ?, ?, ?)",
                    [(result.trial_id, m, i, float(v)) for m, vs in result.values.items() for i, v in enumerate(vs)],
                )
            self.conn.execute("COMMIT")
            return new
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def rows(self) -> list[dict[str, Any]]:
        """Long-format rows ``{trial_id, seed, status, metric, idx, value, **spec fields}``, one per value."""
        out = []
        q = (
            "SELECT t.trial_id, t.spec_json, t.seed, t.status, t.error, v.metric, v.idx, v.value FROM trials t "
            "LEFT JOIN trial_values v ON v.trial_id = t.trial_id ORDER BY t.spec_hash, t.seed, v.metric, v.idx"
        )
        for tid, spec_json, seed, status, error, metric, idx, value in self.conn.execute(q):
            out.append(
                {
                    "trial_id": tid,
                    "seed": seed,
                    "status": status,
                    "error": error,
                    "metric": metric,
                    "idx": idx,
                    "value": value,
                    **json.loads(spec_json),
                }
            )
        return out

    def values(self, tid: str, metric: str) -> list[float]:
        """The values of ``metric`` of a finished trial, in order (empty if absent or failed)."""
        rows = self.conn.execute(
            "SELECT v.value FROM trial_values v JOIN trials t ON t.trial_id = v.trial_id "
            "WHERE v.trial_id = ? AND v.metric = ? AND t.status = 'done' ORDER BY v.idx",
            (tid, metric),
        ).fetchall()
        return [math.nan if r[0] is None else r[0] for r in rows]

    def dataframe(self):
        """:meth:`rows` as a pandas DataFrame (needs pandas: ``pip install 'jacstab[data]'``)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ValueError("Store.dataframe needs pandas: pip install 'jacstab[data]'") from e
        return pd.DataFrame(self.rows())

    def counts(self) -> dict[str, int]:
        """``{"done": ..., "error": ...}``."""
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall())
