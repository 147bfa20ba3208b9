"""Measurement engine: masks, log-domain products, singular values, Lyapunov exponents."""

from jacstab.engine._masks import Mask, masks
from jacstab.engine.api import depth_curve, log_norm, lyapunov_exponents, singular_values

__all__ = ["Mask", "depth_curve", "log_norm", "lyapunov_exponents", "masks", "singular_values"]
