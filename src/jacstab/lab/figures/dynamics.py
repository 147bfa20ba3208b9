"""Figures and tables of the ``teacher`` metric: singular-value dynamics of a network trained with its gates frozen
at initialisation on a low-rank linear teacher, beside the decoupled prediction (paper 002;
:mod:`jacstab.training.teacher`). Bands are 95% t confidence intervals of the mean over seeds."""

from __future__ import annotations

import numpy as np

from jacstab.lab.analysis import mean_band
from jacstab.lab.figures._data import Context, Table, label
from jacstab.lab.figures._style import THEORY, pyplot, suptitle
from jacstab.lab.figures.spectral import band
from jacstab.lab.metrics import TEACHER_FIELDS
from jacstab.training.teacher import half_time

_F = {name: i for i, name in enumerate(TEACHER_FIELDS)}


def records(s) -> np.ndarray:
    """The stored values of one setting as ``(seeds, records, fields)`` (fields: :data:`TEACHER_FIELDS`)."""
    return s.values.reshape(len(s.seeds), -1, len(TEACHER_FIELDS))


def _col(rec, name):
    return rec[:, :, _F[name]]


def _ranks(rec) -> int:
    return int(np.isfinite(rec[0, 0, [_F[f"strength_{i}"] for i in (1, 2, 3)]]).sum())


def figure(ctx: Context):
    """One row per setting: (a) the fraction of each teacher mode learned, ``u_i^T M v_i / s_i`` (thin: each seed;
    bold: the mean over seeds) with the decoupled scalar-chain prediction (dotted, mean over seeds); (b) the top six
    singular values of the end-to-end map ``M`` (log10; mean over seeds with its 95% t-CI): ``r`` rise to the
    teacher's, the rest decay (the low-rank bias); (c) the alignment ``|<a_i, u_i>| |<b_i, v_i>|`` of ``M``'s
    ``i``-th singular pair with the teacher's (mean, 95% t-CI clipped to [0, 1])."""
    plt = pyplot()
    n = len(ctx.settings)
    fig, axes = plt.subplots(n, 3, figsize=(14, 3.4 * n + 0.8), squeeze=False)
    for row, s in zip(axes, ctx.settings):
        rec = records(s)
        steps = rec[0, :, _F["step"]]
        for i in range(1, _ranks(rec) + 1):
            col = f"C{i - 1}"
            target = _col(rec, f"strength_{i}")[:, :1]
            frac = _col(rec, f"mode_{i}") / target
            row[0].plot(steps, frac.T, color=col, lw=0.5, alpha=0.5)
            row[0].plot(steps, np.nanmean(frac, 0), color=col, lw=1.5, label=f"mode {i}: measured")
            if ctx.options.theory:
                pred = np.nanmean(_col(rec, f"predicted_{i}") / target, 0)
                row[0].plot(steps, pred, **{**THEORY, "color": col}, label=f"mode {i}: decoupled prediction")
            b = mean_band(_col(rec, f"align_{i}"))
            row[2].plot(steps, b.mean, color=col, lw=1.3, label=f"pair {i}")
            row[2].fill_between(steps, np.clip(b.ci_low, 0, 1), np.clip(b.ci_high, 0, 1), color=col, alpha=0.15,
                                lw=0)
        row[0].axhline(1.0, color="0.6", lw=0.6)
        for j in range(1, 7):
            vals = _col(rec, f"sigma_{j}")
            if np.isfinite(vals).any():
                band(row[1], steps, np.log10(vals), plt.cm.viridis(0.8 * (j - 1) / 5), alpha=0.2, lw=1.1,
                     label=f"$\\sigma_{j}$")
        row[0].set(xlabel="gradient step", ylabel=r"fraction learned $u_i^\top M v_i / s_i$")
        row[0].set_title(f"(a) {label(s.spec, ctx.varying)}, {len(s.seeds)} seeds", fontsize=8.5)
        row[0].legend(fontsize=6.5)
        row[1].set(xlabel="gradient step", ylabel=r"$\log_{10}\sigma_j(M)$")
        row[1].set_title("(b) top singular values of the end-to-end map M", fontsize=8.5)
        row[1].legend(fontsize=6.5, ncol=2)
        row[2].set(xlabel="gradient step", ylabel=r"$|\langle a_i,u_i\rangle|\,|\langle b_i,v_i\rangle|$",
                   ylim=(0, 1.02))
        row[2].set_title("(c) alignment of M's singular pairs with the teacher's", fontsize=8.5)
        row[2].legend(fontsize=6.5)
    suptitle(fig, "Fixed-gates training on a rank-3 linear teacher (paper 002): gradient descent on "
             "(1/2)||M - T D_0||_F^2", ctx.exp)
    fig.tight_layout()
    return fig


def _steps(b) -> str:
    m, h = b.mean[0], b.half_width[0]
    return f"{m:.0f} ± {h:.0f}" if np.isfinite(h) else f"{m:.0f}"


def tables(ctx: Context) -> list[Table]:
    """Per setting and mode: the step at which the mode reaches half its strength, measured (mean over seeds, 95%
    t-CI) and predicted, their ratio, and the final loss."""
    rows = []
    for s in ctx.settings:
        rec = records(s)
        steps = rec[0, :, _F["step"]]
        for i in range(1, _ranks(rec) + 1):
            target = _col(rec, f"strength_{i}")[:, 0]
            meas = np.array([half_time(steps, _col(rec, f"mode_{i}")[k], target[k]) for k in range(len(s.seeds))])
            pred = np.array([half_time(steps, _col(rec, f"predicted_{i}")[k], target[k])
                             for k in range(len(s.seeds))])
            bm, bp = mean_band(meas[None].T), mean_band(pred[None].T)
            ratio = bm.mean[0] / bp.mean[0] if bp.mean[0] > 0 else float("nan")
            rows.append({
                "setting": label(s.spec, ctx.varying), "mode": i, "s_i (mean)": f"{np.mean(target):.3f}",
                "half-time measured": _steps(bm) if np.isfinite(meas).all() else "not reached",
                "half-time predicted": _steps(bp) if np.isfinite(pred).all() else "not reached",
                "measured / predicted": f"{ratio:.2f}" if np.isfinite(ratio) else "",
                "final loss": f"{np.mean(_col(rec, 'loss')[:, -1]):.3g}",
            })  # fmt: skip
    cols = ("setting", "mode", "s_i (mean)", "half-time measured", "half-time predicted", "measured / predicted",
            "final loss")
    return [Table("Steps to reach half of each teacher mode's strength: measured vs decoupled prediction", cols,
                  rows, "The prediction assumes the mode is aligned from step 0; a ratio above 1 is the time the "
                  "network needs to align (paper 002 motivates the decoupling, it gives no formula).")]
