"""The forward pass that yields the diagonal matrices ``D_k = diag(phi'(Y_k))`` (paper eq. 2).

For positively homogeneous activations (relu, leaky_relu, linear, abs) ``Y_k`` is renormalised at every layer:
``phi'`` is scale invariant for them, so the masks are exact at any depth while ``Y_k`` itself would over- or
underflow (``||Y_k|| ~ (sigma2/2)^(k/2)`` for ReLU). ``tanh`` is bounded and needs no renormalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jacstab.ensembles import Network


@dataclass(frozen=True)
class Mask:
    """``D_k`` in sparse form: the indices ``idx`` of its non-zero diagonal entries and their values ``val``.

    ``val`` is ``None`` when every kept entry equals 1 (ReLU, linear), so products skip the scaling.
    ``full`` is True when ``idx`` is all of ``0..n-1`` (no restriction needed).
    """

    idx: torch.Tensor
    val: torch.Tensor | None
    full: bool

    @property
    def size(self) -> int:
        return int(self.idx.numel())


def _to_mask(dphi: torch.Tensor) -> Mask:
    nz = dphi != 0
    full = bool(nz.all())
    idx = torch.arange(dphi.numel(), device=dphi.device) if full else torch.nonzero(nz).flatten()
    val = dphi[idx]
    return Mask(idx, None if bool((val == 1).all()) else val, full)


def check_input(net: Network, x: torch.Tensor | None) -> torch.Tensor:
    """Validate a raw input ``x`` (shape ``(in_dim,)``, finite) or return the default normalised input."""
    if x is None:
        return net.default_input()
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape ({net.spec.input_dim},), got {type(x).__name__}")
    if x.shape != (net.spec.input_dim,):
        raise ValueError(f"x must have shape ({net.spec.input_dim},) (the spec's in_dim), got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite (it contains nan or inf)")
    return x.to(dtype=net.dtype, device=net.device)


def check_depth(net: Network, depth: int | None) -> int:
    """Resolve ``depth`` (``None`` -> the network's depth) and check ``1 <= depth <= L``."""
    if depth is None:
        return net.depth
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= net.depth:
        raise ValueError(f"depth must be an integer in [1, {net.depth}] (the sampled depth), got {depth!r}")
    return depth


def masks(net: Network, x: torch.Tensor | None = None, depth: int | None = None) -> list[Mask]:
    """``[D_0, ..., D_{depth-1}]`` for input ``x`` (default: the spec's normalised input).

    ``Y_0 = W_in x``, ``Y_k = W_k phi(Y_{k-1})``; ``D_k = diag(phi'(Y_k))`` with PyTorch's derivative at 0.
    """
    depth = check_depth(net, depth)
    act = net.activation
    y = net.w_in @ check_input(net, x)
    out = []
    for k in range(depth):
        if act.homogeneous:
            s = torch.linalg.vector_norm(y)
            if s > 0:
                y = y / s
        out.append(_to_mask(act.dphi(y)))
        if k + 1 < depth:
            y = net.weights[k] @ act.phi(y)
    return out
