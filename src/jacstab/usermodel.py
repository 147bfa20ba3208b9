"""jacstab on a user's own model: per-layer Jacobian diagnostics and the recommended rescaling of pruned layers.

``analyze(model, x)`` takes an ``nn.Module`` whose leaf modules, applied in order, compute ``model(x)`` (an
``nn.Sequential``, possibly nested) built from ``Linear`` and ``Conv2d`` layers and parameter-free modules
(elementwise activations, ``Flatten``, pooling). Masks of ``torch.nn.utils.prune`` are read: a pruned layer's
weight is ``weight_orig * weight_mask``. ``rescale(model, rule)`` multiplies the kept weights in place (masks kept).

Per-layer gains follow the paper's factorisation ``J = W_L D_{L-1} ... W_2 D_1 W_1`` (Dadoun et al. 2025, eq. 2):
a tangent ``t_0 = u`` (a seeded Gaussian unit vector in input space) is pushed through every leaf by ``torch.func.jvp``;
weight layer ``k`` owns the parameter-free modules *before* it (its gate ``D_{k-1}``) and the last weight layer also
those after it, so ``log_gain_k = log ||t_k|| - log ||t_{k-1}||`` and ``sum_k log_gain_k = log ||J u||`` exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from jacstab.nets.pruning import row_energy_factors

RULES = ("empirical", "random")


def _weight_layers(model: torch.nn.Module) -> tuple[list[tuple[str, torch.nn.Module]], list[int]]:
    """The leaves in order and the positions of the weight layers; raises on unsupported parameterised leaves."""
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    weights = []
    for i, (name, m) in enumerate(leaves):
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            weights.append(i)
        elif any(True for _ in m.parameters(recurse=False)):
            raise ValueError(f"analyze supports Linear and Conv2d weight layers and parameter-free modules; "
                             f"{name or 'the model'} ({type(m).__name__}) has parameters")
    if not weights:
        raise ValueError("the model has no Linear or Conv2d layer")
    return leaves, weights


def _weight_and_mask(m: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(weight as out x fan_in, mask or None)``; with a ``torch.nn.utils.prune`` mask the weight is
    ``weight_orig`` (the values before masking)."""
    if hasattr(m, "weight_mask") and hasattr(m, "weight_orig"):
        w, mask = m.weight_orig.detach(), m.weight_mask.detach() != 0
        return w.reshape(w.shape[0], -1), mask.reshape(w.shape[0], -1)
    w = m.weight.detach()
    return w.reshape(w.shape[0], -1), None


def _factors(w: torch.Tensor, mask: torch.Tensor | None, rule: str) -> torch.Tensor:
    """Per-row factors: ``empirical`` (per-neuron sparse fan-in: realised row energy restored) or ``random``
    (``density^{-1/2}``); 1 where the layer carries no mask."""
    if mask is None:
        return torch.ones(w.shape[0], dtype=w.dtype, device=w.device)
    if rule == "empirical":
        return row_energy_factors(w, mask)
    density = float(mask.double().mean())
    return torch.full((w.shape[0],), density**-0.5 if density > 0 else 1.0, dtype=w.dtype, device=w.device)


def _check(model, rule: str | None = None) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if rule is not None and rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")


def _tangent_gains(leaves, weights, x: torch.Tensor, u: torch.Tensor) -> list[float]:
    """``log ||t||`` after each weight layer's share of the leaves (see the module docstring)."""
    owner = {}
    for j, i in enumerate(weights):
        lo = weights[j - 1] + 1 if j else 0
        for p in range(lo, i + 1):
            owner[p] = j
    for p in range(weights[-1] + 1, len(leaves)):
        owner[p] = len(weights) - 1
    h, t, logs = x, u, []
    for p, (_, m) in enumerate(leaves):
        h, t = torch.func.jvp(m, (h,), (t,))
        if p == len(leaves) - 1 or owner[p + 1] != owner[p]:
            logs.append(math.log(float(torch.linalg.vector_norm(t.detach()))))
    return logs


def analyze(model: torch.nn.Module, x: torch.Tensor, *, k: int = 5, seed: int = 0) -> Any:
    """Per-layer Jacobian diagnostics of ``model`` at input ``x`` (a pandas DataFrame, one row per weight layer).

    Columns: ``layer`` (module name), ``shape`` (weight shape), ``density`` (kept fraction: the
    ``torch.nn.utils.prune`` mask, else the non-zero fraction), ``log_gain`` (natural log; the layer's contribution to
    ``log ||J u||`` for a seeded unit ``u``; see the module docstring; the column sums to ``attrs['log_norm_u']``),
    ``row_energy_spread`` (coefficient of variation ``sd(e)/mean(e)`` of the row energies ``e_i = sum_j w_ij^2`` of
    the effective weight: 0 when every neuron has the same incoming energy) and ``recommended_scale`` (the layer-level
    ``empirical`` factor ``(sum w_orig^2 / sum kept w_orig^2)^{1/2}``, 1 without a mask; :func:`rescale` applies it
    per row, Evci et al. 2022, arXiv:2010.03533).

    ``attrs``: ``top_singular_values`` (the ``k`` largest singular values of the whole input-output Jacobian
    ``d model(x) / dx``, dense through ``torch.func.jacrev``: meant for models with up to ~10^4 inputs times
    outputs), ``log_norm`` (``log`` of the largest), ``log_norm_u`` (``log ||J u||``).

    Args:
        model: sequential model (leaves applied in order must give ``model(x)``); x: one input with its batch
            dimension of 1, e.g. ``(1, 1, 28, 28)``; k: singular values kept; seed: the seed of ``u``.

    Raises:
        ValueError: a leaf with parameters other than Linear/Conv2d, no weight layer, a batch of more than one
        input, or a model that is not the composition of its leaves. ImportError: pandas missing.
    """
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - pandas is in jacstab[data] and jacstab[test]
        raise ImportError("jacstab.analyze returns a pandas DataFrame: pip install 'jacstab[data]'") from e
    _check(model)
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[0] != 1:
        raise ValueError(f"x must be one input with a batch dimension of 1, got shape {tuple(getattr(x, 'shape', ()))}")
    leaves, weights = _weight_layers(model)
    with torch.no_grad():
        chained = x
        for _, m in leaves:
            chained = m(chained)
        if not torch.allclose(chained, model(x)):
            raise ValueError("analyze needs a sequential model: applying its leaf modules in order does not give "
                             "model(x) (wrap the layers in nn.Sequential)")
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(x.shape, generator=g, dtype=torch.float64).to(x)
    u = u / torch.linalg.vector_norm(u)
    logs = _tangent_gains(leaves, weights, x, u)
    jac = torch.func.jacrev(model)(x).reshape(chained.numel(), x.numel())
    sv = torch.linalg.svdvals(jac.to(torch.float64))[:k]
    rows = []
    for j, i in enumerate(weights):
        name, m = leaves[i]
        w, mask = _weight_and_mask(m)
        eff = w if mask is None else w * mask
        e = (eff.double() ** 2).sum(1)
        kept = (w.double() ** 2 * (mask if mask is not None else 1)).sum()
        rows.append({
            "layer": name, "shape": tuple(m.weight.shape),
            "density": float(mask.double().mean()) if mask is not None else float((w != 0).double().mean()),
            "log_gain": logs[j] - (logs[j - 1] if j else 0.0),
            "row_energy_spread": float(e.std(unbiased=False) / e.mean()) if float(e.mean()) > 0 else math.nan,
            "recommended_scale": math.sqrt(float((w.double() ** 2).sum() / kept)) if mask is not None and kept > 0
            else 1.0,
        })
    df = pd.DataFrame(rows, columns=["layer", "shape", "density", "log_gain", "row_energy_spread",
                                     "recommended_scale"])
    df.attrs.update(top_singular_values=sv.tolist(), log_norm=math.log(float(sv[0])) if float(sv[0]) > 0 else
                    -math.inf, log_norm_u=logs[-1])
    return df


def rescale(model: torch.nn.Module, rule: str = "empirical") -> torch.nn.Module:
    """Multiply each pruned weight layer's rows in place by the factors of ``rule``; masks are kept.

    ``empirical`` (per-neuron sparse fan-in scaling, Evci et al. 2022): row ``i`` of ``weight_orig`` times
    ``c_i = (sum_j w_ij^2 / sum_j kept w_ij^2)^{1/2}``, so every neuron gets back its incoming energy;
    ``random``: every weight times ``density^{-1/2}`` (paper Theorem 4.1). Layers without a
    ``torch.nn.utils.prune`` mask are left alone. Returns ``model`` (rescaled in place).

    Raises:
        TypeError: not an ``nn.Module``; ValueError: unknown rule or unsupported leaf (see :func:`analyze`).
    """
    _check(model, rule)
    leaves, weights = _weight_layers(model)
    with torch.no_grad():
        for i in weights:
            m = leaves[i][1]
            w, mask = _weight_and_mask(m)
            if mask is None:
                continue
            c = _factors(w, mask, rule)
            m.weight_orig.mul_(c.view(-1, *([1] * (m.weight_orig.dim() - 1))))
            m.weight = m.weight_orig * m.weight_mask  # what prune's forward pre-hook recomputes
    return model
