"""Residual MLPs (paper 004): the spec field, the layer, and the theory against measurement."""

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

import jacstab
from jacstab import NetSpec, sample
from jacstab.theory import (
    gaussian_lyapunov,
    residual_gated_exponent,
    residual_infinite_width_exponent,
    residual_linear_exponent,
)


def test_residual_field_keeps_old_hashes_and_is_validated():
    plain = NetSpec(64, 10)
    assert NetSpec(64, 10, residual=0.0).hash() == plain.hash()  # default: absent from the canonical form
    assert "residual" not in plain.canonical_json()
    res = NetSpec(64, 10, residual=0.5)
    assert '"residual":0.5' in res.canonical_json() and res.hash() != plain.hash()
    assert NetSpec.from_dict(res.to_dict()).hash() == res.hash()
    for bad in (-0.1, math.nan, "1"):
        with pytest.raises(ValueError, match="residual must be a finite number in"):
            NetSpec(8, 2, residual=bad)


def test_residual_forward_and_factor_are_the_formula():
    # Y_k = Y_{k-1} + alpha W_k phi(Y_{k-1}) and factor I + alpha W D, checked entry by entry (exact arithmetic
    # up to rounding: 1e-14)
    spec = NetSpec(6, 3, activation="tanh", sigma2=1.3, residual=0.7)
    net, plain = sample(spec, 0), sample(spec.replace(residual=0.0), 0)
    for w, w0 in zip(net.weights, plain.weights):
        assert torch.equal(w, w0)  # same draws as the plain net of the same seed
    y = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    layer = net.layers[0]
    torch.testing.assert_close(layer.forward(y), y + 0.7 * net.weights[0] @ torch.tanh(y), rtol=0, atol=1e-14)
    g = layer.gate(y)
    want = torch.eye(6, dtype=torch.float64) + 0.7 * net.weights[0] * (1 - torch.tanh(y) ** 2)
    torch.testing.assert_close(layer.factor(g, None), want, rtol=0, atol=1e-14)
    torch.testing.assert_close(torch.func.jacrev(layer.forward)(y), want, rtol=0, atol=1e-14)


def _noncentral_log_moments(n, a2c):
    """Mean and variance of log ||(I + alpha W) v||^2 = log((a2c/n) chi'^2_n(n/a2c)), by the Poisson mixture
    chi'^2 = chi^2_{n+2J} (E log chi^2_m = log 2 + psi(m/2), Var = psi'(m/2)); independent of the code under test
    except for sharing the mixture identity."""
    mu = n / (2 * a2c)
    j = np.arange(0, int(mu + 15 * math.sqrt(mu) + 60))
    w = stats.poisson.pmf(j, mu)
    m1 = math.log(2 * a2c / n) + special.digamma(n / 2 + j)
    mean = float(np.dot(w, m1))
    second = float(np.dot(w, special.polygamma(1, n / 2 + j) + m1**2))
    return mean, second - mean**2


def test_linear_residual_exact_exponent_z_test():
    # Linear residual, n = 16, alpha = 1: the top frame vector q is independent of W_d, so log |R_d[1,1]| =
    # (1/2) log ||(I + W_d) q||^2 is iid over d with the noncentral chi-square law: exact mean (the theory) and
    # exact SE sqrt(Var / (4 L)). |z| < 4 (two-sided 6e-5).
    n, alpha, L = 16, 1.0, 3000
    res = jacstab.lyapunov(sample(NetSpec(n, L, activation="linear", sigma2=1.0, residual=alpha), 0), k=1)
    mean, var = _noncentral_log_moments(n, alpha**2)
    assert abs(residual_linear_exponent(n, alpha, 1.0) - mean / 2) < 1e-12
    z = (float(res.exponents[0]) - mean / 2) / math.sqrt(var / (4 * L))
    assert abs(z) < 4, z
    # the batch-means SE estimates the exact one (20 batches: relative sd 16%; [0.5, 1.6] is > 3 sd)
    assert 0.5 < float(res.stderr[0]) / math.sqrt(var / (4 * L)) < 1.6


def test_residual_theory_limits():
    # alpha -> inf: Newman's top exponent of alpha W (sigma2 alpha^2); n -> inf: (1/2) log(1 + alpha^2 c); p = 1 of
    # the gated formula is the linear one (exact identities; 1e-9 and 1e-4 for the n = 10^6 asymptotics, whose
    # correction is O(1/n))
    assert abs(residual_linear_exponent(32, 1e4, 1.0) - gaussian_lyapunov(32, 1e8)[0]) < 1e-6
    assert abs(residual_linear_exponent(10**6, 0.8, 2.0) - residual_infinite_width_exponent(0.8, 2.0)) < 1e-5
    assert residual_gated_exponent(64, 0.5, 2.0, 1.0) == residual_linear_exponent(64, 0.5, 2.0)
    assert abs(residual_gated_exponent(1024, 1.0, 2.0, 0.5) - residual_infinite_width_exponent(1.0, 2.0, 0.5)) < 2e-3
    with pytest.raises(ValueError, match="alpha must be"):
        residual_linear_exponent(8, 0.0)


def test_residual_relu_top_exponent_vs_infinite_width_theory():
    # ReLU residual, n = 256, alpha = 1, sigma2 = 2 (p = 1/2): the infinite-width exponent (1/2) log 2 = 0.3466.
    # The finite-n correction measured at n = 64 is -0.015 (docs/spectral.md), O(1/n): at n = 256 about -0.004.
    # Tolerance: 4 batch-means SE plus twice that (0.008) (the gates follow the forward pass, so the per-layer terms
    # are correlated and only the batch-means SE is available).
    res = jacstab.lyapunov(sample(NetSpec(256, 150, residual=1.0), 0), k=1)
    theory = residual_infinite_width_exponent(1.0, 2.0, 0.5)
    assert abs(float(res.exponents[0]) - theory) < 4 * float(res.stderr[0]) + 0.008


def test_predict_for_residual_specs():
    p = jacstab.theory.predict(NetSpec(64, 10, activation="relu", residual=0.5))
    assert p.growth_per_layer == pytest.approx(0.5 * math.log(1 + 0.25 * 2.0 * 0.5), abs=1e-15)
    assert p.log_norm is None and p.edge_reason.startswith("no prediction")
    assert math.isnan(p.condition_ii) and not p.theorem_applies
    assert math.isnan(jacstab.theory.predict(NetSpec(64, 10, activation="tanh", residual=0.5)).growth_per_layer)
