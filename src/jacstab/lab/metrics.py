"""The metric registry: each metric spelled once, with the parameters it reads and its computation version.

A trial's identity (:mod:`jacstab.lab.trials`) hashes, for each metric, its name, its parameters and its
``version``. Bump a metric's ``version`` exactly when the numbers it computes change (a new algorithm or a fixed
bug), never for a release that leaves them alone: stored results stay reusable across upgrades, and results whose
computation changed are recomputed instead of silently reused.

This module does not import torch (the CLI lists metrics without it); computations import lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jacstab._checks import check_int, closest


@dataclass(frozen=True)
class Metric:
    """A measurement of one sampled network: ``compute(net, params) -> list of floats``.

    Attributes:
        name: the key in experiment files and the store; version: computation version (see module docstring);
        params: ``{name: default}`` of the parameters it reads (all of them enter the trial id);
        compute: the function; description: one line for ``jacstab experiments`` and the docs.
    """

    name: str
    version: int
    params: Mapping[str, Any]
    compute: Callable[[Any, Mapping[str, Any]], list[float]]
    description: str

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The full parameter dict (defaults filled in, each value validated)."""
        out = dict(self.params)
        for key, value in given.items():
            if key not in self.params:
                allowed = ", ".join(self.params) or "none"
                raise ValueError(f"metric {self.name!r} takes no parameter {key!r} (its parameters: {allowed})")
            out[key] = value if value is None else _CHECKS[key](value)
        return out


def _depth_curve(net, p):
    from jacstab.engine import depth_curve

    return depth_curve(net).tolist()


def _spectrum(net, p):
    from jacstab.engine import singular_values

    return singular_values(net, k=p["k"], log=True).tolist()


def _lyapunov(net, p):
    from jacstab.engine import lyapunov_exponents

    return lyapunov_exponents(net, k=p["k"]).tolist()


def _lyapunov_stderr(net, p):
    from jacstab.engine import lyapunov

    res = lyapunov(net, k=p["k"])
    return res.exponents.tolist() + res.stderr.tolist()


def _log_spectrum_depths(net, p):
    from jacstab.engine import log_singular_values

    return log_singular_values(net, depths=list(range(1, net.depth + 1)), k=p["k"]).reshape(-1).tolist()


def _alignment(net, p):
    from jacstab.engine import alignment

    a = alignment(net, k=p["k"])
    return a.mean_cos2.tolist() + a.gap_head.tolist() + a.gap_tail.tolist()


def _certificate(net, p):
    from jacstab.certificate import certify

    return [item.value for item in certify(net).items]


_CHECKS = {"k": lambda v: check_int("k", v, 1)}

REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("depth_curve", 1, {}, _depth_curve, "log ||J^(d)|| (natural log) for d = 1..L"),
        Metric("spectrum", 1, {"k": None}, _spectrum, "log singular values of J (top k; default all n)"),
        Metric("lyapunov", 1, {"k": None}, _lyapunov, "per-layer Lyapunov exponents (top k; default all n)"),
        Metric("certificate", 1, {}, _certificate, "values of Theorem 3.1's conditions for the realised weights"),
        Metric("lyapunov_stderr", 1, {"k": None}, _lyapunov_stderr,
               "k Lyapunov exponents then their k batch-means standard errors (jacstab.lyapunov)"),
        Metric("log_spectrum_depths", 1, {"k": 8}, _log_spectrum_depths,
               "log sigma_i(J^(d)) for d = 1..L, i = 1..k (depth-major, L*k values; log-domain QR chain)"),
        Metric("alignment", 1, {"k": 1}, _alignment,
               "per split d = 1..L-1: mean cos^2 of principal angles (head left / tail right top-k), then the "
               "head gaps, then the tail gaps (3 (L-1) values)"),
    )
}
METRICS: tuple[str, ...] = tuple(REGISTRY)


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; ``ValueError`` with the closest name otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown metric {name!r}{closest(str(name), METRICS)}; available: {', '.join(METRICS)}")
    return REGISTRY[name]
