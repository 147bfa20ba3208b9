"""Approximation 2.1 under test: the gate statistics of Dadoun et al. 2025, Section 6.1 (Figures 5-6).

``approx21(spec, networks, layer)`` draws ``N`` networks as one batched computation and runs the tests of
:mod:`jacstab.stats.inference` (scipy.stats): chi-squared independence of gate pairs, Kolmogorov-Smirnov
uniformity of their p-values, a binomial test of the activity and the Pearson correlation of ``(T_W, T_D)``.
"""

from jacstab.stats._draw import GateDraw, draw_gates
from jacstab.stats.approx21 import TESTS, Approx21, approx21
from jacstab.stats.inference import TestResult, activity_binom, chi2_pair, pair_pvalues, pearson, uniformity_ks

__all__ = [
    "TESTS",
    "Approx21",
    "GateDraw",
    "TestResult",
    "activity_binom",
    "approx21",
    "chi2_pair",
    "draw_gates",
    "pair_pvalues",
    "pearson",
    "uniformity_ks",
]
