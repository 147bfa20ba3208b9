"""Stores of synthetic results for the report tests: the built-in experiments' trials with depth curves made up
from a known formula (no network is sampled), so figures and tables can be checked against hand computations."""

from __future__ import annotations

import math

import numpy as np

from jacstab.lab import Store, TrialResult
from jacstab.lab.builtin import builtin_experiment
from jacstab.lab.catalog import register

OFFSET = {0: -0.3, 1: 0.5, 2: 0.1}  # per seed: added to the whole curve (natural log)
SLOPE_NOISE = {0: 0.01, 1: -0.02, 2: 0.004}  # per seed: added per layer


def fake_curve(spec, seed: int) -> list[float]:
    """``log ||J^(d)||`` = the growth per layer of the law (0.1 where predict has none) times d, plus a seed's
    offset and slope; ``-inf`` from depth 4 for the dead setting (random pruning, s = 0.99, no scaling)."""
    from jacstab.theory import predict

    g = predict(spec).growth_per_layer
    g = 0.1 if math.isnan(g) else g
    d = np.arange(1, spec.depth + 1)
    y = (g + SLOPE_NOISE[seed]) * d + OFFSET[seed]
    if spec.prune == "random" and spec.sparsity == 0.99 and spec.scaling == "none":
        y[3:] = -np.inf
    return y.tolist()


def fake_store(path, names=("fig1", "fig2", "fig3", "fig4"), *, registered: bool = True, seeds=None) -> Store:
    """A store holding the quick built-ins ``names`` with :func:`fake_curve` values."""
    st = Store(path)
    for name in names:
        exp = builtin_experiment(name, quick=True)
        if registered:
            register(st, exp)
        for t in exp.trials():
            if seeds is not None and t.seed not in seeds:
                continue
            st.write(TrialResult(t.id, t.spec.canonical_json(), t.seed, t.metric_names, "test",
                                 {"depth_curve": fake_curve(t.spec, t.seed)}, identity=t.identity_json()))
    return st
