"""What the commands share: the spec from the options, seeds, device, notes on stderr, progress, the seed loop.

torch and the jacstab API are imported inside the functions, never at module level.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from jacstab.output import RowWriter

SPEC_KEYS = (
    "width",
    "depth",
    "activation",
    "sigma2",
    "init",
    "in_dim",
    "out_dim",
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
    "gates",
    "gate_p",
    "residual",
    "block",
    "compression",
    "prune_rounds",
    "prune_schedule",
    "prune_data",
    "prune_batch",
    "prune_batch_seed",
    "prune_ablation",
)


def api(name: str) -> Any:
    """The top-level ``jacstab.<name>`` (resolved on first use, so the CLI imports torch only when it runs)."""
    import jacstab

    return getattr(jacstab, name)


def quiet() -> bool:
    """True under ``--quiet`` (given to the group or to the command)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get("jacstab.quiet"))


def note(message: str) -> None:
    """A note or summary on stderr (dropped by ``--quiet``)."""
    if not quiet():
        click.echo(message, err=True)


def rows_out(columns: list[str], fmt: str) -> RowWriter:
    """The row writer on stdout."""
    return RowWriter(sys.stdout, columns, fmt)


def write_all(columns: list[str], fmt: str, rows: Iterable[dict[str, Any]]) -> None:
    """Write ``rows`` (computed before any output) to stdout."""
    rows = list(rows)
    with rows_out(columns, fmt) as out:
        out.write_rows(rows)


def spec_from(o: dict[str, Any]) -> Any:
    """The ``jacstab.NetSpec`` of the network options (validated by the spec itself)."""
    return api("NetSpec")(**{k: o[k] for k in SPEC_KEYS})


def dtype_of(name: str) -> Any:
    import torch

    return getattr(torch, name)


def device_of(name: str) -> Any:
    """``torch.device(name)``, or a ``ValueError`` saying what to give instead (``nets.sampling.check_device``)."""
    from jacstab.nets.sampling import check_device

    return check_device(name, "--device")


def seed_range(o: dict[str, Any]) -> range:
    if o["seeds"] < 1:
        raise ValueError(f"--seeds must be >= 1, got {o['seeds']}")
    if o["seed0"] < 0:
        raise ValueError(f"--seed0 must be >= 0, got {o['seed0']}")
    return range(o["seed0"], o["seed0"] + o["seeds"])


@contextmanager
def progress(enabled: bool | None, total: int, what: str) -> Iterator[Callable[..., None]]:
    """A rich progress bar (count, elapsed, ETA) on stderr; yields ``advance(n=1)``.

    Shown when ``enabled``, or by default when stderr is a terminal and ``--quiet`` is not given.
    """
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
    show = (console.is_terminal and not quiet()) if enabled is None else enabled
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


def input_note(spec: Any) -> None:
    _gaussian_note(spec.input_dim)


def _gaussian_note(d: int) -> None:
    note(f"note: input x = fixed normalised Gaussian input, ||x||^2 = d = {d} (no dataset given; see README, "
         "'Python API')")


def input_of(o: dict[str, Any], in_dim: int, dtype: Any, dev: Any, *, fix: str = "--in-dim {d}") -> Any:
    """The input tensor of ``--input`` (None: the default Gaussian input of dimension ``in_dim``), with a note on
    stderr saying which; ``fix``: the option that sets the input dimension, for the mismatch error."""
    text = o.get("input_", "gaussian")
    from jacstab.lab.trials import parse_input

    kind, name, index = parse_input(text)
    if kind == "default":
        _gaussian_note(in_dim)
        return None
    from jacstab.training.data import dataset_input, load_dataset

    x = dataset_input(name, index, o.get("data_dir"))
    if x.numel() != in_dim:
        raise ValueError(f"--input {text}: the image has d = {x.numel()} pixels but the network's input dimension is "
                         f"{in_dim}; give {fix.format(d=x.numel())}")
    note(f"note: input x = test image {index} of {load_dataset(name, o.get('data_dir')).describe()}")
    return x.to(dtype=dtype, device=dev)


def check_k(k: int | None, width: int) -> None:
    if k is not None and not 1 <= k <= width:
        raise ValueError(f"--k must be an integer in [1, {width}] (the width), got {k}")


RowsForSeed = Callable[[Any, Callable[..., None]], Iterable[dict[str, Any]]]


def run_seeds(o: dict[str, Any], columns: list[str], rows_for_seed: RowsForSeed, work: int, what: str) -> None:
    """Sample each seed's network and print its rows once the seed is finished (Ctrl-C keeps whole seeds).

    ``rows_for_seed(net, advance)`` gives the rows of one network (without ``seed``); ``work`` is the number of
    ``advance`` steps per seed, for the progress bar.
    """
    spec, dev, dtype, seeds = spec_from(o), device_of(o["device"]), dtype_of(o["dtype"]), seed_range(o)
    check_k(o.get("k"), spec.width)
    at = o.get("at_depth")
    if at is not None and not 1 <= at <= spec.depth:
        raise ValueError(f"--at-depth must be in [1, {spec.depth}] (the sampled depth --depth), got {at}")
    from jacstab._threads import configure_threads

    configure_threads(spec.width)
    sample = _sampler(o)
    first = sample(spec, seeds[0], dtype=dtype, device=dev)  # sampling errors surface before any output
    o["x"] = input_of(o, spec.input_dim, dtype, dev)
    with rows_out(columns, o["fmt"]) as out, progress(o["progress"], len(seeds) * work, what) as advance:
        for seed in seeds:
            net = first if seed == seeds[0] else sample(spec, seed, dtype=dtype, device=dev)
            rows = [{"seed": seed, **row} for row in rows_for_seed(net, advance)]
            out.write_rows(rows)


def _sampler(o: dict):
    """``sample`` with the snip/grasp scoring batch of ``--prune-data`` loaded from ``--data-dir`` (the CLI reads the
    files; the math core does not)."""
    from jacstab.training.data import pruning_batch

    def sample(spec, seed, **kw):
        return api("sample")(spec, seed, data=pruning_batch(spec, seed, o.get("data_dir")), **kw)

    return sample


def exp_or_inf(v: float) -> float:
    """``exp(v)``, or ``inf`` where it leaves the float64 range."""
    return math.exp(v) if v < 709.0 else math.inf
