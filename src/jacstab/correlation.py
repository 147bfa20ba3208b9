"""Correlated Gaussian weights (Dadoun et al. 2025, Section 5, and structured alternatives).

* ``eta`` (the paper's model): ``W = W_ind + eta w 1 1^T`` with one scalar ``w ~ N(0, sigma2/n)`` per layer, so
  every pair of entries has ``corr = eta^2 / (1 + eta^2)`` and variance ``(1 + eta^2) sigma2/n``.
* ``row``: ``W_ij = sqrt(sigma2/n) (sqrt(1-rho) Z_ij + sqrt(rho) R_i)``: entries of a row share ``R_i``;
  ``corr = rho`` within a row, 0 across rows, variance ``sigma2/n`` (unchanged).
* ``col``: the same with a shared component per column.
* ``ar1``: along each row, ``G_ij = rho G_i,j-1 + sqrt(1-rho^2) Z_ij`` (stationary AR(1)): a Toeplitz correlation
  ``corr(W_ij, W_ik) = rho^{|j-k|}``, variance ``sigma2/n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def structured_normal(z: torch.Tensor, kind: str, rho: float, shared: torch.Tensor | None) -> torch.Tensor:
    """Turn an iid standard normal ``n x n`` matrix ``z`` into a unit-variance correlated one.

    ``shared``: ``n`` extra standard normals (the row/column components) for ``row``/``col``.
    """
    if kind == "none" or rho == 0.0:
        return z
    if kind == "row":
        return math.sqrt(1 - rho) * z + math.sqrt(rho) * shared[:, None]
    if kind == "col":
        return math.sqrt(1 - rho) * z + math.sqrt(rho) * shared[None, :]
    g = torch.empty_like(z)
    g[:, 0] = z[:, 0]
    s = math.sqrt(1 - rho * rho)
    for j in range(1, z.shape[1]):
        g[:, j] = rho * g[:, j - 1] + s * z[:, j]
    return g


def realised_correlation(weights: Sequence[torch.Tensor], kind: str, eta: float = 0.0) -> float:
    """Estimate the correlation the model targets from the realised matrices (pooled over layers).

    ``eta``/``none``: the all-pairs correlation, ``(mean_k S_k^2 - mean_k Q_k) / (N (N-1))`` over
    ``mean_k Q_k / N`` with ``S_k`` the sum and ``Q_k`` the sum of squares of layer ``k``'s ``N = n^2`` entries
    (unbiased for the covariance when the mean is 0); ``row``/``col``: the same within rows/columns; ``ar1``:
    the lag-1 autocorrelation along rows.
    """
    w = torch.stack([x.to(torch.float64) for x in weights])
    q = (w * w).sum(dim=(1, 2)).mean().item()
    if kind == "ar1":
        return (w[:, :, 1:] * w[:, :, :-1]).sum(dim=(1, 2)).mean().item() * w.shape[2] / (w.shape[2] - 1) / q
    if kind in ("row", "col"):
        groups = w.sum(dim=2) if kind == "row" else w.sum(dim=1)  # per-row (col) sums, L x n
        m = w.shape[2] if kind == "row" else w.shape[1]
        cov = ((groups**2).sum(1).mean().item() - q) / (w.shape[1] * m * (m - 1))
        return cov / (q / (w.shape[1] * w.shape[2]))
    big_n = w.shape[1] * w.shape[2]
    s = w.sum(dim=(1, 2))
    cov = ((s**2).mean().item() - q) / (big_n * (big_n - 1))
    return cov / (q / big_n)
