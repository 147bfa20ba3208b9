"""Lab side of issue 13: metrics, built-ins, the finite-depth fit, and the figures from store rows."""

import numpy as np
import pytest

import jacstab
from jacstab.lab import Store
from jacstab.lab.builtin import BUILTIN, builtin_experiment
from jacstab.lab.experiment import parse_experiment
from jacstab.lab.metrics import Context, get_metric
from jacstab.lab.runner import run_experiment
from jacstab.lab.spectral import fit_finite_depth, settings, spectrum_by_depth


def test_fit_finite_depth_recovers_exact_coefficients():
    # data exactly lambda + b/d (an exact identity for least squares: residual 0, so 1e-12)
    d = np.arange(1, 50)
    lam, b = np.array([0.3, -0.1]), np.array([2.0, -0.5])
    log_s = (lam + b / d[:, None]) * d[:, None]
    got_lam, got_b = fit_finite_depth(d, log_s)
    np.testing.assert_allclose(got_lam, lam, atol=1e-12)
    np.testing.assert_allclose(got_b, b, atol=1e-12)
    log_s[:, 1] = -np.inf  # a dead index gives NaN, not a number
    assert np.isnan(fit_finite_depth(d, log_s)[0][1])


def test_metrics_return_what_the_api_computes():
    net = jacstab.sample(jacstab.NetSpec(8, 6, residual=0.5), 0)
    vals = get_metric("lyapunov_stderr").compute(net, {"k": 2}, Context())
    res = jacstab.lyapunov(net, k=2)
    assert vals == res.exponents.tolist() + res.stderr.tolist()
    vals = get_metric("log_spectrum_depths").compute(net, {"k": 3}, Context())
    assert vals == jacstab.log_singular_values(net, depths=list(range(1, 7)), k=3).reshape(-1).tolist()
    vals = get_metric("alignment").compute(net, {"k": 1}, Context())
    a = jacstab.engine.alignment(net, k=1)
    assert vals == a.mean_cos2.tolist() + a.gap_head.tolist() + a.gap_tail.tolist()


def test_spectral_builtins_are_reproduced_and_drawn_by_the_report_registry():
    from jacstab.lab.figures import VIEWS

    for name in ("residual-alpha", "residual-depth", "separation", "fixed-gates-dynamics"):
        assert BUILTIN[name].get("reproduce", True) is True
        exp = builtin_experiment(name, quick=True)
        assert exp.trials()
        assert all(m in VIEWS for m in exp.metric_names)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("s") / "s.sqlite"
    exp = parse_experiment(
        {"name": "t", "metrics": ["log_spectrum_depths", "alignment"], "seeds": 2, "k": 2,
         "net": {"width": 8, "depth": 5}, "grid": {"residual": [0.0, 0.5]}}, "test")  # fmt: skip
    exp2 = parse_experiment(
        {"name": "t2", "metrics": ["lyapunov_stderr"], "seeds": 2, "k": 1,
         "net": {"width": 8, "depth": 30, "activation": "linear", "sigma2": 1.0},
         "grid": {"residual": [0.5, 1.0]}}, "test")  # fmt: skip
    with Store(path) as st:
        run_experiment(exp, st, executor="serial")
        run_experiment(exp2, st, executor="serial")
    return path, exp, exp2


@pytest.fixture(scope="module")
def store_rows(stored):
    with Store(stored[0], readonly=True) as st:
        return st.rows()


def test_settings_regroup_the_store_rows(store_rows):
    ss = settings(store_rows, "log_spectrum_depths")
    assert sorted(s.spec.residual for s in ss) == [0.0, 0.5]
    for s in ss:
        net = jacstab.sample(s.spec, s.seeds[0])
        want = jacstab.log_singular_values(net, depths=[1, 2, 3, 4, 5], k=2).numpy()
        np.testing.assert_array_equal(spectrum_by_depth(s)[0], want)


def test_report_registry_draws_and_tabulates_the_spectral_metrics(stored, tmp_path):
    from jacstab.lab.figures import FigureOptions, render

    path, exp, exp2 = stored
    with Store(path, readonly=True) as st:
        out = {r.metric: r for e in (exp, exp2) for r in render(e, st, tmp_path, FigureOptions())}
    assert set(out) == {"log_spectrum_depths", "alignment", "lyapunov_stderr"}
    for r in out.values():
        assert r.png.stat().st_size > 10_000 and r.tables and r.tables[0].rows
    # alignment table: mean cos^2 at the middle split = the API's value averaged over the seeds (exact, 1e-4 from
    # the 4-digit formatting)
    row = out["alignment"].tables[0].rows[0]
    mid = row["split d"]
    spec = exp.specs[0]
    want = np.mean([float(jacstab.engine.alignment(jacstab.sample(spec, s), k=2).mean_cos2[mid - 1]) for s in (0, 1)])
    assert row["chance k/n"] == f"{2 / 8:.4f}"
    assert float(row["mean cos^2"].split()[0]) == pytest.approx(want, abs=1e-4)
    # exponents table: lambda_1 = the seed mean of jacstab.lyapunov's top exponent
    row = out["lyapunov_stderr"].tables[0].rows[0]
    spec = exp2.specs[0]
    want = np.mean([float(jacstab.lyapunov(jacstab.sample(spec, s), k=1).exponents[0]) for s in (0, 1)])
    assert float(row["lambda_1 measured"].split()[0]) == pytest.approx(want, abs=1e-4)
    assert row["finite-n theory"].endswith("(exact finite n)")
