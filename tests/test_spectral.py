"""Every log singular value, Lyapunov spectra with error bars, alignment: against independent computations.

References: torch.func.jacrev + torch.linalg.svdvals (small nets, where float64 resolves every value), mpmath at
400 digits (deep products whose sigma_1/sigma_n is far beyond 1e300), Newman's exact exponents with exact
standard errors, and dense SVDs of the head and tail of a split product.
"""

import math

import mpmath
import numpy as np
import pytest
import torch
from scipy import special

import jacstab
from conftest import reference_jacobian
from jacstab import NetSpec, sample
from jacstab.engine._qrchain import jacobi_rows


def _ref_logs(net, depth=None):
    return torch.log(torch.linalg.svdvals(reference_jacobian(net, depth)))


@pytest.mark.parametrize(
    "act,res,sigma2", [("relu", 0.0, 2.0), ("linear", 0.0, 1.0), ("tanh", 0.0, 1.5), ("abs", 0.0, 2.0),
                       ("relu", 0.6, 2.0), ("tanh", 1.0, 1.0)]
)  # fmt: skip
def test_log_singular_values_match_svdvals_where_float64_resolves_them(act, res, sigma2):
    # n = 10, depth <= 5: sigma_1/sigma_n < 1e6, so svdvals resolves every non-zero value to ~1e-10 relative
    # (eps * cond); the tolerance 1e-8 on log sigma covers that. Exact zeros (ReLU rank) are -inf in both:
    # svdvals gives ~1e-17 there, so those indices are compared by count (n - rank).
    net = sample(NetSpec(10, 5, activation=act, sigma2=sigma2, residual=res), 2)
    for d in (1, 3, 5):
        got = jacstab.log_singular_values(net, depth=d)
        ref = _ref_logs(net, d)
        finite = torch.isfinite(got)
        rank = int(finite.sum())
        assert rank == int((ref > math.log(1e-12) + ref[0]).sum())
        torch.testing.assert_close(got[finite], ref[:rank], rtol=0, atol=1e-8)
    many = jacstab.log_singular_values(net, depths=[5, 1, 3], k=4)
    assert many.shape == (3, 4)
    for row, d in zip(many, (5, 1, 3)):  # one pass equals separate calls (same chain, same arithmetic)
        torch.testing.assert_close(row, jacstab.log_singular_values(net, depth=d, k=4), rtol=0, atol=1e-13)


def _mp_logs(mats, dps=400):
    mpmath.mp.dps = dps
    m = mpmath.eye(mats[0].shape[1])
    for a in mats:
        m = mpmath.matrix(a.tolist()) * m
    s = mpmath.svd_r(m, compute_uv=False)
    return sorted((float(mpmath.log(v)) if v > 0 else -math.inf for v in s), reverse=True)


def test_graded_product_against_mpmath_beyond_the_float_range():
    # linear Gaussian, n = 6, L = 400: sigma_1 / sigma_6 ~ e^570 (1e247): float64 svdvals of the formed product
    # cannot see sigma_6 (it is below eps sigma_1 by 230 orders of magnitude). Reference: the exact product in
    # 400-digit arithmetic. The chain is backward stable layer by layer, so log sigma_i is off by ~L c eps ~ 1e-13;
    # tolerance 1e-10 absolute (~1e-13 relative in log sigma; the target is 1e-8 relative).
    net = sample(NetSpec(6, 400, activation="linear", sigma2=1.0), 1)
    got = jacstab.log_singular_values(net)
    ref = torch.tensor(_mp_logs(net.weights), dtype=torch.float64)
    assert float(got[0] - got[-1]) > 500
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-10)
    formed = jacstab.singular_values(net, method="dense", log=True)  # what the SVD of the formed product gives
    assert float((formed[-1] - ref[-1]).abs()) > 100  # the dense path cannot resolve it (a test that can fail)


def test_relu_product_against_mpmath_with_exact_zeros():
    # ReLU, n = 8, L = 60: rank min_d |a_d| < 8, so the trailing values are exact zeros (-inf); the others span
    # e^100+. Reference: W_d D_{d-1} multiplied in 300-digit arithmetic with the engine's own gates (0/1 entries).
    net = sample(NetSpec(8, 60, activation="linear", sigma2=1.0), 4)
    relu = sample(NetSpec(8, 60, activation="relu", sigma2=2.0), 4)
    gates = jacstab.masks(relu)
    mats = []
    for w, g in zip(relu.weights, gates):
        d = torch.zeros(8, dtype=torch.float64)
        d[g.idx] = 1.0
        mats.append(w * d)
    got = jacstab.log_singular_values(relu)
    ref = _mp_logs(mats, 300)
    rank = min(g.size for g in gates)
    assert int(torch.isfinite(got).sum()) == rank and rank < 8
    torch.testing.assert_close(got[:rank], torch.tensor(ref[:rank], dtype=torch.float64), rtol=0, atol=1e-10)
    assert net.spec != relu.spec  # (the linear net only documents the shared weights of one seed)


def test_jacobi_underflow_path_is_gram_schmidt():
    # rows e^0 x_1 and e^-2000 x_2 (ratio underflows to 0): the singular values are exactly ||x_1|| and
    # e^-2000 |x_2 - (x_1.x_2) x_1| up to a relative e^-4000; closed form with x_1 = (1, 0, 0), x_2 = (c, s, 0).
    c, s = 0.6, 0.8
    x = torch.tensor([[1.0, 0.0, 0.0], [c, s, 0.0]], dtype=torch.float64)
    r = jacobi_rows(torch.tensor([0.0, -2000.0], dtype=torch.float64), x)
    torch.testing.assert_close(r.log_s, torch.tensor([0.0, -2000.0 + math.log(s)], dtype=torch.float64))
    torch.testing.assert_close(r.right[1].abs(), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    # in-range case against a dense SVD of the formed matrix (both well conditioned: 1e-12)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(7, 9, generator=g, dtype=torch.float64)
    ell = torch.linspace(0, -20, 7, dtype=torch.float64)
    r = jacobi_rows(ell, a / a.norm(dim=1, keepdim=True))
    ref = torch.log(torch.linalg.svdvals(torch.exp(ell)[:, None] * a / a.norm(dim=1, keepdim=True)))
    torch.testing.assert_close(r.log_s, ref, rtol=0, atol=1e-9)
    assert r.converged


def test_newman_exponents_z_test_with_exact_standard_errors():
    # Linear Gaussian N(0, 1/n): the frame Q_{d-1} is independent of W_d, so R_d[i,i]^2 ~ (1/n) chi^2_{n-i+1},
    # independent over d and i (Newman 1986): lambda_i has mean (log(2/n) + psi((n-i+1)/2))/2 exactly and SE
    # sqrt(psi'((n-i+1)/2) / (4L)). |z| < 4.5 for all 6 (two-sided 7e-6 each). The batch-means SE must agree with
    # the exact one: with 20 batches its relative sd is ~1/sqrt(38) = 16%, so [0.5, 1.6] is > 3 sd wide.
    n, L = 6, 1500
    res = jacstab.lyapunov(sample(NetSpec(n, L, activation="linear", sigma2=1.0), 5))
    i = np.arange(1, n + 1)
    se = np.sqrt(special.polygamma(1, (n - i + 1) / 2) / (4 * L))
    z = (res.exponents.numpy() - jacstab.theory.gaussian_lyapunov(n, 1.0)) / se
    assert np.all(np.abs(z) < 4.5), z
    ratio = res.stderr.numpy() / se
    assert np.all((ratio > 0.5) & (ratio < 1.6)), ratio


def test_lyapunov_result_object_is_consistent_and_backward_compatible():
    net = sample(NetSpec(12, 40, activation="relu"), 0)
    res = jacstab.lyapunov(net, k=12)
    torch.testing.assert_close(res.exponents, jacstab.lyapunov_exponents(net, k=12), rtol=0, atol=0)
    finite = torch.isfinite(res.exponents)
    torch.testing.assert_close(res.log_r[:, finite].mean(0), res.exponents[finite], rtol=1e-13, atol=0)
    assert not bool(finite.all())  # ReLU: directions beyond the rank are -inf with stderr 0 (exact)
    assert bool((res.stderr[~finite] == 0).all()) and bool((res.stderr[finite] > 0).all())
    q = res.frame[:, finite]
    torch.testing.assert_close(q.T @ q, torch.eye(int(finite.sum()), dtype=torch.float64), rtol=0, atol=1e-12)
    assert res.rows()[0].keys() == {"index", "exponent", "stderr"}


def test_lyapunov_sum_and_log_singular_values_sum_are_log_det():
    # exact identities on a square product (linear, full rank): sum_i lambda_i = (1/L) log |det J| and
    # sum_i log sigma_i = log |det J| = sum_k log |det W_k| (reference: slogdet per factor; the formed J has
    # condition number ~1e17 here, so slogdet of J itself would be off by ~20 in the log)
    net = sample(NetSpec(8, 30, activation="linear", sigma2=1.0), 3)
    lam = jacstab.lyapunov_exponents(net)
    logs = jacstab.log_singular_values(net)
    det = sum(torch.linalg.slogdet(w).logabsdet for w in net.weights)
    torch.testing.assert_close(lam.sum(), det / 30, rtol=0, atol=1e-12)
    torch.testing.assert_close(logs.sum(), det, rtol=0, atol=1e-10)


def test_principal_angles_against_dense_svd_of_head_and_tail():
    # head J_{1:d} and tail J_{d+1:L} by jacrev through the layers' forward maps, their SVDs by torch.linalg.svd;
    # cosines of principal angles must match to 1e-10 (well-conditioned 2-subspaces of R^10; the gaps here are
    # > 0.03 in log, so the subspaces are determined to ~eps/gap)
    for spec in (NetSpec(10, 6, activation="tanh", sigma2=1.5), NetSpec(10, 6, residual=0.6)):
        net = sample(spec, 3)
        y0 = net.input_map(net.default_input())
        ys = list(net.states(y0))
        al = jacstab.engine.alignment(net, k=2)
        for row, d in enumerate(al.splits.tolist()):
            head = reference_jacobian(net, d)

            def tail(y, d=d, net=net):
                for layer in net.layers[d:]:
                    y = layer.forward(y)
                return y

            t = torch.func.jacrev(tail)(ys[d])
            u, v = torch.linalg.svd(head).U[:, :2], torch.linalg.svd(t).Vh[:2].T
            ref = torch.linalg.svdvals(u.T @ v)
            torch.testing.assert_close(al.cosines[row], ref, rtol=0, atol=1e-10)
            sh, st = torch.linalg.svdvals(head), torch.linalg.svdvals(t)
            torch.testing.assert_close(al.gap_head[row], torch.log(sh[1] / sh[2]), rtol=1e-10, atol=0)
            torch.testing.assert_close(al.gap_tail[row], torch.log(st[1] / st[2]), rtol=1e-10, atol=0)
        dr = jacstab.engine.subspace_drift(net, k=2, depths=[2, 6])
        v2 = torch.linalg.svd(reference_jacobian(net, 2)).Vh[:2].T
        v6 = torch.linalg.svd(reference_jacobian(net, 6)).Vh[:2].T
        want = math.sqrt(max(0.0, 1 - float(torch.linalg.svdvals(v2.T @ v6).min()) ** 2))
        assert abs(float(dr.to_final[0]) - want) < 1e-8 and abs(float(dr.step[1]) - want) < 1e-8


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda n: jacstab.log_singular_values(n, depth=2, depths=[1]), "depth or depths"),
        (lambda n: jacstab.log_singular_values(n, depths=[0]), r"depths must hold integers in \[1, 4\]"),
        (lambda n: jacstab.log_singular_values(n, depths=[]), "non-empty"),
        (lambda n: jacstab.log_singular_values(n, k=0), "k must be"),
        (lambda n: jacstab.lyapunov(n, batches=1), "batches must be"),
        (lambda n: jacstab.engine.alignment(n, splits=[4]), r"split must be"),
        (lambda n: jacstab.engine.alignment(n, k=0), "k must be"),
    ],
)
def test_bad_arguments_name_the_field(call, match):
    with pytest.raises(ValueError, match=match):
        call(sample(NetSpec(6, 4), 0))
