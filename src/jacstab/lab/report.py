"""A self-contained HTML report: every figure (embedded PNG) and, per figure, a table comparing the measured
growth rates and norms with theory and with what the paper reports."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from jacstab.lab.analysis import growth_slope, growth_start
from jacstab.lab.experiment import Experiment
from jacstab.lab.plots import LN10, collect, label, plot_curves, plot_final_vs, varying_fields
from jacstab.lab.store import Store
from jacstab.theory.scaling import compare_magnitude_factors

TABLE_COLS = (
    "setting",
    "seeds",
    "measured slope / layer (ln)",
    "theory slope / layer (ln)",
    "log10||J|| at L (measured)",
    "log10||J|| at L (theory)",
)


def growth_rows(curves) -> list[dict]:
    """Per setting: the growth of ``log ||J||`` per layer over the second half of the depths (mean of per-seed
    least-squares slopes with its 95% CI, :func:`jacstab.lab.analysis.growth_slope`) against
    :func:`jacstab.theory.predict`'s ``growth_per_layer``, and ``log10 ||J||`` at the last depth against the
    free-probability prediction ("no prediction" where none applies)."""
    varying, rows = varying_fields(curves), []
    for c in curves:
        L = c.log_norm.shape[1]
        slope = growth_slope(c.log_norm, start=growth_start(L))
        pred = c.prediction
        last = c.predicted()
        rows.append(
            {
                "setting": label(c.spec, varying),
                "seeds": c.log_norm.shape[0],
                "measured slope / layer (ln)": slope,
                "theory slope / layer (ln)": pred.growth_per_layer if math.isfinite(pred.growth_per_layer)
                else "no prediction",
                "log10||J|| at L (measured)": _last(c),
                "log10||J|| at L (theory)": float(last[-1]) / LN10 if last is not None else "no prediction",
            }
        )
    return rows


def _last(c) -> float | str:
    """``log10 ||J^(L)||`` averaged over the live seeds, or what happened to the seeds when none is live."""
    band = c.band
    if math.isfinite(band.mean[-1]):
        dead = int(band.n_dead[-1])
        return band.mean[-1] / LN10 if not dead else f"{band.mean[-1] / LN10:.4g} ({dead} seeds with J = 0 left out)"
    if band.n_dead[-1]:
        return f"J = 0 exactly ({int(band.n_dead[-1])} of {band.n_seeds} seeds)"
    return "missing"


def _fmt(v) -> str:
    if isinstance(v, float):
        return "0" if abs(v) < 1e-12 else f"{v:.4g}"  # rounding noise of a zero prediction (e.g. 1.1e-16)
    return html.escape(str(v))


def write_report(items: list[tuple[Experiment, str]], store: Store, out_dir: str | Path, version: str) -> Path:
    """Write ``out_dir/report.html`` and one PNG per experiment; ``items`` = (experiment, what the paper reports)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"report folder {str(out)!r} is a file, not a folder; give another --out")
    collected = [(exp, paper, collect(exp, store)) for exp, paper in items]
    if not any(curves for _, _, curves in collected):
        names = ", ".join(exp.name for exp, _ in items)
        raise ValueError(f"no stored depth curves for {names} in this store: nothing to report (an existing report "
                         "is left as it is); run the sweeps first, or pass --quick for quick-size results")
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>jacstab report</title><style>",
        "body{font-family:sans-serif;max-width:960px;margin:auto} table{border-collapse:collapse}",
        "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right} td:first-child{text-align:left}",
        "</style></head><body><h1>jacstab report</h1>",
        f"<p>jacstab {html.escape(version)}; natural-log slopes per layer (mean of per-seed least-squares slopes "
        "over the second half of the depths, 95% CI over seeds); theory from jacstab.theory.predict: the slope "
        "(1/2) log(sigma2_eff E[phi'^2]) (Theorem 2.2, generalised) and the free-probability edge "
        "(n &rarr; &infin;), or \"no prediction\" where neither applies.</p>",
    ]
    for exp, paper, curves in collected:
        if "approx21" in exp.metric_names:  # issue 12 hook: Approximation 2.1 figures (jacstab.lab.plots_approx)
            from jacstab.lab.plots_approx import approx21_section

            parts.append(approx21_section(exp, store, out) + f"<p><b>The paper reports:</b> {html.escape(paper)}</p>")
            continue
        if not curves:
            parts.append(f"<h2>{html.escape(exp.name)}</h2><p>No stored results: run the sweep first.</p>")
            continue
        png = plot_curves(curves, exp.name, out / f"{exp.name}.png")
        data = base64.b64encode(png.read_bytes()).decode()
        rows = growth_rows(curves)
        parts.append(f"<h2 id='{html.escape(exp.name)}'>{html.escape(exp.name)}</h2>")
        stored = sum(c.log_norm.shape[0] for c in curves)
        if len(curves) < len(exp.specs) or stored < len(exp.specs) * len(exp.seeds):
            parts.append(
                f"<p><b>Incomplete:</b> {len(curves)} of {len(exp.specs)} settings and {stored} of "
                f"{len(exp.specs) * len(exp.seeds)} seeds are stored; run the sweep to complete this figure.</p>"
            )
        parts.append(
            f"<p><a href='{png.name}'>{png.name}</a></p><img alt='{html.escape(exp.name)}' "
            f"src='data:image/png;base64,{data}' width='750'>"
        )
        parts.append(
            f"<p><b>The paper reports:</b> {html.escape(paper)}</p><table><tr>"
            + "".join(f"<th>{c}</th>" for c in TABLE_COLS)
            + "</tr>"
        )
        parts += ["<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in TABLE_COLS) + "</tr>" for r in rows]
        parts.append("</table>")
        if "eta" in varying_fields(curves):
            extra = plot_final_vs(curves, "eta", exp.name, out / f"{exp.name}-vs-eta.png")
            parts.append(
                f"<p><a href='{extra.name}'>{extra.name}</a></p><img alt='{html.escape(exp.name)} vs eta' "
                f"src='data:image/png;base64,{base64.b64encode(extra.read_bytes()).decode()}' width='650'>"
            )
        if any(c.spec.prune == "magnitude" for c in curves):
            parts.append(_factor_table(curves[0].spec.width, sorted({c.spec.sparsity for c in curves})))
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts))
    return path


def _factor_table(n: int, sparsities: list[float]) -> str:
    """Scaling factors for magnitude pruning vs sparsity (the paper's Fig. 3 lower right), width ``n``."""
    cols = ("sparsity", "random", "exact", "paper", "paper_over_exact")
    rows = compare_magnitude_factors(n, sparsities)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in cols) + "</tr>" for r in rows)
    return (
        f"<p><b>Scaling factors vs sparsity</b> (magnitude pruning, n = {n}; see docs/scaling.md):</p><table><tr>"
        + "".join(f"<th>{c}</th>" for c in cols)
        + "</tr>"
        + body
        + "</table>"
    )
