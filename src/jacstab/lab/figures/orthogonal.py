"""Figures and tables of the ``train_isometry`` metric (paper 003, built-ins ``orthogonal-jacobian`` and
``orthogonal-jacobian-reg``): trainability vs depth of networks with and without orthogonal Jacobians.

Four panels, one line per architecture (read from the spec: ReLU He, ReLU orthogonal, residual ReLU, the
orthogonal-Jacobian nets, the partial-isometry net; a regularised run is named by its ``jac_reg``):

* final test accuracy vs depth (seed mean; 95% t-interval over seeds as a band when there are several; chance
  dashed);
* ``ln ||J||`` (natural log, at test image 0) at initialisation (open markers, dashed) and after training (filled);
* the isometry defect ``||J^T J - I||_F / sqrt(n)`` before (dashed) and after (solid) training, on a symmetric-log
  axis (linear below 1e-6, log10 above: an exactly orthogonal Jacobian has defect 0, which a log axis cannot show);
* training wall time per epoch (seconds, linear) vs depth.

Diverged runs are shown at chance accuracy and counted in the table, never dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jacstab.lab.figures._data import Context, Table
from jacstab.lab.figures._style import pyplot
from jacstab.lab.figures.training import mean_ci
from jacstab.lab.metrics import get_metric
from jacstab.specs import NetSpec

SYMLOG_LINTHRESH = 1e-6


@dataclass(frozen=True)
class Run:
    """One stored ``train_isometry`` trial: its spec, seed, per-epoch records and the regulariser weight."""

    spec: NetSpec
    seed: int
    records: tuple[dict, ...]
    jac_reg: float

    @property
    def final(self) -> dict:
        return self.records[-1]


def runs(ctx: Context) -> list[Run]:
    """The context's stored values as :class:`Run` s (SQLite NULLs -> NaN)."""
    metric = get_metric("train_isometry")
    mu = float(dict(next(m.params for m in ctx.exp.metrics if m.name == ctx.metric)).get("jac_reg", 0.0))
    out = []
    for s in ctx.settings:
        for row, seed in zip(s.values, s.seeds):
            vals = [math.nan if v is None else float(v) for v in row]
            vals = vals[: len(vals) - len(vals) % len(metric.fields)]
            recs = tuple(metric.records(vals))
            if recs:
                out.append(Run(s.spec, seed, recs, mu))
    return out


def arch(spec: NetSpec, mu: float = 0.0) -> str:
    """A plain name for the architecture of ``spec`` (paper 003's comparison)."""
    reg = f" + Jacobian penalty mu={mu:g}" if mu else ""
    if spec.block == "reflection":
        return f"reflection block (orthogonal, sigma2={spec.sigma2:g}){reg}"
    if spec.activation in ("groupsort", "abs"):
        return f"{spec.activation} + {spec.init} (sigma2={spec.sigma2:g}){reg}"
    if spec.activation == "half_relu":
        return f"partial isometry: half_relu + {spec.init} (sigma2={spec.sigma2:g}){reg}"
    if spec.residual:
        return f"residual {spec.activation} (alpha={spec.residual:g}, sigma2={spec.sigma2:g}){reg}"
    init = "He Gaussian" if spec.init == "gaussian" else "orthogonal"
    return f"{spec.activation} + {init} (sigma2={spec.sigma2:g}){reg}"


def _groups(rs: list[Run]) -> dict[str, dict[int, list[Run]]]:
    out: dict[str, dict[int, list[Run]]] = {}
    for r in rs:
        out.setdefault(arch(r.spec, r.jac_reg), {}).setdefault(r.spec.depth, []).append(r)
    return {a: dict(sorted(by.items())) for a, by in out.items()}


def _mean(values) -> float:
    arr = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    return float(arr.mean()) if arr.size else math.nan


def figure(ctx: Context):
    """The four panels of the module docstring."""
    plt, rs = pyplot(), runs(ctx)
    groups = _groups(rs)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    cmap = plt.get_cmap("tab10")
    for i, (name, by) in enumerate(groups.items()):
        c, depths = cmap(i % 10), list(by)
        acc = [mean_ci([r.final["test_accuracy"] for r in by[d]]) for d in depths]
        axes[0].plot(depths, [a[0] for a in acc], "o-", color=c, label=name)
        if not any(math.isnan(a[1]) for a in acc):
            axes[0].fill_between(depths, [a[1] for a in acc], [a[2] for a in acc], color=c, alpha=0.2, lw=0)
        for key, ax in (("log_norm", axes[1]), ("isometry_defect", axes[2])):
            axes_vals = [(_mean(r.records[0][key] for r in by[d]), _mean(r.final[key] for r in by[d]))
                         for d in depths]
            ax.plot(depths, [v[0] for v in axes_vals], "o--", color=c, markerfacecolor="none")
            ax.plot(depths, [v[1] for v in axes_vals], "o-", color=c)
        axes[3].plot(depths, [_mean(r.final["epoch_seconds"] for r in by[d]) for d in depths], "o-", color=c)
    chance = 1.0 / rs[0].spec.out_dim if rs else 0.1
    axes[0].axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    axes[0].set_ylabel("test accuracy after training")
    axes[0].set_ylim(0, 1)
    axes[1].set_ylabel(r"$\ln \|J\|_2$ at test image 0 (natural log)")
    axes[2].set_yscale("symlog", linthresh=SYMLOG_LINTHRESH)
    axes[2].set_ylabel(r"isometry defect $\|J^TJ - I\|_F/\sqrt{n}$ (symlog: log10 above $10^{-6}$)")
    axes[3].set_ylabel("training wall time per epoch (s)")
    for ax in axes:
        ax.set_xlabel("depth L")
        ax.grid(alpha=0.3)
    axes[1].plot([], [], "o--", color="black", markerfacecolor="none", label="initialisation")
    axes[1].plot([], [], "o-", color="black", label="after training")
    axes[1].legend(fontsize=7)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=7,
               bbox_to_anchor=(0.5, -0.08))
    seeds = len({r.seed for r in rs})
    fig.suptitle(f"{ctx.exp.name}: width n = {rs[0].spec.width if rs else '?'}, {seeds} seed(s) per setting, "
                 f"{_data(ctx)}", fontsize=9)
    fig.tight_layout()
    return fig


def table_rows(rs: list[Run]) -> list[dict]:
    """Per architecture and depth: seeds, diverged, final test accuracy (mean, 95% t-interval), ``ln ||J||`` and
    the isometry defect before/after training, wall time per epoch."""
    rows = []
    for name, by in _groups(rs).items():
        for d, group in by.items():
            acc, lo, hi = mean_ci([r.final["test_accuracy"] for r in group])
            rows.append({
                "architecture": name, "depth": d, "seeds": len(group),
                "diverged": sum(bool(r.final["diverged"]) for r in group), "test accuracy": acc,
                "95% CI": "1 seed" if math.isnan(lo) else f"[{max(lo, 0.0):.3f}, {min(hi, 1.0):.3f}]",
                "ln||J|| init": _mean(r.records[0]["log_norm"] for r in group),
                "ln||J|| final": _mean(r.final["log_norm"] for r in group),
                "defect init": _mean(r.records[0]["isometry_defect"] for r in group),
                "defect final": _mean(r.final["isometry_defect"] for r in group),
                "s/epoch": _mean(r.final["epoch_seconds"] for r in group),
            })
    return rows


def tables(ctx: Context) -> list[Table]:
    rows = table_rows(runs(ctx))
    return [Table("Orthogonal Jacobians and trainability vs depth (paper 003)", tuple(rows[0]) if rows else (), rows,
                  "ln||J|| (natural log) and the isometry defect ||J^T J - I||_F/sqrt(n) at test image 0, before "
                  "and after training (seed means); test accuracy with its 95% t-interval over seeds; s/epoch: "
                  "training wall time per epoch (evaluation excluded). Diverged runs count at chance accuracy.")]


def _data(ctx: Context) -> str:
    p = dict(next(m.params for m in ctx.exp.metrics if m.name == ctx.metric))
    extra = f", jac_reg {p['jac_reg']:g} ({p['jac_probes']} probe/batch)" if p.get("jac_reg") else ""
    return (f"{p['dataset']}, {p['epochs']} epoch(s), {'all' if p['subset'] is None else p['subset']} examples, "
            f"{p['optimizer']} lr {'/'.join(f'{v:g}' for v in p['lr'])}{extra}")
