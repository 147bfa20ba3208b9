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

from jacstab._checks import DATASETS, OPTIMIZERS, check_choice, check_int, check_real, closest


@dataclass(frozen=True)
class Context:
    """What a metric may read besides the network: the trial's input ``x`` (a float64 tensor, or ``None`` for the
    default normalised Gaussian input) and the folder of the IDX files (``data_dir``; ``None``: the dataset's default
    folder)."""

    x: Any = None
    data_dir: str | None = None


@dataclass(frozen=True)
class Metric:
    """A measurement of one sampled network: ``compute(net, params, context) -> list of floats``.

    Attributes:
        name: the key in experiment files and the store; version: computation version (see module docstring);
        params: ``{name: default}`` of the parameters it reads (all of them enter the trial id);
        compute: the function; description: one line for ``jacstab experiments`` and the docs;
        fields: for a metric storing one record per step, the names of a record's values (the stored list is the
            records concatenated: value ``i`` is field ``i % len(fields)`` of record ``i // len(fields)``); ``None``
            for a plain series (a depth curve, a spectrum).
        dataset_param: the name of the parameter naming the dataset it reads (its bytes' fingerprint enters the
            trial id), or ``None``.
    """

    name: str
    version: int
    params: Mapping[str, Any]
    compute: Callable[[Any, Mapping[str, Any], Context], list[float]]
    description: str
    fields: tuple[str, ...] | None = None
    dataset_param: str | None = None

    def records(self, values: list[float]) -> list[dict[str, float]]:
        """The stored values as records ``{field: value}`` (``fields`` metrics only)."""
        if self.fields is None:
            raise ValueError(f"metric {self.name!r} stores a plain series, not records")
        w = len(self.fields)
        return [dict(zip(self.fields, values[i:i + w])) for i in range(0, len(values) - w + 1, w)]

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The full parameter dict (defaults filled in, each value validated)."""
        out = dict(self.params)
        for key, value in given.items():
            if key not in self.params:
                allowed = ", ".join(self.params) or "none"
                raise ValueError(f"metric {self.name!r} takes no parameter {key!r} (its parameters: {allowed})")
            out[key] = value if value is None else _CHECKS[key](value)
        return out


def _depth_curve(net, p, ctx):
    from jacstab.engine import depth_curve

    return depth_curve(net, ctx.x).tolist()


def _spectrum(net, p, ctx):
    from jacstab.engine import singular_values

    return singular_values(net, ctx.x, k=p["k"], log=True).tolist()


def _lyapunov(net, p, ctx):
    from jacstab.engine import lyapunov_exponents

    return lyapunov_exponents(net, ctx.x, k=p["k"]).tolist()


def _lyapunov_stderr(net, p, ctx):
    from jacstab.engine import lyapunov

    res = lyapunov(net, ctx.x, k=p["k"])
    return res.exponents.tolist() + res.stderr.tolist()


def _log_spectrum_depths(net, p, ctx):
    from jacstab.engine import log_singular_values

    return log_singular_values(net, ctx.x, depths=list(range(1, net.depth + 1)), k=p["k"]).reshape(-1).tolist()


def _alignment(net, p, ctx):
    from jacstab.engine import alignment

    a = alignment(net, ctx.x, k=p["k"])
    return a.mean_cos2.tolist() + a.gap_head.tolist() + a.gap_tail.tolist()


def _certificate(net, p, ctx):
    from jacstab.certificate import certify

    return [item.value for item in certify(net).items]


TRAIN_FIELDS = ("lr", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "log_norm", "diverged")


def _run_training(net, p, ctx):
    from jacstab.training import train

    return train(net.spec, p["dataset"], epochs=p["epochs"], lr=p["lr"], batch_size=p["batch_size"], seed=net.seed,
                 optimizer=p["optimizer"], momentum=p["momentum"], subset=p["subset"], data_dir=ctx.data_dir,
                 orthogonal_param=p["orthogonal_param"], jac_reg=p["jac_reg"], jac_probes=p["jac_probes"])


def _train(net, p, ctx):
    """Train ``sample(spec, seed)`` (``in_dim`` set to the data dimension; the hidden weights are those of the trial's
    network) and return the chosen learning rate's epochs 0..E as records of ``TRAIN_FIELDS``."""
    result = _run_training(net, p, ctx)
    return [float(rec.as_row()[f]) for rec in result.history for f in TRAIN_FIELDS]


TRAIN_ISOMETRY_FIELDS = (*TRAIN_FIELDS, "isometry_defect", "epoch_seconds")


def _train_isometry(net, p, ctx):
    """:func:`_train`'s records plus the isometry defect ``||J^T J - I||_F / sqrt(n)`` of the hidden Jacobian at the
    first test image (epoch 0 and the last epoch; NaN between) and the training wall time per epoch (NaN at 0)."""
    import math

    from jacstab.engine import isometry_defect
    from jacstab.training import dataset_input

    result = _run_training(net, p, ctx)
    x = dataset_input(p["dataset"], 0, ctx.data_dir).to(result.network.dtype)

    def defect(network):
        try:
            return isometry_defect(network, x).defect
        except ValueError:  # a diverged run's non-finite weights
            return math.nan

    from jacstab.nets import sample

    before, after = defect(sample(result.spec, net.seed)), defect(result.network)  # the trained law's initial net
    per_epoch = result.seconds / p["epochs"]
    out, last = [], len(result.history) - 1
    for i, rec in enumerate(result.history):
        iso = before if i == 0 else (after if i == last else math.nan)
        out += [float(rec.as_row()[f]) for f in TRAIN_FIELDS] + [iso, math.nan if i == 0 else per_epoch]
    return out


def _lr_grid(v):
    vals = [v] if isinstance(v, (int, float)) else list(v)
    if not vals or len(set(vals)) != len(vals):
        raise ValueError(f"lr must be a learning rate or a list of distinct ones, got {v!r}")
    return tuple(check_real("lr", x, 0.0, 1e3, open_low=True) for x in vals)


def _int_at_least(name, low):
    return lambda v: check_int(name, v, low)


def _bool(name, v):
    if not isinstance(v, bool):
        raise ValueError(f"{name} must be true or false, got {v!r}")
    return v


def _choice(name, choices):
    def check(v):
        check_choice(name, v, choices)
        return v

    return check
def _approx21(net, p, ctx):
    """Approximation 2.1 over the ``networks`` networks ``seed * networks + i`` (disjoint blocks per trial seed);
    the flat layout is :data:`APPROX21_LAYOUT` (decode with :func:`decode_approx21`)."""
    from jacstab.stats import approx21

    r = approx21(net.spec, p["networks"], p["layer"], pairs=p["pairs"], seed0=net.seed * p["networks"])
    tests = [*r.tests()[:3], r.pearson("same"), r.pearson("factor")]
    head = [v for t in tests for v in (t.statistic, t.p_value)]
    d = r.draw
    return [*head, *r.pvalues, *r.joint.T.ravel(), *d.t_w, *d.t_d("same"), *d.t_d("factor")]


def _teacher(net, p, ctx):
    import numpy as np

    from jacstab.training.teacher import MAX_RANK, teacher_dynamics

    r = teacher_dynamics(net, ctx.x, rank=p["rank"], steps=p["steps"], lr=p["step_size"], every=p["every"])
    pad = MAX_RANK - len(r.strengths)
    modes = [np.pad(a, ((0, 0), (0, pad)), constant_values=np.nan) for a in (r.mode, r.predicted, r.align)]
    s = np.broadcast_to(np.pad(r.strengths, (0, pad), constant_values=np.nan), modes[0].shape)
    return np.column_stack([r.steps, r.loss, r.top, *modes, s]).ravel().tolist()


TEACHER_FIELDS = ("step", "loss", *(f"sigma_{i}" for i in range(1, 7)), *(f"mode_{i}" for i in (1, 2, 3)),
                  *(f"predicted_{i}" for i in (1, 2, 3)), *(f"align_{i}" for i in (1, 2, 3)),
                  *(f"strength_{i}" for i in (1, 2, 3)))


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
    "dataset": _choice("dataset", DATASETS),
    "epochs": _int_at_least("epochs", 1),
    "lr": _lr_grid,
    "batch_size": _int_at_least("batch_size", 1),
    "subset": _int_at_least("subset", 1),
    "optimizer": _choice("optimizer", OPTIMIZERS),
    "momentum": lambda v: check_real("momentum", v, 0.0, 0.999999),
    "networks": lambda v: check_int("networks", v, 2, 10**6),
    "layer": lambda v: check_int("layer", v, 1),
    "pairs": lambda v: check_int("pairs", v, 1),
    "rank": lambda v: check_int("rank", v, 1, 3),
    "steps": lambda v: check_int("steps", v, 1, 10**7),
    "step_size": lambda v: check_real("step_size", v, 0.0, 1e3, open_low=True),
    "every": lambda v: check_int("every", v, 1),
    "orthogonal_param": lambda v: _bool("orthogonal_param", v),
    "jac_reg": lambda v: check_real("jac_reg", v, 0.0, 1e6),
    "jac_probes": lambda v: check_int("jac_probes", v, 1),
}
# orthogonal_param, jac_reg, jac_probes (paper 003) enter a trial id only when not at their defaults (trials.py), so
# every train trial stored before they existed keeps its id.
TRAIN_DEFAULTS = {"dataset": "fashion-mnist", "epochs": 1, "lr": (0.01,), "batch_size": 128, "subset": None,
                  "optimizer": "sgd", "momentum": 0.0, "orthogonal_param": False, "jac_reg": 0.0, "jac_probes": 1}

REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("depth_curve", 1, {}, _depth_curve, "log ||J^(d)|| (natural log) for d = 1..L"),
        Metric("spectrum", 1, {"k": None}, _spectrum, "log singular values of J (top k; default all n)"),
        Metric("lyapunov", 1, {"k": None}, _lyapunov, "per-layer Lyapunov exponents (top k; default all n)"),
        Metric("certificate", 1, {}, _certificate, "values of Theorem 3.1's conditions for the realised weights"),
        Metric("train", 1, TRAIN_DEFAULTS, _train, "train on a dataset (paper Section 6): per epoch, for the lr chosen "
               "on validation, losses, accuracies and log ||J||", fields=TRAIN_FIELDS, dataset_param="dataset"),
        Metric("train_isometry", 1, TRAIN_DEFAULTS, _train_isometry, "train's records plus the isometry defect "
               "||J^T J - I||_F/sqrt(n) before and after training and the wall time per epoch (paper 003)",
               fields=TRAIN_ISOMETRY_FIELDS, dataset_param="dataset"),
        Metric(
            "approx21",
            1,
            {"networks": 1000, "layer": 10, "pairs": 50},
            _approx21,
            "Approximation 2.1 tests, gate entries and (T_W, T_D) of N networks (Fig. 5-6)",
        ),
        Metric("lyapunov_stderr", 1, {"k": None}, _lyapunov_stderr,
               "k Lyapunov exponents then their k batch-means standard errors (jacstab.lyapunov)"),
        Metric("log_spectrum_depths", 1, {"k": 8}, _log_spectrum_depths,
               "log sigma_i(J^(d)) for d = 1..L, i = 1..k (depth-major, L*k values; log-domain QR chain)"),
        Metric("alignment", 1, {"k": 1}, _alignment,
               "per split d = 1..L-1: mean cos^2 of principal angles (head left / tail right top-k), then the "
               "head gaps, then the tail gaps (3 (L-1) values)"),
        Metric("teacher", 1, {"rank": 3, "steps": 1500, "step_size": 0.005, "every": 10}, _teacher,
               "fixed-gates dynamics (paper 002): gradient descent on a rank-r linear teacher with the gates frozen "
               "at init; per record the top singular values, teacher-mode strengths, the decoupled prediction and "
               "the alignment (jacstab.training.teacher)", fields=TEACHER_FIELDS),
    )
}
METRICS: tuple[str, ...] = tuple(REGISTRY)


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; ``ValueError`` with the closest name otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown metric {name!r}{closest(str(name), METRICS)}; available: {', '.join(METRICS)}")
    return REGISTRY[name]
