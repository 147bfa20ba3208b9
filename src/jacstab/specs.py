"""Frozen, validated specifications of the networks jacstab builds.

A :class:`NetSpec` fully describes the *law* of a random network (paper eq. 1); together with an integer seed it
determines the weights exactly (see :func:`jacstab.sample`). Specs are plain data: they serialise to canonical
JSON and hash to a short, stable identifier that the lab uses to name trials.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from jacstab._checks import (
    ACTIVATIONS,
    BLOCKS,
    CORRELATIONS,
    GATE_MODELS,
    INITS,
    PRUNES,
    SCALINGS,
    SCOPES,
    Activation,
    Block,
    Correlation,
    GateModel,
    Init,
    Prune,
    Scaling,
    Scope,
    check_choice,
    check_int,
    check_real,
    closest,
)

__all__ = ["ACTIVATIONS", "CORRELATIONS", "GATE_MODELS", "INITS", "PRUNES", "SCALINGS", "SCOPES", "CorrelationModel",
           "NetSpec", "Pruning", "check_choice", "check_int", "check_real", "closest"]


LAW_SCALINGS = ("exact", "paper-magnitude")  # factors computed from the Gaussian weight law


def _unknown_law(scaling: str) -> ValueError:
    return ValueError(
        f"scaling={scaling!r} needs a known weight law (gaussian init, random or magnitude pruning); "
        "use scaling='empirical'"
    )


@dataclass(frozen=True)
class Pruning:
    """The pruning group of a :class:`NetSpec` (paper Section 4): one frozen, validated value passed whole.

    Args:
        method: ``none`` | ``random`` (Bernoulli(1-s), Theorem 4.1) | ``magnitude`` (top ``(1-s) n^2`` or top
            ``keep`` by ``|w|``, Theorem 4.3) | ``magnitude-threshold`` (``|w| > threshold``, Theorem 4.2) |
            ``snip`` (top ``|w dL/dw|`` on a batch).
        sparsity: ``s`` in ``[0, 1)``, the fraction removed (not with ``magnitude-threshold``).
        threshold: ``t > 0`` for ``magnitude-threshold`` (weight units).
        keep: ``r``, entries kept per matrix by ``magnitude`` instead of ``sparsity`` (checked against ``n^2`` by
            the spec).
        scope: ``layer`` or ``global`` ranking.
        scaling: ``none`` | ``random`` | ``paper-magnitude`` | ``exact`` | ``empirical`` (see
            :mod:`jacstab.theory.scaling`).

    Raises:
        ValueError: naming the field, the value and what is allowed.
    """

    method: Prune = "none"
    sparsity: float = 0.0
    threshold: float | None = None
    keep: int | None = None
    scope: Scope = "layer"
    scaling: Scaling = "none"

    def __post_init__(self) -> None:
        check_choice("prune", self.method, PRUNES)
        check_choice("scaling", self.scaling, SCALINGS)
        check_choice("prune_scope", self.scope, SCOPES)
        check_real("sparsity", self.sparsity, 0.0, 1.0)
        if self.sparsity >= 1.0:
            raise ValueError(f"sparsity must be in [0, 1) (1 removes every weight), got {self.sparsity!r}")
        if self.method == "none":
            if self.sparsity or self.threshold is not None or self.keep is not None or self.scaling != "none":
                raise ValueError("sparsity, threshold, keep and scaling need a pruning method (prune=...)")
            return
        self._check_method_fields()
        if self.scaling == "paper-magnitude" and not self.method.startswith("magnitude"):
            raise ValueError(f"scaling='paper-magnitude' applies to magnitude pruning, not prune={self.method!r}")
        if self.scaling in LAW_SCALINGS and self.method == "snip":
            raise _unknown_law(self.scaling)

    def _check_method_fields(self) -> None:
        if self.method == "magnitude-threshold":
            if self.threshold is None:
                raise ValueError("prune='magnitude-threshold' needs threshold > 0")
            check_real("threshold", self.threshold, 0.0, 1e6, open_low=True)
            if self.sparsity or self.keep is not None:
                raise ValueError("magnitude-threshold takes threshold only (its sparsity follows from it)")
        elif self.threshold is not None:
            raise ValueError(f"threshold applies to prune='magnitude-threshold' only, not {self.method!r}")
        if self.keep is not None:
            if self.method != "magnitude":
                raise ValueError("keep (top-r entries) applies to prune='magnitude' only")
            check_int("keep", self.keep, 1)
            if self.sparsity:
                raise ValueError("give either sparsity or keep, not both")

    @property
    def active(self) -> bool:
        """True when the hidden matrices are pruned."""
        return self.method != "none"

    def flat(self) -> dict[str, Any]:
        """The user-facing flat keywords (``prune``, ``sparsity``, ... ``scaling``) of this group."""
        return {"prune": self.method, "sparsity": self.sparsity, "threshold": self.threshold, "keep": self.keep,
                "prune_scope": self.scope, "scaling": self.scaling}


@dataclass(frozen=True)
class CorrelationModel:
    """The correlated-weights group of a :class:`NetSpec` (paper Section 5 and structured alternatives).

    Args:
        eta: the paper's ``W = W_ind + eta w`` (one shared ``w`` per layer; ``corr = eta^2/(1+eta^2)``), ``>= 0``.
        kind: ``none`` | ``row`` | ``col`` | ``ar1`` (see :mod:`jacstab.correlation`).
        rho: the target correlation of ``kind``, in ``[0, 1)``.
    """

    eta: float = 0.0
    kind: Correlation = "none"
    rho: float = 0.0

    def __post_init__(self) -> None:
        check_real("eta", self.eta, 0.0, 1e3)
        check_choice("correlation", self.kind, CORRELATIONS)
        check_real("rho", self.rho, 0.0, 0.999999)
        if self.kind == "none" and self.rho != 0.0:
            raise ValueError(f"rho={self.rho} needs a correlation kind (row, col or ar1)")

    @property
    def active(self) -> bool:
        """True when the weights are correlated."""
        return self.kind != "none" or self.eta > 0

    @property
    def pair_correlation(self) -> float:
        """The correlation the model targets: ``eta^2/(1+eta^2)`` for the paper's model, else ``rho``."""
        return self.eta**2 / (1 + self.eta**2) if self.eta > 0 else self.rho

    @property
    def variance_factor(self) -> float:
        """Entry variance relative to ``sigma2/n``: ``1 + eta^2`` (row/col/ar1 keep the variance)."""
        return 1.0 + self.eta**2


# Fields of the first published spec (jacstab 0.1): always in the canonical form, so their hashes never change.
# Fields added later appear in the canonical form only when they differ from their default.
_V1_FIELDS = ("width", "depth", "activation", "sigma2", "init", "in_dim", "out_dim", "slope", "prune", "sparsity",
              "threshold", "keep", "prune_scope", "scaling", "eta", "correlation", "rho")
_FLOAT_FIELDS = ("sigma2", "slope", "sparsity", "eta", "rho", "threshold", "gate_p", "residual")


@dataclass(frozen=True)
class NetSpec:
    """The law of the paper's MLP (Dadoun et al. 2025, eq. 1), without biases.

    .. math::
        Y_0 = W_{in} x,\\quad Y_k = W_k \\phi(Y_{k-1})\\ (k = 1..L),\\quad Y_{out} = W_{out}\\phi(Y_L)

    Args:
        width: ``n``, the size of every hidden layer (``W_k`` is ``n x n``). Integer >= 1.
        depth: ``L``, the number of square hidden weight matrices ``W_1..W_L``. Integer >= 1.
        activation: ``phi``: ``relu`` (default), ``linear``, ``tanh``, ``leaky_relu`` (negative slope ``slope``),
            ``abs``, ``groupsort`` (MaxMin: sorts each pair of units ``(2i, 2i+1)``, paper 003; even width) or
            ``half_relu`` (ReLU on the even units, identity on the odd ones: partial isometries, paper 003).
        sigma2: ``sigma_w^2``. Gaussian init: ``W_ij ~ N(0, sigma2 / fan_in)``; orthogonal init: ``W = gain * O``
            with ``O`` Haar-distributed and ``gain = sqrt(sigma2)`` (same second moment per row). ``2`` is the edge
            of chaos for ReLU (paper Theorem 2.2). Must be in ``(0, 1e6]``.
        init: ``gaussian`` or ``orthogonal`` (Haar) for the hidden matrices. ``W_in`` and ``W_out`` are always
            Gaussian ``N(0, sigma2 / fan_in)``; they do not enter the Jacobian ``J = dY_L/dY_0``.
        in_dim: input dimension ``d``; ``None`` means ``width``.
        out_dim: output dimension ``o`` (default 10, a classifier head).
        slope: negative slope of ``leaky_relu`` in ``[0, 1]`` (ignored by other activations; default 0.01).
        prune: pruning at initialisation of the hidden matrices (paper Section 4): ``none``, ``random``
            (Bernoulli(1-s) mask, Theorem 4.1), ``magnitude`` (top ``(1-s) n^2`` or top ``keep`` entries by
            ``|w|``, Theorem 4.3), ``magnitude-threshold`` (``|w| > threshold``, Theorem 4.2), ``snip``
            (top ``|w dL/dw|`` on a batch).
        sparsity: ``s`` in ``[0, 1)``, the fraction of weights removed (not with ``magnitude-threshold``).
        threshold: ``t > 0`` for ``magnitude-threshold`` (in weight units; weights are ``N(0, sigma2/n)``).
        keep: ``r``, the number of entries kept per matrix by ``magnitude`` (instead of ``sparsity``).
        prune_scope: ``layer`` (rank within each matrix) or ``global`` (over all hidden matrices).
        scaling: factor for kept weights: ``none``, ``random`` (``(1-s)^{-1/2}``), ``paper-magnitude``
            (Theorems 4.2/4.3 as printed), ``exact`` (condition (ii) of Theorem 3.1 for the law), ``empirical``
            (per-row energy of the realised weights). See :mod:`jacstab.theory.scaling`.
        eta: the paper's correlated model (Section 5): ``W = W_ind + eta w`` with one ``w ~ N(0, sigma2/n)``
            per layer; ``corr = eta^2/(1+eta^2)``. ``eta >= 0``.
        correlation: structured Gaussian correlation ``none``, ``row``, ``col`` or ``ar1`` with parameter ``rho``
            in ``[0, 1)`` (see :mod:`jacstab.correlation`); Gaussian init only.
        rho: the target correlation of ``correlation``.
        gates: ``forward`` (default): ``D_k = diag(phi'(Y_k))`` from the forward pass; ``bernoulli``: the fixed-gates
            model of Approximation 2.1 (Haas et al.): every diagonal entry of every ``D_k`` iid Bernoulli(``gate_p``),
            independent of the weights and the input, drawn from its own seeded stream (the same seed gives the same
            weights under both models). ReLU only (a gate is 0 or 1).
        gate_p: ``p`` in ``(0, 1]``, the probability that a Bernoulli gate is open (``gates='bernoulli'`` only).
        residual: ``alpha >= 0``, residual MLP (Borkar 2026, paper 004): ``Y_k = Y_{k-1} + alpha W_k phi(Y_{k-1})``,
            Jacobian ``prod_k (I + alpha W_k D_{k-1})``; ``0`` (default) is the plain MLP above. In the canonical
            form (and hash) only when non-zero.
        block: ``dense`` (default): the layers above; ``reflection``: the residual reflection block of Massucco,
            Murari, Schoenlieb (paper 003), ``Y_k = Y_{k-1} - 2 W_k^T relu(W_k Y_{k-1})``, Jacobian
            ``I - 2 W_k^T D_{k-1} W_k``: a reflection when ``W_k`` is orthogonal (``init='orthogonal'``,
            ``sigma2=1``). ReLU only, ``residual=0``. A separate field, not a value of ``residual``: the block is
            a different map (``W`` enters twice, fixed coefficient 2), not a residual with another ``alpha``.
            In the canonical form only when not ``dense``.

    Invalid values raise ``ValueError`` naming the field, the value and the allowed range.
    """

    width: int
    depth: int
    activation: Activation = "relu"
    sigma2: float = 2.0
    init: Init = "gaussian"
    in_dim: int | None = None
    out_dim: int = 10
    slope: float = 0.01
    prune: Prune = "none"
    sparsity: float = 0.0
    threshold: float | None = None
    keep: int | None = None
    prune_scope: Scope = "layer"
    scaling: Scaling = "none"
    eta: float = 0.0
    correlation: Correlation = "none"
    rho: float = 0.0
    gates: GateModel = "forward"
    gate_p: float = 0.5
    residual: float = 0.0
    block: Block = "dense"

    def __post_init__(self) -> None:
        for name in ("width", "depth", "out_dim") + (("in_dim",) if self.in_dim is not None else ()):
            object.__setattr__(self, name, check_int(name, getattr(self, name), 1))
        check_choice("activation", self.activation, ACTIVATIONS)
        check_real("sigma2", self.sigma2, 0.0, 1e6, open_low=True)
        check_choice("init", self.init, INITS)
        check_real("slope", self.slope, 0.0, 1.0)
        check_real("residual", self.residual, 0.0, 1e3)
        pruning, corr = self.pruning, self.correlation_model  # validates both groups
        if pruning.keep is not None:
            check_int("keep", pruning.keep, 1, self.width * self.width)
        if pruning.scaling in LAW_SCALINGS and self.init != "gaussian":
            raise _unknown_law(pruning.scaling)
        if corr.active and self.init != "gaussian":
            raise ValueError(f"correlated weights (eta, correlation) need init='gaussian', got init={self.init!r}")
        self._check_gates()
        self._check_block()

    def _check_block(self) -> None:
        check_choice("block", self.block, BLOCKS)
        if self.activation == "groupsort" and self.width % 2:
            raise ValueError(f"activation='groupsort' sorts pairs of units: width must be even, got {self.width}")
        if self.block == "reflection" and (self.activation != "relu" or self.residual or self.gates != "forward"):
            raise ValueError(
                "block='reflection' (Y - 2 W^T relu(W Y)) needs activation='relu', residual=0 and gates='forward'; "
                f"got activation={self.activation!r}, residual={self.residual}, gates={self.gates!r}"
            )

    def _check_gates(self) -> None:
        check_choice("gates", self.gates, GATE_MODELS)
        object.__setattr__(self, "gate_p", check_real("gate_p", self.gate_p, 0.0, 1.0, open_low=True))
        if self.gates == "forward" and self.gate_p != 0.5:
            raise ValueError(f"gate_p={self.gate_p} applies to gates='bernoulli' only (forward gates come from Y_k)")
        if self.gates == "bernoulli" and self.residual:
            raise ValueError(f"gates='bernoulli' with residual={self.residual} is not supported (fixed gates are "
                             "modelled for the plain MLP only)")
        if self.gates == "bernoulli" and self.activation != "relu":
            raise ValueError(
                f"gates='bernoulli' models ReLU gates (entries 0 or 1); it needs activation='relu', "
                f"got {self.activation!r}"
            )

    @functools.cached_property
    def pruning(self) -> Pruning:
        """The pruning fields as one frozen :class:`Pruning` value (validated)."""
        return Pruning(self.prune, self.sparsity, self.threshold, self.keep, self.prune_scope, self.scaling)

    @functools.cached_property
    def correlation_model(self) -> CorrelationModel:
        """The correlation fields as one frozen :class:`CorrelationModel` value (validated)."""
        return CorrelationModel(self.eta, self.correlation, self.rho)

    def unpruned(self) -> NetSpec:
        """The parent law: the same spec with no pruning (a pruned net and its parent share ``W`` exactly)."""
        return dataclasses.replace(self, **Pruning().flat())

    @property
    def input_dim(self) -> int:
        """The resolved input dimension ``d`` (``in_dim`` or ``width``)."""
        return self.width if self.in_dim is None else self.in_dim

    @property
    def gain(self) -> float:
        """``sqrt(sigma2)``: the gain of orthogonal weights (their singular values all equal it)."""
        return math.sqrt(self.sigma2)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields, ``in_dim`` resolved and numbers normalised, so equal laws give equal dicts.

        Fields of jacstab 0.1 are always present; fields added since appear only when they differ from their
        default, so adding a field never changes the canonical form (or hash) of an existing spec.
        """
        d = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name not in _V1_FIELDS and v == f.default:
                continue
            d[f.name] = float(v) if f.name in _FLOAT_FIELDS and v is not None else v
        d["in_dim"] = self.input_dim
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetSpec:
        """Build a spec from a dict; unknown keys are rejected with the closest valid name."""
        names = tuple(f.name for f in dataclasses.fields(cls))
        for key in data:
            if key not in names:
                raise ValueError(f"unknown NetSpec field {key!r}{closest(key, names)}; valid: {', '.join(names)}")
        return cls(**data)

    def canonical_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): equal specs give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> NetSpec:
        """``dataclasses.replace`` with validation of the result."""
        return dataclasses.replace(self, **changes)
