"""The generic path: the Jacobian of any torch callable ``f: R^m -> R^m'`` through ``torch.func``.

Dense: ``torch.func.jacrev`` forms ``J`` (``m'`` reverse passes, vectorised by ``vmap``). Matrix-free: ``J v`` by
``torch.func.linearize`` (forward mode) and ``J^T u`` by ``torch.func.vjp`` (reverse mode), vectorised over a
block with ``vmap``, fed to block Lanczos on ``J^T J``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch.func import jacrev, linearize, vjp, vmap

from jacstab.engine._krylov import top_eigs


def check_callable_input(f: Callable, x: torch.Tensor | None) -> torch.Tensor:
    if x is None:
        raise ValueError("x is required when the object is a torch callable (the point where J = df/dx is taken)")
    if not isinstance(x, torch.Tensor) or x.dim() != 1 or x.numel() == 0:
        raise ValueError(f"x must be a non-empty 1-D torch.Tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if not x.is_floating_point() or not bool(torch.isfinite(x).all()):
        raise ValueError("x must be a finite floating-point tensor")
    return x


def jacobian_dense(f: Callable, x: torch.Tensor) -> torch.Tensor:
    """``J = df/dx`` as an ``m' x m`` matrix via ``torch.func.jacrev``."""
    j = jacrev(f)(x)
    return j.reshape(-1, x.numel())


def svals_jvp(f: Callable, x: torch.Tensor, k: int, *, block: int | None = None) -> torch.Tensor:
    """Top-``k`` singular values of ``df/dx`` matrix-free (block Lanczos on ``J^T J``, jvp + vjp)."""
    with warnings.catch_warnings():  # torch.fx const-folding noise inside linearize
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script used inside linearize
        _, jvp_fn = linearize(f, x)
    _, vjp_fn = vjp(f, x)
    fwd = vmap(jvp_fn, in_dims=1, out_dims=1)
    bwd = vmap(lambda u: vjp_fn(u)[0], in_dims=1, out_dims=1)

    def gram(v: torch.Tensor) -> torch.Tensor:
        out = fwd(v)
        return bwd(out.reshape(-1, v.shape[1]).reshape(out.shape)).detach()

    r = top_eigs(gram, x.numel(), k, dtype=x.dtype, device=x.device, block=block)
    if not r.converged:
        return torch.linalg.svdvals(jacobian_dense(f, x))[:k]
    return torch.sqrt(r.values)
