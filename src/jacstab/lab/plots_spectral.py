"""Figures for the spectral metrics (issue 13; papers 002 and 004). matplotlib is imported here only.

Each ``figures_for_<metric>(rows, out_dir)`` takes long-format store rows (:meth:`jacstab.lab.Store.rows`) and
writes PNG files, returning their paths (for the report registry). Logs on axes are natural unless the label says
log10; bands are 95% t confidence intervals of the mean over seeds (:func:`jacstab.lab.analysis.mean_band`).
Settings or indices without finite values are listed in the figure's title, never dropped silently.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jacstab.lab.analysis import mean_band
from jacstab.lab.spectral import alignment_parts, fit_finite_depth, settings, spectrum_by_depth
from jacstab.theory import residual_gated_exponent, residual_infinite_width_exponent, residual_linear_exponent
from jacstab.theory.gaussian import gaussian_constants

LN10 = math.log(10.0)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _name(spec) -> str:
    res = f", alpha={spec.residual:g}" if spec.residual else ""
    return f"{spec.activation}, n={spec.width}, sigma2={spec.sigma2:g}{res}"


def _band(ax, x, y, color, label):
    b = mean_band(y)
    ax.plot(x, b.mean, color=color, lw=1.2, label=label)
    ax.fill_between(x, b.ci_low, b.ci_high, color=color, alpha=0.25, lw=0)
    return b


def figures_for_log_spectrum_depths(rows, out_dir: str | Path) -> list[Path]:
    """Per setting, one figure with three panels: (a) separation: ``log10 sigma_i(J^(d))`` vs ``d`` for the stored
    top ``k`` (fanned out); (b) finite-depth exponents ``(1/d) log sigma_i`` vs ``d`` with the fitted
    ``lambda_i + b_i/d`` (dashed, fit on the seed mean over ``d >= L/10``); (c) gaps ``log(sigma_i/sigma_{i+1})``
    vs ``d``. Dead indices (``sigma = 0`` exactly, e.g. beyond the ReLU rank) are counted in the title."""
    plt, out = _plt(), []
    for s in settings(rows, "log_spectrum_depths"):
        ls = spectrum_by_depth(s)  # (seeds, L, k)
        depth, k = ls.shape[1], ls.shape[2]
        d = np.arange(1, depth + 1)
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
        colors = plt.cm.viridis(np.linspace(0, 0.9, k))
        dead = [i + 1 for i in range(k) if np.isneginf(ls[:, -1, i]).any()]
        means = np.full((depth, k), np.nan)
        for i in range(k):
            b = _band(axes[0], d, ls[:, :, i] / LN10, colors[i], f"i={i + 1}" if i < 8 else None)
            means[:, i] = b.mean * LN10
            _band(axes[1], d, ls[:, :, i] / d, colors[i], None)
            if i + 1 < k:
                gap = ls[:, :, i] - ls[:, :, i + 1]
                gap = np.where(np.isposinf(gap) | np.isnan(gap), np.nan, gap)  # sigma_{i+1} = 0: infinite gap
                _band(axes[2], d, gap, colors[i], f"i={i + 1}" if i < 8 else None)
        lam, bb = fit_finite_depth(d, means, d_min=max(1, depth // 10))
        for i in range(k):
            if np.isfinite(lam[i]):
                axes[1].plot(d, lam[i] + bb[i] / d, ls="--", color=colors[i], lw=0.8)
        axes[0].set(xlabel="depth d", ylabel="log10 sigma_i(J^(d))", title="separation (mean, 95% CI)")
        axes[1].set(xlabel="depth d", ylabel="(1/d) log sigma_i(J^(d))  [natural log per layer]",
                    title="finite-depth exponents; dashed: lambda_i + b_i/d fit")  # fmt: skip
        axes[2].set(xlabel="depth d", ylabel="log(sigma_i / sigma_{i+1})  [natural log]", title="gaps")
        axes[0].legend(fontsize=7)
        note = f"; sigma_i = 0 exactly for i in {dead} (not drawn; gaps to them infinite)" if dead else ""
        fig.suptitle(f"{_name(s.spec)}, {len(s.seeds)} seeds{note}", fontsize=9)
        fig.tight_layout()
        out.append(_save(fig, out_dir, f"separation-{s.spec.hash()}.png", plt))
    return out


def figures_for_alignment(rows, out_dir: str | Path) -> list[Path]:
    """Per setting: (a) mean ``cos^2`` of the principal angles between the head's top-``k`` left and the tail's
    top-``k`` right singular subspaces vs the split depth, with the chance level ``k/n``; (b) the same against the
    head's gap ``log(sigma_k/sigma_{k+1})`` (one point per seed and split): "separation forces alignment"."""
    plt, out = _plt(), []
    for s in settings(rows, "alignment"):
        cos2, gh, _ = alignment_parts(s)
        inf = int(np.isinf(gh).sum())
        gh = np.where(np.isinf(gh), np.nan, gh)
        d = np.arange(1, s.spec.depth)
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        _band(axes[0], d, cos2, "C0", "mean cos^2 (95% CI over seeds)")
        axes[0].set(xlabel="split depth d", ylabel="mean cos^2 of principal angles", ylim=(0, 1.02))
        axes[1].scatter(gh.ravel(), cos2.ravel(), s=6, alpha=0.6)
        axes[1].set(xscale="symlog", xlabel="head gap log(sigma_k/sigma_{k+1}) [natural log]",
                    ylabel="mean cos^2", ylim=(0, 1.02))  # fmt: skip
        extra = f"; {inf} points with an infinite head gap (sigma_(k+1) = 0) not drawn in (b)" if inf else ""
        fig.suptitle(f"alignment, {_name(s.spec)}, {len(s.seeds)} seeds{extra}", fontsize=9)
        fig.tight_layout()
        out.append(_save(fig, out_dir, f"alignment-{s.spec.hash()}.png", plt))
    return out


def _theory_curves(spec, alphas):
    p = gaussian_constants(spec.activation, spec.slope, 1.0).mean_dphi2
    inf = [residual_infinite_width_exponent(a, spec.sigma2, p) for a in alphas]
    if spec.activation == "linear":
        fin = [residual_linear_exponent(spec.width, a, spec.sigma2) for a in alphas]
        return inf, fin, "exact finite-n (noncentral chi-square)"
    fin = [residual_gated_exponent(spec.width, a, spec.sigma2, p) for a in alphas]
    return inf, fin, "fixed-gates finite-n approximation"


def figures_for_lyapunov_stderr(rows, out_dir: str | Path) -> list[Path]:
    """Top exponent ``lambda_1`` vs the residual weight ``alpha``, one curve per (activation, width, sigma2): the
    seed mean with a 95% interval ``1.96 sqrt(mean(SE^2)/S + var_seeds/S)``, beside the theory of
    :mod:`jacstab.theory.residual` (solid: ``n -> inf``; dashed: finite ``n``). Settings with ``alpha = 0`` or
    activations without a prediction (tanh) are drawn without theory, and the title says so."""
    plt, out = _plt(), []
    groups: dict = {}
    for s in settings(rows, "lyapunov_stderr"):
        key = (s.spec.activation, s.spec.width, s.spec.sigma2, s.spec.depth)
        groups.setdefault(key, []).append(s)
    if not groups:
        return out
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    notes = []
    for c, (key, ss) in enumerate(sorted(groups.items())):
        ss = sorted(ss, key=lambda t: t.spec.residual)
        alphas = np.array([t.spec.residual for t in ss])
        k = ss[0].values.shape[1] // 2
        lam = [t.values[:, 0] for t in ss]
        se = [t.values[:, k] for t in ss]
        mean = np.array([np.mean(v) for v in lam])
        half = np.array([1.96 * math.sqrt(np.mean(e**2) / len(v) + (np.var(v, ddof=1) / len(v) if len(v) > 1 else 0))
                         for v, e in zip(lam, se)])  # fmt: skip
        col = f"C{c}"
        ax.errorbar(alphas, mean, yerr=half, fmt="o", color=col, ms=4, capsize=3,
                    label=f"{key[0]}, n={key[1]}, sigma2={key[2]:g}, L={key[3]} (measured)")  # fmt: skip
        pos = alphas[alphas > 0]
        if key[0] == "tanh" or not len(pos):
            notes.append(f"{key[0]}: no prediction")
            continue
        grid = np.linspace(pos.min(), pos.max(), 60)
        inf, fin, what = _theory_curves(ss[0].spec, grid)
        ax.plot(grid, inf, color=col, lw=1, label="(1/2) log(1 + alpha^2 sigma2 p), n -> inf")
        ax.plot(grid, fin, color=col, lw=1, ls="--", label=what)
    ax.set(xlabel="residual weight alpha", ylabel="top Lyapunov exponent lambda_1 [natural log per layer]")
    ax.legend(fontsize=6)
    ax.set_title("top exponent vs alpha (paper 004)" + (f"; {', '.join(notes)}" if notes else ""), fontsize=9)
    fig.tight_layout()
    out.append(_save(fig, out_dir, "residual-alpha.png", plt))
    return out


def _save(fig, out_dir, name, plt) -> Path:
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
