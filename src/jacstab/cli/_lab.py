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


def _experiment(name_or_file: str, quick: bool):
    from jacstab.lab.builtin import BUILTIN, builtin_experiment
    from jacstab.lab.experiment import load_experiment

    if name_or_file in BUILTIN and not Path(name_or_file).exists():
        return builtin_experiment(name_or_file, quick=quick)
    if not Path(name_or_file).is_file():
        raise ValueError(
            f"{name_or_file}: neither an experiment file nor a built-in experiment"
            f"{closest(name_or_file, list(BUILTIN))} (built-ins: {', '.join(BUILTIN)})"
        )
    return load_experiment(name_or_file)


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
@store_option
@run_options
@format_option(progress=True)
def sweep(experiment_file, quick, store_path, executor, workers, address, retry_errors, fmt, progress) -> None:
    """Run a TOML experiment file, or a built-in one (fig1..fig4, see `jacstab experiments`), into the store.

    Finished trials are skipped, so rerunning resumes; trials stored with an error are retried (unless
    --no-retry-errors); Ctrl-C keeps every stored trial. Row {experiment, trials, skipped, done, errors, retried}:
    skipped = reused from the store, done = computed now, errors = failed now, retried = earlier errors computed
    again. Exit code 1 when trials failed. The file format: README, 'Sweeps, the results store, figures and the
    report'.
    """
    from jacstab.lab import Store
    from jacstab.lab.runner import run_experiment

    _check_run(executor, workers, address)
    exp = _experiment(experiment_file, quick)
    _check_sizes(exp, address)
    with Store(store_path) as store, _progress(progress, len(exp.trials()), exp.name) as advance:
        summary = run_experiment(
            exp, store, executor=executor, workers=workers, address=address, progress=lambda d, t: advance(1),
            retry_errors=retry_errors,
        )
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
    """Export the store: one row per value {trial_id, seed, status, error, metric, idx, value, spec fields}.

    From Python: jacstab.lab.Store(path).dataframe() gives the same rows as a pandas DataFrame.
    """
    import dataclasses

    from jacstab.lab import Store

    _need_store(store_path, "`jacstab sweep FILE --store PATH`")
    cols = [
        "trial_id",
        "seed",
        "status",
        "error",
        "metric",
        "idx",
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


def _report(store_path: str, out_dir: str, quick: bool):
    from jacstab import __version__
    from jacstab.lab import Store
    from jacstab.lab.builtin import BUILTIN, builtin_experiment
    from jacstab.lab.report import write_report

    items = [
        (builtin_experiment(name, quick=quick), entry["paper"])
        for name, entry in BUILTIN.items()
        if entry.get("reproduce", True)
    ]
    with Store(store_path, readonly=True) as store:
        return write_report(items, store, out_dir, __version__)


@click.command(cls=Command, example=["jacstab report --quick --store demo.sqlite --out demo-report"])
@store_option
@option("--out", "out_dir", group="Report", default="jacstab-report", show_default=True, help="Output folder.")
@option("--quick", group="Report", is_flag=True, help="Report the quick-size built-in experiments.")
@format_option()
def report(store_path, out_dir, quick, fmt) -> None:
    """Write figures (PNG) and a self-contained HTML report of the built-in Figures 1-4 from the store.

    Experiments not in the store are left out. Row {report}: the path of the HTML file.
    """
    _need_store(store_path, "`jacstab reproduce` or `jacstab sweep`")
    write_all(["report"], fmt, [{"report": str(_report(store_path, out_dir, quick))}])


@click.command(cls=Command, example=["jacstab reproduce --quick --store demo.sqlite --out demo-report"])
@option("--quick", group="Reproduce", is_flag=True, help="Quick sizes (minutes on 2 cores) instead of the paper's.")
@option("--out", "out_dir", group="Reproduce", default="jacstab-report", show_default=True, help="Output folder.")
@store_option
@run_options
@format_option(progress=True)
def reproduce(quick, out_dir, store_path, executor, workers, address, retry_errors, fmt, progress) -> None:
    """Run the paper's Figures 1-4 (resumable), store them, plot them and write the HTML report.

    Rows {experiment, trials, skipped, done, errors, retried} as each figure finishes, then the report path on
    stderr. Exit code 1 when trials failed.
    """
    from jacstab.lab import Store
    from jacstab.lab.builtin import BUILTIN, builtin_experiment
    from jacstab.lab.runner import run_experiment

    _check_run(executor, workers, address)
    _check_out(out_dir)
    exps = [builtin_experiment(name, quick=quick) for name, entry in BUILTIN.items() if entry.get("reproduce", True)]
    total, summaries = sum(len(e.trials()) for e in exps), []
    with (
        Store(store_path) as store,
        rows_out(SUMMARY_COLUMNS, fmt) as out,
        _progress(progress, total, "reproduce") as advance,
    ):
        for exp in exps:
            summary = run_experiment(
                exp, store, executor=executor, workers=workers, address=address, progress=lambda d, t: advance(1),
                retry_errors=retry_errors,
            )
            advance(summary.skipped)
            out.write(vars(summary))
            summaries.append(summary)
    note(f"report: {_report(store_path, out_dir, quick)}")
    _finish(summaries)


COMMANDS = (experiments, sweep, results, report, reproduce)
