"""Public spectral functions on the log-domain QR chain: every log singular value, Lyapunov spectra with error bars.

Both come from :mod:`jacstab.engine._qrchain` (one chain module). References: Benettin, Galgani, Giorgilli,
Strelcyn (1980) for the QR method; Newman (1986) for Gaussian products; Haas et al. (2026, paper 002) for the
finite-depth view ``(1/d) log sigma_i(J^(d)) -> lambda_i`` and spectral separation; Borkar (2026, paper 004) for
residual networks (every function here accepts them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from jacstab._checks import check_int, is_int
from jacstab.engine._masks import check_depth, check_input, check_network
from jacstab.engine._qrchain import log_svd_chain, lyapunov_chain
from jacstab.nets.network import Network

LYAPUNOV_BATCHES = 20  # batch means over the product: 20 batches (stderr from 19 degrees of freedom)


def _check_depths(net: Network, depths) -> list[int]:
    if isinstance(depths, (str, bytes)) or not isinstance(depths, Sequence) or len(depths) == 0:
        raise ValueError(f"depths must be a non-empty sequence of integers in [1, {net.depth}], got {depths!r}")
    out = []
    for d in depths:
        if not is_int(d) or not 1 <= d <= net.depth:
            raise ValueError(f"depths must hold integers in [1, {net.depth}] (the sampled depth), got {d!r}")
        out.append(int(d))
    return out


def _pad(log_s: torch.Tensor, n: int, k: int) -> torch.Tensor:
    out = torch.full((n,), -math.inf, dtype=torch.float64)
    out[: log_s.numel()] = log_s
    return out[:k]


def log_singular_values(
    net: Network,
    x: torch.Tensor | None = None,
    *,
    depth: int | None = None,
    k: int | None = None,
    depths: Sequence[int] | None = None,
) -> torch.Tensor:
    """``log sigma_i(J^(depth))`` for every ``i`` (or the top ``k``), descending, float64, accurate for every ``i``.

    .. math:: J^{(d)} = F_d \\cdots F_1 = Q_d T_d,\\qquad F_d Q_{d-1} = Q_d R_d,\\qquad T_d = R_d \\cdots R_1,
              \\qquad \\sigma_i(J^{(d)}) = \\sigma_i(T_d)

    with ``F_d = W_d D_{d-1}`` (paper 001 eq. 2) or ``I + alpha W_d D_{d-1}`` (residual, paper 004). The graded
    triangular ``T_d`` is kept row-scaled in the log domain and its SVD is a one-sided Jacobi SVD in the same form
    (:mod:`jacstab.engine._qrchain`): relative accuracy for every singular value even when ``sigma_1 / sigma_n``
    exceeds 1e300, where ``singular_values(method="dense")`` resolves only values above ``eps sigma_1``.
    (Tested against mpmath at 400 digits: ~1e-15 relative in ``log sigma`` at ``sigma_1/sigma_n = e^570``.)
    A float32 network is computed in float64 (its weights are exact there). Cost: a QR of an ``n x n`` matrix and a
    triangular product per layer (about 2x a full Lyapunov pass), plus an ``O(n^3)`` Jacobi SVD per reported depth.

    Args:
        net: a sampled Network (MLP or residual); x: raw input of shape ``(in_dim,)`` (default: the spec's
            normalised input).
        depth: ``1..L`` (default ``L``). k: how many, from the top (default all ``n``; the cost is that of all).
        depths: instead of ``depth``, several depths from one pass (ascending order not required).

    Returns:
        ``(k,)`` float64 (``-inf`` for exact zeros, e.g. ReLU beyond the rank ``min_d |a_d|``); with ``depths``,
        ``(len(depths), k)`` in the order given.

    Raises:
        TypeError: ``net`` is not a Network. ValueError: bad ``x``, ``depth``, ``depths`` or ``k``; both ``depth``
        and ``depths``. RuntimeError: the Jacobi SVD did not converge (never seen; it converges quadratically).

    Example:
        >>> net = jacstab.sample(jacstab.NetSpec(64, 2000, activation="linear", sigma2=1.0), seed=0)
        >>> jacstab.log_singular_values(net)[-1]    # about -2000 * 1.9: far below eps * sigma_1
    """
    net = check_network(net)
    x = check_input(net, x)
    if depths is not None and depth is not None:
        raise ValueError("give depth or depths, not both")
    ds = _check_depths(net, depths) if depths is not None else [check_depth(net, depth)]
    kk = net.width if k is None else min(check_int("k", k, 1), net.width)
    gates = net.gates(x, max(ds))
    got = {}
    for r in log_svd_chain(net, gates, ds):
        got[r.depth] = _pad(r.log_s, net.width, kk)
    if depths is None:
        return got[ds[0]]
    return torch.stack([got[d] for d in ds])


@dataclass(frozen=True)
class LyapunovSpectrum:
    """Finite-depth Lyapunov exponents with their error bars (from :func:`lyapunov`), sorted descending.

    Attributes:
        exponents: ``(k,)`` ``lambda_i = (1/L) sum_d log |R_d[i,i]|`` (natural log per layer; ``-inf`` beyond
            the rank of ``J``).
        stderr: ``(k,)`` standard errors by batch means over the product: the ``L`` per-layer terms split into
            ``batches`` consecutive batches, ``stderr = std(batch means, ddof=1) / sqrt(batches)`` (valid when the
            batches are longer than the chain's correlation length, a few layers away from degenerate exponents;
            ``nan`` for ``L < 2``; ``0`` for exact ``-inf`` directions). Over seeds: run several and use the lab.
        log_r: ``(L, k)`` the per-layer ``log |R_d[i,i]|`` (columns in the order of ``exponents``).
        frame: ``(n, k)`` the final orthonormal frame ``Q_L`` (columns in the same order): its span approximates
            the top-``k`` left singular subspace of ``J`` as ``L`` grows.
        depth, batches: ``L`` and the number of batches.
    """

    exponents: torch.Tensor
    stderr: torch.Tensor
    log_r: torch.Tensor
    frame: torch.Tensor
    depth: int
    batches: int

    def rows(self) -> list[dict[str, float]]:
        """``{index, exponent, stderr}`` per exponent (index 1-based)."""
        return [
            {"index": i, "exponent": float(e), "stderr": float(s)}
            for i, (e, s) in enumerate(zip(self.exponents.tolist(), self.stderr.tolist()), 1)
        ]


def batch_stderr(log_r: torch.Tensor, batches: int) -> torch.Tensor:
    """Standard error of the column means of ``log_r`` (``L x k``) by ``batches`` batch means (see above)."""
    depth = log_r.shape[0]
    b = min(batches, depth)
    if log_r.shape[1] == 0:  # no direction survives (J = 0)
        return torch.empty(0, dtype=torch.float64)
    if b < 2:
        return torch.full((log_r.shape[1],), math.nan, dtype=torch.float64)
    means = torch.stack([c.mean(0) for c in torch.tensor_split(log_r, b, dim=0)])
    exact = torch.isneginf(log_r).any(0)
    se = means.std(0, correction=1) / math.sqrt(b)
    return torch.where(exact, torch.zeros_like(se), se)


def lyapunov(
    net: Network,
    x: torch.Tensor | None = None,
    k: int | None = None,
    *,
    seed: int = 0,
    batches: int = LYAPUNOV_BATCHES,
) -> LyapunovSpectrum:
    """Top-``k`` (default all ``n``) finite-depth Lyapunov exponents of ``J`` with standard errors, per-layer terms
    and the final frame: a :class:`LyapunovSpectrum`.

    .. math:: \\lambda_i = \\frac{1}{L} \\sum_{d=1}^{L} \\log |R_d[i,i]|,\\qquad F_d Q_{d-1} = Q_d R_d

    Benettin's QR method with a Haar-random initial frame (``seed``); ``F_d`` is ``W_d D_{d-1}`` on active units or
    ``I + alpha W_d D_{d-1}`` for a residual block. Compare with ``jacstab.theory.gaussian_lyapunov`` (Newman
    1986, linear Gaussian) and ``jacstab.theory.residual`` (paper 004). :func:`jacstab.lyapunov_exponents` returns
    ``.exponents`` of this (same numbers).

    Args:
        net: a sampled Network; x: raw input (default the spec's normalised input); k: how many (default ``n``).
        seed: seeds the initial frame. batches: number of batch means for ``stderr`` (>= 2).

    Raises:
        TypeError: ``net`` is not a Network. ValueError: bad ``x``, ``k``, ``seed`` or ``batches``.
    """
    net = check_network(net)
    x = check_input(net, x)
    k = net.width if k is None else min(check_int("k", k, 1), net.width)
    b = check_int("batches", batches, 2)
    g = torch.Generator().manual_seed(check_int("seed", seed, 0))
    ch = lyapunov_chain(net, net.gates(x), k, g)
    lam = ch.log_r.sum(0) / net.depth
    order = torch.sort(lam, descending=True).indices
    log_r, frame = ch.log_r[:, order], ch.frame[:, order]
    ke = lam.numel()
    exps = torch.full((k,), -math.inf, dtype=torch.float64)
    exps[:ke] = lam[order]
    se = torch.zeros(k, dtype=torch.float64)
    se[:ke] = batch_stderr(log_r, b)
    if ke < k:
        log_r = torch.cat([log_r, torch.full((net.depth, k - ke), -math.inf, dtype=torch.float64)], 1)
        frame = torch.cat([frame, frame.new_zeros(frame.shape[0], k - ke)], 1)
    return LyapunovSpectrum(exps, se, log_r, frame, net.depth, b)
