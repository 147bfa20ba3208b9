"""Gaussian constants of the activations: the law of the gate ``D = diag(phi'(Y))`` - numpy/scipy only.

Network convention (README, "Python API"): ``Y_0 = W_in x`` with ``||x||^2 = d``, so the entries of ``Y_0`` have
variance ``q_0 = sigma2``; ``Y_k = W_k phi(Y_{k-1})`` and ``D_k = diag(phi'(Y_k))``. As ``n -> inf`` the entries of
``Y_k`` are iid ``N(0, q_k)`` with the mean-field variance map (Poole et al. 2016; Schoenholz et al. 2017)

.. math:: q_k = \\sigma^2_{eff}\\, \\mathbb{E}\\big[\\phi(\\sqrt{q_{k-1}}\\, z)^2\\big],\\qquad z \\sim N(0, 1),

so each gate is a diagonal of iid copies of ``phi'(sqrt(q) z)``. Homogeneous activations (relu, leaky_relu, abs,
linear) have ``phi'(c y) = phi'(y)`` for ``c > 0``: their gate constants do not depend on ``q``. ``tanh`` does;
its constants are computed by Gauss-Hermite quadrature (composite Gauss-Legendre where ``q > 1``, see
:func:`_hermite_mean`).

References:
    B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli, "Exponential expressivity in deep neural
    networks through transient chaos", NeurIPS 2016, arXiv:1606.05340 (the length map q and chi_1).
    S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein, "Deep information propagation", ICLR 2017,
    arXiv:1611.01232 (chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] and criticality).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from jacstab.specs import ACTIVATIONS, check_choice, check_real

HOMOGENEOUS = ("relu", "leaky_relu", "abs", "linear", "groupsort", "half_relu")
_GH_NODES = 240  # Gauss-Hermite nodes; with _GH_Q_MAX: error < 1e-15 for tanh (tests/test_predict.py)
_GH_Q_MAX = 1.0  # beyond it the poles of tanh at y = +-i pi/2 sit too close to the real z axis for Gauss-Hermite
_GL_NODES, _Y_MAX = 20, 40.0  # composite Gauss-Legendre on y in [-40, 40] (sech^2(40) < 1e-34) for q > 1


@dataclass(frozen=True)
class GaussianConstants:
    """The law of one gate entry ``phi'(z)`` for ``z ~ N(0, q)``.

    Attributes:
        activation: the activation's name; slope: the leaky_relu slope (recorded for every activation);
            q: the pre-activation variance the constants were computed at.
        p_active: ``P(phi'(z) != 0)``.
        mean_dphi2: ``E[phi'(z)^2]``, the per-layer factor of ``E||J u||^2``.
        mean_phi2: ``E[phi(z)^2]``, which drives the variance map ``q -> sigma2 E[phi^2]``.
        projection: ``|phi'|`` takes values in ``{0, c}`` only (``D^T D`` is ``c^2`` times a projection).
        atoms: the law of ``phi'(z)^2`` as ``((value, probability), ...)`` when it is discrete, else ``None``.
        exact_in_q: the constants are the same at every ``q > 0`` (positively homogeneous activations).
    """

    activation: str
    slope: float
    q: float
    p_active: float
    mean_dphi2: float
    mean_phi2: float
    projection: bool
    atoms: tuple[tuple[float, float], ...] | None
    exact_in_q: bool


def gaussian_constants(activation: str, slope: float = 0.01, q: float = 1.0) -> GaussianConstants:
    """Gate constants of ``activation`` at pre-activation variance ``q``.

    .. math:: p = P(\\phi'(z) \\ne 0),\\quad \\mathbb{E}[\\phi'(z)^2],\\quad z \\sim N(0, q)

    Closed forms: relu ``p = 1/2, E = 1/2``; leaky_relu (slope ``a``) ``p = 1`` (``1/2`` at ``a = 0``),
    ``E = (1 + a^2)/2``, ``phi'^2`` in ``{1, a^2}`` w.p. 1/2 each; abs ``p = 1, E = 1`` (``D = +-1``, ``D^2 = I``);
    groupsort ``p = 1, E = 1`` (``D`` a permutation, ``D^T D = I``); half_relu (ReLU on even units) ``p = E = 3/4``;
    linear ``p = 1, E = 1``. tanh: ``E[sech^4(sqrt(q) z)]`` and ``E[tanh^2(sqrt(q) z)]`` by Gauss-Hermite
    quadrature (240 nodes) for ``q <= 1`` and composite Gauss-Legendre on ``y = sqrt(q) z`` beyond (absolute
    error ~1e-15 either way).

    Args:
        activation: one of ``jacstab.specs.ACTIVATIONS``.
        slope: the leaky_relu negative slope ``a`` in ``[0, 1]`` (ignored by the others).
        q: the variance of the pre-activation, ``> 0`` (``0`` is allowed for tanh: its limit ``q -> 0``).

    Returns:
        A :class:`GaussianConstants`.

    Raises:
        ValueError: unknown activation (with the closest name), slope outside ``[0, 1]`` or ``q < 0``.

    References:
        Poole et al. 2016, arXiv:1606.05340; Schoenholz et al. 2017, arXiv:1611.01232.
    """
    check_choice("activation", activation, ACTIVATIONS)
    check_real("slope", slope, 0.0, 1.0)
    check_real("q", q, 0.0, 1e300)
    slope, q = float(slope), float(q)
    if activation == "tanh":
        return _tanh_constants(q, slope)
    if q == 0.0:
        raise ValueError("q must be > 0 for a homogeneous activation (its gate is undefined at y = 0)")
    return _HOMOGENEOUS[activation](q, slope)


def _relu(q: float, slope: float) -> GaussianConstants:
    return GaussianConstants("relu", slope, q, 0.5, 0.5, q / 2, True, ((0.0, 0.5), (1.0, 0.5)), True)


def _linear(q: float, slope: float) -> GaussianConstants:
    return GaussianConstants("linear", slope, q, 1.0, 1.0, q, True, ((1.0, 1.0),), True)


def _abs(q: float, slope: float) -> GaussianConstants:
    return GaussianConstants("abs", slope, q, 1.0, 1.0, q, True, ((1.0, 1.0),), True)


def _groupsort(q: float, slope: float) -> GaussianConstants:
    """MaxMin on pairs: its Jacobian is a permutation ``P`` (``P^T P = I``), so ``E||W P u||^2 = sigma2 ||u||^2``
    like linear/abs (``mean_dphi2 = 1``, ``D^T D = I``); ``||phi(y)|| = ||y||`` gives ``E[phi^2] = q`` per unit."""
    return GaussianConstants("groupsort", slope, q, 1.0, 1.0, q, True, ((1.0, 1.0),), True)


def _half_relu(q: float, slope: float) -> GaussianConstants:
    """ReLU on half the units, identity on the others: ``phi'`` is 0 w.p. 1/4, else 1 (``E[phi'^2] = 3/4``),
    ``E[phi^2] = (q/2 + q)/2 = 3q/4``."""
    return GaussianConstants("half_relu", slope, q, 0.75, 0.75, 0.75 * q, True, ((0.0, 0.25), (1.0, 0.75)), True)


def _leaky(q: float, a: float) -> GaussianConstants:
    b = a * a
    atoms = ((1.0, 1.0),) if b == 1.0 else ((b, 0.5), (1.0, 0.5))
    return GaussianConstants(
        "leaky_relu", a, q, 1.0 if a > 0 else 0.5, (1 + b) / 2, q * (1 + b) / 2, a in (0.0, 1.0), atoms, True
    )


_HOMOGENEOUS: dict[str, Callable[[float, float], GaussianConstants]] = {
    "relu": _relu,
    "linear": _linear,
    "abs": _abs,
    "leaky_relu": _leaky,
    "groupsort": _groupsort,
    "half_relu": _half_relu,
}


def _tanh_constants(q: float, slope: float) -> GaussianConstants:
    if q <= _GH_Q_MAX:
        dphi2, phi2 = _hermite_mean(_sech4, q), _hermite_mean(lambda y: np.tanh(y) ** 2, q)
    else:  # tanh^2 = 1 - sech^2: both integrands then vanish beyond |y| = 40 (below 1e-34)
        dphi2, phi2 = _panel_mean(_sech4, q), 1.0 - _panel_mean(_sech2, q)
    return GaussianConstants("tanh", slope, q, 1.0, dphi2, phi2, q == 0.0, None, False)


@functools.lru_cache(maxsize=2)
def _hermite(degree: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(degree)
    return x, w / math.sqrt(2 * math.pi)


def _hermite_mean(f: Callable[[np.ndarray], np.ndarray], q: float) -> float:
    """``E[f(sqrt(q) z)]``, ``z ~ N(0, 1)``, by Gauss-Hermite quadrature (weight ``e^{-x^2/2}``, 240 nodes).

    .. math:: \\mathbb{E}[f(\\sqrt q\\, z)] \\approx \\sum_i w_i f(\\sqrt q\\, x_i) / \\sqrt{2\\pi}

    The error decays geometrically at a rate set by the distance of the singularities of ``f(sqrt(q) .)`` to the
    real axis (``pi / (2 sqrt q)`` for tanh), so it grows quickly with ``q``: for tanh, ``1e-16`` at ``q <= 1``,
    ``1e-11`` at ``q = 2``, ``5e-8`` at ``q = 4`` (measured against adaptive quadrature). Used for ``q <= 1``,
    :func:`_panel_mean` beyond.
    """
    if q == 0.0:
        return float(f(np.zeros(1))[0])
    x, w = _hermite(_GH_NODES)
    return float(np.dot(w, f(math.sqrt(q) * x)))


@functools.lru_cache(maxsize=1)
def _legendre_grid() -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(_GL_NODES)
    left = np.arange(-_Y_MAX, _Y_MAX)  # unit panels
    return (left[:, None] + 0.5 + 0.5 * x[None, :]).ravel(), np.tile(0.5 * w, left.size)


def _panel_mean(f: Callable[[np.ndarray], np.ndarray], q: float) -> float:
    """``E[f(sqrt(q) z)]`` for an ``f`` negligible beyond ``|y| = 40``, by composite Gauss-Legendre on ``y``.

    .. math:: \\mathbb{E}[f(\\sqrt q\\, z)] = \\int_{-40}^{40} f(y)\\, \\frac{e^{-y^2/(2q)}}{\\sqrt{2\\pi q}}\\, dy

    on 80 unit panels with 20 nodes each. The integrand is analytic within ``pi/2`` of the real axis (tanh's
    poles; the Gaussian is entire and at least as wide as a panel for ``q > 1``), so each panel's error is
    ~``(6.4)^{-40}``: far below double precision. Used for ``q > 1``.
    """
    y, w = _legendre_grid()
    return float(np.dot(w, f(y) * np.exp(-y * y / (2 * q)))) / math.sqrt(2 * math.pi * q)


def _sech2(y: np.ndarray) -> np.ndarray:
    """``sech(y)^2 = (2 e^{-|y|} / (1 + e^{-2|y|}))^2``, without overflow."""
    e = np.exp(-np.abs(y))
    return (2 * e / (1 + e * e)) ** 2


def _sech4(y: np.ndarray) -> np.ndarray:
    """``sech(y)^4``, without overflow."""
    return _sech2(y) ** 2


def variance_map(activation: str, q: float, sigma2: float, slope: float = 0.01) -> float:
    """One step of the mean-field variance map ``q' = sigma2 E[phi(sqrt(q) z)^2]``.

    References:
        Poole et al. 2016, arXiv:1606.05340, the length map with no bias (``sigma_b = 0``).
    """
    return sigma2 * gaussian_constants(activation, slope, q).mean_phi2


def variance_trajectory(
    activation: str, sigma2: float, depth: int, *, sigma2_in: float | None = None, slope: float = 0.01
) -> np.ndarray:
    """Mean-field variances ``q_0..q_{depth-1}`` of ``Y_0..Y_{depth-1}`` (the pre-activations behind ``D_0..``).

    ``q_0 = sigma2_in`` (the input layer: ``||x||^2 = d``, ``W_in ~ N(0, sigma2_in/d)``; default ``sigma2``) and
    ``q_k = sigma2 E[phi(sqrt(q_{k-1}) z)^2]`` with ``sigma2`` the hidden layers' effective variance.

    References:
        Poole et al. 2016, arXiv:1606.05340, the length map.
    """
    out = np.empty(depth)
    out[0] = sigma2 if sigma2_in is None else sigma2_in
    for k in range(1, depth):
        out[k] = variance_map(activation, float(out[k - 1]), sigma2, slope)
    return out


def tanh_fixed_point(sigma2: float) -> float:
    """The stable fixed point ``q*`` of ``q = sigma2 E[tanh(sqrt(q) z)^2]`` (no bias).

    ``tanh(y)^2 <= y^2`` with equality only at 0, so ``q* = 0`` for ``sigma2 <= 1``; for ``sigma2 > 1`` the map
    has one positive fixed point, in ``(0, sigma2)``, found by Brent's method.

    Raises:
        ValueError: ``sigma2 <= 0``.

    References:
        Poole et al. 2016, arXiv:1606.05340, the length map's fixed point with ``sigma_b = 0``.
    """
    check_real("sigma2", sigma2, 0.0, 1e300, open_low=True)
    if sigma2 <= 1.0:
        return 0.0

    def excess(q: float) -> float:
        return sigma2 * gaussian_constants("tanh", q=q).mean_phi2 / q - 1.0

    lo = min(1e-3, (sigma2 - 1.0) / 8)
    while excess(lo) <= 0.0:
        lo /= 2
    return float(optimize.brentq(excess, lo, sigma2, xtol=1e-14, rtol=1e-13))
