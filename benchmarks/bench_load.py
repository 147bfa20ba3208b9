"""Benchmark: a depth curve and a quick sweep on an idle machine and with two other CPU-bound processes running.

Target (issue "numbers users can trust"): under that load, at most 1.5x the idle time. Compares jacstab's thread
policy (``jacstab._threads``: one thread below width 512) with torch's default (all cores). Ratios only; the load
is two ``while True: pass`` processes started and stopped by this script.

    python benchmarks/bench_load.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CURVE = """
import statistics, sys, time, torch, jacstab
torch.set_num_threads(int(sys.argv[3]))
net = jacstab.sample(jacstab.NetSpec(int(sys.argv[1]), int(sys.argv[2])), 0)
jacstab.depth_curve(net)
ts = []
for _ in range(7):
    t = time.perf_counter(); jacstab.depth_curve(net); ts.append(time.perf_counter() - t)
print(statistics.median(ts))
"""


def curve_time(width: int, depth: int, threads: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CURVE, str(width), str(depth), str(threads)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def sweep_time(executor: str) -> float:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jacstab",
                "sweep",
                "fig1",
                "--quick",
                "--store",
                str(Path(d) / "s.sqlite"),
                "--executor",
                executor,
                "--quiet",
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t


def loaded(fn, *args):
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.5)
        return fn(*args)
    finally:
        for h in hogs:
            h.kill()


def main() -> None:
    cores = os.cpu_count() or 1
    print(f"{cores} cores; load = 2 busy processes; ratio = loaded / idle (target <= 1.5)")
    print(f"{'case':44s} {'idle_s':>8s} {'loaded_s':>9s} {'ratio':>6s}")
    for width, depth in ((128, 50), (256, 100)):
        for threads, name in ((1, "jacstab policy (1 thread)"), (cores, f"torch default ({cores} threads)")):
            idle = statistics.median([curve_time(width, depth, threads) for _ in range(2)])
            busy = statistics.median([loaded(curve_time, width, depth, threads) for _ in range(2)])
            print(f"{f'depth curve n={width} L={depth}, {name}':44s} {idle:8.4f} {busy:9.4f} {busy / idle:6.2f}")
    for executor in ("serial", "process"):
        idle, busy = sweep_time(executor), loaded(sweep_time, executor)
        print(f"{f'sweep fig1 --quick, {executor}':44s} {idle:8.2f} {busy:9.2f} {busy / idle:6.2f}")


if __name__ == "__main__":
    main()
