"""Networks with orthogonal Jacobians (paper 003): groupsort, the reflection block, the theory's statement and the
isometry measures, each against an exact identity or an independent jacrev/SVD computation."""

import json
import math

import pytest
import torch
from torch.func import jacrev

import jacstab
from conftest import reference_jacobian
from jacstab import NetSpec, sample
from jacstab.nets.activations import groupsort, groupsort_perm

ORTHO = {
    "groupsort": dict(activation="groupsort"),
    "reflection": dict(activation="relu", block="reflection"),
    "abs": dict(activation="abs"),
}


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# --- the identities ------------------------------------------------------------------------------------------------


@pytest.fixture
def one_thread():
    """64 x 64 products gain nothing from threads, and threads spin when other jobs share the cores."""
    from jacstab.lab.trials import fixed_threads

    with fixed_threads(1):
        yield


@pytest.mark.parametrize("kind", sorted(ORTHO))
def test_all_singular_values_are_one_at_depth_1000(kind, one_thread):
    spec = NetSpec(width=64, depth=1000, init="orthogonal", sigma2=1.0, **ORTHO[kind])
    net = sample(spec, 0)
    # J is a product of 1000 orthogonal factors: each carries rounding ~ sqrt(n) eps ~ 2e-15 in its singular values,
    # accumulating at most linearly (1000 * 2e-15 = 2e-12, a random walk ~ 6e-14); 1e-12 is the bound and
    # the measured error is ~1e-13.
    s = jacstab.singular_values(net)
    assert s.shape == (64,) and torch.max(torch.abs(s - 1)).item() < 1e-12
    logs = jacstab.log_singular_values(net)  # the QR chain: every log sigma_i resolved independently
    assert torch.max(torch.abs(logs)).item() < 1e-12
    assert torch.max(torch.abs(jacstab.depth_curve(net))).item() < 1e-12
    assert torch.max(torch.abs(jacstab.lyapunov_exponents(net, k=8))).item() < 1e-14  # (1/L) sum log|R_ii|
    # and the engine knows it without measuring
    p = jacstab.theory.predict(spec)
    assert p.isometry.startswith("exact") and p.growth_per_layer == 0.0 and not p.log_norm.any()
    assert "orthogonal Jacobian" in p.describe()
    row = {r["quantity"]: r for r in p.rows()}["all_singular_values_1"]
    assert row["value"] == 1.0
    cert = jacstab.certify(spec)
    assert "Orthogonal Jacobian (exact" in cert.summary


@pytest.mark.parametrize(
    "kw",
    [dict(activation="groupsort", init="gaussian", sigma2=1.0), dict(activation="relu", init="orthogonal", sigma2=1.0),
     dict(activation="groupsort", init="orthogonal", sigma2=2.0), dict(block="reflection", sigma2=1.0),
     dict(activation="abs", init="orthogonal", sigma2=1.0, prune="random", sparsity=0.5)],
)
def test_the_theory_claims_no_isometry_outside_the_exact_cases(kw):
    spec = NetSpec(32, 10, **kw)
    p = jacstab.theory.predict(spec)
    assert p.isometry == ""
    row = {r["quantity"]: r for r in p.rows()}["all_singular_values_1"]
    assert row["value"] is None and row["note"].startswith("no prediction")
    net = sample(spec, 1)
    # and measurement agrees that these are not isometries (defect well away from 0)
    assert jacstab.isometry_defect(net).defect > 0.1


def test_reflection_block_without_orthogonal_weights_has_no_prediction():
    p = jacstab.theory.predict(NetSpec(32, 10, block="reflection", sigma2=2.0))
    assert math.isnan(p.growth_per_layer) and p.log_norm is None
    assert p.growth_reason.startswith("no prediction") and p.edge_reason.startswith("no prediction")
    assert not p.theorem_applies and math.isnan(p.condition_ii)


def test_groupsort_gate_is_the_jacobian_of_groupsort_including_ties():
    y = torch.randn(10, dtype=torch.float64, generator=_gen(0))
    y[2:4] = 0.7  # a tie: the derivative is the identity on that pair (torch.where(a >= b, ...))
    want = jacrev(groupsort)(y)
    perm = groupsort_perm(y)
    eye = torch.eye(10, dtype=torch.float64)
    torch.testing.assert_close(eye[:, perm], want, rtol=0, atol=0)  # exact: entries are 0/1
    assert torch.equal(groupsort(y[None, :])[0], groupsort(y))  # batched == unbatched
    out = groupsort(y)
    assert bool((out[0::2] >= out[1::2]).all())  # (max, min) per pair
    torch.testing.assert_close(torch.sort(out).values, torch.sort(y).values, rtol=0, atol=0)  # a permutation


def test_groupsort_factor_and_residual_factor_match_jacrev():
    # Gaussian weights (not orthogonal), so the check is not an identity; rounding only: 1e-13
    net = sample(NetSpec(12, 3, activation="groupsort", sigma2=1.7), 4)
    y = torch.randn(12, dtype=torch.float64, generator=_gen(1))
    layer = net.layers[0]
    torch.testing.assert_close(layer.factor(layer.gate(y), None), jacrev(layer.forward)(y), rtol=0, atol=1e-13)
    res = sample(NetSpec(12, 3, activation="groupsort", residual=0.6), 4).layers[0]
    torch.testing.assert_close(res.factor(res.gate(y), None), jacrev(res.forward)(y), rtol=0, atol=1e-13)


@pytest.mark.parametrize("sigma2", [1.0, 2.0])
def test_reflection_block_jacobian_vs_jacrev_and_its_singular_values(sigma2):
    spec = NetSpec(16, 4, block="reflection", init="orthogonal", sigma2=sigma2)
    net = sample(spec, 2)
    y = torch.randn(16, dtype=torch.float64, generator=_gen(3))
    layer = net.layers[0]
    g = layer.gate(y)
    fac = layer.factor(g, None)
    torch.testing.assert_close(fac, jacrev(layer.forward)(y), rtol=0, atol=1e-13)
    # closed form: I - 2 g^2 P with P a rank-|a| orthogonal projection -> singular values |1 - 2 g^2| (|a| times)
    # and 1 (n - |a| times); sorted, to SVD rounding 1e-13
    want = torch.tensor([abs(1 - 2 * sigma2)] * g.size + [1.0] * (16 - g.size), dtype=torch.float64)
    got = torch.linalg.svdvals(fac)
    torch.testing.assert_close(torch.sort(got).values, torch.sort(want).values, rtol=0, atol=1e-13)
    # the engine's whole-network paths against jacrev of the plain forward (RTOL of conftest: 1e-8 relative)
    ref = torch.linalg.svdvals(reference_jacobian(net))
    for method in ("dense", "lanczos", "jvp"):
        k = None if method == "dense" else 3
        s = jacstab.singular_values(net, k=k, method=method)
        assert torch.max(torch.abs(s - ref[: s.numel()])).item() <= 1e-8 * ref[0].item(), method
    lam = jacstab.log_singular_values(net)
    torch.testing.assert_close(lam, torch.log(ref), rtol=0, atol=1e-10)


def test_block_field_keeps_old_hashes_and_is_validated():
    plain = NetSpec(64, 10)
    assert NetSpec(64, 10, block="dense").hash() == plain.hash() and "block" not in plain.canonical_json()
    refl = NetSpec(64, 10, block="reflection")
    assert '"block":"reflection"' in refl.canonical_json() and refl.hash() != plain.hash()
    assert NetSpec.from_dict(refl.to_dict()).hash() == refl.hash()
    with pytest.raises(ValueError, match="block must be one of dense, reflection; got 'reflect'"):
        NetSpec(8, 2, block="reflect")
    with pytest.raises(ValueError, match="needs activation='relu'"):
        NetSpec(8, 2, block="reflection", activation="tanh")
    with pytest.raises(ValueError, match="residual=0"):
        NetSpec(8, 2, block="reflection", residual=0.5)
    with pytest.raises(ValueError, match="width must be even, got 7"):
        NetSpec(7, 2, activation="groupsort")


# --- isometry_defect ---------------------------------------------------------------------------------------------


def _defect_by_hand(j):
    """||J^T J - I||_F / sqrt(n) straight from the matrix (independent of the engine)."""
    n = j.shape[1]
    return (torch.linalg.matrix_norm(j.T @ j - torch.eye(n, dtype=j.dtype)) / math.sqrt(n)).item()


@pytest.mark.parametrize("kind", sorted(ORTHO))
def test_defect_is_zero_on_orthogonal_jacobian_nets(kind, one_thread):
    net = sample(NetSpec(32, 200, init="orthogonal", sigma2=1.0, **ORTHO[kind]), 5)
    r = jacstab.isometry_defect(net)
    # 200 orthogonal factors: rounding ~ 200 * sqrt(n) eps ~ 3e-13 at most
    assert r.method == "exact" and r.defect < 1e-12 and r.isometric_dim == 32 and r.log_sv_range < 1e-12
    h = jacstab.isometry_defect(net, method="hutchinson", probes=4)
    assert h.method == "hutchinson" and h.defect < 1e-12 and h.isometric_dim is None


@pytest.mark.parametrize("act", ["relu", "tanh", "groupsort"])
def test_exact_defect_and_spread_equal_the_dense_formula(act):
    net = sample(NetSpec(16, 5, activation=act, sigma2=1.5), 6)
    j = reference_jacobian(net)
    r = jacstab.isometry_defect(net)
    assert r.defect > 0.1
    assert abs(r.defect - _defect_by_hand(j)) <= 1e-10 * _defect_by_hand(j)  # QR-chain logs: ~1e-13 relative
    s = torch.linalg.svdvals(j)
    if act == "relu":  # singular J (inactive units): the spread of log sigma is infinite, said so
        assert r.log_sv_std == math.inf and r.log_sv_range == math.inf
    else:
        # the reference SVD resolves sigma_i only to eps * sigma_1 absolutely: log sigma_min (~ -18 here) carries
        # ~ eps sigma_1 / sigma_min ~ 2e-16 e^18 ~ 2e-8 error; 1e-6 leaves margin
        ls = torch.log(s)
        assert abs(r.log_sv_std - ls.std(unbiased=False).item()) < 1e-6
        assert abs(r.log_sv_range - (ls.max() - ls.min()).item()) < 1e-6


@pytest.mark.parametrize("obj", ["net", "callable"])
def test_hutchinson_agrees_with_exact_within_its_standard_error(obj):
    if obj == "net":
        net = sample(NetSpec(48, 4, sigma2=1.2), 7)
        args = (net,)
    else:
        torch.manual_seed(0)  # module construction only; the estimator's probes use their own generator
        f = torch.nn.Sequential(torch.nn.Linear(40, 30), torch.nn.Tanh(), torch.nn.Linear(30, 40)).double()
        args = (f, torch.randn(40, dtype=torch.float64, generator=_gen(8)))
    exact = jacstab.isometry_defect(*args, method="exact")
    if obj == "callable":  # independent reference for the callable path
        j = jacrev(args[0])(args[1]).detach()
        assert abs(exact.defect - _defect_by_hand(j)) <= 1e-10 * exact.defect
    est = jacstab.isometry_defect(*args, method="hutchinson", probes=64, seed=3)
    # Monte Carlo: |estimate - truth| <= 4 standard errors (a 4-sigma band; the seed is fixed, so this is
    # deterministic, and the stderr is the estimator's own, not tuned)
    assert est.stderr > 0 and abs(est.defect - exact.defect) <= 4 * est.stderr
    assert est.probes == 64 and est.n == exact.n


def test_partial_isometry_relu_orthogonal_layer_has_singular_values_zero_or_one():
    # J = W D with W orthogonal and D a 0/1 diagonal: a partial isometry; its isometric dimension is |a_0| exactly
    net = sample(NetSpec(32, 1, init="orthogonal", sigma2=1.0), 9)
    a0 = jacstab.masks(net)[0].size
    s = torch.linalg.svdvals(reference_jacobian(net))
    assert torch.all(((s - 1).abs() < 1e-13) | (s < 1e-13))  # SVD rounding of an exact 0/1 spectrum
    r = jacstab.isometry_defect(net)
    assert r.isometric_dim == a0 and 0 < a0 < 32
    # defect^2 = (n - |a_0|)/n exactly (each zero singular value contributes (0 - 1)^2 = 1)
    assert abs(r.defect - math.sqrt((32 - a0) / 32)) < 1e-13


def test_zero_jacobian_has_defect_one_on_both_paths():
    net = sample(NetSpec(16, 3), 0)
    net = net.replace(weights=[-w.abs() for w in net.weights])  # Y_1 <= 0: D_1 = 0, so J^(2) = J^(3) = 0
    for method in ("exact", "hutchinson"):
        assert jacstab.isometry_defect(net, method=method).defect == 1.0


def test_isometry_defect_bad_input():
    net = sample(NetSpec(8, 2), 0)
    with pytest.raises(ValueError, match="method must be one of auto, exact, hutchinson"):
        jacstab.isometry_defect(net, method="dense")
    with pytest.raises(ValueError, match="probes must be an integer"):
        jacstab.isometry_defect(net, probes=1)
    with pytest.raises(ValueError, match="depth applies to a jacstab Network only"):
        jacstab.isometry_defect(torch.tanh, torch.ones(3, dtype=torch.float64), depth=2)
    with pytest.raises(ValueError, match="x is required"):
        jacstab.isometry_defect(torch.tanh)
    with pytest.raises(ValueError, match="depth must be an integer in"):
        jacstab.isometry_defect(net, depth=3)


def test_cli_isometry_rows_equal_the_library(capsys):
    from jacstab.cli import main

    argv = ["isometry", "-n", "16", "-L", "6", "--activation", "groupsort", "--init", "orthogonal", "--sigma2", "1",
            "--every", "4", "--format", "json"]
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, _ = capsys.readouterr()
    rows = json.loads(out)
    assert e.value.code == 0 and [r["depth"] for r in rows] == [4, 6]
    net = sample(NetSpec(16, 6, activation="groupsort", init="orthogonal", sigma2=1.0), 0)
    assert rows[1]["defect"] == jacstab.isometry_defect(net).defect and rows[1]["isometric_dim"] == 16
    for bad, needle in ((["--probes", "1"], "--probes must be >= 2"), (["--every", "9"], "--every must be in")):
        with pytest.raises(SystemExit) as e:
            main(["isometry", "-n", "8", "-L", "6", *bad])
        _, err = capsys.readouterr()
        assert e.value.code == 2 and needle in err and len(err.strip().splitlines()) <= 2


# --- partial isometries ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["relu", "half_relu"])
def test_isometric_dimension_is_n_minus_the_inactive_units_at_every_depth(act):
    from jacstab.theory.isometry import isometric_dimension

    net = sample(NetSpec(48, 5, activation=act, init="orthogonal", sigma2=1.0), 3)
    z = [48 - g.size for g in jacstab.masks(net)]
    for d in range(1, 6):
        # exact almost surely (generic position of the pulled-back gate ranges under Haar weights); tol 1e-8 separates
        # the exact 1s (rounding ~1e-15) from the rest (at most 1 - O(1/n^2) ~ 0.99 here)
        r = jacstab.isometry_defect(net, depth=d, tol=1e-8)
        assert r.isometric_dim == isometric_dimension(48, z[:d]), (act, d)
    s = torch.linalg.svdvals(reference_jacobian(net, 1))  # depth 1: W D_0, a partial isometry
    ones = int(((s - 1).abs() < 1e-12).sum())
    assert ones == 48 - z[0] and int((s < 1e-12).sum()) == z[0]  # spectrum exactly {0, 1}


def test_isometric_fraction_over_seeds_matches_theory():
    from jacstab.theory.isometry import isometric_fraction

    spec = NetSpec(64, 2, activation="half_relu", init="orthogonal", sigma2=1.0)
    fr = torch.tensor([jacstab.isometry_defect(sample(spec, s), tol=1e-8).isometric_dim / 64 for s in range(12)],
                      dtype=torch.float64)
    want = isometric_fraction("half_relu", 2)  # 1 - 2/4
    # sum of two Binomial(32, 1/2) inactive counts: sd 4 units = 0.0625 of n; over 12 seeds se = 0.018; 4 se = 0.072
    # (plus O(1/n) from the first gate's input law, inside the band)
    assert want == 0.5 and abs(float(fr.mean()) - want) <= 0.072
    assert isometric_fraction("groupsort", 10) == 1.0 and isometric_fraction("tanh", 1) is None
    assert isometric_fraction("relu", 3) == 0.0


def test_half_relu_theory_constants_match_sampling():
    from jacstab.theory import gaussian_constants

    c = gaussian_constants("half_relu")
    y = torch.randn(200_000, dtype=torch.float64, generator=_gen(11))
    d = jacstab.nets.activations.get_activation("half_relu").dphi(y)
    # Bernoulli fraction: sd sqrt(0.25 * 0.75 / 1e5) ~ 1.4e-3 over the 1e5 even units; 5e-3 is > 3 sd
    assert c.mean_dphi2 == 0.75 and abs(float((d**2).mean()) - 0.75) < 5e-3
    p = jacstab.theory.predict(NetSpec(64, 3, activation="half_relu", init="orthogonal", sigma2=1.0))
    assert p.isometry == "" and p.log_norm is not None and "Bernoulli(3/4)" in p.kind


def test_auto_switches_to_hutchinson_above_the_threshold(monkeypatch):
    import jacstab.engine.isometry as iso

    monkeypatch.setattr(iso, "ISOMETRY_EXACT_MAX", 16)  # the resolver's threshold (1024), lowered to keep this fast
    net = sample(NetSpec(24, 3, sigma2=1.3), 2)
    auto, exact = jacstab.isometry_defect(net, probes=64), jacstab.isometry_defect(net, method="exact")
    assert auto.method == "hutchinson" and exact.method == "exact"
    assert abs(auto.defect - exact.defect) <= 4 * auto.stderr  # 4 standard errors (fixed seed: deterministic)
    f = torch.nn.Sequential(torch.nn.Linear(20, 20), torch.nn.Tanh()).double()
    x = torch.randn(20, dtype=torch.float64, generator=_gen(5))
    assert jacstab.isometry_defect(f, x).method == "hutchinson"
    assert jacstab.isometry_defect(f, x, method="exact").method == "exact"


def test_callable_with_an_infinite_jacobian_is_a_clear_error():
    with pytest.raises(ValueError, match="Jacobian of the callable at x has nan or inf"):
        jacstab.isometry_defect(torch.sqrt, torch.zeros(3, dtype=torch.float64))  # d sqrt(x)/dx = inf at 0


def test_cli_theory_predict_takes_the_block_field(capsys):
    from jacstab.cli import main

    def run(argv):
        with pytest.raises(SystemExit) as e:
            main(["theory", *argv])
        out, err = capsys.readouterr()
        return e.value.code, out, err

    argv = ["predict", "-n", "64", "-L", "1000", "--init", "orthogonal", "--sigma2", "1", "--format", "json"]
    code, out, _ = run([*argv, "--block", "reflection"])
    rows = {r["quantity"]: r for r in json.loads(out)}
    spec = NetSpec(64, 1000, init="orthogonal", sigma2=1.0, block="reflection")
    assert code == 0 and list(rows.values()) == json.loads(json.dumps(jacstab.theory.predict(spec).rows()))
    assert rows["all_singular_values_1"]["value"] == 1.0
    assert rows["all_singular_values_1"]["note"].startswith("exact: every factor I - 2 W^T D W is a reflection")
    code, out, _ = run(argv)  # default dense relu: not orthogonal, no isometry claim
    assert code == 0 and {r["quantity"]: r for r in json.loads(out)}["all_singular_values_1"]["value"] is None
    code, out, err = run(["edge", "--block", "reflection"])
    assert code == 2 and out == "" and "--block applies to `theory predict` only" in err
