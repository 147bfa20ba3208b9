"""Lyapunov exponents of the layer product by the QR (Benettin) method."""

from __future__ import annotations

import math

import torch

from jacstab.nets.layers import Gate
from jacstab.nets.network import Network


def lyapunov_qr(net: Network, gates: list[Gate], k: int, generator: torch.Generator) -> torch.Tensor:
    """Top-``k`` finite-depth Lyapunov exponents ``lambda_i = (1/L) sum_d log |R_d[i, i]|``, descending.

    Benettin et al. (1980); Newman (1986) for Gaussian products. ``Q_0`` is a Haar-random ``|a_0| x k`` frame
    (columns of ``J`` outside ``a_0`` are zero); ``Z_d = W_d D_{d-1} Q_{d-1} = Q_d R_d`` with the factor of each
    layer (:meth:`jacstab.nets.layers.Dense.factor`). Directions beyond the rank of ``J`` (``min_d |a_d|`` for
    ReLU) have exponent ``-inf`` exactly and are reported as such.
    """
    net.require_column_restriction()
    depth = len(gates)
    rank = min(m.size for m in gates)
    ke = min(k, rank)
    out = torch.full((k,), -math.inf, dtype=torch.float64)
    if ke == 0:
        return out
    z = torch.randn(gates[0].size, ke, generator=generator, dtype=torch.float64).to(net.weights[0])
    q, _ = torch.linalg.qr(z)
    acc = torch.zeros(ke, dtype=torch.float64, device=q.device)
    for d in range(1, depth + 1):
        blk = net.layers[d - 1].factor(gates[d - 1], gates[d] if d < depth else None)
        q, r = torch.linalg.qr(blk @ q)
        acc += torch.log(torch.abs(torch.diagonal(r))).to(torch.float64)
    out[:ke] = torch.sort(acc.cpu() / depth, descending=True).values
    return out
