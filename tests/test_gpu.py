"""The GPU paths (issue 16), run only where CUDA is available (skipped on the CPU-only CI).

Against the CPU, which every other test checks against independent references: the same weights (sampled on the
CPU, then moved) give the same norms, depth curve and Lyapunov exponents in float64. And the GPU contract: the
number of host synchronisations, counted by ``torch.cuda.set_sync_debug_mode("warn")`` (one warning per
synchronising call: ``.item()``, ``.tolist()``, ``nonzero``, a copy to the host, ...), does not grow with depth.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import jacstab
from jacstab import NetSpec, sample

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _syncs(fn):
    """``(fn(), number of synchronising CUDA calls it made)``."""
    fn()  # warm-up: CUDA context, cuBLAS/cuSOLVER handles, lazy imports
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            out = fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return out, sum("synchroniz" in str(w.message) for w in seen)


def _hot_paths(net):
    return {
        "norm dense": lambda: jacstab.singular_values(net, k=1, method="dense", log=True),
        "norm lanczos": lambda: jacstab.singular_values(net, k=1, method="lanczos", log=True),
        "curve": lambda: jacstab.depth_curve(net),
        "lyapunov": lambda: jacstab.lyapunov_exponents(net, k=10),
    }


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gpu_gives_the_cpu_numbers(activation):
    # float64 on both: the Lanczos rule bounds each norm to 5e-11 relative, so two runs agree to ~1e-10 in log;
    # the QR chains differ by rounding only (~1e-13); 1e-9 leaves margin for a gate flipped by a different rounding
    # of a pre-activation within ~1e-15 of 0 (none at these seeds)
    spec = NetSpec(512, 30, activation=activation)
    cpu, gpu = sample(spec, 0), sample(spec, 0, device="cuda")
    for name, fn in _hot_paths(cpu).items():
        ref = fn()
        got = _hot_paths(gpu)[name]()
        assert got.device.type == "cpu"  # results come back as plain CPU tensors
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-9, msg=name)


def test_gpu_synchronisations_do_not_grow_with_depth():
    counts = {}
    for depth in (5, 60):
        net = sample(NetSpec(512, depth), 0, device="cuda")
        counts[depth] = {name: _syncs(fn)[1] for name, fn in _hot_paths(net).items()}
    short, deep = counts[5], counts[60]
    # every path synchronises at least once (its result comes back to the CPU): the counter works
    assert min(short.values()) >= 1 and min(deep.values()) >= 1, counts
    # a per-layer or per-depth synchronisation would add >= 55 at depth 60; a Lanczos round more or less (3
    # synchronisations each) is not growth with depth
    assert all(deep[name] <= short[name] + 10 for name in short), counts


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gpu_plans_form_the_product_at_1024(dtype):
    # on a GPU, auto forms the product up to LANCZOS_MIN_WIDTH_ACCELERATOR (launch-bound matrix-free products)
    # and the depth curve takes the Gram stack at every width; both agree with the CPU's matrix-free answer
    net = sample(NetSpec(1024, 10), 0, dtype=dtype, device="cuda")
    logs, info = jacstab.singular_values(net, k=1, log=True, return_info=True)
    assert info.method == "dense" and not info.fallbacks
    ref = jacstab.singular_values(sample(NetSpec(1024, 10), 0, dtype=dtype), k=1, method="lanczos", log=True)
    tol = 1e-9 if dtype == torch.float64 else 1e-4  # float32: ~L sqrt(n) eps32 rounding of the product
    assert abs(float(logs[0] - ref[0])) <= tol
    curve = jacstab.depth_curve(net)
    assert abs(float(curve[-1] - ref[0])) <= tol
