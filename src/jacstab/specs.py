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

ACTIVATIONS: tuple[str, ...] = get_args(Activation)
INITS: tuple[str, ...] = get_args(Init)


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
        d["sigma2"] = float(self.sigma2)
        d["slope"] = float(self.slope)
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
