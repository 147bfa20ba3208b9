"""Public measurement functions: depth curves, singular values and Lyapunov exponents of ``J``.

Every quantity is computed in the log domain (a product kept as ``F e^ell`` with ``||F|| ~ 1``), so nothing
overflows or underflows at any depth; values are returned as natural logs where they could leave the float range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from jacstab.engine._chain import (
    MatrixFreeJacobian,
    depth_curve_dense,
    product_at,
    spectral_norm,
)
from jacstab.engine._generic import check_callable_input, jacobian_dense, svals_jvp
from jacstab.engine._krylov import top_eigs
from jacstab.engine._lyapunov import lyapunov_qr
from jacstab.engine._masks import check_depth, check_input, masks
from jacstab.ensembles import Network, sample
from jacstab.specs import check_choice, check_int

Method = Literal["auto", "dense", "lanczos", "jacrev", "jvp"]
METHODS = ("auto", "dense", "lanczos", "jacrev", "jvp")
LANCZOS_MIN_WIDTH = 1024  # auto: matrix-free top-k from this width on (benchmarks/bench_core.py: 1.3-2x faster)


def _check_k(k: int | None, limit: int) -> int:
    if k is None:
        return limit
    check_int("k", k, 1)
    return min(k, limit)


def depth_curve(
    net: Network,
    x: torch.Tensor | None = None,
    *,
    independent: bool = False,
    callback: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """``log ||J^(d)||_2`` for ``d = 1..L`` (natural log, float64, shape ``(L,)``).

    .. math:: J^{(d)} = W_d D_{d-1} \\cdots W_1 D_0, \\qquad D_k = \\mathrm{diag}(\\phi'(Y_k))

    (Dadoun et al. 2025, eq. 2; the paper's Figures 1-4 plot ``||J^(d)||`` against ``d``.) One pass over the layers
    forms the prefix products ``J^(d)`` restricted to active units (``~n^3/4`` multiply-adds a layer for ReLU
    instead of ``n^3``); ``||J^(d)||`` comes from Lanczos on ``J^(d)T J^(d)`` warm-started with the previous top
    right singular vector (relative accuracy ``1e-10`` in float64, ``1e-6`` in float32, with an SVD fallback).

    Args:
        net: a sampled network; x: raw input of shape ``(in_dim,)`` (default: the spec's normalised input).
        independent: the prefixes of one network share their first layers, so the curve's points are correlated
            (each ``J^(d)`` still has exactly the law of a depth-``d`` network's Jacobian). With ``True`` every depth
            uses an independently drawn depth-``d`` network from ``net.spec`` (the paper's protocol), at
            ``L(L+1)/2`` layer products instead of ``L``.
        callback: called with ``d`` after each depth (progress reporting).

    Returns ``-inf`` at depths where ``J^(d) = 0`` exactly (e.g. every ReLU unit inactive).
    """
    x = check_input(net, x)
    if not independent:
        ms = masks(net, x)
        return depth_curve_dense(net, ms, net.depth, callback)
    out = torch.empty(net.depth, dtype=torch.float64)
    for d in range(1, net.depth + 1):
        seed = int(np.random.SeedSequence(net.seed, spawn_key=(7, d)).generate_state(1, dtype=np.uint32)[0])
        sub = sample(dataclasses.replace(net.spec, depth=d), seed, dtype=net.dtype, device=net.device)
        out[d - 1] = log_norm(sub, x)
        if callback is not None:
            callback(d)
    return out


def log_norm(net: Network, x: torch.Tensor | None = None, depth: int | None = None, method: Method = "auto") -> float:
    """``log ||J^(depth)||_2`` (natural log) at one depth, default ``L``: see :func:`singular_values`."""
    return float(singular_values(net, x, k=1, depth=depth, method=method, log=True)[0])


def _finish(logs: torch.Tensor, total: int, k: int, log: bool) -> torch.Tensor:
    """Sort descending, pad with exact zeros (``-inf`` logs) up to ``total``, keep ``k``, exponentiate if asked."""
    logs = torch.sort(logs.detach().to(torch.float64).cpu(), descending=True).values  # plain numbers out
    if logs.numel() < k:
        pad = torch.full((k - logs.numel(),), -math.inf, dtype=torch.float64)
        logs = torch.cat([logs, pad])
    logs = logs[:k]
    if log:
        return logs
    if bool((logs > math.log(torch.finfo(torch.float64).max)).any()):
        raise OverflowError("singular values exceed the float64 range at this depth; pass log=True")
    return torch.exp(logs)


def _svals_network(net, x, k, depth, method, log):
    n = net.width
    k = _check_k(k, n)
    if method == "auto":
        method = "lanczos" if n >= LANCZOS_MIN_WIDTH and k <= n // 8 else "dense"
    if method in ("jacrev", "jvp"):
        y0 = net.w_in @ x
        f = lambda y: net.hidden_map(y, depth)  # noqa: E731
        s = torch.linalg.svdvals(jacobian_dense(f, y0)) if method == "jacrev" else svals_jvp(f, y0, k)
        return _finish(torch.log(s), n, k, log)
    ms = masks(net, x, depth)  # only the analytic paths need the masks
    if min(m.size for m in ms) == 0:
        return _finish(torch.empty(0), n, k, log)
    if method == "lanczos":
        op = MatrixFreeJacobian(net, ms, depth)
        r = top_eigs(
            op.gram,
            op.n_in,
            min(k, op.n_in),
            dtype=net.dtype,
            device=net.device,
            # k = 1: a single vector converges in ~10 steps; k > 1: matmats are memory-bound, so a wide block
            # costs about as much per step as a thin one and needs far fewer steps.
            block=1 if k == 1 else min(max(2 * k, 32), op.n_in),
        )
        if r.converged:
            return _finish(op.log_scale + 0.5 * torch.log(r.values), n, k, log)
        method = "dense"  # not converged within the Krylov budget: exact fallback
    f, ell = product_at(net, ms, depth)
    if f is None:
        return _finish(torch.empty(0), n, k, log)
    s = torch.tensor([spectral_norm(f)[0]], dtype=torch.float64) if k == 1 else torch.linalg.svdvals(f)
    return _finish(ell + torch.log(s), n, k, log)


def singular_values(
    obj: Network | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | None = None,
    k: int | None = None,
    depth: int | None = None,
    method: Method = "auto",
    *,
    log: bool = False,
) -> torch.Tensor:
    """Singular values ``sigma_1 >= sigma_2 >= ...`` of the Jacobian, descending (float64, on the CPU).

    For a :class:`~jacstab.Network`: ``J^(depth) = W_depth D_{depth-1} ... W_1 D_0 = dY_depth/dY_0`` (paper eq. 2),
    all ``n`` values (``k=None``) or the top ``k``. For any torch callable ``f: R^m -> R^m'``: ``J = df/dx`` at
    ``x`` (required), ``min(m, m')`` values.

    Methods (every one selectable, all agree to the dtype's tolerance where they apply):

    * ``dense``: the product formed in the log domain on active units, then ``svdvals`` (or Lanczos for ``k=1``).
      Values below ``eps * sigma_1`` are not resolved (backward stability of the SVD); use ``log=True`` at depths
      where values leave the float range.
    * ``lanczos``: matrix-free block Lanczos on ``J^T J`` through the masked layers (``~L n^2/4`` multiply-adds
      per vector for ReLU); top-``k`` only; the fastest for wide nets and small ``k``.
    * ``jacrev``: ``torch.func.jacrev`` + ``torch.linalg.svdvals`` (the baseline; no log domain, overflows deep).
    * ``jvp``: matrix-free Lanczos with ``torch.func`` jvp/vjp (any callable).
    * ``auto``: ``lanczos`` for width >= 1024 and ``k <= n/8``, else ``dense`` (Network); ``jacrev`` for
      callables unless ``k`` is small and ``m > 1024``.

    Args:
        log: return ``log sigma_i`` (``-inf`` for exact zeros) instead of ``sigma_i``.

    Raises:
        OverflowError: when ``log=False`` and a value exceeds the float64 range.
    """
    check_choice("method", method, METHODS)
    if isinstance(obj, Network):
        x = check_input(obj, x)
        return _svals_network(obj, x, k, check_depth(obj, depth), method, log)
    if not callable(obj):
        raise TypeError(f"obj must be a jacstab Network or a torch callable, got {type(obj).__name__}")
    if depth is not None:
        raise ValueError("depth applies to a jacstab Network only; for a callable, pass the function itself")
    x = check_callable_input(obj, x)
    if method in ("dense", "lanczos"):
        method = "jacrev" if method == "dense" else "jvp"
    if method == "auto":
        method = "jvp" if k is not None and x.numel() > 1024 and k <= x.numel() // 8 else "jacrev"
    if method == "jacrev":
        s = torch.linalg.svdvals(jacobian_dense(obj, x))
        return _finish(torch.log(s), s.numel(), _check_k(k, s.numel()), log)
    kk = _check_k(k, x.numel())
    return _finish(torch.log(svals_jvp(obj, x, kk)), kk, kk, log)


def lyapunov_exponents(
    net: Network, x: torch.Tensor | None = None, k: int | None = None, *, seed: int = 0
) -> torch.Tensor:
    """Top-``k`` (default all ``n``) per-layer Lyapunov exponents of ``J = W_L D_{L-1} ... W_1 D_0``, descending.

    .. math:: \\lambda_i = \\frac{1}{L} \\sum_{d=1}^{L} \\log |R_d[i,i]|,\\qquad
              W_d D_{d-1} Q_{d-1} = Q_d R_d\\ \\text{(QR)}

    Benettin's QR method (Benettin, Galgani, Giorgilli, Strelcyn 1980); as ``L -> inf`` these are the Lyapunov
    exponents of the product (Oseledets); for Gaussian ``N(0, sigma2/n)`` linear layers they tend to
    ``(log(2 sigma2/n) + psi((n-i+1)/2))/2`` (Newman 1986), see ``jacstab.theory``. Natural log, float64.
    ``seed`` fixes the random initial frame. Directions beyond the rank of ``J`` get ``-inf``.
    """
    x = check_input(net, x)
    k = _check_k(k, net.width)
    check_int("seed", seed, 0)
    g = torch.Generator().manual_seed(seed)
    return lyapunov_qr(net, masks(net, x), k, g)
