"""Benchmark: cost of the orthogonal-Jacobian architectures and of the Jacobian-orthogonality penalty (paper 003).

1. Forward+backward of one training step (cross-entropy on a random batch, jacstab's own training step
   ``training.loop._Run.loss``) for the orthogonal-Jacobian nets (groupsort, abs, reflection block; orthogonal
   init, sigma2 = 1) and the partial-isometry net (half_relu) against a plain ReLU MLP of the same width and depth
   (He init). Target: within 1.5x of ReLU.
2. The regulariser's overhead: the same step with ``jac_reg > 0`` and 1 probe (one jvp + one vjp of a batch-1
   input, differentiated), against the plain step. Target: <= 2x.
3. ``orthogonal_param``: the step with the trainable orthogonal parametrisation (Cayley map per layer).

Median of ``--repeats`` timed steps after 2 warm-up steps, float32, one process; ratios against the ReLU baseline
measured in the same run.

    python benchmarks/bench_orthogonal.py [--device cuda] [--repeats 20] [--sizes 64x100x32,256x50x128]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import jacstab
from jacstab.training.data import Dataset
from jacstab.training.loop import _Run

ARCHS = {
    "relu (He)": dict(activation="relu", sigma2=2.0),
    "groupsort + orthogonal": dict(activation="groupsort", init="orthogonal", sigma2=1.0),
    "abs + orthogonal": dict(activation="abs", init="orthogonal", sigma2=1.0),
    "reflection block": dict(activation="relu", block="reflection", init="orthogonal", sigma2=1.0),
    "half_relu + orthogonal": dict(activation="half_relu", init="orthogonal", sigma2=1.0),
}


def _sync(dev) -> None:
    if torch.device(dev).type == "cuda":
        torch.cuda.synchronize()


def step_seconds(spec, batch: int, repeats: int, dev, **options) -> float:
    """Median seconds of one optimiser step (forward, backward, update) of jacstab's training loop."""
    d = spec.input_dim
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, d, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    ds = Dataset("bench", "", "", x, y, x[:2], y[:2], x[:2], y[:2], 10, 0.0, 1.0)
    net = jacstab.sample(spec, 0)
    run = _Run(net, ds.to(dev, torch.float32), 0.01, "sgd", 0.0, batch, 0, torch.device(dev), torch.float32,
               x[0].double(), **options)
    xb, yb = x.to(dev), y.to(dev)
    times = []
    for i in range(repeats + 2):
        _sync(dev)
        t = time.perf_counter()
        loss = run.loss(xb, yb)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        _sync(dev)
        if i >= 2:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--sizes", default="64x100x32,128x100x128,512x20x256", help="WIDTHxDEPTHxBATCH,...")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print(f"{'n x L x batch':>16} {'architecture':>28} {'ms/step':>9} {'x ReLU':>7}")
    for size in args.sizes.split(","):
        n, L, b = (int(v) for v in size.split("x"))
        base = None
        for name, kw in ARCHS.items():
            spec = jacstab.NetSpec(n, L, in_dim=784, **kw)
            s = step_seconds(spec, b, args.repeats, args.device)
            base = s if base is None else base
            print(f"{size:>16} {name:>28} {1e3 * s:9.2f} {s / base:7.2f}")
        relu = jacstab.NetSpec(n, L, in_dim=784, **ARCHS["relu (He)"])
        s = step_seconds(relu, b, args.repeats, args.device, jac_reg=0.01, jac_probes=1)
        print(f"{size:>16} {'relu + jac_reg (1 probe)':>28} {1e3 * s:9.2f} {s / base:7.2f}")
        gs = jacstab.NetSpec(n, L, in_dim=784, **ARCHS["groupsort + orthogonal"])
        s = step_seconds(gs, b, args.repeats, args.device, orthogonal_param=True)
        print(f"{size:>16} {'groupsort + orthogonal_param':>28} {1e3 * s:9.2f} {s / base:7.2f}")


if __name__ == "__main__":
    main()
