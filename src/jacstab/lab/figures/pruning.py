"""The ``pruning-methods`` built-in (issue 15): growth of ``log10 ||J||`` per layer for every pruning criterion and
stabiliser, one panel per (sparsity, depth).

In each panel the five criteria sit on the x axis, one marker per scaling (none, empirical = per-neuron sparse
fan-in, approx-isometry) with its 95% t-interval over seeds (:func:`jacstab.lab.analysis.growth_slope`: per-seed
least-squares slope over the second half of the depths, mean over seeds). Zero (a dashed line) is a stable ``J``;
the unpruned edge-of-chaos network grows sub-exponentially, i.e. about 0 per layer. Settings whose seeds all have
``J = 0`` are marked "dead" at the bottom of the panel, never dropped.
"""

from __future__ import annotations

import math

from jacstab.lab.analysis import growth_slope, growth_start
from jacstab.lab.figures._data import Context, Table, collect
from jacstab.lab.figures._style import categorical, legend_below, pyplot, suptitle

LN10 = math.log(10.0)
CAPTION = ("Pruning at initialisation, five criteria x three stabilisers (Fashion-MNIST batch for SNIP/GraSP): "
           "growth of log10 ||J|| per layer, 95% t-CI over seeds.")
NOTE = ("No paper draws this: the Jacobian growth each pruning criterion leaves, with and without rescaling. "
        "Test accuracy after training is in the training figure and table of this experiment.")


def applies(ctx: Context) -> bool:
    """The layout needs the grid of the built-in (criteria x scalings)."""
    return {"prune", "scaling"} <= set(ctx.varying)


def growth(ctx: Context) -> dict[tuple, tuple[float, float]]:
    """``{(sparsity, depth, prune, scaling): (slope, half width)}`` in log10 per layer."""
    out = {}
    for s in ctx.settings:
        sl = growth_slope(s.values, start=growth_start(s.values.shape[1]))
        out[(s.spec.sparsity, s.spec.depth, s.spec.prune, s.spec.scaling)] = (sl.value / LN10, sl.half_width / LN10)
    return out


def figure(ctx: Context):
    """Panels rows = sparsity, columns = depth; x = criterion, colour = scaling."""
    plt = pyplot()
    g = growth(ctx)
    sparsities = sorted({k[0] for k in g})
    depths = sorted({k[1] for k in g})
    prunes = list(dict.fromkeys(s.spec.prune for s in ctx.settings))
    scalings = list(dict.fromkeys(s.spec.scaling for s in ctx.settings))
    colours = categorical(scalings)
    fig, axes = plt.subplots(len(sparsities), len(depths), figsize=(3.2 * len(depths), 2.6 * len(sparsities)),
                             squeeze=False, sharey=False)
    handles = {}
    for i, sp in enumerate(sparsities):
        for j, depth in enumerate(depths):
            ax = axes[i][j]
            ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
            for c, sc in enumerate(scalings):
                for x, pr in enumerate(prunes):
                    m, h = g.get((sp, depth, pr, sc), (math.nan, math.nan))
                    xx = x + (c - (len(scalings) - 1) / 2) * 0.22
                    if not math.isfinite(m):
                        ax.annotate("dead", (xx, 0), xycoords=("data", "axes fraction"), rotation=90, fontsize=6,
                                    ha="center", va="bottom", color=colours[sc])
                        continue
                    handles[sc] = ax.errorbar(xx, m, yerr=h if math.isfinite(h) else None, fmt="o", ms=3.5,
                                              color=colours[sc], capsize=2, lw=1)
            ax.set_xticks(range(len(prunes)), prunes, rotation=30)
            ax.set_title(f"sparsity {sp:g}, L = {depth}")
            if j == 0:
                ax.set_ylabel(r"growth of $\log_{10}\|J\|_2$ per layer")
    suptitle(fig, "Pruning criteria x stabilisers", ctx.exp, y=1.02)
    legend_below(fig, list(handles.values()), [f"scaling = {s}" for s in handles], ncol=len(handles) or 1)
    fig.tight_layout()
    return fig


STABLE_LOG10_PER_LAYER = 0.05  # the whole 95% CI of the growth within this of 0 (at most 10x over 20 layers)
TRAINS_ACCURACY = 0.2  # final test accuracy at least twice chance (10 classes)


def verdict_table(exp, store) -> Table | None:
    """Which (criterion, scaling) combinations keep ``J`` stable and train, per (sparsity, depth), computed from the
    stored values: stable when the whole 95% CI of the growth of ``log10 ||J||`` per layer (:func:`growth`) lies
    within ``STABLE_LOG10_PER_LAYER`` of 0, unstable when the CI excludes 0, undetermined otherwise (too few seeds);
    trains when the seeds' mean final test accuracy is at least ``TRAINS_ACCURACY``. None when no depth curve is
    stored."""
    import numpy as np

    from jacstab.lab.metrics import get_metric

    curves = collect(exp, store, "depth_curve")
    if not curves:
        return None
    g = growth(Context(exp, "depth_curve", curves))
    train = get_metric("train")
    acc = {}
    for s in collect(exp, store, "train"):
        finals = [train.records(list(row))[-1]["test_accuracy"] for row in s.values]
        acc[(s.spec.sparsity, s.spec.depth, s.spec.prune, s.spec.scaling)] = float(np.nanmean(finals))
    rows = []
    for key, (slope, half) in g.items():
        a = acc.get(key, math.nan)
        stability = ("stable" if abs(slope) + half <= STABLE_LOG10_PER_LAYER else "unstable" if abs(slope) > half
                     else "undetermined (CI too wide)")
        training = ("not trained" if not math.isfinite(a) else "trains" if a >= TRAINS_ACCURACY
                    else "does not train")
        rows.append({"sparsity": f"{key[0]:g}", "L": key[1], "prune": key[2], "scaling": key[3],
                     "growth log10/layer": f"{slope:+.4f} ± {half:.4f}",
                     "test accuracy": f"{a:.3f}" if math.isfinite(a) else "not trained",
                     "verdict": f"{stability}; {training}"})
    good = [f"{r['prune']}+{r['scaling']} (s={r['sparsity']}, L={r['L']})" for r in rows
            if r["verdict"] == "stable; trains"]
    note = (f"Stable: the 95% CI of the growth within ±{STABLE_LOG10_PER_LAYER} log10 per layer; unstable: the CI "
            f"excludes 0; trains: mean final test accuracy >= {TRAINS_ACCURACY} (chance 0.1). Stable and trains: "
            f"{', '.join(good) if good else 'none'}.")
    cols = ("sparsity", "L", "prune", "scaling", "growth log10/layer", "test accuracy", "verdict")
    return Table("Which combinations keep J stable and train (computed from the stored results)", cols, rows, note)
