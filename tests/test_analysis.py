"""jacstab.lab.analysis against independent computations (scipy.stats.linregress, scipy.stats.t, Welch's test)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from jacstab.lab.analysis import Slope, compare_slopes, growth_slope, mean_band


def random_walk(rng, seeds, L, slope, spread=0.02, noise=0.1):
    """Curves log||J^(d)|| = a_s + sum_{k<=d} (slope + u_s + e_k): per-seed slope u_s, correlated depths."""
    u = rng.normal(0.0, spread, (seeds, 1))
    return rng.normal(0.0, 1.0, (seeds, 1)) + np.cumsum(slope + u + rng.normal(0.0, noise, (seeds, L)), axis=1)


# ---------------------------------------------------------------- growth_slope


def test_per_seed_slope_equals_linregress():
    y = random_walk(np.random.default_rng(1), 5, 12, 0.03)
    s = growth_slope(y)
    ref = [stats.linregress(np.arange(1, 13), row).slope for row in y]
    np.testing.assert_allclose(s.seed_slopes, ref, rtol=1e-12, atol=1e-14)
    assert s.value == pytest.approx(np.mean(ref), rel=1e-12)
    assert (s.n_seeds, s.dead, s.missing) == (5, 0, 0)


def test_start_depths_and_nan_values_use_the_finite_points_of_the_window():
    rng = np.random.default_rng(2)
    depths = np.array([1, 2, 4, 8, 16, 32, 64, 128], float)
    y = random_walk(rng, 3, 8, 0.01)
    y[1, 5] = np.nan
    s = growth_slope(y, depths, start=4)
    ref = []
    for row in y:
        ok = (depths >= 4) & np.isfinite(row)
        ref.append(stats.linregress(depths[ok], row[ok]).slope)
    np.testing.assert_allclose(s.seed_slopes, ref, rtol=1e-12)
    assert s.missing == 0


def test_exact_linear_data_gives_the_slope():
    d = np.arange(1, 31)
    b = 0.0123456789
    y = np.array([a + b * d for a in (-3.0, 0.5, 7.25)])
    s = growth_slope(y)
    assert abs(s.value - b) < 1e-12
    assert s.se < 1e-12


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_ci_is_the_t_interval_of_the_seed_slopes(level):
    y = random_walk(np.random.default_rng(3), 6, 10, -0.02)
    s = growth_slope(y, level=level)
    b = np.array([stats.linregress(np.arange(1, 11), row).slope for row in y])
    se = np.std(b, ddof=1) / math.sqrt(len(b))
    half = stats.t.ppf(0.5 + level / 2, len(b) - 1) * se
    assert s.se == pytest.approx(se, rel=1e-12)
    assert s.ci_low == pytest.approx(b.mean() - half, rel=1e-12)
    assert s.ci_high == pytest.approx(b.mean() + half, rel=1e-12)
    assert s.level == level


def test_ci_covers_the_true_slope_95_percent_of_the_time():
    rng = np.random.default_rng(20240607)
    reps, truth = 2000, 0.05
    covered = 0
    for _ in range(reps):
        s = growth_slope(random_walk(rng, 4, 10, truth))
        covered += s.ci_low <= truth <= s.ci_high
    se = math.sqrt(0.95 * 0.05 / reps)  # binomial standard error of the coverage, ~0.005
    assert abs(covered / reps - 0.95) < 4 * se


def test_dead_seeds_are_counted_not_averaged():
    y = random_walk(np.random.default_rng(4), 5, 10, 0.0)
    y[1, 6:] = -np.inf
    y[3, 2:] = -np.inf
    s = growth_slope(y)
    live = y[[0, 2, 4]]
    assert (s.n_seeds, s.dead) == (3, 2)
    assert s.value == pytest.approx(np.mean([stats.linregress(np.arange(1, 11), r).slope for r in live]), rel=1e-12)
    assert "2 dead: J = 0 exactly" in str(s)


def test_all_dead_and_all_missing_give_no_estimate():
    s = growth_slope(np.full((3, 6), -np.inf))
    assert math.isnan(s.value) and (s.n_seeds, s.dead) == (0, 3)
    assert str(s).startswith("no estimate")
    m = growth_slope(np.array([[np.nan] * 5 + [1.0], [0.0, 1, 2, 3, 4, 5]]))
    assert (m.n_seeds, m.missing, m.value) == (1, 1, pytest.approx(1.0))


def test_one_seed_has_nan_se():
    y = random_walk(np.random.default_rng(5), 1, 8, 0.1)[0]
    s = growth_slope(y)
    assert s.value == pytest.approx(stats.linregress(np.arange(1, 9), y).slope, rel=1e-12)
    assert s.n_seeds == 1 and math.isnan(s.se) and math.isnan(s.ci_low) and math.isnan(s.ci_high)
    assert "1 seed)" in str(s)


def test_str_format():
    s = Slope(0.0123, 0.0016, 0.0083, 0.0163, 3)
    assert str(s) == "+0.0123 ± 0.0040 (95% CI, 3 seeds)"


@pytest.mark.parametrize(
    ("y", "kwargs"),
    [
        (np.array([[0.0, np.inf, 1.0]]), {}),
        (np.zeros((2, 5)), {"depths": [1, 2, 3, 4]}),
        (np.zeros((2, 5)), {"depths": [1, 3, 2, 4, 5]}),
        (np.zeros((2, 5)), {"start": 5}),
        (np.zeros((2, 2, 2)), {}),
        (np.zeros((2, 5)), {"level": 1.0}),
    ],
)
def test_growth_slope_rejects_bad_input(y, kwargs):
    with pytest.raises(ValueError):
        growth_slope(y, **kwargs)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(2, 9)), elements=st.floats(-50, 50)),
    st.floats(-5, 5),
    st.floats(-5, 5),
)
def test_affine_equivariance_and_seed_order(y, c, k):
    d = np.arange(1, y.shape[1] + 1)
    s, t = growth_slope(y), growth_slope(y[::-1] + c + k * d)
    assert t.value == pytest.approx(s.value + k, abs=1e-9)
    assert t.se == pytest.approx(s.se, abs=1e-9, nan_ok=True)


# ---------------------------------------------------------------- mean_band


def test_mean_band_matches_scipy_and_counts_dead_and_missing():
    rng = np.random.default_rng(6)
    y = random_walk(rng, 6, 8, 0.02)
    y[0, 5:] = -np.inf
    y[2, 1] = np.nan
    y[:, 7] = [-np.inf] * 5 + [np.nan]
    y[:, 6] = [-np.inf] * 6
    y[:5, 4] = -np.inf
    b = mean_band(y)
    np.testing.assert_array_equal(b.n_dead, [0, 0, 0, 0, 5, 1, 6, 5])
    np.testing.assert_array_equal(b.n_missing, [0, 1, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(b.n_finite + b.n_dead + b.n_missing, 6)
    np.testing.assert_array_equal(b.all_dead, [False] * 6 + [True, False])
    for j in range(4):
        x = y[np.isfinite(y[:, j]), j]
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert b.mean[j] == pytest.approx(x.mean(), rel=1e-12)
        assert b.sd[j] == pytest.approx(np.std(x, ddof=1), rel=1e-12)
        assert (b.ci_low[j], b.ci_high[j]) == (pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
    assert b.mean[4] == y[5, 4] and math.isnan(b.sd[4]) and math.isnan(b.ci_low[4])
    assert math.isnan(b.mean[6]) and math.isnan(b.mean[7])
    with pytest.raises(ValueError):
        b.mean[0] = 0.0


def test_mean_band_rejects_overflow():
    with pytest.raises(ValueError):
        mean_band([[0.0, np.inf]])


# ---------------------------------------------------------------- compare_slopes


def test_compare_slopes_not_distinguishable_when_cis_overlap():
    rng = np.random.default_rng(7)
    slopes = {
        "random": growth_slope(random_walk(rng, 4, 10, 0.004, spread=0.01)),
        "exact": growth_slope(random_walk(rng, 4, 10, 0.001, spread=0.01)),
        "paper": growth_slope(random_walk(rng, 4, 10, 0.3, spread=0.01)),
    }
    r = compare_slopes(slopes)
    assert [n for n, _ in r.order][-1] == "paper"
    a, b = slopes[r.best], slopes[r.runner_up]
    assert abs(a.value) <= abs(b.value)
    assert r.distinguishable is False and r.p_value > 0.05
    assert "not distinguishable" in r.summary() and r.summary().startswith(f"most stable: {r.best} (")


def test_compare_slopes_distinguishable_when_far_apart_and_matches_welch():
    rng = np.random.default_rng(8)
    slopes = {
        "random": growth_slope(random_walk(rng, 5, 10, 0.2, spread=0.01, noise=0.02)),
        "exact": growth_slope(random_walk(rng, 3, 10, 0.001, spread=0.01, noise=0.02)),
    }
    r = compare_slopes(slopes)
    assert (r.best, r.runner_up, r.distinguishable) == ("exact", "random", True) and r.p_value < 1e-4
    assert "; distinguishable from random" in r.summary()
    # Independent: Welch's t test on the distances (both slopes lie on one side of the target here).
    e, q = slopes["exact"], slopes["random"]
    sd = [np.std(s.seed_slopes, ddof=1) for s in (e, q)]
    ref = stats.ttest_ind_from_stats(abs(q.value), sd[1], 5, abs(e.value), sd[0], 3, equal_var=False)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.diff / r.diff_se == pytest.approx(ref.statistic, rel=1e-12)


def test_compare_slopes_target_one_seed_and_dead_settings():
    rng = np.random.default_rng(9)
    slopes = {
        "a": growth_slope(random_walk(rng, 3, 10, 0.0)),
        "b": growth_slope(random_walk(rng, 1, 10, 0.5, noise=0.0)),
        "dead": growth_slope(np.full((2, 10), -np.inf)),
    }
    r = compare_slopes(slopes, target=0.5)
    assert (r.best, r.runner_up, r.distinguishable) == ("b", "a", None)
    assert [n for n, _ in r.order] == ["b", "a", "dead"]
    text = r.summary()
    assert text.startswith("closest to +0.5/layer: b") and "cannot be compared" in text and "dead" in text
    assert compare_slopes({"dead": slopes["dead"]}).best is None
    with pytest.raises(ValueError):
        compare_slopes({})
