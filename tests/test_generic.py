"""The generic path: any torch callable, dense (jacrev) and matrix-free (jvp/vjp Lanczos)."""

import pytest
import torch

import jacstab


def _model():
    torch.manual_seed(0)  # test-local model construction only; the library never touches the global RNG
    return torch.nn.Sequential(
        torch.nn.Linear(40, 64),
        torch.nn.Tanh(),
        torch.nn.Linear(64, 64),
        torch.nn.GELU(),
        torch.nn.Linear(64, 30),
    ).double()


@pytest.mark.parametrize("method", ["auto", "jacrev", "jvp", "dense", "lanczos"])
def test_callable_matches_autograd_functional(method):
    f = _model()
    x = torch.linspace(-1, 1, 40, dtype=torch.float64)
    ref = torch.linalg.svdvals(torch.autograd.functional.jacobian(f, x))
    k = None if method in ("auto", "jacrev", "dense") else 5
    s = jacstab.singular_values(f, x, k=k, method=method)
    assert s.numel() == (30 if k is None else 5) and s.grad_fn is None  # plain numbers, no autograd graph
    # Lanczos residual tolerance 1e-10 relative; SVD backward error ~1e-15: 1e-8 of sigma_1 is a safe bound.
    torch.testing.assert_close(s, ref[: s.numel()], rtol=0, atol=1e-8 * ref[0].item())


def test_callable_errors():
    f = _model()
    with pytest.raises(ValueError, match="x is required"):
        jacstab.singular_values(f)
    with pytest.raises(ValueError, match="depth applies to a jacstab Network only"):
        jacstab.singular_values(f, torch.zeros(40, dtype=torch.float64), depth=2)
    with pytest.raises(TypeError, match="Network or a torch callable"):
        jacstab.singular_values(3.0, torch.zeros(3))
