"""Spectra, Lyapunov exponents and certificates of any experiment: figures (value vs index, mean over seeds with a
95% t-CI) and measured-vs-theory tables.

Theory, only where it applies: the top singular value of ``J`` against the free-probability edge
(:func:`jacstab.theory.predict`, ``n -> inf``); the top Lyapunov exponent against the per-layer growth
``(1/2) log(sigma2_eff E[phi'^2])`` (``n -> inf``); for linear Gaussian networks the whole Lyapunov spectrum
against Newman's exact finite-``n`` formula (:func:`jacstab.theory.gaussian_lyapunov`); certificates against the
law's values (:func:`jacstab.certify` of the spec).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from jacstab.lab.analysis import mean_band
from jacstab.lab.figures._data import Context, Setting, Table, label
from jacstab.lab.figures._style import (
    LN10,
    THEORY,
    categorical,
    legend_below,
    pyplot,
    sequential,
    setting_text,
    suptitle,
)  # fmt: skip
from jacstab.lab.figures.depth import _pm, color_and_panels, verdict
from jacstab.theory.lyapunov import gaussian_lyapunov


def newman(s: Setting) -> np.ndarray | None:
    """Newman's exact Lyapunov exponents (natural log per layer) where they apply: linear activation, iid
    Gaussian weights, no pruning, no correlation; else None."""
    sp = s.spec
    exact = sp.activation == "linear" and sp.init == "gaussian" and sp.prune == "none"
    if not exact or sp.eta > 0 or sp.correlation != "none" or getattr(sp, "residual", 0):
        return None
    return gaussian_lyapunov(sp.width, sp.sigma2)[: s.values.shape[1]]


def top_theory(s: Setting, metric: str) -> float | None:
    """The theory for the first entry (natural log): the edge's ``log ||J^(L)||`` (spectrum) or the per-layer
    growth (lyapunov; Newman's ``lambda_1`` for linear Gaussian nets)."""
    if metric == "spectrum":
        p = s.predicted()
        return None if p is None else float(p[-1])
    full = newman(s)
    if full is not None:
        return float(full[0])
    g = s.prediction.growth_per_layer
    return g if math.isfinite(g) else None


def _figure(ctx: Context, ylabel: str, head: str):
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    colour, panel_fields = color_and_panels(ctx)
    keys = list(dict.fromkeys(tuple(getattr(s.spec, f) for f in panel_fields) for s in ctx.settings))
    ncol = min(3, len(keys))
    nrow = math.ceil(len(keys) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol + 0.6, 2.9 * nrow + 0.4), sharey=True, squeeze=False)
    cvals = [getattr(s.spec, colour) for s in ctx.settings] if colour else []
    cmap = (sequential if all(isinstance(v, (int, float)) for v in cvals) else categorical)(cvals) if colour else {}
    drew_theory, entries = False, {}
    for ax, key in itertools.zip_longest(axes.flat, keys):
        if key is None:
            ax.set_visible(False)
            continue
        for s in ctx.settings:
            if tuple(getattr(s.spec, f) for f in panel_fields) != key:
                continue
            c = cmap[getattr(s.spec, colour)] if colour else "C0"
            b = s.band
            i = np.arange(1, b.mean.size + 1)
            ax.plot(i, b.mean / LN10, color=c, linewidth=1.4, marker="." if b.mean.size < 40 else None)
            ci = b.n_finite >= 2
            ax.fill_between(i, np.where(ci, b.ci_low, np.nan) / LN10, np.where(ci, b.ci_high, np.nan) / LN10,
                            color=c, alpha=0.18, linewidth=0)
            if ctx.options.theory:
                full = newman(s) if ctx.metric == "lyapunov" else None
                top = top_theory(s, ctx.metric)
                if full is not None:
                    ax.plot(i, full / LN10, gid="theory", **THEORY)
                elif top is not None:
                    ax.plot([1], [top / LN10], marker="*", markersize=9, color=THEORY["color"], linestyle="none",
                            gid="theory")
                drew_theory |= top is not None
            text = setting_text(colour, getattr(s.spec, colour)) if colour else "measured"
            entries.setdefault(text, c)
        ax.set_title(", ".join(setting_text(f, v) for f, v in zip(panel_fields, key)))
        ax.set_xlabel("index $i$ (1 = largest)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, linewidth=1.4) for c in entries.values()]
    labels = list(entries)
    if drew_theory:
        handles.append(Line2D([], [], marker="*", markersize=9, **{**THEORY, "linestyle": THEORY["linestyle"]}))
        labels.append("theory where it applies (star: top value, n → ∞; dotted: Newman's exact spectrum)")
    legend_below(fig, handles, labels, ncol=2)
    suptitle(fig, f"{ctx.exp.name}: {head} (mean over seeds; shaded: 95% t-CI)", ctx.exp)
    fig.tight_layout()
    return fig


def spectrum_figure(ctx: Context):
    """``log10 sigma_i(J)`` vs ``i`` per setting."""
    return _figure(ctx, r"$\log_{10} \sigma_i(J)$", "singular values of J at depth L")


def lyapunov_figure(ctx: Context):
    """Lyapunov exponents ``lambda_i / ln 10`` (log10 growth per layer) vs ``i`` per setting."""
    return _figure(ctx, r"$\lambda_i / \ln 10$ (log$_{10}$ growth per layer)", "Lyapunov exponents")


def _top_table(ctx: Context, title: str, what: str, note: str) -> Table:
    rows, varying = [], ctx.varying
    for s in ctx.settings:
        b = mean_band(s.values[:, :1])
        m, h = b.mean[0] / LN10, b.half_width[0] / LN10
        top = top_theory(s, ctx.metric)
        th = None if top is None else top / LN10
        last = mean_band(s.values[:, -1:])
        rows.append({
            "setting": label(s.spec, varying), "seeds": len(s.seeds), f"{what} measured": _pm(m, h),
            f"{what} theory": th if th is not None else "no prediction",
            "measured - theory": m - th if th is not None and math.isfinite(m) else "",
            "verdict": verdict(m, h, th), f"entry {s.values.shape[1]} measured": _pm(last.mean[0] / LN10,
                                                                                     last.half_width[0] / LN10),
        })  # fmt: skip
    k = ctx.settings[0].values.shape[1] if ctx.settings else 0
    cols = ("setting", "seeds", f"{what} measured", f"{what} theory", "measured - theory", "verdict",
            f"entry {k} measured")
    return Table(title, cols, rows, note)


def spectrum_tables(ctx: Context) -> list[Table]:
    return [_top_table(
        ctx, "Top singular value log10 sigma_1(J) at depth L (95% t-CI over seeds)", "log10 sigma_1",
        "Theory: half the log10 of the free-probability edge of J J^T (n -> inf; jacstab.theory.predict), where "
        "it applies. The last column is the smallest stored singular value.",
    )] if ctx.settings else []


def lyapunov_tables(ctx: Context) -> list[Table]:
    return [_top_table(
        ctx, "Top Lyapunov exponent lambda_1 / ln 10 (log10 growth per layer, 95% t-CI over seeds)", "lambda_1",
        "Theory: (1/2) log10(sigma2_eff E[phi'^2]) (n -> inf), or Newman's exact lambda_1 for linear Gaussian "
        "networks (jacstab.theory.gaussian_lyapunov).",
    )] if ctx.settings else []


def certificate_tables(ctx: Context) -> list[Table]:
    """Per setting and quantity: the realised value (mean over seeds, 95% t-CI) next to the law's value."""
    from jacstab.certificate import certify

    rows, varying = [], ctx.varying
    for s in ctx.settings:
        law = certify(s.spec).items
        names = [i.name for i in law]
        names += ["realised sparsity"] if s.spec.prune != "none" else []
        names += ["realised correlation"] if s.spec.correlation_model.pair_correlation > 0 else []
        if len(names) != s.values.shape[1]:
            names = [f"quantity {j + 1}" for j in range(s.values.shape[1])]
        by_name = {i.name: i for i in law}
        for j, name in enumerate(names):
            b = mean_band(s.values[:, j : j + 1])
            item = by_name.get(name)
            rows.append({
                "setting": label(s.spec, varying), "quantity": name,
                "realised": _pm(float(b.mean[0]), float(b.half_width[0])),
                "law": item.value if item is not None else "",
                "must tend to": item.must_tend_to if item is not None else "",
            })  # fmt: skip
    return [Table(
        "Theorem 3.1's conditions: realised on the sampled networks vs the law (jacstab.certify)",
        ("setting", "quantity", "realised", "law", "must tend to"), rows,
        "Realised: mean over seeds with its 95% t-CI; law: the value of certify(spec). Asymptotic conditions "
        "(n -> inf): they explain, they do not promise.",
    )] if ctx.settings else []
