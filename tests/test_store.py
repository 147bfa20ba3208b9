"""The SQLite store: atomic trials, resume, concurrent writers, kill -9."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from jacstab import NetSpec
from jacstab.lab import Store, TrialResult, trial_id

SPEC = NetSpec(8, 3).canonical_json()


def _result(seed, n_values=5, spec=SPEC):
    tid = trial_id(spec, seed, ["depth_curve"], "0.1.0")
    return TrialResult(
        tid, spec, seed, ("depth_curve",), "0.1.0", {"depth_curve": [float(seed + i) for i in range(n_values)]}
    )


def test_trial_id_depends_on_every_part():
    base = trial_id(SPEC, 0, ["a", "b"], "1")
    assert base == trial_id(SPEC, 0, ["b", "a"], "1")  # metric order does not matter
    others = {
        trial_id(SPEC, 1, ["a", "b"], "1"),
        trial_id(SPEC, 0, ["a"], "1"),
        trial_id(SPEC, 0, ["a", "b"], "2"),
        trial_id(NetSpec(8, 4).canonical_json(), 0, ["a", "b"], "1"),
    }
    assert base not in others and len(others) == 4


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
        err = TrialResult(_result(4).trial_id, SPEC, 4, ("depth_curve",), "0.1.0", {}, "error", "boom", 0.1)
        assert st.write(err) and st.counts() == {"error": 1}


WRITER = textwrap.dedent("""
    import sys
    from jacstab.lab import Store, TrialResult, trial_id
    spec = {spec!r}
    with Store(sys.argv[1]) as st:
        for seed in range(int(sys.argv[2]), int(sys.argv[3])):
            tid = trial_id(spec, seed, ["m"], "v")
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
