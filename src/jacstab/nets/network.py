"""The frozen :class:`Network`: a spec, a seed, a sequence of layers, the input/output maps and a provenance."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch

from jacstab.nets.activations import Activation
from jacstab.nets.layers import Gate, Layer
from jacstab.nets.streams import default_input
from jacstab.specs import NetSpec


@dataclass(frozen=True, eq=False)
class Provenance:
    """Where a network's hidden weights came from.

    ``sampled``: drawn by :func:`jacstab.sample` from ``spec`` and ``seed`` (pruning and scaling included).
    ``masked``: ``parent``'s weights masked from outside (:func:`jacstab.pruning.apply_masks`), with ``scaling``
    and the ``density`` of each mask; the spec then describes the parent's law, not this network.
    ``modified``: ``parent``'s weights replaced by :meth:`Network.replace` (likewise not a draw from the spec).
    """

    kind: Literal["sampled", "masked", "modified"] = "sampled"
    parent: Network | None = None
    scaling: str | None = None
    density: tuple[float, ...] = ()

    def describe(self) -> str:
        """One line for reports and certificates."""
        if self.kind == "sampled":
            return "sampled from its spec"
        if self.kind == "modified":
            return "weights replaced after sampling (Network.replace)"
        dens = sum(self.density) / len(self.density) if self.density else float("nan")
        return f"masked from outside (mean density {dens:.4g}, scaling={self.scaling})"


SAMPLED = Provenance()


@dataclass(frozen=True, eq=False)
class Network:
    """A network of the paper's family (eq. 1): ``Y_0 = W_in x``, ``Y_k = layer_k(Y_{k-1})``,
    ``Y_out = W_out phi(Y_L)``.

    Immutable: change it with :meth:`replace`. ``net.weights[k-1]`` is ``W_k`` (``n x n``), ``k = 1..L``.

    Attributes:
        spec: the law it was drawn from; seed: the seed it was drawn with.
        layers: the ``L`` hidden layers (:class:`~jacstab.nets.layers.Dense` or ``ResidualBlock``).
        w_in: ``n x d``; w_out: ``o x n``.
        provenance: how the hidden weights came about (:class:`Provenance`).
    """

    spec: NetSpec
    seed: int
    layers: tuple[Layer, ...]
    w_in: torch.Tensor
    w_out: torch.Tensor
    provenance: Provenance = SAMPLED

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))

    @property
    def weights(self) -> list[torch.Tensor]:
        """The hidden matrices ``[W_1, ..., W_L]`` (a new list; the tensors are the network's own)."""
        return [layer.weight for layer in self.layers]

    @property
    def activation(self) -> Activation:
        return self.layers[0].activation

    @property
    def width(self) -> int:
        return self.spec.width

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def dtype(self) -> torch.dtype:
        return self.w_in.dtype

    @property
    def device(self) -> torch.device:
        return self.w_in.device

    def replace(self, **changes: Any) -> Network:
        """A copy with fields replaced; ``weights=[...]`` replaces the hidden matrices of the layers.

        New weights must have the shapes of the old ones and one floating dtype. Unless ``provenance`` is given,
        a network whose weights were replaced records ``modified`` (its parent: this network), so nothing later
        mistakes it for a draw from its spec (``depth_curve(independent=True)`` refuses it; ``certify`` measures
        its realised weights against the parent).

        Raises:
            ValueError: wrong number, shape or dtype of the new weights.
        """
        weights = changes.pop("weights", None)
        if weights is not None:
            self._check_weights(weights)
            changes["layers"] = tuple(layer.with_weight(w) for layer, w in zip(self.layers, weights))
            changes.setdefault("provenance", Provenance("modified", self))
        return dataclasses.replace(self, **changes)

    def _check_weights(self, weights) -> None:
        if len(weights) != len(self.layers):
            raise ValueError(f"need {len(self.layers)} hidden matrices, got {len(weights)}")
        dtypes = set()
        for k, (w, old) in enumerate(zip(weights, self.weights), 1):
            if not isinstance(w, torch.Tensor) or w.shape != old.shape or not w.is_floating_point():
                got = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
                want = tuple(old.shape)
                raise ValueError(f"hidden matrix W_{k} must be a floating tensor of shape {want}, got {got}")
            dtypes.add(w.dtype)
        if len(dtypes) > 1:
            raise ValueError(f"the hidden matrices must share one dtype, got {sorted(map(str, dtypes))}")

    def to(self, device=None, dtype: torch.dtype | None = None) -> Network:
        """A copy with every tensor moved to ``device`` / cast to ``dtype`` (provenance kept)."""
        mv = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
        weights = [mv(w) for w in self.weights]
        return self.replace(weights=weights, w_in=mv(self.w_in), w_out=mv(self.w_out), provenance=self.provenance)

    def default_input(self) -> torch.Tensor:
        """:func:`~jacstab.default_input` for this network's input dimension, dtype and device."""
        return default_input(self.spec.input_dim, dtype=self.dtype, device=self.device)

    def states(self, y0: torch.Tensor, depth: int | None = None, *, normalise: bool = False) -> Iterator[torch.Tensor]:
        """Yield ``Y_0, Y_1, ..., Y_depth`` (shape ``(n,)`` or ``(batch, n)``): the one forward recurrence.

        ``normalise``: rescale each ``Y_k`` to unit largest entry per sample before the next layer. For positively
        homogeneous activations this leaves every gate ``D_k`` unchanged and keeps ``Y_k`` in the float range at
        any depth (``||Y_k|| ~ (sigma2/2)^(k/2)`` for ReLU); for others it changes the map (do not use it then).
        """
        depth = self.depth if depth is None else depth
        y = y0
        for k in range(depth + 1):
            if normalise:
                s = y.abs().amax(dim=-1, keepdim=True)  # exact and overflow-free (a norm overflows past ~1e154)
                y = y / torch.where(s > 0, s, torch.ones_like(s))
            yield y
            if k < depth:
                y = self.layers[k].forward(y)

    def hidden_map(self, y0: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """``Y_0 -> Y_depth``: the map whose Jacobian is ``J^(depth) = W_depth D_{depth-1} ... W_1 D_0``."""
        *_, y = self.states(y0, depth)
        return y

    def check_finite(self) -> None:
        """Raise ``ValueError`` naming the first matrix with a nan or inf entry (a NaN would otherwise turn norms
        into 0 or -inf silently). Cost: one reading pass over the weights (a sum per matrix: a nan or inf entry makes
        it non-finite) and one host read; only a matrix whose sum is not finite is checked entry by entry (a sum of
        huge finite entries can overflow, which is not an error)."""
        named = [(f"hidden matrix W_{k} (net.weights[{k - 1}])", w) for k, w in enumerate(self.weights, 1)]
        mats = [("net.w_in", self.w_in), *named, ("net.w_out", self.w_out)]
        sums = torch.stack([w.sum(dtype=torch.float64).to(self.w_in.device) for _, w in mats])
        if bool(torch.isfinite(sums).all()):
            return
        for name, w in mats:
            if not bool(torch.isfinite(w).all()):
                bad = int((~torch.isfinite(w)).sum())
                raise ValueError(f"{name} has {bad} nan or inf entries; jacstab measures finite networks only")

    def supports(self, gates: list[Gate]) -> list[Gate]:
        """For each gate ``D_{k-1}`` (k = 1..len(gates)), the input units where layer ``k``'s factor has non-zero
        columns: ``D_{k-1}``'s support for a plain layer ``W D`` (the engine keeps only those columns of ``J`` and
        only those rows of the product before it), every unit for a residual block ``I + alpha W D``."""
        return [self.layers[k].support(g) for k, g in enumerate(gates)]

    def gates(self, x: torch.Tensor, depth: int | None = None) -> list[Gate]:
        """``[D_0, ..., D_{depth-1}]`` at one raw input ``x`` (shape ``(in_dim,)``), from the renormalised forward
        pass where the activation allows it (exact at any depth), else the plain one. Equal to
        ``[layer.gate(Y_k)]``; built from one stack of derivatives (:meth:`Gate.stack`) unless the gates carry
        permutations (``groupsort``)."""
        depth = self.depth if depth is None else depth
        ys = self.states(self.input_map(x), depth - 1, normalise=self.activation.homogeneous)
        if depth < 1 or any(layer.activation.mix is not None for layer in self.layers[:depth]):
            return [self.layers[k].gate(y) for k, y in enumerate(ys)]  # groupsort: a permutation per gate
        # one stack of derivatives, two host reads in all (not a few per layer: the GPU contract)
        return Gate.stack(torch.stack([self.layers[k].derivative(y) for k, y in enumerate(ys)]))

    def input_map(self, x: torch.Tensor) -> torch.Tensor:
        """``Y_0 = W_in x`` for ``x`` of shape ``(d,)`` or ``(batch, d)``."""
        return x @ self.w_in.T

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The full network ``x -> Y_out`` for ``x`` of shape ``(d,)`` or ``(batch, d)`` (plain forward pass;
        overflows at extreme depth like any MLP)."""
        return self.activation.phi(self.hidden_map(self.input_map(x))) @ self.w_out.T
