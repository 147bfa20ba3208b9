"""Statistical tests of Approximation 2.1 on gate samples (scipy.stats; nothing hand-written).

Each function takes plain arrays (one row per network) and returns a :class:`TestResult`, one row
``{test, statistic, p_value, df, n}`` of ``jacstab approx21``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class TestResult:
    """One test: its name, statistic, p-value, degrees of freedom (``None`` where the test has none), sample size,
    and a note (why it could not be computed, what was dropped)."""

    __test__ = False  # not a pytest class

    test: str
    statistic: float
    p_value: float
    df: int | None
    n: int
    note: str = ""

    def row(self) -> dict:
        """``{test, statistic, p_value, df, n}`` (NaN where the test could not be computed; ``note`` says why)."""
        return {"test": self.test, "statistic": self.statistic, "p_value": self.p_value, "df": self.df, "n": self.n}


def chi2_pair(a: np.ndarray, b: np.ndarray, test: str = "chi2_pair") -> TestResult:
    """Pearson's chi-squared test of independence of two binary gate entries observed in ``N`` networks.

    The 2x2 contingency table of ``(a, b)``; statistic ``sum (O - E)^2 / E`` with ``E`` from the margins, 1 degree
    of freedom, no Yates correction (so that under independence the p-value is close to uniform, the paper's
    observation in Section 6.1). ``scipy.stats.chi2_contingency``. When an entry is constant over the networks
    (an empty row or column) the test is undefined: statistic and p-value NaN, with a note.

    Args:
        a, b: ``(N,)`` boolean (or 0/1) arrays.
    """
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    table = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])
    if (table.sum(0) == 0).any() or (table.sum(1) == 0).any():
        return TestResult(test, math.nan, math.nan, 1, len(a), "an entry is constant over the networks")
    res = stats.chi2_contingency(table, correction=False)
    return TestResult(test, float(res.statistic), float(res.pvalue), int(res.dof), len(a))


def pair_pvalues(gates: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The :func:`chi2_pair` p-value of every pair ``(i, j)`` of columns of ``gates`` (``(N, n)``); NaN where a
    column is constant."""
    return np.array([chi2_pair(gates[:, i], gates[:, j]).p_value for i, j in pairs])


def uniformity_ks(pvalues: np.ndarray, test: str = "chi2_pvalues_ks") -> TestResult:
    """Kolmogorov-Smirnov test that p-values are Uniform(0, 1) (what they are under independence; paper footnote 6).

    ``scipy.stats.kstest(p, "uniform")``; statistic ``sup |F_n - F|``. NaN p-values (undefined pair tests) are
    left out and counted in the note. The chi-squared statistic is discrete, so its p-values are uniform only
    approximately (the error is ``O(1/sqrt(N))`` in the table counts, invisible at ``N = 1000`` with a few dozen
    pairs). Pairs that share an entry give asymptotically independent statistics under independence.
    """
    p = np.asarray(pvalues, float)
    ok = p[~np.isnan(p)]
    note = f"{len(p) - len(ok)} of {len(p)} pairs undefined (constant entry), left out" if len(ok) < len(p) else ""
    if len(ok) == 0:
        return TestResult(test, math.nan, math.nan, None, 0, note or "no p-values")
    res = stats.kstest(ok, "uniform")
    return TestResult(test, float(res.statistic), float(res.pvalue), None, len(ok), note)


def activity_binom(gates: np.ndarray, p: float = 0.5, test: str = "activity_binom") -> TestResult:
    """Exact binomial test that gates are open with probability ``p``: ``k`` open among the ``N n`` entries.

    ``scipy.stats.binomtest(k, N n, p)``; statistic: the observed fraction ``k / (N n)``. The test assumes the
    entries independent: exact for ReLU with iid symmetric weights (given ``phi(Y_{l-1}) != 0`` the entries of
    ``Y_l`` are iid symmetric), not for correlated weights, where a shared shift moves whole layers.
    """
    g = np.asarray(gates, bool)
    k, total = int(g.sum()), int(g.size)
    res = stats.binomtest(k, total, p)
    return TestResult(test, k / total, float(res.pvalue), None, total)


def pearson(t_w: np.ndarray, t_d: np.ndarray, test: str = "tw_td_pearson") -> TestResult:
    """Pearson correlation of the paper's heuristic statistics ``(T_W, T_D)`` over ``N`` networks (Fig. 6), with
    the p-value of ``H0: rho = 0`` (``scipy.stats.pearsonr``; exact under bivariate normality, which ``T_W`` and
    ``T_D``, means of many indicators, satisfy approximately). ``df = N - 2``. NaN when either is constant."""
    t_w, t_d = np.asarray(t_w, float), np.asarray(t_d, float)
    if np.ptp(t_w) == 0 or np.ptp(t_d) == 0:
        return TestResult(test, math.nan, math.nan, len(t_w) - 2, len(t_w), "T_W or T_D is constant")
    res = stats.pearsonr(t_w, t_d)
    return TestResult(test, float(res.statistic), float(res.pvalue), len(t_w) - 2, len(t_w))
