"""Part 6 of Approximation 2.1's issue: the exact gate process of the correlated model W_ind + eta w 1 1^T against
real networks (batched gates), and the free-probability edge with layer-dependent gate fractions."""

import math

import numpy as np
import pytest

import jacstab
from jacstab.stats import draw_gates
from jacstab.theory import correlated_prediction, edge_varying_gates, gate_paths, log_spectral_edge


def test_edge_with_constant_gates_is_the_constant_p_edge():
    """Grid minimum over z (1% spacing): error < 1e-3 in the log edge."""
    for d, p in ((1, 0.5), (10, 0.3), (40, 0.9)):
        assert abs(edge_varying_gates(np.full(d, p), 2.0) - log_spectral_edge(d, p, 2.0)) < 1e-3


def test_eta_zero_gates_are_iid_bernoulli_half():
    """Without the shared scalar every mu_k = 0: K_k ~ Binomial(n, 1/2) exactly (mean n/2, SE sqrt(n/4/paths))."""
    gp = gate_paths(40, 5, 0.0, paths=2000, seed=3)
    assert np.all(gp.mu[:, :] == 0) and gp.dead()[-1] == 0.0
    assert abs(gp.open.mean() - 20) < 4 * math.sqrt(10 / gp.open.size)


def test_gate_process_matches_real_correlated_networks():
    """The reduced chain is exact: the open count of D_3 in real networks (jacstab.stats batched draws, 1500
    seeds) and in the chain (20000 paths) agree in mean and in P(K = 0) (two-sample z-tests, |z| < 4).
    n = 12, eta = 0.6 makes the shift large (eta sqrt(n) ~ 2), so dead layers are common."""
    n, layer, eta, N = 12, 3, 0.6, 1500
    real = draw_gates(jacstab.NetSpec(n, layer + 1, eta=eta), range(N), layer, jacstab.default_input(n)).d_l.sum(1)
    chain = gate_paths(n, layer + 1, eta, paths=20000, seed=1).open[:, layer]
    se = math.sqrt(real.var() / N + chain.var() / len(chain))
    assert abs(real.mean() - chain.mean()) < 4 * se
    p1, p2 = (real == 0).mean(), (chain == 0).mean()
    assert p2 > 0.05  # the regime where layers die
    assert abs(p1 - p2) < 4 * math.sqrt(p2 * (1 - p2) / N + p2 * (1 - p2) / len(chain))


def test_prediction_shape_and_limits():
    p = correlated_prediction(64, 6, 2.0**-3, paths=300)
    assert p.log_ratio.shape == (300, 6) and p.dead.shape == (6,)
    assert np.all(np.diff(p.dead) >= 0)  # a dead network stays dead
    p0 = correlated_prediction(64, 6, 0.0, paths=300)
    # eta = 0: only the binomial fluctuation of K_k around n/2 moves the edge: |median| = O(d/n)
    assert np.all(np.abs(p0.median) < 6 * 6 / 64) and p0.dead[-1] == 0


def test_bad_input():
    with pytest.raises(ValueError, match="eta"):
        gate_paths(8, 3, -1.0)
    with pytest.raises(ValueError, match="paths \\* n \\* depth"):
        gate_paths(10**5, 10**3, 0.1, paths=10**3)
