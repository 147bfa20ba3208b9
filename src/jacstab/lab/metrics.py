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


def _certificate(net, p):
    from jacstab.certificate import certify

    return [item.value for item in certify(net).items]


def _approx21(net, p):
    """Approximation 2.1 over the ``networks`` networks ``seed * networks + i`` (disjoint blocks per trial seed);
    the flat layout is :data:`APPROX21_LAYOUT` (decode with :func:`decode_approx21`)."""
    from jacstab.stats import approx21

    r = approx21(net.spec, p["networks"], p["layer"], pairs=p["pairs"], seed0=net.seed * p["networks"])
    tests = [*r.tests()[:3], r.pearson("same"), r.pearson("factor")]
    head = [v for t in tests for v in (t.statistic, t.p_value)]
    d = r.draw
    return [*head, *r.pvalues, *r.joint.T.ravel(), *d.t_w, *d.t_d("same"), *d.t_d("factor")]


APPROX21_TESTS = ("chi2_pair", "chi2_pvalues_ks", "activity_binom", "tw_td_pearson_same", "tw_td_pearson_factor")
APPROX21_LAYOUT = ("10 (statistic, p_value of APPROX21_TESTS), P pair p-values, 3 N gate entries, N T_W, N T_D same, "
                   "N T_D factor")


def decode_approx21(values, networks: int, pairs: int) -> dict[str, Any]:
    """Split the stored ``approx21`` values: ``tests`` ({name: (statistic, p_value)}), ``pvalues`` (P,),
    ``joint`` (N, 3), ``t_w``, ``t_d_same``, ``t_d_factor`` (N,)."""
    import numpy as np

    v = np.asarray(values, float)
    n_, p_ = networks, pairs
    if v.size != 10 + p_ + 6 * n_:
        raise ValueError(f"approx21 values: expected {10 + p_ + 6 * n_} numbers for N={n_}, P={p_}, got {v.size}")
    tests = {name: (v[2 * i], v[2 * i + 1]) for i, name in enumerate(APPROX21_TESTS)}
    o = 10 + p_
    joint = v[o : o + 3 * n_].reshape(3, n_).T
    o += 3 * n_
    t_w, t_s, t_f = (v[o + i * n_ : o + (i + 1) * n_] for i in range(3))
    return {"tests": tests, "pvalues": v[10 : 10 + p_], "joint": joint, "t_w": t_w, "t_d_same": t_s, "t_d_factor": t_f}


_CHECKS = {
    "k": lambda v: check_int("k", v, 1),
    "networks": lambda v: check_int("networks", v, 2, 10**6),
    "layer": lambda v: check_int("layer", v, 1),
    "pairs": lambda v: check_int("pairs", v, 1),
}

REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("depth_curve", 1, {}, _depth_curve, "log ||J^(d)|| (natural log) for d = 1..L"),
        Metric("spectrum", 1, {"k": None}, _spectrum, "log singular values of J (top k; default all n)"),
        Metric("lyapunov", 1, {"k": None}, _lyapunov, "per-layer Lyapunov exponents (top k; default all n)"),
        Metric("certificate", 1, {}, _certificate, "values of Theorem 3.1's conditions for the realised weights"),
        Metric(
            "approx21",
            1,
            {"networks": 1000, "layer": 10, "pairs": 50},
            _approx21,
            "Approximation 2.1 tests, gate entries and (T_W, T_D) of N networks (Fig. 5-6)",
        ),
    )
}
METRICS: tuple[str, ...] = tuple(REGISTRY)


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; ``ValueError`` with the closest name otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown metric {name!r}{closest(str(name), METRICS)}; available: {', '.join(METRICS)}")
    return REGISTRY[name]
