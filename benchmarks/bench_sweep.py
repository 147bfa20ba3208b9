"""Benchmark: sweep throughput (trials/s) of the quick Figures 1-4 at 1 and 2 workers and on Dask (issue 16, item 3).

Each configuration sweeps the built-ins fig1..fig4 (``--quick``) into a fresh store, one experiment after the
other on one :class:`jacstab.lab.runner.Sweeper`, as ``jacstab reproduce fig1 fig2 fig3 fig4 --quick`` does:

- ``cold``: the timing includes starting the workers (spawned processes import torch, ~2 s each here) and ending
  them: what one command costs;
- ``warm``: the workers were started and ran the same sweep into a scratch store first: the throughput once they
  are up (a long ``reproduce``, or the later experiments of one).

Each row is the median of ``--repeat`` runs (default 3). ``ratio`` is trials/s against the 1-worker process pool in
the same mode, measured in the same run; ``x serial`` against ``serial`` (in the driver, no workers). ``busy`` is
the summed per-trial compute over wall time x workers.
``pool per experiment`` starts a fresh pool for each figure (jacstab before this benchmark's issue).
``--tiny`` adds many very small trials (width 32, depth 20) with and without chunking; ``--cli`` times the whole
command ``jacstab reproduce fig1 fig2 fig3 fig4 --quick`` (interpreter start, worker start, figures and report) per
executor.

    python benchmarks/bench_sweep.py              # about 1-2 minutes on an idle 2-core machine
    python benchmarks/bench_sweep.py --tiny 400 --cli
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from jacstab.lab import Store
from jacstab.lab.builtin import builtin_experiment
from jacstab.lab.experiment import parse_experiment
from jacstab.lab.runner import Sweeper, run_experiment

FIGS = [f"fig{i}" for i in (1, 2, 3, 4)]


def _sweep(sweeper: Sweeper | None, exps, config: tuple) -> tuple[int, float, float]:
    """(trials computed, wall s, summed compute s) of ``exps`` into a fresh store; ``sweeper=None``: a fresh one
    per experiment (``run_experiment``)."""
    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "s.sqlite") as st:
        t0, n = time.perf_counter(), 0
        for exp in exps:
            s = run_experiment(exp, st, executor=config[0], workers=config[1]) if sweeper is None else \
                sweeper.run(exp, st)
            n += s.done + s.errors
        wall = time.perf_counter() - t0
        busy = st.conn.execute("SELECT COALESCE(SUM(duration_s), 0) FROM trials").fetchone()[0]
    return n, wall, busy


def measure(executor: str, workers: int | None, exps, *, warm: bool, chunk_s: float | None = None,
            repeat: int = 1) -> dict:
    """One configuration: trials/s of ``exps``, the median of ``repeat`` runs (cold: each on a new sweeper, worker
    start and end included; warm: on one sweeper after a warm-up sweep)."""
    kw = {} if chunk_s is None else {"chunk_s": chunk_s}
    runs = []
    if warm:
        with Sweeper(executor, workers, **kw) as sw:
            _sweep(sw, exps, (executor, workers))  # every worker has imported and run what these trials need
            runs = [_sweep(sw, exps, (executor, workers)) for _ in range(repeat)]
    else:
        for _ in range(repeat):
            t0 = time.perf_counter()
            with Sweeper(executor, workers, **kw) as sw:
                n, _, busy = _sweep(sw, exps, (executor, workers))
            runs.append((n, time.perf_counter() - t0, busy))  # with the workers' start and end
    n, wall, busy = sorted(runs, key=lambda r: r[1])[len(runs) // 2]
    return {"trials": n, "wall": wall, "rate": n / wall, "busy": busy / (wall * (workers or 1))}


def overheads(workers: int) -> str:
    """What a sweep pays besides compute: a worker's start (spawn, import torch, first trial), the round trip of
    one task on a warm pool, and the driver's own import of torch (a fresh interpreter)."""
    import subprocess
    import sys

    from jacstab.lab.executors import ProcessExecutor

    tiny = parse_experiment({"name": "rt", "seeds": 200, "metrics": ["depth_curve"], "net": {"width": 8, "depth": 2}})
    trials, got = tiny.trials(), []
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    t_torch = time.perf_counter() - t0
    ex = ProcessExecutor(workers, target_s=0.0)
    try:
        t0 = time.perf_counter()
        ex.map(trials[: 2 * workers], got.append)
        t_start = time.perf_counter() - t0
        got.clear()
        t0 = time.perf_counter()
        ex.map(trials, got.append)
        wall = time.perf_counter() - t0
    finally:
        ex.close()
    rt = (wall * workers - sum(r.duration_s for r in got)) / len(got)
    return (f"overheads: import torch {t_torch:.2f} s; {workers} workers started and first trials back "
            f"{t_start:.2f} s; round trip per task on a warm pool {1000 * rt:.2f} ms")


def cli(executor: str, workers: int | None) -> float:
    """Wall seconds of ``jacstab reproduce fig1 fig2 fig3 fig4 --quick`` (a fresh interpreter, store and report
    folder; the figures and report are the same work for every executor)."""
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "jacstab", "reproduce", *FIGS, "--quick", "--store", f"{d}/s.sqlite", "--out",
               f"{d}/report", "--executor", executor, "--format", "json", "--quiet"]
        t0 = time.perf_counter()
        subprocess.run(cmd + (["--workers", str(workers)] if workers else []), check=True, capture_output=True)
        return time.perf_counter() - t0


def _busy() -> tuple[float, float, float]:
    """(wall, CPU seconds of the whole machine, CPU seconds of this process and its reaped children) now."""
    import resource

    cpu = 0.0
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        cpu = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    except (OSError, ValueError):
        pass
    own = sum(getattr(resource.getrusage(who), k) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for k in ("ru_utime", "ru_stime"))
    return time.perf_counter(), cpu, own


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-dask", action="store_true", help="Leave out Dask (2 local workers).")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="The 'all cores' count (default: all).")
    ap.add_argument("--tiny", type=int, default=0, help="Also N tiny trials (32 x 20), chunked vs one per task.")
    ap.add_argument("--repeat", type=int, default=3, help="Runs per configuration (the median is printed).")
    ap.add_argument("--cli", action="store_true", help="Also time `jacstab reproduce fig1..fig4 --quick` per executor.")
    a = ap.parse_args()
    exps = [builtin_experiment(name, quick=True) for name in FIGS]
    start = _busy()
    configs = [("serial", None), ("process", 1), ("process", a.workers)] + ([] if a.no_dask else [("dask", a.workers)])
    print(f"quick {', '.join(FIGS)}: {sum(len(e.trials()) for e in exps)} trials; load average {os.getloadavg()}")
    print(overheads(a.workers))
    print(f"{'mode':5} {'executor':34} {'trials':>6} {'wall s':>7} {'trials/s':>8} {'ratio':>6} {'x serial':>8} "
          f"{'busy':>5}")
    for warm in (False, True):
        rows = [(f"{ex} {w or ''}".strip(), measure(ex, w, exps, warm=warm, repeat=a.repeat)) for ex, w in configs]
        if warm:
            rows.append((f"process {a.workers}, one trial per task",
                         measure("process", a.workers, exps, warm=True, chunk_s=0.0, repeat=a.repeat)))
        else:
            rows.append((f"process {a.workers}, pool per experiment", _per_experiment(exps, a.workers)))
        base, serial = dict(rows)["process 1"]["rate"], dict(rows)["serial"]["rate"]
        for name, r in rows:
            print(f"{'warm' if warm else 'cold':5} {name:34} {r['trials']:6d} {r['wall']:7.2f} {r['rate']:8.2f} "
                  f"{r['rate'] / base:6.2f} {r['rate'] / serial:8.2f} {r['busy']:5.2f}")
    end = _busy()
    print(f"other processes used {(end[1] - start[1] - (end[2] - start[2])) / (end[0] - start[0]):.2f} cores on "
          f"average during these runs (0 = the machine was ours)")
    if a.cli:
        walls = {f"{ex} {w or ''}".strip(): cli(ex, w) for ex, w in configs}
        n = sum(len(e.trials()) for e in exps) - 2  # fig4 reuses 2 of fig1's trials
        print("jacstab reproduce fig1..fig4 --quick (with its figures and report): " + "; ".join(
            f"{k} {v:.1f} s ({n / v:.2f} trials/s, ratio {walls['process 1'] / v:.2f})" for k, v in walls.items()))
    if a.tiny:
        tiny = [parse_experiment({"name": "tiny", "seeds": a.tiny, "metrics": ["depth_curve"],
                                  "net": {"width": 32, "depth": 20}})]
        one = measure("process", a.workers, tiny, warm=True, chunk_s=0.0, repeat=a.repeat)
        chunked = measure("process", a.workers, tiny, warm=True, repeat=a.repeat)
        print(f"tiny x{a.tiny}, process {a.workers}, warm: one trial per task {one['rate']:.1f} trials/s, chunked "
              f"{chunked['rate']:.1f} trials/s (ratio {chunked['rate'] / one['rate']:.2f})")


def _per_experiment(exps, workers: int) -> dict:
    t0 = time.perf_counter()
    n, _, busy = _sweep(None, exps, ("process", workers))
    wall = time.perf_counter() - t0
    return {"trials": n, "wall": wall, "rate": n / wall, "busy": busy / (wall * workers)}


if __name__ == "__main__":
    main()
