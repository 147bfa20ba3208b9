"""Frozen, validated specifications of the networks jacstab builds.

A :class:`NetSpec` fully describes the *law* of a random network (paper eq. 1); together with an integer seed it
determines the weights exactly (see :func:`jacstab.sample`). Specs are plain data: they serialise to canonical
JSON and hash to a short, stable identifier that the lab uses to name trials.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

Activation = Literal["relu", "linear", "tanh", "leaky_relu", "abs"]
Init = Literal["gaussian", "orthogonal"]
Prune = Literal["none", "random", "magnitude", "magnitude-threshold", "snip"]
Scaling = Literal["none", "random", "paper-magnitude", "exact", "empirical"]
Scope = Literal["layer", "global"]
Correlation = Literal["none", "row", "col", "ar1"]

ACTIVATIONS: tuple[str, ...] = get_args(Activation)
INITS: tuple[str, ...] = get_args(Init)
PRUNES: tuple[str, ...] = get_args(Prune)
SCALINGS: tuple[str, ...] = get_args(Scaling)
SCOPES: tuple[str, ...] = get_args(Scope)
CORRELATIONS: tuple[str, ...] = get_args(Correlation)


def closest(name: str, choices: tuple[str, ...] | list[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest valid choice, or ``""`` when none is close."""
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the field, the value and the allowed choices."""
    if value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(choices)}; got {value!r}{closest(str(value), choices)}")


def check_int(field: str, value: Any, low: int, high: int | None = None) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer in ``[low, high]``."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    ok = ok and (high is None or value <= high)
    if not ok:
        rng = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{field} must be an integer {rng}, got {value!r}")


def check_real(field: str, value: Any, low: float, high: float, *, open_low: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite real in ``[low, high]`` (``(low, high]`` if open_low)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and value <= high
    if not ok:
        rng = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ValueError(f"{field} must be a finite number in {rng}, got {value!r}")


@dataclass(frozen=True)
class NetSpec:
    """The law of the paper's MLP (Dadoun et al. 2025, eq. 1), without biases.

    .. math::
        Y_0 = W_{in} x,\\quad Y_k = W_k \\phi(Y_{k-1})\\ (k = 1..L),\\quad Y_{out} = W_{out}\\phi(Y_L)

    Args:
        width: ``n``, the size of every hidden layer (``W_k`` is ``n x n``). Integer >= 1.
        depth: ``L``, the number of square hidden weight matrices ``W_1..W_L``. Integer >= 1.
        activation: ``phi``: ``relu`` (default), ``linear``, ``tanh``, ``leaky_relu`` (negative slope ``slope``)
            or ``abs``.
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

    def __post_init__(self) -> None:
        check_int("width", self.width, 1)
        check_int("depth", self.depth, 1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_real("sigma2", self.sigma2, 0.0, 1e6, open_low=True)
        check_choice("init", self.init, INITS)
        if self.in_dim is not None:
            check_int("in_dim", self.in_dim, 1)
        check_int("out_dim", self.out_dim, 1)
        check_real("slope", self.slope, 0.0, 1.0)
        self._check_pruning()
        check_real("eta", self.eta, 0.0, 1e3)
        check_choice("correlation", self.correlation, CORRELATIONS)
        check_real("rho", self.rho, 0.0, 0.999999)
        if (self.correlation != "none" or self.eta > 0) and self.init != "gaussian":
            raise ValueError(f"correlated weights (eta, correlation) need init='gaussian', got init={self.init!r}")
        if self.correlation == "none" and self.rho != 0.0:
            raise ValueError(f"rho={self.rho} needs a correlation kind (row, col or ar1)")

    def _check_pruning(self) -> None:
        check_choice("prune", self.prune, PRUNES)
        check_choice("scaling", self.scaling, SCALINGS)
        check_choice("prune_scope", self.prune_scope, SCOPES)
        check_real("sparsity", self.sparsity, 0.0, 1.0)
        if self.sparsity >= 1.0:
            raise ValueError(f"sparsity must be in [0, 1) (1 removes every weight), got {self.sparsity!r}")
        if self.prune == "none":
            if self.sparsity or self.threshold is not None or self.keep is not None or self.scaling != "none":
                raise ValueError("sparsity, threshold, keep and scaling need a pruning method (prune=...)")
            return
        if self.prune == "magnitude-threshold":
            if self.threshold is None:
                raise ValueError("prune='magnitude-threshold' needs threshold > 0")
            check_real("threshold", self.threshold, 0.0, 1e6, open_low=True)
            if self.sparsity or self.keep is not None:
                raise ValueError("magnitude-threshold takes threshold only (its sparsity follows from it)")
        elif self.threshold is not None:
            raise ValueError(f"threshold applies to prune='magnitude-threshold' only, not {self.prune!r}")
        if self.keep is not None:
            if self.prune != "magnitude":
                raise ValueError("keep (top-r entries) applies to prune='magnitude' only")
            check_int("keep", self.keep, 1, self.width * self.width)
            if self.sparsity:
                raise ValueError("give either sparsity or keep, not both")
        if self.scaling == "paper-magnitude" and not self.prune.startswith("magnitude"):
            raise ValueError(f"scaling='paper-magnitude' applies to magnitude pruning, not prune={self.prune!r}")
        if self.scaling in ("exact", "paper-magnitude") and (self.prune == "snip" or self.init != "gaussian"):
            raise ValueError(
                f"scaling={self.scaling!r} needs a known weight law (gaussian init, random or "
                "magnitude pruning); use scaling='empirical'"
            )

    @property
    def input_dim(self) -> int:
        """The resolved input dimension ``d`` (``in_dim`` or ``width``)."""
        return self.width if self.in_dim is None else self.in_dim

    @property
    def gain(self) -> float:
        """``sqrt(sigma2)``: the gain of orthogonal weights (their singular values all equal it)."""
        return math.sqrt(self.sigma2)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields, ``in_dim`` resolved so equal laws give equal dicts."""
        d = dataclasses.asdict(self)
        d["in_dim"] = self.input_dim
        for key in ("sigma2", "slope", "sparsity", "eta", "rho"):
            d[key] = float(d[key])
        if d["threshold"] is not None:
            d["threshold"] = float(d["threshold"])
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
