"""Built-in experiments: the paper's Figures 1-9 as data (Dadoun et al. 2025), each with quick and full sizes, and
the spectral/residual experiments of papers 002 and 004.

Figures 1-4 (depth curves): full sizes follow the paper (width 256, depth 100, 3 seeds); quick sizes run in minutes
on 2 cores. They measure ``||J||`` at test image 0 of Fashion-MNIST when the Debian package is installed (the paper:
"an input randomly selected from MNIST"; ``in_dim = 784``), else at the fixed normalised Gaussian input.

Figures 7-9 (training, Section 6): full sizes are the paper's (width 256, depth up to 100, 70 epochs; meant for
``--executor dask``), quick sizes train width 128 for 2 epochs on a 4,000-example subset at lr 0.01. ``fig9-iid``
trains on MNIST when ``--data-dir`` holds MNIST's four IDX files (the paper's Fig. 9 left), else on Fashion-MNIST.

``fig5`` and ``fig6`` (Section 6.1) use the paper's L = 30, n = 100, l = 10 and one trial of N = 1000 networks per
setting (metric ``approx21``); they share trials where their settings coincide.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jacstab.lab.experiment import Experiment, parse_experiment
from jacstab.lab.trials import MetricCall
from jacstab.specs import closest

_SIZES = {"full": {"width": 256, "depth": 100, "seeds": 3}, "quick": {"width": 128, "depth": 50, "seeds": 2}}
# Training figures: the paper trains width 256 for 70 epochs (Fig. 9: lr 0.001; Figs. 7-8: lr 0.01).
_TRAIN_SIZES = {
    "full": {"width": 256, "depths": [10, 25, 50, 75, 100], "seeds": 1, "train": {"epochs": 70}},
    # quick: 2 epochs on 4,000 examples; lr 0.01 for every figure (at the paper's 0.001 two epochs barely move)
    "quick": {"width": 128, "depths": [2, 10, 25, 50], "seeds": 1,
              "train": {"epochs": 2, "subset": 4000, "batch_size": 32, "lr": 0.01}},
}
FMNIST_INPUT = "dataset:fashion-mnist:0"

BUILTIN: dict[str, dict[str, Any]] = {
    "fig1": {
        "description": "Fig. 1: log||J|| vs depth for sigma_w^2 in {0.5, 2, 4} (Theorem 2.2)",
        "paper": "exponential vanishing for sigma_w^2 = 0.5 and exploding for 4; sub-exponential growth at the edge "
        "of chaos sigma_w^2 = 2 (width 256, MNIST input, 3 runs)",
        "grid": {"sigma2": [0.5, 2.0, 4.0]},
    },
    "fig2": {
        "description": "Fig. 2: random pruning without and with the (1-s)^(-1/2) scaling (Theorem 4.1)",
        "net": {"prune": "random"},
        "paper": "without scaling ||J|| decays like (1-s)^(L/2); with scaling the curves match the unpruned network, "
        "up to a breakdown at 99% sparsity (the edge of stability)",
        "grid": {"sparsity": [0.5, 0.8, 0.9, 0.99], "scaling": ["none", "random"]},
    },
    "fig3": {
        "description": "Fig. 3: magnitude pruning with the scalings none, random, paper-magnitude, exact",
        "net": {"prune": "magnitude"},
        "paper": "no scaling and the random-pruning factor are unstable; the Theorem 4.3 factor is reported stable "
        "(as printed we find it vanishes, see docs/scaling.md; 'exact' is stable)",
        "grid": {"sparsity": [0.5, 0.8, 0.9], "scaling": ["none", "random", "paper-magnitude", "exact"]},
    },
    "fig4": {
        "description": "Fig. 4: correlated weights W_ind + eta w, eta in {0, 2^-8, ..., 2^-3} (Theorem 5.1)",
        "paper": "eta in {2^-8, 2^-7} closely matches the iid curve for L <= 40; larger eta deviates, more so with "
        "depth",
        "grid": {"eta": [0.0] + [2.0**-k for k in range(8, 2, -1)]},
    },
    "fig7-8": {
        "description": "Figs. 7-8: test accuracy and loss of a randomly pruned MLP vs depth and sparsity, without "
        "and with the (1-s)^(-1/2) scaling (Theorem 4.1), Fashion-MNIST",
        "paper": "scaling markedly improves trainability after pruning; the edge of stability shows in "
        "trainability too (width 256, lr 0.01)",
        "net": {"prune": "random"},
        "grid": {"sparsity": [0.5, 0.8, 0.9, 0.99], "scaling": ["none", "random"]},
        "train": {"dataset": "fashion-mnist", "lr": 0.01},
    },
    "fig9-iid": {
        "description": "Fig. 9 (left): test error vs depth for iid weights, sigma_w^2 in {0.5, 2, 4} (MNIST when "
        "--data-dir holds it, else Fashion-MNIST)",
        "paper": "the critical sigma_w^2 = 2 trains up to depth 100; 0.5 and 4 fail with depth (70 epochs, lr 0.001, "
        "MNIST)",
        "grid": {"sigma2": [0.5, 2.0, 4.0]},
        "train": {"dataset": "mnist", "lr": 0.001},
    },
    "fig9-eta": {
        "description": "Fig. 9 (right): test error vs depth for correlated weights W_ind + eta w (Theorem 5.1), "
        "Fashion-MNIST",
        "paper": "with low correlation the network stays trainable at large depth, not with high correlation "
        "(70 epochs, lr 0.001)",
        "grid": {"eta": [0.0, 2.0**-8, 2.0**-5, 2.0**-3]},
        "train": {"dataset": "fashion-mnist", "lr": 0.001},
    },
    # --- issue 12: Approximation 2.1 (Section 6.1); one trial = N networks (metric approx21) ---
    "fig5": {
        "description": "Fig. 5: joint law of 3 gate entries of D_l, chi-squared pairs, KS of p-values; iid and "
        "eta = 2^-3 weights, forward and fixed Bernoulli gates",
        "paper": "no correlation between gate entries, each open with probability 1/2; chi^2(1) = 0.14, p = 0.73, "
        "p-values uniform over seeds (L = 30, n = 100, l = 10, N = 1000)",
        "grid": {"eta": [0.0, 2.0**-3], "gates": ["forward", "bernoulli"]},
        "sizes": "approx21",
    },
    "fig6": {
        "description": "Fig. 6: (T_W, T_D) joint histogram and Pearson test, both pairings, eta in {0, 2^-6, ..., "
        "2^-3}",
        "paper": "no clear correlation for iid weights; correlated when the weights are (we find the paper's pairing "
        "(W_l, D_l) correlated at 2/pi^1.5 = 0.36 for iid weights too, docs/approx21.md)",
        "grid": {"eta": [0.0] + [2.0**-k for k in range(6, 2, -1)]},
        "sizes": "approx21",
    },
    "gates": {
        "description": "Same weights, forward vs fixed Bernoulli(1/2) gates: log||J|| vs depth with the masked-model "
        "theory",
        "paper": "Approximation 2.1: the two should agree at large width",
        "grid": {"gates": ["forward", "bernoulli"]},
    },
    # issue 14 (paper 003): one trial per architecture x depth; metric train_isometry; see _ARCH_SIZES
    "orthogonal-jacobian": {
        "description": "Paper 003: test accuracy, ln||J|| and isometry defect vs depth (10-200) for ReLU (He, "
        "orthogonal), residual ReLU, orthogonal-Jacobian nets (groupsort, reflection block) and a partial-isometry "
        "net, Fashion-MNIST",
        "paper": "orthogonal-Jacobian nets train at depths where ordinary nets do not, about as well as residual "
        "nets; partial isometries keep the favourable trainability",
        "archs": [{"activation": "relu", "sigma2": 2.0}, {"activation": "relu", "init": "orthogonal", "sigma2": 2.0},
                  {"activation": "relu", "sigma2": 1.0, "residual": 0.2},
                  {"activation": "groupsort", "init": "orthogonal", "sigma2": 1.0},
                  {"activation": "relu", "block": "reflection", "init": "orthogonal", "sigma2": 1.0},
                  {"activation": "half_relu", "init": "orthogonal", "sigma2": 1.0}],
        "train": {"dataset": "fashion-mnist"},
        "reproduce": False,
    },
    "orthogonal-jacobian-reg": {
        "description": "Paper 003: the He ReLU net of orthogonal-jacobian trained with the Jacobian-orthogonality "
        "penalty mu E||J^T J v - v||^2 (mu = 0.01, 1 probe per batch)",
        "paper": "a regulariser keeping J near orthogonal does about as well as exact orthogonality",
        "archs": [{"activation": "relu", "sigma2": 2.0}],
        "train": {"dataset": "fashion-mnist", "jac_reg": 0.01, "jac_probes": 1},
        "reproduce": False,
    },
    # papers 002 and 004 (issue 13): own sizes, metrics and k; figures in jacstab.lab.figures.spectral / dynamics
    "residual-alpha": {
        "description": "Top Lyapunov exponents vs the residual weight alpha, ReLU and linear (paper 004)",
        "paper": "the top exponent tends to (1/2) log(1 + alpha^2 sigma2 p) (p = 1/2 ReLU, 1 linear) as n -> inf; "
        "linear: exact finite-n value (jacstab.theory.residual_linear_exponent)",
        "net": {"sigma2": 1.0},
        "grid": {"activation": ["relu", "linear"], "residual": [0.25, 0.5, 1.0, 2.0]},
        "metrics": ["lyapunov_stderr"],
        "k": 4,
        "sizes": {"full": {"width": 128, "depth": 2000, "seeds": 3}, "quick": {"width": 32, "depth": 400, "seeds": 2}},
    },
    "residual-depth": {
        "description": "log||J|| vs depth with and without residual connections off criticality (paper 004)",
        "paper": "residual connections turn exponential vanishing (sigma_w^2 = 0.5) into slow growth and tame "
        "explosion: slope (1/2) log(1 + alpha^2 sigma2 / 2) instead of (1/2) log(sigma2 / 2)",
        "grid": {"sigma2": [0.5, 2.0, 4.0], "residual": [0.0, 0.5]},
        "metrics": ["depth_curve"],
    },
    "separation": {
        "description": "Spectral separation and singular-vector alignment vs depth (paper 002)",
        "paper": "ordered singular values separate exponentially with depth; strong separation forces the head's "
        "top left and the tail's top right singular subspaces to align",
        "net": {"sigma2": 2.0},
        "grid": {"activation": ["relu", "linear"]},
        "metrics": ["log_spectrum_depths", "alignment"],
        "sizes": {"full": {"width": 64, "depth": 200, "seeds": 3}, "quick": {"width": 24, "depth": 30, "seeds": 3}},
    },
    "fixed-gates-dynamics": {
        "description": "Gradient descent with gates frozen at init on a rank-3 linear teacher: singular-value "
        "dynamics vs the decoupled prediction (paper 002)",
        "paper": "strong separation aligns the singular vectors of the partial products, so singular-value dynamics "
        "decouple into one scalar equation per mode, as in balanced deep-linear analyses (no formula is given; "
        "jacstab's scalar-chain prediction is in jacstab.training.teacher)",
        "net": {"sigma2": 0.5, "activation": "relu"},
        "grid": {"gates": ["forward", "bernoulli"]},
        "metrics": ["teacher"],
        "teacher": {"rank": 3, "steps": 1500, "step_size": 0.005, "every": 10},
        "sizes": {"full": {"width": 64, "depth": 4, "seeds": 8, "teacher": {"steps": 3000}},
                  "quick": {"width": 32, "depth": 4, "seeds": 3}},
    },
    # issue 15: the five pruning-at-init criteria x three stabilisers, J at init and accuracy after training
    "pruning-methods": {
        "description": "Pruning at init: random, magnitude, SNIP, GraSP (class-balanced Fashion-MNIST batch), SynFlow "
        "x {no scaling, empirical (per-neuron fan-in), approx-isometry}: log||J|| vs depth and test accuracy",
        "paper": "the rescaling that keeps J stable depends on the pruning method (Sections 4 and 6); no paper "
        "compares the criteria with Jacobian-stabilising rescalings",
        "net": {"in_dim": 784, "prune_data": "fashion-mnist", "prune_batch": 100},
        "grid": {"prune": ["random", "magnitude", "snip", "grasp", "synflow"],
                 "scaling": ["none", "empirical", "approx-isometry"]},
        "sizes": "pruning",
        "reproduce": False,
    },
}

_PRUNING_SIZES = {  # full: the table; quick: 2 shared cores, minutes
    "full": {"width": 256, "depth": [10, 50, 100], "sparsity": [0.5, 0.9, 0.99], "seeds": 3,
             "train": {"epochs": 10, "lr": 0.01}},
    "quick": {"width": 128, "depth": [10, 50], "sparsity": [0.9], "seeds": 2,
              "train": {"epochs": 1, "subset": 2000, "batch_size": 32, "lr": 0.01}},
}

_APPROX21_SIZES = {
    "full": {"width": 100, "depth": 30, "seeds": 1, "networks": 1000, "layer": 10, "pairs": 50},
    "quick": {"width": 50, "depth": 12, "seeds": 1, "networks": 200, "layer": 6, "pairs": 30},
}
# paper 003 (issue 14): quick must run in minutes on 2 cores (width 64, 1 epoch on 4,000 examples)
_ARCH_SIZES = {
    "full": {"width": 128, "depths": [10, 50, 100, 200], "seeds": 2,
             "train": {"epochs": 10, "batch_size": 128, "lr": [0.1, 0.01]}},
    "quick": {"width": 64, "depths": [10, 50, 100, 200], "seeds": 1,
              "train": {"epochs": 1, "subset": 4000, "batch_size": 32, "lr": 0.01}},
}
TRAINING = tuple(name for name, entry in BUILTIN.items() if "train" in entry)


def fmnist_installed() -> bool:
    """True when Fashion-MNIST's IDX files are in the Debian package's folder."""
    from jacstab.training.data import DataError, resolve_folder

    try:
        resolve_folder("fashion-mnist")
    except DataError:
        return False
    return True


def needs_missing_data(exp: Experiment) -> str | None:
    """Why ``exp`` cannot run here (a dataset it reads is missing), or None."""
    from jacstab.training.data import DataError

    try:
        exp.trials()[0].identity()  # fingerprints every dataset the trials read
    except DataError as e:
        return str(e)
    return None


def holds_idx(data_dir: str | None) -> bool:
    """True when ``data_dir`` holds the four IDX files."""
    from jacstab.training.data import DataError, resolve_folder

    if data_dir is None:
        return False
    try:
        resolve_folder("idx", data_dir)
    except DataError:
        return False
    return True


def builtin_experiment(name: str, *, quick: bool = False, data_dir: str | None = None) -> Experiment:
    """The built-in experiment ``name`` (see :data:`BUILTIN`) at quick or full size.

    Args:
        name: ``fig1`` .. ``fig4``, ``fig7-8``, ``fig9-iid``, ``fig9-eta``; quick: quick sizes;
        data_dir: a folder holding MNIST's four IDX files (``fig9-iid`` trains on MNIST only when given).

    Raises:
        ValueError: unknown name (with the closest one). A missing dataset is reported when the trials are run
            (their ids fingerprint the data).
    """
    if name not in BUILTIN:
        raise ValueError(
            f"unknown built-in experiment {name!r}{closest(name, list(BUILTIN))}; available: {', '.join(BUILTIN)}"
        )
    entry, tag = BUILTIN[name], "quick" if quick else "full"
    if "archs" in entry:
        return _arch_experiment(name, entry, tag, data_dir)
    doc: dict[str, Any] = {"name": f"{name}-{tag}", "grid": dict(entry["grid"])}
    if entry.get("sizes") == "approx21":
        size = _APPROX21_SIZES[tag]
        doc.update(metrics=["approx21"], seeds=size["seeds"],
                   net={"width": size["width"], "depth": size["depth"], **entry.get("net", {})})
        exp = parse_experiment(doc, f"built-in {name}")
        params = {k: size[k] for k in ("networks", "layer", "pairs")}
        return dataclasses.replace(exp, metrics=(MetricCall.make("approx21", **params),))
    if entry.get("sizes") == "pruning":  # issue 15: depth curve at init and training, one trial per network
        size = _PRUNING_SIZES[tag]
        doc["grid"].update(depth=size["depth"], sparsity=size["sparsity"])
        doc.update(metrics=["depth_curve", "train"], seeds=size["seeds"], input=FMNIST_INPUT,
                   train={"dataset": "fashion-mnist", **size["train"]},
                   net={"width": size["width"], **entry["net"]})
        return parse_experiment(doc, f"built-in {name}")
    if isinstance(entry.get("sizes"), dict):  # papers 002/004 (issue 13): their own sizes, metrics and k
        size = entry["sizes"][tag]
        doc.update(metrics=entry["metrics"], seeds=size["seeds"],
                   net={"width": size["width"], "depth": size["depth"], **entry.get("net", {})})
        if "k" in entry:
            doc["k"] = entry["k"]
        if "teacher" in entry:
            doc["teacher"] = {**entry["teacher"], **size.get("teacher", {})}
        return parse_experiment(doc, f"built-in {name}")
    if "train" in entry:
        size = _TRAIN_SIZES[tag]
        train = {**entry["train"], **size["train"]}
        if train["dataset"] == "mnist" and not holds_idx(data_dir):
            train["dataset"] = "fashion-mnist"
        doc.update(metrics=["train"], seeds=size["seeds"], train=train,
                   net={"width": size["width"], "in_dim": 784, **entry.get("net", {})})
        doc["grid"]["depth"] = size["depths"]
    else:
        size = _SIZES[tag]
        doc.update(metrics=["depth_curve"], seeds=size["seeds"],
                   net={"width": size["width"], "depth": size["depth"], **entry.get("net", {})})
        if fmnist_installed():
            doc["input"], doc["net"]["in_dim"] = FMNIST_INPUT, 784
    exp = parse_experiment(doc, f"built-in {name}")
    dataset = doc.get("train", {}).get("dataset")
    # data_dir is MNIST's folder; Fashion-MNIST comes from its Debian folder unless that is missing
    uses_dir = dataset == "mnist" or (dataset == "fashion-mnist" and not fmnist_installed())
    return exp.with_data_dir(data_dir if uses_dir else None)


def _arch_experiment(name: str, entry: dict[str, Any], tag: str, data_dir: str | None) -> Experiment:
    """One trial per architecture (a dict of NetSpec fields) x depth, metric ``train_isometry`` (paper 003): the
    architectures differ in several fields at once, so they are listed, not crossed in a grid."""
    size = _ARCH_SIZES[tag]
    train = {**entry["train"], **size["train"]}
    specs, exp = [], None
    for fields in entry["archs"]:
        doc = {"name": f"{name}-{tag}", "metrics": ["train_isometry"], "seeds": size["seeds"], "train": train,
               "net": {"width": size["width"], "in_dim": 784, **fields}, "grid": {"depth": size["depths"]}}
        exp = parse_experiment(doc, f"built-in {name}")
        specs += exp.specs
    exp = dataclasses.replace(exp, specs=tuple(specs))
    return exp.with_data_dir(None if fmnist_installed() else data_dir)
