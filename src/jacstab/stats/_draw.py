"""Batched draws for the Approximation 2.1 statistics: the gates and weights of ``N`` networks at one input.

The ``N`` networks are those of ``jacstab.sample(spec, seed)`` for the given seeds (the same seeded streams, tested),
but the forward pass is one batched recurrence ``Y_k = W_k relu(Y_{k-1})`` over a ``(N, n, n)`` stack of weights,
one layer at a time: ``l`` batched matrix products instead of ``N`` networks times ``l`` layers. Only the layers up
to ``l`` are drawn (``D_l`` and ``W_l`` do not depend on deeper ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from jacstab.nets.sampling import hidden_matrix, input_matrix
from jacstab.nets.streams import bernoulli_gate
from jacstab.specs import NetSpec

CHUNK_BYTES = 128 * 2**20  # weights of one batch of networks held at once (float64)


@dataclass(frozen=True)
class GateDraw:
    """Gates and weight statistics of ``N`` networks at layer ``l`` (one row per network).

    Attributes:
        layer: ``l`` (1-based: ``D_l = diag(phi'(Y_l))`` with ``Y_l = W_l phi(Y_{l-1})``).
        d_l: ``(N, n)`` bool, the open gates of ``D_l``; d_prev: ``(N, n)`` bool, those of ``D_{l-1}``.
        t_w: ``(N,)`` ``T_W``, the fraction of positive entries of ``W_l``.
        seeds: the ``N`` seeds.
    """

    layer: int
    d_l: np.ndarray
    d_prev: np.ndarray
    t_w: np.ndarray
    seeds: tuple[int, ...]

    def t_d(self, pairing: str) -> np.ndarray:
        """``T_D``: the fraction of open gates of ``D_l`` (``same``: the paper's pairing with ``W_l``) or of
        ``D_{l-1}`` (``factor``: the gate ``W_l`` multiplies in the Jacobian factor ``W_l D_{l-1}``)."""
        return (self.d_l if pairing == "same" else self.d_prev).mean(axis=1)


def _forward_chunk(spec: NetSpec, seeds: Sequence[int], layer: int, x: torch.Tensor):
    """``(D_{l-1}, D_l, T_W)`` of a chunk of networks by the batched, renormalised forward recurrence."""
    w_in = torch.stack([input_matrix(spec, s) for s in seeds])  # (N, n, d)
    y = torch.bmm(w_in, x.expand(len(seeds), -1).unsqueeze(2)).squeeze(2)  # (N, n)
    prev, w = None, None
    for k in range(1, layer + 1):
        y = y / torch.linalg.vector_norm(y, dim=1, keepdim=True).clamp_min(torch.finfo(y.dtype).tiny)
        prev = y > 0
        w = torch.stack([hidden_matrix(spec, s, k) for s in seeds])  # (N, n, n)
        y = torch.bmm(w, torch.relu(y).unsqueeze(2)).squeeze(2)
    return prev, y > 0, (w > 0).double().mean(dim=(1, 2))


def _fixed_chunk(spec: NetSpec, seeds: Sequence[int], layer: int):
    """The same for ``gates='bernoulli'``: the fixed gates of each seed, and ``T_W`` of ``W_l``."""
    n, p = spec.width, spec.gate_p
    prev = torch.stack([bernoulli_gate(s, layer - 1, n, p) for s in seeds])
    cur = torch.stack([bernoulli_gate(s, layer, n, p) for s in seeds])
    t_w = torch.stack([(hidden_matrix(spec, s, layer) > 0).double().mean() for s in seeds])
    return prev, cur, t_w


def draw_gates(spec: NetSpec, seeds: Sequence[int], layer: int, x: torch.Tensor) -> GateDraw:
    """``D_{l-1}``, ``D_l`` and ``T_W(W_l)`` of ``sample(spec, s)`` at input ``x`` for every seed ``s``.

    Forward gates: the batched recurrence of :meth:`jacstab.Network.gates` (renormalised at every layer, which
    leaves ReLU gates unchanged). ``gates='bernoulli'``: the network's fixed gates. Networks are processed in chunks
    whose weights take at most ``CHUNK_BYTES``.

    Args:
        spec: an unpruned ReLU spec (checked by the caller); seeds: the ``N`` seeds; layer: ``1 <= l <= L - 1``;
        x: the raw input, float64 of shape ``(in_dim,)``.
    """
    chunk = max(1, CHUNK_BYTES // (8 * spec.width * max(spec.width, spec.input_dim)))
    parts = []
    with torch.no_grad():
        for i in range(0, len(seeds), chunk):
            sub = list(seeds[i : i + chunk])
            parts.append(_fixed_chunk(spec, sub, layer) if spec.gates == "bernoulli" else
                         _forward_chunk(spec, sub, layer, x))  # fmt: skip
    prev, cur, t_w = (torch.cat([p[j] for p in parts]).numpy() for j in range(3))
    return GateDraw(layer, cur.astype(bool), prev.astype(bool), t_w, tuple(int(s) for s in seeds))
