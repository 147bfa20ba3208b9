"""Input checks and the gates ``D_k = diag(phi'(Y_k))`` of a network at one input (paper eq. 2).

The forward recurrence itself lives in :meth:`jacstab.nets.network.Network.states`: for positively homogeneous
activations (relu, leaky_relu, linear, abs) ``Y_k`` is renormalised at every layer, which leaves ``phi'`` unchanged
and keeps the gates exact at any depth; ``tanh`` is bounded and needs no renormalisation.
"""

from __future__ import annotations

import torch

from jacstab._checks import is_int
from jacstab.nets.layers import Gate
from jacstab.nets.network import Network

Mask = Gate  # the name of jacstab 0.1


def check_finite(net: Network) -> Network:
    """:meth:`Network.check_finite`, returning the network."""
    net.check_finite()
    return net


def misuse_hint(obj) -> str:
    """What to pass instead of ``obj`` (a spec, a module, anything else), for TypeErrors."""
    if type(obj).__name__ == "NetSpec":
        return " (a NetSpec is a law: draw a network with jacstab.sample(spec, seed))"
    return " (for a torch module or function, use jacstab.singular_values(f, x))" if callable(obj) else ""


def check_network(obj, what: str = "net") -> Network:
    """Raise a ``TypeError`` that says what to pass unless ``obj`` is a jacstab Network; ``ValueError`` when its
    weights are not finite."""
    if isinstance(obj, Network):
        return check_finite(obj)
    raise TypeError(f"{what} must be a jacstab Network, got {type(obj).__name__}{misuse_hint(obj)}")


def check_input(net: Network, x: torch.Tensor | None) -> torch.Tensor:
    """Validate a raw input ``x`` (shape ``(in_dim,)``, finite) or return the default normalised input."""
    if x is None:
        return net.default_input()
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape ({net.spec.input_dim},), got {type(x).__name__}")
    if x.shape != (net.spec.input_dim,):
        raise ValueError(f"x must have shape ({net.spec.input_dim},) (the spec's in_dim), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype} (use x.double() or x.float())")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be a finite floating-point tensor (it contains nan or inf)")
    return x.to(dtype=net.dtype, device=net.device)


def check_depth(net: Network, depth: int | None) -> int:
    """Resolve ``depth`` (``None`` -> the network's depth) and check ``1 <= depth <= L``."""
    if depth is None:
        return net.depth
    if not is_int(depth) or not 1 <= depth <= net.depth:
        raise ValueError(f"depth must be an integer in [1, {net.depth}] (the sampled depth), got {depth!r}")
    return int(depth)


def masks(net: Network, x: torch.Tensor | None = None, depth: int | None = None) -> list[Gate]:
    """``[D_0, ..., D_{depth-1}]`` for input ``x`` (default: the spec's normalised input), in sparse form.

    ``Y_0 = W_in x``, ``Y_k = W_k phi(Y_{k-1})``; ``D_k = diag(phi'(Y_k))`` with PyTorch's derivative at 0.
    """
    net = check_network(net)
    return net.gates(check_input(net, x), check_depth(net, depth))
