"""Experiments as data: a TOML file declares fixed NetSpec fields, a grid, seeds and metrics.

.. code-block:: toml

    name = "fig1"
    metrics = ["depth_curve"]      # depth_curve | spectrum | lyapunov | certificate (jacstab.lab.metrics)
    seeds = 3                      # seed indices seed0 .. seed0 + seeds - 1
    seed0 = 0
    k = 16                         # optional: top-k for spectrum / lyapunov (default: all)
    input = "gaussian"             # optional: or "dataset:fashion-mnist:0" (test image 0; in_dim = 784)

    [net]                          # fixed NetSpec fields
    width = 256
    depth = 100

    [grid]                         # lists; the trials are their cartesian product x seeds
    sigma2 = [0.5, 2.0, 4.0]

    [train]                        # parameters of "train" / "train_isometry" (metrics = ["train"]), all optional
    dataset = "fashion-mnist"      # fashion-mnist | mnist | idx (mnist/idx: sweep --data-dir DIR)
    epochs = 5
    lr = [0.1, 0.01, 0.001]        # one value, or a grid chosen per trial on the validation split
    batch_size = 128
    subset = 10000                 # training examples (default: all)
    optimizer = "sgd"              # sgd | adam (momentum = 0.9 for SGD with momentum)
    jac_reg = 0.01                 # Jacobian-orthogonality penalty mu (paper 003; default 0), jac_probes = 1
    orthogonal_param = true        # keep init='orthogonal' hidden matrices orthogonal while training (default false)

    [teacher]                      # parameters of the "teacher" metric (fixed-gates dynamics), all optional
    rank = 3                       # the linear teacher's rank (1..3)
    steps = 1500                   # full-batch gradient steps; step_size = 0.005; every = 10 (record period)

Seeds: trial ``(spec, s)`` samples its network with seed ``s`` (a paired design: settings that differ only in,
say, ``sigma2`` share their standard-normal draws, which removes sampling noise from comparisons). Results do not
depend on execution order or executor.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jacstab._checks import closest, is_int
from jacstab.lab.metrics import METRICS, get_metric
from jacstab.lab.trials import MetricCall, Trial
from jacstab.specs import NetSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_TRIALS = 1_000_000  # grid points x seeds: checked before anything is built
TRAINING_METRICS = ("train", "train_isometry")  # the metrics the [train] table parameterises
TABLES = {"train": TRAINING_METRICS, "teacher": ("teacher",)}  # a TOML table -> the metrics it parameterises
TOP_KEYS = ("name", "metrics", "seeds", "seed0", "k", "input", "net", "grid", *TABLES)
SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(NetSpec))


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: its specs (grid points) x seeds x metric calls."""

    name: str
    specs: tuple[NetSpec, ...]
    seeds: tuple[int, ...]
    metrics: tuple[MetricCall, ...]
    input: str = "default"
    data_dir: str | None = None

    def trial(self, spec: NetSpec, seed: int) -> Trial:
        """The trial of one grid point and seed (with the experiment's input and data folder)."""
        return Trial(spec, seed, self.metrics, self.input, self.data_dir)

    def trials(self) -> list[Trial]:
        """Every trial (spec x seed), in a fixed order."""
        return [self.trial(spec, seed) for spec in self.specs for seed in self.seeds]

    def with_data_dir(self, data_dir: str | None) -> Experiment:
        """The same experiment reading its datasets from ``data_dir`` (``None``: default folders)."""
        return dataclasses.replace(self, data_dir=None if data_dir is None else str(data_dir))

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)


def _fail(where: str, msg: str) -> None:
    raise ValueError(f"{where}: {msg}")


def _check_keys(where: str, table: dict, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            _fail(where, f"unknown key {key!r}{closest(key, allowed)}; allowed: {', '.join(allowed)}")


def parse_experiment(data: dict[str, Any], where: str = "<experiment>") -> Experiment:
    """Validate a parsed TOML document; every error names ``where``, the key and the allowed values."""
    if not isinstance(data, dict):
        _fail(where, f"an experiment is a table of keys ({', '.join(TOP_KEYS)}), got {type(data).__name__}")
    _check_keys(where, data, TOP_KEYS)
    name = data.get("name", Path(where).stem)
    metrics = data.get("metrics", ["depth_curve"])
    if not isinstance(metrics, list) or not metrics:
        _fail(where, f"key 'metrics' must be a non-empty list of {', '.join(METRICS)}")
    for m in metrics:
        if m not in METRICS:
            _fail(
                where, f"key 'metrics': unknown metric {m!r}{closest(str(m), METRICS)}; allowed: {', '.join(METRICS)}"
            )
    seeds, seed0, k = data.get("seeds", 1), data.get("seed0", 0), data.get("k")
    for key, v, low in (("seeds", seeds, 1), ("seed0", seed0, 0)):
        if not is_int(v) or v < low:
            _fail(where, f"key {key!r} must be an integer >= {low}, got {v!r}")
    tables = {t: data.get(t, {}) for t in TABLES}
    for m, table in tables.items():
        if not isinstance(table, dict):
            _fail(where, f"[{m}] must be a table of the {m} metric's parameters")
    calls = _metric_calls(where, metrics, k, tables)
    try:
        from jacstab.lab.trials import canonical_input

        input_ = canonical_input(data.get("input", "default"))
    except ValueError as e:
        _fail(where, f"key 'input': {e}")
    net, grid = data.get("net", {}), data.get("grid", {})
    for key, table in (("net", net), ("grid", grid)):
        if not isinstance(table, dict):
            _fail(where, f"[{key}] must be a table of NetSpec fields")
        _check_keys(f"{where} [{key}]", table, SPEC_FIELDS)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            _fail(where, f"[grid] key {key!r} must be a non-empty list, got {values!r}")
        if key in net:
            _fail(where, f"key {key!r} is both in [net] and in [grid]")
    points = 1
    for values in grid.values():
        points *= len(values)
    if points * seeds > MAX_TRIALS:
        total = points * seeds
        _fail(where, f"{points} grid points x {seeds} seeds = {total:,} trials exceeds {MAX_TRIALS:,}; split it")
    specs = []
    for point in itertools.product(*grid.values()):
        fields = {**net, **dict(zip(grid, point))}
        for key in ("width", "depth"):
            if key not in fields:
                got = dict(zip(grid, point))
                _fail(where, f"grid point {got}: NetSpec field {key!r} is required (give it in [net] or [grid])")
        try:
            specs.append(NetSpec(**fields))
        except (TypeError, ValueError) as e:
            _fail(where, f"grid point {dict(zip(grid, point))}: {e}")
    return Experiment(str(name), tuple(specs), tuple(range(seed0, seed0 + seeds)), calls, input_)


def _metric_calls(where: str, metrics: list, k: Any, tables: dict[str, dict]) -> tuple[MetricCall, ...]:
    """One :class:`MetricCall` per metric; ``k`` goes to the metrics that read it and must be read by one; the
    ``[train]`` / ``[teacher]`` tables go to the metric of their name."""
    if len(set(metrics)) != len(metrics):
        _fail(where, f"key 'metrics' lists a metric twice: {metrics}")
    if k is not None and (not is_int(k) or k < 1):
        _fail(where, f"key 'k' must be an integer >= 1, got {k!r}")
    readers = [m for m in metrics if "k" in get_metric(m).params]
    if k is not None and not readers:
        _fail(where, "key 'k' applies to spectrum and lyapunov, and neither is in 'metrics'")
    for name, table in tables.items():
        if table and not any(m in TABLES[name] for m in metrics):
            _fail(where, f"[{name}] sets the {name} metric's parameters, and {name!r} is not in 'metrics'")
    calls = []
    for m in metrics:
        given = {"k": k} if m in readers and k is not None else {}
        table = next((t for t, ms in TABLES.items() if m in ms), None)
        if table is not None:
            given = {key: tuple(v) if isinstance(v, list) else v for key, v in tables[table].items()}
        try:
            calls.append(MetricCall.make(m, **given))
        except ValueError as e:
            _fail(where, f"[{table}]: {e}" if table else str(e))
    return tuple(calls)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate a TOML experiment file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ValueError(f"{p}: no such experiment file") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{p}: not valid TOML ({e})") from None
    return parse_experiment(data, str(p))
