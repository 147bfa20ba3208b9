"""The ``jacstab`` command line: parses arguments, calls the library, prints rows. No logic of its own.

Every command takes ``--format table|csv|json`` (json: a list of row objects on stdout). Errors are one line on
stderr (``jacstab: error: ...``) with exit code 2. Rows are written as each seed finishes, so Ctrl-C keeps
everything already printed (the JSON list is closed properly) and exits with code 130.
"""

from __future__ import annotations

import math
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import torch

from jacstab.engine import depth_curve, lyapunov_exponents, singular_values
from jacstab.engine.api import METHODS
from jacstab.ensembles import sample
from jacstab.output import RowWriter
from jacstab.specs import ACTIVATIONS, INITS, PRUNES, SCALINGS, NetSpec, closest

_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", getattr(click.exceptions, "NoArgsIsHelp", None))
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _net_options(f: Callable) -> Callable:
    opts = [
        click.option("--width", "-n", type=int, required=True, help="Hidden width n (>= 1)."),
        click.option("--depth", "-L", type=int, required=True, help="Depth L: number of n x n hidden matrices."),
        click.option("--activation", default="relu", show_default=True, help=f"One of {', '.join(ACTIVATIONS)}."),
        click.option("--slope", type=float, default=0.01, show_default=True, help="leaky_relu negative slope."),
        click.option(
            "--sigma2",
            type=float,
            default=2.0,
            show_default=True,
            help="sigma_w^2: Gaussian W_ij ~ N(0, sigma2/n); orthogonal gain sqrt(sigma2).",
        ),
        click.option("--init", default="gaussian", show_default=True, help=f"One of {', '.join(INITS)}."),
        click.option("--in-dim", type=int, default=None, help="Input dimension d (default: width)."),
        click.option("--prune", default="none", show_default=True, help=f"Pruning at init: {', '.join(PRUNES)}."),
        click.option("--sparsity", type=float, default=0.0, show_default=True, help="Fraction s of weights removed."),
        click.option("--threshold", type=float, default=None, help="|w| threshold for magnitude-threshold."),
        click.option("--keep", type=int, default=None, help="Top-r entries kept per matrix (magnitude)."),
        click.option("--prune-scope", default="layer", show_default=True, help="layer or global ranking."),
        click.option(
            "--scaling", default="none", show_default=True, help=f"Kept-weight scaling: {', '.join(SCALINGS)}."
        ),
        click.option("--eta", type=float, default=0.0, show_default=True, help="Paper's correlation W_ind + eta w."),
        click.option("--correlation", default="none", show_default=True, help="none, row, col or ar1 (with --rho)."),
        click.option("--rho", type=float, default=0.0, show_default=True, help="Target correlation of --correlation."),
        click.option("--seeds", type=int, default=1, show_default=True, help="Number of seeds K."),
        click.option("--seed0", type=int, default=0, show_default=True, help="First seed; seeds are S0..S0+K-1."),
        click.option("--dtype", type=click.Choice(list(DTYPES)), default="float64", show_default=True),
        click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N."),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["table", "csv", "json"]),
            default="table",
            show_default=True,
            help="Output format (json: a list of row objects).",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Progress bar on stderr (default: when stderr is a terminal).",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


SPEC_KEYS = (
    "width",
    "depth",
    "activation",
    "sigma2",
    "init",
    "in_dim",
    "slope",
    "prune",
    "sparsity",
    "threshold",
    "keep",
    "prune_scope",
    "scaling",
    "eta",
    "correlation",
    "rho",
)


def _spec(o: dict) -> NetSpec:
    return NetSpec(**{k: o[k] for k in SPEC_KEYS})


def _device(name: str) -> torch.device:
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {name!r}") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was given but no CUDA device is available (use --device cpu)")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    return dev


def _seeds(o: dict) -> range:
    if o["seeds"] < 1:
        raise ValueError(f"--seeds must be >= 1, got {o['seeds']}")
    if o["seed0"] < 0:
        raise ValueError(f"--seed0 must be >= 0, got {o['seed0']}")
    return range(o["seed0"], o["seed0"] + o["seeds"])


@contextmanager
def _progress(enabled: bool | None, total: int, what: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar (count, rate, ETA) on stderr; yields ``advance(n)``."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    show = console.is_terminal if enabled is None else enabled
    cols = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*cols, console=console, disable=not show, transient=False) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n=1: bar.advance(task, n)


def _check_k(k: int | None, width: int) -> None:
    if k is not None and not 1 <= k <= width:
        raise ValueError(f"--k must be an integer in [1, {width}] (the width), got {k}")


def _run(o: dict, columns: list[str], rows_for_seed: Callable, work_per_seed: int, what: str) -> None:
    """Sample each seed's network, write its rows as soon as they are ready; Ctrl-C keeps finished rows."""
    spec, dev, dtype, seeds = _spec(o), _device(o["device"]), DTYPES[o["dtype"]], _seeds(o)
    _check_k(o.get("k"), spec.width)
    at = o.get("at_depth")
    if at is not None and not 1 <= at <= spec.depth:
        raise ValueError(f"--at-depth must be in [1, {spec.depth}] (the sampled depth --depth), got {at}")
    click.echo(
        f"note: input x = fixed normalised Gaussian input, ||x||^2 = d = {spec.input_dim} "
        "(no dataset given; DESIGN.md section 4)",
        err=True,
    )
    first = sample(spec, seeds[0], dtype=dtype, device=dev)  # sampling errors surface before any output
    with (
        RowWriter(sys.stdout, columns, o["fmt"]) as out,
        _progress(o["progress"], len(seeds) * work_per_seed, what) as advance,
    ):
        for seed in seeds:
            net = first if seed == seeds[0] else sample(spec, seed, dtype=dtype, device=dev)
            for row in rows_for_seed(net, seed, advance):
                out.write({"seed": seed, **row})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jacstab")
def cli() -> None:
    """jacstab: spectral stability of deep-network Jacobians (Dadoun et al. 2025).

    J = W_L D_{L-1} ... W_1 D_0 is the Jacobian dY_L/dY_0 of the paper's MLP (eq. 1-2).
    """


@cli.command()
@_net_options
@click.option(
    "--independent",
    is_flag=True,
    help="Draw an independent network for every depth (the paper's protocol; L(L+1)/2 layer products).",
)
def measure(independent: bool, **o) -> None:
    """log ||J^(d)|| (natural log) for every depth d = 1..L of every seed: rows {seed, depth, log_norm}."""

    def rows(net, seed, advance):
        curve = depth_curve(net, independent=independent, callback=lambda d: advance(1))
        return ({"depth": d, "log_norm": float(v)} for d, v in enumerate(curve.tolist(), 1))

    _run(o, ["seed", "depth", "log_norm"], rows, o["depth"], "measure")


@cli.command()
@_net_options
@click.option("--k", "k", type=int, default=None, help="Top-k singular values (default: all n).")
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="auto",
    show_default=True,
    help="Backend (see jacstab.singular_values).",
)
@click.option("--at-depth", type=int, default=None, help="Take J^(D) = dY_D/dY_0 for D <= L (default: L).")
def spectrum(method: str, **o) -> None:
    """Singular values of J at depth L: rows {seed, index, singular_value, log_singular_value}.

    singular_value is inf where it leaves the float64 range; log_singular_value never overflows.
    """

    def rows(net, seed, advance):
        logs = singular_values(net, k=o["k"], depth=o["at_depth"], method=method, log=True)
        advance(1)
        return (
            {"index": i, "singular_value": _exp(v), "log_singular_value": v} for i, v in enumerate(logs.tolist(), 1)
        )

    _run(o, ["seed", "index", "singular_value", "log_singular_value"], rows, 1, "spectrum")


@cli.command()
@_net_options
@click.option("--k", "k", type=int, default=None, help="Top-k exponents (default: all n).")
def lyapunov(**o) -> None:
    """Per-layer Lyapunov exponents (natural log, QR/Benettin), descending: rows {seed, index, exponent}."""

    def rows(net, seed, advance):
        lam = lyapunov_exponents(net, k=o["k"])
        advance(1)
        return ({"index": i, "exponent": v} for i, v in enumerate(lam.tolist(), 1))

    _run(o, ["seed", "index", "exponent"], rows, 1, "lyapunov")


@cli.command()
@_net_options
@click.option("--sampled", is_flag=True, help="Certify each seed's realised network instead of the law.")
def certify(sampled: bool, **o) -> None:
    """Theorem 3.1's conditions (i)-(iii), the sparsity edge and the correlation scale, with verdicts.

    Rows {seed, name, formula, value, must_tend_to, verdict}; seed is "law" for the law-level certificate.
    The summary (which scaling rule best satisfies condition (ii)) goes to stderr. Asymptotic: it explains,
    it does not promise.
    """
    from jacstab.certify import certify as _certify

    spec = _spec(o)
    seeds = _seeds(o) if sampled else ["law"]
    cols = ["seed", "name", "formula", "value", "must_tend_to", "verdict"]
    with RowWriter(sys.stdout, cols, o["fmt"]) as out:
        for seed in seeds:
            cert = _certify(sample(spec, seed, dtype=DTYPES[o["dtype"]]) if sampled else spec)
            for row in cert.rows():
                out.write({"seed": seed, **row})
    click.echo(f"summary: {cert.summary}", err=True)


@cli.command()
@_net_options
@click.option("--every", type=int, default=1, show_default=True, help="Report every K-th depth (and the last).")
def scalings(every: int, **o) -> None:
    """Measured log ||J|| vs depth for every scaling rule that applies to --prune (mean and sd over seeds).

    Rows {scaling, depth, log_norm_mean, log_norm_sd, seeds, condition_ii}: condition_ii is the law-level
    |1/2 sum_k E|b w|^2 - 1| of Theorem 3.1 (0 = the row second moment of the unpruned law is restored).
    A summary on stderr ranks the rules by measured growth of log||J|| per layer and names the most stable.
    """
    from jacstab.certify import LAW_RULES, law_quantities

    base = _spec(o)
    if base.prune == "none":
        raise ValueError("scalings compares scaling rules of a pruned network: give --prune and --sparsity")
    if every < 1:
        raise ValueError(f"--every must be >= 1, got {every}")
    specs = []
    for rule in LAW_RULES:
        try:
            specs.append((rule, base.replace(scaling=rule)))
        except ValueError:
            continue  # rule not applicable to this pruning method
    dev, dtype, seeds = _device(o["device"]), DTYPES[o["dtype"]], _seeds(o)
    depths = [d for d in range(1, base.depth + 1) if d % every == 0 or d == base.depth]
    cols = ["scaling", "depth", "log_norm_mean", "log_norm_sd", "seeds", "condition_ii"]
    slopes: dict[str, float] = {}
    with (
        RowWriter(sys.stdout, cols, o["fmt"]) as out,
        _progress(o["progress"], len(specs) * len(seeds), "scalings") as advance,
    ):
        for rule, spec in specs:
            curves = []
            for seed in seeds:
                curves.append(depth_curve(sample(spec, seed, dtype=dtype, device=dev)))
                advance(1)
            c = torch.stack(curves)
            ii = abs(law_quantities(spec)[1])
            sd = c.std(0) if len(seeds) > 1 else torch.full((base.depth,), math.nan, dtype=torch.float64)
            for d in depths:
                out.write(
                    {
                        "scaling": rule,
                        "depth": d,
                        "log_norm_mean": c[:, d - 1].mean().item(),
                        "log_norm_sd": sd[d - 1].item(),
                        "seeds": len(seeds),
                        "condition_ii": ii,
                    }
                )
            mean = c.mean(0)
            slopes[rule] = (mean[-1] - mean[0]).item() / max(base.depth - 1, 1)
    best = min(slopes, key=lambda r: abs(slopes[r]))
    listing = ", ".join(f"{r} {v:+.3g}" for r, v in sorted(slopes.items(), key=lambda kv: abs(kv[1])))
    click.echo(f"summary: measured growth of log||J|| per layer: {listing}; most stable: {best}", err=True)


THEORY_KINDS = ("edge", "moments", "density", "lyapunov", "scaling", "lognormal")


@cli.command()
@click.argument("kind", type=click.Choice(THEORY_KINDS))
@click.option("--width", "-n", type=int, default=256, show_default=True)
@click.option("--depth", "-L", type=int, default=10, show_default=True)
@click.option("--sigma2", type=float, default=2.0, show_default=True)
@click.option("--init", default="gaussian", show_default=True, help="gaussian or orthogonal.")
@click.option("--p", "p", type=float, default=0.5, show_default=True, help="Mask density (1/2 for ReLU, 1 linear).")
@click.option("--k", "k", type=int, default=8, show_default=True, help="moments: how many.")
@click.option("--points", type=int, default=50, show_default=True, help="density: grid size.")
@click.option("--activation", default="relu", show_default=True, help="lognormal: relu or linear.")
@click.option("--sparsities", default="0.1,0.5,0.8,0.9,0.95,0.99", show_default=True, help="scaling: list.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def theory(kind, width, depth, sigma2, init, p, k, points, activation, sparsities, fmt) -> None:
    """Theory predictions (numpy/scipy; see jacstab.theory).

    \b
    edge:      predicted log||J^(d)|| (free probability, n -> inf) and the Theorem 2.2 slope, d = 1..L
    moments:   m_k = lim (1/n) tr (J J^T)^k, k = 1..K (Lagrange inversion of the S-transform)
    density:   limiting density of the eigenvalues of J J^T on (0, edge]
    lyapunov:  Lyapunov exponents of products of Gaussian n x n matrices (Newman 1986)
    scaling:   scaling factors for magnitude pruning vs sparsity (random, exact, paper)
    lognormal: mean and variance of log ||J u||^2 at finite L/n (Hanin and Nica 2020)
    """
    from jacstab import theory as T

    for name, v in (("--width", width), ("--depth", depth), ("--k", k), ("--points", points)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    if kind == "edge":
        cols = ["depth", "predicted_log_norm", "theorem_2_2_log_norm"]
        rows = [
            {
                "depth": d,
                "predicted_log_norm": T.predicted_log_norm(d, p, sigma2, init),
                "theorem_2_2_log_norm": d * T.growth_rate(sigma2, 2 * p),
            }
            for d in range(1, depth + 1)
        ]
    elif kind == "moments":
        cols = ["k", "moment"]
        rows = [{"k": i + 1, "moment": float(m)} for i, m in enumerate(T.moments(k, depth, p, sigma2, init))]
    elif kind == "density":
        import numpy as np

        edge = math.exp(T.log_spectral_edge(depth, p, sigma2, init))
        xs = np.linspace(edge / points, edge, points)
        cols = ["x", "density"]
        rows = [{"x": float(x), "density": float(v)} for x, v in zip(xs, T.density(xs, depth, p, sigma2, init))]
    elif kind == "lyapunov":
        cols = ["index", "exponent"]
        rows = [{"index": i + 1, "exponent": float(v)} for i, v in enumerate(T.gaussian_lyapunov(width, sigma2))]
    elif kind == "scaling":
        try:
            ss = [float(x) for x in sparsities.split(",")]
        except ValueError as e:
            raise ValueError(f"--sparsities must be comma-separated numbers, got {sparsities!r}") from e
        if any(not 0 <= x < 1 for x in ss):
            raise ValueError(f"--sparsities must lie in [0, 1), got {sparsities!r}")
        cols = ["sparsity", "random", "exact", "paper", "paper_over_exact"]
        rows = T.compare_magnitude_factors(width, ss, sigma2)
    else:
        mean, var = T.log_norm_sq_lognormal(width, depth, activation, sigma2)
        cols = ["activation", "width", "depth", "mean", "variance"]
        rows = [{"activation": activation, "width": width, "depth": depth, "mean": mean, "variance": var}]
    with RowWriter(sys.stdout, cols, fmt) as out:
        for row in rows:
            out.write(row)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def experiments(fmt) -> None:
    """List the built-in experiments: rows {name, trials_quick, trials_full, description}."""
    from jacstab.lab.builtin import BUILTIN, builtin_experiment

    with RowWriter(sys.stdout, ["name", "trials_quick", "trials_full", "description"], fmt) as out:
        for name, entry in BUILTIN.items():
            out.write(
                {
                    "name": name,
                    "trials_quick": len(builtin_experiment(name, quick=True).trials()),
                    "trials_full": len(builtin_experiment(name).trials()),
                    "description": entry["description"],
                }
            )


def _run_options(f: Callable) -> Callable:
    """The executor, output and progress options shared by ``sweep`` and ``reproduce``."""
    opts = [
        click.option(
            "--executor", type=click.Choice(["serial", "process", "dask"]), default="process", show_default=True
        ),
        click.option("--workers", type=int, default=None, help="Worker processes (default: one per core)."),
        click.option(
            "--address", default=None, help="Dask scheduler address (tcp://host:port); default: a LocalCluster."
        ),
        click.option(
            "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
        ),
        click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@cli.command()
@click.argument("experiment_file")
@click.option("--store", "store_path", default="jacstab-results.sqlite", show_default=True, help="SQLite store.")
@_run_options
@click.option("--quick", is_flag=True, help="Built-in experiments: the quick size (minutes on 2 cores).")
def sweep(experiment_file, store_path, executor, workers, address, fmt, progress, quick) -> None:
    """Run a TOML experiment file, or a built-in one (fig1..fig4, see `jacstab experiments`), into the store.

    Finished trials are skipped, so rerunning resumes. Row {experiment, trials, skipped, done, errors}.
    See jacstab.lab.experiment for the file format.
    """
    from pathlib import Path

    from jacstab.lab import Store
    from jacstab.lab.builtin import BUILTIN, builtin_experiment
    from jacstab.lab.experiment import load_experiment
    from jacstab.lab.runner import run_experiment

    if experiment_file in BUILTIN and not Path(experiment_file).exists():
        exp = builtin_experiment(experiment_file, quick=quick)
    elif not Path(experiment_file).is_file():
        raise ValueError(
            f"{experiment_file}: neither an experiment file nor a built-in experiment"
            f"{closest(experiment_file, list(BUILTIN))} (built-ins: {', '.join(BUILTIN)})"
        )
    else:
        exp = load_experiment(experiment_file)
    with Store(store_path) as store, _progress(progress, len(exp.trials()), exp.name) as advance:
        summary = run_experiment(
            exp, store, executor=executor, workers=workers, address=address, progress=lambda d, t: advance(1)
        )
    with RowWriter(sys.stdout, ["experiment", "trials", "skipped", "done", "errors"], fmt) as out:
        out.write(vars(summary))


@cli.command()
@click.option("--store", "store_path", default="jacstab-results.sqlite", show_default=True, help="SQLite store.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--parquet", "parquet", default=None, help="Also write the rows to this Parquet file (needs pyarrow).")
def results(store_path, fmt, parquet) -> None:
    """Export the store: one row per value {trial_id, seed, status, error, metric, idx, value, spec fields}.

    From Python: jacstab.lab.Store(path).dataframe() gives the same rows as a pandas DataFrame.
    """
    from pathlib import Path

    from jacstab.lab import Store
    from jacstab.specs import NetSpec

    if not Path(store_path).is_file():
        raise ValueError(f"no results store at {store_path!r} (run `jacstab sweep FILE --store PATH` first)")
    spec_cols = [f for f in NetSpec.__dataclass_fields__]
    cols = ["trial_id", "seed", "status", "error", "metric", "idx", "value", *spec_cols]
    with Store(store_path) as store:
        if parquet is not None:
            try:
                store.dataframe().to_parquet(parquet, index=False)
            except ImportError as e:
                raise ValueError("--parquet needs pyarrow: pip install 'jacstab[data]'") from e
        with RowWriter(sys.stdout, cols, fmt) as out:
            for row in store.rows():
                out.write({c: row.get(c) for c in cols})


def _report(store_path: str, out_dir: str, quick: bool):
    from jacstab import __version__
    from jacstab.lab import Store
    from jacstab.lab.builtin import BUILTIN, builtin_experiment
    from jacstab.lab.report import write_report

    items = [(builtin_experiment(name, quick=quick), entry["paper"]) for name, entry in BUILTIN.items()]
    with Store(store_path) as store:
        return write_report(items, store, out_dir, __version__)


@cli.command()
@click.option("--store", "store_path", default="jacstab-results.sqlite", show_default=True, help="SQLite store.")
@click.option("--out", "out_dir", default="jacstab-report", show_default=True, help="Output folder.")
@click.option("--quick", is_flag=True, help="Report the quick-size built-in experiments.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def report(store_path, out_dir, quick, fmt) -> None:
    """Write figures (PNG) and a self-contained HTML report of the built-in Figures 1-4 from the store."""
    from pathlib import Path

    if not Path(store_path).is_file():
        raise ValueError(f"no results store at {store_path!r} (run `jacstab reproduce` or `jacstab sweep` first)")
    path = _report(store_path, out_dir, quick)
    with RowWriter(sys.stdout, ["report"], fmt) as out:
        out.write({"report": str(path)})


@cli.command()
@click.option("--quick", is_flag=True, help="Quick sizes (minutes on 2 cores) instead of the paper's.")
@click.option("--store", "store_path", default="jacstab-results.sqlite", show_default=True, help="SQLite store.")
@click.option("--out", "out_dir", default="jacstab-report", show_default=True, help="Output folder.")
@_run_options
def reproduce(quick, store_path, out_dir, executor, workers, address, fmt, progress) -> None:
    """Run the paper's Figures 1-4 (resumable), store them, plot them and write the HTML report.

    Rows {experiment, trials, skipped, done, errors}, then the report path on stderr.
    """
    from jacstab.lab import Store
    from jacstab.lab.builtin import BUILTIN, builtin_experiment
    from jacstab.lab.runner import run_experiment

    exps = [builtin_experiment(name, quick=quick) for name in BUILTIN]
    total = sum(len(e.trials()) for e in exps)
    with (
        Store(store_path) as store,
        RowWriter(sys.stdout, ["experiment", "trials", "skipped", "done", "errors"], fmt) as out,
        _progress(progress, total, "reproduce") as advance,
    ):
        for exp in exps:
            summary = run_experiment(
                exp, store, executor=executor, workers=workers, address=address, progress=lambda d, t: advance(1)
            )
            advance(summary.skipped)
            out.write(vars(summary))
    click.echo(f"report: {_report(store_path, out_dir, quick)}", err=True)


def _exp(v: float) -> float:
    return math.exp(v) if v < 709.0 else math.inf


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors on stderr with exit code 2, 130 on Ctrl-C."""
    try:
        code = cli.main(args=argv, prog_name="jacstab", standalone_mode=False)
    except _NO_ARGS as e:  # bare ``jacstab``: show the help
        click.echo(e.ctx.get_help() if e.ctx else e.format_message())
        sys.exit(0)
    except click.UsageError as e:
        _fail(e.format_message())
    except (ValueError, TypeError, OverflowError) as e:
        _fail(str(e))
    except (OSError, sqlite3.Error) as e:  # unwritable output folder, locked or unreadable store, ...
        _fail(f"{type(e).__name__}: {e}")
    except (KeyboardInterrupt, click.Abort):
        click.echo("jacstab: interrupted; printed rows and stored trials are kept", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(msg: str) -> None:
    click.echo(f"jacstab: error: {' '.join(str(msg).split())}", err=True)
    sys.exit(2)
