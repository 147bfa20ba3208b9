"""Figures and tables of stored results, as two registries: one view per metric, one layout per built-in figure.

* :data:`VIEWS` maps a metric name (:mod:`jacstab.lab.metrics`) to a :class:`View`: a figure function
  ``figure(ctx) -> matplotlib Figure`` (or None: table only) and a table function ``tables(ctx) -> [Table]``.
  Every experiment, built-in or TOML, is drawn through them: ``jacstab report`` shows every stored metric.
* :data:`LAYOUTS` maps a built-in experiment (``fig1``, the part of ``fig1-quick`` before the size) to a
  :class:`Layout`: the paper's panels for one metric, the paper's caption and jacstab's note. A layout replaces
  the metric's generic figure when its ``applies(ctx)`` holds (a store's experiment of that name with another
  grid falls back to the generic figure).

Plugging in (one function + one registry entry):

* a new metric ``"foo"`` (its values stored per trial by :data:`jacstab.lab.metrics.REGISTRY`): write
  ``def foo_figure(ctx): ...`` returning a figure and/or ``def foo_tables(ctx): ...`` returning
  :class:`Table` s, then add ``VIEWS["foo"] = View(foo_figure, foo_tables, "what it shows")``;
* a new built-in experiment ``"fig5"`` (in :mod:`jacstab.lab.builtin`): write ``def fig5(ctx): ...`` drawing its
  panels, then add ``LAYOUTS["fig5"] = Layout("depth_curve", fig5, lambda ctx: True, caption, note)``.

A figure function reads ``ctx.settings`` (one :class:`Setting` per grid point: ``values[seed, i]``, ``band`` with
the mean and 95% t-CI over live seeds, ``prediction`` from :func:`jacstab.theory.predict`), draws theory only
where the prediction exists and ``ctx.options.theory`` is set, and labels axes with units and log bases
(:mod:`jacstab.lab.figures._style`). :func:`render` saves every figure as ``<experiment>[-<metric>].<fmt>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jacstab.lab.experiment import Experiment
from jacstab.lab.figures import depth, dynamics, orthogonal, paper, pruning, spectra, spectral, training
from jacstab.lab.figures._data import Context, Curves, Setting, Table, collect, label, varying_fields
from jacstab.lab.figures._style import FIG_FORMATS, LN10, FigureOptions, save
from jacstab.lab.store import Store

__all__ = [
    "FIG_FORMATS", "LAYOUTS", "LN10", "VIEWS", "Context", "Curves", "FigureOptions", "Layout", "Rendered",
    "Setting", "Table", "View", "builtin_base", "collect", "label", "render", "varying_fields",
]  # fmt: skip


@dataclass(frozen=True)
class View:
    """How one metric is shown: ``figure(ctx)`` (None: no figure) and ``tables(ctx)``; ``what`` names it."""

    figure: Callable[[Context], object] | None
    tables: Callable[[Context], list[Table]]
    what: str


@dataclass(frozen=True)
class Layout:
    """A built-in figure: the paper's panels for ``metric`` when ``applies(ctx)``, its caption and a note."""

    metric: str
    figure: Callable[[Context], object]
    applies: Callable[[Context], bool]
    caption: str
    note: str


VIEWS: dict[str, View] = {
    "depth_curve": View(depth.generic_figure, depth.tables, "log10 ||J^(d)|| vs depth d"),
    "spectrum": View(spectra.spectrum_figure, spectra.spectrum_tables, "singular values of J vs index"),
    "lyapunov": View(spectra.lyapunov_figure, spectra.lyapunov_tables, "Lyapunov exponents vs index"),
    "certificate": View(None, spectra.certificate_tables, "Theorem 3.1's conditions, realised vs law"),
    "train": View(training.figure, training.tables, "test error and ln||J|| through training"),
    "log_spectrum_depths": View(spectral.separation_figure, spectral.separation_tables,
                                "log sigma_i(J^(d)) vs depth: separation and finite-depth exponents"),
    "alignment": View(spectral.alignment_figure, spectral.alignment_tables,
                      "alignment of head and tail singular subspaces vs split depth"),
    "lyapunov_stderr": View(spectral.exponents_figure, spectral.exponents_tables,
                            "top Lyapunov exponent with standard errors vs the residual weight"),
    "teacher": View(dynamics.figure, dynamics.tables, "singular-value dynamics on a low-rank linear teacher"),
    "train_isometry": View(orthogonal.figure, orthogonal.tables,
                           "test accuracy, ln||J|| and the isometry defect vs depth, before and after training"),
}

LAYOUTS: dict[str, Layout] = {
    name: Layout("depth_curve", getattr(paper, name), getattr(paper, f"applies_{name}"), paper.CAPTIONS[name],
                 paper.NOTES[name])
    for name in ("fig1", "fig2", "fig3", "fig4")
}
LAYOUTS["fig7-8"] = Layout("train", training.fig7_8, training.applies_fig7_8, paper.CAPTIONS["fig7-8"],
                           paper.NOTES["fig7-8"])
LAYOUTS["pruning-methods"] = Layout("depth_curve", pruning.figure, pruning.applies, pruning.CAPTION, pruning.NOTE)
for _name in ("fig9-iid", "fig9-eta"):
    LAYOUTS[_name] = Layout("train", training.figure, lambda ctx: True, paper.CAPTIONS[_name], paper.NOTES[_name])


def builtin_base(name: str) -> str:
    """``"fig1"`` for ``"fig1-quick"`` / ``"fig1-full"`` (a layout's key), else ``""``."""
    base, _, size = name.rpartition("-")
    return base if base in LAYOUTS and size in ("quick", "full") else ""


@dataclass(frozen=True)
class Rendered:
    """One metric of one experiment: its figure files (None when it has no figure), tables and texts."""

    exp: Experiment
    metric: str
    what: str
    figure: Path | None
    png: Path | None
    tables: list[Table]
    caption: str
    note: str
    complete: tuple[int, int, int, int]


def render(exp: Experiment, store: Store, out_dir: str | Path, options: FigureOptions) -> list[Rendered]:
    """Draw and tabulate every metric of ``exp`` stored in ``store`` into ``out_dir``; metrics with no stored
    value are left out (the report says so). Files: ``<exp.name>.<fmt>`` for depth curves,
    ``<exp.name>-<metric>.<fmt>`` for the others, plus a ``.png`` of each for the HTML report."""
    out, base = [], builtin_base(exp.name)
    for metric in exp.metric_names:
        view = VIEWS.get(metric)
        settings = collect(exp, store, metric)
        if view is None or not settings:
            continue
        ctx = Context(exp, metric, settings, options, base)
        layout = LAYOUTS.get(base)
        use = layout if layout is not None and layout.metric == metric and layout.applies(ctx) else None
        draw = use.figure if use is not None else view.figure
        main = png = None
        if draw is not None:
            stem = Path(out_dir) / (exp.name if metric == "depth_curve" else f"{exp.name}-{metric}")
            main, png = save(draw(ctx), stem, options)
        out.append(Rendered(exp, metric, view.what, main, png, view.tables(ctx), use.caption if use else "",
                            use.note if use else "", ctx.complete))
    return out
