"""Theory: the predictions jacstab's measurements are compared with. numpy/scipy only (no torch)."""

from jacstab.theory.free import (
    density,
    fuss_catalan_log_edge,
    fuss_catalan_moment,
    log_spectral_edge,
    moments,
    predicted_log_norm,
    s_transform,
)
from jacstab.theory.growth import growth_rate
from jacstab.theory.lyapunov import gaussian_lyapunov, log_norm_sq_lognormal
from jacstab.theory.scaling import (
    compare_magnitude_factors,
    exact_magnitude_factor,
    paper_magnitude_factor,
    scaling_factor,
    truncated_second_moment,
)

__all__ = [
    "compare_magnitude_factors",
    "density",
    "exact_magnitude_factor",
    "fuss_catalan_log_edge",
    "fuss_catalan_moment",
    "gaussian_lyapunov",
    "growth_rate",
    "log_norm_sq_lognormal",
    "log_spectral_edge",
    "moments",
    "paper_magnitude_factor",
    "predicted_log_norm",
    "s_transform",
    "scaling_factor",
    "truncated_second_moment",
]
