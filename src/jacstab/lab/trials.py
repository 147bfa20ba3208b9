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

from jacstab._checks import DATASETS, check_int, closest
from jacstab.lab.metrics import Context, get_metric
from jacstab.specs import NetSpec

IDENTITY_SCHEME = 2  # 1: jacstab 0.1 (spec, seed, metric names, package version)
# Bump when sample() draws different float64 weights for the same spec and seed (trials sample float64; jacstab 0.2
# changed float32 networks only, which trials do not use).
SAMPLER_VERSION = 1
INPUT_KINDS = ("default", "gaussian", "dataset:NAME[:INDEX]")  # "gaussian" is another name for "default"
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


def parse_input(text: str) -> tuple[str, str | None, int]:
    """``"default"``/``"gaussian"`` -> ``("default", None, 0)``; ``"dataset:NAME[:INDEX]"`` -> ``("dataset", NAME,
    INDEX)`` (test image ``INDEX``, default 0, of dataset ``NAME``).

    Raises:
        ValueError: anything else (naming the accepted forms).
    """
    if text in ("default", "gaussian"):
        return ("default", None, 0)
    parts = str(text).split(":")
    if parts[0] != "dataset" or len(parts) not in (2, 3):
        raise ValueError(f"input must be gaussian (the default) or dataset:NAME[:INDEX], got {text!r}")
    if parts[1] not in DATASETS:
        raise ValueError(f"input {text!r}: unknown dataset {parts[1]!r}{closest(parts[1], DATASETS)}; available: "
                         f"{', '.join(DATASETS)}")
    index = parts[2] if len(parts) == 3 else "0"
    if not index.isdigit():
        raise ValueError(f"input {text!r}: INDEX must be an integer >= 0 (a test image), got {index!r}")
    return ("dataset", parts[1], int(index))


def canonical_input(text: str) -> str:
    """The one spelling of an input stored in trial ids: ``default`` or ``dataset:NAME:INDEX``."""
    kind, name, index = parse_input(text)
    return "default" if kind == "default" else f"dataset:{name}:{index}"


@dataclass(frozen=True)
class Trial:
    """Sample ``spec`` with ``seed`` and measure ``metrics`` at the trial's input.

    Args:
        spec: the network law; seed: the sampling seed (``>= 0``); metrics: the metric calls.
        input: ``"default"`` (or ``"gaussian"``): the fixed normalised Gaussian input (:func:`jacstab.default_input`);
            ``"dataset:NAME[:INDEX]"``: test image ``INDEX`` of a dataset (the paper's "input randomly selected from
            MNIST"; the spec's ``in_dim`` must be the image size).
        data_dir: folder of the IDX files (``None``: the dataset's default folder). Not part of the id: the bytes'
            fingerprint is, so moving the data keeps the results and changing it recomputes them.
    """

    spec: NetSpec
    seed: int
    metrics: tuple[MetricCall, ...]
    input: str = "default"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.spec, NetSpec):
            raise TypeError(f"spec must be a NetSpec, got {type(self.spec).__name__}")
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0))
        object.__setattr__(self, "input", canonical_input(self.input))
        if not self.metrics:
            raise ValueError("a trial needs at least one metric")
        object.__setattr__(self, "metrics", tuple(sorted(self.metrics, key=lambda m: m.name)))

    def datasets(self) -> list[str]:
        """The datasets the computation reads (its input's and its metrics'), sorted."""
        names = {parse_input(self.input)[1]} - {None}
        if self.spec.pruning.method in ("snip", "grasp") and self.spec.prune_data != "synthetic":
            names.add(self.spec.prune_data)  # the scoring batch (its size and seed are spec fields)
        for m in self.metrics:
            param = get_metric(m.name).dataset_param
            if param is not None:
                names.add(dict(m.params)[param])
        return sorted(names)

    def identity(self) -> dict[str, Any]:
        """Everything the computation reads (the id is the hash of this); ``data`` (the fingerprint of each dataset
        read) appears only for trials that read data, so older ids are unchanged."""
        ident = {
            "scheme": IDENTITY_SCHEME,
            "sampler": SAMPLER_VERSION,
            "spec": self.spec.to_dict(),
            "seed": self.seed,
            "input": self.input,
            "metrics": [m.identity() for m in self.metrics],
        }
        names = self.datasets()
        if names:
            from jacstab.training.data import fingerprint

            ident["data"] = {name: fingerprint(name, self.data_dir) for name in names}
        return ident

    def context(self) -> Context:
        """The input tensor (float64) and data folder the metrics read."""
        kind, name, index = parse_input(self.input)
        if kind == "default":
            return Context(None, self.data_dir)
        from jacstab.training.data import dataset_input

        x = dataset_input(name, index, self.data_dir)
        if x.numel() != self.spec.input_dim:
            raise ValueError(f"input {self.input} has d = {x.numel()} entries but the spec's input dimension is "
                             f"{self.spec.input_dim}: set in_dim = {x.numel()}")
        return Context(x, self.data_dir)

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
            ctx = trial.context()
            from jacstab.training.data import pruning_batch

            net = sample(trial.spec, trial.seed, data=pruning_batch(trial.spec, trial.seed, trial.data_dir))
            values = {m.name: get_metric(m.name).compute(net, dict(m.params), ctx) for m in trial.metrics}
        return TrialResult(**meta, values=values, duration_s=time.perf_counter() - t0)
    except Exception as e:  # recorded, the sweep goes on
        return TrialResult(**meta, values={}, status="error", error=f"{type(e).__name__}: {e}",
                           duration_s=time.perf_counter() - t0)
