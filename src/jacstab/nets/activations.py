"""Activation functions ``phi`` and their derivatives ``phi'`` (the diagonal of ``D_k``).

Derivatives follow PyTorch's autograd conventions at the kinks (``relu'(0) = 0``, ``abs'(0) = 0``,
``leaky_relu'(0) = slope``) so that the analytic Jacobian equals ``torch.func.jacrev`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from jacstab._checks import ACTIVATIONS, check_choice


@dataclass(frozen=True)
class Activation:
    """An activation: ``phi``, ``phi'`` and whether ``phi(c y) = c phi(y)`` for ``c > 0``.

    Positive homogeneity lets the forward pass renormalise ``Y_k`` at every layer without changing ``D_k``,
    which keeps masks exact at any depth (no overflow of the pre-activations).
    """

    name: str
    phi: Callable[[torch.Tensor], torch.Tensor]
    dphi: Callable[[torch.Tensor], torch.Tensor]
    homogeneous: bool


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
    # leaky_relu
    return Activation(
        name,
        lambda y: torch.where(y > 0, y, slope * y),
        lambda y: torch.where(y > 0, torch.ones_like(y), torch.full_like(y, slope)),
        True,
    )
