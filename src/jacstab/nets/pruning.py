"""Pruning at initialisation and the scaling of kept weights (Dadoun et al. 2025, Section 4).

A pruned hidden layer is ``W^B = B o W`` with ``B = c 1{kept}`` (paper: "the mask may carry the scaling factor").
Masks: ``random`` (iid Bernoulli(1-s), Theorem 4.1), ``magnitude`` (the top ``(1-s) n^2`` or top ``keep`` entries
by ``|w|``, Theorem 4.3), ``magnitude-threshold`` (``|w| > t``, Theorem 4.2) and ``snip`` (the top entries by
``|w * dLoss/dw|`` on a batch, Lee et al. 2019). ``scope="global"`` ranks over all hidden matrices at once.
Scaling ``c``: law-level rules from :mod:`jacstab.theory.scaling`, or ``empirical``: per row, the realised
energy of the row is restored, ``c_i = (sum_k w_ik^2 / sum_k kept w_ik^2)^{1/2}`` (any pruning method).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from jacstab.nets.network import Network, Provenance
from jacstab.specs import Pruning
from jacstab.theory.scaling import scaling_factor


def random_masks(shapes: Sequence[tuple[int, int]], density: float, generators) -> list[torch.Tensor]:
    """iid Bernoulli(density) boolean masks, one generator per matrix."""
    return [torch.rand(*shape, generator=g, dtype=torch.float64) < density for shape, g in zip(shapes, generators)]


def top_masks(scores: Sequence[torch.Tensor], keep: Sequence[int] | int, scope: str) -> list[torch.Tensor]:
    """Keep the largest scores: ``keep[k]`` per matrix (``scope='layer'``) or ``keep`` over all (``'global'``)."""
    if scope == "global":
        flat = torch.cat([s.flatten() for s in scores])
        total = min(int(keep if isinstance(keep, int) else sum(keep)), flat.numel())
        keep_flat = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
        keep_flat[torch.topk(flat, total, sorted=False).indices] = True  # exactly `total`, even with ties
        return [m.view_as(s) for m, s in zip(keep_flat.split([s.numel() for s in scores]), scores)]
    out = []
    for s, r in zip(scores, keep if not isinstance(keep, int) else [keep] * len(scores)):
        m = torch.zeros(s.numel(), dtype=torch.bool, device=s.device)
        m[torch.topk(s.flatten(), int(r), sorted=False).indices] = True
        out.append(m.view_as(s))
    return out


def snip_scores(net: Network, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """SNIP saliencies ``|w * dL/dw|`` of the hidden matrices for cross-entropy on the batch ``(x, y)``.

    ``x``: ``batch x d`` inputs, ``y``: ``batch`` integer labels in ``[0, out_dim)`` (Lee, Ajanthan, Torr 2019,
    arXiv:1810.02340). The loss goes through the network's own batched forward pass.
    """
    ws = [w.detach().clone().requires_grad_(True) for w in net.weights]
    loss = torch.nn.functional.cross_entropy(net.replace(weights=ws)(x), y)
    grads = torch.autograd.grad(loss, ws)
    return [(w.detach() * g).abs() for w, g in zip(ws, grads)]


def row_energy_factors(w: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``empirical`` scaling: per-row ``(sum_k w_ik^2 / sum_k kept w_ik^2)^{1/2}`` (1 for an emptied row)."""
    full = (w * w).sum(1)
    kept = (w * w * mask).sum(1)
    return torch.where(
        kept > 0, torch.sqrt(full / torch.where(kept > 0, kept, torch.ones_like(kept))), torch.ones_like(kept)
    )


def apply_scaling(
    weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], pruning: Pruning, *, n: int, sigma2: float
) -> tuple[list[torch.Tensor], list[torch.Tensor | float]]:
    """Return ``(c o 1{kept} o W for each layer, the factors c)``; ``c`` is a float or a per-row tensor.

    ``pruning.scaling`` chooses ``c``: ``empirical`` restores each row's realised energy
    (:func:`row_energy_factors`); the others are law-level factors (:func:`jacstab.theory.scaling.scaling_factor`,
    paper Theorems 4.1-4.3) for the law ``N(0, sigma2/n)``.

    Raises:
        ValueError: when a law-level factor overflows float64 (e.g. ``paper-magnitude`` at high sparsity).
    """
    out, factors = [], []
    if pruning.scaling == "empirical":
        for w, m in zip(weights, masks):
            c = row_energy_factors(w, m)
            out.append(w * m * c[:, None])
            factors.append(c)
        return out, factors
    c = scaling_factor(
        pruning.scaling, pruning.method, n=n, sigma2=sigma2, sparsity=pruning.sparsity,
        threshold=pruning.threshold, keep=pruning.keep,
    )
    if not math.isfinite(c):
        raise ValueError(f"the {pruning.scaling} scaling factor overflows at width {n} for this sparsity; use exact "
                         "or empirical")
    for w, m in zip(weights, masks):
        out.append(w * m * c)
        factors.append(c)
    return out, factors


def masks_from_torch_prune(modules: Sequence[torch.nn.Module]) -> list[torch.Tensor]:
    """Boolean masks of modules pruned with ``torch.nn.utils.prune`` (their ``weight_mask`` buffers).

    Raises ``ValueError`` naming the module that carries no mask. Use with :func:`apply_masks`.
    """
    out = []
    for i, mod in enumerate(modules):
        mask = getattr(mod, "weight_mask", None)
        if mask is None:
            raise ValueError(
                f"module {i} ({type(mod).__name__}) has no weight_mask: prune it with "
                "torch.nn.utils.prune first (e.g. prune.l1_unstructured(module, 'weight', amount=0.9))"
            )
        out.append(mask.detach() != 0)
    return out


def apply_masks(net: Network, masks: Sequence[torch.Tensor], scaling: str = "empirical") -> Network:
    """A copy of ``net`` whose hidden matrices are ``c o 1{mask} o W`` (masks e.g. from torch.nn.utils.prune).

    ``scaling``: ``none``, ``random`` (``(1-s)^{-1/2}`` with the realised sparsity ``s`` of each matrix) or
    ``empirical`` (per-row energy). Masks must be ``n x n``, one per hidden matrix. The result records its
    provenance (``masked``, its parent, the scaling and the realised densities), so :func:`jacstab.certify`
    certifies the realised weights against the parent and never reports the unpruned law.

    Raises:
        ValueError: wrong number or shape of masks, an unknown scaling, or a mask that keeps no weight.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a jacstab Network (from jacstab.sample), got {type(net).__name__}")
    if len(masks) != net.depth:
        raise ValueError(f"need one mask per hidden matrix ({net.depth}), got {len(masks)}")
    if scaling not in ("none", "random", "empirical"):
        raise ValueError(f"scaling for external masks must be none, random or empirical, got {scaling!r}")
    net.check_finite()
    new, density = [], []
    for k, (w, m) in enumerate(zip(net.weights, masks)):
        if not isinstance(m, torch.Tensor) or tuple(m.shape) != tuple(w.shape):
            raise ValueError(f"mask {k} has shape {tuple(getattr(m, 'shape', ()))}, expected {tuple(w.shape)}")
        m = m.to(device=w.device, dtype=torch.bool)
        density.append(m.double().mean().item())
        if density[-1] == 0:
            raise ValueError(f"mask {k} keeps no weight")
        if scaling == "empirical":
            new.append(w * m * row_energy_factors(w, m)[:, None])
        else:
            new.append(w * m * (density[-1] ** -0.5 if scaling == "random" else 1.0))
    return net.replace(weights=new, provenance=Provenance("masked", net, scaling, tuple(density)))
