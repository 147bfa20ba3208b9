"""Measurement engine: gates, log-domain products, one Jacobian operator, singular values, Lyapunov exponents."""

from jacstab._checks import METHODS
from jacstab.engine._masks import Mask, masks
from jacstab.engine._resolve import Plan, RunInfo
from jacstab.engine.api import depth_curve, jacobian_operator, log_norm, lyapunov_exponents, singular_values
from jacstab.engine.operators import FormedChain, FuncJacobian, JacobianOperator, MatrixFreeChain

__all__ = [
    "METHODS",
    "FormedChain",
    "FuncJacobian",
    "JacobianOperator",
    "Mask",
    "MatrixFreeChain",
    "Plan",
    "RunInfo",
    "depth_curve",
    "jacobian_operator",
    "log_norm",
    "lyapunov_exponents",
    "masks",
    "singular_values",
]
