"""Figures and tables of the spectral metrics (papers 002 and 004): separation and finite-depth exponents
(``log_spectrum_depths``), singular-vector alignment (``alignment``) and the top Lyapunov exponent vs the residual
weight with its theory (``lyapunov_stderr``).

Logs are natural unless a label says log10; bands are 95% t confidence intervals of the mean over seeds
(:func:`jacstab.lab.analysis.mean_band`). Indices whose singular value is exactly 0 (beyond the rank of a ReLU
product) and points with an infinite gap are counted in the titles, never dropped silently. Theory is drawn only
where it applies (``ctx.options.theory``) and the titles say "no prediction" elsewhere.
"""

from __future__ import annotations

import math

import numpy as np

from jacstab.lab.analysis import mean_band
from jacstab.lab.figures._data import Context, Table, label
from jacstab.lab.figures._style import LN10, THEORY, pyplot, suptitle
from jacstab.lab.figures.depth import _pm
from jacstab.lab.spectral import alignment_parts, fit_finite_depth, spectrum_by_depth
from jacstab.theory import residual_gated_exponent, residual_infinite_width_exponent, residual_linear_exponent
from jacstab.theory.gaussian import gaussian_constants


def band(ax, x, y, color, *, alpha: float = 0.25, **kw):
    """Draw the seed mean of ``y`` (``(seeds, len(x))``) with its 95% t-CI band; ``kw`` go to the line."""
    b = mean_band(y)
    ax.plot(x, b.mean, color=color, **{"lw": 1.2, **kw})
    ax.fill_between(x, b.ci_low, b.ci_high, color=color, alpha=alpha, lw=0)
    return b


def _name(ctx: Context, s) -> str:
    return label(s.spec, ctx.varying) + f" ({len(s.seeds)} seeds)"


def _rows(ctx: Context, ncols: int, width: float = 4.6, height: float = 3.3):
    plt = pyplot()
    n = len(ctx.settings)
    fig, axes = plt.subplots(n, ncols, figsize=(width * ncols, height * n + 0.8), squeeze=False)
    return fig, axes


def _fits(s):
    ls = spectrum_by_depth(s)  # (seeds, L, k)
    depth = ls.shape[1]
    d = np.arange(1, depth + 1)
    means = np.stack([mean_band(ls[:, :, i]).mean for i in range(ls.shape[2])], 1)
    lam, b = fit_finite_depth(d, means, d_min=max(1, depth // 10))
    return ls, d, lam, b


def separation_figure(ctx: Context):
    """One row per setting: (a) ``log10 sigma_i(J^(d))`` vs ``d`` for the stored top ``k`` (fanned out); (b) the
    finite-depth exponents ``(1/d) log sigma_i`` with the fitted ``lambda_i + b_i/d`` (dashed; least squares on the
    seed mean over ``d >= L/10``, :func:`jacstab.lab.spectral.fit_finite_depth`); (c) the gaps
    ``log(sigma_i/sigma_{i+1})`` vs ``d``."""
    plt = pyplot()
    fig, axes = _rows(ctx, 3)
    for row, s in zip(axes, ctx.settings):
        ls, d, lam, bb = _fits(s)
        k = ls.shape[2]
        colors = plt.cm.viridis(np.linspace(0, 0.85, k))
        dead = [i + 1 for i in range(k) if np.isneginf(ls[:, -1, i]).any()]
        for i in range(k):
            txt = f"$i = {i + 1}$" if i < 8 else None
            band(row[0], d, ls[:, :, i] / LN10, colors[i], label=txt)
            band(row[1], d, ls[:, :, i] / d, colors[i])
            if np.isfinite(lam[i]):
                row[1].plot(d, lam[i] + bb[i] / d, ls="--", color=colors[i], lw=0.8)
            if i + 1 < k:
                with np.errstate(invalid="ignore"):  # -inf - -inf: both zero, no gap to draw
                    gap = ls[:, :, i] - ls[:, :, i + 1]
                band(row[2], d, np.where(np.isposinf(gap) | np.isnan(gap), np.nan, gap), colors[i])
        note = f"; $\\sigma_i = 0$ exactly for i in {dead} (not drawn)" if dead else ""
        row[0].set(xlabel="depth $d$", ylabel=r"$\log_{10}\sigma_i(J^{(d)})$")
        row[0].set_title(f"(a) separation: {_name(ctx, s)}{note}", fontsize=8.5)
        row[1].set(xlabel="depth $d$", ylabel=r"$\frac{1}{d}\ln\sigma_i(J^{(d)})$ [nats per layer]")
        row[1].set_title(r"(b) finite-depth exponents; dashed: fit $\lambda_i + b_i/d$", fontsize=8.5)
        row[2].set(xlabel="depth $d$", ylabel=r"$\ln(\sigma_i/\sigma_{i+1})$")
        row[2].set_title("(c) gaps between consecutive singular values", fontsize=8.5)
        row[0].legend(fontsize=6.5, ncol=2)
    suptitle(fig, "Spectral separation with depth (paper 002): mean over seeds, 95% t-CI", ctx.exp)
    fig.tight_layout()
    return fig


def separation_tables(ctx: Context) -> list[Table]:
    """The fitted exponents ``lambda_1..lambda_k`` and first gap per setting, with the measured ``(1/L) log
    sigma_i`` at the deepest depth."""
    rows = []
    for s in ctx.settings:
        ls, d, lam, bb = _fits(s)
        last = mean_band(ls[:, -1, :] / d[-1])
        rows.append({
            "setting": label(s.spec, ctx.varying), "seeds": len(s.seeds),
            "lambda_1 (fit)": f"{lam[0]:+.4f}", "b_1 (fit)": f"{bb[0]:+.3f}",
            "(1/L) ln sigma_1 at L": _pm(last.mean[0], last.half_width[0]),
            "lambda_1 - lambda_2 (fit)": f"{lam[0] - lam[1]:.4f}" if len(lam) > 1 else "",
            "lambda_k (fit)": f"{lam[-1]:+.4f}" if math.isfinite(lam[-1]) else "sigma_k = 0 (rank)",
        })  # fmt: skip
    cols = ("setting", "seeds", "lambda_1 (fit)", "b_1 (fit)", "(1/L) ln sigma_1 at L", "lambda_1 - lambda_2 (fit)",
            "lambda_k (fit)")
    return [Table("Finite-depth exponents (natural log per layer): fit (1/d) ln sigma_i = lambda_i + b_i / d "
                  "over d >= L/10", cols, rows, "95% t-CI over seeds at depth L; paper 002's finite-depth view.")]


def alignment_figure(ctx: Context):
    """One row per setting: (a) mean ``cos^2`` of the principal angles between the head's top-``k`` left and the
    tail's top-``k`` right singular subspaces vs the split depth, with the chance level ``k/n``; (b) the same
    against the head's gap ``log(sigma_k/sigma_{k+1})`` (one point per seed and split): "separation forces
    alignment"."""
    fig, axes = _rows(ctx, 2, width=5.0)
    for row, s in zip(axes, ctx.settings):
        cos2, gh, _ = alignment_parts(s)
        inf = int(np.isinf(gh).sum())
        gh = np.where(np.isinf(gh), np.nan, gh)
        d = np.arange(1, s.spec.depth)
        k = _alignment_k(ctx)
        band(row[0], d, cos2, "C0", label="measured (mean, 95% t-CI)")
        row[0].axhline(k / s.spec.width, **THEORY, label=f"chance level k/n = {k}/{s.spec.width}")
        row[0].set(xlabel="split depth $d$", ylabel=r"mean $\cos^2$ of principal angles", ylim=(0, 1.02))
        row[0].set_title(f"(a) {_name(ctx, s)}", fontsize=8.5)
        row[0].legend(fontsize=7)
        row[1].scatter(gh.ravel(), cos2.ravel(), s=6, alpha=0.6)
        row[1].set(xlabel=r"head gap $\ln(\sigma_k/\sigma_{k+1})$ [nats]", ylabel=r"mean $\cos^2$", ylim=(0, 1.02))
        extra = f"; {inf} points with sigma_(k+1) = 0 (infinite gap) not drawn" if inf else ""
        row[1].set_title(f"(b) alignment vs separation{extra}", fontsize=8.5)
    suptitle(fig, "Singular-vector alignment of head and tail (paper 002)", ctx.exp)
    fig.tight_layout()
    return fig


def _alignment_k(ctx: Context) -> int:
    return int(next(dict(m.params) for m in ctx.exp.metrics if m.name == "alignment")["k"])


def alignment_tables(ctx: Context) -> list[Table]:
    """Mean ``cos^2`` over the middle split, its 95% CI and the chance level, per setting."""
    rows, k = [], _alignment_k(ctx) if ctx.settings else 1
    for s in ctx.settings:
        cos2, gh, _ = alignment_parts(s)
        mid = cos2.shape[1] // 2
        b = mean_band(cos2[:, mid : mid + 1])
        g = gh[:, mid]
        rows.append({"setting": label(s.spec, ctx.varying), "seeds": len(s.seeds), "split d": mid + 1,
                     "mean cos^2": _pm(b.mean[0], b.half_width[0]), "chance k/n": f"{k / s.spec.width:.4f}",
                     "head gap (median)": f"{np.median(g):.3g}" if np.isfinite(g).any() else "infinite"})
    cols = ("setting", "seeds", "split d", "mean cos^2", "chance k/n", "head gap (median)")
    return [Table("Alignment at the middle split (mean cos^2 of principal angles, 95% t-CI over seeds)", cols, rows,
                  "1 = the head's top left and the tail's top right singular subspaces coincide; k/n = chance.")]


def _theory(spec, alphas):
    p = gaussian_constants(spec.activation, spec.slope, 1.0).mean_dphi2
    inf = [residual_infinite_width_exponent(a, spec.sigma2, p) for a in alphas]
    if spec.activation == "linear":
        return inf, [residual_linear_exponent(spec.width, a, spec.sigma2) for a in alphas], "exact finite n"
    return inf, [residual_gated_exponent(spec.width, a, spec.sigma2, p) for a in alphas], "fixed-gates finite n"


def _lambda1(s):
    k = s.values.shape[1] // 2
    lam, se = s.values[:, 0], s.values[:, k]
    var = np.var(lam, ddof=1) / len(lam) if len(lam) > 1 else 0.0
    return float(np.mean(lam)), 1.96 * math.sqrt(np.mean(se**2) / len(lam) + var)


def _groups(ctx: Context):
    groups: dict = {}
    for s in ctx.settings:
        groups.setdefault((s.spec.activation, s.spec.width, s.spec.sigma2, s.spec.depth), []).append(s)
    return {k: sorted(v, key=lambda t: t.spec.residual) for k, v in sorted(groups.items())}


def exponents_figure(ctx: Context):
    """Top exponent ``lambda_1`` vs the residual weight ``alpha``, one series per (activation, n, sigma2, L): seed
    mean with a 95% interval ``1.96 sqrt(mean(SE^2)/S + var_seeds/S)`` (batch-means SE within a product plus the
    spread over seeds), beside :mod:`jacstab.theory.residual` (solid: ``n -> inf``; dashed: finite ``n``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    notes = []
    for c, (key, ss) in enumerate(_groups(ctx).items()):
        alphas = np.array([t.spec.residual for t in ss])
        mh = np.array([_lambda1(t) for t in ss])
        col = f"C{c}"
        ax.errorbar(alphas, mh[:, 0], yerr=mh[:, 1], fmt="o", color=col, ms=4, capsize=3,
                    label=f"{key[0]}, n = {key[1]}, $\\sigma_w^2$ = {key[2]:g}, L = {key[3]} (measured, 95% CI)")
        pos = alphas[alphas > 0]
        if key[0] not in ("relu", "linear", "leaky_relu", "abs") or not len(pos):
            notes.append(f"{key[0]}: no prediction")
            continue
        if ctx.options.theory:
            grid = np.linspace(pos.min(), pos.max(), 60)
            inf, fin, what = _theory(ss[0].spec, grid)
            ax.plot(grid, inf, color=col, lw=1, label=r"$\frac{1}{2}\ln(1 + \alpha^2\sigma_w^2 p)$, $n\to\infty$")
            ax.plot(grid, fin, color=col, lw=1, ls="--", label=what)
    ax.set(xlabel=r"residual weight $\alpha$", ylabel=r"top Lyapunov exponent $\lambda_1$ [nats per layer]")
    ax.legend(fontsize=6.5)
    ax.set_title("Top exponent vs residual weight (paper 004)" + (f"; {', '.join(notes)}" if notes else ""),
                 fontsize=9)
    fig.tight_layout()
    return fig


def exponents_tables(ctx: Context) -> list[Table]:
    """``lambda_1`` measured (95% CI) against the finite-``n`` and ``n -> inf`` theory, with the z-score."""
    rows = []
    for key, ss in _groups(ctx).items():
        for s in ss:
            m, h = _lambda1(s)
            row = {"activation": key[0], "n": key[1], "sigma2": key[2], "alpha": s.spec.residual,
                   "lambda_1 measured": _pm(m, h)}
            if s.spec.residual > 0 and key[0] in ("relu", "linear", "leaky_relu", "abs"):
                inf, fin, what = _theory(s.spec, [s.spec.residual])
                row.update({"finite-n theory": f"{fin[0]:+.4f} ({what})", "n -> inf": f"{inf[0]:+.4f}",
                            "z (finite n)": f"{(m - fin[0]) / (h / 1.96):+.2f}" if h > 0 else ""})
            else:
                row.update({"finite-n theory": "no prediction", "n -> inf": "no prediction", "z (finite n)": ""})
            rows.append(row)
    cols = ("activation", "n", "sigma2", "alpha", "lambda_1 measured", "finite-n theory", "n -> inf", "z (finite n)")
    return [Table("Top Lyapunov exponent of residual networks (natural log per layer)", cols, rows,
                  "|z| < 2: agreement within the 95% interval.")]
