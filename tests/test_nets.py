import math

import pytest
import torch

import jacstab
from jacstab import NetSpec, sample


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_same_spec_and_seed_give_identical_tensors(init, dtype):
    spec = NetSpec(12, 4, init=init, in_dim=5, out_dim=3)
    a, b, c = sample(spec, 7, dtype=dtype), sample(spec, 7, dtype=dtype), sample(spec, 8, dtype=dtype)
    for wa, wb in zip([*a.weights, a.w_in, a.w_out], [*b.weights, b.w_in, b.w_out]):
        assert torch.equal(wa, wb)
    assert not torch.equal(a.weights[0], c.weights[0])
    assert a.w_in.shape == (12, 5) and a.w_out.shape == (3, 12) and a.weights[0].dtype == dtype


def test_prefix_and_common_random_numbers():
    deep, shallow = sample(NetSpec(10, 6), 3), sample(NetSpec(10, 2), 3)
    assert all(torch.equal(deep.weights[i], shallow.weights[i]) for i in range(2))
    # sigma2 only rescales the same standard-normal draws: W(4) = sqrt(2) W(2) exactly (up to one rounding).
    w2, w4 = (
        sample(NetSpec(10, 2, sigma2=2.0), 3).weights[0],
        sample(NetSpec(10, 2, sigma2=4.0), 3).weights[0],
    )
    torch.testing.assert_close(w4, math.sqrt(2.0) * w2, rtol=1e-15, atol=0)


def test_gaussian_variance_matches_sigma2_over_n():
    n, sigma2 = 200, 3.0
    w = torch.cat([x.flatten() for x in sample(NetSpec(n, 5, sigma2=sigma2), 0).weights])
    # 200,000 N(0, s) draws: the sample variance has relative standard error sqrt(2/N) = 0.0032; allow 5 SE.
    assert abs(w.var().item() / (sigma2 / n) - 1) < 5 * math.sqrt(2 / w.numel())
    assert abs(w.mean().item()) < 5 * math.sqrt(sigma2 / n / w.numel())


def test_orthogonal_weights_are_scaled_orthogonal():
    net = sample(NetSpec(16, 3, init="orthogonal", sigma2=3.0), 1)
    for w in net.weights:
        torch.testing.assert_close(w @ w.T, 3.0 * torch.eye(16, dtype=torch.float64), atol=1e-12, rtol=0)


def test_haar_first_entry_second_moment():
    # For Haar O in O(n), E[O_11^2] = 1/n exactly. 2000 draws of n=8: SE of the mean of O_11^2 is
    # sqrt(Var/N) with Var = 3/(n(n+2)) - 1/n^2 = 0.0219 -> SE 0.0033; allow 5 SE around 0.125.
    g = torch.Generator().manual_seed(0)
    vals = [jacstab.nets.haar_orthogonal(8, 8, generator=g, dtype=torch.float64)[0, 0] ** 2 for _ in range(2000)]
    assert abs(torch.stack(vals).mean().item() - 1 / 8) < 5 * 0.0033


def test_default_input_is_normalised_and_fixed():
    x = jacstab.default_input(50)
    assert abs(x.pow(2).mean().item() - 1.0) < 1e-14
    assert torch.equal(x, jacstab.default_input(50))


@pytest.mark.parametrize("seed", [-1, 1.5, "3", 2**63])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        sample(NetSpec(4, 2), seed)


def test_bad_dtype_and_spec():
    with pytest.raises(ValueError, match="dtype"):
        sample(NetSpec(4, 2), 0, dtype=torch.float16)
    with pytest.raises(TypeError, match="NetSpec"):
        sample({"width": 4}, 0)


@pytest.mark.slow
def test_float32_and_float64_nets_share_their_draws_and_agree_at_depth_2000():
    # jacstab 0.1 drew float32 weights from float32 normals: the two dtypes were different networks (log norms
    # 10.1 apart at depth 2000). Now both are drawn in float64 and float32 is the rounding of the same weights.
    spec = NetSpec(256, 2000)
    n64, n32 = sample(spec, 0), sample(spec, 0, dtype=torch.float32)
    for k in (0, 999, 1999):
        assert torch.equal(n32.weights[k], n64.weights[k].float())
    c64, c32 = jacstab.depth_curve(n64), jacstab.depth_curve(n32)
    # same masks, so only float32 rounding separates the curves: each of the 2000 renormalised layer products
    # carries ~eps32 = 6e-8 relative error, <= L eps32 = 1.2e-4 in the log norm even if all add up (measured 3e-6)
    assert (c32 - c64).abs().max().item() < 2.4e-4
