"""Validation vocabulary shared by the whole package (stdlib only: the CLI imports it without torch).

Every choice users can make is spelled once here, as a ``Literal`` and the tuple ``get_args`` gives; the specs,
the engine's resolver and ``click.Choice`` in the CLI all read these tuples.
"""

from __future__ import annotations

import difflib
import math
import numbers
from typing import Any, Literal, get_args

Activation = Literal["relu", "linear", "tanh", "leaky_relu", "abs", "groupsort", "half_relu"]
Init = Literal["gaussian", "orthogonal"]
Prune = Literal["none", "random", "magnitude", "magnitude-threshold", "snip", "grasp", "synflow"]
# "empirical" is per-neuron sparse fan-in scaling (Evci et al. 2022); the stored name stays "empirical" (hashes).
Scaling = Literal["none", "random", "paper-magnitude", "exact", "empirical", "approx-isometry"]
PruneSchedule = Literal["exponential", "linear"]
Ablation = Literal["none", "shuffle", "invert", "reinit"]
Scope = Literal["layer", "global"]
Correlation = Literal["none", "row", "col", "ar1"]
GateModel = Literal["forward", "bernoulli"]
Block = Literal["dense", "reflection"]
Pairing = Literal["same", "factor"]
Method = Literal["auto", "dense", "lanczos", "jacrev", "jvp"]
Executor = Literal["serial", "process", "dask"]
Format = Literal["table", "csv", "json", "jsonl"]
FigFormat = Literal["png", "pdf", "svg"]

ACTIVATIONS: tuple[str, ...] = get_args(Activation)
INITS: tuple[str, ...] = get_args(Init)
PRUNES: tuple[str, ...] = get_args(Prune)
SCALINGS: tuple[str, ...] = get_args(Scaling)
SCOPES: tuple[str, ...] = get_args(Scope)
PRUNE_SCHEDULES: tuple[str, ...] = get_args(PruneSchedule)
ABLATIONS: tuple[str, ...] = get_args(Ablation)
CORRELATIONS: tuple[str, ...] = get_args(Correlation)
GATE_MODELS: tuple[str, ...] = get_args(GateModel)
BLOCKS: tuple[str, ...] = get_args(Block)
PAIRINGS: tuple[str, ...] = get_args(Pairing)
METHODS: tuple[str, ...] = get_args(Method)
EXECUTORS: tuple[str, ...] = get_args(Executor)
FORMATS: tuple[str, ...] = get_args(Format)
DATASETS: tuple[str, ...] = ("fashion-mnist", "mnist", "idx")  # jacstab.training.data (IDX folders)
PRUNE_DATA: tuple[str, ...] = ("synthetic", *DATASETS)  # the batch SNIP/GraSP score on
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
FIG_FORMATS: tuple[str, ...] = get_args(FigFormat)
DTYPE_NAMES: tuple[str, ...] = ("float64", "float32")


def closest(name: str, choices: tuple[str, ...] | list[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest valid choice, or ``""`` when none is close."""
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the field, the value and the allowed choices."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(choices)}; got {value!r}{closest(str(value), choices)}")


def is_int(value: Any) -> bool:
    """True for Python and numpy integers, False for ``bool`` (``True`` is not a width)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(field: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``int(value)``; raise ``ValueError`` unless it is an integer in ``[low, high]`` (numpy ints too)."""
    ok = is_int(value) and value >= low and (high is None or value <= high)
    if not ok:
        rng = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{field} must be an integer {rng}, got {value!r}")
    return int(value)


def check_real(field: str, value: Any, low: float, high: float, *, open_low: bool = False) -> float:
    """Return ``float(value)``; raise ``ValueError`` unless it is a finite real in ``[low, high]``
    (``(low, high]`` with ``open_low``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and value <= high
    if not ok:
        rng = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ValueError(f"{field} must be a finite number in {rng}, got {value!r}")
    return float(value)
