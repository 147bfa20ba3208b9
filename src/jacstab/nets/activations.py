"""Activation functions ``phi`` and their derivatives ``phi'`` (the diagonal of ``D_k``).

``groupsort`` (MaxMin, Anil et al. 2019; paper 003) is not elementwise: its Jacobian is a permutation of the
units (each pair kept or swapped), given by :attr:`Activation.mix` as a column-gather index.

Derivatives follow PyTorch's autograd conventions at the kinks (``relu'(0) = 0``, ``abs'(0) = 0``,
``leaky_relu'(0) = slope``) so that the analytic Jacobian equals ``torch.func.jacrev`` exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from jacstab._checks import ACTIVATIONS, check_choice


@dataclass(frozen=True)
class Activation:
    """An activation: ``phi``, ``phi'`` and whether ``phi(c y) = c phi(y)`` for ``c > 0``.

    Positive homogeneity lets the forward pass renormalise ``Y_k`` at every layer without changing ``D_k``,
    which keeps masks exact at any depth (no overflow of the pre-activations).

    ``mix`` (None for elementwise activations): for ``phi`` whose Jacobian at ``y`` (shape ``(n,)``) is
    ``diag(dphi(y))`` composed with a permutation, the index ``perm`` with ``(M P)[:, j] = M[:, perm[j]]`` for any
    ``M``, i.e. ``M dphi/dy = (M diag(dphi(y)))[:, perm]``.
    """

    name: str
    phi: Callable[[torch.Tensor], torch.Tensor]
    dphi: Callable[[torch.Tensor], torch.Tensor]
    homogeneous: bool
    mix: Callable[[torch.Tensor], torch.Tensor] | None = None


def groupsort(y: torch.Tensor) -> torch.Tensor:
    """MaxMin on the pairs ``(y_{2i}, y_{2i+1})`` of the last dimension: ``(max, min)`` in place of each pair.

    Ties go to the first unit for the max and the second for the min (``torch.where(a >= b, ...)``), so the
    autograd derivative at a tie is the identity, as :func:`groupsort_perm` says.
    """
    a, b = y[..., 0::2], y[..., 1::2]
    keep = a >= b
    return torch.stack((torch.where(keep, a, b), torch.where(keep, b, a)), dim=-1).flatten(-2)


def _odd_ones(d: torch.Tensor) -> torch.Tensor:
    d = d.clone()
    d[..., 1::2] = 1
    return d


def half_relu(y: torch.Tensor) -> torch.Tensor:
    """ReLU on the even units ``y_{2i}``, the identity on the odd ones (last dimension): with orthogonal ``W``
    each factor ``W D`` is a partial isometry whose kernel is the inactive even units (paper 003, partial
    isometries); ``D = diag(phi')`` is a Bernoulli(3/4) projection for symmetric pre-activations."""
    return torch.where(_odd_units(y.shape[-1], y.device), y, torch.relu(y))  # out of place: linearize traces it


@functools.lru_cache(maxsize=32)
def _odd_units(n: int, device: torch.device) -> torch.Tensor:
    """The boolean mask of the odd units ``1, 3, 5, ...`` (cached per width and device: built once, not per call)."""
    return torch.arange(n, device=device) % 2 == 1


def groupsort_perm(y: torch.Tensor) -> torch.Tensor:
    """The Jacobian of :func:`groupsort` at ``y`` (shape ``(n,)``, ``n`` even) as a gather index: ``perm[2i] =
    2i+1, perm[2i+1] = 2i`` where the pair is swapped (``y_{2i} < y_{2i+1}``), the identity elsewhere.

    Derivation: output ``2i`` is ``y_{2i+1}`` when the pair is swapped, so ``d out/dy = P`` with ``P[i, perm[i]] =
    1``; ``perm`` is an involution, hence ``M P = M[:, perm]``.
    """
    n = y.shape[-1]
    idx = torch.arange(n, device=y.device)
    swap = (y[0::2] < y[1::2]).repeat_interleave(2)
    return torch.where(swap, idx ^ 1, idx)


def get_activation(name: str, slope: float = 0.01) -> Activation:
    """Return the :class:`Activation` called ``name`` (``slope`` is used by ``leaky_relu`` only)."""
    check_choice("activation", name, ACTIVATIONS)
    if name == "relu":
        return Activation(name, torch.relu, lambda y: (y > 0).to(y.dtype), True)
    if name == "linear":
        return Activation(name, lambda y: y, torch.ones_like, True)
    if name == "tanh":
        return Activation(name, torch.tanh, lambda y: 1.0 - torch.tanh(y) ** 2, False)
    if name == "abs":
        return Activation(name, torch.abs, torch.sign, True)
    if name == "half_relu":
        return Activation(name, half_relu, lambda y: _odd_ones((y > 0).to(y.dtype)), True)
    if name == "groupsort":
        return Activation(name, groupsort, torch.ones_like, True, groupsort_perm)
    # leaky_relu
    return Activation(
        name,
        lambda y: torch.where(y > 0, y, slope * y),
        lambda y: torch.where(y > 0, torch.ones_like(y), torch.full_like(y, slope)),
        True,
    )
