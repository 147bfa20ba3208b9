"""``isometry``: how far J is from orthogonal, per seed and depth (paper 003; :func:`jacstab.isometry_defect`)."""

from __future__ import annotations

import click

from jacstab.cli._common import (
    SPEC_KEYS,
    api,
    device_of,
    dtype_of,
    input_of,
    note,
    progress,
    rows_out,
    run_seeds,
    seed_range,
)
from jacstab.cli._options import Choice, Command, format_option, input_options, network_options, option

ISOMETRY_METHODS = ("auto", "exact", "hutchinson")  # jacstab.engine.isometry.ISOMETRY_METHODS (no torch here)
COLUMNS = ["seed", "depth", "defect", "stderr", "method", "probes", "n", "log_sv_std", "log_sv_range",
           "isometric_dim", "tol"]
WIDTHS_COLUMNS = [*COLUMNS, "width_out", "isometric_fraction", "predicted_dim", "predicted_fraction",
                  "predicted_defect"]
WIDTHS_OPTIONS = ("activation", "dtype", "device", "seeds", "seed0", "input_", "data_dir")  # the rest: error


@click.command(
    cls=Command,
    example=[
        "jacstab isometry -n 64 -L 1000 --activation groupsort --init orthogonal --sigma2 1",
        "jacstab isometry -n 1024 -L 20 --method hutchinson --probes 16 --every 5 --format csv",
        "jacstab isometry --widths 64,48,32,32,48 --activation groupsort --every 1",
    ],
)
@network_options(sized=False)
@input_options
@option(
    "--method",
    group="Isometry",
    type=Choice(ISOMETRY_METHODS),
    default="auto",
    show_default=True,
    help="exact (all singular values), hutchinson (Rademacher probes, with a standard error); auto: exact for "
    "n <= 1024.",
)
@option("--probes", group="Isometry", type=int, default=16, show_default=True, help="Hutchinson probes (>= 2).")
@option("--tol", group="Isometry", type=float, default=1e-6, show_default=True, help="|sigma_i - 1| <= tol: isometric.")
@option("--every", group="Isometry", type=int, default=None, help="Depths E, 2E, ..., L (default: L only).")
@option(
    "--widths",
    group="Isometry",
    default=None,
    help="n_0,n_1,...,n_L: instead of -n/-L, jacstab.partial_isometry_net (Haar semi-orthogonal n_k x n_{k-1} "
    "weights, --activation groupsort (default here), abs or linear; widths that narrow then widen): a partial "
    "isometry at every depth.",
)
@format_option(progress=True)
def isometry(method: str, probes: int, tol: float, every: int | None, widths: str | None, **o) -> None:
    """||J^T J - I||_F / sqrt(n) (the isometry defect: 0 iff J is orthogonal), the spread of log sigma_i and the
    isometric dimension #{i: |sigma_i - 1| <= tol} of J^(d) = dY_d/dY_0.

    Rows {seed, depth, defect, stderr, method, probes, n, log_sv_std, log_sv_range, isometric_dim, tol}; stderr
    is 0 for exact, the Hutchinson standard error otherwise (then the spread and dimension are empty).
    log_sv_std/range are inf when J is singular (ReLU). Orthogonal weights at --sigma2 1 with --activation abs or
    groupsort, or --block reflection, give defect 0 at every depth (paper 003).

    With --widths n_0,...,n_L the network is jacstab.partial_isometry_net (seeded by each seed): J^(d) has
    m_d = min(n_0..n_d) singular values 1 and the rest 0. Rows then add {width_out (n_d), isometric_fraction
    (isometric_dim / n_0), predicted_dim (m_d), predicted_fraction (m_d / n_0), predicted_defect (sqrt(1 - m_d/n_0))}.
    """
    if probes < 2:
        raise ValueError(f"--probes must be >= 2 (the standard error needs two), got {probes}")
    if widths is not None:
        return _partial(_parse_widths(widths, o), method, probes, tol, every, o)
    for name in ("width", "depth"):
        if o[name] is None:
            raise ValueError(f"--{name} is required (or give --widths n_0,...,n_L for a width-changing network)")
    depths = _depths(every, o["depth"])
    defect = api("isometry_defect")

    def rows(net, advance):
        for d in depths:
            r = defect(net, o["x"], depth=d, method=method, probes=probes, tol=tol)
            advance(1)
            yield {"depth": d, **r.row()}

    run_seeds(o, COLUMNS, rows, len(depths), "isometry")
    note("note: defect = ||J^T J - I||_F / sqrt(n); 0 for an orthogonal Jacobian, 1 for J = 0")


def _depths(every: int | None, depth: int) -> list[int]:
    """``E, 2E, ..., L`` (with ``L`` last), or ``[L]``."""
    if every is not None and not 1 <= every <= depth:
        raise ValueError(f"--every must be in [1, {depth}] (the depth), got {every}")
    depths = list(range(every, depth + 1, every)) if every else [depth]
    return depths if depths[-1] == depth else [*depths, depth]


def _parse_widths(text: str, o: dict) -> tuple[int, ...]:
    """The integers of ``--widths``; network options that do not apply to it are an error, not silently ignored."""
    ctx = click.get_current_context()
    given = [k for k in (*SPEC_KEYS, "width", "depth") if k not in WIDTHS_OPTIONS and k in o
             and ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise ValueError(f"{flag} does not apply with --widths (the network is partial_isometry_net: Haar "
                         f"semi-orthogonal weights, no pruning); drop {flag}")
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError as e:
        raise ValueError(f"--widths must be comma-separated integers n_0,...,n_L, e.g. 64,48,32, got {text!r}") from e


def _partial(widths: tuple[int, ...], method: str, probes: int, tol: float, every: int | None, o: dict) -> None:
    """Rows of ``--widths``: measured (:func:`jacstab.isometry_defect` on ``model[:2d]``) next to the theory."""
    from jacstab.theory import partial as T

    act = o["activation"]
    if click.get_current_context().get_parameter_source("activation") == click.core.ParameterSource.DEFAULT:
        act = "groupsort"
    elif act not in T.PARTIAL_GATES:
        raise ValueError(f"--activation {act} does not apply with --widths: give groupsort (the default there), abs or "
                         "linear, whose derivative is a signed permutation")
    w = T.check_widths(widths, act)  # before any output
    depths = _depths(every, len(w) - 1)
    dims, frac, dfct = T.partial_isometry_dims(w), T.partial_isometry_fraction(w), T.partial_isometry_defect(w)
    dtype, dev, seeds = dtype_of(o["dtype"]), device_of(o["device"]), seed_range(o)
    x = input_of(o, w[0], dtype, dev, fix="--widths starting with {d}")
    x = api("default_input")(w[0], dtype=dtype, device=dev) if x is None else x
    build, defect = api("partial_isometry_net"), api("isometry_defect")
    work = len(seeds) * len(depths)
    with rows_out(WIDTHS_COLUMNS, o["fmt"]) as out, progress(o["progress"], work, "isometry") as advance:
        for seed in seeds:
            model, rows = build(w, act, seed=seed, dtype=dtype, device=dev), []
            for d in depths:
                r = defect(model[: 2 * d], x, method=method, probes=probes, tol=tol)
                iso = None if r.isometric_dim is None else r.isometric_dim / w[0]
                rows.append({"seed": seed, "depth": d, **r.row(), "width_out": w[d], "isometric_fraction": iso,
                             "predicted_dim": int(dims[d - 1]), "predicted_fraction": float(frac[d - 1]),
                             "predicted_defect": float(dfct[d - 1])})
                advance(1)
            out.write_rows(rows)
    note("note: J^(d) of partial_isometry_net is a partial isometry: predicted_dim = min(n_0..n_d) singular values "
         "1, the rest 0 (jacstab.theory.partial)")


COMMANDS = (isometry,)
