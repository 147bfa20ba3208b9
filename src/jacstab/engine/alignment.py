"""Singular-vector alignment across a split of the product (Haas et al. 2026, paper 002) and subspace drift.

Split ``J = J_{d+1:L} J_{1:d}`` with ``J_{1:d} = F_d ... F_1`` (``= J^(d)``) and ``J_{d+1:L} = F_L ... F_{d+1}``.
Paper 002's claim: when the spectra separate (large gaps ``log sigma_k - log sigma_{k+1}``), the top-``k`` left
singular subspace of the head ``J_{1:d}`` and the top-``k`` right singular subspace of the tail ``J_{d+1:L}`` align.
Alignment is measured by the principal angles ``theta_i`` between the two subspaces:

.. math:: \\cos\\theta_i = \\sigma_i(U_k^T V_k),\\quad U_k = \\text{top-}k\\text{ left s.v. of } J_{1:d},\\quad
          V_k = \\text{top-}k\\text{ right s.v. of } J_{d+1:L}

(Bjorck and Golub 1973). Two random ``k``-subspaces of ``R^n`` have ``E cos^2 theta = k/n`` on average, so
``mean cos^2`` far above ``k/n`` is alignment. All singular vectors come from the log-domain QR chain with a Jacobi
SVD (:mod:`jacstab.engine._qrchain`), so they are accurate at any depth; every head from one forward pass and
every tail from one backward pass (on the transposed factors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from jacstab._checks import check_int
from jacstab.engine._masks import check_input, check_network
from jacstab.engine._qrchain import log_svd_chain, tail_svd_chain
from jacstab.nets.network import Network


def _f64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def principal_cosines(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``cos theta_i = sigma_i(U^T V)``, descending, for orthonormal ``U`` (``n x k``) and ``V`` (``n x k'``)."""
    return torch.linalg.svdvals(u.T @ v).clamp(0.0, 1.0)


def _gap(log_s: torch.Tensor, k: int) -> float:
    """``log sigma_k - log sigma_{k+1}`` (``inf`` when ``sigma_{k+1} = 0`` or beyond the rank)."""
    return float(log_s[k - 1] - log_s[k]) if log_s.numel() > k else float("inf")


@dataclass(frozen=True)
class Alignment:
    """Alignment across splits (see the module docstring).

    Attributes:
        splits: ``(m,)`` split depths ``d`` (1-based: the head is layers ``1..d``).
        cosines: ``(m, k)`` ``cos theta_i`` descending. mean_cos2: ``(m,)`` their mean square (1 = the same
            subspace, ``k/n`` = chance).
        gap_head, gap_tail: ``(m,)`` ``log sigma_k - log sigma_{k+1}`` of ``J_{1:d}`` and of ``J_{d+1:L}``.
        k, width: the subspace dimension and ``n`` (chance level ``k/n``).
    """

    splits: torch.Tensor
    cosines: torch.Tensor
    mean_cos2: torch.Tensor
    gap_head: torch.Tensor
    gap_tail: torch.Tensor
    k: int
    width: int


def _splits(net: Network, splits: Sequence[int] | None) -> list[int]:
    if splits is None:
        return list(range(1, net.depth))
    out = []
    for d in splits:
        out.append(check_int("split", d, 1, net.depth - 1))
    return sorted(set(out))


def alignment(
    net: Network, x: torch.Tensor | None = None, *, k: int = 1, splits: Sequence[int] | None = None
) -> Alignment:
    """Principal angles between the top-``k`` left singular subspace of ``J_{1:d}`` and the top-``k`` right singular
    subspace of ``J_{d+1:L}`` for every split ``d`` (module docstring; paper 002's "separation forces alignment").

    Args:
        net: a sampled Network with ``L >= 2``; x: raw input (default the normalised input).
        k: subspace dimension (``1 <= k <= n``). splits: split depths in ``[1, L-1]`` (default all).

    Returns:
        An :class:`Alignment` (splits ascending).

    Raises:
        TypeError: ``net`` is not a Network. ValueError: ``L < 2``, bad ``k``, ``splits`` or ``x``.
    """
    net = check_network(net)
    x = check_input(net, x)
    if net.depth < 2:
        raise ValueError("alignment needs depth L >= 2 (a split into a head and a tail)")
    k = check_int("k", k, 1, net.width)
    ds = _splits(net, splits)
    gates = net.gates(x)
    heads = {r.depth: r for r in log_svd_chain(net, gates, ds, vectors=True)}
    cos, gh, gt = [], [], []
    for tail in tail_svd_chain(net, gates, ds):
        head = heads[tail.depth]
        kk = min(k, head.left.shape[1], tail.right.shape[1])
        c = torch.zeros(k, dtype=torch.float64)
        c[:kk] = principal_cosines(head.left[:, :kk], tail.right[:, :kk])
        cos.append((tail.depth, c))
        gh.append((tail.depth, _gap(head.log_s, k)))
        gt.append((tail.depth, _gap(tail.log_s, k)))
    cos.sort(key=lambda t: t[0])
    gh.sort(key=lambda t: t[0])
    gt.sort(key=lambda t: t[0])
    c = torch.stack([v for _, v in cos])
    return Alignment(
        torch.tensor(ds), c, (c**2).mean(1), _f64([v for _, v in gh]), _f64([v for _, v in gt]),
        k, net.width,
    )


@dataclass(frozen=True)
class Drift:
    """Drift of the top-``k`` right singular subspace ``V_k(d)`` of ``J^(d)`` with depth.

    Attributes:
        depths: ``(m,)`` ascending. step: ``(m,)`` ``||sin Theta(V_k(d_j), V_k(d_{j-1}))||_2 = sqrt(1 - cos_min^2)``
            (``nan`` at the first depth). to_final: ``(m,)`` the same distance to ``V_k`` at the last depth.
        gap: ``(m,)`` ``log sigma_k - log sigma_{k+1}`` of ``J^(d)``. k: the subspace dimension.
    """

    depths: torch.Tensor
    step: torch.Tensor
    to_final: torch.Tensor
    gap: torch.Tensor
    k: int


def subspace_drift(
    net: Network, x: torch.Tensor | None = None, *, k: int = 1, depths: Sequence[int] | None = None
) -> Drift:
    """How the top-``k`` right singular subspace of ``J^(d)`` moves as ``d`` grows (paper 002: it converges, at a
    rate set by the gap, to the Oseledets subspace), from one pass of the QR chain.

    .. math:: \\mathrm{dist}(V, V') = \\|\\sin\\Theta(V, V')\\|_2 = \\sqrt{1 - \\sigma_{\\min}(V^T V')^2}

    Args:
        net: a sampled Network; x: raw input. k: subspace dimension. depths: in ``[1, L]`` (default all).

    Raises:
        TypeError: ``net`` is not a Network. ValueError: bad ``k``, ``depths`` or ``x``.
    """
    net = check_network(net)
    x = check_input(net, x)
    k = check_int("k", k, 1, net.width)
    ds = range(1, net.depth + 1) if depths is None else {check_int("depth", d, 1, net.depth) for d in depths}
    ds = sorted(ds)
    res = list(log_svd_chain(net, net.gates(x), ds, vectors=True))
    vs = [r.right[:, : min(k, r.right.shape[1])] for r in res]

    def dist(a, b):
        return float(torch.sqrt(torch.clamp(1 - principal_cosines(a, b).min() ** 2, min=0.0)))

    step = [float("nan")] + [dist(vs[j], vs[j - 1]) for j in range(1, len(vs))]
    to_final = [dist(v, vs[-1]) for v in vs]
    gap = [_gap(r.log_s, k) for r in res]
    return Drift(torch.tensor(ds), _f64(step), _f64(to_final), _f64(gap), k)
