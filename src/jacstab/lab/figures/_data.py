"""What a figure or table function receives: one experiment's stored values of one metric, per setting, with
the theory of each setting (:func:`jacstab.theory.predict`) and the drawing options."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from jacstab.lab.analysis import Band, mean_band
from jacstab.lab.experiment import Experiment
from jacstab.lab.figures._style import FigureOptions
from jacstab.lab.store import Store
from jacstab.specs import NetSpec
from jacstab.theory import predict
from jacstab.theory.predict import Prediction


@dataclass(frozen=True)
class Setting:
    """One grid point's stored values of one metric: ``values[seed, i]`` (natural logs for depth curves, spectra
    and Lyapunov exponents), ``seeds`` the seeds they came from (finished trials only)."""

    spec: NetSpec
    values: np.ndarray
    seeds: tuple[int, ...]

    @functools.cached_property
    def prediction(self) -> Prediction:
        """:func:`jacstab.theory.predict` for this setting's law."""
        return predict(self.spec)

    def predicted(self) -> np.ndarray | None:
        """Predicted ``log ||J^(d)||``, ``d = 1..L`` (``n -> inf``), or None where no prediction applies."""
        return self.prediction.log_norm

    @functools.cached_property
    def band(self) -> Band:
        """Per-index mean and t confidence interval over the live seeds (:func:`jacstab.lab.analysis.mean_band`)."""
        return mean_band(self.values)


# the name the report's first tables and older code used
Curves = Setting


@dataclass(frozen=True)
class Table:
    """A table for the report: ``rows`` are dicts keyed by ``columns``; ``note`` one sentence under it."""

    title: str
    columns: tuple[str, ...]
    rows: list[dict]
    note: str = ""


@dataclass(frozen=True)
class Context:
    """Everything a figure/table function reads: the experiment, the metric, its settings, the options."""

    exp: Experiment
    metric: str
    settings: list[Setting]
    options: FigureOptions = field(default_factory=FigureOptions)
    base: str = ""  # the built-in figure ("fig1".."fig4") when the experiment is one, else ""

    @property
    def varying(self) -> list[str]:
        """Spec fields that differ between the experiment's settings, in spec order."""
        return varying_fields([s.spec for s in self.settings])

    @property
    def complete(self) -> tuple[int, int, int, int]:
        """``(settings stored, settings, seeds stored, seeds)``."""
        stored = sum(len(s.seeds) for s in self.settings)
        return len(self.settings), len(self.exp.specs), stored, len(self.exp.specs) * len(self.exp.seeds)


def varying_fields(specs: list[NetSpec]) -> list[str]:
    """The spec fields whose value differs between ``specs`` (in the order of the spec's fields)."""
    dicts = [s.to_dict() for s in specs]
    keys = list(dict.fromkeys(k for d in dicts for k in d))
    return [k for k in keys if len({repr(d.get(k)) for d in dicts}) > 1] if dicts else []


def label(spec: NetSpec, varying: list[str]) -> str:
    """Plain-text name of a setting for tables: ``sigma2=0.5, scaling=none``, ``eta=2^-5`` (powers of two of
    ``eta``/``rho`` as such), ``network`` when nothing varies."""
    def text(k: str) -> str:
        v = getattr(spec, k)
        if isinstance(v, float) and k in ("eta", "rho") and v > 0 and math.log2(v).is_integer():
            return f"{k}=2^{int(math.log2(v))}"
        return f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"

    return ", ".join(text(k) for k in varying) or "network"


def collect(exp: Experiment, store: Store, metric: str = "depth_curve") -> list[Setting]:
    """The stored values of ``metric`` for every setting of ``exp`` with at least one finished seed (in grid
    order). Seeds whose trial failed or is not stored are left out; :attr:`Context.complete` counts them."""
    if metric not in exp.metric_names:
        return []
    out = []
    for spec in exp.specs:
        rows, seeds = [], []
        for seed in exp.seeds:
            vals = store.values(exp.trial(spec, seed).id, metric)
            if vals:
                rows.append(vals)
                seeds.append(seed)
        if rows:
            width = max(len(r) for r in rows)  # equal for one spec; padded with NaN if a metric changed length
            arr = np.full((len(rows), width), np.nan)
            for i, r in enumerate(rows):
                arr[i, : len(r)] = r
            out.append(Setting(spec, arr, tuple(seeds)))
    return out
