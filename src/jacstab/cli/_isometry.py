"""``isometry``: how far J is from orthogonal, per seed and depth (paper 003; :func:`jacstab.isometry_defect`)."""

from __future__ import annotations

import click

from jacstab.cli._common import api, note, run_seeds
from jacstab.cli._options import Choice, Command, format_option, input_options, network_options, option

ISOMETRY_METHODS = ("auto", "exact", "hutchinson")  # jacstab.engine.isometry.ISOMETRY_METHODS (no torch here)
COLUMNS = ["seed", "depth", "defect", "stderr", "method", "probes", "n", "log_sv_std", "log_sv_range",
           "isometric_dim", "tol"]


@click.command(
    cls=Command,
    example=[
        "jacstab isometry -n 64 -L 1000 --activation groupsort --init orthogonal --sigma2 1",
        "jacstab isometry -n 1024 -L 20 --method hutchinson --probes 16 --every 5 --format csv",
    ],
)
@network_options
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
@format_option(progress=True)
def isometry(method: str, probes: int, tol: float, every: int | None, **o) -> None:
    """||J^T J - I||_F / sqrt(n) (the isometry defect: 0 iff J is orthogonal), the spread of log sigma_i and the
    isometric dimension #{i: |sigma_i - 1| <= tol} of J^(d) = dY_d/dY_0.

    Rows {seed, depth, defect, stderr, method, probes, n, log_sv_std, log_sv_range, isometric_dim, tol}; stderr
    is 0 for exact, the Hutchinson standard error otherwise (then the spread and dimension are empty).
    log_sv_std/range are inf when J is singular (ReLU). Orthogonal weights at --sigma2 1 with --activation abs or
    groupsort, or --block reflection, give defect 0 at every depth (paper 003).
    """
    if probes < 2:
        raise ValueError(f"--probes must be >= 2 (the standard error needs two), got {probes}")
    if every is not None and not 1 <= every <= o["depth"]:
        raise ValueError(f"--every must be in [1, {o['depth']}] (the depth), got {every}")
    depths = list(range(every, o["depth"] + 1, every)) if every else [o["depth"]]
    if every and depths[-1] != o["depth"]:
        depths.append(o["depth"])
    defect = api("isometry_defect")

    def rows(net, advance):
        for d in depths:
            r = defect(net, o["x"], depth=d, method=method, probes=probes, tol=tol)
            advance(1)
            yield {"depth": d, **r.row()}

    run_seeds(o, COLUMNS, rows, len(depths), "isometry")
    note("note: defect = ||J^T J - I||_F / sqrt(n); 0 for an orthogonal Jacobian, 1 for J = 0")


COMMANDS = (isometry,)
