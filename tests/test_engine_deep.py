"""Tier 2: deep networks stay finite in the log domain and match independent float64 computations."""

import math

import pytest
import torch

import jacstab
from conftest import ACTS
from jacstab import NetSpec, sample


def _independent_masks(net):
    """Plain forward pass with full-size 0/1 (or derivative) diagonals, rescaled (phi' is scale invariant)."""
    act = net.activation
    y = net.w_in @ net.default_input()
    out = []
    for k in range(net.depth):
        y = y / torch.linalg.vector_norm(y) if act.homogeneous else y
        out.append(act.dphi(y))
        y = net.weights[k] @ act.phi(y)
    return out


def _independent_curve(net):
    """log||J^(d)|| from the full n x n product, renormalised by its max entry, exact SVD at every depth."""
    ds = _independent_masks(net)
    p, ell, out = torch.eye(net.width, dtype=torch.float64), 0.0, []
    for w, d in zip(net.weights, ds):
        p = w @ (d[:, None] * p)
        out.append(ell + math.log(torch.linalg.matrix_norm(p, ord=2).item()))
        s = p.abs().max().item()
        p, ell = p / s, ell + math.log(s)
    return torch.tensor(out, dtype=torch.float64)


def _qr_top_exponent(net):
    """Top Lyapunov exponent by full-frame QR (Benettin) with the full matrices: (1/L) sum log |R_11|."""
    ds = _independent_masks(net)
    q, acc = torch.eye(net.width, dtype=torch.float64), torch.zeros(net.width, dtype=torch.float64)
    for w, d in zip(net.weights, ds):
        q, r = torch.linalg.qr(w @ (d[:, None] * q))
        acc += torch.log(torch.abs(torch.diagonal(r)))
    return acc[0].item() / net.depth


@pytest.mark.parametrize("sigma2", [4.0, 0.5])
def test_depth_10000_float64_finite_and_matches_independent(sigma2):
    L = 10_000
    net = sample(NetSpec(32, L, sigma2=sigma2), 1)
    curve = jacstab.depth_curve(net)
    assert torch.isfinite(curve).all()
    # far outside float64 (|log| > 709): only a log-domain computation can return these
    assert abs(curve[-1].item()) > 709
    ref = _independent_curve(net)
    # Two different float64 product orders: rounding drifts like sqrt(L) * eps relative per step -> 1e-9 abs in log.
    torch.testing.assert_close(curve, ref, rtol=0, atol=1e-9)
    # the growth rate vs the QR top exponent over the same L layers: log||J^(L)|| - sum_d log|R_d[1,1]| = O(1)
    # (both follow the top Oseledets direction), so the rates differ by O(1/L) = 1e-4 x O(1); 1e-3 allows O(1)=10.
    slope = curve[-1].item() / L
    assert abs(slope - _qr_top_exponent(net)) < 1e-3
    assert (slope > 0) == (sigma2 > 2)


@pytest.mark.parametrize("sigma2", [0.25, 8.0])
def test_depth_1000_float32_finite_and_close_to_float64(sigma2):
    net32 = sample(NetSpec(64, 1000, sigma2=sigma2), 2, dtype=torch.float32)
    c32 = jacstab.depth_curve(net32)
    c64 = jacstab.depth_curve(net32.to(dtype=torch.float64))  # same weights, float64 arithmetic
    assert torch.isfinite(c32).all() and abs(c32[-1].item()) > 88  # beyond float32's e^88
    # float32 products: relative error ~ sqrt(L) n eps32 ~ 1e-4 per depth in ||J||; log error <= 1e-3 with margin.
    torch.testing.assert_close(c32, c64, rtol=0, atol=1e-3)


@pytest.mark.parametrize("act", ACTS)
def test_every_activation_is_finite_at_depth_10000(act):
    net = sample(NetSpec(24, 10_000, activation=act, sigma2=4.0, slope=0.3), 3)
    curve = jacstab.depth_curve(net)
    assert not torch.isnan(curve).any()
    assert (torch.isfinite(curve) | torch.isneginf(curve)).all()


@pytest.mark.parametrize("act", ["leaky_relu", "tanh", "linear"])
def test_sum_of_all_exponents_is_mean_log_det(act):
    # Full-rank layers: sum_i lambda_i = (1/L) sum_d log|det(W_d D_{d-1})| exactly (product of QR diagonals).
    net = sample(NetSpec(12, 40, activation=act, slope=0.2), 5)
    lam = jacstab.lyapunov_exponents(net)
    ds = _independent_masks(net)
    logdet = (
        sum(torch.linalg.slogdet(w).logabsdet.item() + torch.log(d.abs()).sum().item() for w, d in zip(net.weights, ds))
        / net.depth
    )
    assert abs(lam.sum().item() - logdet) < 1e-9
    # and the top exponent is the QR top exponent of an independent full-frame computation (same limit;
    # different initial frames differ by O(1/L) = 0.025 at most here).
    assert abs(lam[0].item() - _qr_top_exponent(net)) < 0.05
