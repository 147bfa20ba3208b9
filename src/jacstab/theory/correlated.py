"""Where Approximation 2.1 breaks: the paper's correlated model ``W_k = W_ind + eta w_k 1 1^T`` - numpy/scipy only.

Model (Dadoun et al. 2025, Section 5, Fig. 4; ``NetSpec(eta=...)``): ``W_k = sqrt(c/n) (Z_k + eta xi_k 1 1^T)`` with
``Z_k`` iid standard normal and one standard normal scalar ``xi_k`` per layer. The shared scalar adds
``eta sqrt(c/n) xi_k (1^T h_{k-1})`` to *every* pre-activation of layer ``k`` (``h = relu(Y)``): a rank-one mean shift
that opens or closes whole layers of gates. The variance-only overlay ``sigma2 (1 + eta^2)`` misses it entirely.

**The gate process is exact** (docs/approx21.md, Section 4). Write ``Y_k = sqrt(c/n) ||h_{k-1}|| (g_k + mu_k 1)``.
Because ``Z_k`` is independent of the past, ``g_k = Z_k h_{k-1}/||h_{k-1}||`` is a fresh ``N(0, I_n)`` vector, and

    ``mu_k = eta xi_k (1^T h_{k-1}) / ||h_{k-1}||,   h_k ∝ relu(g_k + mu_k 1),   D_k = diag(1{g_k + mu_k > 0})``

with ``mu_0 = 0`` (``W_in`` is iid). So the law of all the gates is that of a scalar Markov chain driven by ``n``
fresh Gaussians per layer, simulated here at ``O(n)`` per layer instead of ``O(n^2)``: exact at every finite ``n``
(no large-``n`` limit is taken). As ``n -> inf``, ``(1^T h)/||h|| ~ sqrt(n) R(mu)`` with
``R(mu) = E relu(g+mu) / (E relu(g+mu)^2)^{1/2}`` (``R(0) = pi^-1/2``), so ``mu_k ~ eta sqrt(n) R(mu_{k-1}) xi_k``:
the shift is of order one exactly when ``eta ~ n^-1/2`` (``eta = 2^-4`` at ``n = 256``), and the fraction of open
gates ``Phi(mu_k)`` is a random, layer-wide quantity instead of 1/2. A layer with no open gate (``K_k = 0``,
probability ``Phi(-mu_k)^n`` given ``mu_k``) kills the network: ``h = 0`` from then on and ``J = 0`` exactly.
``P(J^(d) = 0)`` is therefore exact too (up to the Monte-Carlo error of the chain, ``~ sqrt(P(1-P)/paths)``).

**The Jacobian (mean field, given the gates).** Given the gate counts ``K_k`` of a path, the iid part of the
weights is treated as independent of the gates (Approximation 2.1 for ``Z_k`` only) and the rank-one part is
dropped (its mean-square contribution is ``(1 + eta^2)`` per layer, ``L eta^2 <= 0.8`` here). Then ``J^(d)`` is the
masked product with layer-dependent gate fractions ``p_k = K_k/n``, whose free-probability edge follows from the
product of S-transforms ``S(z) = prod_k 1/(c (p_k + z))`` (Pennington et al. 2017/2018, as in
:func:`jacstab.theory.log_spectral_edge`, which is the case ``p_k = 1/2``):

    ``log ||J^(d)||^2 ~ min_{z>0} [log(1+z) - log z + sum_{k<d} log(c (p_k + z))]``.

The predicted ``log(||J^(d)||^2 / ||J_iid^(d)||^2)`` of a path is this minus ``log_spectral_edge(d, 1/2, c)``; its
median over paths (``-inf`` for dead paths) predicts the median of Fig. 4's paired ratio. The minimum is taken on
a grid of ``GRID`` log-spaced ``z`` in ``[1e-7, 1e3]`` (relative spacing 1%: error ``< 1e-3`` in the log).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jacstab._checks import check_int, check_real

MAX_WORK = 4 * 10**9  # paths * n * depth Gaussian draws


@dataclass(frozen=True)
class GatePaths:
    """Sampled paths of the exact gate process of the correlated model (see the module docstring).

    Attributes:
        mu: ``(paths, L)`` the normalised shifts ``mu_0 .. mu_{L-1}`` (``mu_0 = 0``; NaN once dead).
        open: ``(paths, L)`` the numbers ``K_0 .. K_{L-1}`` of open gates of ``D_0 .. D_{L-1}`` (0 once dead).
        xi: ``(paths, L)`` the shared scalars ``xi_1 .. xi_L`` of ``W_1 .. W_L``.
        n, eta: the width and ``eta``.
    """

    mu: np.ndarray
    open: np.ndarray
    xi: np.ndarray
    n: int
    eta: float

    def dead(self) -> np.ndarray:
        """``(L,)``: ``P(J^(d) = 0)`` for ``d = 1..L`` (some ``D_k``, ``k < d``, has no open gate)."""
        return np.minimum.accumulate(self.open, axis=1).__eq__(0).mean(axis=0)

    def open_fraction(self) -> np.ndarray:
        """``(paths, L)``: ``K_k / n``."""
        return self.open / self.n


def gate_paths(n: int, depth: int, eta: float, *, paths: int = 4000, seed: int = 0) -> GatePaths:
    """Sample the exact gate process of ``W_k = sqrt(c/n) (Z_k + eta xi_k 1 1^T)`` ReLU networks (``c`` drops out).

    .. math::
        \\mu_k = \\eta\\,\\xi_k\\,\\frac{\\mathbf 1^T h_{k-1}}{\\|h_{k-1}\\|},\\quad
        h_k = \\mathrm{relu}(g_k + \\mu_k \\mathbf 1),\\quad g_k \\sim N(0, I_n),\\ \\xi_k \\sim N(0, 1),\\ \\mu_0 = 0

    Args:
        n: width; depth: ``L``; eta: ``>= 0``; paths: number of sampled networks; seed: the numpy generator's seed.

    Returns:
        :class:`GatePaths`.

    References:
        Dadoun et al. 2025, Section 5 (the model) and Fig. 4; derivation in docs/approx21.md, Section 4.
    """
    n, depth = check_int("n", n, 1), check_int("depth", depth, 1)
    eta = check_real("eta", eta, 0.0, 1e3)
    paths = check_int("paths", paths, 1)
    if paths * n * depth > MAX_WORK:
        raise ValueError(f"paths * n * depth must be <= {MAX_WORK:.0e}, got {paths * n * depth:.3g}")
    rng = np.random.default_rng(check_int("seed", seed, 0))
    xi = rng.standard_normal((paths, depth))
    mu_all, k_all = np.full((paths, depth), np.nan), np.zeros((paths, depth), dtype=np.int64)
    mu, alive = np.zeros(paths), np.ones(paths, bool)
    chunk = max(1, 2**22 // n)
    for k in range(depth):
        mu_all[alive, k] = mu[alive]
        ratio = np.zeros(paths)
        for s in range(0, paths, chunk):
            sl = slice(s, s + chunk)
            h = np.maximum(rng.standard_normal((len(mu[sl]), n)) + mu[sl, None], 0.0)
            k_all[sl, k] = np.where(alive[sl], (h > 0).sum(axis=1), 0)
            norm = np.sqrt((h * h).sum(axis=1))
            ratio[sl] = np.where(norm > 0, h.sum(axis=1) / np.where(norm > 0, norm, 1.0), 0.0)
        alive &= k_all[:, k] > 0
        mu = eta * xi[:, k] * ratio
    return GatePaths(mu_all, k_all, xi, n, eta)


GRID = np.exp(np.linspace(math.log(1e-7), math.log(1e3), 2400))


@dataclass(frozen=True)
class CorrelatedPrediction:
    """Mean-field predictions for the correlated model against the paired iid network (depths ``1..L``).

    Attributes:
        log_ratio: ``(paths, L)`` predicted ``log(||J^(d)||^2 / ||J_iid^(d)||^2)`` per path (``-inf``: dead).
        dead: ``(L,)`` ``P(J^(d) = 0)`` (exact gate process).
        paths: the :class:`GatePaths` behind it.
    """

    log_ratio: np.ndarray
    dead: np.ndarray
    paths: GatePaths

    def quantile(self, q: float) -> np.ndarray:
        """``(L,)`` the ``q``-quantile over paths of the log-ratio (dead paths count as ``-inf``)."""
        return np.quantile(self.log_ratio, q, axis=0, method="inverted_cdf")

    @property
    def median(self) -> np.ndarray:
        """``(L,)`` the predicted median of the paired log-ratio (Fig. 4's curve)."""
        return self.quantile(0.5)


def edge_varying_gates(p: np.ndarray, c: float = 2.0) -> np.ndarray:
    """``log`` of the free-probability edge of ``J^(d) J^(d)T`` for gate fractions ``p_0..p_{d-1}`` (last axis):

    .. math:: \\min_{z>0}\\Big[\\log(1+z) - \\log z + \\sum_k \\log\\big(c\\,(p_k + z)\\big)\\Big]

    ``p`` of shape ``(..., d)``, all ``> 0``; returns shape ``(...)``. Equals
    :func:`jacstab.theory.log_spectral_edge` for constant ``p`` (up to the grid's ``1e-3``).
    """
    p = np.asarray(p, float)
    f = np.log1p(GRID) - np.log(GRID) + np.log(c * (p[..., :, None] + GRID)).sum(axis=-2)
    return f.min(axis=-1)


def correlated_prediction(
    n: int, depth: int, eta: float, c: float = 2.0, *, paths: int = 4000, seed: int = 0
) -> CorrelatedPrediction:
    """Predict Fig. 4 for ``W = W_ind + eta w``: the median of ``log(||J^(d)||^2/||J_iid^(d)||^2)`` and
    ``P(J^(d) = 0)`` for ``d = 1..L`` (module docstring: exact gate process, free-probability edge given the
    gates).

    .. math::
        \\widehat{\\log\\tfrac{\\|J^{(d)}\\|^2}{\\|J^{(d)}_{iid}\\|^2}} = \\min_{z>0}\\Big[\\log\\tfrac{1+z}{z}
        + \\sum_{k<d}\\log c\\,(p_k + z)\\Big] - \\log \\mathrm{edge}_{iid}(d),\\qquad p_k = K_k/n

    Args:
        n: width; depth: ``L``; eta: ``>= 0``; c: ``sigma2``; paths, seed: Monte-Carlo paths of the gate chain.

    Returns:
        :class:`CorrelatedPrediction`.

    References:
        Dadoun et al. 2025, Section 5, Theorem 5.1, Fig. 4; Pennington, Schoenholz, Ganguli 2017
        (arXiv:1711.04735); docs/approx21.md, Section 4 (derivation and the comparison with measurement).
    """
    from jacstab.theory.free import log_spectral_edge

    c = check_real("c", c, 0.0, 1e6, open_low=True)
    gp = gate_paths(n, depth, eta, paths=paths, seed=seed)
    out = np.empty((len(gp.xi), depth))
    acc = np.zeros((len(gp.xi), len(GRID)))
    base = np.log1p(GRID) - np.log(GRID)
    with np.errstate(divide="ignore"):
        for d in range(1, depth + 1):
            acc += np.log(c * (gp.open[:, d - 1, None] / n + GRID))
            out[:, d - 1] = (base + acc).min(axis=1) - log_spectral_edge(d, 0.5, c)
    alive = np.minimum.accumulate(gp.open, axis=1) > 0
    return CorrelatedPrediction(np.where(alive, out, -np.inf), gp.dead(), gp)
