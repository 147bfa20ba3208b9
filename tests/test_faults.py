"""Faults at the boundary: non-finite weights, inputs and outputs are rejected with one clear ValueError."""

import math
import os
import re

import numpy as np
import pytest
import torch

import jacstab
from jacstab import NetSpec, sample
from jacstab.pruning import apply_masks


def _poisoned(value, k=1):
    net = sample(NetSpec(16, 4), 0)
    ws = net.weights
    ws[k] = ws[k].clone()
    ws[k][2, 3] = value
    return net.replace(weights=ws)


ENTRY_POINTS = {
    "depth_curve": lambda net: jacstab.depth_curve(net),
    "depth_curve_jvp": lambda net: jacstab.depth_curve(net, method="jvp"),
    "dense": lambda net: jacstab.singular_values(net, method="dense"),
    "lanczos": lambda net: jacstab.singular_values(net, k=2, method="lanczos"),
    "jacrev": lambda net: jacstab.singular_values(net, method="jacrev"),
    "jvp": lambda net: jacstab.singular_values(net, k=2, method="jvp"),
    "log_norm": lambda net: jacstab.log_norm(net),
    "lyapunov": lambda net: jacstab.lyapunov_exponents(net),
    "masks": lambda net: jacstab.masks(net),
    "operator": lambda net: jacstab.jacobian_operator(net),
    "certify": lambda net: jacstab.certify(net),
    "apply_masks": lambda net: apply_masks(net, [torch.ones(16, 16, dtype=torch.bool)] * 4),
}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_non_finite_weights_are_rejected_naming_the_matrix(entry, value):
    # jacstab 0.1: one NaN in W_2 gave depth_curve -inf, dense/Lanczos 0.0, Lyapunov -inf, certify finite numbers
    with pytest.raises(ValueError, match=r"W_2 \(net.weights\[1\]\) has 1 nan or inf entries|W_2 .* nan or inf"):
        ENTRY_POINTS[entry](_poisoned(value))


def test_non_finite_input_and_callable_output_are_rejected():
    net = sample(NetSpec(8, 2), 0)
    with pytest.raises(ValueError, match="x must be a finite"):
        jacstab.depth_curve(net, torch.full((8,), math.nan, dtype=torch.float64))
    x = torch.randn(6, dtype=torch.float64)

    def f(v):
        return torch.log(v)  # nan for negative entries

    for method in ("jacrev", "jvp"):
        with pytest.raises(ValueError, match=r"f\(x\) has nan or inf"):
            jacstab.singular_values(f, torch.full((6,), -1.0, dtype=torch.float64), k=2, method=method)
    x[0] = 0.0  # sqrt is finite at 0 but its derivative is inf: a finite output with a non-finite Jacobian
    for method in ("jacrev", "jvp"):
        with pytest.raises(ValueError, match="Jacobian of the callable at x has nan or inf"):
            jacstab.singular_values(torch.sqrt, x.abs(), k=2, method=method)


@pytest.mark.parametrize(
    "kwargs",
    [{"width": 200_000, "depth": 1}, {"width": 256, "depth": 100_000_000}, {"width": 8, "depth": 2, "in_dim": 10**11}],
)
def test_sizes_are_bounded_before_allocation(kwargs):
    from jacstab.nets.sampling import weight_bytes

    spec = NetSpec(**kwargs)
    need = weight_bytes(spec, torch.float64)
    assert need == 8 * (spec.depth * spec.width**2 + spec.width * spec.input_dim + 10 * spec.width)
    with pytest.raises(ValueError, match=re.escape(f"needs {need / 2**30:.3g} GiB for its weights")):
        sample(spec, 0)  # raises at once (nothing allocated: 10^8 layers would take minutes otherwise)


def test_memory_limit_can_be_set(monkeypatch):
    monkeypatch.setenv("JACSTAB_MAX_BYTES", "1000")
    with pytest.raises(ValueError, match="over the limit of"):
        sample(NetSpec(16, 2), 0)  # 16*16*2*8 + ... > 1000 bytes
    monkeypatch.setenv("JACSTAB_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="JACSTAB_MAX_BYTES must be a positive number"):
        sample(NetSpec(16, 2), 0)


def test_theory_orders_and_depths_are_bounded_and_overflow_is_reported():
    from jacstab import theory as T

    with pytest.raises(OverflowError, match="m_180 and higher overflow"):
        T.moments(200, 10)  # m_k grows like the Fuss-Catalan numbers times 2^(kL): past 1e308 at k = 180
    assert np.isfinite(T.moments(179, 10)).all()
    with pytest.raises(ValueError, match="up to depth L = 64"):
        T.density([1.0], 200)
    with pytest.raises(ValueError, match=r"\[1, 10\^7\]"):
        T.gaussian_lyapunov(10**8)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_absent_is_a_value_error_not_torchs_assertion():
    with pytest.raises(ValueError, match="no CUDA device is available"):
        sample(NetSpec(8, 2), 0, device="cuda")
    with pytest.raises(ValueError, match="device must be"):
        sample(NetSpec(8, 2), 0, device="gpu0")


def test_numpy_integers_are_accepted_and_give_the_same_network():
    a = sample(NetSpec(np.int64(16), np.int32(3)), np.int64(5))
    b = sample(NetSpec(16, 3), 5)
    assert a.spec == b.spec and a.spec.hash() == b.spec.hash() and type(a.spec.width) is int
    assert all(torch.equal(x, y) for x, y in zip(a.weights, b.weights))
    assert jacstab.singular_values(a, k=np.int64(2), depth=np.int64(2)).shape == (2,)


def test_thread_policy(monkeypatch):
    from jacstab._threads import SINGLE_THREAD_BELOW_WIDTH, threads_for

    monkeypatch.delenv("JACSTAB_THREADS", raising=False)
    assert threads_for(SINGLE_THREAD_BELOW_WIDTH - 1) == 1
    assert threads_for(SINGLE_THREAD_BELOW_WIDTH, workers=1) == max(1, os.cpu_count() or 1)
    assert threads_for(4096, workers=10**6) == 1  # never below one
    monkeypatch.setenv("JACSTAB_THREADS", "3")
    assert threads_for(16) == 3
    monkeypatch.setenv("JACSTAB_THREADS", "zero")
    with pytest.raises(ValueError, match="JACSTAB_THREADS must be an integer >= 1"):
        threads_for(16)


def test_predict_bounds_the_per_depth_curve():
    # one edge computation per depth: depth 10^8 would take hours and ~GBs (found by the bad-input corpus)
    from jacstab.theory import predict
    from jacstab.theory.predict import MAX_EDGE_DEPTH

    p = predict(NetSpec(8, MAX_EDGE_DEPTH + 1))
    assert p.log_norm is None and "computed up to depth" in p.edge_reason
    assert p.growth_per_layer == pytest.approx(0.0, abs=1e-15)  # the slope is still given (relu, sigma2 = 2)
    assert predict(NetSpec(8, 3)).log_norm.shape == (3,)
