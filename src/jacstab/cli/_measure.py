"""``measure``, ``spectrum``, ``lyapunov``: one sampled network per seed, rows printed as each seed finishes."""

from __future__ import annotations

import click

from jacstab._checks import METHODS
from jacstab.cli._common import api, exp_or_inf, note, run_seeds
from jacstab.cli._options import Choice, Command, format_option, input_options, network_options, option


@click.command(cls=Command, example=["jacstab measure -n 64 -L 20 --seeds 3 --format csv"])
@network_options
@input_options
@option(
    "--independent",
    group="Measure",
    is_flag=True,
    help="Draw an independent network for every depth (the paper's protocol; L(L+1)/2 layer products).",
)
@format_option(progress=True)
def measure(independent: bool, **o) -> None:
    """log ||J^(d)|| (natural log) for every depth d = 1..L of every seed: rows {seed, depth, log_norm}.

    J^(d) = W_d D_{d-1} ... W_1 D_0 = dY_d/dY_0; by default all depths come from one network per seed.
    """
    depth_curve = api("depth_curve")

    def rows(net, advance):
        curve = depth_curve(net, o["x"], independent=independent, callback=lambda d: advance(1))
        return ({"depth": d, "log_norm": float(v)} for d, v in enumerate(curve.tolist(), 1))

    run_seeds(o, ["seed", "depth", "log_norm"], rows, o["depth"], "measure")


@click.command(cls=Command, example=["jacstab spectrum -n 128 -L 10 --k 5"])
@network_options
@input_options
@option("--k", "k", group="Spectrum", type=int, default=None, help="Top-k singular values (default: all n).")
@option(
    "--method",
    group="Spectrum",
    type=Choice(METHODS),
    default="auto",
    show_default=True,
    help="Backend (see README, 'Backends').",
)
@option("--at-depth", group="Spectrum", type=int, default=None, help="Take J^(D) = dY_D/dY_0, D <= L (default L).")
@option(
    "--log",
    "log_only",
    group="Spectrum",
    is_flag=True,
    help="Every log singular value, accurate at any depth (log-domain QR chain + Jacobi SVD): rows {seed, index, "
    "log_singular_value}.",
)
@option(
    "--every",
    group="Spectrum",
    type=int,
    default=None,
    help="With --log: depths E, 2E, ..., L from one pass: rows {seed, depth, index, log_singular_value}.",
)
@format_option(progress=True)
def spectrum(method: str, log_only: bool, every: int | None, **o) -> None:
    """Singular values of J at depth L, descending: rows {seed, index, singular_value, log_singular_value}.

    singular_value is inf where it leaves the float64 range; log_singular_value never overflows. The method that
    ran (and any fallback) is noted on stderr. With --log, every value is resolved in the log domain (the dense
    SVD resolves only values above eps * sigma_1); --every E adds a depth column (separation plots).
    """
    if log_only or every is not None:
        _log_spectrum(o, every, method)
        return
    singular_values, said = api("singular_values"), set()

    def rows(net, advance):
        logs, info = singular_values(
            net, o["x"], k=o["k"], depth=o["at_depth"], method=method, log=True, return_info=True
        )
        advance(1)
        line = f"method: {info.method} ({info.reason})"
        if info.fallback:
            line += f"; fallback: {'; '.join(info.fallbacks)}"
        if line not in said:  # once per distinct outcome, not once per seed
            said.add(line)
            note(line)
        return (
            {"index": i, "singular_value": exp_or_inf(v), "log_singular_value": v}
            for i, v in enumerate(logs.tolist(), 1)
        )

    run_seeds(o, ["seed", "index", "singular_value", "log_singular_value"], rows, 1, "spectrum")


def _log_spectrum(o: dict, every: int | None, method: str) -> None:
    if method != "auto":
        raise ValueError("--log uses the log-domain QR chain; --method does not apply")
    if every is not None and (every < 1 or o["at_depth"] is not None):
        raise ValueError("--every must be >= 1 and cannot be combined with --at-depth")
    log_singular_values = api("log_singular_values")
    if every is None:

        def rows(net, advance):
            logs = log_singular_values(net, o["x"], depth=o["at_depth"], k=o["k"])
            advance(1)
            return ({"index": i, "log_singular_value": v} for i, v in enumerate(logs.tolist(), 1))

        run_seeds(o, ["seed", "index", "log_singular_value"], rows, 1, "spectrum")
        return
    depths = list(range(every, o["depth"] + 1, every)) or [o["depth"]]

    def rows_d(net, advance):
        logs = log_singular_values(net, o["x"], depths=depths, k=o["k"])
        advance(1)
        return (
            {"depth": d, "index": i, "log_singular_value": v}
            for d, row in zip(depths, logs.tolist())
            for i, v in enumerate(row, 1)
        )

    run_seeds(o, ["seed", "depth", "index", "log_singular_value"], rows_d, 1, "spectrum")


@click.command(cls=Command, example=["jacstab lyapunov -n 64 -L 100 --k 3"])
@network_options
@input_options
@option("--k", "k", group="Lyapunov", type=int, default=None, help="Top-k exponents (default: all n).")
@format_option(progress=True)
def lyapunov(**o) -> None:
    """Per-layer Lyapunov exponents (natural log, QR/Benettin), descending: rows {seed, index, exponent, stderr}.

    stderr: standard error by 20 batch means over the L layers (0 for exact -inf directions beyond the rank).
    """
    lyap = api("lyapunov")

    def rows(net, advance):
        res = lyap(net, o["x"], k=o["k"])
        advance(1)
        return iter(res.rows())

    run_seeds(o, ["seed", "index", "exponent", "stderr"], rows, 1, "lyapunov")


COMMANDS = (measure, spectrum, lyapunov)
