"""Benchmark: the full Approximation 2.1 statistics at the paper's sizes (target: under 20 s on 2 cores).

Times ``jacstab.stats.approx21`` (N networks as one batched computation, layers 1..l drawn from the same seeded
streams as ``sample``) against the obvious loop over networks (``sample(spec, seed).gates(x)`` per network, which
draws all L layers), measured on a subset of the networks in the same run and scaled to N; prints both and the
ratio, and splits the batched time into drawing the weights and the rest.

    python benchmarks/bench_approx21.py                 # N = 1000, L = 30, n = 100, l = 10
    python benchmarks/bench_approx21.py --eta 0.125     # correlated weights
"""

from __future__ import annotations

import argparse
import time

import torch

import jacstab
from jacstab.nets.sampling import hidden_matrix
from jacstab.stats import approx21


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=1000)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--layer", type=int, default=10)
    ap.add_argument("--eta", type=float, default=0.0)
    ap.add_argument("--loop-subset", type=int, default=100, help="networks timed in the loop baseline")
    a = ap.parse_args()
    spec = jacstab.NetSpec(a.width, a.depth, eta=a.eta)
    print(f"torch threads: {torch.get_num_threads()}; N = {a.networks}, n = {a.width}, L = {a.depth}, l = {a.layer}")
    t = time.perf_counter()
    r = approx21(spec, a.networks, a.layer)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    for s in range(a.loop_subset):
        for k in range(1, a.layer + 1):
            hidden_matrix(spec, s, k)
    t_draw = (time.perf_counter() - t) * a.networks / a.loop_subset
    x = jacstab.default_input(a.width)
    t = time.perf_counter()
    for s in range(a.loop_subset):
        jacstab.sample(spec, s).gates(x, a.layer + 1)
    t_loop = (time.perf_counter() - t) * a.networks / a.loop_subset
    print(f"batched approx21 (all tests):         {t_batched:7.2f} s")
    print(f"  of which drawing the N l matrices: ~{t_draw:7.2f} s (one seeded generator per matrix)")
    print(f"loop of sample().gates() (gates only): {t_loop:7.2f} s (scaled from {a.loop_subset} networks)")
    print(f"ratio loop / batched: {t_loop / t_batched:.2f}")
    print("tests:", [(row["test"], round(row["statistic"], 4), f"{row['p_value']:.3g}") for row in r.rows()])


if __name__ == "__main__":
    main()
