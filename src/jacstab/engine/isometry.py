"""How far a Jacobian is from an isometry (Massucco, Murari, Schoenlieb, paper 003).

For ``J`` with ``n`` input columns (a Network: ``J^(depth) = dY_depth/dY_0``, ``n`` = width; a callable
``f: R^m -> R^m'``: ``J = df/dx``, ``n = m``):

.. math::
    \\delta(J) = \\frac{\\|J^T J - I_n\\|_F}{\\sqrt n}
              = \\sqrt{\\frac1n \\sum_{i=1}^n (\\sigma_i^2 - 1)^2}

(``sigma_i`` padded with zeros up to ``n``): 0 exactly when ``J`` is orthogonal (an isometry), 1 for ``J = 0``.

* ``exact``: every ``sigma_i`` (Network: the log-domain QR chain, :func:`jacstab.log_singular_values`, accurate at
  any depth; callable: ``jacrev`` + ``svdvals``), hence also the spread of ``log sigma_i`` and the isometric
  dimension ``#{i: |sigma_i - 1| <= tol}`` (the dimension of the span of right singular vectors on which ``J``
  preserves norms to ``tol``: the isometric part of a partial isometry).
* ``hutchinson``: matrix-free, ``||M||_F^2 = E_v ||M v||^2`` for Rademacher ``v`` (``E[v v^T] = I``) with
  ``M = J^T J - I``: ``p`` probes, each one ``J v`` and one ``J^T u`` (:func:`jacstab.jacobian_operator`:
  the masked-layer chain for a Network, ``torch.func`` jvp/vjp for a callable). Returns the standard error
  (delta method: ``se(delta) = se(mean) / (2 n delta)``). For a Network, input units outside the active set
  ``a_0`` (zero columns of ``J``) contribute exactly ``n - |a_0|``, so only ``a_0`` is sampled.

References:
    M. Hutchinson, "A stochastic estimator of the trace of the influence matrix", 1989; Massucco, Murari,
    Schoenlieb (paper 003, /work/shared/papers/003_*): networks with exactly orthogonal Jacobians.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from jacstab._checks import check_choice, check_int, check_real
from jacstab.engine._masks import check_depth, check_input, check_network
from jacstab.engine._resolve import ISOMETRY_EXACT_MAX
from jacstab.engine.api import _callable_input, jacobian_operator
from jacstab.engine.operators import FuncJacobian, JacobianOperator
from jacstab.engine.spectral import log_singular_values
from jacstab.nets.network import Network

IsometryMethod = Literal["auto", "exact", "hutchinson"]
ISOMETRY_METHODS = ("auto", "exact", "hutchinson")


@dataclass(frozen=True)
class IsometryDefect:
    """The result of :func:`isometry_defect`.

    Attributes:
        defect: ``||J^T J - I||_F / sqrt(n)`` (``inf`` when ``sigma_1^2`` leaves the float64 range).
        stderr: its standard error (0 for ``exact``).
        method: ``exact`` or ``hutchinson``; probes: Hutchinson probes (0 for exact); n: columns of ``J``.
        log_sv_std, log_sv_range: population standard deviation and ``max - min`` of ``log sigma_i`` over all
            ``n`` (``inf`` when ``J`` is singular: use ``isometric_dim`` for partial isometries); ``None`` for
            Hutchinson.
        isometric_dim: ``#{i: |sigma_i - 1| <= tol}`` (``None`` for Hutchinson); tol: that tolerance.
    """

    defect: float
    stderr: float
    method: str
    probes: int
    n: int
    log_sv_std: float | None
    log_sv_range: float | None
    isometric_dim: int | None
    tol: float

    def row(self) -> dict:
        """One flat row (the CLI's columns)."""
        return {"defect": self.defect, "stderr": self.stderr, "method": self.method, "probes": self.probes,
                "n": self.n, "log_sv_std": self.log_sv_std, "log_sv_range": self.log_sv_range,
                "isometric_dim": self.isometric_dim, "tol": self.tol}


def _from_logs(log_s: torch.Tensor, n: int, tol: float) -> IsometryDefect:
    """Exact quantities from ``log sigma_i`` (``-inf`` for zeros), padded with zeros up to ``n``."""
    log_s = log_s.to(torch.float64).cpu()
    if log_s.numel() < n:
        log_s = torch.cat([log_s, torch.full((n - log_s.numel(),), -math.inf, dtype=torch.float64)])
    with torch.no_grad():
        s2 = torch.exp(2 * log_s)  # inf beyond float64: an honest inf defect
        defect = math.sqrt(float(((s2 - 1.0) ** 2).sum()) / n)
        iso = int(((torch.exp(log_s) - 1.0).abs() <= tol).sum())
        finite = bool(torch.isfinite(log_s).all())
        std = float(log_s.std(unbiased=False)) if finite else math.inf
        rng = float(log_s.max() - log_s.min()) if finite else math.inf
    return IsometryDefect(defect, 0.0, "exact", 0, n, std, rng, iso, tol)


def _hutchinson(op: JacobianOperator | None, n: int, probes: int, seed: int, tol: float) -> IsometryDefect:
    """Hutchinson estimate of ``||J^T J - I||_F^2`` over the operator's columns, plus ``n - cols`` exactly."""
    if op is None:  # J = 0: J^T J - I = -I
        return IsometryDefect(1.0, 0.0, "hutchinson", probes, n, None, None, None, tol)
    cols = op.shape[1]
    g = torch.Generator().manual_seed(seed)
    v = (torch.randint(0, 2, (cols, probes), generator=g, dtype=torch.float64) * 2 - 1).to(op.dtype).to(op.device)
    gram = op.gram(v).to(torch.float64)
    z = (math.exp(2 * op.log_scale) * gram - v.to(torch.float64)).pow(2).sum(0).cpu()  # ||M v_j||^2, j = 1..p
    mean = float(z.mean()) + (n - cols)
    se_mean = float(z.std(unbiased=True)) / math.sqrt(probes) if probes > 1 else math.inf
    defect = math.sqrt(mean / n)
    se = se_mean / (2 * n * defect) if defect > 0 else 0.0
    return IsometryDefect(defect, se, "hutchinson", probes, n, None, None, None, tol)


def isometry_defect(
    obj: Network | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | None = None,
    *,
    depth: int | None = None,
    method: IsometryMethod = "auto",
    probes: int = 16,
    seed: int = 0,
    tol: float = 1e-6,
) -> IsometryDefect:
    """How far ``J`` is from an isometry: ``||J^T J - I||_F / sqrt(n)``, the spread of ``log sigma_i`` and the
    isometric dimension (see the module docstring for the formulas).

    Args:
        obj: a sampled :class:`~jacstab.Network` (``J^(depth) = dY_depth/dY_0``) or a torch callable.
        x: the input (Network: raw ``(in_dim,)``, default the normalised input; callable: required, 1-D).
        depth: ``1..L`` (Network only; default ``L``).
        method: ``exact`` (all singular values), ``hutchinson`` (matrix-free estimate with a standard error) or
            ``auto`` (``exact`` for ``n <= 1024``, :data:`jacstab.engine._resolve.ISOMETRY_EXACT_MAX`).
        probes: Rademacher probes for ``hutchinson`` (``>= 2``, default 16); seed: their generator's seed.
        tol: ``|sigma_i - 1| <= tol`` counts as isometric (default ``1e-6``).

    Returns:
        An :class:`IsometryDefect`.

    Raises:
        TypeError: ``obj`` is neither. ValueError: bad ``x``, ``depth``, ``method``, ``probes``, ``seed`` or ``tol``.

    Example:
        >>> net = jacstab.sample(jacstab.NetSpec(64, 100, activation="groupsort", init="orthogonal", sigma2=1.0), 0)
        >>> jacstab.isometry_defect(net).defect    # ~1e-14: J is orthogonal
    """
    check_choice("method", method, ISOMETRY_METHODS)
    probes, seed = check_int("probes", probes, 2, 100_000), check_int("seed", seed, 0, 2**63 - 1)
    tol = check_real("tol", tol, 0.0, 1e6)
    if isinstance(obj, Network):
        net = check_network(obj)
        x, depth = check_input(net, x), check_depth(net, depth)
        n = net.width
        exact = method == "exact" or (method == "auto" and n <= ISOMETRY_EXACT_MAX)
        if exact:
            return _from_logs(log_singular_values(net, x, depth=depth), n, tol)
        return _hutchinson(jacobian_operator(net, x, depth=depth, method="lanczos"), n, probes, seed, tol)
    if depth is not None:
        raise ValueError("depth applies to a jacstab Network only; for a callable, pass the function itself")
    x = _callable_input(obj, x)
    n = x.numel()
    exact = method == "exact" or (method == "auto" and n <= ISOMETRY_EXACT_MAX)
    op = FuncJacobian(obj, x, "jacrev" if exact else "jvp")
    if exact:
        j = op.dense().to(torch.float64)
        if not bool(torch.isfinite(j).all()):
            raise ValueError("the Jacobian of the callable at x has nan or inf entries (check the function and x)")
        return _from_logs(torch.log(torch.linalg.svdvals(j)), n, tol)
    return _hutchinson(op, n, probes, seed, tol)
