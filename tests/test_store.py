"""The SQLite store: atomic trials, resume, concurrent writers, kill -9."""

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from jacstab import NetSpec
from jacstab.lab import MetricCall, Store, Trial, TrialResult

SPEC = NetSpec(8, 3).canonical_json()
CURVE = (MetricCall.make("depth_curve"),)


def _result(seed, n_values=5):
    trial = Trial(NetSpec(8, 3), seed, CURVE)
    values = {"depth_curve": [float(seed + i) for i in range(n_values)]}
    return TrialResult(trial.id, SPEC, seed, ("depth_curve",), "0.2.0", values, identity=trial.identity_json())


def test_trial_id_hashes_exactly_what_the_computation_reads(monkeypatch):
    spec = NetSpec(8, 3)
    both = (MetricCall.make("spectrum", k=2), MetricCall.make("depth_curve"))
    base = Trial(spec, 0, both).id
    assert base == Trial(spec, 0, both[::-1]).id  # metric order does not matter
    assert MetricCall.make("spectrum") == MetricCall.make("spectrum", k=None)  # defaults are filled in
    others = {
        Trial(spec, 1, both).id,
        Trial(spec, 0, both[1:]).id,
        Trial(spec, 0, (MetricCall.make("spectrum", k=8), both[1])).id,  # k is read by spectrum: new trial
        Trial(NetSpec(8, 4), 0, both).id,
    }
    assert base not in others and len(others) == 4
    with pytest.raises(ValueError, match="input must be gaussian"):
        Trial(spec, 0, both, input="mnist")  # not an input spelling: refused rather than stored under a wrong id
    # a parameter at its default is left out of the identity, so adding parameters later keeps old ids
    assert Trial(spec, 0, (MetricCall.make("spectrum"),)).identity()["metrics"][0]["params"] == {}
    # the package version is not part of the id; a metric's computation version is
    import jacstab.lab.metrics as M

    monkeypatch.setattr("jacstab._version.__version__", "9.9.9")
    assert Trial(spec, 0, both).id == base
    monkeypatch.setitem(M.REGISTRY, "spectrum", dataclasses.replace(M.REGISTRY["spectrum"], version=2))
    assert Trial(spec, 0, both).id != base and Trial(spec, 0, both[1:]).id in others
    monkeypatch.setattr("jacstab.lab.trials.SAMPLER_VERSION", 99)
    assert Trial(spec, 0, both[1:]).id not in others  # a sampler change recomputes every trial


def test_metric_parameters_are_validated():
    with pytest.raises(ValueError, match="takes no parameter 'k'"):
        MetricCall.make("depth_curve", k=2)
    with pytest.raises(ValueError, match="k must be an integer"):
        MetricCall.make("spectrum", k=True)
    with pytest.raises(ValueError, match="did you mean 'spectrum'"):
        MetricCall.make("spectrm")


def test_an_errored_trial_is_replaced_by_its_retry_and_counts_attempts(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        err = TrialResult(_result(0).trial_id, SPEC, 0, ("depth_curve",), "0.2.0", {}, "error", "boom", 0.1)
        assert st.write(err) and st.write(err)  # an error may be retried (and fail again)
        assert st.write(_result(0)) and not st.write(err)  # done is final
        row = st.conn.execute("SELECT status, attempts FROM trials").fetchall()
        assert row == [("done", 3)] and [r["value"] for r in st.rows()] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_store_from_jacstab_0_1_is_upgraded_and_its_trials_kept(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(OLD_SCHEMA)
    con.execute("INSERT INTO trials VALUES ('abc', ?, 'h', 0, '[\"depth_curve\"]', '0.1.0', 'done', NULL, 1.0, 0.0)",
                (SPEC,))
    con.execute("INSERT INTO trial_values VALUES ('abc', 'depth_curve', 0, 1.5)")
    con.commit()
    con.close()
    with Store(path) as st:
        assert st.legacy_count() == 1 and st.counts() == {"done": 1}
        assert [r["value"] for r in st.rows()] == [1.5]  # kept and exported, never reused (its id cannot match)
        assert st.write(_result(0)) and st.legacy_count() == 1


OLD_SCHEMA = """
CREATE TABLE trials (trial_id TEXT PRIMARY KEY, spec_json TEXT NOT NULL, spec_hash TEXT NOT NULL,
    seed INTEGER NOT NULL, metrics TEXT NOT NULL, version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'error')), error TEXT, duration_s REAL, finished REAL NOT NULL);
CREATE TABLE trial_values (trial_id TEXT NOT NULL REFERENCES trials(trial_id), metric TEXT NOT NULL,
    idx INTEGER NOT NULL, value REAL, PRIMARY KEY (trial_id, metric, idx));
"""


def test_roundtrip_resume_and_no_duplicates(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        assert st.write(_result(0)) and st.write(_result(1))
        assert not st.write(_result(0))  # rerun: skipped, nothing duplicated
    with Store(path) as st:  # reopen: resume sees both
        assert st.finished() == {_result(0).trial_id, _result(1).trial_id}
        rows = st.rows()
        assert len(rows) == 10 and [r["value"] for r in rows if r["seed"] == 1] == [1.0, 2.0, 3.0, 4.0, 5.0]
        assert rows[0]["width"] == 8 and st.counts() == {"done": 2}


def test_a_failing_write_leaves_nothing(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        bad = _result(3)
        bad.values["depth_curve"].append("not a number")
        with pytest.raises(ValueError):
            st.write(bad)
        assert st.finished() == set() and st.rows() == []
        err = TrialResult(_result(4).trial_id, SPEC, 4, ("depth_curve",), "0.2.0", {}, "error", "boom", 0.1)
        assert st.write(err) and st.counts() == {"error": 1}


WRITER = textwrap.dedent("""
    import hashlib, sys
    from jacstab.lab import Store, TrialResult
    spec = {spec!r}
    with Store(sys.argv[1]) as st:
        for seed in range(int(sys.argv[2]), int(sys.argv[3])):
            tid = hashlib.sha256(f"{{spec}}-{{seed}}".encode()).hexdigest()
            st.write(TrialResult(tid, spec, seed, ("m",), "v", {{"m": [float(seed)] * int(sys.argv[4])}}))
""").format(spec=SPEC)


def test_two_concurrent_writers(tmp_path):
    path = str(tmp_path / "s.sqlite")
    Store(path).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, path, a, b, "200"]) for a, b in (("0", "150"), ("100", "250"))
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with Store(path) as st:
        assert len(st.finished()) == 250  # overlap 100..149 written once
        per = st.conn.execute("SELECT COUNT(*) FROM trial_values GROUP BY trial_id").fetchall()
        assert {c for (c,) in per} == {200}


def test_kill_9_loses_at_most_the_trial_in_flight(tmp_path):
    path = str(tmp_path / "s.sqlite")
    Store(path).close()
    p = subprocess.Popen([sys.executable, "-c", WRITER, path, "0", "1000000", "2000"])
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some trials are committed
        with Store(path) as st:
            if len(st.finished()) >= 20:
                break
        time.sleep(0.2)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with Store(path) as st:
        n = len(st.finished())
        per = st.conn.execute("SELECT COUNT(*) FROM trial_values GROUP BY trial_id").fetchall()
        assert n >= 20 and len(per) == n and {c for (c,) in per} == {2000}  # no half-written trial


def test_bad_store_paths(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        Store(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        Store(tmp_path / "missing" / "s.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a jacstab results store"):
        Store(junk)


def test_a_store_in_a_read_only_folder_is_read_immutably(tmp_path, monkeypatch):
    # in a read-only folder SQLite cannot create the WAL index, so mode=ro fails; the store then opens it as
    # immutable (root, which runs CI, ignores folder permissions, so the failure is simulated)
    with Store(tmp_path / "s.sqlite") as st:
        st.write(_result(0))
    real, tried = sqlite3.connect, []

    def connect(target, *args, **kwargs):
        tried.append(str(target).rsplit("?", 1)[-1])
        if "mode=ro" in str(target):
            raise sqlite3.OperationalError("unable to open database file")
        return real(target, *args, **kwargs)

    monkeypatch.setattr("jacstab.lab.store.sqlite3.connect", connect)
    with Store(tmp_path / "s.sqlite", readonly=True) as st:
        assert [r["value"] for r in st.rows()] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert tried == ["mode=ro", "immutable=1"]


def test_readonly_store_reads_and_refuses_missing_or_junk(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        st.write(_result(1))
    with Store(tmp_path / "s.sqlite", readonly=True) as st:
        assert [r["value"] for r in st.rows()] == [1.0, 2.0, 3.0, 4.0, 5.0]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            st.write(_result(2))
    with pytest.raises(ValueError, match="no results store"):
        Store(tmp_path / "missing.sqlite", readonly=True)
    (tmp_path / "junk.sqlite").write_bytes(b"junk" * 100)
    with pytest.raises(ValueError, match="not a readable jacstab results store"):
        Store(tmp_path / "junk.sqlite", readonly=True)
