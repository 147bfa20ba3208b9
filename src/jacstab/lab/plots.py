"""Figures in the paper's style: log10 ||J|| vs depth, mean and a 95% confidence band over seeds, one curve per
setting, theory overlaid where it applies. matplotlib is imported here only (never by the math core).

Theory comes from :func:`jacstab.theory.predict` (the free-probability ``log ||J^(d)||`` as ``n -> inf``, for every
activation and law it covers); settings it does not cover get no dashed line and say "no prediction" in the
legend. Bands and means come from :mod:`jacstab.lab.analysis`; depths where some seeds' ``J`` is exactly zero are
marked, never dropped silently.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jacstab.lab.analysis import Band, mean_band
from jacstab.lab.experiment import Experiment
from jacstab.lab.store import Store
from jacstab.specs import NetSpec
from jacstab.theory import predict
from jacstab.theory.predict import Prediction

LN10 = math.log(10.0)


@dataclass(frozen=True)
class Curves:
    """The measured depth curves of one setting: ``log_norm[seed, d-1]`` (natural log)."""

    spec: NetSpec
    log_norm: np.ndarray

    @functools.cached_property
    def prediction(self) -> Prediction:
        """The theory for this setting's law (:func:`jacstab.theory.predict`)."""
        return predict(self.spec)

    def predicted(self) -> np.ndarray | None:
        """Predicted ``log ||J^(d)||``, ``d = 1..L`` (``n -> inf``), or None where no prediction applies."""
        return self.prediction.log_norm

    @functools.cached_property
    def band(self) -> Band:
        """Mean and 95% CI over seeds per depth (:func:`jacstab.lab.analysis.mean_band`)."""
        return mean_band(self.log_norm)


def collect(exp: Experiment, store: Store) -> list[Curves]:
    """The stored depth curves of every setting of ``exp`` (settings with no finished seed are left out)."""
    out = []
    for spec in exp.specs:
        trials = (exp.trial(spec, seed) for seed in exp.seeds)
        rows = [vals for t in trials if (vals := store.values(t.id, "depth_curve"))]
        if rows:
            out.append(Curves(spec, np.array(rows, dtype=float)))
    return out


def label(spec: NetSpec, varying: list[str]) -> str:
    return ", ".join(f"{k}={getattr(spec, k)}" for k in varying) or "network"


def varying_fields(curves: list[Curves]) -> list[str]:
    dicts = [c.spec.to_dict() for c in curves]
    return [k for k in dicts[0] if len({repr(d.get(k)) for d in dicts}) > 1] if dicts else []


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(curves: list[Curves], title: str, path: str | Path) -> Path:
    """Write the figure to ``path`` (PNG) and return it."""
    plt = _pyplot()
    if not curves:
        raise ValueError(f"no stored depth curves for {title!r}: run the sweep first")
    varying = varying_fields(curves)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=150)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"] if len(curves) <= 10 else plt.cm.tab20.colors
    dead_marks = []
    for i, c in enumerate(curves):
        color = colors[i % len(colors)]
        d = np.arange(1, c.spec.depth + 1)
        band = c.band
        name = label(c.spec, varying) + ("" if c.predicted() is not None else " (no prediction)")
        if band.n_dead.any():
            name += f" [J = 0 in {int(band.n_dead.max())} of {band.n_seeds} seeds]"
        ax.plot(d, band.mean / LN10, color=color, label=name)
        if band.n_seeds > 1:
            ax.fill_between(d, band.ci_low / LN10, band.ci_high / LN10, color=color, alpha=0.2, linewidth=0)
        if band.all_dead.any():
            dead_marks.append((d[band.all_dead], color))
        if c.predicted() is not None:
            ax.plot(d, c.predicted() / LN10, color=color, linestyle="--", linewidth=1, zorder=3)
    if dead_marks:  # along the bottom edge, once every curve is drawn (the axis limits are final)
        bottom = ax.get_ylim()[0]
        for depths, color in dead_marks:
            ax.plot(depths, np.full(depths.size, bottom), "x", color=color, markersize=4, clip_on=False)
        ax.plot([], [], "x", color="grey", label="x: J = 0 exactly in every seed at that depth")
        ax.set_ylim(bottom=bottom)
    ax.set_xlabel("depth L (number of hidden layers)")
    ax.set_ylabel(r"$\log_{10} \|J\|_2$")
    ax.set_title(f"{title}: mean and 95% CI over seeds; dashed: theory (n → ∞)", fontsize=9)
    return _save(fig, ax, path, plt, legend_size=7)


def plot_final_vs(curves: list[Curves], field: str, title: str, path: str | Path) -> Path:
    """``log10 ||J^(L)||`` (mean and 95% CI over seeds) against a grid field, e.g. ``eta`` (paper Fig. 4 right)."""
    plt = _pyplot()
    xs = np.array([float(getattr(c.spec, field)) for c in curves])
    ys = np.array([c.band.mean[-1] for c in curves]) / LN10
    lo = np.array([c.band.ci_low[-1] for c in curves]) / LN10
    hi = np.array([c.band.ci_high[-1] for c in curves]) / LN10
    order = np.argsort(xs)
    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=150)
    yerr = np.vstack([ys - lo, hi - ys])[:, order]
    ax.errorbar(xs[order], ys[order], yerr=np.nan_to_num(yerr), marker="o", capsize=3, label="measured (95% CI)")
    pred = [c.predicted() for c in curves]
    if all(p is not None for p in pred):
        ax.plot(xs[order], np.array([p[-1] for p in pred])[order] / LN10, linestyle="--", label="theory (n → ∞)")
    else:
        missing = [x for x, p in zip(xs, pred) if p is None]
        ax.plot([], [], " ", label=f"theory: no prediction at {len(missing)} of {len(xs)} values of {field} "
                f"({field} = {min(missing):g} .. {max(missing):g}; see jacstab.theory.predict)")
    if (xs > 0).any():
        ax.set_xscale("symlog", linthresh=min(x for x in xs if x > 0), base=2)
    ax.set_xlabel(f"{field} (symlog axis, base 2)" if (xs > 0).any() else field)
    ax.set_ylabel(rf"$\log_{{10}} \|J\|_2$ at depth {curves[0].spec.depth}")
    ax.set_title(f"{title}: norm vs {field}", fontsize=9)
    return _save(fig, ax, path, plt, legend_size=7)


def _save(fig, ax, path: str | Path, plt, *, legend_size: int) -> Path:
    """Legend, grid, tight layout; write ``path`` (PNG) and free the figure."""
    ax.legend(fontsize=legend_size, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
