"""The crash-safe SQLite results store (README, "Sweeps, the results store, figures and the report").

One file (default ``jacstab-results.sqlite``), WAL journal. A trial is identified by the hash of everything its
computation reads (:class:`jacstab.lab.trials.Trial`); its identity JSON, the jacstab version that computed it and
its attempt count are stored with it. A finished trial (its row and all its values) is written in one
``BEGIN IMMEDIATE`` transaction, so a crash or ``kill -9`` loses at most the trials in flight and never leaves
half a trial. A done trial is never overwritten (concurrent writers and reruns are duplicate-free); an errored one
is replaced by its retry, with the attempt count incremented.

Experiments are registered by name (:meth:`Store.register_experiment`, called by the runner before it computes):
the latest definition of each name (JSON, :mod:`jacstab.lab.catalog`) and every trial id it ever listed, so
``jacstab report`` finds every experiment in a store and exports carry an ``experiment`` column.

Exports (:meth:`Store.rows`, :meth:`Store.dataframe`, :meth:`Store.curves`) are tidy: one row per value, the
position ``index`` 1-based (the depth for ``depth_curve``, the rank for ``spectrum`` and ``lyapunov``), the
experiment(s) holding the trial, and the spec fields.

Stores written by jacstab 0.1 are upgraded in place (new columns added); their trials keep their old ids (which
hashed the package version and not the metric parameters), so they are kept and exported but never reused.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Iterable
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
    finished REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    identity TEXT
);
CREATE TABLE IF NOT EXISTS trial_values (
    trial_id TEXT NOT NULL REFERENCES trials(trial_id),
    metric TEXT NOT NULL,
    idx INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, metric, idx)
);
CREATE INDEX IF NOT EXISTS trials_spec ON trials(spec_hash);
CREATE TABLE IF NOT EXISTS experiments (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    registered REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS experiment_trials (
    experiment TEXT NOT NULL,
    trial_id TEXT NOT NULL,
    PRIMARY KEY (experiment, trial_id)
);
"""
_ADDED_COLUMNS = {"attempts": "INTEGER NOT NULL DEFAULT 1", "identity": "TEXT"}  # since jacstab 0.2


_NOT_SPEC = ["experiment", "trial_id", "spec_hash", "seed", "status", "error", "metric", "index", "value"]


def _pandas():
    try:
        import pandas as pd
    except ImportError as e:
        raise ValueError("Store.dataframe and Store.curves need pandas: pip install 'jacstab[data]'") from e
    return pd


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
    identity: str | None = None


class Store:
    """SQLite results store; safe for several processes writing at once (WAL + immediate transactions)."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, timeout: float = 60.0, readonly: bool = False):
        """Open (or create) the store at ``path``; ``readonly=True`` opens an existing store for reading only
        (works in a read-only folder; nothing is created or upgraded)."""
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"store path {str(self.path)!r} is a directory; give a file name")
        if not self.path.parent.is_dir():
            raise ValueError(f"store path {str(self.path)!r}: folder {str(self.path.parent)!r} does not exist")
        if readonly:
            self.conn = self._open_readonly(timeout)
            return
        try:
            self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
            have = {row[1] for row in self.conn.execute("PRAGMA table_info(trials)")}
            for name, decl in _ADDED_COLUMNS.items():
                if name not in have:
                    self.conn.execute(f"ALTER TABLE trials ADD COLUMN {name} {decl}")
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{str(self.path)!r} is not a jacstab results store ({e})") from e

    def _open_readonly(self, timeout: float) -> sqlite3.Connection:
        if not self.path.is_file():
            raise ValueError(f"no results store at {str(self.path)!r}")
        uri = self.path.resolve().as_uri()
        last: Exception | None = None
        for flags in ("mode=ro", "immutable=1"):  # immutable: a read-only folder cannot hold the WAL index
            try:
                conn = sqlite3.connect(f"{uri}?{flags}", uri=True, timeout=timeout, isolation_level=None)
                conn.execute("SELECT COUNT(*) FROM trials").fetchone()
                return conn
            except sqlite3.DatabaseError as e:
                last = e
        raise ValueError(f"{str(self.path)!r} is not a readable jacstab results store ({last})")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def statuses(self, ids: Iterable[str]) -> dict[str, str]:
        """``{trial_id: "done" | "error"}`` for the stored trials among ``ids``."""
        want = set(ids)
        rows = self.conn.execute("SELECT trial_id, status FROM trials").fetchall()
        return {tid: status for tid, status in rows if tid in want}

    def finished(self, ids: Iterable[str] | None = None) -> set[str]:
        """The trial ids already stored (done or error), optionally restricted to ``ids``."""
        if ids is not None:
            return set(self.statuses(ids))
        return {r[0] for r in self.conn.execute("SELECT trial_id FROM trials").fetchall()}

    def write(self, result: TrialResult) -> bool:
        """Write one finished trial atomically; returns False when nothing was written.

        A trial already stored as ``done`` is kept as it is. One stored as ``error`` is replaced by ``result``
        (a retry), with its attempt count incremented.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            old = self.conn.execute(
                "SELECT status, attempts FROM trials WHERE trial_id = ?", (result.trial_id,)
            ).fetchone()
            if old is not None and old[0] == "done":
                self.conn.execute("COMMIT")
                return False
            attempts = 1 if old is None else old[1] + 1
            if old is not None:
                self.conn.execute("DELETE FROM trial_values WHERE trial_id = ?", (result.trial_id,))
                self.conn.execute("DELETE FROM trials WHERE trial_id = ?", (result.trial_id,))
            self.conn.execute(
                "INSERT INTO trials (trial_id, spec_json, spec_hash, seed, metrics, version, status, error, "
                "duration_s, finished, attempts, identity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    attempts,
                    result.identity,
                ),
            )
            self.conn.executemany(
                "INSERT INTO trial_values VALUES (?, ?, ?, ?)",
                [(result.trial_id, m, i, float(v)) for m, vs in result.values.items() for i, v in enumerate(vs)],
            )
            self.conn.execute("COMMIT")
            return True
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def legacy_count(self) -> int:
        """Trials stored by jacstab 0.1 (old identity scheme): kept and exported, never reused."""
        return int(self.conn.execute("SELECT COUNT(*) FROM trials WHERE identity IS NULL").fetchone()[0])

    def _has_table(self, name: str) -> bool:
        q = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return self.conn.execute(q, (name,)).fetchone() is not None

    def register_experiment(self, name: str, definition: str, trial_ids: Iterable[str]) -> None:
        """Record experiment ``name`` (its JSON ``definition`` replaces an older one of the same name) and add
        ``trial_ids`` to its membership, in one transaction."""
        ids = list(trial_ids)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute("INSERT OR REPLACE INTO experiments VALUES (?, ?, ?)", (name, definition, time.time()))
            pairs = [(name, t) for t in ids]
            self.conn.executemany("INSERT OR IGNORE INTO experiment_trials VALUES (?, ?)", pairs)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def experiment_definitions(self) -> dict[str, str]:
        """``{name: definition JSON}`` of the registered experiments, oldest registration first (a store from
        before jacstab 0.3 has none)."""
        if not self._has_table("experiments"):
            return {}
        q = "SELECT name, definition FROM experiments ORDER BY registered, name"
        return dict(self.conn.execute(q).fetchall())

    def memberships(self) -> dict[str, list[str]]:
        """``{trial_id: [experiment names]}`` (sorted names) for every registered trial."""
        if not self._has_table("experiment_trials"):
            return {}
        out: dict[str, list[str]] = {}
        for exp, tid in self.conn.execute("SELECT experiment, trial_id FROM experiment_trials ORDER BY experiment"):
            out.setdefault(tid, []).append(exp)
        return out

    def rows(self, *, experiment: str | None = None) -> list[dict[str, Any]]:
        """Long-format rows ``{experiment, trial_id, spec_hash, seed, status, error, metric, index, value, **spec
        fields}``, one per value; ``index`` is 1-based (depth for ``depth_curve``, rank for ``spectrum``/``lyapunov``);
        ``experiment`` names the experiments holding the trial (``", "``-joined; None when unregistered).
        ``experiment=NAME`` keeps that experiment's trials only (and names it alone)."""
        member = self.memberships()
        out = []
        q = (
            "SELECT t.trial_id, t.spec_hash, t.spec_json, t.seed, t.status, t.error, v.metric, v.idx, v.value "
            "FROM trials t LEFT JOIN trial_values v ON v.trial_id = t.trial_id "
            "ORDER BY t.spec_hash, t.seed, v.metric, v.idx"
        )
        for tid, spec_hash, spec_json, seed, status, error, metric, idx, value in self.conn.execute(q):
            names = member.get(tid, [])
            if experiment is not None and experiment not in names:
                continue
            out.append(
                {
                    "experiment": experiment if experiment is not None else (", ".join(names) or None),
                    "trial_id": tid,
                    "spec_hash": spec_hash,
                    "seed": seed,
                    "status": status,
                    "error": error,
                    "metric": metric,
                    "index": None if idx is None else idx + 1,
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

    def dataframe(self, *, experiment: str | None = None):
        """:meth:`rows` as a pandas DataFrame (needs pandas: ``pip install 'jacstab[data]'``).

        Spec fields that are None in every row (``threshold``, ``keep`` when unused) are dropped, so grouping by
        the remaining spec columns keeps every row (pandas drops groups whose key is None/NaN)."""
        frame = _pandas().DataFrame(self.rows(experiment=experiment))
        unused = [c for c in frame.columns if c not in _NOT_SPEC and frame[c].isna().all()]
        return frame.drop(columns=unused)

    def curves(self, metric: str = "depth_curve", *, experiment: str | None = None):
        """Tidy DataFrame of one metric's finished values: columns ``experiment, spec_hash, seed, d`` (the prefix
        depth ``1..L`` for ``depth_curve``; ``index``, the 1-based rank, for other metrics), ``value`` (natural log
        for ``depth_curve``, ``spectrum`` and ``lyapunov``), then the spec fields used (all-None ones dropped;
        ``depth`` is the spec's ``L``). ``df.groupby(["spec_hash", "d"])`` or ``df.groupby([*spec fields, "d"])``
        gives one group per setting and depth."""
        frame = self.dataframe(experiment=experiment)
        if frame.empty:
            return frame
        frame = frame[(frame["status"] == "done") & (frame["metric"] == metric)]
        frame = frame.drop(columns=["status", "error", "metric", "trial_id"])
        frame["index"] = frame["index"].astype(int)
        return frame.rename(columns={"index": "d"} if metric == "depth_curve" else {}).reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """``{"done": ..., "error": ...}``."""
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall())
