"""The training sections of the HTML report (paper Section 6): figures from :mod:`jacstab.lab.plots_train` and a
table putting each setting's initial ``log ||J||`` next to its final test accuracy."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from jacstab.lab.experiment import Experiment
from jacstab.lab.plots_train import (
    Trained,
    _varying,
    plot_error_vs_depth,
    plot_fig7_8,
    plot_training_curves,
    table_rows,
)

COLS = ("setting", "depth", "seeds", "diverged", "lr", "initial log||J|| (ln)", "final log||J|| (ln)",
        "test accuracy", "95% CI")


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f"<p><a href='{path.name}'>{path.name}</a></p><img alt='{html.escape(alt)}' "
            f"src='data:image/png;base64,{data}' style='max-width:100%;height:auto'>")


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))


def table(trials: list[Trained]) -> str:
    rows = table_rows(trials)
    head = "".join(f"<th>{c}</th>" for c in COLS)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in COLS) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _panel_title(exp: Experiment, fields: list[str]) -> str:
    kinds = {"sigma2": "iid weights", "eta": r"correlated weights $W_{ind} + \eta w$", "": "test error"}
    kind = kinds.get(fields[0] if fields else "", ", ".join(fields))
    return f"{exp.name}: {kind}, {dict(exp.metrics[0].params)['dataset']}"


def training_section(exp: Experiment, paper: str, trials: list[Trained], out: Path,
                     partner: tuple[Experiment, list[Trained]] | None = None) -> list[str]:
    """HTML parts for one training experiment; ``partner``: the other half of a two-panel figure (Fig. 9)."""
    name = exp.name
    parts = [f"<h2 id='{html.escape(name)}'>{html.escape(name)}</h2>"]
    total = len(exp.specs) * len(exp.seeds)
    if not trials:
        return [*parts, "<p>No stored results: run the sweep first.</p>"]
    if len(trials) < total:
        parts.append(f"<p><b>Incomplete:</b> {len(trials)} of {total} trainings are stored.</p>")
    ds = dict(exp.metrics[0].params)
    parts.append(f"<p>Trained on <b>{html.escape(ds['dataset'])}</b> ({ds['epochs']} epochs, "
                 f"{'all' if ds['subset'] is None else ds['subset']} training examples, batch {ds['batch_size']}, "
                 f"{ds['optimizer']}, lr grid {', '.join(f'{v:g}' for v in ds['lr'])} chosen on validation).</p>")
    fields = _varying(trials)
    if name.startswith("fig7-8") and "sparsity" in fields:
        parts.append(_img(plot_fig7_8(trials, name, out / f"{name}.png"), name))
    else:
        panels = [(_panel_title(exp, fields), trials, fields[0] if fields else None)]
        if partner is not None and partner[1]:
            pf = _varying(partner[1])
            panels.append((_panel_title(partner[0], pf), partner[1], pf[0] if pf else None))
        parts.append(_img(plot_error_vs_depth(panels, name, out / f"{name}.png"), name))
    parts.append(_img(plot_training_curves(trials, name, out / f"{name}-curves.png"), f"{name} curves"))
    parts.append(f"<p><b>The paper reports:</b> {html.escape(paper)}</p>")
    parts.append("<p>Initial and final ln||J|| at test image 0 (natural log) next to the final test accuracy "
                 "(mean over seeds; 95% t-interval when there are several seeds).</p>" + table(trials))
    return parts
