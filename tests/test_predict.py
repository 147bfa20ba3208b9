"""theory.predict and the activation Gaussian constants: each against an independent computation.

Independent references: Monte Carlo with its standard error, scipy.integrate.quad on the z scale, closed forms
(Theorem 2.2, Fuss-Catalan), the Silverstein-Bai equation for the edge of ``W D^2 W^T``, and measured depth curves.
"""

import ast
import math
import pathlib

import numpy as np
import pytest
import torch
from scipy import integrate, optimize, stats

import jacstab
from jacstab import NetSpec
from jacstab import theory as T
from jacstab.theory import gaussian

RNG_SAMPLES = 400_000


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread here: the n = 256 products are small, and two spinning threads per process slow down
    by 10-50x when the CPUs are shared (measured: 7.7 s instead of 0.14 s for one n = 256, L = 12 curve)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _derivative(act, z, a):
    """phi'(z), written out here independently of jacstab (PyTorch conventions at the kink)."""
    return {
        "relu": (z > 0).astype(float),
        "leaky_relu": np.where(z > 0, 1.0, a),
        "abs": np.sign(z),
        "linear": np.ones_like(z),
        "tanh": 1 - np.tanh(z) ** 2,
    }[act]


def _phi(act, z, a):
    return {"relu": np.maximum(z, 0), "leaky_relu": np.where(z > 0, z, a * z), "abs": np.abs(z), "linear": z,
            "tanh": np.tanh(z)}[act]  # fmt: skip


def _close(mc, exact, se):
    # 5 standard errors: a false failure has probability ~6e-7 per comparison.
    assert abs(mc - exact) <= 5 * se + 1e-15, (mc, exact, se)


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "abs", "linear", "tanh"])
@pytest.mark.parametrize("q", [0.4, 3.0])
def test_gaussian_constants_vs_monte_carlo(act, q):
    a = 0.2
    g = T.gaussian_constants(act, slope=a, q=q)
    z = np.random.default_rng(1).normal(0.0, math.sqrt(q), RNG_SAMPLES)
    d = _derivative(act, z, a)
    checks = (((d != 0).astype(float), g.p_active), (d * d, g.mean_dphi2), (_phi(act, z, a) ** 2, g.mean_phi2))
    for values, exact in checks:
        _close(values.mean(), exact, values.std() / math.sqrt(z.size))
    if g.atoms is not None:  # the law of phi'^2: P(phi'^2 = value) for each atom
        assert math.isclose(sum(p for _, p in g.atoms), 1.0)
        for value, p in g.atoms:
            hit = (np.abs(d * d - value) < 1e-12).astype(float)
            _close(hit.mean(), p, math.sqrt(p * (1 - p) / z.size))


def test_homogeneous_constants_closed_forms():
    a = 0.3
    assert T.gaussian_constants("relu").mean_dphi2 == 0.5 and T.gaussian_constants("relu").p_active == 0.5
    leaky = T.gaussian_constants("leaky_relu", slope=a, q=7.0)
    assert leaky.mean_dphi2 == pytest.approx((1 + a * a) / 2, abs=1e-15) and leaky.p_active == 1.0
    assert not leaky.projection and leaky.atoms == ((a * a, 0.5), (1.0, 0.5))
    assert T.gaussian_constants("leaky_relu", slope=0.0).p_active == 0.5  # slope 0 is relu
    for act in ("abs", "linear"):
        g = T.gaussian_constants(act, q=5.0)
        assert (g.p_active, g.mean_dphi2, g.projection, g.atoms) == (1.0, 1.0, True, ((1.0, 1.0),))
    for act in gaussian.HOMOGENEOUS:  # exact in q: the same numbers at every variance
        g1, g2 = T.gaussian_constants(act, 0.2, 0.01), T.gaussian_constants(act, 0.2, 100.0)
        assert g1.exact_in_q and (g1.p_active, g1.mean_dphi2) == (g2.p_active, g2.mean_dphi2)
    assert not T.gaussian_constants("tanh").exact_in_q
    with pytest.raises(ValueError, match="did you mean 'relu'"):
        T.gaussian_constants("rellu")


def _quad_z(f, q):
    """E[f(sqrt(q) z)] by adaptive quadrature on the z scale (the library uses Gauss-Hermite / the y scale)."""
    s = math.sqrt(q)
    return integrate.quad(lambda z: f(s * z) * stats.norm.pdf(z), -40, 40, points=[0.0], epsabs=1e-14,
                          epsrel=1e-13, limit=400)[0]  # fmt: skip


@pytest.mark.parametrize("q", [1e-6, 0.3, 0.999, 1.001, 2.5, 50.0])
def test_tanh_constants_vs_independent_quadrature(q):
    # Both sides are quadratures accurate to ~1e-14; 1e-11 also covers the switch from Gauss-Hermite (q <= 1)
    # to composite Gauss-Legendre on y = sqrt(q) z (q > 1) in the library.
    g = T.gaussian_constants("tanh", q=q)
    assert abs(g.mean_dphi2 - _quad_z(lambda y: math.cosh(y) ** -4, q)) < 1e-11
    assert abs(g.mean_phi2 - _quad_z(lambda y: math.tanh(y) ** 2, q)) < 1e-11


@pytest.mark.parametrize("sigma2", [0.7, 1.0, 1.5, 4.0])
def test_tanh_fixed_point_solves_the_variance_map(sigma2):
    q_star = gaussian.tanh_fixed_point(sigma2)
    if sigma2 <= 1:
        assert q_star == 0.0
        return
    # independent: the map evaluated by z-scale quadrature, and plain iteration from q_0 = sigma2
    assert abs(sigma2 * _quad_z(lambda y: math.tanh(y) ** 2, q_star) - q_star) < 1e-10
    traj = gaussian.variance_trajectory("tanh", sigma2, 120)  # contracts by ~0.68 (1.5), ~0.3 (4) a step
    assert abs(traj[-1] - q_star) < 1e-8


def _psi_two_atom(w, p, b):
    return p * w / (1 - w) + (1 - p) * b * w / (1 - b * w)


@pytest.mark.parametrize(("p", "b"), [(0.5, 0.0), (0.5, 0.04), (0.5, 0.7), (0.3, 0.2), (0.9, 0.5)])
def test_two_atom_s_transform_inverts_the_moment_series(p, b):
    # chi(z) = z S(z) / (1 + z) must invert psi(w) = E[w x / (1 - w x)]: psi(chi(z)) = z. Near w = 1 psi
    # amplifies a relative error eps in w by ~ z (psi ~ p / (1 - w)), so rtol = 1e-11 at z <= 1e4.
    z = np.geomspace(1e-6, 1e4, 60)
    chi = z * T.s_transform_two_atom(z, p, b) / (1 + z)
    np.testing.assert_allclose(_psi_two_atom(chi, p, b), z, rtol=1e-11)


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("L", [1, 2, 5, 30, 200])
def test_leaky_edge_reduces_to_relu_and_linear(init, L):
    # slope 0: D^2 is the Bernoulli(1/2) projection (closed form in free.log_spectral_edge); slope 1: identity.
    s2 = 1.7
    assert abs(T.log_spectral_edge_two_atom(L, 0.5, 0.0, s2, init) - T.log_spectral_edge(L, 0.5, s2, init)) < 1e-10
    assert abs(T.log_spectral_edge_two_atom(L, 0.5, 1.0, s2, init) - T.log_spectral_edge(L, 1.0, s2, init)) < 1e-10
    lo, mid, hi = (T.log_spectral_edge_two_atom(L, 0.5, b, s2, init) for b in (0.0, 0.1, 1.0))
    if init == "orthogonal" and L <= 2:  # ||D_1 O D_0|| -> 1 for any slope: two random half-dimensional subspaces
        assert lo == mid == hi == L * math.log(s2)  # meet at angle 0, so the edge is sigma2^L
    else:
        assert lo < mid < hi  # monotone in the slope


@pytest.mark.parametrize("b", [0.0, 0.04, 0.5, 1.0])
def test_leaky_edge_at_depth_one_vs_silverstein_bai(b):
    # J J^T = W D^2 W^T has the nonzero spectrum of a sample covariance with population law H = sigma2 {1, b}
    # (ratio 1). Its right edge is min z(m) over m in (-1/t_max, 0), z(m) = -1/m + sum_t w_t t / (1 + t m)
    # (Silverstein and Choi 1995): an independent route to the same number.
    s2 = 1.7
    t, w = np.array([s2, s2 * b]), np.array([0.5, 0.5])
    res = optimize.minimize_scalar(lambda m: -1 / m + np.sum(w * t / (1 + t * m)),
                                   bounds=(-(1 - 1e-12) / t.max(), -1e-12), method="bounded",
                                   options={"xatol": 1e-14})  # fmt: skip
    assert abs(T.log_spectral_edge_two_atom(1, 0.5, b, s2) - math.log(res.fun)) < 1e-9


def test_linear_net_is_critical_at_sigma2_one_with_the_fuss_catalan_edge():
    p = T.predict(NetSpec(width=256, depth=100, activation="linear", sigma2=1.0))
    assert p.growth_per_layer == 0.0 and p.condition_ii == 0.0 and p.regime == "critical"
    fc = np.array([T.fuss_catalan_log_edge(d) / 2 for d in range(1, 101)])
    np.testing.assert_allclose(p.log_norm, fc, rtol=0, atol=1e-12)
    # the ReLU-only overlay this replaces read e^(-34.7) here; measured log||J^(100)|| at n = 256 is 2.56
    assert abs(p.log_norm[-1] - 2.805) < 1e-3 and not p.theorem_applies and "ReLU" in p.note
    p2 = T.predict(NetSpec(width=256, depth=100, activation="linear", sigma2=2.0))
    assert p2.growth_per_layer == pytest.approx(0.5 * math.log(2)) and p2.condition_ii == pytest.approx(1.0)
    assert p2.regime == "explodes"
    abs_p = T.predict(NetSpec(width=256, depth=100, activation="abs", sigma2=2.0))
    np.testing.assert_array_equal(abs_p.log_norm, p2.log_norm)  # sign flips are orthogonal


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("sigma2", [0.5, 2.0, 4.0])
def test_relu_matches_theorem_2_2_and_the_bernoulli_edge(init, sigma2):
    p = T.predict(NetSpec(width=64, depth=20, sigma2=sigma2, init=init))
    assert p.growth_per_layer == pytest.approx(T.growth_rate(sigma2), abs=1e-15)
    assert p.condition_ii == pytest.approx(sigma2 / 2 - 1, abs=1e-15)  # the paper's 1/2 sum E|bw|^2 - 1
    ref = [T.predicted_log_norm(d, 0.5, sigma2, init) for d in range(1, 21)]
    np.testing.assert_allclose(p.log_norm, ref, rtol=0, atol=1e-14)
    assert p.theorem_applies == (init == "gaussian")
    with pytest.raises(ValueError):
        p.log_norm[0] = 0.0  # read-only


def test_random_pruning_edge_uses_the_effective_variance():
    # unscaled random pruning keeps a fraction 1 - s of each row's energy (Theorem 4.1's (1-s)^{L/2})
    spec = NetSpec(width=128, depth=10, prune="random", sparsity=0.75)
    p = T.predict(spec)
    assert p.sigma2_eff == pytest.approx(0.5) and p.growth_per_layer == pytest.approx(T.growth_rate(2.0, 0.25))
    np.testing.assert_allclose(p.log_norm, [T.predicted_log_norm(d, 0.5, 0.5) for d in range(1, 11)], atol=1e-14)
    for scaling in ("random", "exact", "empirical"):
        q = T.predict(spec.replace(scaling=scaling))
        assert q.sigma2_eff == pytest.approx(2.0) and abs(q.condition_ii) < 1e-12 and q.log_norm is not None


@pytest.mark.parametrize(
    ("prune", "kw", "rule"),
    [("random", {"sparsity": 0.6}, "none"), ("magnitude", {"sparsity": 0.9}, "exact"),
     ("magnitude", {"sparsity": 0.5}, "none"), ("magnitude", {"sparsity": 0.8}, "paper-magnitude"),
     ("magnitude-threshold", {"threshold": 0.1}, "exact")],
)  # fmt: skip
def test_law_second_moment_vs_monte_carlo(prune, kw, rule):
    # n E|b w|^2 of the law: draw w ~ N(0, sigma2/n), apply the rule's keep-set and factor, average.
    n, s2 = 256, 2.0
    spec = NetSpec(width=n, depth=3, sigma2=s2, prune=prune, scaling=rule, **kw)
    beta, s2_eff = T.law_second_moment(spec)
    rng = np.random.default_rng(2)
    w = rng.normal(0, math.sqrt(s2 / n), RNG_SAMPLES)
    if prune == "random":
        kept = rng.random(w.size) < 1 - kw["sparsity"]
    else:
        t = kw.get("threshold") or math.sqrt(s2 / n) * stats.norm.isf((1 - kw["sparsity"]) / 2)
        kept = np.abs(w) > t
    energy = n * (beta * w * kept) ** 2
    _close(energy.mean(), s2_eff, energy.std() / math.sqrt(w.size))


def test_law_unknown_and_empirical():
    snip = NetSpec(width=64, depth=4, prune="snip", sparsity=0.5)
    p = T.predict(snip)
    assert math.isnan(p.sigma2_eff) and math.isnan(p.growth_per_layer) and math.isnan(p.condition_ii)
    assert p.law_reason.startswith("no prediction") and "empirical" in p.law_reason and p.log_norm is None
    assert p.regime == "unknown" and "unknown" in p.describe()
    e = T.predict(snip.replace(scaling="empirical", eta=0.5))
    assert e.sigma2_eff == pytest.approx(2.0 * 1.25)  # each row's realised energy restored, times 1 + eta^2


@pytest.mark.parametrize(
    "kw",
    [{"prune": "magnitude", "sparsity": 0.9, "scaling": "exact"}, {"prune": "magnitude-threshold", "threshold": 0.1},
     {"eta": 0.1}, {"correlation": "row", "rho": 0.1}, {"correlation": "ar1", "rho": 0.5},
     {"init": "orthogonal", "prune": "random", "sparsity": 0.5}, {"activation": "tanh", "sigma2": 1.5}],
)  # fmt: skip
def test_no_edge_where_free_probability_does_not_apply(kw):
    p = T.predict(NetSpec(width=64, depth=8, **kw))
    assert p.log_norm is None and p.edge_reason.startswith("no prediction: ")
    assert "no prediction" in p.describe() and p.rows()[-1]["value"] is None
    correlated = "eta" in kw or "correlation" in kw
    # correlated weights: measured at n = 256, L = 30, row rho = 0.1 grows ~1.08 per layer and eta = 0.1 falls
    # ~0.2 per layer while the iid slope is 0, so no growth is claimed either
    assert math.isnan(p.growth_per_layer) == correlated
    assert p.rows()[2]["value"] is None if correlated else math.isfinite(p.rows()[2]["value"])


@pytest.mark.parametrize("act", ["relu", "linear", "tanh", "leaky_relu", "abs"])
@pytest.mark.parametrize(
    "kw",
    [{}, {"init": "orthogonal"}, {"prune": "random", "sparsity": 0.3}, {"prune": "snip", "sparsity": 0.3},
     {"prune": "magnitude", "sparsity": 0.3, "scaling": "empirical"}, {"correlation": "col", "rho": 0.2}],
)  # fmt: skip
def test_every_missing_quantity_carries_a_reason(act, kw):
    p = T.predict(NetSpec(width=32, depth=5, activation=act, **kw))
    assert (p.log_norm is None) == bool(p.edge_reason)
    if p.log_norm is not None:
        assert p.log_norm.shape == (5,) and np.isfinite(p.log_norm).all()
    assert math.isnan(p.growth_per_layer) == bool(p.growth_reason)
    assert math.isnan(p.sigma2_eff) == bool(p.law_reason) and p.note
    for row in p.rows():
        assert row["value"] is not None or row["note"].startswith("no prediction")


def test_theorem_flag_and_rows():
    assert T.predict(NetSpec(width=64, depth=4)).theorem_applies
    for act in ("linear", "tanh", "leaky_relu", "abs"):
        p = T.predict(NetSpec(width=64, depth=4, activation=act))
        assert not p.theorem_applies and "no guarantee" in p.note
    rows = T.predict(NetSpec(width=64, depth=4, activation="leaky_relu", slope=0.1)).rows()
    assert [r["quantity"] for r in rows][:4] == ["sigma2_eff", "mean_dphi2", "growth_per_layer", "condition_ii"]
    assert all(set(r) == {"quantity", "value", "formula", "source", "note"} for r in rows)
    assert rows[3]["value"] == pytest.approx(2.0 * (1 + 0.01) / 2 - 1)
    with pytest.raises(TypeError, match="NetSpec"):
        T.predict({"width": 3})


def test_theory_modules_import_neither_torch_nor_matplotlib():
    root = pathlib.Path(T.__file__).parent
    for name in ("predict.py", "gaussian.py", "free.py"):
        tree = ast.parse((root / name).read_text())
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] in ("torch", "matplotlib") for m in mods), (name, mods)


# --- against measured depth curves -----------------------------------------------------------------------------

# Finite-width bias of the mean of log||J^(d)||, measured once with 40 seeds at n = 256, L = 12 (measured minus
# predicted at d = 4, 8, 12): relu -0.04, -0.08, -0.13; linear -0.03, -0.06, -0.08; abs -0.04, -0.05, -0.08;
# leaky_relu (slope 0.5, sigma2 = 1.6) -0.04, -0.07, -0.10; relu orthogonal -0.01, -0.04, -0.08; relu with random
# pruning (s = 0.5, 20 seeds) -0.03, -0.06, -0.15. It shrinks with the width
# (relu, d = 12: -0.23, -0.13, -0.09 at n = 128, 256, 512), as the edge's n^(-2/3) fluctuations (whose mean lies
# below the edge) and E log < log E imply, and it is one-sided: the test allows [-BIAS - 4 se, 4 se] with se from
# the seeds' spread (seed-to-seed sd at d = 12: 0.06-0.14). The window rejects the ReLU-only overlay this
# replaces (for leaky_relu slope 0.5 at sigma2 = 1.6 it predicts 0.75 at d = 12 against 1.91; for abs and linear
# at sigma2 = 1 it predicts vanishing norms); nearby gate laws are told apart exactly by the L = 1 test above.
BIAS = 0.2
MC_WIDTH, MC_DEPTH, MC_SEEDS = 256, 12, 8


@pytest.mark.parametrize(
    ("act", "sigma2", "extra"),
    [("relu", 2.0, {}), ("linear", 1.0, {}), ("abs", 1.0, {}), ("leaky_relu", 1.6, {"slope": 0.5}),
     ("relu", 2.0, {"init": "orthogonal"}), ("relu", 2.0, {"prune": "random", "sparsity": 0.5, "scaling": "random"})],
)  # fmt: skip
def test_measured_depth_curve_matches_the_free_probability_edge(act, sigma2, extra):
    spec = NetSpec(width=MC_WIDTH, depth=MC_DEPTH, activation=act, sigma2=sigma2, **extra)
    curves = np.array([jacstab.depth_curve(jacstab.sample(spec, s)).numpy() for s in range(MC_SEEDS)])
    pred = T.predict(spec).log_norm
    for d in (4, 8, 12):
        err = curves[:, d - 1].mean() - pred[d - 1]
        se = curves[:, d - 1].std(ddof=1) / math.sqrt(MC_SEEDS)
        assert -BIAS - 4 * se <= err <= 4 * se, (act, d, err, se)


@pytest.mark.parametrize(("sigma2", "q_star"), [(1.5, 0.28689), (4.0, 2.12147)])
def test_tanh_growth_matches_the_measured_slope(sigma2, q_star):
    # sigma2 = 1.5 is near criticality (growth 0.020; the ReLU overlay would say -0.144), sigma2 = 4 is chaotic
    # (growth 0.155; ReLU overlay 0.347). The measured slope of log||J^(d)|| over d = 20..40 also carries the
    # edge's sub-exponential part: for any gate law with Gaussian weights, log edge = L log(sigma2 E[phi'^2]) +
    # log(c L) + 1 + o(1) (expand S near 0), i.e. +1/(2d) per layer in log||J||, fitted here from (1/2) log d.
    # Tolerance 0.06: 4 times the seed-to-seed sd of the slope (0.012 at sigma2 = 1.5, 0.02 at 4; n = 256) over
    # sqrt(3) seeds, plus the finite-width drift of log||J|| (measured once over 3 x 3 seeds: slope - growth -
    # 1/(2d) = -0.003 at sigma2 = 1.5, -0.010 at 4). Both ReLU overlays lie > 0.16 away.
    spec = NetSpec(width=256, depth=40, activation="tanh", sigma2=sigma2)
    p = T.predict(spec)
    d = np.arange(20, 41)
    slopes = [np.polyfit(d, jacstab.depth_curve(jacstab.sample(spec, s)).numpy()[19:], 1)[0] for s in range(3)]
    sub_exponential = np.polyfit(d, 0.5 * np.log(d), 1)[0]
    assert p.log_norm is None and p.q_star == pytest.approx(q_star, abs=1e-5)
    assert abs(np.mean(slopes) - (p.growth_per_layer + sub_exponential)) < 0.06, (slopes, p.growth_per_layer)
