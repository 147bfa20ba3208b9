"""Measurement engine: gates, log-domain products, one Jacobian operator, singular values, Lyapunov exponents,
log singular values (QR chain + Jacobi), singular-vector alignment."""

from jacstab._checks import METHODS
from jacstab.engine._masks import Mask, masks
from jacstab.engine._resolve import Plan, RunInfo
from jacstab.engine.alignment import Alignment, Drift, alignment, principal_cosines, subspace_drift
from jacstab.engine.api import depth_curve, jacobian_operator, log_norm, lyapunov_exponents, singular_values
from jacstab.engine.isometry import IsometryDefect, isometry_defect
from jacstab.engine.operators import FormedChain, FuncJacobian, JacobianOperator, MatrixFreeChain
from jacstab.engine.spectral import LyapunovSpectrum, log_singular_values, lyapunov

__all__ = [
    "METHODS",
    "Alignment",
    "Drift",
    "FormedChain",
    "FuncJacobian",
    "IsometryDefect",
    "JacobianOperator",
    "LyapunovSpectrum",
    "Mask",
    "MatrixFreeChain",
    "Plan",
    "RunInfo",
    "alignment",
    "depth_curve",
    "isometry_defect",
    "jacobian_operator",
    "log_norm",
    "log_singular_values",
    "lyapunov",
    "lyapunov_exponents",
    "masks",
    "principal_cosines",
    "singular_values",
    "subspace_drift",
]
