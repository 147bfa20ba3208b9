"""Tier 1: the engine against an independent computation (torch.func.jacrev + svdvals) and exact identities."""

import math

import pytest
import torch

import jacstab
from conftest import ACTS, DTYPES, INITS, RTOL, reference_jacobian
from jacstab import NetSpec, sample


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("act", ACTS)
def test_depth_curve_matches_jacrev_svd(act, init, dtype):
    net = sample(NetSpec(24, 6, activation=act, init=init, slope=0.2, in_dim=9), 11, dtype=dtype)
    curve = jacstab.depth_curve(net)
    assert curve.shape == (6,) and curve.dtype == torch.float64
    for d in range(1, 7):
        ref = torch.linalg.matrix_norm(reference_jacobian(net, d), ord=2).item()
        assert abs(math.exp(curve[d - 1].item()) - ref) <= RTOL[dtype] * ref, (act, init, d)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("method", ["dense", "lanczos", "jacrev", "jvp", "auto"])
def test_singular_values_every_backend(act, method, dtype):
    net = sample(NetSpec(20, 5, activation=act, slope=0.1), 2, dtype=dtype)
    ref = torch.linalg.svdvals(reference_jacobian(net, 4))
    k = None if method in ("dense", "jacrev", "auto") else 4
    s = jacstab.singular_values(net, depth=4, k=k, method=method)
    assert s.shape == ((20,) if k is None else (4,))
    assert torch.all(s[:-1] >= s[1:])  # descending
    top = ref[: s.numel()]
    # values within RTOL of sigma_1 (the SVD's backward error is relative to ||J||, not to each sigma_i)
    assert torch.max(torch.abs(s - top)).item() <= RTOL[dtype] * ref[0].item() * 10


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_width_uses_lanczos_and_agrees(dtype):
    # width 256 > DENSE_NORM_MAX, so the warm-started Lanczos path computes every norm of the curve.
    net = sample(NetSpec(256, 4), 0, dtype=dtype)
    curve = jacstab.depth_curve(net)
    for d in (1, 4):
        ref = torch.linalg.matrix_norm(reference_jacobian(net, d), ord=2).item()
        assert abs(math.exp(curve[d - 1].item()) - ref) <= RTOL[dtype] * ref


@pytest.mark.parametrize("gain2", [0.5, 2.0, 3.0])
def test_linear_orthogonal_net_has_all_singular_values_gain_power_L(gain2):
    L = 7
    net = sample(NetSpec(16, L, activation="linear", init="orthogonal", sigma2=gain2), 4)
    logs = jacstab.singular_values(net, log=True)
    # exact identity: J = g^L * orthogonal, so every log sigma_i = L log g (float64 rounding only)
    torch.testing.assert_close(
        logs, torch.full((16,), L * 0.5 * math.log(gain2), dtype=torch.float64), rtol=0, atol=1e-12
    )
    top = jacstab.singular_values(net, k=3, method="lanczos", log=True)
    torch.testing.assert_close(
        top, torch.full((3,), L * 0.5 * math.log(gain2), dtype=torch.float64), rtol=0, atol=1e-10
    )


def test_linear_gaussian_jacobian_is_product_of_weights():
    net = sample(NetSpec(12, 5, activation="linear"), 9)
    prod = torch.eye(12, dtype=torch.float64)
    for w in net.weights:
        prod = w @ prod
    torch.testing.assert_close(reference_jacobian(net), prod, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(jacstab.singular_values(net), torch.linalg.svdvals(prod), rtol=1e-10, atol=1e-13)
    ref_curve = []
    prod = torch.eye(12, dtype=torch.float64)
    for w in net.weights:
        prod = w @ prod
        ref_curve.append(math.log(torch.linalg.matrix_norm(prod, ord=2).item()))
    torch.testing.assert_close(
        jacstab.depth_curve(net), torch.tensor(ref_curve, dtype=torch.float64), rtol=0, atol=1e-12
    )


def test_relu_masks_match_forward_pass_signs():
    net = sample(NetSpec(30, 4), 5)
    y = net.w_in @ net.default_input()
    for k, m in enumerate(jacstab.masks(net)):
        assert torch.equal(m.idx, torch.nonzero(y > 0).flatten())
        y = net.weights[k] @ torch.relu(y)


def test_user_input_changes_masks_and_matches_jacrev():
    net = sample(NetSpec(16, 3, in_dim=5), 0)
    x = torch.linspace(-1, 2, 5, dtype=torch.float64)
    ref = torch.linalg.matrix_norm(reference_jacobian(net, 3, x), ord=2).item()
    assert abs(math.exp(jacstab.log_norm(net, x)) - ref) <= 1e-8 * ref


def test_lyapunov_top_exponent_is_the_growth_rate_of_the_norm():
    net = sample(NetSpec(20, 200, sigma2=2.0), 1)
    lam = jacstab.lyapunov_exponents(net, k=5)
    assert lam.shape == (5,) and torch.all(lam[:-1] >= lam[1:])
    # log||J^(L)|| - L lambda_1 = O(1) (both follow the top direction; observed 2-4): at L = 200, 0.04 allows 8.
    assert abs(jacstab.depth_curve(net)[-1].item() / 200 - lam[0].item()) < 0.04


def test_lyapunov_all_exponents_sum_for_linear_net_is_log_det():
    # Linear square net: sum_i lambda_i = (1/L) log |det J| exactly (product of QR diagonals).
    net = sample(NetSpec(10, 8, activation="linear"), 3)
    lam = jacstab.lyapunov_exponents(net)
    logdet = sum(torch.linalg.slogdet(w).logabsdet.item() for w in net.weights) / 8
    assert abs(lam.sum().item() - logdet) < 1e-10


def test_relu_lyapunov_beyond_rank_is_minus_inf():
    net = sample(NetSpec(10, 5), 0)
    lam = jacstab.lyapunov_exponents(net)
    rank = min(m.size for m in jacstab.masks(net))
    assert torch.isfinite(lam[:rank]).all() and torch.isinf(lam[rank:]).all()
    assert torch.linalg.matrix_rank(reference_jacobian(net)).item() <= rank


def test_dead_network_gives_minus_inf_not_nan():
    net = sample(NetSpec(6, 4), 0)
    ws = net.weights
    ws[1] = -torch.abs(ws[1])  # Y_2 <= 0 after a relu input >= 0: every unit of D_2 is off
    net = net.replace(weights=ws)
    curve = jacstab.depth_curve(net)
    assert torch.isfinite(curve[:2]).all() and torch.isneginf(curve[2:]).all()
    assert torch.equal(jacstab.singular_values(net, depth=4), torch.zeros(6, dtype=torch.float64))


def test_independent_depth_curve_uses_fresh_networks():
    net = sample(NetSpec(16, 5), 0)
    a = jacstab.depth_curve(net, independent=True)
    b = jacstab.depth_curve(net)
    assert a.shape == b.shape and torch.isfinite(a).all() and not torch.allclose(a, b)
    assert torch.equal(a, jacstab.depth_curve(net, independent=True))  # deterministic


def test_determinism_of_every_measurement():
    net = sample(NetSpec(300, 3), 0)
    assert torch.equal(jacstab.depth_curve(net), jacstab.depth_curve(net))
    assert torch.equal(
        jacstab.singular_values(net, k=3, method="lanczos"),
        jacstab.singular_values(net, k=3, method="lanczos"),
    )
    assert torch.equal(jacstab.lyapunov_exponents(net, k=3), jacstab.lyapunov_exponents(net, k=3))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda n: jacstab.singular_values(n, depth=9), "depth must be an integer in \\[1, 3\\]"),
        (lambda n: jacstab.singular_values(n, depth=0), "depth must"),
        (lambda n: jacstab.singular_values(n, k=0), "k must"),
        (lambda n: jacstab.singular_values(n, method="qr"), "method must be one of"),
        (lambda n: jacstab.depth_curve(n, torch.ones(3)), "x must have shape \\(8,\\)"),
        (lambda n: jacstab.depth_curve(n, torch.full((8,), math.nan)), "finite"),
        (lambda n: jacstab.lyapunov_exponents(n, k=-1), "k must"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(sample(NetSpec(8, 3), 0))


def test_overflow_without_log_is_an_error_with_a_fix():
    net = sample(NetSpec(32, 1500, sigma2=8.0), 0)  # ||J|| ~ (8/2)^(1500/2): far beyond float64's e^709
    with pytest.raises(OverflowError, match="log=True"):
        jacstab.singular_values(net, k=1)
    assert 709 < jacstab.singular_values(net, k=1, log=True)[0].item() < 1500 * 0.5 * math.log(4.0) + 10


def test_auto_matrix_free_path_at_width_1024():
    # width >= 1024 and k = 1: auto takes the single-vector matrix-free Lanczos path (log-domain scales).
    net = sample(NetSpec(1024, 3), 0)
    ref = torch.linalg.matrix_norm(reference_jacobian(net), ord=2).item()
    assert abs(math.exp(jacstab.log_norm(net)) - ref) <= RTOL[torch.float64] * ref
    top = jacstab.singular_values(net, k=3)  # block Lanczos, block 32
    ref3 = torch.linalg.svdvals(reference_jacobian(net))[:3]
    torch.testing.assert_close(top, ref3, rtol=RTOL[torch.float64], atol=0)
