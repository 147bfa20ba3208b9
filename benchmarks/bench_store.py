"""Benchmark: what the SQLite store adds to a sweep of many small trials (target: under 5%).

Runs the same N small trials (width 32, depth 20, depth curve) twice in one process: computing only, and
computing + writing each finished trial to a fresh store in its own transaction. Prints the overhead ratio.

    python benchmarks/bench_store.py            # N = 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from jacstab import NetSpec
from jacstab.lab import MetricCall, Store, Trial
from jacstab.lab.trials import compute


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=1000)
    a = ap.parse_args()
    spec, curve = NetSpec(32, 20), (MetricCall.make("depth_curve"),)
    compute(Trial(spec, 0, curve))  # warm-up
    t = time.perf_counter()
    results = [compute(Trial(spec, s, curve)) for s in range(a.trials)]
    t_compute = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "bench.sqlite") as st:
        t = time.perf_counter()
        for s in range(a.trials):
            st.write(compute(Trial(spec, s, curve)))
        t_both = time.perf_counter() - t
        t = time.perf_counter()
        with Store(Path(d) / "writes.sqlite") as st2:
            for r in results:
                st2.write(r)
        t_write = time.perf_counter() - t
    print(
        f"{a.trials} trials: compute {t_compute:.2f} s; compute + store {t_both:.2f} s "
        f"(overhead {100 * (t_both / t_compute - 1):+.1f}%); writes alone {t_write:.3f} s "
        f"({1000 * t_write / a.trials:.2f} ms/trial, {100 * t_write / t_compute:.1f}% of compute)"
    )


if __name__ == "__main__":
    main()
