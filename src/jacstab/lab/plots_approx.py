"""Figures and report section for Approximation 2.1 (Dadoun et al. 2025, Section 6.1, Figures 5-6).

Input: the stored values of the ``approx21`` metric (:func:`jacstab.lab.metrics.decode_approx21`), one trial of
``N`` networks per setting. ``figures_for_approx21(items, out_dir, name)`` draws

* Fig. 5: pairwise scatter of three gate entries of ``D_l`` with Gaussian jitter (variance 0.01, as the paper);
* Fig. 6: the joint histogram of ``(T_W, T_D)`` with its marginals, for the paper's pairing ``(W_l, D_l)`` and the
  Jacobian's ``(W_l, D_{l-1})``, Pearson ``r`` and ``p`` in the title;
* the histogram of the pair p-values against the uniform law, with the 95% band of a bin count under uniformity;

for every setting (iid / correlated weights, forward / Bernoulli gates). matplotlib only here.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from jacstab.lab.experiment import Experiment
from jacstab.lab.metrics import APPROX21_TESTS, decode_approx21
from jacstab.lab.store import Store
from jacstab.lab.trials import Trial
from jacstab.specs import NetSpec

JITTER_SD = 0.1  # the paper's Gaussian noise of variance 0.01
JITTER_SEED = 5


def collect_approx21(exp: Experiment, store: Store) -> list[tuple[NetSpec, dict[str, Any]]]:
    """``(spec, decoded values)`` of every stored ``approx21`` trial of ``exp`` (one per setting and seed)."""
    call = next(m for m in exp.metrics if m.name == "approx21")
    params = dict(call.params)
    out = []
    for spec in exp.specs:
        for seed in exp.seeds:
            vals = store.values(Trial(spec, seed, exp.metrics).id, "approx21")
            if vals:
                out.append((spec, decode_approx21(vals, params["networks"], params["pairs"])))
    return out


def label(spec: NetSpec) -> str:
    """A short setting label: ``iid``/``eta=2^-k`` and the gate model."""
    w = "iid" if spec.eta == 0 else f"eta=2^{math.log2(spec.eta):g}"
    g = "forward gates" if spec.gates == "forward" else f"Bernoulli({spec.gate_p:g}) gates"
    return f"{w}, {g}"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fig5_joint(items, path: Path) -> Path:
    """Fig. 5: pairwise scatter (with jitter) of three gate entries, one row per setting."""
    plt = _plt()
    fig, axes = plt.subplots(len(items), 3, figsize=(9, 3 * len(items)), squeeze=False)
    rng = np.random.default_rng(JITTER_SEED)
    for row, (spec, v) in zip(axes, items):
        joint = v["joint"]
        for ax, (a, b) in zip(row, ((0, 1), (0, 2), (1, 2))):
            x = joint[:, a] + JITTER_SD * rng.standard_normal(len(joint))
            y = joint[:, b] + JITTER_SD * rng.standard_normal(len(joint))
            ax.scatter(x, y, s=3, alpha=0.4)
            ax.set_xlabel(f"entry {a + 1} of D_l (0/1, jittered)")
            ax.set_ylabel(f"entry {b + 1} (0/1, jittered)")
            ax.set_xticks([0, 1])
            ax.set_yticks([0, 1])
            for i in (0, 1):
                for j in (0, 1):
                    count = int(np.sum((joint[:, a] == i) & (joint[:, b] == j)))
                    ax.text(i + 0.32, j + 0.3, str(count), fontsize=7, ha="center")
        row[0].set_title(f"{label(spec)}; open fraction {joint.mean():.3f}", fontsize=9, loc="left")
    fig.suptitle("Fig. 5: gate entries of D_l over N networks (jitter sd 0.1)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _joint_hist(fig, ax, t_w, t_d, title):
    ax.hist2d(t_w, t_d, bins=25, cmap="Blues")
    ax.set_xlabel("T_W (fraction of positive entries of W_l)")
    ax.set_ylabel("T_D (fraction of open gates)")
    top, right = ax.inset_axes([0, 1.02, 1, 0.2], sharex=ax), ax.inset_axes([1.02, 0, 0.2, 1], sharey=ax)
    top.hist(t_w, bins=25, color="grey")
    right.hist(t_d, bins=25, color="grey", orientation="horizontal")
    top.axis("off")
    right.axis("off")
    r = stats.pearsonr(t_w, t_d) if np.ptp(t_w) > 0 and np.ptp(t_d) > 0 else None
    ax.set_title(title + (f"\nPearson r = {r.statistic:.3f}, p = {r.pvalue:.2g}" if r else "\n(constant)"),
                 fontsize=8, pad=28)  # fmt: skip


def fig6_hist(items, path: Path) -> Path:
    """Fig. 6: joint histograms of ``(T_W, T_D)`` with marginals, both pairings, one row per setting."""
    plt = _plt()
    fig, axes = plt.subplots(len(items), 2, figsize=(9, 4.2 * len(items)), squeeze=False)
    for row, (spec, v) in zip(axes, items):
        _joint_hist(fig, row[0], v["t_w"], v["t_d_same"], f"{label(spec)}: (W_l, D_l), the paper's pairing")
        _joint_hist(fig, row[1], v["t_w"], v["t_d_factor"], f"{label(spec)}: (W_l, D_l-1), J's factor")
    fig.suptitle("Fig. 6: (T_W, T_D) over N networks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pvalue_hist(items, path: Path, bins: int = 10) -> Path:
    """Histograms of the chi-squared pair p-values against Uniform(0, 1), with the 95% binomial band of a bin."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(items), figsize=(3.2 * len(items), 3), squeeze=False)
    for ax, (spec, v) in zip(axes[0], items):
        p = v["pvalues"][~np.isnan(v["pvalues"])]
        ax.hist(p, bins=bins, range=(0, 1), color="C0", alpha=0.7, label="pairs")
        lo, hi = stats.binom.ppf([0.025, 0.975], len(p), 1 / bins)
        ax.axhspan(lo, hi, color="grey", alpha=0.25, label="95% band, uniform")
        ax.axhline(len(p) / bins, color="k", ls="--", lw=1, label="uniform")
        ks = v["tests"]["chi2_pvalues_ks"]
        ax.set_title(f"{label(spec)}\nKS p = {ks[1]:.2g} ({len(p)} pairs)", fontsize=8)
        ax.set_xlabel("chi-squared p-value")
        ax.set_ylabel("pairs per bin")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def fig4_correlated(log_norms: dict[float, np.ndarray], n: int, path: Path, *, paths: int = 4000) -> Path:
    """Fig. 4 against the correlated-model theory: the median over paired seeds of
    ``log(||J^(d)||^2 / ||J_iid^(d)||^2)`` (log10 on the axis) with a 95% bootstrap band, and ``P(J^(d) = 0)`` with
    95% Wilson intervals, next to :func:`jacstab.theory.correlated_prediction` (exact gate process, free edge).

    Args:
        log_norms: ``{eta: (seeds, L) natural-log depth curves}``, the same seeds for every eta, ``eta = 0``
            included (the paired iid reference); n: the width; path: the PNG.
    """
    from jacstab.theory.correlated import correlated_prediction

    plt = _plt()
    iid = log_norms[0.0]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    rng = np.random.default_rng(JITTER_SEED)
    depth = np.arange(1, iid.shape[1] + 1)
    for i, eta in enumerate(sorted(e for e in log_norms if e > 0)):
        ratio = 2 * (log_norms[eta] - iid) / math.log(10)
        med = np.quantile(ratio, 0.5, axis=0, method="inverted_cdf")
        boot = np.quantile(ratio[rng.integers(0, len(ratio), (400, len(ratio)))], 0.5, axis=1, method="inverted_cdf")
        lo, hi = np.quantile(boot, [0.025, 0.975], axis=0, method="inverted_cdf")
        col = f"C{i}"
        ax.plot(depth, med, color=col, label=f"eta=2^{math.log2(eta):g} measured ({len(ratio)} seeds)")
        ax.fill_between(depth, np.maximum(lo, -50), np.maximum(hi, -50), color=col, alpha=0.2)
        pred = correlated_prediction(n, iid.shape[1], eta, paths=paths)
        ax.plot(depth, pred.median / math.log(10), color=col, ls="--")
        dead = np.isneginf(log_norms[eta]).mean(axis=0)
        k = len(ratio)
        z = 1.96
        centre = (dead + z * z / (2 * k)) / (1 + z * z / k)
        half = z * np.sqrt(dead * (1 - dead) / k + z * z / (4 * k * k)) / (1 + z * z / k)
        ax2.plot(depth, dead, color=col)
        ax2.fill_between(depth, centre - half, centre + half, color=col, alpha=0.2)
        ax2.plot(depth, pred.dead, color=col, ls="--")
    ax.plot([], [], "k--", label="theory (docs/approx21.md, Sec. 4)")
    ax.set_xlabel("depth d")
    ax.set_ylabel("median log10(||J||^2 / ||J_iid||^2), paired seeds")
    ax.set_title("a curve ends where J = 0 in over half the seeds (median -inf); band: 95% bootstrap", fontsize=8)
    ax.legend(fontsize=7)
    ax2.set_xlabel("depth d")
    ax2.set_ylabel("P(J^(d) = 0)")
    ax2.set_title("solid: measured (95% Wilson), dashed: theory", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figures_for_approx21(items, out_dir: str | Path, name: str) -> list[Path]:
    """The three figures of an ``approx21`` experiment in ``out_dir`` (``name-fig5.png``, ``-fig6``, ``-pvalues``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [fig5_joint(items, out / f"{name}-fig5.png"), fig6_hist(items, out / f"{name}-fig6.png"),
            pvalue_hist(items, out / f"{name}-pvalues.png")]  # fmt: skip


def test_rows(items) -> list[dict]:
    """One row per setting and test: ``setting, test, statistic, p_value``."""
    return [{"setting": label(spec), "test": t, "statistic": float(v["tests"][t][0]),
             "p_value": float(v["tests"][t][1])} for spec, v in items for t in APPROX21_TESTS]  # fmt: skip


def approx21_section(exp: Experiment, store: Store, out_dir: str | Path) -> str:
    """The report's HTML for an ``approx21`` experiment: the figures (embedded PNG) and the test table."""
    import base64

    items = collect_approx21(exp, store)
    title = f"<h2 id='{html.escape(exp.name)}'>{html.escape(exp.name)}</h2>"
    if not items:
        return title + "<p>No stored results: run the sweep first.</p>"
    parts = [title]
    if len(items) < len(exp.specs) * len(exp.seeds):
        parts.append(f"<p>Incomplete: {len(items)} of {len(exp.specs) * len(exp.seeds)} trials stored.</p>")
    for png in figures_for_approx21(items, out_dir, exp.name):
        parts.append(f"<img src='data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}' width='900'>")
    rows = "".join(f"<tr><td>{html.escape(r['setting'])}</td><td>{r['test']}</td><td>{r['statistic']:.4g}</td>"
                   f"<td>{r['p_value']:.3g}</td></tr>" for r in test_rows(items))  # fmt: skip
    parts.append(f"<table><tr><th>setting</th><th>test</th><th>statistic</th><th>p-value</th></tr>{rows}</table>")
    return "".join(parts)
