"""Approximation 2.1: the fixed-gates model (spec, sampling, engine), its exact finite-width theory, and the
statistics of jacstab.stats (against scipy-free references, planted answers and Monte Carlo with standard errors)."""

import json
import math

import numpy as np
import pytest
import torch

import jacstab
from conftest import RTOL
from jacstab.cli import main
from jacstab.nets.streams import bernoulli_gate
from jacstab.stats import activity_binom, approx21, chi2_pair, draw_gates, pair_pvalues, pearson, uniformity_ks
from jacstab.theory import (
    gaussian_lyapunov,
    log_spectral_edge,
    masked_log_norm_sq,
    masked_lyapunov,
    masked_top_lyapunov,
    predict,
    tw_td_same_correlation,
)


def run(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def one_line(err):
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


BERN = dict(gates="bernoulli")


def _open(gate, n):
    out = np.zeros(n, bool)
    out[gate.idx.numpy()] = True
    return out


# --- spec ------------------------------------------------------------------------------------------------------


def test_gate_fields_enter_the_canonical_form_only_when_not_default():
    base = jacstab.NetSpec(16, 4)
    assert "gates" not in base.canonical_json() and "gate_p" not in base.canonical_json()
    b = base.replace(gates="bernoulli", gate_p=0.3)
    assert json.loads(b.canonical_json())["gates"] == "bernoulli" and json.loads(b.canonical_json())["gate_p"] == 0.3
    assert len({base.hash(), b.hash(), base.replace(gates="bernoulli").hash()}) == 3


@pytest.mark.parametrize(
    "changes, needle",
    [
        (dict(gates="bernouli"), "did you mean 'bernoulli'"),
        (dict(gates="bernoulli", gate_p=0.0), "gate_p must be a finite number in (0.0, 1.0]"),
        (dict(gates="bernoulli", gate_p=1.5), "gate_p"),
        (dict(gate_p=0.3), "applies to gates='bernoulli' only"),
        (dict(gates="bernoulli", activation="tanh"), "needs activation='relu'"),
    ],
)
def test_bad_gate_fields_are_named(changes, needle):
    with pytest.raises(ValueError) as e:
        jacstab.NetSpec(16, 4, **changes)
    assert needle in str(e.value)


# --- sampling and engine -----------------------------------------------------------------------------------------


def test_same_seed_same_weights_under_both_gate_models_and_gates_from_their_own_stream():
    spec = jacstab.NetSpec(24, 6, eta=0.1)
    fwd, bern = jacstab.sample(spec, 5), jacstab.sample(spec.replace(**BERN), 5)
    assert all(torch.equal(a, b) for a, b in zip(fwd.weights, bern.weights))
    assert torch.equal(fwd.w_in, bern.w_in)
    x1, x2 = torch.randn(24, dtype=torch.float64), -torch.ones(24, dtype=torch.float64)
    g1, g2 = bern.gates(x1), bern.gates(x2)  # fixed gates ignore the input
    for k in range(6):
        assert np.array_equal(_open(g1[k], 24), bernoulli_gate(5, k, 24, 0.5).numpy())
        assert np.array_equal(_open(g1[k], 24), _open(g2[k], 24))
    shallow = jacstab.sample(spec.replace(depth=3, **BERN), 5)  # D_k does not depend on the depth
    assert all(np.array_equal(_open(a, 24), _open(b, 24)) for a, b in zip(shallow.gates(x1), g1))
    # a float32 copy keeps the gates (layers carry them through Network.to / replace)
    g32 = bern.to(dtype=torch.float32).gates(x1.float())
    assert all(np.array_equal(_open(a, 24), _open(b, 24)) for a, b in zip(g32, g1))


@pytest.mark.parametrize("method", ["dense", "lanczos", "jacrev", "jvp"])
def test_every_engine_path_computes_the_masked_product(method):
    """J = W_L D_{L-1} ... W_1 D_0 formed by hand from the weights and the stream's gates; float64 SVD.
    Tolerance: tests/conftest.py RTOL (backward-stable SVD, Lanczos residual 1e-10)."""
    net = jacstab.sample(jacstab.NetSpec(20, 5, **BERN), 2)
    j = torch.eye(20, dtype=torch.float64)
    for k, w in enumerate(net.weights):
        j = w @ (bernoulli_gate(2, k, 20, 0.5).double()[:, None] * j)
    ref = float(torch.linalg.svdvals(j)[0])
    got = jacstab.log_norm(net, method=method)
    assert abs(math.exp(got) - ref) <= RTOL[torch.float64] * ref


def test_depth_curve_and_lyapunov_accept_bernoulli_gates():
    net = jacstab.sample(jacstab.NetSpec(16, 6, **BERN), 1)
    j, curve = torch.eye(16, dtype=torch.float64), jacstab.depth_curve(net)
    for k, w in enumerate(net.weights):
        j = w @ (bernoulli_gate(1, k, 16, 0.5).double()[:, None] * j)
        assert abs(curve[k].item() - math.log(float(torch.linalg.svdvals(j)[0]))) < 1e-10  # SVD roundoff
    assert jacstab.lyapunov_exponents(net, k=2).shape == (2,)


# --- theory ------------------------------------------------------------------------------------------------------


def test_all_gates_open_is_newman_exactly():
    """p = 1: K = n surely, so the mixture is Newman's Ginibre formula (float64 roundoff)."""
    np.testing.assert_allclose(masked_lyapunov(12, 1.7, 1.0).exponents, gaussian_lyapunov(12, 1.7), atol=1e-13)
    assert masked_lyapunov(12, 1.7, 1.0).dead.max() == 0.0


def test_infinite_width_limit():
    """psi(K/2) + log 2 - log K = -1/K + O(K^-2) and E log(K/(np)) = -(1-p)/(2np) + ...: the gap is O(1/(np));
    3/(n p) bounds it."""
    for c, p in ((2.0, 0.5), (3.0, 0.2)):
        n = 20_000
        assert abs(masked_top_lyapunov(n, c, p) - 0.5 * math.log(c * p)) < 3 / (n * p)


def test_dead_probability_is_the_binomial_tail():
    m = masked_lyapunov(6, 2.0, 0.5, 3)
    assert m.dead[0] == pytest.approx(0.5**6, rel=1e-12)  # P(K = 0)
    assert m.dead[2] == pytest.approx((1 + 6 + 15) / 64, rel=1e-12)  # P(K < 3)
    assert m.survival(4) == pytest.approx((1 - 0.5**6) ** 4, rel=1e-12)


def test_lyapunov_estimator_of_bernoulli_networks_matches_the_exact_law():
    """At n = 4, P(K = 0) = 1/16: J = 0 in a fraction 1 - (15/16)^L of networks (binomial SE), and the surviving
    networks' 2 L lambda_hat (QR, k = 1) has the exact conditional mean of masked_log_norm_sq (z-test with the
    exact variance: |z| < 4, a false alarm once in ~16,000 runs; the seeds are fixed, so it is deterministic)."""
    n, depth, N = 4, 4, 800
    spec = jacstab.NetSpec(n, depth, **BERN)
    lam = np.array([float(jacstab.lyapunov_exponents(jacstab.sample(spec, s), k=1)[0]) for s in range(N)])
    alive = np.isfinite(lam)
    q = (15 / 16) ** depth
    assert abs(alive.mean() - q) < 4 * math.sqrt(q * (1 - q) / N)
    mean, var = masked_log_norm_sq(n, depth)
    vals = 2 * depth * lam[alive]
    assert abs(vals.mean() - mean) < 4 * math.sqrt(var / alive.sum())


def test_predict_uses_the_gate_probability():
    spec = jacstab.NetSpec(64, 5, sigma2=3.0, gates="bernoulli", gate_p=0.3)
    p = predict(spec)
    assert p.growth_per_layer == pytest.approx(0.5 * math.log(0.9), rel=1e-14)
    assert p.condition_ii == pytest.approx(0.3 * 3.0 - 1, rel=1e-14)
    assert p.log_norm[-1] == pytest.approx(0.5 * log_spectral_edge(5, 0.3, 3.0), rel=1e-14)
    assert "Bernoulli(0.3)" in p.describe()


# --- stats -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [{}, {"eta": 0.125}, BERN])
def test_batched_gates_equal_those_of_sample(changes):
    spec = jacstab.NetSpec(32, 6, **changes)
    x = jacstab.default_input(32)
    draw = draw_gates(spec, range(7, 11), 3, x)
    for i, seed in enumerate(range(7, 11)):
        net = jacstab.sample(spec, seed)
        g = net.gates(x)
        assert np.array_equal(draw.d_l[i], _open(g[3], 32)) and np.array_equal(draw.d_prev[i], _open(g[2], 32))
        assert draw.t_w[i] == float((net.weights[2] > 0).double().mean())


def test_chi2_pair_against_the_formula_and_planted_dependence():
    rng = np.random.default_rng(0)
    a, b = rng.random(400) < 0.5, rng.random(400) < 0.4
    r = chi2_pair(a, b)
    obs = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]], float)
    exp = obs.sum(1, keepdims=True) * obs.sum(0, keepdims=True) / obs.sum()
    assert r.statistic == pytest.approx(((obs - exp) ** 2 / exp).sum(), rel=1e-12) and r.df == 1
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(r.statistic / 2)), rel=1e-9)  # chi2(1) tail
    planted = a ^ (rng.random(400) < 0.2)  # equal to a 80% of the time: phi coefficient 0.6
    assert chi2_pair(a, planted).p_value < 1e-12
    assert math.isnan(chi2_pair(a, np.ones(400, bool)).p_value)


def test_independent_pairs_give_uniform_pvalues_and_dependent_ones_do_not():
    """Independent Bernoulli columns: the KS test must not reject (fixed seed; at level 1e-3 a false rejection has
    probability 1e-3). Columns that share a latent bit: every pair is dependent and the p-values pile up at 0."""
    rng = np.random.default_rng(1)
    g = rng.random((1000, 60)) < 0.5
    pairs = np.array([(i, i + 1) for i in range(0, 60, 2)])
    assert uniformity_ks(pair_pvalues(g, pairs)).p_value > 1e-3
    shared = rng.random((1000, 1)) < 0.5
    dep = np.where(rng.random((1000, 60)) < 0.3, shared, g)
    ks = uniformity_ks(pair_pvalues(dep, pairs))
    assert ks.p_value < 1e-6 and ks.n == 30


def test_activity_and_pearson_detect_planted_effects():
    rng = np.random.default_rng(2)
    assert activity_binom(rng.random((200, 50)) < 0.5).p_value > 1e-3
    assert activity_binom(rng.random((200, 50)) < 0.53).p_value < 1e-6  # 10^4 entries: 6 standard errors
    u = rng.standard_normal(500)
    assert pearson(u, u + rng.standard_normal(500)).statistic == pytest.approx(2**-0.5, abs=4 * 0.5 / 500**0.5)
    assert pearson(u, rng.standard_normal(500)).p_value > 1e-3


def test_approx21_iid_relu_networks():
    """iid weights: gate pairs independent, activity 1/2 exactly (KS, binomial: not rejected at 1e-3); the paper's
    pairing (W_l, D_l) correlated at 2/pi^{3/2} (leading order; SE (1 - r^2)/sqrt(N) = 0.03, 4 SE allowed), the
    Jacobian's pairing (W_l, D_{l-1}) uncorrelated (SE 1/sqrt(N))."""
    N = 800
    r = approx21(jacstab.NetSpec(64, 4), N, 2, pairs=30, seed0=1000)
    rows = {row["test"]: row for row in r.rows()}
    assert list(rows) == ["chi2_pair", "chi2_pvalues_ks", "activity_binom", "tw_td_pearson"]
    assert rows["chi2_pvalues_ks"]["p_value"] > 1e-3 and rows["activity_binom"]["p_value"] > 1e-3
    assert rows["activity_binom"]["n"] == N * 64 and rows["chi2_pair"]["df"] == 1
    rho = tw_td_same_correlation()
    assert abs(rows["tw_td_pearson"]["statistic"] - rho) < 4 * (1 - rho**2) / math.sqrt(N)
    assert abs(r.pearson("factor").statistic) < 4 / math.sqrt(N)
    assert r.joint.shape == (N, 3) and set(np.unique(r.joint)) <= {0.0, 1.0}


def test_approx21_detects_the_correlated_model_and_passes_bernoulli_gates():
    """eta = 1/8 at n = 64 shifts whole layers: gate pairs dependent (the KS rejects) and T_W tracks T_D in the
    paper's pairing; fixed Bernoulli gates are the null model: nothing rejects at 1e-3."""
    corr = approx21(jacstab.NetSpec(64, 6, eta=0.125), 400, 4, pairs=30)
    assert corr.tests()[1].p_value < 1e-6 and corr.pearson("same").statistic > 0.5
    null = approx21(jacstab.NetSpec(64, 6, gates="bernoulli", gate_p=0.3), 400, 4, pairs=30)
    t = {x.test: x for x in null.tests()}
    assert t["activity_binom"].statistic == pytest.approx(0.3, abs=4 * math.sqrt(0.21 / (400 * 64)))
    assert min(x.p_value for x in t.values()) > 1e-3


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(layer=4), "layer must be an integer [1, 3]"),
        (dict(networks=1), "networks must be an integer"),
        (dict(pairs=0), "pairs must be an integer"),
        (dict(pairing="both"), "pairing must be one of same, factor"),
        (dict(x=torch.ones(3)), "x must be a floating torch.Tensor of shape (8,)"),
    ],
)
def test_approx21_bad_input(kwargs, needle):
    with pytest.raises(ValueError) as e:
        approx21(jacstab.NetSpec(8, 4), **{"networks": 10, "layer": 2, **kwargs})
    assert needle in str(e.value)


def test_approx21_refuses_what_it_does_not_model():
    for spec in (jacstab.NetSpec(8, 4, activation="tanh"), jacstab.NetSpec(8, 4, prune="random", sparsity=0.5)):
        with pytest.raises(ValueError, match="unpruned ReLU"):
            approx21(spec, 10, 2)


# --- CLI ---------------------------------------------------------------------------------------------------------


def test_cli_approx21_rows_equal_the_library(capsys):
    code, out, err = run(capsys, "approx21", "-n", "16", "-L", "4", "-l", "2", "-N", "50", "-P", "5",
                         "--pairing", "factor", "--eta", "0.1", "--format", "json")  # fmt: skip
    assert code == 0, err
    ref = approx21(jacstab.NetSpec(16, 4, eta=0.1), 50, 2, pairs=5, pairing="factor").rows()
    assert json.loads(out) == json.loads(json.dumps(ref).replace("NaN", "null"))
    assert "pairing=same: Pearson r" in err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["-n", "16", "-L", "4", "-l", "9"], "layer must be an integer [1, 3]"),
        (["-n", "16", "-L", "4", "-l", "2", "--gate-p", "0.2"], "applies to gates='bernoulli' only"),
        (["-n", "16", "-L", "4", "--gates", "bern"], "did you mean 'bernoulli'"),
    ],
)
def test_cli_approx21_errors_are_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, "approx21", *argv)
    assert code == 2 and needle in one_line(err) and not out


def test_cli_network_commands_take_gates(capsys):
    code, out, err = run(capsys, "measure", "-n", "12", "-L", "3", "--gates", "bernoulli", "--gate-p", "0.7",
                         "--format", "json")  # fmt: skip
    assert code == 0, err
    curve = jacstab.depth_curve(jacstab.sample(jacstab.NetSpec(12, 3, gates="bernoulli", gate_p=0.7), 0))
    assert [r["log_norm"] for r in json.loads(out)] == curve.tolist()


# --- lab -----------------------------------------------------------------------------------------------------------


def test_approx21_metric_roundtrip_and_figures(tmp_path):
    """The stored layout decodes to exactly the library's numbers; the figures are written."""
    from jacstab.lab.metrics import Context, decode_approx21, get_metric
    from jacstab.lab.plots_approx import figures_for_approx21, test_rows

    spec = jacstab.NetSpec(16, 4, eta=0.1)
    params = {"networks": 40, "layer": 2, "pairs": 6}
    vals = get_metric("approx21").compute(jacstab.sample(spec, 3), params, Context())
    v = decode_approx21(vals, 40, 6)
    ref = approx21(spec, 40, 2, pairs=6, seed0=3 * 40)  # trial seed s covers networks s N .. s N + N - 1
    assert v["tests"]["chi2_pair"] == (ref.tests()[0].statistic, ref.tests()[0].p_value)
    assert v["tests"]["tw_td_pearson_factor"][0] == ref.pearson("factor").statistic
    assert np.array_equal(v["joint"], ref.joint) and np.array_equal(v["t_d_same"], ref.draw.t_d("same"))
    with pytest.raises(ValueError, match="expected"):
        decode_approx21(vals, 41, 6)
    paths = figures_for_approx21([(spec, v)], tmp_path, "t")
    assert all(p.stat().st_size > 5_000 for p in paths) and len(test_rows([(spec, v)])) == 5


def test_fig4_correlated_figure(tmp_path):
    """Paired depth curves with a dead seed (-inf) and eta = 0 as reference: the figure is written."""
    from jacstab.lab.plots_approx import fig4_correlated

    rng = np.random.default_rng(0)
    iid = rng.standard_normal((6, 5)).cumsum(1)
    eta = iid - 0.1 * np.arange(5)
    eta[0, 3:] = -np.inf
    path = fig4_correlated({0.0: iid, 2.0**-3: eta}, 32, tmp_path / "f.png", paths=50)
    assert path.stat().st_size > 10_000
