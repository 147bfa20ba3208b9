"""Free-probability spectrum of ``J J^T`` for products of masked random layers - numpy/scipy only.

Model (paper eq. 2 under Approximation 2.1): ``J = W_L D_{L-1} ... W_1 D_0`` with ``D`` diagonal Bernoulli(p)
projections (p = 1/2 for ReLU) free from the weights. S-transforms multiply under free multiplicative convolution
(Voiculescu), so (Pennington, Schoenholz, Ganguli 2017, 2018):

.. math:: S_{J J^T}(z) = \\prod_{l=1}^{L} S_{W^T W}(z)\\, S_{D}(z),\\qquad
          S_D(z) = \\frac{1+z}{p+z},\\quad S_{W^TW}^{gauss}(z) = \\frac{1}{\\sigma^2 (1+z)},\\quad
          S_{W^TW}^{orth}(z) = \\frac{1}{\\sigma^2}.

Gaussian: ``S(z) = (sigma2 (p+z))^{-L}``; orthogonal: ``S(z) = sigma2^{-L} ((1+z)/(p+z))^L``. With ``chi(z) = z S(z) /
(1+z)`` the inverse of the moment series ``psi(w) = sum_k m_k w^k``, the right edge of the support is
``1 / max_{z>0} chi(z)``: the predicted ``||J||^2`` as ``n -> inf`` (``jacstab.depth_curve`` measures ``log||J||``).
``p = 1, sigma2 = 1``, Gaussian: the Fuss-Catalan law of ``L`` Ginibre matrices, edge ``(L+1)^{L+1}/L^L``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

INITS = ("gaussian", "orthogonal")
MAX_MOMENTS = 2000  # the power series of f^k costs K^3 / 3 flops: ~3 s at K = 2000
MAX_DENSITY_DEPTH = 64  # density() roots a degree-(L+1) polynomial at every grid point: ~20 s at L = 64


def _check(L: int, p: float, sigma2: float, init: str) -> None:
    if not isinstance(L, (int, np.integer)) or L < 1:
        raise ValueError(f"L must be an integer >= 1, got {L!r}")
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p (the mask density) must be in (0, 1], got {p!r}")
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be > 0, got {sigma2!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")


def s_transform(z, L: int, p: float = 0.5, sigma2: float = 2.0, init: str = "gaussian"):
    """``S_{J J^T}(z)`` (see module docstring)."""
    _check(L, p, sigma2, init)
    z = np.asarray(z, dtype=float)
    if init == "gaussian":
        return (sigma2 * (p + z)) ** (-L)
    return sigma2 ** (-L) * ((1 + z) / (p + z)) ** L


def log_spectral_edge(L: int, p: float = 0.5, sigma2: float = 2.0, init: str = "gaussian") -> float:
    """``log`` of the right edge of the limiting spectrum of ``J J^T``: ``log ||J||^2`` as ``n -> inf``.

    Gaussian: ``z*`` solves ``L z^2 + (L-1) z - p = 0`` and ``edge = (1+z*) (sigma2 (p+z*))^L / z*``.
    Orthogonal: ``z*`` maximises ``chi`` numerically (``p = 1`` gives ``sigma2^L``: all singular values equal).
    Natural log, so it never overflows.
    """
    _check(L, p, sigma2, init)
    if init == "gaussian":
        z = (-(L - 1) + math.sqrt((L - 1) ** 2 + 4 * L * p)) / (2 * L)
        return math.log1p(z) + L * math.log(sigma2 * (p + z)) - math.log(z)
    if p == 1.0:
        return L * math.log(sigma2)

    def dlogchi(z):
        return 1 / z + (L - 1) / (1 + z) - L / (p + z)

    hi = 1.0
    while dlogchi(hi) > 0:
        hi *= 2
    z = optimize.brentq(dlogchi, 1e-300 if dlogchi(1e-12) > 0 else 1e-12, hi, xtol=1e-15, rtol=1e-14)
    return math.log1p(z) - math.log(z) + L * (math.log(sigma2) + math.log(p + z) - math.log1p(z))


def predicted_log_norm(L: int, p: float = 0.5, sigma2: float = 2.0, init: str = "gaussian") -> float:
    """Predicted ``log ||J||`` (n -> inf) = ``log_spectral_edge / 2``; compare with ``jacstab.depth_curve``."""
    return 0.5 * log_spectral_edge(L, p, sigma2, init)


def _series(coeffs_fn, order: int) -> np.ndarray:
    return np.array([coeffs_fn(j) for j in range(order + 1)], dtype=float)


def moments(K: int, L: int, p: float = 0.5, sigma2: float = 2.0, init: str = "gaussian") -> np.ndarray:
    """``m_k = lim (1/n) tr (J J^T)^k`` for ``k = 1..K`` by Lagrange inversion of ``psi = w (1+psi)/S(psi)``.

    ``m_k = (1/k) [psi^{k-1}] f(psi)^k`` with ``f = (1+psi)/S(psi)``: Gaussian ``f = (1+psi)(sigma2(p+psi))^L``,
    orthogonal ``f = sigma2^L (p+psi)^L (1+psi)^{1-L}``. Exact rational arithmetic is not needed for K <= ~30.
    Check: ``L = 1, p = 1, sigma2 = 1`` gives the Catalan numbers; ``m_1 = (sigma2 p)^L`` always.
    """
    _check(L, p, sigma2, init)
    if not 1 <= K <= MAX_MOMENTS:
        raise ValueError(f"K must be an integer in [1, {MAX_MOMENTS}], got {K}")
    if L * math.log(sigma2) > 709.0:
        raise OverflowError(
            f"moments overflow float64 at depth L = {L} (sigma2^L = e^{L * math.log(sigma2):.4g}); "
            "use log_spectral_edge for the log of the edge at any depth"
        )
    a = 1 if init == "gaussian" else 1 - L  # power of (1 + psi)
    # f(psi) = sigma2^L (p + psi)^L (1 + psi)^a as a truncated power series in psi
    pl = _series(lambda j: special.binom(L, j) * p ** (L - j) if j <= L else 0.0, K)
    one = np.cumprod(np.r_[1.0, [(a - i) / (i + 1.0) for i in range(K)]])  # generalised binom(a, j)
    f = sigma2**L * np.convolve(pl, one)[: K + 1]
    out, fk = np.empty(K), np.array([1.0])
    for k in range(1, K + 1):
        fk = np.convolve(fk, f)[: K + 1]
        out[k - 1] = fk[k - 1] / k
    if not np.isfinite(out).all():
        first = int(np.argmin(np.isfinite(out))) + 1
        raise OverflowError(
            f"m_{first} and higher overflow float64 (m_{first - 1} = {out[first - 2]:.3g}); ask for K < {first}"
            if first > 1 else "m_1 overflows float64"
        )
    return out


def _psi_poly(xv: float, L: int, p: float, sigma2: float, init: str) -> np.ndarray:
    if init == "gaussian":  # (1+psi) sigma2^L (p+psi)^L - x psi = 0
        return np.polysub(sigma2**L * np.polymul([1, 1], (np.poly1d([1, p]) ** L).coeffs), [xv, 0])
    # orthogonal: sigma2^L (p+psi)^L - x psi (1+psi)^{L-1} = 0
    return np.polysub(
        sigma2**L * (np.poly1d([1, p]) ** L).coeffs, np.polymul([xv, 0], (np.poly1d([1, 1]) ** (L - 1)).coeffs)
    )


def density(x, L: int, p: float = 0.5, sigma2: float = 2.0, init: str = "gaussian", *, grid: int = 4000):
    """Density of the continuous part of the limiting spectrum of ``J J^T`` at ``x > 0``.

    ``psi = psi(1/x)`` solves the polynomial ``x psi = (1+psi)/S(psi)``; ``G(x) = (1+psi)/x`` and the density is
    ``|Im psi| / (pi x)``. The physical root is followed by continuation from ``x = 2 edge`` (where it is the small
    real root ``psi ~ m_1/x``) down a geometric grid of ``grid`` points. For ``p < 1`` a mass ``1 - p`` sits at 0
    (rank of the masks), so the continuous part integrates to ``p`` (orthogonal weights: pure atoms when L = 1).
    """
    if L > MAX_DENSITY_DEPTH:
        raise ValueError(f"density is computed up to depth L = {MAX_DENSITY_DEPTH} (polynomial roots of degree L + 1 "
                         f"at every grid point), got L = {L}")
    _check(L, p, sigma2, init)
    xs = np.atleast_1d(np.asarray(x, dtype=float))
    edge = math.exp(log_spectral_edge(L, p, sigma2, init))
    lo = max(min(xs[xs > 0].min() if (xs > 0).any() else edge, edge) * 0.5, edge * 1e-12)
    track = np.geomspace(2 * edge, lo, grid)
    prev = (sigma2 * p) ** L / track[0]  # psi(1/x) ~ m_1 / x
    ims = np.empty(grid)
    for i, xv in enumerate(track):
        roots = np.roots(_psi_poly(xv, L, p, sigma2, init))
        prev = roots[np.argmin(np.abs(roots - prev))]
        ims[i] = abs(prev.imag)
    dens = ims / (math.pi * track)
    out = np.interp(xs, track[::-1], dens[::-1], left=0.0, right=0.0)
    return np.where(xs > 0, out, 0.0)


def fuss_catalan_moment(L: int, k: int) -> float:
    """``k``-th moment of the Fuss-Catalan law (product of ``L`` square Ginibre matrices, variance ``1/n``):
    ``binom((L+1) k, k) / (L k + 1)``."""
    return float(special.binom((L + 1) * k, k) / (L * k + 1))


def fuss_catalan_log_edge(L: int) -> float:
    """``log`` of the Fuss-Catalan right edge ``(L+1)^{L+1} / L^L``."""
    return (L + 1) * math.log(L + 1) - L * math.log(L)


# --- Two-atom gates: D^2 with law p delta_1 + (1 - p) delta_b (leaky ReLU: p = 1/2, b = a^2) -------------------


def _check_two_atom(L: int, p: float, b: float, sigma2: float, init: str) -> None:
    _check(L, p, sigma2, init)
    if not 0.0 <= b <= 1.0:
        raise ValueError(f"b (the small atom of D^2, e.g. slope^2) must be in [0, 1], got {b!r}")


def _two_atom_parts(z, p: float, b: float):
    """``(B, sqrt(Delta))`` of the quadratic ``b (1+z) w^2 - B w + z = 0`` solved by ``chi_{D^2}(z)``."""
    big_b = z * (1 + b) + p + (1 - p) * b
    # Delta = B^2 - 4 b z (1+z), expanded so that no large terms cancel
    delta = (1 - b) ** 2 * z * z + 2 * z * (1 - b) * (p - (1 - p) * b) + (p + (1 - p) * b) ** 2
    return big_b, np.sqrt(np.maximum(delta, 0.0))


def s_transform_two_atom(z, p: float = 0.5, b: float = 0.0):
    """S-transform of the two-atom law ``mu = p delta_1 + (1-p) delta_b`` (the law of ``D^2``).

    .. math:: \\psi(w) = p\\frac{w}{1-w} + (1-p)\\frac{b w}{1-b w},\\qquad
              \\chi(z) = \\psi^{-1}(z) = \\frac{2 z}{B + \\sqrt{\\Delta}},\\qquad
              S(z) = \\chi(z)\\frac{1+z}{z} = \\frac{2 (1+z)}{B + \\sqrt{\\Delta}},

    with ``B = z (1+b) + p + (1-p) b`` and ``Delta = B^2 - 4 b z (1+z)`` (``chi`` is the root of
    ``b (1+z) w^2 - B w + z = 0`` with ``chi(0) = 0``, written in the cancellation-free form). Special cases:
    ``b = 0`` gives the Bernoulli(p) projection ``(1+z)/(p+z)``; ``b = 1`` or ``p = 1`` the identity, ``S = 1``.
    Leaky ReLU with slope ``a``: ``p = 1/2, b = a^2``.

    Args:
        z: points ``z >= 0`` (array-like).
        p: the mass at 1, in ``(0, 1]``; b: the other atom, in ``[0, 1]``.

    Returns:
        ``S(z)`` as a numpy array (a float for a scalar ``z``).

    References:
        D. Voiculescu, "Multiplication of certain non-commuting random variables", J. Operator Theory 1987 (the
        S-transform); J. Pennington, S. Schoenholz, S. Ganguli 2017, arXiv:1711.04735 (S-transforms of the layers).
    """
    z = np.asarray(z, dtype=float)
    big_b, root = _two_atom_parts(z, p, b)
    return 2.0 * (1.0 + z) / (big_b + root)


def _dlog_two_atom(z: float, p: float, b: float) -> float:
    """``d/dz log(B + sqrt(Delta))``."""
    big_b, root = _two_atom_parts(z, p, b)
    d_delta = 2 * (1 - b) ** 2 * z + 2 * (1 - b) * (p - (1 - p) * b)
    return float(((1 + b) + d_delta / (2 * root)) / (big_b + root))


def log_spectral_edge_two_atom(
    L: int, p: float = 0.5, b: float = 0.0, sigma2: float = 2.0, init: str = "gaussian"
) -> float:
    """``log`` of the right edge of the spectrum of ``J J^T`` when ``D^2 ~ p delta_1 + (1-p) delta_b``.

    .. math:: S_{JJ^T}(z) = \\big(S_{W^TW}(z)\\, S_{D^2}(z)\\big)^L,\\qquad
              \\text{edge} = 1 / \\max_{z > 0} \\frac{z\\, S_{JJ^T}(z)}{1+z}

    with :func:`s_transform_two_atom` for ``S_{D^2}`` and ``S_{W^TW} = 1/(sigma2 (1+z))`` (Gaussian) or
    ``1/sigma2`` (Haar orthogonal times ``sqrt(sigma2)``). The maximiser solves ``d log chi / dz = 0`` (Brent's
    method on a doubling bracket). When ``chi`` increases for ever (orthogonal weights and an atom at the top of
    the spectrum, e.g. ``L = 1``) the edge is the limit ``1/chi(inf) = (sigma2 / S_{D^2}(inf))^L = sigma2^L``.
    ``b = 0`` reduces to :func:`log_spectral_edge` with the same ``p``; ``b = 1`` to ``p = 1`` (linear).

    Args:
        L: depth (number of weight matrices); p, b: the gate law (leaky ReLU: ``p = 1/2``, ``b = slope^2``);
        sigma2: weight variance times ``n``; init: ``gaussian`` or ``orthogonal``.

    Returns:
        ``log edge`` (natural log): ``log ||J||^2`` as ``n -> inf``.

    Raises:
        ValueError: out-of-range arguments.

    References:
        J. Pennington, S. Schoenholz, S. Ganguli 2017, arXiv:1711.04735; 2018, arXiv:1802.09979.
    """
    _check_two_atom(L, p, b, sigma2, init)
    lead = L - 1 if init == "orthogonal" else -1  # coefficient of 1/(1+z) in d log chi / dz

    def dlogchi(z: float) -> float:
        return 1.0 / z + lead / (1.0 + z) - L * _dlog_two_atom(z, p, b)

    def logchi(z: float) -> float:
        s_w = -math.log(sigma2) - (math.log1p(z) if init == "gaussian" else 0.0)
        return math.log(z) - math.log1p(z) + L * (s_w + math.log(float(s_transform_two_atom(z, p, b))))

    hi = 1.0
    while dlogchi(hi) > 0:
        hi *= 2
        if hi > 1e15:  # supremum at z -> inf: S_{D^2}(inf) = 1 for b <= 1
            return L * math.log(sigma2)
    lo = 1e-300 if dlogchi(1e-12) > 0 else 1e-12
    z = optimize.brentq(dlogchi, lo, hi, xtol=1e-15, rtol=1e-14)
    return -logchi(z)
