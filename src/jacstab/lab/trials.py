"""Trials: one network (spec and seed) and the metrics measured on it, with an id that hashes exactly what the
computation reads.

The id is the SHA-256 of the canonical JSON of :meth:`Trial.identity`: the spec's canonical form, the seed, the
input, and for each metric its name, its full parameters and its computation version (:mod:`jacstab.lab.metrics`).
The jacstab version is recorded with every stored trial but is not part of the id, so an upgrade that leaves a
metric's numbers unchanged reuses the stored results, and one that changes them recomputes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jacstab._checks import check_choice, check_int
from jacstab.lab.metrics import get_metric
from jacstab.specs import NetSpec

IDENTITY_SCHEME = 2  # 1: jacstab 0.1 (spec, seed, metric names, package version)
# Bump when sample() draws different float64 weights for the same spec and seed (trials sample float64; jacstab 0.2
# changed float32 networks only, which trials do not use).
SAMPLER_VERSION = 1
INPUTS = ("default",)  # the inputs a trial can be measured at (datasets come with the training issue)
TRIAL_THREADS_ENV = "JACSTAB_TRIAL_THREADS"


@dataclass(frozen=True)
class MetricCall:
    """A metric with its full, validated parameters (``params`` is a sorted tuple of pairs, hashable)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(cls, name: str, **given: Any) -> MetricCall:
        """Validate ``name`` and ``given`` against the registry and fill in the defaults."""
        return cls(name, tuple(sorted(get_metric(name).resolve(given).items())))

    def identity(self) -> dict[str, Any]:
        """Name, computation version and the parameters that differ from their defaults (so adding a parameter
        with a default later leaves every existing id unchanged, as for spec fields)."""
        metric = get_metric(self.name)
        params = {k: v for k, v in self.params if v != metric.params.get(k)}
        return {"name": self.name, "params": params, "version": metric.version}


@dataclass(frozen=True)
class Trial:
    """Sample ``spec`` with ``seed`` and measure ``metrics`` at the default input (see :func:`jacstab.default_input`).

    Args:
        spec: the network law; seed: the sampling seed (``>= 0``); metrics: the metric calls.
        input: the input choice (``"default"``: the fixed normalised Gaussian input).
    """

    spec: NetSpec
    seed: int
    metrics: tuple[MetricCall, ...]
    input: str = "default"

    def __post_init__(self) -> None:
        if not isinstance(self.spec, NetSpec):
            raise TypeError(f"spec must be a NetSpec, got {type(self.spec).__name__}")
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0))
        check_choice("input", self.input, INPUTS)
        if not self.metrics:
            raise ValueError("a trial needs at least one metric")
        object.__setattr__(self, "metrics", tuple(sorted(self.metrics, key=lambda m: m.name)))

    def identity(self) -> dict[str, Any]:
        """Everything the computation reads (the id is the hash of this)."""
        return {
            "scheme": IDENTITY_SCHEME,
            "sampler": SAMPLER_VERSION,
            "spec": self.spec.to_dict(),
            "seed": self.seed,
            "input": self.input,
            "metrics": [m.identity() for m in self.metrics],
        }

    def identity_json(self) -> str:
        return json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))

    @functools.cached_property
    def id(self) -> str:
        """SHA-256 (hex) of :meth:`identity_json` (computed once per trial)."""
        return hashlib.sha256(self.identity_json().encode()).hexdigest()

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)


def trial_threads() -> int:
    """Threads each trial computes with, in every executor (so serial, process and Dask runs are bit-identical):
    ``$JACSTAB_TRIAL_THREADS`` or 1."""
    value = os.environ.get(TRIAL_THREADS_ENV, "1")
    try:
        return check_int(TRIAL_THREADS_ENV, int(value), 1, 1024)
    except ValueError as e:
        raise ValueError(f"{TRIAL_THREADS_ENV} must be an integer >= 1, got {value!r}") from e


@contextmanager
def fixed_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def compute(trial: Trial):
    """Sample the trial's network and measure its metrics; an exception becomes a stored ``error`` result."""
    from jacstab._version import __version__
    from jacstab.lab.store import TrialResult
    from jacstab.nets import sample

    t0 = time.perf_counter()
    meta = {"trial_id": trial.id, "spec_json": trial.spec.canonical_json(), "seed": trial.seed,
            "metrics": trial.metric_names, "version": __version__, "identity": trial.identity_json()}
    try:
        with fixed_threads(trial_threads()):
            net = sample(trial.spec, trial.seed)
            values = {m.name: get_metric(m.name).compute(net, dict(m.params)) for m in trial.metrics}
        return TrialResult(**meta, values=values, duration_s=time.perf_counter() - t0)
    except Exception as e:  # recorded, the sweep goes on
        return TrialResult(**meta, values={}, status="error", error=f"{type(e).__name__}: {e}",
                           duration_s=time.perf_counter() - t0)
