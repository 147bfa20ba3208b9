"""Scaling factors for the kept weights of a pruned layer (Dadoun et al. 2025, Section 4) - numpy/scipy only.

Law: ``w ~ N(0, sigma2/n)``; a pruning rule keeps ``w`` with probability ``1 - s`` (random) or when ``|w| > t``
(magnitude). Condition (ii) of Theorem 3.1 asks each row to keep its second moment: with ``b = c 1{kept}``,

.. math:: n\\,\\mathbb{E}|b w|^2 = \\sigma^2  \\iff  c^2 = \\frac{\\sigma^2}{n\\,\\mathbb{E}[w^2 1\\{kept\\}]}.

* random pruning: ``E[w^2 1{kept}] = (1-s) sigma2/n`` so ``c = (1-s)^{-1/2}`` (Theorem 4.1);
* magnitude pruning at ``|w| > t``: with ``tau = t sqrt(n)/sigma``,
  ``E[N^2 1{|N| > tau}] = 2 tau phi(tau) + erfc(tau/sqrt 2)`` (integration by parts), so
  ``c_exact = (2 tau phi(tau) + erfc(tau/sqrt 2))^{-1/2}``; keeping a fraction ``1-s`` means
  ``tau = Phi^{-1}(1 - (1-s)/2)``;
* the paper's printed factor (Theorems 4.2/4.3): ``c_paper = (sqrt(2 pi) e^{n t^2/2} / (t n^{3/2}))^{1/2}``.

With ``sigma2 = 2`` (the paper's setting), ``n t^2/2 = tau^2``, so ``c_paper^2 = sqrt(pi) e^{tau^2} / (tau n)`` while
``c_exact^2 ~ sqrt(2 pi) e^{tau^2/2} / (2 tau)`` for large ``tau``: the ratio ``c_paper^2/c_exact^2 ->
sqrt(2) e^{tau^2/2} / n`` depends on ``n``; see :func:`compare_magnitude_factors` and docs/scaling.md.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

RULES = ("none", "random", "paper-magnitude", "exact")


def tau_for_density(density: float) -> float:
    """``tau`` with ``P(|N| > tau) = density`` for a standard normal ``N`` (``density = 1 - s``)."""
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density 1 - sparsity must be in (0, 1], got {density!r}")
    return float(stats.norm.isf(density / 2.0))


def truncated_second_moment(tau: float) -> float:
    """``E[N^2 1{|N| > tau}] = 2 tau phi(tau) + erfc(tau / sqrt 2)`` for a standard normal ``N``."""
    return float(2.0 * tau * stats.norm.pdf(tau) + special.erfc(tau / math.sqrt(2.0)))


def threshold_for_count(r: int, n: int, sigma2: float) -> float:
    """Theorem 4.3's deterministic proxy ``t`` solving ``P(|w| <= t) = 1 - r/(n^2+1)``, ``w ~ N(0, sigma2/n)``.

    ``t = sqrt(2 sigma2 / n) erfinv(1 - r/(n^2+1))`` (the paper's ``(2/sqrt n) erfinv(...)`` for sigma2 = 2).
    """
    q = r / (n * n + 1.0)
    return float(math.sqrt(2.0 * sigma2 / n) * special.erfinv(1.0 - q))


def paper_magnitude_factor(t: float, n: int) -> float:
    """The factor printed in Theorems 4.2/4.3: ``(sqrt(2 pi) exp(n t^2/2) / (t n^{3/2}))^{1/2}`` (sigma2 = 2).

    Computed in the log domain; returns ``inf`` when it overflows float64.
    """
    if t <= 0:
        raise ValueError(f"threshold t must be > 0, got {t!r}")
    log_c2 = 0.5 * math.log(2 * math.pi) + n * t * t / 2 - math.log(t) - 1.5 * math.log(n)
    return math.exp(0.5 * log_c2) if 0.5 * log_c2 < 709 else math.inf


def exact_magnitude_factor(tau: float) -> float:
    """``c_exact = E[N^2 1{|N| > tau}]^{-1/2}``: restores the second moment of every row exactly."""
    return truncated_second_moment(tau) ** -0.5


def scaling_factor(
    rule: str,
    method: str,
    *,
    n: int,
    sigma2: float,
    sparsity: float = 0.0,
    threshold: float | None = None,
    keep: int | None = None,
) -> float:
    """The scalar factor ``c`` multiplying the kept weights for a rule and a pruning method (law-level).

    Args:
        rule: ``none`` | ``random`` (``(1-s)^{-1/2}``, Theorem 4.1) | ``paper-magnitude`` (Theorems 4.2/4.3 as
            printed) | ``exact`` (condition (ii) of Theorem 3.1 exactly for the law ``N(0, sigma2/n)``).
        method: ``random`` | ``magnitude`` (keep a fraction ``1-s``, or the top ``keep`` entries) |
            ``magnitude-threshold`` (keep ``|w| > threshold``).
        n: width; sigma2: weight variance times ``n``.

    ``empirical`` (per-row, realised weights) is not a law-level factor: see ``jacstab.pruning``.
    """
    density = kept_density(method, n=n, sigma2=sigma2, sparsity=sparsity, threshold=threshold, keep=keep)
    if rule == "none":
        return 1.0
    if rule == "random":
        return density**-0.5
    if method == "random":
        if rule == "exact":
            return density**-0.5
        raise ValueError("paper-magnitude scaling applies to magnitude pruning only (use random or exact)")
    if method not in ("magnitude", "magnitude-threshold"):
        raise ValueError(f"{rule} scaling needs a known weight law; use scaling='empirical' for {method}")
    if rule == "exact":
        return exact_magnitude_factor(tau_for_density(density))
    if rule == "paper-magnitude":
        if method == "magnitude-threshold":
            return paper_magnitude_factor(float(threshold), n)
        r = keep if keep is not None else max(1, round(density * n * n))
        return paper_magnitude_factor(threshold_for_count(r, n, sigma2), n)
    raise ValueError(f"scaling rule must be one of {', '.join(RULES)} or empirical, got {rule!r}")


def kept_density(
    method: str, *, n: int, sigma2: float, sparsity: float, threshold: float | None, keep: int | None
) -> float:
    if method == "magnitude-threshold":
        if threshold is None or threshold <= 0:
            raise ValueError(f"magnitude-threshold pruning needs threshold > 0, got {threshold!r}")
        return float(special.erfc(threshold * math.sqrt(n / (2.0 * sigma2))))
    if keep is not None:
        return keep / float(n * n)
    return 1.0 - sparsity


def compare_magnitude_factors(n: int, sparsities, sigma2: float = 2.0) -> list[dict]:
    """Rows ``{sparsity, random, exact, paper, paper_over_exact}`` of factors for magnitude pruning (Fig. 3 lower
    right of the paper), keeping the top ``(1-s) n^2`` entries of an ``N(0, sigma2/n)`` matrix."""
    rows = []
    for s in np.atleast_1d(sparsities):
        s = float(s)
        ex = scaling_factor("exact", "magnitude", n=n, sigma2=sigma2, sparsity=s)
        pa = scaling_factor("paper-magnitude", "magnitude", n=n, sigma2=sigma2, sparsity=s)
        rows.append({"sparsity": s, "random": (1 - s) ** -0.5, "exact": ex, "paper": pa, "paper_over_exact": pa / ex})
    return rows
