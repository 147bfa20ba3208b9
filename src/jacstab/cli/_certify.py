"""``certify``, ``scalings``, ``theory``: Theorem 3.1's conditions, scaling rules compared, theory predictions."""

from __future__ import annotations

import math

import click

from jacstab._checks import ACTIVATIONS, BLOCKS, INITS
from jacstab.cli._common import (
    api,
    device_of,
    dtype_of,
    input_note,
    note,
    progress,
    rows_out,
    seed_range,
    spec_from,
    write_all,
)
from jacstab.cli._options import Choice, Command, format_option, network_options, option


@click.command(
    cls=Command,
    example=["jacstab certify -n 256 -L 20 --prune magnitude --sparsity 0.9 --scaling exact"],
)
@network_options
@option("--sampled", group="Certify", is_flag=True, help="Certify each seed's realised network instead of the law.")
@format_option()
def certify(sampled: bool, **o) -> None:
    """Theorem 3.1's conditions (i)-(iii), the sparsity edge and the correlation scale, with verdicts.

    Rows {seed, name, formula, value, must_tend_to, verdict}; seed is "law" for the law-level certificate.
    The summary (which scaling rule best satisfies condition (ii)) goes to stderr. Asymptotic: it explains,
    it does not promise.
    """
    certify_fn, spec = api("certify"), spec_from(o)
    seeds = seed_range(o) if sampled else ["law"]
    certificates = []
    for seed in seeds:
        obj = api("sample")(spec, seed, dtype=dtype_of(o["dtype"])) if sampled else spec
        certificates.append((seed, certify_fn(obj)))
    cols = ["seed", "name", "formula", "value", "must_tend_to", "verdict"]
    with rows_out(cols, o["fmt"]) as out:
        for seed, cert in certificates:
            out.write_rows([{"seed": seed, **row} for row in cert.rows()])
    note(f"summary: {certificates[-1][1].summary}")


@click.command(
    cls=Command,
    example=["jacstab scalings -n 64 -L 20 --prune random --sparsity 0.5 --seeds 3 --every 5"],
)
@network_options
@option("--every", group="Scalings", type=int, default=1, show_default=True, help="Report every K-th depth.")
@format_option(progress=True)
def scalings(every: int, **o) -> None:
    """Measured log ||J^(d)|| vs depth for every scaling rule that applies to --prune, over the seeds.

    Rows {scaling, depth, log_norm_mean, log_norm_ci_low, log_norm_ci_high, log_norm_sd, seeds, condition_ii}: mean,
    its 95% Student-t interval and sample standard deviation (ddof = 1; nan with one seed) over the seeds with a
    finite value (seeds counts them), every --every-th depth and the last; condition_ii is the law-level
    |1/2 sum_k E|b w|^2 - 1| of Theorem 3.1 (0 = the row second
    moment of the unpruned law is restored). A summary on stderr gives each rule's growth of log ||J|| per layer
    (mean of per-seed least-squares slopes over the second half of the depths, 95% CI: give --seeds >= 2)
    and names the most stable rule, saying whether it is distinguishable from the runner-up.
    """
    from jacstab.lab.scalings import COLUMNS, compare_scalings

    base, seeds = spec_from(o), seed_range(o)
    if every < 1:
        raise ValueError(f"--every must be >= 1, got {every}")
    dev, dtype = device_of(o["device"]), dtype_of(o["dtype"])
    from jacstab._threads import configure_threads

    configure_threads(base.width)
    run = compare_scalings(base, seeds, every=every, dtype=dtype, device=dev)  # validates before the note
    input_note(base)
    with (
        rows_out(list(COLUMNS), o["fmt"]) as out,
        progress(o["progress"], len(run.rules) * len(seeds), "scalings") as advance,
    ):
        run.advance = advance
        for rows in run.by_rule():
            out.write_rows(rows)
    note(f"summary: {run.summary}")


THEORY_KINDS = ("predict", "edge", "moments", "density", "lyapunov", "scaling", "lognormal")


MAX_EDGE_DEPTH = 100_000  # edge: one row (one root solve) per depth
MAX_POINTS = 10_000  # density: one polynomial root solve per point (~2 s per 1000 points at L = 64)
MAX_LYAPUNOV_WIDTH = 10**7  # jacstab.theory.gaussian_lyapunov: one float64 exponent each


def _check_theory(kind: str, o: dict) -> list[float]:
    from jacstab.theory.free import MAX_MOMENTS

    width, depth, k, points, sparsities = o["width"], o["depth"], o["k"], o["points"], o["sparsities"]
    for name, v in (("--width", width), ("--depth", depth), ("--k", k), ("--points", points)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    if not (math.isfinite(o["sigma2"]) and 0 < o["sigma2"] <= 1e6):
        raise ValueError(f"--sigma2 must be a finite number in (0, 1e6], got {o['sigma2']}")
    if kind == "edge" and depth > MAX_EDGE_DEPTH:
        raise ValueError(f"--depth must be <= {MAX_EDGE_DEPTH:,} for theory edge (one row per depth), got {depth}")
    if kind == "moments" and k > MAX_MOMENTS:
        raise ValueError(f"--k must be <= {MAX_MOMENTS} for theory moments (K^3/3 flops), got {k}")
    if kind == "lyapunov" and width > MAX_LYAPUNOV_WIDTH:
        raise ValueError(f"--width must be <= {MAX_LYAPUNOV_WIDTH:,} for theory lyapunov, got {width}")
    if kind == "density" and points > MAX_POINTS:
        raise ValueError(f"--points must be <= {MAX_POINTS:,} (one polynomial root solve each), got {points}")
    try:
        ss = [float(x) for x in sparsities.split(",")]
    except ValueError as e:
        raise ValueError(f"--sparsities must be comma-separated numbers, got {sparsities!r}") from e
    if any(not 0 <= x < 1 for x in ss):
        raise ValueError(f"--sparsities must lie in [0, 1), got {sparsities!r}")
    return ss


def _theory_rows(kind: str, o: dict) -> tuple[list[str], list[dict]]:
    from jacstab import theory as T

    L, p, s2, init = o["depth"], o["p"], o["sigma2"], o["init"]
    if kind == "predict":
        spec = api("NetSpec")(o["width"], L, activation=o["activation"], sigma2=s2, init=init, block=o["block"])
        return ["quantity", "value", "formula", "source", "note"], T.predict(spec).rows()
    if o["block"] != "dense":
        raise ValueError(f"--block applies to `theory predict` only; {kind} is the plain MLP's theory: drop --block, "
                         "or run `jacstab theory predict --block ...`")
    if o["activation"] != "relu" and kind != "lognormal":
        raise ValueError(
            f"--activation applies to `theory predict` and `theory lognormal`; {kind} uses the Bernoulli(p) gate "
            "model: give --p (1 for linear or abs), or run `jacstab theory predict --activation ...`"
        )
    if kind == "edge":
        # Theorem 2.2 in the Bernoulli(p)-gate model: E[D^2] = p, so log ||J^(d)|| ~ d (1/2) log(sigma2 p).
        rows = [
            {
                "depth": d,
                "predicted_log_norm": T.predicted_log_norm(d, p, s2, init),
                "theorem_2_2_log_norm": d * 0.5 * math.log(s2 * p),
            }
            for d in range(1, L + 1)
        ]
        return ["depth", "predicted_log_norm", "theorem_2_2_log_norm"], rows
    if kind == "moments":
        return ["k", "moment"], [
            {"k": i, "moment": float(m)} for i, m in enumerate(T.moments(o["k"], L, p, s2, init), 1)
        ]
    if kind == "density":
        import numpy as np

        edge = math.exp(T.log_spectral_edge(L, p, s2, init))
        xs = np.linspace(edge / o["points"], edge, o["points"])
        return ["x", "density"], [
            {"x": float(x), "density": float(v)} for x, v in zip(xs, T.density(xs, L, p, s2, init))
        ]
    if kind == "lyapunov":
        lam = T.gaussian_lyapunov(o["width"], s2)
        return ["index", "exponent"], [{"index": i, "exponent": float(v)} for i, v in enumerate(lam, 1)]
    if kind == "scaling":
        cols = ["sparsity", "random", "exact", "paper", "paper_over_exact"]
        return cols, T.compare_magnitude_factors(o["width"], o["sparsities"], s2)
    mean, var = T.log_norm_sq_lognormal(o["width"], L, o["activation"], s2)
    row = {"activation": o["activation"], "width": o["width"], "depth": L, "mean": mean, "variance": var}
    return ["activation", "width", "depth", "mean", "variance"], [row]


@click.command(
    cls=Command,
    example=[
        "jacstab theory edge --depth 20 --sigma2 1 --p 1",
        "jacstab theory predict -n 256 -L 100 --activation linear --sigma2 1",
        "jacstab theory predict -n 64 -L 1000 --block reflection --init orthogonal --sigma2 1",
    ],
)
@click.argument("kind", type=Choice(THEORY_KINDS))
@option(
    "--width", "-n", group="Model", type=int, default=256, show_default=True,
    help="n (lyapunov: <= 10^7; scaling, lognormal).",
)
@option(
    "--depth", "-L", group="Model", type=int, default=10, show_default=True,
    help="L (edge: <= 100,000; density: <= 64).",
)
@option("--sigma2", group="Model", type=float, default=2.0, show_default=True)
@option("--init", group="Model", type=Choice(INITS), default="gaussian", show_default=True)
@option(
    "--p", "p", group="Model", type=float, default=0.5, show_default=True, help="Gate density (1/2 ReLU, 1 linear)."
)
@option(
    "--activation",
    group="Model",
    type=Choice(ACTIVATIONS),
    default="relu",
    show_default=True,
    help="predict (any), lognormal (relu or linear).",
)
@option(
    "--block",
    group="Model",
    type=Choice(BLOCKS),
    default="dense",
    show_default=True,
    help="predict: the layer kind; reflection = Y - 2 W^T relu(W Y) (paper 003; orthogonal J with --init orthogonal "
    "--sigma2 1).",
)
@option("--k", "k", group="Theory", type=int, default=8, show_default=True, help="moments: how many (<= 2000).")
@option("--points", group="Theory", type=int, default=50, show_default=True, help="density: grid size (<= 10,000).")
@option("--sparsities", group="Theory", default="0.1,0.5,0.8,0.9,0.95,0.99", show_default=True, help="scaling.")
@format_option()
def theory(kind: str, **o) -> None:
    """Theory predictions (numpy/scipy; see README, 'Theory'). KIND is one of:

    \b
    predict:   jacstab.theory.predict for the network (--width, --depth, --activation, --sigma2,
               --init, --block): growth per layer, condition (ii), the edge at L, the
               isometry statement (paper 003), or "no prediction"
    edge:      predicted log||J^(d)|| (free probability, n -> inf), d = 1..L, and
               theorem_2_2_log_norm = d (1/2) log(sigma2 p): Theorem 2.2's growth with
               Bernoulli(p) gates (E[D^2] = p; p = 1/2 gives (1/2) log(sigma2/2) per layer)
    moments:   m_k = lim (1/n) tr (J J^T)^k, k = 1..K (Lagrange inversion of the S-transform)
    density:   limiting density of the eigenvalues of J J^T on (0, edge]
    lyapunov:  Lyapunov exponents of products of Gaussian n x n matrices (Newman 1986)
    scaling:   scaling factors for magnitude pruning vs sparsity (random, exact, paper)
    lognormal: mean and variance of log ||J u||^2 at finite L/n (Hanin and Nica 2020)
    """
    o["sparsities"] = _check_theory(kind, o)
    cols, rows = _theory_rows(kind, o)
    write_all(cols, o["fmt"], rows)


COMMANDS = (certify, scalings, theory)
