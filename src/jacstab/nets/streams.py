"""Seeded random streams: every random draw of jacstab comes from a generator derived here (no global RNG).

Streams are independent children of ``SeedSequence(seed)`` keyed by a small integer tuple (which matrix, which
purpose), so adding a draw to one stream never shifts another, and results do not depend on execution order.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from jacstab._checks import check_int

STREAM_IN, STREAM_HIDDEN, STREAM_OUT, STREAM_INPUT = 0, 1, 2, 3
STREAM_MASK, STREAM_ETA, STREAM_SHARED, STREAM_SNIP = 4, 5, 6, 7
STREAM_INDEPENDENT = 7  # with a depth as second key: the networks of depth_curve(independent=True)
STREAM_STATS = 9  # jacstab.stats: which gate entries and pairs are examined (keyed by the first seed)
STREAM_GATES = 8  # gates='bernoulli': D_k drawn from generator(child_seed(seed, STREAM_GATES), k), k = 0..L-1
STREAM_ABLATION = 10  # prune_ablation: (10, 1, k) shuffles mask k, (10, 2, k) re-draws the kept weights of W_k
STREAM_PRUNE_BATCH = 11  # prune_data=<dataset>: which training examples form the class-balanced scoring batch
STREAM_PARTIAL = 12  # partial_isometry_net: W_k from generator(seed, STREAM_PARTIAL, k), k = 1..L
DEFAULT_INPUT_SEED = 20250101
MAX_SEED = 2**63 - 1


def generator(seed: int, *key: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``SeedSequence(seed, spawn_key=key)`` (independent streams)."""
    seed = check_int("seed", seed, 0, MAX_SEED)
    state = np.random.SeedSequence(seed, spawn_key=tuple(key)).generate_state(2, dtype=np.uint32)
    g = torch.Generator(device="cpu")
    g.manual_seed(int(state[0]) << 32 | int(state[1]))
    return g


def child_seed(seed: int, *key: int) -> int:
    """A 32-bit seed derived from ``(seed, key)`` (e.g. the independent network drawn for one depth)."""
    return int(np.random.SeedSequence(seed, spawn_key=tuple(key)).generate_state(1, dtype=np.uint32)[0])


def bernoulli_gate(seed: int, k: int, n: int, p: float) -> torch.Tensor:
    """The fixed gate ``D_k`` of ``gates='bernoulli'`` as a boolean ``(n,)`` vector: iid Bernoulli(``p``) entries.

    Drawn from its own stream, ``generator(child_seed(seed, STREAM_GATES), k)``, so the weights of a seed do not
    depend on the gate model, and ``D_k`` does not depend on the depth, the weights or the input.
    """
    g = generator(child_seed(seed, STREAM_GATES), k)
    return torch.rand(n, generator=g, dtype=torch.float64) < p


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


def gaussian(rows: int, cols: int, sigma2: float, *, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """``rows x cols`` iid ``N(0, sigma2 / cols)`` (variance over fan-in)."""
    z = torch.randn(rows, cols, generator=generator, dtype=dtype)
    return z.mul_(math.sqrt(sigma2 / cols))


def default_input(in_dim: int, *, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """The fixed normalised input used when no data is given (README "Python API"; paper footnote 1).

    ``x = sqrt(d) z / ||z||`` for one fixed standard-normal draw ``z`` in ``R^d`` (seed ``DEFAULT_INPUT_SEED``),
    so that ``||x||^2 / d = 1`` exactly (unit variance per entry). It depends only on ``d``.
    """
    in_dim = check_int("in_dim", in_dim, 1)
    z = torch.randn(in_dim, generator=generator(DEFAULT_INPUT_SEED, STREAM_INPUT), dtype=torch.float64)
    x = z * (math.sqrt(in_dim) / torch.linalg.vector_norm(z))
    return x.to(dtype=dtype, device=device)
