"""Shared tolerances (one place, per dtype) and helpers for the independent reference computations."""

import math

import pytest
import torch

# Relative tolerance on singular values / norms against an independent float64 SVD.
# float64: SVD is backward stable (error ~ n eps ||J|| ~ 1e-14 here) and Lanczos stops at residual
#          1e-10 * theta, which bounds the eigenvalue error by 1e-10 relative (sigma: 5e-11); 1e-8 leaves margin.
# float32: the product of L <= 8 float32 matrices carries ~ L sqrt(n) eps ~ 1e-5 relative rounding; 1e-3 margin.
RTOL = {torch.float64: 1e-8, torch.float32: 1e-3}
DTYPES = [torch.float64, torch.float32]
ACTS = ["relu", "linear", "tanh", "leaky_relu", "abs", "groupsort", "half_relu"]
INITS = ["gaussian", "orthogonal"]


def reference_jacobian(net, depth=None, x=None):
    """J^(depth) by torch.func.jacrev through the plain forward map, in float64 (independent of the engine)."""
    net64 = net.to(dtype=torch.float64)
    x = net64.default_input() if x is None else x.to(torch.float64)
    y0 = net64.w_in @ x
    return torch.func.jacrev(lambda y: net64.hidden_map(y, depth))(y0)


def rel_err(a, b):
    return abs(a - b) / abs(b)


@pytest.fixture
def close_log():
    def check(measured_log, reference_value, rtol):
        assert math.isfinite(measured_log)
        assert abs(math.exp(measured_log) - reference_value) <= rtol * reference_value

    return check


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    """A tiny learnable IDX dataset (600 train, 200 test, 8x8 images, 10 classes) written by tests/_idx.py."""
    from _idx import write_dataset

    return write_dataset(tmp_path_factory.mktemp("toy"))


def count_host_reads(monkeypatch, fn):
    """``(fn(), number of host reads it made)``: every Tensor.item / __bool__ / tolist / __float__ / __int__ /
    __index__ / nonzero and torch.nonzero call (each one synchronises a GPU with the host)."""
    count = [0]

    def counted(orig):
        def wrap(*a, **kw):
            count[0] += 1
            return orig(*a, **kw)

        return wrap

    with monkeypatch.context() as m:
        for name in ("item", "__bool__", "tolist", "__float__", "__int__", "__index__", "nonzero"):
            m.setattr(torch.Tensor, name, counted(getattr(torch.Tensor, name)))
        m.setattr(torch, "nonzero", counted(torch.nonzero))
        out = fn()
    return out, count[0]
