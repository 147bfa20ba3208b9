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
    ABLATIONS,
    ACTIVATIONS,
    BLOCKS,
    CORRELATIONS,
    GATE_MODELS,
    INITS,
    PRUNE_DATA,
    PRUNE_SCHEDULES,
    PRUNES,
    SCALINGS,
    SCOPES,
    Ablation,
    Activation,
    Block,
    Correlation,
    GateModel,
    Init,
    Prune,
    PruneSchedule,
    Scaling,
    Scope,
    check_choice,
    check_int,
    check_real,
    closest,
)
from jacstab.specs_correlation import CorrelationModel

__all__ = ["ACTIVATIONS", "CORRELATIONS", "GATE_MODELS", "INITS", "PRUNES", "SCALINGS", "SCOPES", "CorrelationModel",
           "NetSpec", "Pruning", "check_choice", "check_int", "check_real", "closest"]


LAW_SCALINGS = ("exact", "paper-magnitude")  # factors computed from the Gaussian weight law
DATA_CRITERIA = ("snip", "grasp")  # criteria scored on a batch (x, y)
ITERATIVE = ("magnitude", "snip", "grasp", "synflow")  # criteria whose scores change as the mask shrinks
SYNFLOW_ROUNDS = 100  # Tanaka et al. 2020: 100 rounds, exponential schedule


_FLAT_NAMES = {"scope": "prune_scope", "rounds": "prune_rounds", "schedule": "prune_schedule", "data": "prune_data",
               "batch": "prune_batch", "batch_seed": "prune_batch_seed", "ablation": "prune_ablation"}


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
            ``snip`` | ``grasp`` | ``synflow`` (:mod:`jacstab.nets.criteria`).
        sparsity: ``s`` in ``[0, 1)``, the fraction removed (not with ``magnitude-threshold``).
        threshold: ``t > 0`` for ``magnitude-threshold`` (weight units); scope: ``layer`` or ``global`` ranking.
        keep: ``r``, entries kept per matrix by ``magnitude`` instead of ``sparsity`` (at most ``n^2``).
        scaling: ``none`` | ``random`` | ``paper-magnitude`` | ``exact`` | ``empirical`` (per-neuron sparse fan-in
            scaling, Evci et al. 2022) | ``approx-isometry`` (Lee et al. 2020); :mod:`jacstab.nets.pruning`.
        rounds: iterative pruning in ``R`` rounds (``None``: 100 for ``synflow``, else 1); ``schedule``:
            ``exponential`` (density ``(1-s)^{r/R}`` after round ``r``) or ``linear`` (``1 - s r/R``).
        data: the batch ``snip``/``grasp`` score on: ``synthetic`` (normalised Gaussian inputs, random labels) or a
            dataset name (a class-balanced training batch, passed as ``sample(..., data=(x, y))``; ``synthetic``
            when the criterion reads no batch); ``batch``: its size (``None``: 64); ``batch_seed``: its seed
            (``None``: the network's seed).
        ablation: Frankle et al. 2021: ``none`` | ``shuffle`` (each layer's mask) | ``invert`` (keep the lowest
            scores) | ``reinit`` (re-draw the kept weights from the law).

    Raises:
        ValueError: naming the field, the value and what is allowed.
    """

    method: Prune = "none"
    sparsity: float = 0.0
    threshold: float | None = None
    keep: int | None = None
    scope: Scope = "layer"
    scaling: Scaling = "none"
    rounds: int | None = None
    schedule: PruneSchedule = "exponential"
    data: str = "synthetic"
    batch: int | None = None
    batch_seed: int | None = None
    ablation: Ablation = "none"

    def __post_init__(self) -> None:
        check_choice("prune", self.method, PRUNES)
        check_choice("scaling", self.scaling, SCALINGS)
        check_choice("prune_scope", self.scope, SCOPES)
        check_real("sparsity", self.sparsity, 0.0, 1.0)
        if self.sparsity >= 1.0:
            raise ValueError(f"sparsity must be in [0, 1) (1 removes every weight), got {self.sparsity!r}")
        if self.method == "none":
            given = [f.name for f in dataclasses.fields(self) if getattr(self, f.name) != f.default]
            if given:
                names = ", ".join(_FLAT_NAMES.get(g, g) for g in given)
                raise ValueError(f"{names} need a pruning method (prune=...)")
        if self.method == "none":
            return
        self._check_method_fields()
        self._check_practice_fields()
        if self.scaling == "paper-magnitude" and not self.method.startswith("magnitude"):
            raise ValueError(f"scaling='paper-magnitude' applies to magnitude pruning, not prune={self.method!r}")
        if self.scaling in LAW_SCALINGS and self.method in (*DATA_CRITERIA, "synflow"):
            raise _unknown_law(self.scaling)
        if self.scaling in LAW_SCALINGS and self.ablation != "none" and self.method != "random":
            raise ValueError(f"prune_ablation={self.ablation!r} changes the kept weights' law; scaling="
                             f"{self.scaling!r} assumes it: use scaling='empirical' or 'random'")

    def _check_practice_fields(self) -> None:  # prune_rounds, _schedule, _data, _batch, _batch_seed, _ablation
        check_choice("prune_schedule", self.schedule, PRUNE_SCHEDULES)
        check_choice("prune_data", self.data, PRUNE_DATA)
        check_choice("prune_ablation", self.ablation, ABLATIONS)
        if self.rounds is not None:
            check_int("prune_rounds", self.rounds, 1, 10_000)
            if self.rounds > 1 and self.method not in ITERATIVE:
                raise ValueError(f"prune_rounds > 1 needs one of {', '.join(ITERATIVE)}, not prune={self.method!r}")
        for name, value, low in (("prune_batch", self.batch, 1), ("prune_batch_seed", self.batch_seed, 0)):
            _ = value is None or check_int(name, value, low)
        if self.ablation == "invert" and self.method not in ITERATIVE:
            raise ValueError(f"prune_ablation='invert' needs scores ({', '.join(ITERATIVE)}), not {self.method!r}")
        if self.ablation == "shuffle" and self.method == "random":
            raise ValueError("prune_ablation='shuffle' of a random mask is a random mask: use prune='random'")

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

    @property
    def n_rounds(self) -> int:
        """The number of pruning rounds ``R`` (``rounds``, or 100 for synflow and 1 otherwise)."""
        return self.rounds if self.rounds is not None else (SYNFLOW_ROUNDS if self.method == "synflow" else 1)

    @property
    def compression(self) -> float:
        """``c = -log10(1 - s)``: the kept fraction is ``10^-c`` (``NetSpec(compression=c)`` stores ``s``)."""
        return -math.log10(1.0 - self.sparsity)

    def flat(self) -> dict[str, Any]:
        """The user-facing flat keywords (``prune``, ``sparsity``, ... ``prune_ablation``) of this group."""
        return {"prune": self.method, "sparsity": self.sparsity, "threshold": self.threshold, "keep": self.keep,
                "prune_scope": self.scope, "scaling": self.scaling, "prune_rounds": self.rounds,
                "prune_schedule": self.schedule, "prune_data": self.data, "prune_batch": self.batch,
                "prune_batch_seed": self.batch_seed, "prune_ablation": self.ablation}


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
        prune, sparsity, threshold, keep, prune_scope, scaling: pruning at initialisation of the hidden matrices
            (paper Section 4) and the scaling of kept weights: the :class:`Pruning` group (``prune``: ``none``,
            ``random``, ``magnitude``, ``magnitude-threshold``, ``snip``, ``grasp``, ``synflow``; ``scaling``:
            ``none``, ``random``, ``paper-magnitude``, ``exact``, ``empirical`` = per-neuron sparse fan-in scaling,
            ``approx-isometry``; ``sparsity`` = the fraction removed).
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
        compression: ``c > 0``: ``sparsity = 1 - 10^-c``, stored as that sparsity (one spec, one hash).
        prune_rounds, prune_schedule, prune_data, prune_batch, prune_batch_seed, prune_ablation: see :class:`Pruning`.

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
    compression: float | None = None
    prune_rounds: int | None = None
    prune_schedule: PruneSchedule = "exponential"
    prune_data: str = "synthetic"
    prune_batch: int | None = None
    prune_batch_seed: int | None = None
    prune_ablation: Ablation = "none"

    def __post_init__(self) -> None:
        self._resolve_compression()
        self._drop_unread_batch()
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

    def _resolve_compression(self) -> None:
        """``compression = c`` is stored as ``sparsity = 1 - 10^-c`` (one law, one hash); then reads ``None``."""
        if self.compression is None:
            return
        c = check_real("compression", self.compression, 0.0, 12.0, open_low=True)
        if self.sparsity or self.keep is not None:
            raise ValueError(f"give either compression ({c}) or sparsity/keep, not both")
        object.__setattr__(self, "sparsity", 1.0 - 10.0**-c)
        object.__setattr__(self, "compression", None)

    def _drop_unread_batch(self) -> None:  # a criterion reading no batch: prune_data etc. at defaults (one hash)
        if self.prune not in DATA_CRITERIA:
            check_choice("prune_data", self.prune_data, PRUNE_DATA)
            for name, default in (("prune_data", "synthetic"), ("prune_batch", None), ("prune_batch_seed", None)):
                object.__setattr__(self, name, default)

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
        return Pruning(self.prune, self.sparsity, self.threshold, self.keep, self.prune_scope, self.scaling,
                       self.prune_rounds, self.prune_schedule, self.prune_data, self.prune_batch,
                       self.prune_batch_seed, self.prune_ablation)

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
