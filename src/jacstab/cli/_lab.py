"""``experiments``, ``sweep``, ``results``, ``report``, ``reproduce``: the lab (store, runner, report)."""

from __future__ import annotations

from pathlib import Path

import click

from jacstab._checks import closest
from jacstab.cli._common import api, note, rows_out, write_all
from jacstab.cli._common import progress as _progress
from jacstab.cli._options import Command, format_option, option, run_options, store_option

SUMMARY_COLUMNS = ["experiment", "trials", "skipped", "done", "errors", "retried"]


def _finish(summaries) -> None:
    """Exit 1 (after the rows are written) when trials failed; say how to see and retry them."""
    failed = sum(s.errors for s in summaries)
    legacy = max((s.legacy for s in summaries), default=0)
    if legacy:
        note(f"note: the store holds {legacy} trials from jacstab 0.1 (another identity scheme): kept, not reused")
    if failed:
        note(f"jacstab: {failed} trials failed (stored with their error; `jacstab results` shows them; rerun to retry)")
        click.get_current_context().exit(1)


@click.command(cls=Command, example=["jacstab experiments"])
@format_option()
def experiments(fmt: str) -> None:
    """List the built-in experiments: rows {name, trials_quick, trials_full, description}."""
    from jacstab.lab.builtin import BUILTIN, builtin_experiment

    rows = (
        {
            "name": name,
            "trials_quick": len(builtin_experiment(name, quick=True).trials()),
            "trials_full": len(builtin_experiment(name).trials()),
            "description": entry["description"],
        }
        for name, entry in BUILTIN.items()
    )
    write_all(["name", "trials_quick", "trials_full", "description"], fmt, rows)


def _experiment(name_or_file: str, quick: bool, data_dir: str | None = None):
    from jacstab.lab.builtin import BUILTIN, builtin_experiment
    from jacstab.lab.experiment import load_experiment

    if name_or_file in BUILTIN and not Path(name_or_file).exists():
        return builtin_experiment(name_or_file, quick=quick, data_dir=data_dir)
    if not Path(name_or_file).is_file():
        raise ValueError(
            f"{name_or_file}: neither an experiment file nor a built-in experiment"
            f"{closest(name_or_file, list(BUILTIN))} (built-ins: {', '.join(BUILTIN)})"
        )
    return load_experiment(name_or_file).with_data_dir(data_dir)


def _check_run(executor: str, workers: int | None, address: str | None) -> None:
    """The executor options, checked before the store is opened or a row is written."""
    from jacstab.lab.runner import check_run_options

    check_run_options(executor, workers, address, cli=True)


def _check_sizes(exp, address: str | None) -> None:
    """Every grid point's weights must fit on this machine (local executors), checked before anything is stored."""
    if address is not None:  # a remote Dask cluster: its workers check their own memory
        return
    from jacstab.nets.sampling import check_size

    for spec in dict.fromkeys(exp.specs):
        try:
            check_size(spec)
        except ValueError as e:
            raise ValueError(f"{exp.name}: {e}") from None


def _check_out(out_dir: str) -> None:
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ValueError(f"--out {out_dir!r} is a file, not a folder; give another --out")


@click.command(cls=Command, example=["jacstab sweep fig2 --quick --store demo.sqlite"])
@click.argument("experiment_file")
@option("--quick", group="Sweep", is_flag=True, help="Built-in experiments: the quick size (minutes on 2 cores).")
@option("--data-dir", group="Sweep", default=None,
        help="Folder of the IDX files for datasets mnist and idx (fashion-mnist: its Debian folder).")
@store_option
@run_options
@format_option(progress=True)
def sweep(experiment_file, quick, data_dir, store_path, executor, workers, address, retry_errors, fmt,
          progress) -> None:
    """Run a TOML experiment file, or a built-in one (fig1..fig4, see `jacstab experiments`), into the store.

    Finished trials are skipped, so rerunning resumes; trials stored with an error are retried (unless
    --no-retry-errors); Ctrl-C keeps every stored trial. Row {experiment, trials, skipped, done, errors, retried}:
    skipped = reused from the store, done = computed now, errors = failed now, retried = earlier errors computed
    again. Exit code 1 when trials failed. The file format: README, 'Sweeps, the results store, figures and the
    report'.
    """
    from jacstab.lab import Store
    from jacstab.lab.runner import Sweeper

    _check_run(executor, workers, address)
    exp = _experiment(experiment_file, quick, data_dir)
    _check_sizes(exp, address)
    with (
        Store(store_path) as store,
        _progress(progress, len(exp.trials()), exp.name) as advance,
        Sweeper(executor, workers, address) as sweeper,  # workers start with the first trials to compute
    ):
        summary = sweeper.run(exp, store, progress=lambda d, t: advance(1), retry_errors=retry_errors)
        advance(summary.skipped)  # reused trials count as done on the bar
    write_all(SUMMARY_COLUMNS, fmt, [vars(summary)])
    _finish([summary])


def _need_store(store_path: str, how: str) -> None:
    if not Path(store_path).is_file():
        raise ValueError(f"no results store at {store_path!r} (run {how} first)")


@click.command(cls=Command, example=["jacstab results --store demo.sqlite --format csv"])
@store_option
@option("--parquet", group="Store", default=None, help="Also write the rows to this Parquet file (needs pyarrow).")
@format_option()
def results(store_path, parquet, fmt) -> None:
    """Export the store: one row per value {experiment, trial_id, spec_hash, seed, status, error, metric, index,
    value, spec fields}.

    index is 1-based: the depth d for depth_curve (value = log ||J^(d)||, natural log), the rank for spectrum
    and lyapunov. experiment names the experiments holding the trial (comma-separated). CSV and JSON carry full
    float precision; --format jsonl writes JSON Lines. From Python: jacstab.lab.Store(path).dataframe() (these
    rows) and .curves() (tidy depth curves: groupby spec fields + depth works).
    """
    import dataclasses

    from jacstab.lab import Store

    _need_store(store_path, "`jacstab sweep FILE --store PATH`")
    cols = [
        "experiment",
        "trial_id",
        "spec_hash",
        "seed",
        "status",
        "error",
        "metric",
        "index",
        "value",
        *(f.name for f in dataclasses.fields(api("NetSpec"))),
    ]
    with Store(store_path, readonly=True) as store:
        if parquet is not None:
            try:
                store.dataframe().to_parquet(parquet, index=False)
            except ImportError as e:
                raise ValueError("--parquet needs pyarrow: pip install 'jacstab[data]'") from e
        rows = store.rows()
    write_all(cols, fmt, ({c: row.get(c) for c in cols} for row in rows))


def _report(store_path: str, out_dir: str, names, quick: bool, figs: tuple, sweep_s: float | None = None):
    """Select the experiments, then write the report (figures with ``figs`` = (format, dpi, theory))."""
    import shlex

    from jacstab import __version__
    from jacstab.lab import Store
    from jacstab.lab.catalog import select
    from jacstab.lab.figures import FigureOptions
    from jacstab.lab.report import Provenance, write_report

    options = FigureOptions(*figs)
    argv = (click.get_current_context().find_root().obj or {}).get("argv", [])
    with Store(store_path, readonly=True) as store:
        exps = select(store, list(names), quick=quick)
        prov = Provenance(shlex.join(["jacstab", *argv]), str(Path(store_path).resolve()), __version__, sweep_s)
        return write_report(exps, store, out_dir, prov, options)


def figure_options(f):
    """``--fig-format``, ``--dpi``, ``--no-theory``: the Figures section of report and reproduce."""
    from jacstab._checks import FIG_FORMATS

    opts = [
        option("--fig-format", "fig_format", group="Figures", type=click.Choice(FIG_FORMATS), default="png",
               show_default=True, help="Figure files (the HTML report embeds a PNG of each as well)."),
        option("--dpi", group="Figures", type=click.IntRange(50, 1200), default=200, show_default=True,
               help="Resolution of PNG figures (and of raster parts of PDF/SVG)."),
        option("--no-theory", "no_theory", group="Figures", is_flag=True,
               help="Leave out the theory overlays in figures (tables keep the theory column)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@click.command(cls=Command, example=[
    "jacstab report --store demo.sqlite --out demo-report",
    "jacstab report fig2 --store demo.sqlite --out demo-report --fig-format svg --dpi 300",
])
@click.argument("experiments", nargs=-1)
@store_option
@option("--out", "out_dir", group="Report", default="jacstab-report", show_default=True, help="Output folder.")
@option("--quick", group="Report", is_flag=True,
        help="Built-in short names (fig1) mean the quick size; with no EXPERIMENT: the quick built-ins only.")
@figure_options
@format_option()
def report(experiments, store_path, out_dir, quick, fig_format, dpi, no_theory, fmt) -> None:
    """Write figures and a self-contained HTML report of EXPERIMENT... (default: every experiment in the store).

    An EXPERIMENT is a name as stored by `jacstab sweep` (a TOML file's `name`, or fig1-quick/fig1-full for the
    built-ins; fig1 alone means the size that is stored). Every stored metric is drawn: depth curves (the
    paper's panels for fig1..fig4), spectra, Lyapunov exponents, certificate tables. Files: report.html and
    <experiment>[-<metric>].<fig-format> in --out. Row {report}: the path of the HTML file.
    """
    _need_store(store_path, "`jacstab reproduce` or `jacstab sweep`")
    _check_out(out_dir)
    path = _report(store_path, out_dir, experiments, quick, (fig_format, dpi, not no_theory))
    write_all(["report"], fmt, [{"report": str(path)}])


def _builtins(names, quick: bool, data_dir: str | None) -> list:
    """The built-in experiments ``names`` (all when empty) that can run here; those whose dataset is missing are
    left out with a note."""
    from jacstab.lab.builtin import BUILTIN, builtin_experiment, needs_missing_data

    for name in names:
        if name not in BUILTIN:
            raise ValueError(f"unknown built-in experiment {name!r}{closest(name, list(BUILTIN))}; available: "
                             f"{', '.join(BUILTIN)}")
    out = []
    for name in names or [b for b, entry in BUILTIN.items() if entry.get("reproduce", True)]:
        exp = builtin_experiment(name, quick=quick, data_dir=data_dir)
        why = needs_missing_data(exp)
        if why is None:
            out.append(exp)
        else:
            note(f"note: {exp.name} left out: {why}")
    if not out:
        raise ValueError("none of the requested built-in experiments can run here (see the notes above)")
    return out


@click.command(cls=Command, example=["jacstab reproduce --quick --store demo.sqlite --out demo-report",
                                     "jacstab reproduce fig1 fig9-iid --quick --data-dir ~/mnist"])
@click.argument("names", nargs=-1)
@option("--quick", group="Reproduce", is_flag=True, help="Quick sizes (minutes on 2 cores) instead of the paper's.")
@option("--out", "out_dir", group="Reproduce", default="jacstab-report", show_default=True, help="Output folder.")
@option("--data-dir", group="Reproduce", default=None,
        help="A folder with MNIST's four IDX files: Fig. 9 (left) trains on MNIST, as the paper (else Fashion-MNIST).")
@store_option
@run_options
@figure_options
@format_option(progress=True)
def reproduce(names, quick, out_dir, data_dir, store_path, executor, workers, address, retry_errors, fig_format, dpi,
              no_theory, fmt, progress) -> None:
    """Run the paper's figures (NAMES, default all built-ins: `jacstab experiments`), resumable; store them, plot
    them and write the HTML report.

    Figures 7-9 train on Fashion-MNIST (Debian package dataset-fashion-mnist); without it they are left out with a
    note.

    Rows {experiment, trials, skipped, done, errors, retried} as each figure finishes, then the report path on
    stderr. Exit code 1 when trials failed.
    """
    import time

    from jacstab.lab.runner import Sweeper

    t0 = time.perf_counter()
    _check_run(executor, workers, address)
    _check_out(out_dir)
    exps = _builtins(names, quick, data_dir)
    with Sweeper(executor, workers, address) as sweeper:  # one set of workers for every experiment
        summaries = _reproduce_sweeps(sweeper, exps, store_path, fmt, progress, retry_errors)
    names, sweep_s = [s.experiment for s in summaries], time.perf_counter() - t0
    note(f"report: {_report(store_path, out_dir, names, quick, (fig_format, dpi, not no_theory), sweep_s)}")
    note(f"wall time: {time.perf_counter() - t0:.1f} s")
    _finish(summaries)


def _reproduce_sweeps(sweeper, exps, store_path: str, fmt: str, progress, retry_errors: bool) -> list:
    """Sweep each experiment on ``sweeper``, writing a summary row as each finishes; the summaries."""
    from jacstab.lab import Store

    summaries = []
    with (
        Store(store_path) as store,
        rows_out(SUMMARY_COLUMNS, fmt) as out,
        _progress(progress, sum(len(e.trials()) for e in exps), "reproduce") as advance,
    ):
        for exp in exps:
            summary = sweeper.run(exp, store, progress=lambda d, t: advance(1), retry_errors=retry_errors)
            advance(summary.skipped)
            out.write(vars(summary))
            summaries.append(summary)
    return summaries


COMMANDS = (experiments, sweep, results, report, reproduce)
