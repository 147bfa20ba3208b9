"""The law of a spec's hidden matrices: kept density and the per-row second moment ``n E|b w|^2`` - numpy/scipy
only (Dadoun et al. 2025, Theorem 3.1 condition (ii), Theorems 4.1-4.3, Section 5)."""

from __future__ import annotations

import math
from typing import Any

from jacstab.theory.scaling import kept_density, scaling_factor, tau_for_density, truncated_second_moment


def density(spec: Any) -> float:
    """The kept fraction ``1 - s`` of the hidden weights of ``spec``'s law (from the threshold or ``keep``)."""
    return kept_density(
        spec.prune, n=spec.width, sigma2=spec.sigma2, sparsity=spec.sparsity, threshold=spec.threshold, keep=spec.keep
    )


def _kept_moment(spec: Any) -> float:
    """``m = E[w^2 1{kept}] / E[w^2]``: ``1 - s`` (random), ``E[N^2 1{|N| > tau}]`` (magnitude), NaN (snip)."""
    if spec.prune == "random":
        return density(spec)
    if spec.prune.startswith("magnitude"):
        return truncated_second_moment(tau_for_density(density(spec)))
    return math.nan


def law_second_moment(spec: Any, rule: str | None = None) -> tuple[float, float]:
    """``(beta, sigma2_eff)`` of the hidden matrices of ``spec`` under scaling ``rule`` (default ``spec.scaling``).

    .. math:: \\sigma^2_{eff} = n\\,\\mathbb{E}|b w|^2 = c^2\\,\\sigma^2 (1 + \\eta^2)\\, m

    with ``c = beta`` the factor of the kept weights (:func:`jacstab.theory.scaling.scaling_factor`) and ``m`` the
    kept fraction of the second moment: 1 unpruned, ``1 - s`` (random), ``E[N^2 1{|N| > tau}]`` (magnitude);
    ``empirical`` restores each row's realised energy, so ``c^2 m = 1`` and ``sigma2_eff = sigma2 (1 + eta^2)``.
    Row/col/ar1 correlation keeps the variance. For ReLU, ``sigma2_eff / 2 - 1`` is the signed condition (ii).

    Args:
        spec: a :class:`jacstab.NetSpec` (read through its flat attributes).
        rule: ``none`` | ``random`` | ``paper-magnitude`` | ``exact`` | ``empirical``; default ``spec.scaling``.

    Returns:
        ``(beta, sigma2_eff)``; ``NaN`` where the law is unknown (SNIP with a law-level rule: its mask depends on
        data and gradients; ``approx-isometry``: the kept weights are optimised) and ``inf`` where the
        paper-magnitude factor overflows.

    Raises:
        ValueError: a rule that does not apply to the pruning method (as ``scaling_factor``).

    References:
        Dadoun et al. 2025, Theorem 3.1 condition (ii), Theorems 4.1-4.3, Section 5.
    """
    rule = spec.scaling if rule is None else rule
    var = spec.sigma2 * (1.0 + spec.eta**2)
    if spec.prune == "none":
        return 1.0, var
    m = _kept_moment(spec)
    if rule == "empirical":
        return (1.0 / math.sqrt(m) if math.isfinite(m) else math.nan), var
    if rule == "approx-isometry":  # optimised weights (Lee et al. 2020): no law-level factor, no prediction
        return math.nan, math.nan
    method = "magnitude" if spec.prune == "snip" else spec.prune
    c = scaling_factor(
        rule, method, n=spec.width, sigma2=spec.sigma2, sparsity=spec.sparsity, threshold=spec.threshold, keep=spec.keep
    )
    return c, c * c * var * m


def law_reason(spec: Any, sigma2_eff: float) -> str:
    """Why ``sigma2_eff`` (from :func:`law_second_moment`) is unknown or infinite, ``""`` when it is fine."""
    if math.isnan(sigma2_eff) and spec.scaling == "approx-isometry":
        return ("no prediction: approximate isometry optimises the kept weights, so their law is not the "
                "Gaussian one the theory needs")
    if math.isnan(sigma2_eff):
        return (
            f"no prediction: the law of {spec.prune}-pruned weights with scaling={spec.scaling} is unknown "
            "(the mask depends on data and gradients); use scaling='empirical'"
        )
    if math.isinf(sigma2_eff):
        return "the paper's magnitude factor overflows at this width (Theorems 4.2/4.3 as printed)"
    return ""
