"""Faults at the boundary: non-finite weights, inputs and outputs are rejected with one clear ValueError."""

import math

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
