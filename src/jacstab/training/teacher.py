"""Singular-value dynamics in the fixed-gates regime (Haas et al. 2026, paper 002, Section "decoupled dynamics").

With its gates frozen at initialisation (``D_k`` computed once at the input ``x``, or the fixed Bernoulli gates of
``NetSpec(gates='bernoulli')``) a piecewise-linear network is the linear map ``M = J = F_L ... F_1`` with
``F_k = W_k D_{k-1}`` (``I + alpha W_k D_{k-1}`` for residual blocks). :func:`teacher_dynamics` trains its hidden
matrices by full-batch gradient descent on regression to a rank-``r`` linear teacher ``T`` with white inputs
(``E[x x^T] = I``), whose loss is exactly the population loss

    ``L(W) = E_x (1/2) ||M x - T x||^2 = (1/2) ||M - T||_F^2``,

so no sampling noise enters. The frozen input gate ``D_0`` hides the inactive input units (``M = M D_0``), so the
reachable target is ``T_eff = T D_0``; its SVD ``sum_i s_i u_i v_i^T`` defines the modes that are tracked.

Decoupled prediction. Paper 002 argues that strong separation aligns the singular vectors of the partial products
(a shared singular basis), so that each mode ``i`` evolves as its own scalar chain, as in the balanced deep-linear
analyses of Saxe et al. (2014) and Arora et al. (2019), but without requiring balancing. The scalar chain of mode
``i`` has one gain per layer, ``w_{k,i}``, started at the measured gain of the mode's input direction through the
initial network (``h_0 = v_i``, ``h_k = F_k h_{k-1}``, ``w_{k,i}(0) = ||h_k|| / ||h_{k-1}||``) and updated by the
same gradient-descent step on ``(1/2) (s_i - prod_k w_{k,i})^2``:

    ``w_{k,i} <- w_{k,i} + lr (prod_{j != k} w_{j,i}) (s_i - prod_j w_{j,i})``.

Its prediction of the mode strength is ``prod_k w_{k,i}``; it assumes the mode is aligned from step 0, so the
time the network needs to align (the measured ``u_i^T M v_i`` starts near 0) shows up as a delay. With balanced
gains this is Arora et al.'s ``d sigma/dt = N sigma^(2 - 2/N) (s - sigma)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from jacstab._checks import check_int, check_real
from jacstab.nets.network import Network
from jacstab.nets.streams import generator, haar_orthogonal

STREAM_TEACHER = 20  # the teacher's singular vectors: generator(seed, STREAM_TEACHER)
MAX_RANK = 3  # modes tracked (the lab metric stores a fixed record layout)
TOP_K = 6  # singular values of M stored per record


@dataclass(frozen=True)
class TeacherRun:
    """The recorded dynamics of :func:`teacher_dynamics` (``m`` records, ``r`` teacher modes).

    Attributes:
        steps: ``(m,)`` gradient steps at which the records were taken (0 = initialisation).
        loss: ``(m,)`` ``(1/2) ||M - T_eff||_F^2``.
        top: ``(m, TOP_K)`` the largest singular values of ``M`` (descending).
        mode: ``(m, r)`` ``u_i^T M v_i``, the strength of teacher mode ``i`` in ``M``.
        align: ``(m, r)`` ``|<a_i, u_i>| |<b_i, v_i>|`` for the ``i``-th singular pair ``(a_i, b_i)`` of ``M``
            (1: the network's ``i``-th mode is the teacher's).
        predicted: ``(m, r)`` the decoupled scalar-chain prediction of the mode strength.
        strengths: ``(r,)`` the singular values ``s_i`` of ``T_eff``.
    """

    steps: np.ndarray
    loss: np.ndarray
    top: np.ndarray
    mode: np.ndarray
    align: np.ndarray
    predicted: np.ndarray
    strengths: np.ndarray

    def half_times(self) -> tuple[np.ndarray, np.ndarray]:
        """Steps at which each mode first reaches half its strength, measured and predicted (NaN: never)."""
        def first(curves):
            return np.array([half_time(self.steps, curves[:, i], s) for i, s in enumerate(self.strengths)])

        return first(self.mode), first(self.predicted)


def half_time(steps: np.ndarray, curve: np.ndarray, strength: float) -> float:
    """The first recorded step at which ``curve`` reaches ``strength / 2`` (NaN: never)."""
    hit = np.nonzero(np.asarray(curve) >= strength / 2)[0]
    return float(steps[hit[0]]) if hit.size else math.nan


def _dense_factor(layer, gate, weight: torch.Tensor) -> torch.Tensor:
    """The ``n x n`` Jacobian factor of ``layer`` with weight ``weight`` and the frozen input gate ``gate``."""
    lay = layer.with_weight(weight)
    n = weight.shape[1]
    cols = lay.support(gate)
    part = lay.factor(gate, None)
    if cols.full and part.shape[1] == n:
        return part
    out = torch.zeros(part.shape[0], n, dtype=part.dtype, device=part.device)
    return out.index_copy(1, cols.idx, part)


def teacher_matrix(width: int, strengths: Sequence[float], seed: int) -> torch.Tensor:
    """The teacher ``T = U diag(s) V^T`` (``width x width``, float64) of :func:`teacher_dynamics`: ``U`` and ``V``
    Haar on the Stiefel manifold (``width x r``), drawn from ``generator(seed, STREAM_TEACHER)``.

    Raises:
        ValueError: more than ``min(width, 3)`` or non-positive strengths.
    """
    rank = check_int("rank", len(strengths), 1, min(MAX_RANK, width))
    s = [check_real("strength", v, 0.0, math.inf, open_low=True) for v in strengths]
    g = generator(seed, STREAM_TEACHER)
    u = haar_orthogonal(width, rank, generator=g, dtype=torch.float64)
    v = haar_orthogonal(width, rank, generator=g, dtype=torch.float64)
    return (u * torch.tensor(s, dtype=torch.float64)) @ v.T


def teacher_dynamics(net: Network, x: torch.Tensor | None = None, *, rank: int = 3,
                     strengths: Sequence[float] | None = None, steps: int = 2000, lr: float = 0.005,
                     every: int = 20) -> TeacherRun:
    """Train ``net``'s hidden matrices with gates frozen at initialisation on a rank-``rank`` linear teacher and
    record the singular-value dynamics of the end-to-end map, beside the decoupled prediction (module docstring).

    Args:
        net: the network (its ``seed`` seeds the teacher's singular vectors, Haar on the Stiefel manifold).
        x: the input at which the gates ``D_k`` are frozen (``(in_dim,)``; default :func:`jacstab.default_input`);
            ignored by ``NetSpec(gates='bernoulli')`` networks, whose gates are fixed anyway.
        rank: the teacher's rank ``r`` (1..3).
        strengths: the teacher's singular values (``r`` positive numbers; default ``4, 2, 1`` truncated to ``r``).
        steps: gradient-descent steps; lr: the step size on ``(1/2) ||M - T||_F^2``; every: record period.

    Returns:
        :class:`TeacherRun` (float64 numpy arrays). The gradient descent runs in float64 on the CPU.

    Raises:
        ValueError: a bad argument, or a step that makes ``M`` non-finite (lower ``lr``).
    """
    rank = check_int("rank", rank, 1, MAX_RANK)
    steps = check_int("steps", steps, 1, 10**7)
    every = check_int("every", every, 1, steps)
    lr = check_real("lr", lr, 0.0, math.inf, open_low=True)
    s_given = [4.0, 2.0, 1.0][:rank] if strengths is None else list(strengths)
    if len(s_given) != rank:
        raise ValueError(f"strengths: need {rank} values (one per teacher mode), got {len(s_given)}")
    net = net.to(device="cpu", dtype=torch.float64)
    x = net.default_input() if x is None else x.to(torch.float64).reshape(-1)
    gates = net.gates(x)
    n = net.width
    d0 = torch.zeros(n, dtype=torch.float64)
    d0[gates[0].idx] = 1.0 if gates[0].val is None else gates[0].val
    t_eff = teacher_matrix(n, s_given, net.seed) * d0
    u_all, s_all, vh_all = torch.linalg.svd(t_eff)
    u, s, v = u_all[:, :rank], s_all[:rank], vh_all[:rank].T
    ws = [w.detach().clone().requires_grad_(True) for w in net.weights]

    def product(weights):
        m = torch.eye(n, dtype=torch.float64)
        for layer, gate, w in zip(net.layers, gates, weights):
            m = _dense_factor(layer, gate, w) @ m
        return m

    chain = _initial_gains(net, gates, v)
    rec: dict[str, list] = {k: [] for k in ("steps", "loss", "top", "mode", "align", "predicted")}
    for step in range(steps + 1):
        m = product(ws)
        loss = 0.5 * ((m - t_eff) ** 2).sum()
        if step % every == 0 or step == steps:
            if not bool(torch.isfinite(m).all()):
                raise ValueError(f"the end-to-end map became non-finite at step {step}: lower lr (now {lr:g})")
            _record(rec, step, float(loss.detach()), m.detach(), u, v, chain)
        if step == steps:
            break
        grads = torch.autograd.grad(loss, ws)
        with torch.no_grad():
            for w, g in zip(ws, grads):
                w.sub_(lr * g)
        chain.step(s.numpy(), lr)
    arr = {k: np.asarray(v_, dtype=float) for k, v_ in rec.items()}
    return TeacherRun(arr["steps"], arr["loss"], arr["top"], arr["mode"], arr["align"], arr["predicted"], s.numpy())


class _Chain:
    """The decoupled scalar chains: ``gains[i, k] = w_{k,i}``; one gradient step on each mode's own loss."""

    def __init__(self, gains: np.ndarray):
        self.gains = gains

    def strength(self) -> np.ndarray:
        return np.prod(self.gains, axis=1)

    def step(self, s: np.ndarray, lr: float) -> None:
        prod = self.strength()
        with np.errstate(divide="ignore", invalid="ignore"):
            others = np.where(self.gains != 0, prod[:, None] / self.gains, 0.0)
        zero = self.gains == 0  # a zero gain: the product of the others computed directly
        if zero.any():
            for i, k in zip(*np.nonzero(zero)):
                others[i, k] = np.prod(np.delete(self.gains[i], k))
        self.gains = self.gains + lr * others * (s - prod)[:, None]


def _initial_gains(net: Network, gates, v: torch.Tensor) -> _Chain:
    h = v.clone()  # (n, r): one column per mode
    gains = []
    with torch.no_grad():
        for layer, gate, w in zip(net.layers, gates, net.weights):
            nxt = _dense_factor(layer, gate, w) @ h
            num, den = torch.linalg.vector_norm(nxt, dim=0), torch.linalg.vector_norm(h, dim=0)
            gains.append(torch.where(den > 0, num / den, torch.zeros_like(num)))
            h = nxt
    return _Chain(torch.stack(gains, 1).numpy())


def _record(rec, step, loss, m, u, v, chain: _Chain) -> None:
    a, sv, bh = torch.linalg.svd(m)
    r = u.shape[1]
    rec["steps"].append(step)
    rec["loss"].append(loss)
    top = np.full(TOP_K, np.nan)
    top[: min(TOP_K, sv.numel())] = sv[:TOP_K].numpy()
    rec["top"].append(top)
    rec["mode"].append(torch.einsum("ni,nm,mi->i", u, m, v).numpy())
    rec["align"].append(((a[:, :r] * u).sum(0).abs() * (bh[:r].T * v).sum(0).abs()).numpy())
    rec["predicted"].append(chain.strength())
