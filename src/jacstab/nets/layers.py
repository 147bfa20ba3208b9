"""Layers: each owns its forward map, its gate derivative and the action of its Jacobian factor.

The paper's MLP layer (eq. 1-2) is :class:`Dense`: ``Y_k = W_k phi(Y_{k-1})``, whose Jacobian factor is
``W_k D_{k-1}`` with ``D_{k-1} = diag(phi'(Y_{k-1}))``. Every other part of jacstab (the batched forward pass,
masks, SNIP, the engine's products, Lanczos and the Lyapunov QR chain) goes through these methods, so a new
layer kind is one new class here. :class:`ResidualBlock` (paper 004) is ``Y_k = Y_{k-1} + alpha W phi(Y_{k-1})``
with factor ``I + alpha W D_{k-1}``. :class:`ReflectionBlock` (paper 003) is ``Y_k = Y_{k-1} - 2 W^T relu(W Y_{k-1})``
with factor ``I - 2 W^T D W``. For ``groupsort`` the "gate" is a permutation (``Gate.perm``), not a diagonal.

A layer's ``support(gate)`` is the set of input units on which its factor's columns can be non-zero: ``D``'s
support for :class:`Dense` (so the engine keeps only active columns), every unit for a residual block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from jacstab.nets.activations import Activation


@dataclass(frozen=True)
class Gate:
    """``D`` in sparse form: indices ``idx`` of its non-zero diagonal entries and their values ``val``.

    ``val`` is ``None`` when every kept entry equals 1 (ReLU, linear), so products skip the scaling.
    ``full`` is True when ``idx`` is all of ``0..n-1`` (no restriction needed).
    ``perm`` (``groupsort`` only, else None): ``phi'(y)`` is the permutation ``P`` with ``M P = M[:, perm]``
    (:attr:`~jacstab.nets.activations.Activation.mix`); the gate is then full.
    """

    idx: torch.Tensor
    val: torch.Tensor | None
    full: bool
    perm: torch.Tensor | None = None

    @property
    def size(self) -> int:
        """Number of active units (non-zero diagonal entries of ``D``)."""
        return int(self.idx.numel())

    @classmethod
    def everything(cls, n: int, device=None) -> Gate:
        """The identity gate on ``n`` units (every unit active, value 1)."""
        return cls(torch.arange(n, device=device), None, True)

    @classmethod
    def from_derivative(cls, dphi: torch.Tensor) -> Gate:
        """The gate of a vector of derivatives ``phi'(y)`` (shape ``(n,)``)."""
        nz = dphi != 0
        full = bool(nz.all())
        idx = torch.arange(dphi.numel(), device=dphi.device) if full else torch.nonzero(nz).flatten()
        val = dphi[idx]
        return cls(idx, None if bool((val == 1).all()) else val, full)

    @classmethod
    def stack(cls, dphis: torch.Tensor) -> list[Gate]:
        """The gates of a stack of derivative vectors (``(depth, n)``), equal to ``[from_derivative(r) for r in
        dphis]`` but with two host reads in all instead of three per row (the GPU contract of depth curves)."""
        nz = dphis != 0
        meta = torch.stack((nz.sum(1), nz.all(1), ((dphis == 1) | ~nz).all(1))).cpu()  # host read 1
        pos = torch.nonzero(nz)  # host read 2: (row, unit) pairs, row-major
        counts = meta[0].tolist()
        idx, val = pos[:, 1].split(counts), dphis[nz].split(counts)
        return [cls(i, None if ones else v, full) for i, v, full, ones in zip(idx, val, *meta[1:].bool().tolist())]

    @classmethod
    def of(cls, activation: Activation, y: torch.Tensor) -> Gate:
        """The Jacobian of ``activation`` at one input ``y`` (shape ``(n,)``): ``diag(phi'(y))``, times the
        permutation of a mixing activation (``groupsort``)."""
        g = cls.from_derivative(activation.dphi(y))
        return g if activation.mix is None else cls(g.idx, g.val, g.full, activation.mix(y))


@dataclass(frozen=True, eq=False)
class Dense:
    """``Y_k = W phi(Y_{k-1})`` with an ``n x n`` weight ``W`` (no bias): the paper's hidden layer (eq. 1).

    Jacobian factor: ``dY_k/dY_{k-1} = W D_{k-1}``. Columns outside the support of ``D_{k-1}`` are zero, so the
    engine keeps only active columns (:meth:`support`); a residual block ``I + alpha W D`` cannot.
    """

    weight: torch.Tensor
    activation: Activation

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``W phi(y)`` for ``y`` of shape ``(n,)`` or ``(batch, n)`` (rows are samples)."""
        return self.activation.phi(y) @ self.weight.T

    def gate(self, y: torch.Tensor) -> Gate:
        """``D = diag(phi'(y))`` for one input ``y`` of shape ``(n,)`` (PyTorch's derivative at kinks); for
        ``groupsort`` the pair permutation ``P`` (``D = P``: ``W P`` is orthogonal when ``W`` is)."""
        return Gate.of(self.activation, y)

    def derivative(self, y: torch.Tensor) -> torch.Tensor:
        """The diagonal of ``D`` at ``y`` (shape ``(n,)``): ``phi'(y)`` (without ``groupsort``'s permutation)."""
        return self.activation.dphi(y)

    def support(self, gate: Gate) -> Gate:
        """The input units where the factor's columns may be non-zero: the support of ``D_{k-1}`` itself."""
        return gate

    def factor(self, cols: Gate, rows: Gate | None) -> torch.Tensor:
        """``W[rows, cols] diag(s_cols)``: the factor on active units (all rows when ``rows`` is None or full).

        ``cols`` is the gate of this layer's input (``D_{k-1}``), ``rows`` the gate of the next layer's input
        (``D_k``), whose inactive rows the next factor discards anyway. Full gates are not indexed (no copy).
        """
        w = self.weight
        if rows is not None and not rows.full and cols.full:
            w = w.index_select(0, rows.idx)
        elif not cols.full:
            if rows is not None and not rows.full:
                w = w.index_select(0, rows.idx)  # whole rows: a memcpy each
            # a column gather with an expanded (never materialised) index: 1.5-2.4x faster than one flat torch.take
            # (itself ~3x faster than advanced indexing) on cache-cold weights, n = 256-1024, CPU, either dtype
            w = torch.gather(w, 1, cols.idx.expand(w.shape[0], -1))
        if cols.perm is not None:  # groupsort: W P = W[:, perm] (the gate is full)
            w = w.index_select(1, cols.perm)
        return w if cols.val is None else w * cols.val

    def with_weight(self, weight: torch.Tensor) -> Dense:
        """The same layer with another weight (e.g. masked, cast or moved)."""
        return Dense(weight, self.activation)


@dataclass(frozen=True, eq=False)
class GatedDense(Dense):
    """``Y_k = W D_{k-1} Y_{k-1}`` with a fixed 0/1 gate ``D_{k-1}`` (``open``, boolean ``(n,)``): the fixed-gates
    model of Approximation 2.1 (Dadoun et al. 2025; Haas et al.), ``NetSpec(gates='bernoulli')``.

    The layer is linear: its Jacobian factor is ``W D_{k-1}`` exactly as for :class:`Dense` (so every engine path,
    analytic or ``torch.func``, computes the masked product), but ``D_{k-1}`` ignores the input.
    """

    open: torch.Tensor | None = None

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``W D y`` for ``y`` of shape ``(n,)`` or ``(batch, n)``."""
        return (y * self.open.to(y.dtype)) @ self.weight.T

    def gate(self, y: torch.Tensor) -> Gate:
        """The fixed gate (``y`` is ignored)."""
        return Gate.from_derivative(self.derivative(y))

    def derivative(self, y: torch.Tensor) -> torch.Tensor:
        """The diagonal of the fixed gate, 0/1 (``y`` is ignored)."""
        return self.open.to(self.weight.dtype)

    def with_weight(self, weight: torch.Tensor) -> GatedDense:
        """The same layer and gate with another weight (the gate follows the weight's device)."""
        return GatedDense(weight, self.activation, self.open.to(weight.device))



@dataclass(frozen=True, eq=False)
class ResidualBlock:
    """``Y_k = Y_{k-1} + alpha W phi(Y_{k-1})`` (Borkar 2026, paper 004; ``alpha > 0``, ``W`` is ``n x n``).

    Jacobian factor: ``dY_k/dY_{k-1} = I + alpha W D_{k-1}``, non-zero on every input unit (:meth:`support` is
    everything), so the engine's products carry all ``n`` columns. For a positively homogeneous ``phi`` the block
    is positively homogeneous too, so the renormalised forward pass keeps every gate exact at any depth.
    """

    weight: torch.Tensor
    activation: Activation
    alpha: float

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``y + alpha W phi(y)`` for ``y`` of shape ``(n,)`` or ``(batch, n)`` (rows are samples)."""
        return y + self.alpha * (self.activation.phi(y) @ self.weight.T)

    def gate(self, y: torch.Tensor) -> Gate:
        """``D = diag(phi'(y))`` for one input ``y`` of shape ``(n,)`` (a permutation for ``groupsort``)."""
        return Gate.of(self.activation, y)

    def derivative(self, y: torch.Tensor) -> torch.Tensor:
        """The diagonal of ``D`` at ``y``: ``phi'(y)`` (without ``groupsort``'s permutation)."""
        return self.activation.dphi(y)

    def support(self, gate: Gate) -> Gate:
        """Every input unit (the identity term)."""
        return Gate.everything(self.weight.shape[1], self.weight.device)

    def factor(self, cols: Gate, rows: Gate | None) -> torch.Tensor:
        """``(I + alpha W diag(d))[rows, :]`` with ``d`` the values of the gate ``cols`` (``D_{k-1}``) on its support
        and 0 elsewhere: ``len(rows) x n`` (all ``n`` rows when ``rows`` is None or full)."""
        n = self.weight.shape[1]
        part = Dense(self.weight, self.activation).factor(cols, rows)  # W[rows, a] diag(s_a)
        r = part.shape[0]
        out = torch.zeros(r, n, dtype=part.dtype, device=part.device)
        out[:, cols.idx] = self.alpha * part
        ri = torch.arange(r, device=part.device)
        ci = ri if rows is None or rows.full else rows.idx
        out[ri, ci] += 1.0
        return out

    def with_weight(self, weight: torch.Tensor) -> ResidualBlock:
        """The same block with another weight (e.g. masked, cast or moved)."""
        return ResidualBlock(weight, self.activation, self.alpha)


@dataclass(frozen=True, eq=False)
class ReflectionBlock:
    """``Y_k = Y_{k-1} - 2 W^T relu(W Y_{k-1})``: the residual reflection block of Massucco, Murari, Schoenlieb
    (paper 003), ``W`` is ``n x n``.

    Jacobian factor: ``dY_k/dY_{k-1} = I - 2 W^T D W`` with ``D = diag(relu'(W Y_{k-1}))`` (the gate of this block
    is taken at ``W Y_{k-1}``, not at ``Y_{k-1}``). Why it is orthogonal when ``W`` is: ``D`` has entries in
    ``{0, 1}``, so ``D^2 = D``; with ``W^T W = I``, ``P = W^T D W`` satisfies ``P^T = P`` and ``P^2 = W^T D W W^T D W
    = W^T D^2 W = P``: an orthogonal projection, and ``(I - 2P)^T (I - 2P) = I - 4P + 4P^2 = I`` (a reflection
    through the complement of ``range(P)``). With ``W = g O`` (``sigma2 = g^2 != 1``) the factor is ``I - 2 g^2 P``,
    with singular values ``1`` and ``|1 - 2 g^2|``. Positively homogeneous, so renormalised forward passes are exact.
    """

    weight: torch.Tensor
    activation: Activation

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``y - 2 W^T relu(W y)`` for ``y`` of shape ``(n,)`` or ``(batch, n)`` (rows are samples)."""
        return y - 2.0 * (self.activation.phi(y @ self.weight.T) @ self.weight)

    def gate(self, y: torch.Tensor) -> Gate:
        """``D = diag(relu'(W y))`` for one input ``y`` of shape ``(n,)``."""
        return Gate.of(self.activation, self.weight @ y)

    def derivative(self, y: torch.Tensor) -> torch.Tensor:
        """The diagonal of ``D``: ``relu'(W y)``."""
        return self.activation.dphi(self.weight @ y)

    def support(self, gate: Gate) -> Gate:
        """Every input unit (the identity term)."""
        return Gate.everything(self.weight.shape[1], self.weight.device)

    def factor(self, cols: Gate, rows: Gate | None) -> torch.Tensor:
        """``(I - 2 W^T D W)[rows, :]`` with ``D`` the gate ``cols`` (``len(rows) x n``; all rows when ``rows`` is
        None or full): ``-2 W[a, rows]^T W[a, :]`` plus the identity, ``a`` the active units of ``D``."""
        w, n = self.weight, self.weight.shape[1]
        b = w if cols.full else w.index_select(0, cols.idx)  # W[a, :]
        b_left = b * cols.val[:, None] if cols.val is not None else b
        r = torch.arange(n, device=w.device) if rows is None or rows.full else rows.idx
        out = -2.0 * (b_left.index_select(1, r).T @ b)
        out[torch.arange(r.numel(), device=w.device), r] += 1.0
        return out

    def with_weight(self, weight: torch.Tensor) -> ReflectionBlock:
        """The same block with another weight (e.g. masked, cast or moved)."""
        return ReflectionBlock(weight, self.activation)


@runtime_checkable
class Layer(Protocol):
    """What every hidden layer provides (:class:`Dense`, :class:`GatedDense`, :class:`ResidualBlock`,
    :class:`ReflectionBlock`)."""

    weight: torch.Tensor
    activation: Activation

    def forward(self, y: torch.Tensor) -> torch.Tensor: ...

    def gate(self, y: torch.Tensor) -> Gate: ...

    def derivative(self, y: torch.Tensor) -> torch.Tensor: ...

    def support(self, gate: Gate) -> Gate: ...

    def factor(self, cols: Gate, rows: Gate | None) -> torch.Tensor: ...

    def with_weight(self, weight: torch.Tensor) -> Layer: ...
