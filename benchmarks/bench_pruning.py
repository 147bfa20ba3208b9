"""Benchmark: pruning-at-init scoring times (issue 15 target: GraSP on a width-256, depth-100 MLP with a
256-example batch in under 10 s on 2 cores), SNIP and SynFlow beside it, and one forward+backward pass as the
baseline measured in the same run (the ratios say what each criterion costs in passes).

    python benchmarks/bench_pruning.py [--threads 2] [--width 256] [--depth 100] [--batch 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import torch

import jacstab
from jacstab.nets.schedules import scheduled_masks
from jacstab.pruning import grasp_scores, keep_keys, snip_scores, synflow_scores


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    spec = jacstab.NetSpec(a.width, a.depth)
    net = jacstab.sample(spec, 0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(a.batch, spec.input_dim, generator=g, dtype=torch.float64)
    y = torch.randint(spec.out_dim, (a.batch,), generator=g)

    def fwd_bwd():
        ws = [w.clone().requires_grad_(True) for w in net.weights]
        torch.nn.functional.cross_entropy(net.replace(weights=ws)(x), y).backward()

    rounds = jacstab.NetSpec(a.width, a.depth, prune="synflow", sparsity=0.9).pruning
    shape = (a.width, a.width)
    rows = {
        "forward+backward (baseline)": best(fwd_bwd, a.repeat),
        "snip scores": best(lambda: snip_scores(net, x, y), a.repeat),
        "grasp scores (H g via torch.func)": best(lambda: grasp_scores(net, x, y), a.repeat),
        "synflow scores (1 round)": best(lambda: synflow_scores(net), a.repeat),
        "synflow masks (100 rounds, s = 0.9)": best(
            lambda: scheduled_masks(lambda m: keep_keys("synflow", net, None, m), shape, a.depth, rounds), 1),
    }
    base = rows["forward+backward (baseline)"]
    print(f"width {a.width}, depth {a.depth}, batch {a.batch}, float64, {a.threads} threads, best of {a.repeat}")
    for name, t in rows.items():
        print(f"{name:40s} {t:8.3f} s   {t / base:6.1f} x baseline")
    grasp = rows["grasp scores (H g via torch.func)"]
    print(f"target: GraSP < 10 s -> {'met' if grasp < 10 else 'NOT met'} ({grasp:.2f} s)")


if __name__ == "__main__":
    main()
