"""Pruning at initialisation and the scaling of kept weights (Dadoun et al. 2025, Section 4).

A pruned hidden layer is ``W^B = B o W`` with ``B = c 1{kept}`` (paper: "the mask may carry the scaling factor").
Masks: ``random`` (iid Bernoulli(1-s), Theorem 4.1), ``magnitude-threshold`` (``|w| > t``, Theorem 4.2) and the
ranked criteria ``magnitude``, ``snip``, ``grasp``, ``synflow`` (:mod:`jacstab.nets.criteria`, with the schedules
and ablations of :mod:`jacstab.nets.schedules`).

Scaling ``c``: law-level rules from :mod:`jacstab.theory.scaling`; ``empirical``, per-neuron sparse fan-in
scaling: each row (neuron) gets back its realised incoming energy, ``c_i = (sum_k w_ik^2 / sum_k kept w_ik^2)^{1/2}``
(any criterion). This is the sparse-aware scaling of Evci, Ioannou, Keskin, Dauphin 2022 ("Gradient flow in sparse
neural networks and how lottery tickets win", arXiv:2010.03533, Section 4), who re-draw each neuron with variance
``sigma2 / fan_in_i``; jacstab keeps the weights and restores the energy instead, which equals Evci's rule in
expectation for random masks and also undoes the bias of magnitude-type criteria. ``approx-isometry``: Lee,
Ajanthan, Gould, Torr 2020 (arXiv:1906.06307, Section 4.2): gradient descent on ``||V^T V - sigma2 I||_F^2`` over
the kept entries of ``V = M o W`` (:func:`approx_isometry`).
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


def row_energy_factors(w: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``empirical`` (per-neuron sparse fan-in) scaling: per-row ``(sum_k w_ik^2 / sum_k kept w_ik^2)^{1/2}`` (1 for
    an emptied row); Evci et al. 2022, arXiv:2010.03533 (see the module docstring for the difference)."""
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
    (:func:`row_energy_factors`); ``approx-isometry`` replaces the kept weights by :func:`approx_isometry`'s (the
    factor reported is 1); the others are law-level factors (:func:`jacstab.theory.scaling.scaling_factor`,
    paper Theorems 4.1-4.3) for the law ``N(0, sigma2/n)``.

    Raises:
        ValueError: when a law-level factor overflows float64 (e.g. ``paper-magnitude`` at high sparsity).
    """
    out, factors = [], []
    if pruning.scaling == "approx-isometry":  # all layers in one batched descent (each matrix on its own)
        iso = approx_isometry(torch.stack(list(weights)), torch.stack(list(masks)), sigma2)
        return list(iso.unbind(0)), [1.0] * len(iso)
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


ISOMETRY_STEPS = 300  # "a few hundred" gradient steps (Lee et al. 2020)
ISOMETRY_RATE = 0.1  # on U = V / sqrt(gain2): sigma <- sigma - 4 rate sigma (sigma^2 - 1) contracts for rate < 1/4


def isometry_defect(v: torch.Tensor, gain2: float = 1.0) -> float:
    """``||V^T V - gain2 I||_F`` (the quantity approximate isometry lowers)."""
    eye = torch.eye(v.shape[1], dtype=v.dtype, device=v.device)
    return float(torch.linalg.matrix_norm(v.T @ v - gain2 * eye))


def approx_isometry(w: torch.Tensor, mask: torch.Tensor, gain2: float = 1.0, *, steps: int = ISOMETRY_STEPS,
                    rate: float = ISOMETRY_RATE) -> torch.Tensor:
    """Approximate isometry of a pruned matrix (Lee, Ajanthan, Gould, Torr 2020, arXiv:1906.06307, eq. 6).

    Minimises ``f(V) = ||V^T V - gain2 I||_F^2`` over the kept entries of ``V = M o W`` by ``steps`` steps of
    gradient descent, ``V <- V - h M o 4 V (V^T V - gain2 I)`` with ``h = rate / (gain2 max(1, s^2))``,
    ``s = ||V_0||_2 / sqrt(gain2)`` (a singular value ``sigma`` of ``U = V / sqrt(gain2)`` then moves by
    ``-4 rate sigma (sigma^2 - 1) / max(1, s^2)``, which never overshoots for ``rate < 1/4``), starting from
    ``V_0 = (M o W) / sqrt(density)`` (the realised density of ``M``). Removed entries stay exactly zero. No
    random draw: the result is a deterministic function of ``W`` and ``M``. ``gain2 = 1`` is Lee et al.'s
    ``||W^T W - I||``; jacstab's networks pass ``gain2 = sigma2`` (the second moment an orthogonal init of gain
    ``sqrt(sigma2)`` has; ``sigma2 = 2`` for ReLU), so that an unpruned orthogonal matrix is a minimiser.

    Args:
        w: ``n x m`` weights, or a stack ``(..., n, m)`` (every matrix on its own, one batched product per step);
            mask: boolean, same shape; gain2: target ``V^T V = gain2 I`` (``> 0``).
        steps: gradient steps (default 300); rate: step size on the scale-free ``U = V / sqrt(gain2)``.

    Returns:
        ``V`` with ``V[~mask] == 0`` and (much) smaller :func:`isometry_defect` than ``V_0``.
    """
    m = mask.to(dtype=w.dtype)
    density = m.mean(dim=(-2, -1), keepdim=True)
    if bool((density == 0).any()):
        raise ValueError("approx_isometry: the mask keeps no weight")
    v = w * m / density.sqrt()
    eye = torch.eye(w.shape[-1], dtype=w.dtype, device=w.device)
    top2 = torch.linalg.matrix_norm(v, ord=2)[..., None, None] ** 2 / gain2  # sigma_max(U_0)^2 per matrix
    step = 4.0 * rate / (gain2 * top2.clamp(min=1.0))
    for _ in range(steps):
        v = v - step * m * (v @ (v.mT @ v - gain2 * eye))
    return v


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
