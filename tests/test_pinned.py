"""Pinned float64 regression numbers: a numerical drift must not hide under Monte-Carlo tolerances.

Every number below was computed once from a committed HEAD (2bc811d) with the public API and is compared at
``1e-12`` relative. Why 1e-12: these are float64 products of at most 40 layers of width <= 64. With deterministic
kernels one machine gives bit-identical results run after run (checked: two runs, and 1 vs 2 BLAS threads, agree
to <= 1 ulp); across machines the BLAS may sum in another order, which moves a product of ``L`` layers by
~``L eps`` ~ 1e-14 relative (and the SVD/QR/Lanczos on top by a few ulp more), so 1e-12 leaves a 100x margin for
that while a change of formula, sampling stream, default, seed derivation or mask moves them by far more (and
the Monte-Carlo tests, at percent-level tolerances, would not see a small one).

If a number here changes, the change is deliberate or a bug: do not re-pin without saying why in the commit.
The spec hashes are compared exactly: users' stored results are keyed on them.
"""

import math

import pytest
import torch

import jacstab
from jacstab import NetSpec

RTOL = 1e-12


def close(got, want):
    """``got`` (number, list or tensor) equals the pinned ``want`` to ``RTOL`` relative, entry by entry."""
    got = torch.as_tensor([float(v) for v in got] if isinstance(got, list) else got, dtype=torch.float64)
    got = got.reshape(-1).tolist()
    want = list(want) if isinstance(want, list) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g, w, rel_tol=RTOL, abs_tol=0.0), (g, w, abs(g - w) / abs(w))


@pytest.fixture(scope="module")
def relu_net():
    return jacstab.sample(NetSpec(64, 12), 3)


def test_spec_hashes_are_stable():
    assert NetSpec(64, 12).hash() == "195f875695fe05f2"
    assert NetSpec(256, 100, prune="magnitude", sparsity=0.9, scaling="exact").hash() == "ba4a48b651497062"


def test_default_input():
    close(float(jacstab.default_input(16).sum()), -1.4755387801468012)


def test_first_hidden_matrix(relu_net):
    # guards the RNG streams (seed derivation, stream keys, draw order, variance scaling)
    close(float(relu_net.weights[0].sum()), 16.03614530155426)


def test_depth_curve_relu(relu_net):
    curve = jacstab.depth_curve(relu_net)
    assert curve.shape == (12,) and curve.dtype == torch.float64
    close([curve[0], curve[5], curve[11]], [0.8366456900468073, 1.3883240419235436, 1.71966270436144])


def test_singular_values_relu(relu_net):
    s = jacstab.singular_values(relu_net, k=3, log=True)
    close(s, [1.71966270436144, 1.4543269677287083, 1.0398438297977195])


def test_singular_values_tanh():
    net = jacstab.sample(NetSpec(48, 8, activation="tanh", sigma2=1.5), 3)
    s = jacstab.singular_values(net, k=3, log=True)
    close(s, [0.6826587280451386, 0.630490526820663, 0.3996020565053158])


def test_lyapunov_exponents():
    net = jacstab.sample(NetSpec(32, 40), 3)
    close(jacstab.lyapunov_exponents(net, k=3), [0.04214647073821848, -0.0632257388377421, -0.10356300960183569])


def test_pruned_magnitude_exact_scaling():
    net = jacstab.sample(NetSpec(64, 10, prune="magnitude", sparsity=0.8, scaling="exact"), 3)
    close(jacstab.depth_curve(net)[-1], 1.313310050118512)


def test_correlated_eta():
    net = jacstab.sample(NetSpec(64, 10, eta=0.125), 3)
    close(jacstab.depth_curve(net)[-1], 0.5464297766709845)


def test_orthogonal_abs():
    # abs has phi' = +-1, so J = W_10 D_9 ... W_1 D_0 with W_d = sqrt(2) * Haar: sqrt(2)^10 times an orthogonal
    # matrix, every singular value is 2^5 and log ||J|| = 5 log 2 (the pin also guards the rounding)
    net = jacstab.sample(NetSpec(64, 10, init="orthogonal", activation="abs"), 3)
    last = float(jacstab.depth_curve(net)[-1])
    close(last, 3.4657359027997288)
    assert math.isclose(last, 5 * math.log(2), rel_tol=RTOL)
