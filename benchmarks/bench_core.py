"""Benchmark: jacstab's Jacobian engine against the code a user would otherwise write, in one run.

Baselines (same weights, same dtype, same device):
  * autograd: ``torch.autograd.functional.jacobian`` + ``torch.linalg.matrix_norm(ord=2)``
  * jacrev:   ``torch.func.jacrev`` + ``torch.linalg.matrix_norm(ord=2)``
  * gemm:     the plain dense GEMM chain ``W_L ... W_1`` (the floor for forming J; no norm at all)
Measured:
  * norm:   ``jacstab.log_norm`` (spectral norm of J at depth L)
  * curve:  ``jacstab.depth_curve`` (the norm at every depth 1..L); its largest relative error over depths against
            float64 per-depth ``matrix_norm(ord=2)`` of the masked prefixes (``curve_max_rel_err``)
  * lyap:   ``jacstab.lyapunov_exponents(k=10)`` (the QR chain)
  * loop:   a plain Python loop over depths with ``matrix_norm(ord=2)`` (``loop_over_curve`` = loop / curve)
Every ``*_over_gemm`` column is a time divided by the GEMM chain's, measured in the same run on the same device.
  * topk:   ``jacstab.singular_values(k=10)`` at the largest width
Relative errors are against float64 ``svdvals`` of the masked product formed directly in float64.
Ratios > 1 mean jacstab is faster. Timings are medians over ``--repeats`` (baselines: one run).

    python benchmarks/bench_core.py                     # the full grid of the core issue (~10 min on 2 cores)
    python benchmarks/bench_core.py --sizes 256 --depths 10 --topk-width 0   # smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch

import jacstab
from jacstab.engine._chain import product_at
from jacstab.engine._masks import masks

DT = {"float32": torch.float32, "float64": torch.float64}


def timed(fn, repeats: int = 1, device=None):
    out, times = None, []
    for _ in range(repeats):
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def reference_log_norm(net) -> float:
    """float64 masked product formed densely (full n x n matrices), then exact ``matrix_norm(ord=2)``.

    The masks are those of the measured network's own forward pass (its dtype): a float32 forward pass can flip
    the sign of a pre-activation near 0, which changes J itself, not the accuracy of computing it.
    """
    w64 = [w.to(torch.float64) for w in net.weights]
    p = None
    for w, m in zip(w64, masks(net)):
        d = torch.zeros(net.width, dtype=torch.float64, device=w.device)
        d[m.idx] = 1.0 if m.val is None else m.val.to(torch.float64)
        p = w * d if p is None else w @ (d[:, None] * p)
    return math.log(torch.linalg.matrix_norm(p, ord=2).item())


def gemm_chain(net):
    p = net.weights[0]
    for w in net.weights[1:]:
        p = w @ p
    return p


def loop_curve(net):
    """The code a user would write: a plain Python loop over depths, ``matrix_norm(ord=2)`` of each masked prefix."""
    out, p = [], None
    for w, m in zip(net.weights, masks(net)):
        d = torch.zeros(net.width, dtype=w.dtype, device=w.device)
        d[m.idx] = 1.0 if m.val is None else m.val
        p = w * d if p is None else w @ (d[:, None] * p)
        out.append(torch.linalg.matrix_norm(p, ord=2))
    return torch.stack(out)


def reference_curve(net) -> torch.Tensor:
    """``log ||J^(d)||`` for every depth from float64 masked prefixes (the measured net's own masks) and
    ``matrix_norm(ord=2)``: the accuracy reference of the depth curve (fine at the edge of chaos, no overflow)."""
    out, p = [], None
    for w, m in zip(net.weights, masks(net)):
        w = w.to(torch.float64)
        d = torch.zeros(net.width, dtype=torch.float64, device=w.device)
        d[m.idx] = 1.0 if m.val is None else m.val.to(torch.float64)
        p = w * d if p is None else w @ (d[:, None] * p)
        out.append(torch.log(torch.linalg.matrix_norm(p, ord=2)))
    return torch.stack(out).cpu()


def bench_case(n: int, L: int, dtype: str, device, repeats: int, autograd_max_n: int, jacrev_max_n: int) -> dict:
    net = jacstab.sample(jacstab.NetSpec(n, L), 0, dtype=DT[dtype], device=device)
    y0 = net.w_in @ net.default_input()
    f = net.hidden_map
    row = {"dtype": dtype, "n": n, "L": L, "device": str(device)}
    ours, row["norm_s"] = timed(lambda: jacstab.log_norm(net), repeats, device)
    curve, row["curve_s"] = timed(lambda: jacstab.depth_curve(net), repeats, device)
    _, row["gemm_s"] = timed(lambda: gemm_chain(net), repeats, device)
    _, row["loop_s"] = timed(lambda: loop_curve(net), 1, device)
    ref = reference_log_norm(net)
    row["norm_rel_err"] = abs(math.expm1(ours - ref))
    row["curve_last_rel_err"] = abs(math.expm1(curve[-1].item() - ref))
    row["jacrev_s"] = row["autograd_s"] = None
    if n <= jacrev_max_n:
        _, row["jacrev_s"] = timed(lambda: torch.linalg.matrix_norm(torch.func.jacrev(f)(y0), ord=2), 1, device)
    if n <= autograd_max_n:
        _, row["autograd_s"] = timed(
            lambda: torch.linalg.matrix_norm(torch.autograd.functional.jacobian(f, y0), ord=2), 1, device
        )
    row["x_vs_autograd"] = row["autograd_s"] / row["norm_s"] if row["autograd_s"] else None
    row["x_vs_jacrev"] = row["jacrev_s"] / row["norm_s"] if row["jacrev_s"] else None
    _, row["lyap_s"] = timed(lambda: jacstab.lyapunov_exponents(net, k=10), repeats, device)
    row["curve_over_gemm"] = row["curve_s"] / row["gemm_s"]
    row["norm_over_gemm"] = row["norm_s"] / row["gemm_s"]
    row["lyap_over_gemm"] = row["lyap_s"] / row["gemm_s"]
    row["loop_over_curve"] = row["loop_s"] / row["curve_s"]
    row["curve_max_rel_err"] = float(torch.expm1((curve - reference_curve(net)).abs()).max())
    return row


def bench_topk(n: int, L: int, k: int, device, check: bool) -> dict:
    net = jacstab.sample(jacstab.NetSpec(n, L), 0, dtype=torch.float32, device=device)
    s, t = timed(lambda: jacstab.singular_values(net, k=k, log=True), 1, device)
    row = {"n": n, "L": L, "k": k, "dtype": "float32", "device": str(device), "topk_s": t, "method": "auto"}
    if check:
        op = product_at(net.to(dtype=torch.float64), masks(net), L)  # float64 product, same masks
        ref = op.log_scale + torch.log(torch.linalg.svdvals(op.f)[:k]).cpu()
        row["max_rel_err"] = float(torch.max(torch.abs(torch.expm1(s - ref))))
    return row


def bench_power(n: int, L: int, device) -> dict:
    """Matrix-free Lanczos (what ``auto`` runs) vs plain power iteration on the same operator ``J^T J``,
    both to the same relative accuracy 1e-10 of ``||J||^2``; counts operator applications."""
    from jacstab.engine._krylov import top_eigs
    from jacstab.engine.operators import MatrixFreeChain

    net = jacstab.sample(jacstab.NetSpec(n, L), 0, device=device)
    op = MatrixFreeChain(net, masks(net), L)
    calls = [0]

    def gram(v):
        calls[0] += 1
        return op.gram(v)

    r, t_l = timed(lambda: top_eigs(gram, op.shape[1], 1, dtype=net.dtype, device=device, block=1), 1, device)
    lanczos_calls, target = calls[0], float(r.values[0])
    calls[0] = 0

    def power():
        v = torch.randn(op.shape[1], 1, generator=torch.Generator().manual_seed(0), dtype=net.dtype).to(device)
        theta = 0.0
        while abs(theta - target) > 1e-10 * target and calls[0] < 100_000:
            w = gram(v / torch.linalg.vector_norm(v))
            theta = float((v / torch.linalg.vector_norm(v)).T @ w)
            v = w
        return theta

    _, t_p = timed(power, 1, device)
    return {
        "n": n,
        "L": L,
        "lanczos_s": t_l,
        "lanczos_products": lanczos_calls,
        "power_s": t_p,
        "power_products": calls[0],
        "power_over_lanczos": t_p / t_l,
    }


def bench_logsv(n: int, L: int, device) -> dict:
    """All n log singular values (log-domain QR chain + Jacobi, issue 13) vs the QR Lyapunov pass over the same
    product (k = n), linear Gaussian layers N(0, 1/n), float64; the ratio is the target (<= 3)."""
    small = jacstab.sample(jacstab.NetSpec(n, 5, activation="linear", sigma2=1.0), 0, device=device)
    jacstab.lyapunov_exponents(small), jacstab.log_singular_values(small)  # warm-up (first-call costs)
    net = jacstab.sample(jacstab.NetSpec(n, L, activation="linear", sigma2=1.0), 0, device=device)
    lam, t_lyap = timed(lambda: jacstab.lyapunov_exponents(net), 1, device)
    logs, t_sv = timed(lambda: jacstab.log_singular_values(net), 1, device)
    spread = float(logs[0] - logs[-1])
    gap = float((logs / L - lam).abs().max())  # (1/L) log sigma_i vs lambda_i: O(1/L) apart
    return {"n": n, "L": L, "lyapunov_s": t_lyap, "logsv_s": t_sv, "logsv_over_lyapunov": t_sv / t_lyap,
            "log_spread": spread, "max_abs_logsv_over_L_minus_lambda": gap}


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 2048])
    ap.add_argument("--depths", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=list(DT))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--autograd-max-n", type=int, default=1024, help="skip the (slow) autograd baseline above")
    ap.add_argument("--jacrev-max-n", type=int, default=2048)
    ap.add_argument("--topk-width", type=int, default=4096, help="0 skips the top-k case")
    ap.add_argument("--topk-check", action="store_true", help="also compute a float64 dense reference (slow)")
    ap.add_argument("--power", type=int, nargs="*", default=[1024], help="widths for Lanczos vs power iteration")
    ap.add_argument("--logsv", type=int, nargs=2, default=[256, 10000], metavar=("N", "L"),
                    help="all log singular values vs the Lyapunov pass at width N, depth L (N = 0 skips)")
    ap.add_argument("--json", default=None, help="write all rows to this file")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}")
    cols = [
        "dtype",
        "n",
        "L",
        "norm_s",
        "jacrev_s",
        "autograd_s",
        "x_vs_jacrev",
        "x_vs_autograd",
        "gemm_s",
        "curve_s",
        "curve_over_gemm",
        "norm_over_gemm",
        "lyap_over_gemm",
        "loop_over_curve",
        "norm_rel_err",
        "curve_max_rel_err",
    ]
    print(" ".join(f"{c:>14}" for c in cols), flush=True)
    for dtype in a.dtypes:  # warm-up: first-call costs of torch.func / autograd are not what we compare
        bench_case(16, 2, dtype, device, 1, 16, 16)
    rows = []
    for dtype in a.dtypes:
        for n in a.sizes:
            for L in a.depths:
                r = bench_case(n, L, dtype, device, a.repeats, a.autograd_max_n, a.jacrev_max_n)
                rows.append(r)
                print(" ".join(f"{fmt(r[c]):>14}" for c in cols), flush=True)
    if a.topk_width:
        r = bench_topk(a.topk_width, 100, 10, device, a.topk_check)
        rows.append(r)
        print(
            f"top-10 singular values, n={r['n']}, L=100, float32: {r['topk_s']:.2f} s"
            + (f", max rel err vs float64 dense {r['max_rel_err']:.2e}" if "max_rel_err" in r else "")
        )
    for n in a.power:
        for L in (10, 100):
            r = bench_power(n, L, device)
            rows.append(r)
            print(
                f"||J||, n={n}, L={L}, float64: Lanczos {r['lanczos_s']:.3f} s ({r['lanczos_products']} products"
                f" J^T J v), power iteration {r['power_s']:.3f} s ({r['power_products']}): "
                f"{r['power_over_lanczos']:.1f}x"
            )
    if a.logsv[0]:
        r = bench_logsv(a.logsv[0], a.logsv[1], device)
        rows.append(r)
        print(
            f"all {r['n']} log singular values, L={r['L']}, float64: {r['logsv_s']:.1f} s vs QR Lyapunov pass "
            f"(k = n) {r['lyapunov_s']:.1f} s: {r['logsv_over_lyapunov']:.2f}x (log sigma_1/sigma_n = "
            f"{r['log_spread']:.4g}; max |log sigma_i / L - lambda_i| = {r['max_abs_logsv_over_L_minus_lambda']:.2e})"
        )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
