"""A self-contained HTML report of any experiments in a store: provenance, a table of contents, and per
experiment and metric the figure (embedded PNG, scaled to the window; the requested PNG/PDF/SVG file next to it),
the paper's caption for the built-in figures, and measured-vs-theory tables in one log base (10) with a
``measured - theory`` column and a verdict.

What is drawn comes from the registries of :mod:`jacstab.lab.figures` (one view per metric, one layout per
built-in figure): a new metric or figure shows up here once it is registered there.
"""

from __future__ import annotations

import base64
import html
import math
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from jacstab.lab.builtin import BUILTIN
from jacstab.lab.experiment import Experiment
from jacstab.lab.figures import FigureOptions, Rendered, Table, builtin_base, collect, render
from jacstab.lab.figures._style import input_text
from jacstab.lab.store import Store

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:0 12px;line-height:1.4;color:#222}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.scroll{overflow-x:auto;max-width:100%;margin:6px 0 14px}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #bbb;padding:3px 7px;text-align:right;vertical-align:top}
td:first-child,th:first-child{text-align:left}
th{background:#f3f3f3}
.caption{background:#f7f7f2;border-left:3px solid #998;padding:6px 10px}
.note{color:#444;font-size:13px}
dl.prov{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 14px;font-size:13px}
dl.prov dd{margin:0;overflow-wrap:anywhere}
code{overflow-wrap:anywhere}
"""


@dataclass(frozen=True)
class Provenance:
    """Where a report comes from: the command line, when it ran, the versions, the store, and the seconds the
    sweeps took when the same command ran them (``sweep_s``; the report adds its own time)."""

    command: str
    store: str
    version: str
    sweep_s: float | None = None
    started: float = field(default_factory=time.time)

    def rows(self) -> list[tuple[str, str]]:
        try:
            torch_version = metadata.version("torch")  # without importing torch
        except metadata.PackageNotFoundError:
            torch_version = "not installed"
        return [
            ("command", self.command),
            ("date (UTC)", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.started))),
            ("jacstab", self.version),
            ("git commit", git_commit() or "unknown (not run from a git checkout)"),
            ("torch / python", f"{torch_version} / {platform.python_version()}"),
            ("store", self.store),
        ]


def git_commit() -> str | None:
    """The commit of the jacstab source tree when it is a git checkout (an editable install), else None."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return (sha + (" (with uncommitted changes)" if dirty.stdout.strip() else "")) if out.returncode == 0 else None


def _fmt(v) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return "inf" if v > 0 else "-inf" if v < 0 else "not a number"
        return "0" if abs(v) < 1e-12 else f"{v:+.4g}"  # rounding noise of a zero prediction (e.g. 1.1e-16)
    return html.escape(str(v))


def table_html(t: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in t.columns) + "</tr>" for r in t.rows)
    note = f"<p class='note'>{html.escape(t.note)}</p>" if t.note else ""
    return f"<h4>{html.escape(t.title)}</h4><div class='scroll'><table><tr>{head}</tr>{body}</table></div>{note}"


def _sizes(exp: Experiment) -> str:
    widths = ", ".join(str(w) for w in sorted({s.width for s in exp.specs}))
    depths = ", ".join(str(d) for d in sorted({s.depth for s in exp.specs}))
    return (f"width n = {widths}; depth L = {depths}; {len(exp.specs)} settings x {len(exp.seeds)} seeds "
            f"({exp.seeds[0]}..{exp.seeds[-1]}); metrics: {', '.join(exp.metric_names)}; input: "
            f"{input_text(exp)}")


def _section(r: Rendered, options: FigureOptions) -> list[str]:
    anchor = f"{r.exp.name}-{r.metric}"
    parts = [f"<h3 id='{html.escape(anchor)}'>{html.escape(r.metric)}: {html.escape(r.what)}</h3>"]
    have, total, seeds, all_seeds = r.complete
    if have < total or seeds < all_seeds:
        parts.append(f"<p><b>Incomplete:</b> {have} of {total} settings and {seeds} of {all_seeds} seeds are "
                     "stored (missing or failed trials); run the sweep again to complete it.</p>")
    if r.png is not None:
        data = base64.b64encode(r.png.read_bytes()).decode()
        parts.append(f"<img alt='{html.escape(r.exp.name)}: {html.escape(r.what)}' src='data:image/png;base64,"
                     f"{data}'>")
        parts.append(f"<p class='note'>File: <a href='{html.escape(r.figure.name)}'>{html.escape(r.figure.name)}"
                     f"</a> ({options.fmt}{', ' + str(options.dpi) + ' dpi' if options.fmt == 'png' else ''}; "
                     f"theory overlays {'on' if options.theory else 'off'}).</p>")
    base = builtin_base(r.exp.name)
    if r.caption:
        head = f"Paper, Figure {base[3:]}" if base.startswith("fig") else f"Built-in {base}"
        parts.append(f"<p class='caption'><b>{head}:</b> {html.escape(r.caption)}<br>"
                     f"<b>jacstab:</b> {html.escape(r.note)}</p>")
    if base and r.metric == "depth_curve":
        parts.append(f"<p><b>The paper reports:</b> {html.escape(BUILTIN[base]['paper'])}</p>")
    for t in r.tables:
        parts.append(table_html(t))
    if base == "fig3" and r.metric == "depth_curve":
        parts.append(_factor_table(r))
    return parts


def _factor_table(r: Rendered) -> str:
    from jacstab.theory.scaling import compare_magnitude_factors

    n = r.exp.specs[0].width
    rows = compare_magnitude_factors(n, sorted({s.sparsity for s in r.exp.specs}))
    cols = ("sparsity", "random", "exact", "paper", "paper_over_exact")
    return table_html(Table(f"Scaling factors for magnitude pruning vs sparsity (n = {n}; docs/scaling.md)", cols,
                            rows, "random: (1-s)^(-1/2); exact: condition (ii) of Theorem 3.1 holds exactly; "
                            "paper: Theorem 4.3 as printed."))


def write_report(experiments: list[Experiment], store: Store, out_dir: str | Path, provenance: Provenance,
                 options: FigureOptions | None = None) -> Path:
    """Write ``out_dir/report.html`` and the figure files of ``experiments`` from ``store``; return its path.

    Raises:
        ValueError: ``out_dir`` is a file, or no experiment has a stored value (an existing report is kept).
    """
    options = options or FigureOptions()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"report folder {str(out)!r} is a file, not a folder; give another --out")
    if not any(collect(exp, store, m) for exp in experiments for m in exp.metric_names):
        names = ", ".join(exp.name for exp in experiments)
        raise ValueError(f"no stored results for {names} in this store: nothing to report (an existing report "
                         "is left as it is); run the sweeps first")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    done = [(exp, render(exp, store, out, options)) for exp in experiments]
    wall = f"{time.perf_counter() - t0:.1f} s figures and report"
    if provenance.sweep_s is not None:
        wall = f"{provenance.sweep_s:.1f} s sweeps + {wall}"
    prov = [*provenance.rows(), ("wall time", wall)]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>jacstab report</title><style>{CSS}</style></head><body><h1>jacstab report</h1>",
        "<dl class='prov'>" + "".join(f"<dt>{html.escape(k)}</dt><dd><code>{html.escape(v)}</code></dd>"
                                      for k, v in prov) + "</dl>",
        "<p>Norms and singular values in this report and its figures are in <b>log base 10</b> (the store, the API "
        "and the CLI hold natural logs: divide by ln 10 = 2.3026); per-layer exponents, gaps and fitted rates of the "
        "spectral experiments are natural logs and their labels say so (nats per layer). Bands and &plusmn; are "
        "95% Student-t confidence intervals of the "
        "mean over seeds (sample sd with ddof 1); seeds whose Jacobian is exactly zero are counted, not averaged. "
        "Theory comes from jacstab.theory.predict and is drawn and tabulated only where it applies; elsewhere "
        "the tables say \"no prediction\".</p>",
        "<h2>Contents</h2><ul>",
    ]
    for exp, rendered in done:
        links = ", ".join(f"<a href='#{html.escape(exp.name)}-{r.metric}'>{html.escape(r.metric)}</a>"
                          for r in rendered) or ("approx21" if "approx21" in exp.metric_names else "no stored results")
        parts.append(f"<li><a href='#{html.escape(exp.name)}'>{html.escape(exp.name)}</a>: {links}</li>")
    parts.append("</ul>")
    for exp, rendered in done:
        parts.append(f"<h2 id='{html.escape(exp.name)}'>{html.escape(exp.name)}</h2><p>{html.escape(_sizes(exp))}"
                     "</p>")
        claim = BUILTIN.get(exp.name.rpartition("-")[0], {}).get("paper")
        if claim and not builtin_base(exp.name) and "approx21" not in exp.metric_names:
            parts.append(f"<p><b>The paper reports:</b> {html.escape(claim)}</p>")
        if exp.name.rpartition("-")[0] == "pruning-methods":
            from jacstab.lab.figures.pruning import verdict_table

            verdict = verdict_table(exp, store)
            parts.append(table_html(verdict) if verdict is not None else "")
        if "approx21" in exp.metric_names:  # Approximation 2.1 figures (jacstab.lab.plots_approx)
            from jacstab.lab.plots_approx import approx21_section

            base = exp.name.rpartition("-")[0]
            paper = BUILTIN[base]["paper"] if base in BUILTIN else ""
            parts.append(approx21_section(exp, store, out)
                         + (f"<p><b>The paper reports:</b> {html.escape(paper)}</p>" if paper else ""))
        elif not rendered:
            from jacstab.lab.figures import VIEWS

            unseen = [m for m in exp.metric_names if m not in VIEWS]
            parts.append(f"<p>The report draws no figure for the metrics {', '.join(unseen)} (their values are "
                         "in `jacstab results`).</p>" if unseen else
                         "<p>No stored results for this experiment: run its sweep first.</p>")
        for r in rendered:
            parts += _section(r, options)
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts))
    return path
