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
from jacstab.correlation import structured_normal
from jacstab.pruning import apply_scaling, random_masks, snip_scores, top_masks
from jacstab.specs import NetSpec, check_int

_STREAM_IN, _STREAM_HIDDEN, _STREAM_OUT, _STREAM_INPUT = 0, 1, 2, 3
_STREAM_MASK, _STREAM_ETA, _STREAM_SHARED, _STREAM_SNIP = 4, 5, 6, 7
SNIP_BATCH = 64
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


def _hidden(spec: NetSpec, seed: int, k: int, dtype: torch.dtype) -> torch.Tensor:
    """``W_k`` before pruning: Gaussian (iid or correlated, plus the paper's eta term) or scaled Haar."""
    n, g = spec.width, generator(seed, _STREAM_HIDDEN, k)
    if spec.init == "orthogonal":
        return haar_orthogonal(n, n, generator=g, dtype=dtype).mul_(spec.gain)
    z = torch.randn(n, n, generator=g, dtype=dtype)
    if spec.correlation != "none":
        shared = torch.randn(n, generator=generator(seed, _STREAM_SHARED, k), dtype=dtype)
        z = structured_normal(z, spec.correlation, spec.rho, shared)
    if spec.eta > 0:
        z = z + spec.eta * torch.randn((), generator=generator(seed, _STREAM_ETA, k), dtype=dtype)
    return z.mul_(math.sqrt(spec.sigma2 / n))


def _snip_batch(spec: NetSpec, seed: int, dtype: torch.dtype, data):
    if data is not None:
        x, y = data
        if x.dim() != 2 or x.shape[1] != spec.input_dim or y.shape != (x.shape[0],) or x.shape[0] == 0:
            raise ValueError(
                f"data must be (x, y) with x of shape (batch, {spec.input_dim}) and y of shape "
                f"(batch,), got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        if int(y.min()) < 0 or int(y.max()) >= spec.out_dim:
            raise ValueError(f"labels y must be integers in [0, {spec.out_dim}) (out_dim)")
        return x.to(dtype), y.long()
    g = generator(seed, _STREAM_SNIP)
    x = torch.randn(SNIP_BATCH, spec.input_dim, generator=g, dtype=dtype)
    x = x * (math.sqrt(spec.input_dim) / torch.linalg.vector_norm(x, dim=1, keepdim=True))
    return x, torch.randint(spec.out_dim, (SNIP_BATCH,), generator=g)


def _prune(spec: NetSpec, seed: int, weights, w_in, w_out, act, data):
    """Masks and scaling of the hidden matrices (paper Section 4); returns the pruned, scaled matrices."""
    n, L = spec.width, len(weights)
    density = 1.0 - spec.sparsity
    keep = spec.keep if spec.keep is not None else max(1, round(density * n * n))
    if spec.prune == "random":
        gens = [generator(seed, _STREAM_MASK, k) for k in range(1, L + 1)]
        masks = random_masks([(n, n)] * L, density, gens)
    elif spec.prune == "magnitude-threshold":
        masks = [w.abs() > spec.threshold for w in weights]
    else:
        scores = (
            [w.abs() for w in weights]
            if spec.prune == "magnitude"
            else snip_scores(weights, w_in, w_out, act.phi, *_snip_batch(spec, seed, weights[0].dtype, data))
        )
        masks = top_masks(scores, keep * L if spec.prune_scope == "global" else [keep] * L, spec.prune_scope)
    for k, m in enumerate(masks, 1):
        if not bool(m.any()):
            raise ValueError(
                f"pruning keeps no weight of hidden matrix {k} (prune={spec.prune}); lower the "
                "threshold or the sparsity"
            )
    pruned, _ = apply_scaling(
        weights,
        masks,
        spec.scaling,
        method=spec.prune,
        n=n,
        sigma2=spec.sigma2,
        sparsity=spec.sparsity,
        threshold=spec.threshold,
        keep=spec.keep,
    )
    return pruned


def sample(spec: NetSpec, seed: int, dtype: torch.dtype = torch.float64, device=None, *, data=None) -> Network:
    """Draw a network from ``spec`` with integer ``seed >= 0``; same spec and seed give identical tensors.

    Hidden matrices: Gaussian ``W_ij ~ N(0, sigma2/n)`` (optionally correlated: ``eta``, ``correlation``) or
    ``sqrt(sigma2) * Haar orthogonal``, then pruned and scaled per ``spec.prune`` / ``spec.scaling``
    (``net.weights`` carry masks and scaling). ``W_in ~ N(0, sigma2/d)``; ``W_out ~ N(0, sigma2/n)``
    (DESIGN.md section 1). Weights are drawn on the CPU in ``dtype`` and moved to ``device``.

    Pruning draws come from their own streams, so a pruned network and its unpruned parent share ``W`` exactly
    (and unscaled vs scaled random pruning differ by exactly ``(1-s)^{-1/2}`` per layer).

    Args:
        data: ``(x, y)`` batch for ``prune='snip'`` (``x``: ``batch x in_dim``, ``y``: labels); default: a fixed
            synthetic batch of 64 normalised Gaussian inputs with random labels (seeded from ``seed``).
    """
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec must be a NetSpec, got {type(spec).__name__}")
    check_int("seed", seed, 0, MAX_SEED)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    n, d = spec.width, spec.input_dim
    weights = [_hidden(spec, seed, k, dtype) for k in range(1, spec.depth + 1)]
    w_in = _gaussian(n, d, spec.sigma2, generator=generator(seed, _STREAM_IN), dtype=dtype)
    w_out = _gaussian(spec.out_dim, n, spec.sigma2, generator=generator(seed, _STREAM_OUT), dtype=dtype)
    act = get_activation(spec.activation, spec.slope)
    if spec.prune != "none":
        weights = _prune(spec, seed, weights, w_in, w_out, act, data)
    mv = lambda t: t.to(device)  # noqa: E731
    return Network(spec, seed, [mv(w) for w in weights], mv(w_in), mv(w_out), act)
