"""jacstab: spectral stability of deep-network Jacobians.

Build the networks of Dadoun, Hayou, Salam, Seddik, Youssef (2025), "On the Stability of the Jacobian Matrix in
Deep Neural Networks", measure ``||J||``, its singular values and Lyapunov exponents at any depth, and compare
with random-matrix theory.
"""

from jacstab import theory
from jacstab.certify import certify
from jacstab.engine import depth_curve, log_norm, lyapunov_exponents, masks, singular_values
from jacstab.ensembles import Network, default_input, sample
from jacstab.specs import NetSpec

__version__ = "0.1.0"

__all__ = [
    "NetSpec",
    "Network",
    "__version__",
    "certify",
    "default_input",
    "depth_curve",
    "log_norm",
    "lyapunov_exponents",
    "masks",
    "sample",
    "singular_values",
    "theory",
]
