"""The fixed-gates (masked) model of Approximation 2.1: exact finite-width Lyapunov exponents - numpy/scipy only.

Model (Dadoun et al. 2025, Approximation 2.1; Haas et al., paper 002, "fixed gates"): ``J = W_L D_{L-1} ... W_1 D_0``
with ``W_k`` iid ``N(0, c/n)`` entries and ``D_k`` diagonal with iid Bernoulli(``p``) entries, independent of the
weights (``NetSpec(gates='bernoulli', gate_p=p, sigma2=c)``). Let ``K_k ~ Binomial(n, p)`` be the number of open
gates of ``D_k``.

Derivation (docs/approx21.md, Section 2). Let ``x_k = J^(k) u``. Given the past, ``x_k = W_k z`` with
``z = D_{k-1} x_{k-1}`` independent of ``W_k``, so ``x_k ~ N(0, (c/n) ||z||^2 I_n)``: its entries are iid centred
Gaussians. Hence ``||D_k x_k||^2 = (c/n) ||D_{k-1} x_{k-1}||^2 chi^2_{K_k}`` with a fresh chi-square independent
of everything before, and by telescoping

    ``log ||J u||^2 = L log(c/n) + sum_{k=1}^{L-1} log chi^2_{K_k} + log chi^2_n + log ||D_0 u||^2``.

The same argument for an ``i``-frame (``x_k`` an ``n x i`` Gaussian matrix whose Gram determinant picks up
``prod_{j=1}^{i} chi^2_{K-j+1}``, Bartlett's decomposition) gives the ``i``-th exponent, a binomial mixture of
Newman's (1986) Ginibre formula with ``n`` replaced by the number of open gates:

    ``lambda_i = (1/2) [log(c/n) + log 2 + E psi((K - i + 1)/2)]``.

``K < i`` has positive probability ``P(K < i)`` at every finite ``n`` (``p < 1``): then the ``i``-volume of the
product is exactly 0 and ``lambda_i = -inf`` almost surely for an infinite product (every direction dies). What a
finite product of depth ``L`` shows is the exponent *conditional on survival* (``K_k >= i`` in every layer, an
event of probability ``(1 - P(K < i))^L``): with independent layers the surviving ``K_k`` are iid
``Binomial(n, p)`` conditioned on ``K >= i``, so the conditional exponent is the formula above with ``E[. | K >= i]``.
Both are returned (:class:`MaskedLyapunov`). For ``n = 100, p = 1/2``, ``P(K = 0) = 2^-100``: negligible.

As ``n -> inf`` (``K/n -> p``, ``psi(K/2) + log 2 - log K -> 0``): ``lambda_i -> (1/2) log(c p)`` for every fixed
``i``, the growth rate of Theorem 2.2 with ``E[phi'^2] = p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from jacstab._checks import check_int, check_real

MAX_WIDTH = 10**6  # one binomial pmf of n + 1 float64 values


@dataclass(frozen=True)
class MaskedLyapunov:
    """Lyapunov exponents of the fixed-gates model at finite width (see the module docstring).

    Attributes:
        exponents: ``(k,)`` conditional exponents ``lambda_i | K >= i`` (natural log per layer), descending.
        dead: ``(k,)`` per-layer probability ``P(K < i)`` that a layer kills direction ``i`` (the unconditional
            exponent is ``-inf`` wherever it is positive).
        infinite_width: ``(1/2) log(c p)``, the ``n -> inf`` limit of every fixed ``lambda_i``.
    """

    exponents: np.ndarray
    dead: np.ndarray
    infinite_width: float

    def survival(self, depth: int, i: int = 1) -> float:
        """``P(K_k >= i for k = 0..depth-1)``: the probability that direction ``i`` survives a depth-``depth``
        product (for ``i = 1``: that ``J^(depth) != 0``)."""
        return float((1.0 - self.dead[i - 1]) ** depth)


def _check(n: int, c: float, p: float) -> tuple[int, float, float]:
    n = check_int("n", n, 1, MAX_WIDTH)
    return n, check_real("c", c, 0.0, 1e6, open_low=True), check_real("p", p, 0.0, 1.0, open_low=True)


def _binomial(n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(n + 1)
    return k, stats.binom.pmf(k, n, p)


def masked_lyapunov(n: int, c: float = 2.0, p: float = 0.5, k: int | None = None) -> MaskedLyapunov:
    """Top-``k`` Lyapunov exponents of ``W_L D_{L-1} ... W_1 D_0`` with ``N(0, c/n)`` weights and iid
    Bernoulli(``p``) gates (Approximation 2.1's fixed-gates model), exact at finite ``n``.

    .. math::
        \\lambda_i = \\tfrac12\\Big[\\log\\frac{c}{n} + \\log 2 + \\mathbb{E}\\big[\\psi\\big(\\tfrac{K-i+1}{2}\\big)
        \\,\\big|\\, K \\ge i\\big]\\Big],\\qquad K \\sim \\mathrm{Binomial}(n, p)

    Args:
        n: width (``1 .. 10^6``); c: ``sigma2``, the weight variance times ``n``; p: gate probability ``(0, 1]``;
        k: how many exponents (default all ``n``).

    Returns:
        A :class:`MaskedLyapunov` (conditional exponents, per-layer death probabilities, the infinite-width limit).

    Raises:
        ValueError: ``n``, ``c``, ``p`` or ``k`` out of range.

    References:
        Newman 1986 (Ginibre products; ``p = 1`` gives :func:`jacstab.theory.gaussian_lyapunov` exactly);
        Dadoun et al. 2025, Approximation 2.1 and Theorem 2.2; derivation in docs/approx21.md.
        Measured by :func:`jacstab.lyapunov_exponents` on ``NetSpec(gates='bernoulli')`` networks.
    """
    n, c, p = _check(n, c, p)
    k = n if k is None else check_int("k", k, 1, n)
    kk, pmf = _binomial(n, p)
    out, dead = np.empty(k), np.empty(k)
    for i in range(1, k + 1):
        alive = kk >= i
        mass, dead[i - 1] = pmf[alive].sum(), pmf[~alive].sum()
        mean_psi = pmf[alive] @ special.digamma((kk[alive] - i + 1) / 2) / mass if mass > 0 else -math.inf
        out[i - 1] = 0.5 * (math.log(c / n) + math.log(2.0) + mean_psi)
    return MaskedLyapunov(out, dead, 0.5 * math.log(c * p))  # dead: P(K < i) per layer


def masked_top_lyapunov(n: int, c: float = 2.0, p: float = 0.5) -> float:
    """``lambda_1 | K >= 1 = (1/2) [log(c/n) + E(psi(K/2) + log 2 | K >= 1)]`` (see :func:`masked_lyapunov`)."""
    return float(masked_lyapunov(n, c, p, 1).exponents[0])


def masked_log_norm_sq(n: int, depth: int, c: float = 2.0, p: float = 0.5) -> tuple[float, float]:
    """Exact mean and variance of ``log ||J u||^2`` in the fixed-gates model, for a unit ``u`` on the open units of
    ``D_0`` (``D_0 u = u``), conditional on every ``K_1..K_{L-1} >= 1``:

    .. math::
        \\mathbb{E} = L\\log\\frac{c}{n} + (L-1)\\,\\mathbb{E}[\\psi(K/2) + \\log 2 \\mid K\\ge1]
        + \\psi(n/2) + \\log 2,
        \\quad \\mathrm{Var} = (L-1)\\,\\mathrm{Var}[\\log\\chi^2_K \\mid K \\ge 1] + \\psi'(n/2)

    with ``Var[log chi^2_K] = E psi'(K/2) + Var psi(K/2)`` over the binomial mixture. This is the law of
    ``2 L lambda_hat`` for the QR estimator ``jacstab.lyapunov_exponents(net, k=1)`` of a
    ``NetSpec(gates='bernoulli')`` network (its frame starts on the open units of ``D_0``).

    Args:
        n: width; depth: ``L >= 1``; c: ``sigma2``; p: gate probability.

    Returns:
        ``(mean, variance)``, natural log.
    """
    n, c, p = _check(n, c, p)
    depth = check_int("depth", depth, 1)
    kk, pmf = _binomial(n, p)
    kk, pmf = kk[1:], pmf[1:] / pmf[1:].sum()
    psi = special.digamma(kk / 2) + math.log(2.0)
    m = float(pmf @ psi)
    v = float(pmf @ special.polygamma(1, kk / 2) + pmf @ (psi - m) ** 2)
    last = float(special.digamma(n / 2)) + math.log(2.0)
    mean = depth * math.log(c / n) + (depth - 1) * m + last
    return mean, (depth - 1) * v + float(special.polygamma(1, n / 2))


def tw_td_same_correlation() -> float:
    """``corr(T_W, T_D) -> 2 / pi^{3/2} = 0.359`` for the paper's pairing ``(W_l, D_l)`` with iid Gaussian weights.

    ``T_W = n^-2 sum_ij 1{W_ij > 0}``, ``T_D = n^-1 sum_i 1{Y_i > 0}`` with ``Y = W h``, ``h = relu(Y_{l-1}) >= 0``.
    Given ``h``, ``(W_ij, Y_i)`` are jointly Gaussian with correlation ``rho_j = h_j/||h||``, so
    ``Cov(1{W_ij>0}, 1{Y_i>0}) = arcsin(rho_j)/(2 pi)`` (Sheppard) and
    ``Cov(T_W, T_D) = n^-2 (2 pi)^-1 sum_j h_j/||h|| -> n^-3/2 / (2 pi^{3/2})`` (``E h / sqrt(E h^2) = pi^-1/2``
    for a rectified Gaussian); with ``Var T_W = 1/(4 n^2)`` and ``Var T_D = 1/(4 n)`` the correlation is
    ``2/pi^{3/2}`` at every large ``n`` (corrections ``O(1/n)``). So the paper's Fig. 6 statistic is correlated for
    iid weights too: ``D_l`` is a function of ``W_l``. (Derivation: docs/approx21.md, Section 3.)
    """
    return 2.0 / math.pi**1.5
