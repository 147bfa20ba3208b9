"""Samplers: from a :class:`~jacstab.NetSpec` and a seed to the weights of a :class:`Network`.

Randomness is explicit and per matrix: the hidden matrix ``W_k`` is drawn from its own ``torch.Generator`` seeded
from ``(seed, "hidden", k)`` through :class:`numpy.random.SeedSequence`. Consequences users can rely on:

* the same spec and seed give identical tensors (on any device: weights are drawn on the CPU, then moved);
* the first ``d`` hidden matrices of a depth-``L`` network equal those of the depth-``d`` network (same seed);
* Gaussian networks that differ only in ``sigma2`` share their standard-normal draws (common random numbers),
  so comparisons across ``sigma2`` are not blurred by sampling noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from jacstab.activations import Activation, get_activation
from jacstab.specs import NetSpec, check_int

_STREAM_IN, _STREAM_HIDDEN, _STREAM_OUT, _STREAM_INPUT = 0, 1, 2, 3
DEFAULT_INPUT_SEED = 20250101
MAX_SEED = 2**63 - 1


def generator(seed: int, *key: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``SeedSequence(seed, spawn_key=key)`` (independent streams)."""
    check_int("seed", seed, 0, MAX_SEED)
    state = np.random.SeedSequence(seed, spawn_key=tuple(key)).generate_state(2, dtype=np.uint32)
    g = torch.Generator(device="cpu")
    g.manual_seed(int(state[0]) << 32 | int(state[1]))
    return g


def haar_orthogonal(rows: int, cols: int, *, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """A Haar-distributed matrix with orthonormal rows or columns (Mezzadri 2007, sign-corrected QR).

    ``G = Q R`` for a standard Gaussian ``G`` (``max x min``); ``Q diag(sign(diag R))`` is Haar on the Stiefel
    manifold. Returns ``rows x cols``.
    """
    big, small = max(rows, cols), min(rows, cols)
    g = torch.randn(big, small, generator=generator, dtype=dtype)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones((), dtype=dtype))
    return q if rows >= cols else q.T.contiguous()


def _gaussian(rows: int, cols: int, sigma2: float, *, generator: torch.Generator, dtype: torch.dtype):
    z = torch.randn(rows, cols, generator=generator, dtype=dtype)
    return z.mul_(math.sqrt(sigma2 / cols))


def default_input(in_dim: int, *, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """The fixed normalised input used when no data is given (DESIGN.md section 4; paper footnote 1).

    ``x = sqrt(d) z / ||z||`` for one fixed standard-normal draw ``z`` in ``R^d`` (seed ``DEFAULT_INPUT_SEED``),
    so that ``||x||^2 / d = 1`` exactly (unit variance per entry). It depends only on ``d``.
    """
    check_int("in_dim", in_dim, 1)
    z = torch.randn(in_dim, generator=generator(DEFAULT_INPUT_SEED, _STREAM_INPUT), dtype=torch.float64)
    x = z * (math.sqrt(in_dim) / torch.linalg.vector_norm(z))
    return x.to(dtype=dtype, device=device)


@dataclass
class Network:
    """A sampled MLP (paper eq. 1). ``weights[k-1]`` is ``W_k`` (``n x n``), ``k = 1..L``.

    Attributes:
        spec: the law it was drawn from; seed: the seed it was drawn with.
        weights: the L hidden matrices; w_in: ``n x d``; w_out: ``o x n``.
    """

    spec: NetSpec
    seed: int
    weights: list[torch.Tensor]
    w_in: torch.Tensor
    w_out: torch.Tensor
    activation: Activation = field(repr=False)

    @property
    def width(self) -> int:
        return self.spec.width

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def dtype(self) -> torch.dtype:
        return self.w_in.dtype

    @property
    def device(self) -> torch.device:
        return self.w_in.device

    def to(self, device=None, dtype: torch.dtype | None = None) -> Network:
        """A copy with every tensor moved to ``device`` / cast to ``dtype``."""
        mv = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
        return Network(
            self.spec,
            self.seed,
            [mv(w) for w in self.weights],
            mv(self.w_in),
            mv(self.w_out),
            self.activation,
        )

    def default_input(self) -> torch.Tensor:
        """:func:`default_input` for this network's input dimension, dtype and device."""
        return default_input(self.spec.input_dim, dtype=self.dtype, device=self.device)

    def hidden_map(self, y0: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """``Y_0 -> Y_depth``: the map whose Jacobian is ``J^(depth) = W_depth D_{depth-1} ... W_1 D_0``."""
        y = y0
        for w in self.weights[: self.depth if depth is None else depth]:
            y = w @ self.activation.phi(y)
        return y

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The full network ``x -> Y_out`` (plain forward pass; overflows at extreme depth like any MLP)."""
        return self.w_out @ self.activation.phi(self.hidden_map(self.w_in @ x))


def sample(spec: NetSpec, seed: int, dtype: torch.dtype = torch.float64, device=None) -> Network:
    """Draw a network from ``spec`` with integer ``seed >= 0``; same spec and seed give identical tensors.

    Hidden matrices: Gaussian ``W_ij ~ N(0, sigma2/n)`` or ``sqrt(sigma2) * Haar orthogonal``; ``W_in ~
    N(0, sigma2/d)``; ``W_out ~ N(0, sigma2/n)`` (DESIGN.md section 1). Weights are drawn on the CPU in ``dtype``
    and moved to ``device``.
    """
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec must be a NetSpec, got {type(spec).__name__}")
    check_int("seed", seed, 0, MAX_SEED)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    n, d = spec.width, spec.input_dim
    weights = []
    for k in range(1, spec.depth + 1):
        g = generator(seed, _STREAM_HIDDEN, k)
        if spec.init == "orthogonal":
            w = haar_orthogonal(n, n, generator=g, dtype=dtype).mul_(spec.gain)
        else:
            w = _gaussian(n, n, spec.sigma2, generator=g, dtype=dtype)
        weights.append(w.to(device))
    w_in = _gaussian(n, d, spec.sigma2, generator=generator(seed, _STREAM_IN), dtype=dtype).to(device)
    w_out = _gaussian(spec.out_dim, n, spec.sigma2, generator=generator(seed, _STREAM_OUT), dtype=dtype).to(device)
    return Network(spec, seed, weights, w_in, w_out, get_activation(spec.activation, spec.slope))
