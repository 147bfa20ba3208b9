"""The ``jacstab`` command line: parses arguments, calls the library, prints rows. No logic of its own.

Every command takes ``--format table|csv|json`` (json: a list of row objects on stdout). Errors are one line on
stderr (``jacstab: error: ...``) with exit code 2. Rows are written as each seed finishes, so Ctrl-C keeps
everything already printed (the JSON list is closed properly) and exits with code 130.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import torch

from jacstab.engine import depth_curve, lyapunov_exponents, singular_values
from jacstab.engine.api import METHODS
from jacstab.ensembles import sample
from jacstab.output import RowWriter
from jacstab.specs import ACTIVATIONS, INITS, NetSpec

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


def _spec(o: dict) -> NetSpec:
    return NetSpec(
        width=o["width"],
        depth=o["depth"],
        activation=o["activation"],
        sigma2=o["sigma2"],
        init=o["init"],
        in_dim=o["in_dim"],
        slope=o["slope"],
    )


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
    with (
        RowWriter(sys.stdout, columns, o["fmt"]) as out,
        _progress(o["progress"], len(seeds) * work_per_seed, what) as advance,
    ):
        for seed in seeds:
            net = sample(spec, seed, dtype=dtype, device=dev)
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
    except (KeyboardInterrupt, click.Abort):
        click.echo("jacstab: interrupted; rows already printed are complete", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(msg: str) -> None:
    click.echo(f"jacstab: error: {' '.join(str(msg).split())}", err=True)
    sys.exit(2)
