"""Figures in the paper's style: log10 ||J|| vs depth, mean and a band over seeds, one curve per setting, theory
overlaid. matplotlib is imported here only (never by the math core).

Theory per setting (dashed, same colour): the free-probability prediction ``log ||J^(d)||`` (n -> inf) for ReLU
masks and Gaussian weights of effective variance ``2 (1 + (ii))``, where ``(ii)`` is the signed law-level
condition (ii) of Theorem 3.1 (``sigma2/2 - 1`` unpruned; the scaling's residual when pruned; ``(1+eta^2)``
for the correlated model); its slope is Theorem 2.2's ``(1/2) log(sigma2_eff / 2)``. The iid critical reference
(``sigma2 = 2``, the paper's ``J^iid``) is the black dotted curve.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jacstab.certify import law_quantities
from jacstab.lab.experiment import Experiment
from jacstab.lab.store import Store, trial_id
from jacstab.specs import NetSpec
from jacstab.theory import predicted_log_norm

LN10 = math.log(10.0)


@dataclass(frozen=True)
class Curves:
    """The measured depth curves of one setting: ``log_norm[seed, d-1]`` (natural log)."""

    spec: NetSpec
    log_norm: np.ndarray

    def predicted(self) -> np.ndarray:
        """Free-probability ``log ||J^(d)||`` at the law's effective variance (NaN where the law is unknown)."""
        ii = law_quantities(self.spec)[1]
        if not math.isfinite(ii) or ii <= -1:
            return np.full(self.spec.depth, np.nan)
        return np.array([predicted_log_norm(d, 0.5, 2.0 * (1.0 + ii)) for d in range(1, self.spec.depth + 1)])


def collect(exp: Experiment, store: Store, version: str) -> list[Curves]:
    """The stored depth curves of every setting of ``exp`` (settings with no finished seed are left out)."""
    out = []
    for spec in exp.specs:
        sj, rows = spec.canonical_json(), []
        for seed in exp.seeds:
            vals = store.values(trial_id(sj, seed, exp.metrics, version), "depth_curve")
            if vals:
                rows.append(vals)
        if rows:
            out.append(Curves(spec, np.array(rows, dtype=float)))
    return out


def label(spec: NetSpec, varying: list[str]) -> str:
    return ", ".join(f"{k}={getattr(spec, k)}" for k in varying) or "network"


def varying_fields(curves: list[Curves]) -> list[str]:
    dicts = [c.spec.to_dict() for c in curves]
    return [k for k in dicts[0] if len({repr(d[k]) for d in dicts}) > 1] if dicts else []


def plot_curves(curves: list[Curves], title: str, path: str | Path) -> Path:
    """Write the figure to ``path`` (PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError(f"no stored depth curves for {title!r}: run the sweep first")
    varying = varying_fields(curves)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"] if len(curves) <= 10 else plt.cm.tab20.colors
    for i, c in enumerate(curves):
        color = colors[i % len(colors)]
        d = np.arange(1, c.spec.depth + 1)
        y = c.log_norm / LN10
        finite = np.where(np.isfinite(y), y, np.nan)
        with warnings.catch_warnings():  # all seeds -inf (a dead network) gives an empty slice: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(finite, axis=0)
        ax.plot(d, mean, color=color, label=label(c.spec, varying))
        if y.shape[0] > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                sd = np.nanstd(finite, axis=0)
            ax.fill_between(d, mean - sd, mean + sd, color=color, alpha=0.2, linewidth=0)
        ax.plot(d, c.predicted() / LN10, color=color, linestyle="--", linewidth=1)
    depth = max(c.spec.depth for c in curves)
    ref = [predicted_log_norm(d, 0.5, 2.0) / LN10 for d in range(1, depth + 1)]
    ax.plot(range(1, depth + 1), ref, color="black", linestyle=":", linewidth=1.2, label="iid reference (theory)")
    ax.set_xlabel("depth L")
    ax.set_ylabel("log10 ||J||")
    ax.set_title(f"{title}: mean +- sd over seeds; dashed: theory")
    return _save(fig, ax, path, plt, legend_size=7)


def plot_final_vs(curves: list[Curves], field: str, title: str, path: str | Path) -> Path:
    """``log10 ||J^(L)||`` (mean +- sd over seeds) against a grid field, e.g. ``eta`` (paper Fig. 4 right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.array([float(getattr(c.spec, field)) for c in curves])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ys = np.array([np.nanmean(c.log_norm[:, -1]) for c in curves]) / LN10
        sds = np.array([np.nanstd(c.log_norm[:, -1]) for c in curves]) / LN10
    pred = np.array([c.predicted()[-1] for c in curves]) / LN10
    order = np.argsort(xs)
    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=100)
    ax.errorbar(xs[order], ys[order], yerr=sds[order], marker="o", capsize=3, label="measured")
    ax.plot(xs[order], pred[order], linestyle="--", label="theory (free probability)")
    if (xs > 0).all() or field == "eta":
        ax.set_xscale("symlog", linthresh=min(x for x in xs if x > 0) if (xs > 0).any() else 1.0, base=2)
    ax.set_xlabel(field)
    ax.set_ylabel(f"log10 ||J|| at depth {curves[0].spec.depth}")
    ax.set_title(f"{title}: norm vs {field}")
    return _save(fig, ax, path, plt, legend_size=8)


def _save(fig, ax, path: str | Path, plt, *, legend_size: int) -> Path:
    """Legend, grid, tight layout; write ``path`` (PNG) and free the figure."""
    ax.legend(fontsize=legend_size, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
