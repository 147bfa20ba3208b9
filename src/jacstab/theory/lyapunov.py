"""Lyapunov exponents and finite-depth laws for products of Gaussian matrices - numpy/scipy only."""

from __future__ import annotations

import math

import numpy as np
from scipy import special


def gaussian_lyapunov(n: int, sigma2: float = 1.0) -> np.ndarray:
    """Lyapunov exponents (natural log, per layer) of a product of iid ``n x n`` ``N(0, sigma2/n)`` matrices.

    .. math:: \\lambda_i = \\tfrac12\\left[\\log\\frac{2\\sigma^2}{n} + \\psi\\!\\left(\\frac{n-i+1}{2}\\right)\\right],
              \\quad i = 1..n

    (Newman 1986; Forrester 2013 for the real Ginibre case.) Exact at every ``n``; the measured
    ``jacstab.lyapunov_exponents`` of a linear Gaussian network converge to these as ``L -> inf``.
    """
    if not 1 <= n <= 10**7:
        raise ValueError(f"n must be an integer in [1, 10^7] (one float64 exponent each), got {n}")
    i = np.arange(1, n + 1)
    return 0.5 * (math.log(2.0 * sigma2 / n) + special.digamma((n - i + 1) / 2.0))


def log_norm_sq_lognormal(n: int, L: int, activation: str = "relu", sigma2: float = 2.0) -> tuple[float, float]:
    """Mean and variance of ``log ||J u||^2`` for a fixed unit vector ``u`` (finite ``beta = L/n``).

    * ``linear``, ``N(0, sigma2/n)``: exact, ``||J u||^2 = prod_l sigma2 chi^2_n / n`` so
      mean ``= L (log(2 sigma2/n) + psi(n/2))``, variance ``= L psi'(n/2)``.
    * ``relu`` at ``sigma2 = 2``: log-normal (Hanin and Nica 2020, arXiv:1812.05994, prove the Gaussian limit of
      ``log ||J u||`` as ``n, L -> inf`` with ``beta = L/n`` fixed) with mean ``-5 beta / 2`` and variance
      ``5 beta`` to leading order in ``1/n``. The constants are derived here, not copied: per layer ``chi^2_n/n``
      contributes variance ``2/n``, the fraction of the vector's energy on active units (Beta(k/2, (n-k)/2))
      ``2/n``, and the number ``k ~ Bin(n, 1/2)`` of active units ``1/n``; the mean is ``-variance/2`` because
      ``E ||J u||^2 = 1`` at criticality. Checked against Monte Carlo in tests/test_theory.py.
    """
    if activation == "linear":
        return L * (math.log(2.0 * sigma2 / n) + float(special.digamma(n / 2.0))), L * float(
            special.polygamma(1, n / 2.0)
        )
    if activation == "relu":
        if sigma2 != 2.0:
            raise ValueError("the ReLU log-normal law is stated at the edge of chaos, sigma2 = 2")
        beta = L / n
        return -2.5 * beta, 5.0 * beta
    raise ValueError(f"activation must be linear or relu, got {activation!r}")
