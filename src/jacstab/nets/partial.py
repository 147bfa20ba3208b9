"""Width-changing orthogonal networks whose Jacobian is a partial isometry at every depth (paper 003).

:func:`partial_isometry_net` returns a plain ``torch.nn.Sequential``, so every generic path of jacstab measures it
(``jacstab.singular_values(model, x)``, ``jacstab.isometry_defect(model, x)``, ``jacstab.analyze``); the theory
it is compared with, and its derivation, is :mod:`jacstab.theory.partial`. jacstab's :class:`~jacstab.Network`
keeps square hidden matrices (the paper-001 model); this network is separate on purpose.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from jacstab._checks import check_int
from jacstab.nets.activations import groupsort
from jacstab.nets.sampling import MAX_BYTES_ENV, check_device, memory_limit
from jacstab.nets.streams import STREAM_PARTIAL, generator, haar_orthogonal
from jacstab.theory.partial import check_widths


class GroupSort(torch.nn.Module):
    """MaxMin on pairs of the last dimension (:func:`jacstab.nets.activations.groupsort`); no parameters."""

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return groupsort(y)


class Abs(torch.nn.Module):
    """``|y|`` elementwise (derivative ``diag(+-1)``); no parameters."""

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return torch.abs(y)


_GATES = {"groupsort": GroupSort, "abs": Abs, "linear": torch.nn.Identity}


def partial_isometry_net(
    widths: Sequence[int],
    activation: str = "groupsort",
    *,
    seed: int,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device | None = None,
) -> torch.nn.Sequential:
    """A network ``R^{n_0} -> R^{n_L}`` whose Jacobian has singular values exactly in ``{0, 1}`` at every depth.

    .. math::
        Y_k = W_k \\phi(Y_{k-1}), \\quad W_k \\in \\mathbb R^{n_k \\times n_{k-1}} \\text{ Haar semi-orthogonal},
        \\qquad J^{(d)} = W_d P_{d-1} \\cdots W_1 P_0,\\quad J^{(d)T} J^{(d)} = \\text{a projection of rank }
        m_d = \\min_{k \\le d} n_k

    (``P_k = phi'(Y_k)``, a signed permutation; derivation in :mod:`jacstab.theory.partial`): ``m_d`` singular
    values 1, the rest 0, an isometry on a fraction ``r_d = m_d / n_0`` of input directions
    (:func:`jacstab.theory.partial_isometry_fraction`; ``n_d / n_0`` for narrowing widths).

    The module is ``nn.Sequential(phi, Linear(n_0, n_1), phi, Linear(n_1, n_2), ..., phi, Linear(n_{L-1}, n_L))``
    (``Linear`` without bias, gate first as in jacstab's convention ``J = W_L D_{L-1} ... W_1 D_0``), so
    ``model[:2 * d]`` is the depth-``d`` network and ``model(x)`` accepts ``(n_0,)`` or ``(batch, n_0)``.
    ``W_k`` is the first ``n_k`` rows (narrowing) or columns (widening) of a Haar orthogonal matrix, drawn from
    ``generator(seed, STREAM_PARTIAL, k)`` (:mod:`jacstab.nets.streams`): the same seed gives the same network.

    Args:
        widths: ``(n_0, n_1, ..., n_L)``, at least 2 integers ``>= 1`` that narrow and then widen (non-increasing,
            non-decreasing or a bottleneck); ``groupsort`` needs ``n_0..n_{L-1}`` even.
        activation: ``groupsort`` (MaxMin on pairs, default), ``abs`` or ``linear``.
        seed: the weights' seed (keyword-only, required); dtype: weights' dtype (default float64);
            device: where the weights live (default CPU).

    Returns:
        A ``torch.nn.Sequential`` with ``2 L`` modules.

    Raises:
        ValueError: bad widths, activation, seed or device, or weights over the memory limit (each message says
            how to fix it; :func:`jacstab.theory.partial.check_widths`).

    References:
        Massucco, Murari, Schoenlieb, arXiv 2508.02882 (paper 003): orthogonal Jacobians and partial isometries.

    Example:
        >>> model = jacstab.partial_isometry_net((64, 48, 32), "groupsort", seed=0)
        >>> x = jacstab.default_input(64)
        >>> jacstab.singular_values(model, x)         # 32 ones
        >>> jacstab.isometry_defect(model, x).isometric_dim   # 32 = n_L: fraction 32/64
    """
    w = check_widths(widths, activation)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    device = check_device(device)
    need = sum(a * b for a, b in itertools.pairwise(w)) * torch.tensor([], dtype=dtype).element_size()
    if need > memory_limit():
        raise ValueError(f"widths {list(w)} need {need / 2**30:.3g} GiB for the weights, over the limit of "
                         f"{memory_limit() / 2**30:.3g} GiB (80% of memory, or ${MAX_BYTES_ENV}); use fewer or "
                         "narrower layers")
    mods: list[torch.nn.Module] = []
    for k in range(1, len(w)):
        lin = torch.nn.Linear(w[k - 1], w[k], bias=False, device="meta")  # meta: no draw from the global RNG
        q = haar_orthogonal(w[k], w[k - 1], generator=generator(seed, STREAM_PARTIAL, k), dtype=torch.float64)
        lin.weight = torch.nn.Parameter(q.to(dtype=dtype, device=device))
        mods += [_GATES[activation](), lin]
    return torch.nn.Sequential(*mods)
