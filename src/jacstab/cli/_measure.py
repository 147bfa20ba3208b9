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
@format_option(progress=True)
def spectrum(method: str, **o) -> None:
    """Singular values of J at depth L, descending: rows {seed, index, singular_value, log_singular_value}.

    singular_value is inf where it leaves the float64 range; log_singular_value never overflows. The method that
    ran (and any fallback) is noted on stderr.
    """
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


@click.command(cls=Command, example=["jacstab lyapunov -n 64 -L 100 --k 3"])
@network_options
@input_options
@option("--k", "k", group="Lyapunov", type=int, default=None, help="Top-k exponents (default: all n).")
@format_option(progress=True)
def lyapunov(**o) -> None:
    """Per-layer Lyapunov exponents (natural log, QR/Benettin), descending: rows {seed, index, exponent}."""
    lyapunov_exponents = api("lyapunov_exponents")

    def rows(net, advance):
        lam = lyapunov_exponents(net, o["x"], k=o["k"])
        advance(1)
        return ({"index": i, "exponent": v} for i, v in enumerate(lam.tolist(), 1))

    run_seeds(o, ["seed", "index", "exponent"], rows, 1, "lyapunov")


COMMANDS = (measure, spectrum, lyapunov)
