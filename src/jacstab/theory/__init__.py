"""Theory: the predictions jacstab's measurements are compared with. numpy/scipy only (no torch)."""

from jacstab.theory.correlated import (
    CorrelatedPrediction,
    GatePaths,
    correlated_prediction,
    edge_varying_gates,
    gate_paths,
)
from jacstab.theory.free import (
    density,
    fuss_catalan_log_edge,
    fuss_catalan_moment,
    log_spectral_edge,
    log_spectral_edge_two_atom,
    moments,
    predicted_log_norm,
    s_transform,
    s_transform_two_atom,
)
from jacstab.theory.gaussian import GaussianConstants, gaussian_constants
from jacstab.theory.growth import growth_rate
from jacstab.theory.isometry import isometric_dimension, isometric_fraction, orthogonal_jacobian
from jacstab.theory.lyapunov import gaussian_lyapunov, log_norm_sq_lognormal
from jacstab.theory.masked import (
    MaskedLyapunov,
    masked_log_norm_sq,
    masked_lyapunov,
    masked_top_lyapunov,
    tw_td_same_correlation,
)
from jacstab.theory.partial import partial_isometry_defect, partial_isometry_dims, partial_isometry_fraction
from jacstab.theory.predict import Prediction, law_second_moment, predict
from jacstab.theory.residual import (
    residual_gated_exponent,
    residual_infinite_width_exponent,
    residual_linear_exponent,
)
from jacstab.theory.scaling import (
    compare_magnitude_factors,
    exact_magnitude_factor,
    paper_magnitude_factor,
    scaling_factor,
    truncated_second_moment,
)

__all__ = [
    "CorrelatedPrediction",
    "GatePaths",
    "GaussianConstants",
    "MaskedLyapunov",
    "Prediction",
    "compare_magnitude_factors",
    "correlated_prediction",
    "density",
    "edge_varying_gates",
    "exact_magnitude_factor",
    "fuss_catalan_log_edge",
    "fuss_catalan_moment",
    "gate_paths",
    "gaussian_constants",
    "gaussian_lyapunov",
    "growth_rate",
    "isometric_dimension",
    "isometric_fraction",
    "law_second_moment",
    "log_norm_sq_lognormal",
    "log_spectral_edge",
    "log_spectral_edge_two_atom",
    "masked_log_norm_sq",
    "masked_lyapunov",
    "masked_top_lyapunov",
    "moments",
    "orthogonal_jacobian",
    "paper_magnitude_factor",
    "partial_isometry_defect",
    "partial_isometry_dims",
    "partial_isometry_fraction",
    "predict",
    "predicted_log_norm",
    "residual_gated_exponent",
    "residual_infinite_width_exponent",
    "residual_linear_exponent",
    "s_transform",
    "s_transform_two_atom",
    "scaling_factor",
    "truncated_second_moment",
    "tw_td_same_correlation",
]
