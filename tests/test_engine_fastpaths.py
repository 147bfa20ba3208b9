"""The depth curve's fast paths (issue 16) against independent computations: batched row-layout Lanczos vs eigh,
the stacked gates vs the per-layer gates, the one-read weight check, and weights so large that norms overflow."""

from __future__ import annotations

import math

import pytest
import torch

import jacstab
from conftest import count_host_reads, reference_jacobian
from jacstab import NetSpec, sample
from jacstab.engine._krylov import top_eig_batched
from jacstab.nets.layers import Gate


def _psd_stack(kind: str, c: int = 6, m: int = 42) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(c, m, m, generator=g, dtype=torch.float64))
    if kind == "spread":  # Marchenko-Pastur-like: small gap at the top
        lam = torch.rand(c, m, generator=g, dtype=torch.float64) * 4
    elif kind == "repeated":  # the top eigenvalue has multiplicity 3
        lam = torch.rand(c, m, generator=g, dtype=torch.float64)
        lam[:, :3] = 2.0
    elif kind == "low_rank":  # rank 2: the Krylov space breaks down after 2 vectors
        lam = torch.zeros(c, m, dtype=torch.float64)
        lam[:, :2] = torch.tensor([3.0, 1.0], dtype=torch.float64)
    else:  # "zero" rows mixed in: a zero matrix has top eigenvalue 0
        lam = torch.rand(c, m, generator=g, dtype=torch.float64)
        lam[::2] = 0.0
    return q @ torch.diag_embed(lam) @ q.mT


@pytest.mark.parametrize("kind", ["spread", "repeated", "low_rank", "zero"])
@pytest.mark.parametrize("block", [1, 3])
@pytest.mark.parametrize("round_steps", [1, 12])
def test_batched_lanczos_matches_eigh(kind, block, round_steps):
    a = _psd_stack(kind)
    ref = torch.linalg.eigvalsh(a)[:, -1]
    g = torch.Generator().manual_seed(0)
    top = top_eig_batched(a, tol=1e-10, block=block, round_steps=round_steps, generator=g)
    assert bool(top.converged.all())  # m = 42 is a multiple of both blocks: at worst the whole space is reached
    # the stopping rule puts an eigenvalue within (1e-10 + 100 eps) theta of theta; the top one is the closest
    # from below (Ritz values never exceed lambda_max), so |theta - lambda_max| <= 1.1e-10 lambda_max + rounding
    bound = 1.1e-10 * ref + 1e-13 * ref.max()
    assert bool(((top.values - ref).abs() <= bound).all()), (top.values - ref).abs().max()
    # round_steps=1 checks after every step: more host reads than the 12-step rounds unless it is done at once
    if round_steps == 1 and kind == "spread":
        assert top.checks == top.dim // block


def test_batched_lanczos_cap_reports_non_convergence():
    a = _psd_stack("spread")
    top = top_eig_batched(a, tol=1e-10, block=1, round_steps=4, max_dim=3, generator=torch.Generator().manual_seed(0))
    assert not bool(top.converged.all()) and top.dim == 3  # callers then use the SVD (tests/test_operator.py)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"activation": "tanh"},
        {"activation": "leaky_relu"},
        {"activation": "abs", "init": "orthogonal", "sigma2": 1.0},
        {"activation": "half_relu"},
        {"prune": "magnitude", "sparsity": 0.5},
        {"residual": 0.3},
        {"block": "reflection", "init": "orthogonal", "sigma2": 1.0},
        {"gates": "bernoulli"},
        {"activation": "groupsort", "init": "orthogonal", "sigma2": 1.0},
    ],
)
def test_stacked_gates_equal_the_per_layer_gates(kw):
    net = sample(NetSpec(32, 6, **kw), 1)
    x = net.default_input()
    ys = list(net.states(net.input_map(x), 5, normalise=net.activation.homogeneous))
    for ref, got in zip([layer.gate(y) for layer, y in zip(net.layers, ys)], net.gates(x), strict=True):
        assert torch.equal(ref.idx, got.idx) and ref.full == got.full
        assert (ref.val is None) == (got.val is None)
        assert ref.val is None or torch.equal(ref.val, got.val)
        assert (ref.perm is None) == (got.perm is None)


def test_gate_stack_edge_rows():
    d = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    for ref, got in zip([Gate.from_derivative(r) for r in d], Gate.stack(d), strict=True):
        assert torch.equal(ref.idx, got.idx) and ref.full == got.full and (ref.val is None) == (got.val is None)
        assert ref.val is None or torch.equal(ref.val, got.val)


def test_huge_finite_weights_shift_the_curve_exactly():
    # scaling W_2 by c multiplies J^(d) by c for every d >= 2 (an exact identity). c = 1e300 overflows every norm
    # and the Gram matrices (entries ~1e600): the weight check, the forward pass and the curve must still be exact.
    net = sample(NetSpec(24, 5), 0)
    w = [x.clone() for x in net.weights]
    w[1] = w[1] * 1e300
    big = net.replace(weights=w)
    shift = torch.tensor([0.0] + [300 * math.log(10.0)] * 4, dtype=torch.float64)
    base = jacstab.depth_curve(net)
    torch.testing.assert_close(jacstab.depth_curve(big), base + shift, rtol=1e-13, atol=0)  # rounding of logs ~700
    torch.testing.assert_close(jacstab.depth_curve(big, method="jacrev"), base + shift, rtol=1e-12, atol=0)


def test_products_beyond_float64_say_so():
    net = sample(NetSpec(24, 3), 0)
    w = [x.clone() for x in net.weights]
    w[1] = w[1] / w[1].abs().amax() * 1.7e308  # finite, but rows of 12 active units sum past float64's maximum
    with pytest.raises(ValueError, match="overflows float64"):
        jacstab.depth_curve(net.replace(weights=w))


def test_weight_check_names_the_matrix_after_the_fast_sum():
    net = sample(NetSpec(8, 4), 0)
    w = [x.clone() for x in net.weights]
    w[2][1, 1] = float("inf")
    w[3][0, 0] = -float("inf")  # the sum of W_4 alone would be -inf; W_3 is named first
    with pytest.raises(ValueError, match=r"W_3 \(net.weights\[2\]\) has 1 nan or inf"):
        jacstab.depth_curve(net.replace(weights=w))


def test_padded_prefixes_match_dense_prefix_norms():
    # n = 200: about 100 active columns, padded with zero columns to a multiple of 8 (two chunks of 24 and 6 depths
    # with a tiny chunk budget). Reference: float64 masked prefixes formed densely, matrix_norm(ord=2) per depth.
    import jacstab.engine._chain as chain
    from jacstab.engine._masks import masks

    net = sample(NetSpec(200, 30), 4)
    assert int(masks(net)[0].idx.numel()) % 8  # the padding is exercised
    ref, p = [], None
    for w, g in zip(net.weights, masks(net)):
        d = torch.zeros(200, dtype=torch.float64)
        d[g.idx] = 1.0
        p = w * d if p is None else w @ (d[:, None] * p)
        ref.append(math.log(torch.linalg.matrix_norm(p, ord=2).item()))
    ref = torch.tensor(ref, dtype=torch.float64)
    # Lanczos stops at residual 1e-10 theta: sigma to 5e-11 relative, i.e. log sigma to 5e-11 (+ rounding)
    torch.testing.assert_close(jacstab.depth_curve(net), ref, rtol=0, atol=1e-10)
    real = chain.curve_chunk
    with pytest.MonkeyPatch.context() as m:
        m.setattr(chain, "curve_chunk", lambda cols, depth: min(24, real(cols, depth)))
        torch.testing.assert_close(jacstab.depth_curve(net), ref, rtol=0, atol=1e-10)


def test_matrix_free_chain_and_formed_product_read_the_host_once(monkeypatch):
    # the GPU contract of the single norm's setup: no host read per layer (was one per layer for both)
    from jacstab.engine._chain import product_at
    from jacstab.engine.operators import MatrixFreeChain

    def reads(L: int) -> tuple[int, int]:
        net = sample(NetSpec(32, L), 0)
        gates = net.gates(net.default_input())
        return (
            count_host_reads(monkeypatch, lambda: MatrixFreeChain(net, gates, L))[1],
            count_host_reads(monkeypatch, lambda: product_at(net, gates, L))[1],
        )

    assert reads(5) == reads(200) == (1, 1)
    # and the values: the formed product's norm equals the matrix-free one and the dense reference
    net = sample(NetSpec(32, 40), 0)
    ref = math.log(torch.linalg.matrix_norm(torch.func.jacrev(net.hidden_map)(net.input_map(net.default_input())), 2))
    for method in ("dense", "lanczos"):
        assert abs(jacstab.log_norm(net, method=method) - ref) <= 1e-9  # Lanczos: 5e-11 relative on sigma


def test_hot_paths_read_the_host_a_fixed_number_of_times_on_the_gpu_schedule(monkeypatch):
    # issue 16's GPU contract for the norm (both backends), the depth curve and the Lyapunov QR chain, checked on
    # the CPU with the accelerator's Lanczos schedule (a check every LANCZOS_ROUND_STEPS_ACCELERATOR products):
    # the number of host reads (each one a GPU synchronisation) does not grow with the depth. Width 512: the
    # formed product has ~256 active columns, above DENSE_NORM_MAX, so its norm is Lanczos too, not an SVD.
    from jacstab.engine import _resolve as R

    # first the CPU's own schedule (a check every product matrix-free, every second product on a formed prefix):
    # the same values against jacrev + SVD (5e-11 relative: the Lanczos rule)
    net = sample(NetSpec(512, 5), 0)
    ref = torch.linalg.matrix_norm(reference_jacobian(net, 5), ord=2).log()
    for method in ("dense", "lanczos"):
        assert abs(jacstab.log_norm(net, method=method) - ref) <= 1e-9
    monkeypatch.setitem(R.LANCZOS_ROUND_STEPS, "cpu", R.LANCZOS_ROUND_STEPS_ACCELERATOR)
    monkeypatch.setattr(R, "LANCZOS_ROUND_STEPS_FORMED_CPU", R.LANCZOS_ROUND_STEPS_ACCELERATOR)

    def reads(L: int) -> dict[str, int]:
        net = sample(NetSpec(512, L), 0)
        out = {}
        for method in ("dense", "lanczos"):
            (logs, info), out[method] = count_host_reads(
                monkeypatch,
                lambda m=method: jacstab.singular_values(net, k=1, method=m, log=True, return_info=True),
            )
            assert info.method == method and not info.fallbacks
            if L == 5:  # the values on this schedule: against jacrev + SVD, 5e-11 relative (the Lanczos rule)
                ref = torch.linalg.matrix_norm(reference_jacobian(net, L), ord=2).log()
                assert abs(logs[0] - ref) <= 1e-9
        _, out["lyapunov"] = count_host_reads(monkeypatch, lambda: jacstab.lyapunov(net, k=8))
        _, out["curve"] = count_host_reads(monkeypatch, lambda: jacstab.depth_curve(net))
        return out

    short, deep = reads(5), reads(60)
    # measured: norm 9-10 (weight and input checks, batched gates, the product's scale, 1 round of Lanczos and the
    # final overflow check), Lyapunov 4, curve 15; a per-layer or per-step read would add >= 55 at L = 60
    assert max(deep.values()) <= 16
    assert all(deep[key] <= short[key] for key in short), (short, deep)
