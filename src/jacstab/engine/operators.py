"""One Jacobian operator interface for every backend (after curvlinops' ``PyTorchLinearOperator``).

A :class:`JacobianOperator` ``A`` represents ``J = e^{log_scale} A`` restricted to its input support (for a jacstab
Network the active input units ``a_0``: every other column of ``J`` is zero, so the non-zero singular values of
``A`` times ``e^{log_scale}`` are those of ``J``). Backends implement ``_matmat`` and ``_rmatmat`` once; ``@``,
``gram``, ``dense`` and :meth:`to_scipy` (a ``scipy.sparse.linalg.LinearOperator`` of the scaled ``A``) follow.

* :class:`FormedChain`: the product of the masked layers formed densely in the log domain (``method="dense"``).
* :class:`MatrixFreeChain`: the masked layers applied one after another, never formed (``method="lanczos"``).
* :class:`FuncJacobian`: ``torch.func`` jvp/vjp of any callable (``method="jvp"``; ``dense()`` is ``jacrev``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch.func import jacrev, linearize, vjp, vmap

from jacstab.nets.layers import Gate
from jacstab.nets.network import Network


class JacobianOperator:
    """``A`` with ``J = e^{log_scale} A`` on the input support; subclasses implement ``_matmat``/``_rmatmat``.

    Attributes:
        shape: ``(rows, cols)`` of ``A``; log_scale: ``log`` of the factor (``-inf`` when ``J = 0`` exactly);
        method: the backend's name; dtype, device: of the vectors it takes.
    """

    method = "abstract"

    def __init__(self, shape: tuple[int, int], log_scale: float, dtype: torch.dtype, device) -> None:
        self.shape, self.log_scale, self.dtype, self.device = shape, log_scale, dtype, torch.device(device)

    def _matmat(self, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _rmatmat(self, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def matmat(self, v: torch.Tensor) -> torch.Tensor:
        """``A V`` for ``V`` of shape ``(cols, b)``."""
        return self._matmat(v)

    def rmatmat(self, u: torch.Tensor) -> torch.Tensor:
        """``A^T U`` for ``U`` of shape ``(rows, b)``."""
        return self._rmatmat(u)

    def gram(self, v: torch.Tensor) -> torch.Tensor:
        """``A^T A V`` (the operator block Lanczos works on)."""
        return self.rmatmat(self.matmat(v))

    def __matmul__(self, v: torch.Tensor) -> torch.Tensor:
        return self.matmat(v) if v.dim() == 2 else self.matmat(v[:, None])[:, 0]

    def dense(self) -> torch.Tensor:
        """``A`` as a ``rows x cols`` tensor (``A I``)."""
        return self.matmat(torch.eye(self.shape[1], dtype=self.dtype, device=self.device))

    def to_scipy(self):
        """A ``scipy.sparse.linalg.LinearOperator`` of ``A`` (float64 numpy in and out)."""
        from scipy.sparse.linalg import LinearOperator

        def wrap(fn):
            def apply(v):
                v = np.asarray(v, dtype=np.float64)
                t = torch.as_tensor(v.reshape(v.shape[0], -1), dtype=self.dtype, device=self.device)
                out = fn(t).detach().to("cpu", torch.float64).numpy()
                return out.reshape(-1) if v.ndim == 1 else out

            return apply

        return LinearOperator(
            self.shape, matvec=wrap(self.matmat), rmatvec=wrap(self.rmatmat), matmat=wrap(self.matmat),
            rmatmat=wrap(self.rmatmat), dtype=np.float64,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, log_scale={self.log_scale:.6g}, method={self.method!r})"


class FormedChain(JacobianOperator):
    """``F = J[:, a_0] / e^ell`` formed densely (``||F||_F = 1``): see :func:`jacstab.engine._chain.product_at`."""

    method = "dense"

    def __init__(self, f: torch.Tensor, log_scale: float) -> None:
        super().__init__(tuple(f.shape), log_scale, f.dtype, f.device)
        self.f = f

    def _matmat(self, v):
        return self.f @ v

    def _rmatmat(self, u):
        return self.f.T @ u

    def dense(self) -> torch.Tensor:
        return self.f


class MatrixFreeChain(JacobianOperator):
    """``J^(depth)[:, a_0] / e^c`` applied layer by layer, never formed (``c = sum_d log c_d``, fixed).

    ``c_d`` is the growth of a probe vector at layer ``d`` (a one-column Benettin pass), so the scaled operator has
    norm ``e^{O(fluctuations)}`` and nothing overflows at any depth; it is a fixed linear operator, as Lanczos needs.
    Cost of ``A v``: ``sum_d |a_d| |a_{d-1}|`` multiply-adds per column (``~L n^2/4`` for ReLU).
    """

    method = "lanczos"

    def __init__(self, net: Network, gates: list[Gate], depth: int, generator: torch.Generator | None = None):
        layers, sup = net.layers, net.supports(gates)
        self.blocks = [layers[d - 1].factor(gates[d - 1], sup[d] if d < depth else None) for d in range(1, depth + 1)]
        g = generator if generator is not None else torch.Generator().manual_seed(1)
        v = torch.randn(sup[0].size, 1, generator=g, dtype=torch.float64).to(self.blocks[0])
        self.scales: list[torch.Tensor] = []  # device scalars: no host read per layer (one for the total below)
        for b in self.blocks:
            v = b @ v
            s = torch.linalg.vector_norm(v)
            s = torch.where((s > 0) & torch.isfinite(s), s, torch.ones_like(s))
            v = v / s
            self.scales.append(s)
        log_scale = float(torch.stack(self.scales).to(torch.float64).log().sum()) if self.scales else 0.0
        super().__init__((net.width, sup[0].size), log_scale, net.dtype, net.device)

    def _matmat(self, v):
        for b, s in zip(self.blocks, self.scales):
            v = (b @ v) / s
        return v

    def _rmatmat(self, u):
        for b, s in zip(reversed(self.blocks), reversed(self.scales)):
            u = (b.T @ u) / s
        return u


class FuncJacobian(JacobianOperator):
    """``J = df/dx`` of any torch callable at ``x``: ``J v`` by ``torch.func.linearize`` (forward mode), ``J^T u``
    by ``torch.func.vjp`` (reverse mode), vectorised over a block with ``vmap``; ``dense()`` by ``jacrev``."""

    method = "jvp"

    def __init__(self, f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, method: str = "jvp") -> None:
        self.method = method  # "jacrev" when the caller will use dense()
        with warnings.catch_warnings():  # torch.fx const-folding noise inside linearize
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script used inside linearize
            out, jvp_fn = linearize(f, x)
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            raise TypeError(f"the callable must return a floating-point torch.Tensor, got {type(out).__name__}")
        if not bool(torch.isfinite(out).all()):
            raise ValueError("the callable's output f(x) has nan or inf entries; its Jacobian is not defined")
        _, vjp_fn = vjp(f, x)
        self.f, self.x, self.out_shape = f, x, out.shape
        self._fwd = vmap(jvp_fn, in_dims=1, out_dims=-1)
        self._bwd = vmap(lambda u: vjp_fn(u.reshape(self.out_shape))[0], in_dims=1, out_dims=1)
        super().__init__((out.numel(), x.numel()), 0.0, x.dtype, x.device)

    def _matmat(self, v):
        # no_grad: the traced jvp graph of an nn.Module whose parameters require grad (nn.Linear on a 1-D x)
        # applies squeeze_ to a tensor autograd sees as a leaf; J v needs no autograd graph of the parameters
        with torch.no_grad():
            return self._fwd(v).reshape(self.shape[0], v.shape[1]).detach()

    def _rmatmat(self, u):
        return self._bwd(u).detach()

    def dense(self) -> torch.Tensor:
        return jacrev(self.f)(self.x).reshape(-1, self.x.numel()).detach()
