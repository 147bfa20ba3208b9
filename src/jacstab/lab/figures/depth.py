"""Depth curves ``log10 ||J^(d)||`` vs depth ``d``: the panel drawing every depth figure uses, the generic
figure for any experiment, and the measured-vs-theory tables (growth per layer, norm at the last depth).

Statistics (:mod:`jacstab.lab.analysis`): per depth the mean over the seeds whose ``J`` is not exactly zero and a
95% t confidence interval of that mean (shaded; none with one live seed). Where some seeds are dead (``J = 0``
exactly) the line turns pale and thin (a mean over survivors) and the legend says "J = 0 in k/K seeds from depth
d"; where every seed is dead an ``x`` marks the depth.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from jacstab.lab.analysis import dead_note, growth_slope, growth_start
from jacstab.lab.figures._data import Context, Setting, Table, label
from jacstab.lab.figures._style import (
    LN10,
    THEORY,
    categorical,
    legend_below,
    log10_label,
    pyplot,
    sequential,
    setting_text,
    suptitle,
)  # fmt: skip

DEPTH_X = r"depth $d$ (prefix $J^{(d)} = W_d D_{d-1} \cdots W_1 D_0$)"
DEAD_MARK = {"marker": "x", "markersize": 6, "markeredgewidth": 1.5, "linestyle": "none"}


def draw(ax, s: Setting, color, *, theory: bool, linestyle="-", linear: bool = False) -> None:
    """One setting on ``ax``: mean over live seeds (log10, or ``||J||`` itself with ``linear``), its 95% CI,
    survivors-only stretches pale, ``x`` where every seed is dead, and the theory in the neutral style."""
    b = s.band
    d = np.arange(1, b.mean.size + 1)
    tf = (lambda y: np.exp(y)) if linear else (lambda y: y / LN10)
    all_alive = b.n_finite == b.n_seeds
    some = (b.n_finite > 0) & ~all_alive
    y = tf(b.mean)
    ax.plot(d, np.where(all_alive, y, np.nan), color=color, linestyle=linestyle, linewidth=1.6, zorder=3)
    if some.any():  # survivors only: joined to the last all-alive point
        part = some | np.r_[some[1:], False] & all_alive
        ax.plot(d, np.where(part, y, np.nan), color=color, linestyle=linestyle, linewidth=1.0, alpha=0.45, zorder=3)
    ci = b.n_finite >= 2
    if ci.any():
        ax.fill_between(d, tf(np.where(ci, b.ci_low, np.nan)), tf(np.where(ci, b.ci_high, np.nan)), color=color,
                        alpha=0.18, linewidth=0, zorder=2)
    if b.n_dead.any():
        live = np.flatnonzero(b.n_finite > 0)
        at = y[live[-1]] if live.size else (1.0 if linear else 0.0)
        first = int(np.flatnonzero(b.all_dead)[0]) if b.all_dead.any() else None
        if first is not None:
            ax.plot([d[first]], [at], color=color, **DEAD_MARK, zorder=5)
        where = d[first] if first is not None else d[live[-1]]
        k = int(b.n_dead.max())
        short = f"J = 0: {k}/{b.n_seeds} from d = {int(np.flatnonzero(b.n_dead == k)[0]) + 1}"
        ax.annotate(short, (where, at), xytext=(4, -9),
                    textcoords="offset points", fontsize=6.5, color=color, zorder=6,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    pred = s.predicted()
    if theory and pred is not None:
        ax.plot(d, tf(np.asarray(pred)), gid="theory", **THEORY)


def legend_entries(items: list[tuple[object, str, str]], *, theory: bool, dead: bool) -> tuple[list, list]:
    """Legend handles: ``(color, linestyle, text)`` per curve kind, then theory and the dead marker if drawn."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, linestyle=ls, linewidth=1.6) for c, ls, _ in items]
    labels = [t for _, _, t in items]
    if theory:
        handles.append(Line2D([], [], **THEORY))
        labels.append(r"theory, $n \to \infty$ (free probability; jacstab.theory.predict)")
    if dead:
        handles.append(Line2D([], [], color="0.3", **DEAD_MARK))
        labels.append(r"$J = 0$ exactly in every seed from this depth (text: dead seeds / seeds)")
    return handles, labels


def color_and_panels(ctx: Context) -> tuple[str | None, list[str]]:
    """The field drawn as colour (numeric with most values first) and the fields split into panels."""
    fields = ctx.varying
    if not fields:
        return None, []
    values = {f: {getattr(s.spec, f) for s in ctx.settings} for f in fields}
    numeric = [f for f in fields if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values[f])]
    pool = numeric or fields
    colour = max(pool, key=lambda f: len(values[f]))
    return colour, [f for f in fields if f != colour]


def generic_figure(ctx: Context):
    """Any experiment's depth curves: one colour per value of one grid field (sequential when numeric), one panel
    per combination of the others (shared y axis), theory where :func:`jacstab.theory.predict` gives it."""
    plt = pyplot()
    colour, panel_fields = color_and_panels(ctx)
    keys = list(dict.fromkeys(tuple(getattr(s.spec, f) for f in panel_fields) for s in ctx.settings))
    ncol = min(3, len(keys))
    nrow = math.ceil(len(keys) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol + 0.6, 2.9 * nrow + 0.4), sharey=True, squeeze=False)
    cvals = [getattr(s.spec, colour) for s in ctx.settings] if colour else []
    numeric = cvals and all(isinstance(v, (int, float)) for v in cvals)
    cmap = (sequential if numeric else categorical)(cvals) if colour else {}
    theory_drawn = dead = False
    entries: dict = {}
    for ax, key in itertools.zip_longest(axes.flat, keys):
        if key is None:
            ax.set_visible(False)
            continue
        for s in ctx.settings:
            if tuple(getattr(s.spec, f) for f in panel_fields) != key:
                continue
            c = cmap[getattr(s.spec, colour)] if colour else "C0"
            draw(ax, s, c, theory=ctx.options.theory)
            theory_drawn |= ctx.options.theory and s.predicted() is not None
            dead |= bool(s.band.all_dead.any())
            text = setting_text(colour, getattr(s.spec, colour)) if colour else "measured"
            entries.setdefault(text, (c, "-", text))
        ax.set_title(", ".join(setting_text(f, v) for f, v in zip(panel_fields, key)))
        ax.set_xlabel(DEPTH_X)
    for ax in axes[:, 0]:
        ax.set_ylabel(log10_label(r"\|J^{(d)}\|_2"))
    handles, labels = legend_entries(list(entries.values()), theory=theory_drawn, dead=dead)
    legend_below(fig, handles, labels, ncol=2)
    suptitle(fig, f"{ctx.exp.name}: depth curves (mean over live seeds; shaded: 95% t-CI)", ctx.exp)
    fig.tight_layout()
    return fig


# --- tables -----------------------------------------------------------------------------------------------------


def verdict(measured: float, half: float, theory: float | None, dead: str = "") -> str:
    """Plain-language comparison of a measured value (CI half-width ``half``) with the theory."""
    if theory is None or not math.isfinite(theory):
        return "no prediction"
    if not math.isfinite(measured):
        return dead or "no live seed"
    if not math.isfinite(half):
        return "no CI (one live seed)"
    diff = measured - theory
    if abs(diff) <= half:
        return "consistent: theory inside the 95% CI"
    return f"differs: theory {'below' if diff > 0 else 'above'} the 95% CI"


def _pm(value: float, half: float) -> str | float:
    if not math.isfinite(value):
        return "none"
    return f"{value:+.4f} ± {half:.4f}" if math.isfinite(half) else f"{value:+.4f}"


def growth_table(ctx: Context) -> Table:
    """Growth per layer of ``log10 ||J||`` over the second half of the depths against Theorem 2.2 (generalised)."""
    rows, varying = [], ctx.varying
    for s in ctx.settings:
        L = s.values.shape[1]
        sl = growth_slope(s.values, start=growth_start(L))
        g = s.prediction.growth_per_layer
        th = g / LN10 if math.isfinite(g) else None
        m, h = sl.value / LN10, sl.half_width / LN10
        rows.append({
            "setting": label(s.spec, varying), "live seeds": f"{sl.n_seeds}/{len(s.seeds)}",
            "measured": _pm(m, h), "theory": th if th is not None else "no prediction",
            "measured - theory": m - th if th is not None and math.isfinite(m) else "",
            "verdict": verdict(m, h, th, dead_note(s.band)),
        })  # fmt: skip
    start = growth_start(ctx.settings[0].values.shape[1]) if ctx.settings else None
    return Table(
        "Growth of log10 ||J|| per layer (least-squares slope per seed, mean over seeds, 95% t-CI)",
        ("setting", "live seeds", "measured", "theory", "measured - theory", "verdict"),
        rows,
        f"Fitted from depth {start or 1} to the last depth. Theory: (1/2) log10(sigma2_eff E[phi'^2]) per layer "
        "(Theorem 2.2, generalised; n -> inf). Seeds with J = 0 exactly in the window are left out and counted.",
    )


def final_table(ctx: Context) -> Table:
    """``log10 ||J^(L)||`` at the last depth, measured (mean over live seeds, 95% t-CI) vs the free-probability
    edge as ``n -> inf``, with the dead seeds named."""
    rows, varying = [], ctx.varying
    for s in ctx.settings:
        b = s.band
        m, h = b.mean[-1] / LN10, b.half_width[-1] / LN10
        pred = s.predicted()
        th = float(pred[-1]) / LN10 if pred is not None else None
        dead = dead_note(b)
        rows.append({
            "setting": label(s.spec, varying), "live seeds": f"{int(b.n_finite[-1])}/{b.n_seeds}",
            "measured": _pm(m, h) if math.isfinite(m) else (dead or "missing"),
            "theory": th if th is not None else "no prediction",
            "measured - theory": m - th if th is not None and math.isfinite(m) else "",
            "verdict": verdict(m, h, th, dead), "dead networks": dead or "none",
        })  # fmt: skip
    L = ctx.settings[0].values.shape[1] if ctx.settings else 0
    return Table(
        f"log10 ||J|| at the last depth L = {L} (mean over live seeds, 95% t-CI)",
        ("setting", "live seeds", "measured", "theory", "measured - theory", "verdict", "dead networks"),
        rows,
        "Theory: half the log10 of the free-probability edge of J J^T as n -> inf (jacstab.theory.predict); at "
        "finite n the measured norm fluctuates around it (log-normal, variance growing like L/n).",
    )


def tables(ctx: Context) -> list[Table]:
    return [growth_table(ctx), final_table(ctx)] if ctx.settings else []


__all__ = ["DEPTH_X", "draw", "final_table", "generic_figure", "growth_table", "tables", "verdict"]
