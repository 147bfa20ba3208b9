"""Figures and tables of the training metric (paper Section 6, Figures 7-9) for the report's registry.

* Figs. 7-8 (``fig7_8``): test accuracy and test loss of a randomly pruned MLP as heatmaps over depth x sparsity,
  one row per scaling (top: no scaling, bottom: ``(1-s)^(-1/2)``), as in the paper.
* Fig. 9 and any training experiment (``figure``): test error (%) vs depth, one curve per value of the varying
  field (``sigma_w^2``, ``eta``, ...), chance level marked, 95% t-interval over seeds when there are several; beside
  it ``ln ||J||`` (natural log, at test image 0) and test accuracy vs epoch, so "stable at initialisation -> stable
  during training" (paper Section 7) can be checked.
* ``tables``: each setting's initial and final ``ln ||J||`` next to its final test accuracy.

Diverged runs (non-finite loss) are counted and shown at chance accuracy (their norm after divergence is undefined
and marked), never dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from jacstab.lab.figures._data import Context, Table, label
from jacstab.lab.figures._style import pyplot
from jacstab.lab.metrics import get_metric
from jacstab.specs import NetSpec


@dataclass(frozen=True)
class Trained:
    """One stored training trial: its spec, seed and per-epoch records (``TRAIN_FIELDS`` plus ``epoch``)."""

    spec: NetSpec
    seed: int
    records: tuple[dict, ...]

    @property
    def final(self) -> dict:
        return self.records[-1]

    @property
    def diverged(self) -> bool:
        return bool(self.final["diverged"])


def trained(ctx: Context) -> list[Trained]:
    """The context's stored training values as :class:`Trained` trials (NaN padding and SQLite NULLs -> NaN)."""
    metric, out = get_metric("train"), []
    for s in ctx.settings:
        for row, seed in zip(s.values, s.seeds):
            vals = [float(v) for v in row if v is not None]
            recs = [{**r, "epoch": i} for i, r in enumerate(metric.records(vals))]
            out.append(Trained(s.spec, seed, tuple(recs)))
    return out

def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval (scipy.stats) of ``values``; a single value has no interval (nan, nan)."""
    arr = np.asarray(values, dtype=float)
    m = float(arr.mean())
    if arr.size < 2:
        return m, math.nan, math.nan
    from scipy import stats

    half = float(stats.t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return m, m - half, m + half


def _setting(spec: NetSpec, fields: list[str]) -> str:
    return label(spec, fields)  # eta=2^-8, sigma2=2, ... (the report's spelling)


def _varying(trials: list[Trained], exclude: tuple[str, ...] = ("depth",)) -> list[str]:
    dicts = [t.spec.to_dict() for t in trials]
    keys = [k for k in dicts[0] if k not in exclude] if dicts else []
    return [k for k in keys if len({repr(d.get(k)) for d in dicts}) > 1]


def table_rows(trials: list[Trained]) -> list[dict]:
    """Per setting and depth: seeds, diverged count, mean initial and final ``log ||J||`` (natural log), final test
    accuracy (mean and 95% t-interval over seeds) and the learning rate used."""
    fields, groups = _varying(trials), {}
    for t in trials:
        groups.setdefault((_setting(t.spec, fields), t.spec.depth), []).append(t)
    rows = []
    for (setting, depth), ts in groups.items():
        acc, lo, hi = mean_ci([t.final["test_accuracy"] for t in ts])
        init = [t.records[0]["log_norm"] for t in ts]
        final = [t.final["log_norm"] for t in ts if not t.diverged]
        rows.append({
            "setting": setting, "depth": depth, "seeds": len(ts), "diverged": sum(t.diverged for t in ts),
            "lr": ts[0].final["lr"], "initial log||J|| (ln)": float(np.mean(init)),
            "final log||J|| (ln)": float(np.mean(final)) if final else "diverged",
            "test accuracy": acc,
            "95% CI": "1 seed" if math.isnan(lo) else f"[{max(lo, 0.0):.3f}, {min(hi, 1.0):.3f}]",
        })
    return rows


def fig7_8(ctx: Context):
    """Heatmaps depth x sparsity of the final test accuracy (left) and test loss (right); rows: one per scaling
    (the paper's Figs. 7 and 8, top: no scaling, bottom: scaled); seed means; 'div.': every seed diverged."""
    plt, trials, title = pyplot(), trained(ctx), ctx.exp.name
    scalings = sorted({t.spec.scaling for t in trials}, key=lambda s: s != "none")
    depths = sorted({t.spec.depth for t in trials})
    sparsities = sorted({t.spec.sparsity for t in trials})
    fig, axes = plt.subplots(len(scalings), 2, figsize=(9, 3.4 * len(scalings)), squeeze=False)
    for row, scaling in enumerate(scalings):
        for col, (key, cmap, name) in enumerate((("test_accuracy", "viridis", "test accuracy"),
                                                 ("test_loss", "magma_r", "test loss"))):
            grid = np.full((len(depths), len(sparsities)), np.nan)
            for i, d in enumerate(depths):
                for j, s in enumerate(sparsities):
                    vals = [t.final[key] for t in trials if (t.spec.depth, t.spec.sparsity, t.spec.scaling) ==
                            (d, s, scaling) and math.isfinite(t.final[key])]
                    if vals:
                        grid[i, j] = np.mean(vals)
            ax = axes[row, col]
            im = ax.imshow(grid, cmap=cmap, aspect="auto", origin="lower",
                           vmin=0 if key == "test_accuracy" else None, vmax=1 if key == "test_accuracy" else None)
            for i in range(len(depths)):
                for j in range(len(sparsities)):
                    text = "div." if math.isnan(grid[i, j]) else f"{grid[i, j]:.2f}"
                    dark = im.norm(grid[i, j]) < 0.5 if key == "test_accuracy" else im.norm(grid[i, j]) > 0.5
                    ax.text(j, i, text, ha="center", va="center", fontsize=7,
                            color="white" if not math.isnan(grid[i, j]) and dark else "black")
            ax.grid(False)  # the style's grid would cut through the cells
            ax.set_xticks(range(len(sparsities)), [f"{s:g}" for s in sparsities])
            ax.set_yticks(range(len(depths)), [str(d) for d in depths])
            ax.set_xlabel("sparsity s (fraction of weights removed)")
            ax.set_ylabel("depth L")
            scaled = "no scaling" if scaling == "none" else r"scaling $(1-s)^{-1/2}$"
            ax.set_title(f"{name}, {scaled}", fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{title}: randomly pruned MLP, width n = {trials[0].spec.width}, {_seeds(trials)}, "
                 f"{_data(ctx)} ('div.': diverged)", fontsize=9)
    fig.tight_layout()
    return fig


def applies_fig7_8(ctx: Context) -> bool:
    return "sparsity" in ctx.varying


def figure(ctx: Context):
    """Any training experiment (Fig. 9's panels): test error vs depth per value of the varying field, and the
    Jacobian and test accuracy through training."""
    plt, trials = pyplot(), trained(ctx)
    fields = _varying(trials)
    fig, (a0, a1, a2) = plt.subplots(1, 3, figsize=(13.5, 4))
    draw_error_vs_depth(a0, trials, fields[0] if fields else None)
    draw_curves(a1, a2, trials)
    kind = {"sigma2": "iid weights", "eta": r"correlated weights $W_{ind} + \eta w$"}.get(fields[0] if fields
                                                                                          else "", "")
    fig.suptitle(f"{ctx.exp.name}: {kind + ', ' if kind else ''}width n = {trials[0].spec.width}, {_seeds(trials)}, "
                 f"{_data(ctx)}; right: after a divergence the norm is undefined (x marks the last finite value)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def tables(ctx: Context) -> list[Table]:
    rows = table_rows(trained(ctx))
    return [Table("Jacobian at initialisation and after training vs test accuracy", tuple(rows[0]) if rows else (),
                  rows, "ln||J|| (natural log) at test image 0, seed means; test accuracy: mean over seeds with its "
                  "95% t-interval; diverged runs count at chance accuracy.")]


def _data(ctx: Context) -> str:
    p = dict(next(m.params for m in ctx.exp.metrics if m.name == ctx.metric))
    return (f"{p['dataset']}, {p['epochs']} epochs, {'all' if p['subset'] is None else p['subset']} examples, "
            f"lr {'/'.join(f'{v:g}' for v in p['lr'])}")


def draw_error_vs_depth(ax, trials: list[Trained], field: str | None) -> None:
    """Test error (%) vs depth, one curve per value of ``field`` (None: one curve); chance level dashed; with
    several seeds the 95% t-interval as a band (paper Fig. 9)."""
    plt = pyplot()
    get = (lambda spec: None) if field is None else (lambda spec, f=field: getattr(spec, f))
    values = sorted({get(t.spec) for t in trials}, key=lambda v: (v is None, v))
    cmap = plt.get_cmap("viridis")
    for k, v in enumerate(values):
        depths = sorted({t.spec.depth for t in trials if get(t.spec) == v})
        stats_ = [mean_ci([100 * (1 - t.final["test_accuracy"]) for t in trials
                           if get(t.spec) == v and t.spec.depth == d]) for d in depths]
        color = cmap(k / max(1, len(values) - 1) * 0.9)
        lab = "measured" if field is None else _value_label(field, v)
        ax.plot(depths, [s[0] for s in stats_], "o-", color=color, label=lab)
        lo, hi = [s[1] for s in stats_], [s[2] for s in stats_]
        if not any(math.isnan(x) for x in lo):
            ax.fill_between(depths, lo, hi, color=color, alpha=0.2, linewidth=0)
    classes = trials[0].spec.out_dim
    ax.axhline(100 * (1 - 1 / classes), color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xlabel("depth L")
    ax.set_ylabel("test error (%) after training")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="lower right")


def draw_curves(a1, a2, trials: list[Trained]) -> None:
    """``ln ||J||`` (test image 0) and test accuracy vs epoch, one line per setting and depth (seed means);
    colour = setting, line style = depth."""
    plt = pyplot()
    fields = _varying(trials)
    ordered = sorted(trials, key=lambda t: tuple(str(getattr(t.spec, f)) if isinstance(getattr(t.spec, f), str)
                                                 else getattr(t.spec, f) for f in fields))
    settings = list(dict.fromkeys(_setting(t.spec, fields) for t in ordered))  # by value, as in the left panel
    depths = sorted({t.spec.depth for t in trials})
    styles = ["-", "--", ":", "-."]
    cmap = plt.get_cmap("viridis")
    diverged_any = False
    for i, setting in enumerate(settings):
        color = cmap(i / max(1, len(settings) - 1) * 0.9)
        for j, d in enumerate(depths):
            ts = [t for t in trials if _setting(t.spec, fields) == setting and t.spec.depth == d]
            if not ts:
                continue
            epochs = [r["epoch"] for r in ts[0].records]
            lj = np.array([[r["log_norm"] for r in t.records] for t in ts], dtype=float)
            alive = np.isfinite(lj).any(axis=0)
            lj = np.where(alive, np.nansum(np.nan_to_num(lj, nan=0.0) * np.isfinite(lj), axis=0)
                          / np.maximum(np.isfinite(lj).sum(axis=0), 1), np.nan)  # mean over finite seeds
            acc = np.mean([[r["test_accuracy"] for r in t.records] for t in ts], axis=0)
            a1.plot(epochs, lj, styles[j % len(styles)], color=color, marker=".")
            a2.plot(epochs, acc, styles[j % len(styles)], color=color, marker=".")
            if not alive.all():  # a divergence: mark the last finite value
                last = int(np.flatnonzero(alive)[-1]) if alive.any() else 0
                a1.plot(epochs[last], lj[last] if alive.any() else 0.0, "x", color=color, markersize=9)
                diverged_any = True
    for i, setting in enumerate(settings):
        a2.plot([], [], color=cmap(i / max(1, len(settings) - 1) * 0.9), label=_pretty(setting))
    for j, d in enumerate(depths):
        a2.plot([], [], styles[j % len(styles)], color="black", label=f"depth {d}")
    if diverged_any:
        a2.plot([], [], "x", color="black", label="diverged after (left)")
    a1.set_ylabel(r"$\ln \|J\|_2$ at test image 0 (natural log)")
    a2.set_ylabel("test accuracy")
    for ax in (a1, a2):
        ax.set_xlabel("epoch (0 = initialisation)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    a2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))


def _pretty(setting: str) -> str:
    """``sigma2=2, eta=2^-3`` in mathtext."""
    text = setting.replace("sigma2=", r"$\sigma_w^2$=").replace("eta=", r"$\eta$=")
    return re.sub(r"2\^(-?\d+)", r"$2^{\1}$", text)


def _value_label(field: str, v) -> str:
    if field == "sigma2":
        return rf"$\sigma_w^2 = {v:g}$"
    if field == "eta" and v > 0:
        return rf"$\eta = 2^{{{math.log2(v):g}}}$"
    return rf"$\{field} = {v:g}$" if field == "eta" else f"{field} = {v}"


def _seeds(trials: list[Trained]) -> str:
    k = len({t.seed for t in trials})
    return f"{k} seed{'s' if k > 1 else ''} per setting"
