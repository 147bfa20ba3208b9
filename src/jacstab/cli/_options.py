"""Options of the ``jacstab`` commands, grouped for ``--help``; choices come from :mod:`jacstab._checks`.

No torch here: ``jacstab --help`` and ``jacstab CMD --help`` import only click and the stdlib vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from jacstab._checks import (
    ABLATIONS,
    ACTIVATIONS,
    BLOCKS,
    CORRELATIONS,
    DTYPE_NAMES,
    EXECUTORS,
    FORMATS,
    GATE_MODELS,
    INITS,
    PRUNE_DATA,
    PRUNE_SCHEDULES,
    PRUNES,
    SCALINGS,
    SCOPES,
    closest,
)

# Sections of ``--help`` in this order; a command's own section goes before "Output".
SECTIONS = ("Network", "Pruning", "Correlation", "Seeds", "Input", "Training", "Run", "Store")
LAST = "Output"
DEFAULT_STORE = "jacstab-results.sqlite"  # jacstab.lab.store.DEFAULT_PATH, without importing the lab


class Choice(click.Choice):
    """``click.Choice`` (case-sensitive) whose error names the closest valid choice."""

    def __init__(self, choices: Sequence[str]):
        super().__init__(list(choices), case_sensitive=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as e:
            choices = [str(c) for c in self.choices]
            hint = closest(str(value), choices) or closest(str(value).lower(), choices)
            if not hint:
                raise
            self.fail(f"{e.message.rstrip('.')}{hint}", param, ctx)


class Option(click.Option):
    """A ``click.Option`` that remembers its ``--help`` section (``group``)."""

    def __init__(self, *args: Any, group: str = LAST, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.group = group


class Command(click.Command):
    """A command whose ``--help`` lists options by section and ends with a runnable example.

    ``example``: one or more command lines (each starting with ``jacstab``), shown verbatim last in ``--help``.
    """

    def __init__(self, *args: Any, example: Sequence[str] = (), **kwargs: Any):
        if example:
            kwargs["epilog"] = "\b\nExample:\n" + "\n".join(f"  {line}" for line in example)
        super().__init__(*args, **kwargs)
        self.example = tuple(example)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                sections.setdefault(getattr(param, "group", LAST), []).append(record)

        def rank(name: str) -> int:
            if name in SECTIONS:
                return SECTIONS.index(name)
            return len(SECTIONS) + (1 if name == LAST else 0)

        for name in sorted(sections, key=rank):  # sorted is stable: command sections keep their order
            with formatter.section(name):
                formatter.write_dl(sections[name])


def option(*decls: str, group: str, **kwargs: Any) -> Callable:
    """``click.option`` with a help section."""
    return click.option(*decls, cls=Option, group=group, **kwargs)


def _stack(opts: list[Callable]) -> Callable[[Callable], Callable]:
    def decorate(f: Callable) -> Callable:
        for opt in reversed(opts):
            f = opt(f)
        return f

    return decorate


def _remember(key: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[key] = True

    return callback


def flag_options(group: str = LAST) -> list[Callable]:
    """``--quiet`` and ``--debug`` (on the group and on every command; either place works)."""
    return [
        option(
            "--quiet",
            "-q",
            group=group,
            is_flag=True,
            expose_value=False,
            callback=_remember("jacstab.quiet"),
            help="Rows only: no notes, summaries or progress bar on stderr.",
        ),
        option(
            "--debug",
            group=group,
            is_flag=True,
            expose_value=False,
            callback=_remember("jacstab.debug"),
            help="On an error, show the full traceback instead of the one-line message.",
        ),
    ]


def format_option(*, progress: bool = False) -> Callable[[Callable], Callable]:
    """``--format`` (and ``--progress``), ``--quiet``, ``--debug``: the Output section of every command."""
    opts = [
        option(
            "--format",
            "fmt",
            group=LAST,
            type=Choice(FORMATS),
            default="table",
            show_default=True,
            help="Rows as an aligned table, CSV (full precision), JSON (a list of row objects) or JSON Lines.",
        )
    ]
    if progress:
        opts.append(
            option(
                "--progress/--no-progress",
                group=LAST,
                default=None,
                help="Progress bar with ETA on stderr (default: when stderr is a terminal).",
            )
        )
    return _stack(opts + flag_options())


def network_options(f: Callable | None = None, *, dtype: str = "float64", sized: bool = True) -> Callable:
    """The network, pruning, correlation and seed options shared by every measuring command (``dtype``: the default
    of ``--dtype``; ``train`` uses float32; ``sized=False``: ``--width``/``--depth`` optional, for a command that
    builds its network another way, e.g. ``isometry --widths``). Use as ``@network_options`` or
    ``@network_options(dtype=...)``."""
    if f is None:
        return lambda g: network_options(g, dtype=dtype, sized=sized)
    net, prune, corr, seeds = "Network", "Pruning", "Correlation", "Seeds"
    opts = [
        option(
            "--width",
            "-n",
            group=net,
            type=int,
            required=sized,
            help="Hidden width n (>= 1; the weights, 8 L n^2 bytes, must fit in 80% of memory: checked first).",
        ),
        option(
            "--depth", "-L", group=net, type=int, required=sized, help="Depth L: hidden n x n matrices (same bound)."
        ),
        option("--activation", group=net, type=Choice(ACTIVATIONS), default="relu", show_default=True),
        option("--slope", group=net, type=float, default=0.01, show_default=True, help="leaky_relu negative slope."),
        option(
            "--sigma2",
            group=net,
            type=float,
            default=2.0,
            show_default=True,
            help="sigma_w^2: Gaussian W_ij ~ N(0, sigma2/n); orthogonal gain sqrt(sigma2).",
        ),
        option("--init", group=net, type=Choice(INITS), default="gaussian", show_default=True),
        option("--in-dim", group=net, type=int, default=None, help="Input dimension d (default: width)."),
        option("--out-dim", group=net, type=int, default=10, show_default=True, help="Output dimension."),
        option(
            "--gates",
            group=net,
            type=Choice(GATE_MODELS),
            default="forward",
            show_default=True,
            help="D_k from the forward pass, or fixed iid Bernoulli(--gate-p) gates (Approximation 2.1); same weights.",
        ),
        option("--gate-p", group=net, type=float, default=0.5, show_default=True, help="P(gate open), bernoulli."),
        option("--dtype", group=net, type=Choice(DTYPE_NAMES), default=dtype, show_default=True),
        option("--device", group=net, default="cpu", show_default=True, help="cpu, cuda or cuda:N."),
        option("--prune", group=prune, type=Choice(PRUNES), default="none", show_default=True,
               help="Criterion at init (snip/grasp score a batch: --prune-data; synflow is data-free, iterative)."),
        option("--sparsity", group=prune, type=float, default=0.0, show_default=True, help="Fraction s removed."),
        option("--threshold", group=prune, type=float, default=None, help="|w| threshold (magnitude-threshold)."),
        option("--keep", group=prune, type=int, default=None, help="Top-r entries kept per matrix (magnitude)."),
        option("--prune-scope", group=prune, type=Choice(SCOPES), default="layer", show_default=True),
        option(
            "--scaling",
            group=prune,
            type=Choice(SCALINGS),
            default="none",
            show_default=True,
            help="Kept weights: none, random (1-s)^-1/2, paper-magnitude, exact (Theorem 3.1 (ii)), empirical "
            "(per-neuron sparse fan-in scaling, Evci et al. 2022), approx-isometry (Lee et al. 2020).",
        ),
        *pruning_practice_options(prune),
        option("--eta", group=corr, type=float, default=0.0, show_default=True, help="Paper's W_ind + eta w."),
        option("--correlation", group=corr, type=Choice(CORRELATIONS), default="none", show_default=True),
        option("--rho", group=corr, type=float, default=0.0, show_default=True, help="Target correlation."),
        option(
            "--residual",
            group=net,
            type=float,
            default=0.0,
            show_default=True,
            help="alpha: residual MLP Y_k = Y_{k-1} + alpha W_k phi(Y_{k-1}) (paper 004); 0 = plain MLP.",
        ),
        option(
            "--block",
            group=net,
            type=Choice(BLOCKS),
            default="dense",
            show_default=True,
            help="reflection: Y_k = Y_{k-1} - 2 W_k^T relu(W_k Y_{k-1}) (paper 003; orthogonal J with --init "
            "orthogonal --sigma2 1).",
        ),
        option("--seeds", group=seeds, type=int, default=1, show_default=True, help="Number of seeds K."),
        option("--seed0", group=seeds, type=int, default=0, show_default=True, help="Seeds are S0..S0+K-1."),
    ]
    return _stack(opts)(f)


def pruning_practice_options(group: str = "Pruning") -> list[Callable]:
    """``--compression``, iterative rounds and schedule, the snip/grasp scoring batch and the ablations."""
    return [
        option("--compression", group=group, type=float, default=None,
               help="c: keep 10^-c (sparsity 1 - 10^-c; instead of --sparsity)."),
        option("--prune-rounds", group=group, type=int, default=None,
               help="Iterative pruning rounds R (default 100 for synflow, else 1)."),
        option("--prune-schedule", group=group, type=Choice(PRUNE_SCHEDULES), default="exponential",
               show_default=True, help="Kept fraction after round r: (1-s)^(r/R) or 1 - s r/R."),
        option("--prune-data", group=group, type=Choice(PRUNE_DATA), default="synthetic", show_default=True,
               help="snip/grasp batch: synthetic Gaussian inputs with random labels, or a class-balanced batch of "
               "a dataset's training split (needs --in-dim 784 for the MNISTs; --data-dir)."),
        option("--prune-batch", group=group, type=int, default=None, help="Scoring batch size (default 64)."),
        option("--prune-batch-seed", group=group, type=int, default=None,
               help="Seed choosing the batch (default: the network's seed)."),
        option("--prune-ablation", group=group, type=Choice(ABLATIONS), default="none", show_default=True,
               help="Frankle et al. 2021: shuffle each layer's mask, invert the scores, or reinit the kept weights."),
    ]


def input_options(f: Callable) -> Callable:
    """``--input`` and ``--data-dir``: where ``J`` is measured (measure, spectrum, lyapunov)."""
    opts = [
        option("--input", "input_", group="Input", default="gaussian", show_default=True,
               help="gaussian (fixed normalised Gaussian x, ||x||^2 = d) or dataset:NAME[:INDEX] (test image INDEX "
               "of fashion-mnist, mnist or idx; needs --in-dim 784 for the MNISTs)."),
        option("--data-dir", group="Input", default=None, help="Folder with the dataset's four IDX files."),
    ]
    return _stack(opts)(f)


def run_options(f: Callable) -> Callable:
    """The executor options of ``sweep`` and ``reproduce``."""
    opts = [
        option("--executor", group="Run", type=Choice(EXECUTORS), default="process", show_default=True),
        option("--workers", group="Run", type=int, default=None, help="Worker processes (default: one per core)."),
        option("--address", group="Run", default=None, help="Dask scheduler tcp://host:port (default: local)."),
        option(
            "--retry-errors/--no-retry-errors",
            group="Run",
            default=True,
            show_default=True,
            help="Recompute trials stored with an error (their attempt count is kept).",
        ),
    ]
    return _stack(opts)(f)


def store_option(f: Callable) -> Callable:
    """``--store PATH``: the SQLite results store."""
    return option(
        "--store", "store_path", group="Store", default=DEFAULT_STORE, show_default=True, help="SQLite results store."
    )(f)
