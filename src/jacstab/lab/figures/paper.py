"""The paper's Figures 1-4 (Dadoun et al. 2025, Sections 2-5) panel by panel, with the paper's captions.

Each layout draws from the stored depth curves of its built-in experiment (:mod:`jacstab.lab.builtin`); its
``applies`` check falls back to the generic figure when a store's experiment of that name has another grid.
"""

from __future__ import annotations

import numpy as np

from jacstab.lab.analysis import mean_band
from jacstab.lab.figures._data import Context
from jacstab.lab.figures._style import (
    LN10,
    SCALING_TEXT,
    THEORY,
    legend_below,
    log10_label,
    pyplot,
    sequential,
    setting_text,
    suptitle,
    value_text,
)  # fmt: skip
from jacstab.lab.figures.depth import DEPTH_X, draw, legend_entries
from jacstab.theory.scaling import compare_magnitude_factors

PAPER = "Dadoun, Hayou, Salam, Seddik, Youssef (2025)"
CAPTIONS = {
    "fig1": "Illustration of the Jacobian norm at initialization in an MLP network of width n = 256 and varying "
    "depth. The input is randomly selected from MNIST. All results are averaged over 3 runs. (Left) Impact of "
    "depth on the Jacobian norm for different sigma_w. (Right) Evolution of the Jacobian norm as a function of "
    "depth for critical initialization.",
    "fig2": "Jacobian norm after pruning at initialization as depth increases in a randomly pruned MLP of width "
    "n = 256 (input sampled randomly from MNIST). (Left) Without scaling. (Right) With scaling.",
    "fig3": "Jacobian norm after pruning at initialization as depth increases in a score-based pruned MLP of width "
    "n = 256 (input sampled randomly from MNIST). (Upper Left) Without scaling (scaling factor = 1). (Upper "
    "Right) scaling factor = (1 - s_n)^(-1/2). (Lower Left) Scaling factor is calculated based on Theorem 4.3. "
    "(Lower Right) Comparison of the scaling factors as a function of sparsity level.",
    "fig4": "Illustration of the Jacobian norm for a randomly selected input with an MLP architecture of width "
    "n = 256 and varying depths. All results are averaged over 3 runs, and confidence intervals are highlighted "
    "with shaded areas. (Left) Impact of Depth on the Jacobian norm for different correlation levels. (Right) "
    "Impact of the injection of the correlation between the weights on the Jacobian norm.",
    "fig7-8": "Test (validation) accuracy [Fig. 7] and test loss [Fig. 8] of a width n = 256 randomly pruned MLP of "
    "varying depths trained on Fashion-MNIST with learning rate 0.01. Top: without scaling; bottom: with scaling.",
    "fig9-iid": "(Left) Test error after convergence (70 epochs) as a function of depth in an MLP with width n = 256 "
    "trained with SGD with learning rate 0.001 on MNIST, for 3 choices of sigma_w. The critical initialization "
    "sigma_w^2 = 2 guarantees trainability up to depth 100.",
    "fig9-eta": "(Right) Test error after convergence (70 epochs) as a function of depth in an MLP with width "
    "n = 256 trained with SGD with learning rate 0.001 on Fashion-MNIST, for 3 choices of the correlation "
    "parameter eta. When the correlation is low, the network remains trainable for large depths.",
}
NOTES = {
    "fig1": "jacstab draws the left panel on a log10 axis and the right panel (sigma_w^2 = 2 only) on a linear "
    "axis, where the sub-exponential growth shows; the right panel's line is the geometric mean over seeds.",
    "fig2": "Colour: sparsity (sequential). Theory: the free-probability edge for Bernoulli masks, which covers "
    "random pruning with and without the (1-s)^(-1/2) factor.",
    "fig3": "The lower left panel holds the Theorem 4.3 factor as printed (solid), which we find shrinks the "
    "network, and the factor that makes condition (ii) of Theorem 3.1 hold exactly (dash-dot), which is stable "
    "(docs/scaling.md). No free-probability prediction for magnitude pruning (the pruned matrix is not "
    "orthogonally invariant): no theory line. Lower right: the factors vs sparsity at this width.",
    "fig7-8": "Heatmaps of the final test accuracy and loss over depth x sparsity (seed means). Quick size: width "
    "128, 2 epochs on 4,000 examples. Sparsities 0.5..0.99 straddle the edge of stability (Theorem 4.1).",
    "fig9-iid": "Trained on MNIST only when reproduce is given --data-dir with MNIST's IDX files, else on "
    "Fashion-MNIST (the suptitle names the data). Quick size: width 128, 2 epochs on 4,000 examples, lr 0.01.",
    "fig9-eta": "eta = 0 is the iid reference; the paper does not give its three eta values, jacstab uses 2^-8, "
    "2^-5, 2^-3. Quick size: width 128, 2 epochs on 4,000 examples, lr 0.01.",
    "fig4": "Theory is drawn for eta = 0 (iid weights) only: jacstab.theory.predict gives no prediction for eta "
    "> 0 (a shared rank-one component; Theorem 5.1 only bounds when the iid limit still holds), so none is "
    "drawn. Right: log10 ||J^(d)|| at d = L/2 and d = L against eta (95% t-CI over the live seeds; 'k/K "
    "live' where some seeds have J = 0 exactly).",
}


def _values(ctx: Context, field: str) -> set:
    return {getattr(s.spec, field) for s in ctx.settings}


def _depth_panels(ctx: Context, axes, key: str, groups, *, colour: str, styles=None):
    """Panels of depth curves: ``groups[i]`` holds the ``key`` values drawn in ``axes[i]``; colour by ``colour``
    (sequential), line style per ``key`` value from ``styles``. Returns the legend entries."""
    cmap = sequential(_values(ctx, colour))
    dead = theory = False
    for ax, (title, keep) in zip(axes, groups):
        for s in ctx.settings:
            if getattr(s.spec, key) in keep:
                ls = (styles or {}).get(getattr(s.spec, key), "-")
                draw(ax, s, cmap[getattr(s.spec, colour)], theory=ctx.options.theory, linestyle=ls)
                dead |= bool(s.band.all_dead.any())
                theory |= ctx.options.theory and s.predicted() is not None
        ax.set_title(title)
        ax.set_xlabel(DEPTH_X)
        ax.set_ylabel(log10_label(r"\|J^{(d)}\|_2"))
    items = [(c, "-", setting_text(colour, v)) for v, c in cmap.items()]
    if len(set((styles or {}).values())) > 1:  # line style carries the scaling: name each style
        items += [("0.3", ls, SCALING_TEXT.get(v, v)) for v, ls in styles.items() if v in _values(ctx, key)
                  and any(v in keep for _, keep in groups if len(keep) > 1)]
    return legend_entries(items, theory=theory, dead=dead)


def applies_fig1(ctx: Context) -> bool:
    return ctx.varying == ["sigma2"] and 2.0 in _values(ctx, "sigma2")


def fig1(ctx: Context):
    """(a) every sigma_w^2 on a log10 axis; (b) sigma_w^2 = 2 alone on a linear axis (sub-exponential growth)."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.2, 3.6))
    handles, labels = _depth_panels(ctx, [a], "sigma2", [(r"(a) impact of depth for each $\sigma_w^2$",
                                                          _values(ctx, "sigma2"))], colour="sigma2")
    crit = [s for s in ctx.settings if s.spec.sigma2 == 2.0]
    color = sequential(_values(ctx, "sigma2"))[2.0]
    for s in crit:
        draw(b, s, color, theory=ctx.options.theory, linear=True)
    b.set_title(r"(b) critical initialisation $\sigma_w^2 = 2$ (linear axis)")
    b.set_xlabel(DEPTH_X)
    b.set_ylabel(r"$\|J^{(d)}\|_2$ (geometric mean over seeds)")
    _clip_linear(b, crit)
    legend_below(fig, handles, labels, ncol=3)
    suptitle(fig, f"Fig. 1 ({PAPER}): Jacobian norm vs depth at initialisation", ctx.exp)
    fig.tight_layout()
    return fig


def _clip_linear(ax, settings) -> None:
    """Linear axis from 0 to 1.6 x the largest mean or theory; says so when the CI band extends beyond it
    (with few seeds the exponentiated t-interval is much wider than the curve)."""
    tops = [float(np.nanmax(np.exp(s.band.mean))) for s in settings]
    tops += [float(np.exp(np.max(s.predicted()))) for s in settings if s.predicted() is not None]
    top = 1.6 * max(tops, default=1.0)
    ax.set_ylim(0, top)
    if any(np.nanmax(np.exp(s.band.ci_high), initial=0.0) > top for s in settings):
        ax.text(0.02, 0.97, "95% t-CI band clipped at the top of the axis", transform=ax.transAxes, fontsize=7,
                va="top", color="0.3")


def applies_fig2(ctx: Context) -> bool:
    return set(ctx.varying) <= {"sparsity", "scaling"} and _values(ctx, "scaling") <= {"none", "random"} \
        and {s.spec.prune for s in ctx.settings} == {"random"}


def fig2(ctx: Context):
    """(a) random pruning without scaling; (b) with the (1-s)^(-1/2) factor; colour = sparsity."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.2, 3.6), sharey=True)
    groups = [("(a) without scaling", {"none"}), (r"(b) with scaling $(1-s)^{-1/2}$", {"random"})]
    handles, labels = _depth_panels(ctx, axes, "scaling", groups, colour="sparsity")
    legend_below(fig, handles, labels, ncol=3)
    suptitle(fig, f"Fig. 2 ({PAPER}): random pruning at initialisation (Theorem 4.1)", ctx.exp)
    fig.tight_layout()
    return fig


def applies_fig3(ctx: Context) -> bool:
    return set(ctx.varying) <= {"sparsity", "scaling"} and {s.spec.prune for s in ctx.settings} == {"magnitude"}


def fig3(ctx: Context):
    """2 x 2: no scaling; (1-s)^(-1/2); the Theorem 4.3 factor (as printed, and exact); factors vs sparsity."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(9.2, 6.8))
    groups = [("(a) without scaling (factor 1)", {"none"}), (r"(b) factor $(1-s)^{-1/2}$", {"random"}),
              ("(c) Theorem 4.3 factor: as printed (solid), exact (dash-dot)", {"paper-magnitude", "exact"})]
    styles = {"none": "-", "random": "-", "paper-magnitude": "-", "exact": "-."}
    handles, labels = _depth_panels(ctx, axes.flat[:3], "scaling", groups, colour="sparsity", styles=styles)
    _factor_panel(axes.flat[3], ctx)
    legend_below(fig, handles, labels, ncol=3)
    suptitle(fig, f"Fig. 3 ({PAPER}): magnitude pruning at initialisation (Theorem 4.3)", ctx.exp)
    fig.tight_layout()
    return fig


def _factor_panel(ax, ctx: Context) -> None:
    """Scaling factors vs sparsity for magnitude pruning at this width (the paper's lower right panel)."""
    n = ctx.settings[0].spec.width
    s = np.linspace(0.02, 0.98, 49)
    rows = compare_magnitude_factors(n, s, sigma2=ctx.settings[0].spec.sigma2)
    for key, text, style in (("random", r"$(1-s)^{-1/2}$ (random pruning)", "C0"),
                             ("exact", "exact condition (ii) factor", "C2"),
                             ("paper", "Theorem 4.3 as printed", "C3")):
        ax.plot(s, [r[key] for r in rows], color=style, label=text)
    grid = sorted(_values(ctx, "sparsity"))
    for r in compare_magnitude_factors(n, grid, sigma2=ctx.settings[0].spec.sigma2):
        ax.plot([r["sparsity"]] * 2, [r["exact"], r["paper"]], "o", color="0.4", markersize=3)
    ax.set_yscale("log", base=10)
    ax.set_xlabel(r"sparsity $s$")
    ax.set_ylabel("scaling factor (log10 axis)")
    ax.set_title(f"(d) scaling factors vs sparsity (n = {n}; dots: the grid)")
    ax.legend(fontsize=7, loc="upper left", frameon=False)


def applies_fig4(ctx: Context) -> bool:
    return ctx.varying == ["eta"] and 0.0 in _values(ctx, "eta")


def fig4(ctx: Context):
    """(a) depth curves per eta (colour); (b) log10 ||J^(d)|| at d = L/2 and L against eta."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.2, 3.6))
    handles, labels = _depth_panels(ctx, [a], "eta", [(r"(a) impact of depth for each $\eta$", _values(ctx, "eta"))],
                                    colour="eta")
    labels = [t.replace(r"$\eta$ = 0", r"$\eta$ = 0 (iid)") for t in labels]
    labels = [r"theory for $\eta = 0$ only ($n \to \infty$); no prediction for $\eta > 0$" if "theory" in t else t
              for t in labels]
    _eta_panel(b, ctx)
    legend_below(fig, handles, labels, ncol=3)
    suptitle(fig, rf"Fig. 4 ({PAPER}): correlated weights $W = W_{{ind}} + \eta\, w$ (Theorem 5.1)", ctx.exp)
    fig.tight_layout()
    return fig


def _eta_panel(ax, ctx: Context) -> None:
    settings = sorted(ctx.settings, key=lambda s: s.spec.eta)
    etas = np.array([s.spec.eta for s in settings])
    pos = etas[etas > 0]
    lin = pos.min() if pos.size else 1.0
    L = settings[0].values.shape[1]
    for depth, marker, colour in ((max(1, L // 2), "s", "0.55"), (L, "o", "0.1")):
        bands = [mean_band(s.values[:, depth - 1 : depth]) for s in settings]
        y = np.array([bd.mean[0] for bd in bands]) / LN10
        h = np.array([bd.half_width[0] for bd in bands]) / LN10
        ax.errorbar(etas, y, yerr=np.where(np.isfinite(h), h, 0.0), marker=marker, color=colour, capsize=3,
                    markersize=4, linewidth=1, label=f"measured, d = {depth} (95% t-CI)")
        for x, yy, bd in zip(etas, y, bands):  # a mean over survivors says how many seeds it holds
            if bd.n_finite[0] < bd.n_seeds and np.isfinite(yy):
                ax.annotate(f"{int(bd.n_finite[0])}/{bd.n_seeds} live", (x, yy), xytext=(-8, 6),
                            textcoords="offset points", fontsize=6.5, color=colour, ha="right")
        if ctx.options.theory:
            for s in settings:
                p = s.predicted()
                if p is not None:
                    ax.plot([s.spec.eta], [p[depth - 1] / LN10], marker="*", markersize=9, linestyle="none",
                            color=THEORY["color"], zorder=5, gid="theory")
    if ctx.options.theory:
        ax.plot([], [], marker="*", linestyle="none", color=THEORY["color"], label=r"theory ($\eta = 0$ only)")
    ax.set_xscale("symlog", linthresh=lin, base=2)
    ax.set_xticks(etas)
    ax.set_xticklabels([value_text("eta", float(e)) if e > 0 else "0" for e in etas])
    ax.set_xlabel(r"$\eta$ (symlog axis, base 2)")
    ax.set_ylabel(log10_label(r"\|J^{(d)}\|_2"))
    ax.set_title(r"(b) impact of the correlation $\eta$")
    ax.legend(fontsize=7, frameon=False)
