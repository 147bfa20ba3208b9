"""Residual MLPs (Borkar 2026, paper 004): the top Lyapunov exponent of ``prod_k (I + alpha W_k D_{k-1})`` -
numpy/scipy only.

Network: ``Y_k = Y_{k-1} + alpha W_k phi(Y_{k-1})``, ``W_ij ~ N(0, c/n)`` (``c = sigma2``), so the Jacobian is
``J = prod_k (I + alpha W_k D_{k-1})`` and its top exponent ``lambda_1 = lim (1/L) log ||J||`` (Furstenberg-Kesten).

**Infinite width.** For a unit vector ``v``, ``||(I + alpha W D) v||^2 = 1 + 2 alpha v^T W D v + alpha^2 ||W D v||^2``
has mean ``1 + alpha^2 c ||D v||^2 -> 1 + alpha^2 c p`` with ``p = E[phi'(z)^2]`` (the fraction of energy the gates
pass: 1/2 for ReLU, 1 for linear and abs, ``(1 + slope^2)/2`` for leaky ReLU) and concentrates as ``n -> inf``:

.. math:: \\lambda_1 = \\tfrac12 \\log(1 + \\alpha^2 c\\, p)

**Exact at finite n, linear.** ``W v ~ N(0, (c/n) I_n)`` for every unit ``v`` (rotation invariance), so
``(I + alpha W) v ~ N(v, (alpha^2 c/n) I_n)`` and

.. math:: \\|(I + \\alpha W) v\\|^2 \\sim \\frac{\\alpha^2 c}{n}\\,\\chi'^2_n(\\lambda),\\qquad
          \\lambda = \\frac{n}{\\alpha^2 c},

a noncentral chi-square. It is the Poisson mixture ``chi'^2_n(lambda) = chi^2_{n + 2J}``, ``J ~ Poisson(lambda/2)``,
and ``E log chi^2_m = log 2 + psi(m/2)``. By Furstenberg's formula (the law of the growth does not depend on the
current direction, so ``lambda_1`` is one step's expected log growth):

.. math:: \\lambda_1 = \\tfrac12\\Big[\\log\\frac{2\\alpha^2 c}{n}
          + \\sum_{j\\ge 0} e^{-\\mu}\\frac{\\mu^j}{j!}\\,\\psi\\!\\Big(\\frac n2 + j\\Big)\\Big],
          \\qquad \\mu = \\frac{n}{2\\alpha^2 c}.

It tends to the infinite-width value as ``n -> inf`` and to Newman's top exponent ``(1/2)(log(2 alpha^2 c/n) +
psi(n/2))`` of ``alpha W`` alone as ``alpha -> inf``. (Derived here; the noncentral chi-square mixture is standard,
Johnson, Kotz, Balakrishnan, Continuous Univariate Distributions vol. 2, ch. 29.)

**Gated, finite n (fixed-gates model, approximate).** With gates ``D`` independent of ``W`` and of ``v``
(Approximation 2.1 of paper 001) and ``q = ||D v||^2``, ``W D v ~ N(0, (c q / n) I)``, so the step is
``(alpha^2 c q / n) chi'^2_n(n / (alpha^2 c q))``. Taking ``v`` uniform on the sphere and ``D`` Bernoulli(p)
gives ``q ~ Beta(m/2, (n-m)/2)`` with ``m ~ Bin(n, p)``; averaging the exact linear step over ``q`` gives the
``1/n`` correction. The uniform direction is an approximation (the stationary direction of the chain is
exchangeable across coordinates but need not be uniform), so :func:`residual_gated_exponent` says
"approximate".
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

_POISSON_SDS = 12.0  # the Poisson mixture is summed over mean +- 12 sd (tail mass < 1e-30) plus 40 terms


def _check(n: int, alpha: float, sigma2: float) -> None:
    if not (isinstance(n, (int, np.integer)) and 1 <= n <= 10**7):
        raise ValueError(f"n must be an integer in [1, 10^7], got {n!r}")
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0 (alpha = 0 is the plain MLP), got {alpha!r}")
    if not (math.isfinite(sigma2) and sigma2 > 0):
        raise ValueError(f"sigma2 must be a finite number > 0, got {sigma2!r}")


def residual_infinite_width_exponent(alpha: float, sigma2: float = 1.0, p: float = 1.0) -> float:
    """``(1/2) log(1 + alpha^2 sigma2 p)``: the top exponent of a residual product as ``n -> inf`` (module doc).

    Args:
        alpha: residual weight (> 0); sigma2: ``c`` in ``W_ij ~ N(0, c/n)``; p: ``E[phi'^2]`` in ``[0, 1]``
            (0.5 ReLU, 1 linear).

    Raises:
        ValueError: out-of-range arguments.
    """
    if not (math.isfinite(alpha) and alpha >= 0 and math.isfinite(sigma2) and sigma2 > 0 and 0 <= p <= 1):
        raise ValueError(f"need alpha >= 0, sigma2 > 0, p in [0, 1]; got alpha={alpha}, sigma2={sigma2}, p={p}")
    return 0.5 * math.log1p(alpha * alpha * sigma2 * p)


def _mean_log_step(n: int, a2cq: np.ndarray) -> np.ndarray:
    """``E log ||(I + alpha W) v||^2`` for ``||W v||^2`` of scale ``a2cq = alpha^2 c q`` (array), exact."""
    a2cq = np.atleast_1d(np.asarray(a2cq, dtype=np.float64))
    out = np.empty_like(a2cq)
    for i, s in enumerate(a2cq):
        mu = n / (2.0 * s)
        lo = max(0, int(mu - _POISSON_SDS * math.sqrt(mu) - 40))
        hi = int(mu + _POISSON_SDS * math.sqrt(mu) + 40)
        j = np.arange(lo, hi + 1)
        w = stats.poisson.pmf(j, mu)
        out[i] = math.log(2.0 * s / n) + float(np.dot(w, special.digamma(n / 2.0 + j)) / w.sum())
    return out


def residual_linear_exponent(n: int, alpha: float, sigma2: float = 1.0) -> float:
    """Exact top Lyapunov exponent (natural log, per layer) of ``prod (I + alpha W_k)``, ``W_ij ~ N(0, sigma2/n)``.

    .. math:: \\lambda_1 = \\tfrac12\\Big[\\log\\frac{2\\alpha^2\\sigma^2}{n}
              + \\mathbb{E}_{J\\sim\\mathrm{Poisson}(n/(2\\alpha^2\\sigma^2))}\\,\\psi\\big(\\tfrac n2 + J\\big)\\Big]

    (derivation in the module docstring). Measured by ``jacstab.lyapunov(net).exponents[0]`` for
    ``NetSpec(n, L, activation="linear", sigma2=sigma2, residual=alpha)``.

    Raises:
        ValueError: ``n`` not in ``[1, 10^7]``, ``alpha <= 0`` or ``sigma2 <= 0``.
    """
    _check(n, alpha, sigma2)
    return 0.5 * float(_mean_log_step(int(n), np.array([alpha * alpha * sigma2]))[0])


def residual_gated_exponent(n: int, alpha: float, sigma2: float = 1.0, p: float = 0.5, *, nodes: int = 48) -> float:
    """Approximate finite-``n`` top exponent of ``prod (I + alpha W_k D_{k-1})`` with Bernoulli(``p``) gates.

    .. math:: \\lambda_1 \\approx \\tfrac12\\,\\mathbb{E}_{m\\sim\\mathrm{Bin}(n,p)}\\,
              \\mathbb{E}_{q\\sim\\mathrm{Beta}(m/2,(n-m)/2)}\\,\\mathbb{E}\\log\\Big[\\frac{\\alpha^2\\sigma^2 q}{n}
              \\chi'^2_n\\Big(\\frac{n}{\\alpha^2\\sigma^2 q}\\Big)\\Big]

    (fixed-gates model with a uniformly distributed direction; module docstring). ``p = 1`` is
    :func:`residual_linear_exponent` exactly. ``nodes`` Gauss-Jacobi nodes per ``m`` for the Beta average.

    Raises:
        ValueError: bad ``n``, ``alpha``, ``sigma2``; ``p`` not in ``(0, 1]``.
    """
    _check(n, alpha, sigma2)
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p!r}")
    if p == 1:
        return residual_linear_exponent(n, alpha, sigma2)
    sd = math.sqrt(n * p * (1 - p))
    ms = np.arange(max(1, int(n * p - 10 * sd)), min(n, int(n * p + 10 * sd) + 1) + 1)
    pm = stats.binom.pmf(ms, n, p)
    a2c, total = alpha * alpha * sigma2, 0.0
    for m, w_m in zip(ms, pm):
        if m == n:
            total += w_m * _mean_log_step(n, np.array([a2c]))[0]
            continue
        a, b = m / 2.0, (n - m) / 2.0
        # Beta(a, b) on [0, 1] = Jacobi weight (1-x)^(b-1)(1+x)^(a-1) on [-1, 1], x = 2q - 1
        x, w = special.roots_jacobi(nodes, b - 1.0, a - 1.0)
        q = (x + 1.0) / 2.0
        vals = _mean_log_step(n, a2c * q)
        total += w_m * float(np.dot(w, vals) / w.sum())
    return 0.5 * total / float(pm.sum())


def residual_growth(spec, sigma2_eff: float, mean_dphi2: float) -> tuple[float, str, str]:
    """``(growth_per_layer, kind, reason)`` for ``predict`` of a residual spec: the infinite-width top exponent
    ``(1/2) log(1 + alpha^2 sigma2_eff E[phi'^2])`` for positively homogeneous activations; tanh: no prediction
    (its pre-activation variance drifts with depth in a residual net, so ``E[phi'^2]`` is not fixed)."""
    if spec.activation == "tanh":
        return math.nan, "", (
            "no prediction: in a residual tanh net the pre-activation variance grows with depth, so the gate "
            "constant E[phi'^2] is not fixed"
        )
    g = 0.5 * math.log1p(spec.residual**2 * sigma2_eff * mean_dphi2)
    kind = "residual (paper 004): E||(I + alpha W D) u||^2 = 1 + alpha^2 sigma2_eff E[phi'^2], n -> inf"
    if spec.activation == "linear" and spec.init == "gaussian" and spec.prune == "none":
        exact = residual_linear_exponent(spec.width, spec.residual, sigma2_eff)
        kind += f"; exact at n={spec.width}: {exact:.6g} (noncentral chi-square)"
    return g, kind, ""
