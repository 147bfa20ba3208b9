"""Correlated weights (realised vs target correlation) and the Theorem 3.1 certificate."""

import math

import pytest
import torch

import jacstab
from jacstab import NetSpec, sample
from jacstab.certificate import certify, law_quantities
from jacstab.correlation import realised_correlation
from jacstab.theory.certificate import eta_bound


@pytest.mark.parametrize("kind", ["row", "col", "ar1"])
@pytest.mark.parametrize("rho", [0.0, 0.2, 0.6])
def test_structured_correlation_is_realised(kind, rho):
    n, L = 64, 20
    net = sample(NetSpec(n, L, correlation=kind, rho=rho) if rho else NetSpec(n, L), 0)
    est = realised_correlation(net.weights, kind)
    # row/col: the shared component of each of the L*n groups is one draw, so the estimate's SE is about
    # sqrt(2/(L n)) * rho + 1/n; ar1: SE ~ 1/sqrt(L n^2). 5 SE.
    se = math.sqrt(2.0 / (L * n)) * rho + 1.0 / n if kind != "ar1" else 1.0 / math.sqrt(L * n * n)
    assert abs(est - rho) < 5 * se
    w = torch.stack(net.weights)
    # the marginal variance is kept at sigma2/n = 2/64 (relative SE sqrt(2/(L n^2)) / sqrt(1 - rho) ~ 0.1)
    assert abs(w.var().item() / (2.0 / n) - 1) < 0.15


def test_eta_model_correlation_and_variance():
    n, L, eta = 32, 400, 0.5
    net = sample(NetSpec(n, L, eta=eta), 0)
    est = realised_correlation(net.weights, "none")
    target = eta**2 / (1 + eta**2)  # = 0.2
    # one shared scalar per layer: the estimate averages L = 400 chi^2_1 draws, SE ~ target * sqrt(2/L) = 0.014
    assert abs(est - target) < 5 * target * math.sqrt(2 / L)


def test_eta_zero_is_the_iid_network():
    a, b = sample(NetSpec(16, 3), 5), sample(NetSpec(16, 3, eta=0.0), 5)
    assert all(torch.equal(x, y) for x, y in zip(a.weights, b.weights))


def test_law_certificate_values_are_the_closed_forms():
    # random pruning, no scaling: (ii) = 1/2 * sigma2 * (1 - s) - 1 = -0.5; with random scaling: 0
    assert law_quantities(NetSpec(100, 5, prune="random", sparsity=0.5))[1] == pytest.approx(-0.5)
    assert law_quantities(NetSpec(100, 5, prune="random", sparsity=0.5, scaling="random"))[1] == pytest.approx(0)
    assert law_quantities(NetSpec(100, 5, prune="magnitude", sparsity=0.9, scaling="exact"))[1] == pytest.approx(0)
    cert = certify(NetSpec(256, 20, prune="random", sparsity=0.9, scaling="random"))
    items = {i.name: i for i in cert.items}
    # (i) with beta = (1-s)^(-1/2): beta^2 log^4 n / n = 10 * log(256)^4 / 256
    assert items["(i)"].value == pytest.approx(10 * math.log(256) ** 4 / 256)
    assert items["sparsity edge"].value == pytest.approx(math.log(256) ** 4 / 256 / 0.1)
    assert "smallest" in cert.summary and items["(ii)"].value < 1e-12


def test_realised_certificate_approaches_the_law_at_large_width():
    spec = NetSpec(512, 3, prune="random", sparsity=0.5, scaling="random")
    cert = {i.name: i for i in certify(sample(spec, 0)).items}
    assert cert["(i)"].value == pytest.approx(2 * math.log(512) ** 4 / 512)  # beta = sqrt(2) exactly
    # (ii) realised: max over 1536 rows of |1/2 sum_k (bw)^2 - 1|, each with sd ~ sqrt(2 * 2/n) ~ 0.09; the max
    # of ~1500 such deviations is ~ 3.5 sd ~ 0.3 (and it tends to 0 like sqrt(log n / n)).
    assert cert["(ii)"].value < 0.45
    assert cert["(iii)"].value < 0.5  # n |mean of W| ~ n * sqrt(2/n)/n = O(1/sqrt(n)) * sqrt(2)


def test_eta_bound_and_correlation_item():
    n = 256
    eta = eta_bound(n)
    assert eta**2 / (1 + eta**2) == pytest.approx(n**-1.5 / math.log(n))
    item = {i.name: i for i in certify(NetSpec(n, 5, eta=eta)).items}["correlation (A'1)"]
    assert item.value == pytest.approx(1.0)


def test_certify_rejects_other_objects():
    with pytest.raises(TypeError, match="NetSpec or a Network"):
        certify(3)


def test_jacstab_exports_certify():
    assert jacstab.certify is certify


def test_sampled_certificate_reports_realised_structure():
    net = sample(NetSpec(128, 10, correlation="ar1", rho=0.4), 0)
    items = {i.name: i for i in certify(net).items}
    # lag-1 estimate over L n (n-1) pairs: SE ~ 1/sqrt(L n^2) ~ 0.0025; 5 SE
    assert abs(items["realised correlation"].value - 0.4) < 0.0125
    pruned = {i.name: i for i in certify(sample(NetSpec(128, 10, prune="random", sparsity=0.8), 0)).items}
    # Binomial over L n^2 = 163,840 weights: SE sqrt(0.16/163840) ~ 0.001; 5 SE
    assert abs(pruned["realised sparsity"].value - 0.8) < 0.005


def test_certificate_of_a_linear_net_predicts_no_drift_and_says_the_theorem_does_not_apply():
    # jacstab 0.1 said "expect ||J|| off by a factor ~ e^(-34.7)" for this stable net (measured log||J^(100)|| = 2.56)
    rows = {r["name"]: r for r in certify(NetSpec(256, 100, activation="linear", sigma2=1.0)).rows()}
    assert rows["(ii)"]["value"] == 0.0 and "e^(0)" in rows["(ii)"]["verdict"]
    assert rows["(ii)"]["formula"].startswith("max_i |1 sum_k") and "does not cover" in rows["(ii)"]["verdict"]
    # at sigma2 = 2 the linear net explodes: (ii) = E[phi'^2] sigma2 - 1 = 1, drift (L/2) log 2 = 34.7 over 100 layers
    rows = {r["name"]: r for r in certify(NetSpec(256, 100, activation="linear", sigma2=2.0)).rows()}
    assert rows["(ii)"]["value"] == 1.0 and "e^(34.7)" in rows["(ii)"]["verdict"]


def test_replaced_weights_are_recorded_and_certified_as_modified():
    net = sample(NetSpec(32, 4), 0)
    net3 = net.replace(weights=[3 * w for w in net.weights])
    assert net3.provenance.kind == "modified" and net3.provenance.parent is net
    assert net.to(dtype=torch.float32).provenance.kind == "sampled"  # a cast is the same network
    # realised (ii): 1/2 sum_k (3 w)^2 - 1 over the worst row, computed independently
    worst = max((0.5 * (9 * w * w).sum(1) - 1).abs().max().item() for w in net.weights)
    cert = certify(net3)
    assert {r["name"]: r for r in cert.rows()}["(ii)"]["value"] == pytest.approx(worst, rel=1e-12)
    assert cert.summary.startswith("weights replaced after sampling")
    with pytest.raises(ValueError, match="would drop what was done"):
        jacstab.depth_curve(net3, independent=True)
    with pytest.raises(ValueError, match=r"W_2 must be a floating tensor of shape \(32, 32\)"):
        net.replace(weights=[net.weights[0], torch.zeros(3, 3), *net.weights[2:]])


def test_a_sampled_pruned_net_is_a_draw_from_its_spec():
    net = sample(NetSpec(32, 4, prune="random", sparsity=0.5, scaling="random"), 0)
    assert net.provenance.kind == "sampled"
    assert not certify(net).summary.startswith("weights replaced")
    curve = jacstab.depth_curve(net, independent=True)  # allowed: the spec can redraw it
    assert curve.shape == (4,) and torch.isfinite(curve).all()
