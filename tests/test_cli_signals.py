"""Ctrl-C on the command line: exit 130, printed rows kept (whole seeds only, valid JSON), stored trials kept.

No fixed sleeps: each test waits for a readiness signal (a complete row on stdout, finished trials in the store)
before it sends SIGINT. The child gets the default SIGINT disposition back even when pytest itself runs with
SIGINT ignored (under nohup, or a CI runner that ignores it), which Python would otherwise pass on to the child.
"""

import json
import signal
import sqlite3
import subprocess
import sys
import time

import jacstab
from jacstab.lab import Store

# `python -m jacstab`, with Python's Ctrl-C handler installed first: a process started with SIGINT ignored keeps it
# ignored (Python then installs no handler), so the child restores it itself (no preexec_fn: pytest has threads).
LAUNCH = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'jacstab'; import runpy; runpy.run_module('jacstab', run_name='__main__')"
)


def jacstab_process(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs
    )


def test_ctrl_c_keeps_finished_rows_and_valid_json():
    L = 50
    p = jacstab_process("measure", "-n", "32", "-L", str(L), "--seeds", "100000", "--format", "json", bufsize=0)
    try:
        # Unbuffered, so nothing is read ahead of what communicate() gets. "[" then "  {row 1}," : the second
        # line is complete once the second row is out, and a seed's rows are written in one piece.
        head = p.stdout.readline() + p.stdout.readline()
        assert head.startswith(b"[\n  {") and head.endswith(b",\n"), head
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    rows, err = json.loads((head + out).decode()), err.decode()
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert 0 < len(rows) < 100000 * L and len(rows) % L == 0  # only whole seeds, each with all its depths
    seeds = len(rows) // L
    assert [(r["seed"], r["depth"]) for r in rows] == [(s, d) for s in range(seeds) for d in range(1, L + 1)]
    curve = jacstab.depth_curve(jacstab.sample(jacstab.NetSpec(32, L), seeds - 1)).tolist()
    assert [r["log_norm"] for r in rows[-L:]] == curve  # the last seed printed is complete and correct


def _finished(store: str) -> int:
    try:
        with Store(store) as st:
            return len(st.finished())
    except (ValueError, sqlite3.Error):
        return 0  # the file is being created


def test_ctrl_c_stops_a_process_sweep_cleanly(tmp_path):
    store = str(tmp_path / "c.sqlite")
    cmd = ["sweep", "fig3", "--store", store, "--workers", "2"]
    p = jacstab_process(*cmd, text=True)
    try:
        deadline = time.monotonic() + 300
        while _finished(store) < 2:  # readiness: two trials committed
            assert p.poll() is None, p.communicate()[1]
            assert time.monotonic() < deadline, "no trial finished within 300 s"
            time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130 and "Traceback" not in err and "interrupted" in err
    kept = _finished(store)
    assert 2 <= kept < 36
    r = subprocess.run(
        [sys.executable, "-m", "jacstab", *cmd, "--format", "json"], capture_output=True, text=True, check=True
    )
    (row,) = json.loads(r.stdout)
    assert row["skipped"] == kept and row["done"] + row["skipped"] == 36


def test_sigterm_ends_the_sweep_and_its_workers(tmp_path):
    # jacstab 0.1: SIGTERM to the driver left its worker processes (about 470 MB each) running forever
    import psutil

    store = str(tmp_path / "t.sqlite")
    p = jacstab_process("sweep", "fig3", "--store", store, "--workers", "2", text=True)
    try:
        deadline = time.monotonic() + 300
        while _finished(store) < 2:  # readiness: two trials committed, so the workers are busy
            assert p.poll() is None, p.communicate()[1]
            assert time.monotonic() < deadline, "no trial finished within 300 s"
            time.sleep(0.2)
        workers = psutil.Process(p.pid).children(recursive=True)
        assert workers
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 143 and "terminated" in err and "Traceback" not in err
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, [w.pid for w in alive]
    assert _finished(store) >= 2  # committed trials kept
