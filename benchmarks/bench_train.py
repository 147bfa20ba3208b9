"""Benchmark: training (jacstab.train) against a plain hand-written PyTorch loop, and the trainability target.

1. Throughput: one epoch of SGD on the same MLP (same weights, same batches, same order), jacstab's training step
   vs ``nn.Sequential(Linear, ReLU, ...)`` with ``torch.optim.SGD``; examples/s of both and their ratio (target:
   jacstab within 10% of the plain loop), on the CPU and, with ``--device cuda``, on a GPU.
2. Trainability (paper Section 6): Fashion-MNIST, width 128, depth 20, 2 epochs on 10,000 examples, lr chosen from
   {0.1, 0.01, 0.001} on validation: test accuracy for sigma_w^2 = 2 (target >= 55%) and 0.5 (target <= 20%).

    python benchmarks/bench_train.py [--device cuda] [--seeds 3] [--skip-table]

Needs Fashion-MNIST (Debian package dataset-fashion-mnist).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import jacstab
from jacstab.nets.streams import generator
from jacstab.training.loop import STREAM_TRAIN, _Run


def plain_epoch(net, ds, batch_size: int, lr: float, seed: int, dev) -> float:
    """A hand-written loop: nn.Linear layers holding jacstab's weights, the same batch order; returns seconds."""
    layers = [torch.nn.Linear(net.w_in.shape[1], net.width, bias=False)]
    for _ in net.weights:
        layers += [torch.nn.ReLU(), torch.nn.Linear(net.width, net.width, bias=False)]
    layers += [torch.nn.ReLU(), torch.nn.Linear(net.width, net.w_out.shape[0], bias=False)]
    model = torch.nn.Sequential(*layers).to(dev)
    with torch.no_grad():
        linear = [m for m in model if isinstance(m, torch.nn.Linear)]
        for m, w in zip(linear, [net.w_in, *net.weights, net.w_out]):
            m.weight.copy_(w.float())
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = ds.x_train.to(dev), ds.y_train.to(dev)
    order = torch.randperm(len(y), generator=generator(seed, STREAM_TRAIN)).to(dev)
    _sync(dev)
    t = time.perf_counter()
    for start in range(0, len(y), batch_size):
        idx = order[start:start + batch_size]
        loss = F.cross_entropy(model(x.index_select(0, idx)), y.index_select(0, idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(dev)
    return time.perf_counter() - t


def jacstab_epoch(net, ds, batch_size: int, lr: float, seed: int, dev) -> float:
    run = _Run(net, ds.to(dev, torch.float32), lr, "sgd", 0.0, batch_size, seed, dev, torch.float32,
               ds.x_test[0].double())
    _sync(dev)
    t = time.perf_counter()
    run.epoch()
    _sync(dev)
    return time.perf_counter() - t


def _sync(dev) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-table", action="store_true")
    a = ap.parse_args()
    dev = torch.device(a.device)
    ds = jacstab.load_dataset("fashion-mnist", subset=10000)
    print(f"throughput ({dev}, float32, batch 128, 10,000 examples, median of {a.repeats} epochs):")
    print(f"{'width':>6} {'depth':>6} {'plain ex/s':>12} {'jacstab ex/s':>13} {'jacstab/plain time':>19}")
    for width, depth in ((128, 20), (256, 50), (1024, 10)):
        net = jacstab.sample(jacstab.NetSpec(width, depth, in_dim=784), 0)
        jacstab_epoch(net, ds, 128, 0.01, 0, dev)  # warm-up
        plain, ours = [], []
        for _ in range(a.repeats):  # interleaved, so drifting load hits both alike
            plain.append(plain_epoch(net, ds, 128, 0.01, 0, dev))
            ours.append(jacstab_epoch(net, ds, 128, 0.01, 0, dev))
        tp, tj = sorted(plain)[len(plain) // 2], sorted(ours)[len(ours) // 2]
        print(f"{width:>6} {depth:>6} {10000 / tp:>12.0f} {10000 / tj:>13.0f} {tj / tp:>19.3f}")
    if a.skip_table:
        return
    print("\ntrainability: width 128, depth 20, 2 epochs, 10,000 examples, lr from {0.1, 0.01, 0.001} on validation")
    print(f"{'sigma2':>7} {'seed':>5} {'chosen lr':>10} {'val acc':>8} {'test acc':>9} {'ln||J|| init':>13} "
          f"{'ln||J|| end':>12}")
    for sigma2 in (2.0, 0.5):
        for seed in range(a.seeds):
            r = jacstab.train(jacstab.NetSpec(128, 20, sigma2=sigma2), ds, epochs=2, lr=[0.1, 0.01, 0.001],
                              seed=seed, device=dev)
            f = r.final
            print(f"{sigma2:>7g} {seed:>5} {r.chosen_lr:>10g} {f.val_accuracy:>8.4f} {f.test_accuracy:>9.4f} "
                  f"{r.history[0].log_norm:>13.3f} {f.log_norm:>12.3f}")


if __name__ == "__main__":
    main()
