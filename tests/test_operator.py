"""One Jacobian operator, one resolver: every backend against dense references, every fallback reached."""

import math

import numpy as np
import pytest
import torch
from scipy.sparse.linalg import svds

import jacstab
import jacstab.engine._chain as chain
import jacstab.engine.api as api
from conftest import RTOL, count_host_reads, reference_jacobian
from jacstab import NetSpec, sample
from jacstab.engine import _resolve as R
from jacstab.engine._krylov import EigResult


def _net(act="relu", n=20, L=5, seed=3):
    return sample(NetSpec(n, L, activation=act, slope=0.1), seed)


@pytest.mark.parametrize("method", ["dense", "lanczos", "jacrev", "jvp"])
@pytest.mark.parametrize("act", ["relu", "tanh", "leaky_relu"])
def test_operator_is_the_jacobian_on_its_support(method, act):
    net = _net(act)
    op = jacstab.jacobian_operator(net, depth=4, method=method)
    ref = reference_jacobian(net, 4)
    cols = jacstab.masks(net, depth=4)[0].idx if method in ("dense", "lanczos") else torch.arange(20)
    # exact identity up to float64 rounding of a 4-layer product (~1e-15 relative): 1e-10 leaves margin
    torch.testing.assert_close(math.exp(op.log_scale) * op.dense(), ref[:, cols], rtol=1e-10, atol=1e-12)
    assert op.shape == (20, cols.numel()) and op.method == method
    u, v = torch.randn(20, 3, dtype=torch.float64), torch.randn(op.shape[1], 3, dtype=torch.float64)
    # adjoint identity <u, A v> = <A^T u, v> (exact in exact arithmetic; float64 rounding ~1e-15)
    assert torch.allclose((u * op.matmat(v)).sum(0), (op.rmatmat(u) * v).sum(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(op @ v[:, 0], op.matmat(v[:, :1])[:, 0])
    # to_scipy: scipy's ARPACK svds on the scaled operator gives J's top singular values (ARPACK tol ~1e-10)
    s = np.sort(svds(op.to_scipy(), k=3, return_singular_vectors=False))[::-1] * math.exp(op.log_scale)
    np.testing.assert_allclose(s, torch.linalg.svdvals(ref)[:3].numpy(), rtol=1e-8)


def test_operator_of_a_callable_and_of_a_dead_network():
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4)).double()
    x = torch.randn(6, dtype=torch.float64)
    op = jacstab.jacobian_operator(model, x)
    ref = torch.func.jacrev(model)(x).detach()
    torch.testing.assert_close(op.dense(), ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(op.dense(), op.matmat(torch.eye(6, dtype=torch.float64)), rtol=1e-12, atol=1e-12)
    ws = _net().weights
    ws[1] = -ws[1].abs()  # every unit of D_2 off: J = 0 exactly from depth 3 on
    assert jacstab.jacobian_operator(_net().replace(weights=ws), depth=4) is None


def test_matrix_free_operator_of_a_bias_free_module_with_trainable_weights():
    # nn.Linear(bias=False) on a 1-D x traces to an in-place squeeze_; with weights that require grad, J v failed
    # ("a leaf Variable that requires grad is being used in an in-place operation") until J v ran under no_grad
    model = torch.nn.Sequential(torch.nn.Linear(6, 5, bias=False), torch.nn.Tanh(), torch.nn.Linear(5, 4, bias=False))
    model = model.double()
    assert all(p.requires_grad for p in model.parameters())
    x = torch.randn(6, dtype=torch.float64)
    op = jacstab.jacobian_operator(model, x, method="jvp")
    ref = torch.func.jacrev(model)(x).detach()
    torch.testing.assert_close(op.matmat(torch.eye(6, dtype=torch.float64)), ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(op.rmatmat(torch.eye(4, dtype=torch.float64)), ref.T, rtol=1e-12, atol=1e-12)


def test_resolver_owns_every_threshold():
    assert R.plan_network(R.LANCZOS_MIN_WIDTH, 1, "auto").method == "lanczos"
    assert R.plan_network(R.LANCZOS_MIN_WIDTH - 1, 1, "auto").method == "dense"
    assert R.plan_network(1024, 1024 // R.LANCZOS_K_DIVISOR + 1, "auto").method == "dense"
    assert R.plan_network(16, 1, "jvp") == R.Plan("jvp", "requested")
    assert R.plan_callable(R.JVP_MIN_INPUT + 1, 2, "auto").method == "jvp"
    assert R.plan_callable(R.JVP_MIN_INPUT + 1, None, "auto").method == "jacrev"
    assert R.plan_callable(10, None, "lanczos").method == "jvp"
    assert R.norm_by_svd(R.DENSE_NORM_MAX, 10_000) and not R.norm_by_svd(R.DENSE_NORM_MAX + 1, R.DENSE_NORM_MAX + 1)
    with pytest.raises(ValueError, match="did you mean 'dense'"):
        R.plan_network(8, 1, "dens")
    # on a GPU (planned without one: the plan reads only the device's type): forming the product up to a wider
    # width, the Gram stack for depth curves at every width, Lanczos checks every few products
    gpu = torch.device("cuda")
    assert R.plan_network(R.LANCZOS_MIN_WIDTH, 1, "auto", gpu).method == "dense"
    assert R.plan_network(R.LANCZOS_MIN_WIDTH_ACCELERATOR, 1, "auto", "cuda:0").method == "lanczos"
    assert "on cuda" in R.plan_network(4096, 1, "auto", gpu).reason
    assert R.curve_by_gram(R.CURVE_GRAM_MAX_COLS, "cpu") and not R.curve_by_gram(R.CURVE_GRAM_MAX_COLS + 1, "cpu")
    assert R.curve_by_gram(10**6, gpu)
    assert R.lanczos_round_steps("cpu") == 1 and R.lanczos_round_steps(gpu) == R.LANCZOS_ROUND_STEPS_ACCELERATOR
    assert R.lanczos_round_steps("cpu", formed=True) == R.LANCZOS_ROUND_STEPS_FORMED_CPU
    assert R.lanczos_round_steps(gpu, formed=True) == R.LANCZOS_ROUND_STEPS_ACCELERATOR


def _never_converges(*args, **kwargs):
    n, k = args[1], args[2]
    return EigResult(torch.zeros(k, dtype=torch.float64), torch.zeros(n, k, dtype=torch.float64), 1, False)


@pytest.mark.parametrize("k", [1, 3])
def test_lanczos_fallback_to_dense_is_reported_and_exact(monkeypatch, k):
    net = _net(n=24)
    ref = torch.linalg.svdvals(reference_jacobian(net))[:k]
    s, info = jacstab.singular_values(net, k=k, method="lanczos", return_info=True)
    assert (info.method, info.fallback) == ("lanczos", False)
    torch.testing.assert_close(s, ref, rtol=RTOL[torch.float64], atol=0)
    monkeypatch.setattr(api, "top_eigs", _never_converges)
    s, info = jacstab.singular_values(net, k=k, method="lanczos", return_info=True)
    assert info.method == "dense" and info.fallback and "did not converge" in info.fallbacks[0]
    torch.testing.assert_close(s, ref, rtol=RTOL[torch.float64], atol=0)


def test_jvp_fallback_to_jacrev_is_reported_and_exact(monkeypatch):
    model = torch.nn.Sequential(torch.nn.Linear(12, 12), torch.nn.Tanh(), torch.nn.Linear(12, 12)).double()
    x = torch.randn(12, dtype=torch.float64)
    ref = torch.linalg.svdvals(torch.func.jacrev(model)(x).detach())[:2]
    monkeypatch.setattr(api, "top_eigs", _never_converges)
    s, info = jacstab.singular_values(model, x, k=2, method="jvp", return_info=True)
    assert info.method == "jacrev" and info.fallback
    torch.testing.assert_close(s, ref, rtol=1e-10, atol=0)


def test_depth_curve_takes_the_batched_lanczos_path_and_matches_the_svd(monkeypatch):
    # every prefix norm of the curve comes from batched Lanczos on the Gram stack (counted below)
    net = sample(NetSpec(64, 3), 1)
    calls = []
    real = chain.top_eig_batched
    monkeypatch.setattr(chain, "top_eig_batched", lambda a, **kw: calls.append(a.shape[0]) or real(a, **kw))
    curve, info = jacstab.depth_curve(net, return_info=True)
    assert calls == [3] and not info.fallback and info.method == "dense"
    for d in (1, 2, 3):
        ref = torch.linalg.matrix_norm(reference_jacobian(net, d), ord=2).item()
        # Lanczos stops at residual 1e-10 theta: relative error of sigma <= 5e-11 (conftest RTOL = 1e-8)
        assert abs(math.exp(curve[d - 1].item()) - ref) <= RTOL[torch.float64] * ref
    # forced non-convergence (Krylov dimension capped at 2 < the ~32 active units): the SVD fallback, per depth
    monkeypatch.setattr(chain, "top_eig_batched", lambda a, **kw: real(a, **{**kw, "max_dim": 2}))
    again, info = jacstab.depth_curve(net, return_info=True)
    assert info.fallback and len(info.fallbacks) == 3 and "-> dense eigenvalues" in info.fallbacks[0]
    torch.testing.assert_close(again, curve, rtol=0, atol=1e-9)  # both within 5e-11 relative of the exact norm


def test_depth_curve_chunks_and_compaction_agree_with_one_stack(monkeypatch):
    # chunks of 2 depths (CURVE_CHUNK_BYTES tiny) and one Lanczos step per round (every round compacts the batch)
    # must give the same curve as one stack: the same exact norms, each to 5e-11 relative (atol on logs 1e-9)
    net = sample(NetSpec(48, 7, activation="tanh"), 2)
    whole = jacstab.depth_curve(net)
    monkeypatch.setattr(chain, "curve_chunk", lambda cols, depth: 2)
    monkeypatch.setattr(chain, "CURVE_ROUND_STEPS", 1)
    torch.testing.assert_close(jacstab.depth_curve(net), whole, rtol=0, atol=1e-9)
    for d in (1, 7):
        ref = math.log(torch.linalg.matrix_norm(reference_jacobian(net, d), ord=2).item())
        assert abs(whole[d - 1].item() - ref) <= 1e-9


def test_depth_curve_host_reads_do_not_grow_with_depth(monkeypatch):
    # the GPU contract: no host read per depth. Count every Tensor.item / __bool__ / tolist / nonzero / float / int
    # inside the curve (gates computed before); the count may depend on Lanczos rounds, not on L.
    def reads(L: int, activation: str = "linear", whole: bool = False) -> int:
        net = sample(NetSpec(32, L, activation=activation, init="orthogonal"), 0)  # every G_d = c I: 1 round
        gates = None if whole else net.gates(net.default_input())
        curve, n = count_host_reads(
            monkeypatch, lambda: jacstab.depth_curve(net) if whole else chain.depth_curve_dense(net, gates, L)
        )
        if activation == "linear":  # orthogonal linear layers: log ||J^(d)|| = d log g exactly (g = sqrt(2))
            exact = torch.arange(1, L + 1, dtype=torch.float64) * 0.5 * math.log(2.0)
            torch.testing.assert_close(curve, exact, rtol=0, atol=1e-10)
        return n

    # the curve: one overflow check per chunk and one per Lanczos round (here 1 chunk, 1 round)
    assert reads(5) == reads(200) <= 2 + 1
    # the whole call (weight check, input check, the batched gates, the curve): still independent of L
    # (measured 8: weight check 1, gates 1 nonzero + 2 tolist of the copied counts, Gram check 1, 2 Lanczos rounds
    # of 1 check each + 1 compaction); the old per-layer gates alone took 2-3 reads per layer
    assert reads(5, "relu", whole=True) == reads(200, "relu", whole=True) <= 8


@pytest.mark.parametrize("method", ["lanczos", "jacrev", "jvp"])
def test_depth_curve_takes_every_method(method):
    net = _net("leaky_relu", n=16, L=4)
    dense = jacstab.depth_curve(net)
    other, info = jacstab.depth_curve(net, method=method, return_info=True)
    assert info.method == method
    torch.testing.assert_close(other, dense, rtol=0, atol=1e-8)  # log norms; Lanczos tolerance 5e-11 relative


def test_api_misuse_says_what_to_pass():
    spec = NetSpec(8, 2)
    with pytest.raises(TypeError, match=r"jacstab.sample\(spec, seed\)"):
        jacstab.depth_curve(spec)
    with pytest.raises(TypeError, match=r"jacstab\.singular_values"):
        jacstab.lyapunov_exponents(torch.nn.Linear(4, 4))
    with pytest.raises(TypeError, match="NetSpec is a law"):
        jacstab.singular_values(spec)


def test_every_path_handles_residual_blocks_like_jacrev():
    # a residual block I + alpha W D has non-zero columns outside the active inputs: the analytic paths must carry
    # every column (its support is all units). Reference: torch.func.jacrev of the block's forward map + svdvals
    # (float64, n = 8, L = 3: conditioning ~10, so 1e-10 leaves ~1e4 ulps for the different summation orders).
    spec = NetSpec(8, 3, residual=0.7)
    net = jacstab.sample(spec, 1)
    x = net.default_input()
    j = torch.func.jacrev(lambda y: net.hidden_map(y))(net.input_map(x))
    ref = torch.linalg.svdvals(j)
    assert float(ref[-1]) > 1e-3  # the identity term keeps J full-rank (a plain ReLU net of this size has rank < 8)
    for method in ("dense", "lanczos", "jacrev", "jvp"):
        got = jacstab.singular_values(net, k=8 if method != "lanczos" else 2, method=method)
        torch.testing.assert_close(got, ref[: got.numel()], rtol=1e-10, atol=0)
    torch.testing.assert_close(jacstab.depth_curve(net)[-1], torch.log(ref[0]), rtol=1e-10, atol=0)
    torch.testing.assert_close(jacstab.log_singular_values(net), torch.log(ref), rtol=1e-10, atol=1e-12)
    op = jacstab.jacobian_operator(net, method="lanczos")
    torch.testing.assert_close(op.dense() * math.exp(op.log_scale), j, rtol=1e-10, atol=1e-12)
    # Lyapunov exponents sum to the log-determinant over L: sum_i lambda_i = (1/L) log |det J| (exact identity)
    lam = jacstab.lyapunov_exponents(net)
    torch.testing.assert_close(lam.sum(), torch.log(ref).sum() / 3, rtol=1e-10, atol=1e-12)


def test_wide_prefixes_take_the_per_depth_warm_started_path(monkeypatch):
    # CURVE_GRAM_MAX_COLS forced to 0: every prefix norm by warm-started Lanczos / SVD, one per depth
    net = sample(NetSpec(48, 5, activation="tanh"), 3)
    gram = jacstab.depth_curve(net)
    monkeypatch.setattr(R, "CURVE_GRAM_MAX_COLS", 0)
    monkeypatch.setattr(chain, "top_eig_batched", None)  # must not be reached
    warm = jacstab.depth_curve(net)
    torch.testing.assert_close(warm, gram, rtol=0, atol=1e-9)  # both within 5e-11 relative of the exact norms
    ref = math.log(torch.linalg.matrix_norm(reference_jacobian(net, 5), ord=2).item())
    assert abs(warm[-1].item() - ref) <= 1e-9
