"""jacstab: spectral stability of deep-network Jacobians.

Build the networks of Dadoun, Hayou, Salam, Seddik, Youssef (2025), "On the Stability of the Jacobian Matrix in
Deep Neural Networks", measure ``||J||``, its singular values and Lyapunov exponents at any depth, and compare
with random-matrix theory.

The public names are imported on first use (PEP 562), so ``import jacstab.theory`` and ``jacstab --help`` do not
import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from jacstab._version import __version__

_EXPORTS = {
    "NetSpec": "jacstab.specs",
    "Pruning": "jacstab.specs",
    "CorrelationModel": "jacstab.specs",
    "Network": "jacstab.nets",
    "Layer": "jacstab.nets",
    "sample": "jacstab.nets",
    "default_input": "jacstab.nets",
    "partial_isometry_net": "jacstab.nets",
    "jacobian_operator": "jacstab.engine",
    "depth_curve": "jacstab.engine",
    "log_norm": "jacstab.engine",
    "lyapunov_exponents": "jacstab.engine",
    "lyapunov": "jacstab.engine",
    "log_singular_values": "jacstab.engine",
    "LyapunovSpectrum": "jacstab.engine",
    "masks": "jacstab.engine",
    "singular_values": "jacstab.engine",
    "isometry_defect": "jacstab.engine",
    "IsometryDefect": "jacstab.engine",
    "certify": "jacstab.certificate",
    "analyze": "jacstab.usermodel",
    "rescale": "jacstab.usermodel",
    "train": "jacstab.training",
    "load_dataset": "jacstab.training",
    "read_idx": "jacstab.training",
    "teacher_dynamics": "jacstab.training",
}
_MODULES = ("theory", "engine", "lab", "nets", "pruning", "correlation", "specs", "stats", "training")

__all__ = [
    "CorrelationModel",
    "IsometryDefect",
    "Layer",
    "LyapunovSpectrum",
    "NetSpec",
    "Network",
    "Pruning",
    "__version__",
    "analyze",
    "certify",
    "correlation",
    "default_input",
    "depth_curve",
    "engine",
    "isometry_defect",
    "jacobian_operator",
    "lab",
    "load_dataset",
    "log_norm",
    "log_singular_values",
    "lyapunov",
    "lyapunov_exponents",
    "masks",
    "nets",
    "partial_isometry_net",
    "pruning",
    "read_idx",
    "rescale",
    "sample",
    "singular_values",
    "specs",
    "stats",
    "teacher_dynamics",
    "theory",
    "train",
    "training",
]

if TYPE_CHECKING:  # pragma: no cover
    from jacstab import correlation, engine, lab, nets, pruning, specs, stats, theory, training
    from jacstab.certificate import certify
    from jacstab.engine import (
        IsometryDefect,
        LyapunovSpectrum,
        depth_curve,
        isometry_defect,
        jacobian_operator,
        log_norm,
        log_singular_values,
        lyapunov,
        lyapunov_exponents,
        masks,
        singular_values,
    )
    from jacstab.nets import Layer, Network, default_input, partial_isometry_net, sample
    from jacstab.specs import CorrelationModel, NetSpec, Pruning
    from jacstab.training import load_dataset, read_idx, teacher_dynamics, train
    from jacstab.usermodel import analyze, rescale


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"jacstab.{name}")
    else:
        raise AttributeError(f"module 'jacstab' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
