"""A self-contained HTML report: every figure (embedded PNG) and, per figure, a table comparing the measured
growth rates and norms with theory and with what the paper reports."""

from __future__ import annotations

import base64
import html
import math
import warnings
from pathlib import Path

import numpy as np

from jacstab.certify import law_quantities
from jacstab.lab.experiment import Experiment
from jacstab.lab.plots import LN10, collect, label, plot_curves, plot_final_vs, varying_fields
from jacstab.lab.store import Store
from jacstab.theory.scaling import compare_magnitude_factors

TABLE_COLS = (
    "setting",
    "seeds",
    "measured slope / layer",
    "theory slope / layer",
    "log10||J|| at L (measured)",
    "log10||J|| at L (theory)",
)


def growth_rows(curves) -> list[dict]:
    """Per setting: slope of the mean ``log ||J||`` over the second half of the depths vs Theorem 2.2's
    ``(1/2) log(1 + (ii))`` (natural log per layer), and ``log10 ||J||`` at the last depth vs free probability."""
    varying, rows = varying_fields(curves), []
    for c in curves:
        with warnings.catch_warnings():  # all seeds -inf (a dead network) gives an empty slice: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(np.where(np.isfinite(c.log_norm), c.log_norm, np.nan), axis=0)
        L = len(mean)
        h = L // 2
        slope = (mean[-1] - mean[h - 1]) / (L - h) if L > 1 else math.nan
        ii = law_quantities(c.spec)[1]
        theory = 0.5 * math.log1p(ii) if math.isfinite(ii) and ii > -1 else math.nan
        rows.append(
            {
                "setting": label(c.spec, varying),
                "seeds": c.log_norm.shape[0],
                "measured slope / layer": slope,
                "theory slope / layer": theory,
                "log10||J|| at L (measured)": mean[-1] / LN10,
                "log10||J|| at L (theory)": c.predicted()[-1] / LN10,
            }
        )
    return rows


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))


def write_report(items: list[tuple[Experiment, str]], store: Store, out_dir: str | Path, version: str) -> Path:
    """Write ``out_dir/report.html`` and one PNG per experiment; ``items`` = (experiment, what the paper reports)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>jacstab report</title><style>",
        "body{font-family:sans-serif;max-width:960px;margin:auto} table{border-collapse:collapse}",
        "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right} td:first-child{text-align:left}",
        "</style></head><body><h1>jacstab report</h1>",
        f"<p>jacstab {html.escape(version)}; natural-log slopes per layer; theory: Theorem 2.2 slope "
        "(1/2) log(1 + (ii)) and the free-probability edge (n &rarr; &infin;).</p>",
    ]
    for exp, paper in items:
        curves = collect(exp, store, version)
        if not curves:
            parts.append(f"<h2>{html.escape(exp.name)}</h2><p>No stored results: run the sweep first.</p>")
            continue
        png = plot_curves(curves, exp.name, out / f"{exp.name}.png")
        data = base64.b64encode(png.read_bytes()).decode()
        rows = growth_rows(curves)
        parts.append(f"<h2 id='{html.escape(exp.name)}'>{html.escape(exp.name)}</h2>")
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
