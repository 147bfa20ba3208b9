"""Pruning masks, scaling rules and the torch.nn.utils.prune bridge."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import jacstab
from jacstab import NetSpec, sample
from jacstab.pruning import apply_masks, masks_from_torch_prune
from jacstab.theory.scaling import exact_magnitude_factor, tau_for_density


def _kept(net):
    return [(w != 0) for w in net.weights]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 40), s=st.floats(0.0, 0.95), seed=st.integers(0, 2**31), L=st.integers(1, 3))
def test_magnitude_keeps_exactly_round_density_n2(n, s, seed, L):
    net = sample(NetSpec(n, L, prune="magnitude", sparsity=s), seed)
    r = max(1, round((1 - s) * n * n))
    for w, m in zip(sample(NetSpec(n, L), seed).weights, _kept(net)):
        assert int(m.sum()) == r
        # the kept entries are the largest |w|: every kept |w| >= every removed |w|
        if r < n * n:
            assert w.abs()[m].min() >= w.abs()[~m].max()


@settings(max_examples=20, deadline=None)
@given(n=st.integers(8, 40), s=st.floats(0.0, 0.95), seed=st.integers(0, 2**31))
def test_random_mask_density_within_binomial_error(n, s, seed):
    L = 3
    kept = sum(int(m.sum()) for m in _kept(sample(NetSpec(n, L, prune="random", sparsity=s), seed)))
    N = L * n * n
    # Binomial(N, 1-s): 5 standard errors (+1 for the discreteness at tiny N s(1-s))
    assert abs(kept - N * (1 - s)) <= 5 * math.sqrt(N * s * (1 - s)) + 1


def test_global_magnitude_and_snip_keep_the_total():
    n, L, s = 30, 4, 0.8
    total = L * round((1 - s) * n * n)
    g = sample(NetSpec(n, L, prune="magnitude", sparsity=s, prune_scope="global"), 1)
    assert sum(int(m.sum()) for m in _kept(g)) == total
    sg = sample(NetSpec(n, L, prune="snip", sparsity=0.95, scaling="empirical", prune_scope="global"), 1)
    # exactly the requested total even though dead units give many tied (zero) SNIP scores
    assert sum(int((w != 0).sum()) for w in sg.weights) == L * round(0.05 * n * n)
    sn = sample(NetSpec(n, L, prune="snip", sparsity=s, scaling="empirical"), 1)
    assert all(int(m.sum()) == round((1 - s) * n * n) for m in _kept(sn))
    # SNIP ranks by |w dL/dw|, not |w|: the masks differ from magnitude pruning
    mg = sample(NetSpec(n, L, prune="magnitude", sparsity=s), 1)
    assert not all(torch.equal(a, b) for a, b in zip(_kept(sn), _kept(mg)))


def test_snip_with_user_batch():
    spec = NetSpec(16, 2, prune="snip", sparsity=0.5, in_dim=6, out_dim=3)
    x = torch.randn(10, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    a, b = sample(spec, 0, data=(x, y)), sample(spec, 0)
    assert not all(torch.equal(u != 0, v != 0) for u, v in zip(a.weights, b.weights))
    with pytest.raises(ValueError, match="data must be"):
        sample(spec, 0, data=(x[:, :4], y))
    with pytest.raises(ValueError, match="labels y must be"):
        sample(spec, 0, data=(x, y + 5))


def test_threshold_pruning_density_and_factors():
    n, t = 200, 0.12
    net = sample(NetSpec(n, 3, prune="magnitude-threshold", threshold=t, scaling="exact"), 0)
    density = math.erfc(t * math.sqrt(n / 4.0))  # P(|w| > t) for w ~ N(0, 2/n)
    kept = sum(int(m.sum()) for m in _kept(net))
    N = 3 * n * n
    assert abs(kept - N * density) <= 5 * math.sqrt(N * density * (1 - density))


def test_unscaled_random_pruning_is_exactly_rescaled():
    # exact identity: the same W and masks; scaling multiplies each of L layers by (1-s)^(-1/2) and ReLU masks
    # are scale invariant, so log||J_unscaled|| = log||J_scaled|| + (L/2) log(1-s) at every depth.
    s, L = 0.7, 12
    a = jacstab.depth_curve(sample(NetSpec(64, L, prune="random", sparsity=s), 3))
    b = jacstab.depth_curve(sample(NetSpec(64, L, prune="random", sparsity=s, scaling="random"), 3))
    d = torch.arange(1, L + 1, dtype=torch.float64)
    torch.testing.assert_close(a, b + 0.5 * d * math.log(1 - s), rtol=0, atol=1e-10)


def test_exact_scaling_restores_row_second_moment():
    # (1/2) sum_k (b w)^2 per row has mean 1 under the exact factor; over n*L = 1200 rows the mean's standard
    # error is sd/sqrt(1200) with sd (measured ~0.3 at n=400, s=0.9); 5 SE ~ 0.045.
    n, L, s = 400, 3, 0.9
    net = sample(NetSpec(n, L, prune="magnitude", sparsity=s, scaling="exact"), 0)
    rows = torch.cat([0.5 * (w * w).sum(1) for w in net.weights])
    assert abs(rows.mean().item() - 1.0) < 5 * rows.std().item() / math.sqrt(rows.numel())
    # and the factor itself is the closed form
    kept = net.weights[0] != 0
    raw = sample(NetSpec(n, L), 0).weights[0]
    c = (net.weights[0][kept] / raw[kept]).unique()
    assert torch.allclose(c, torch.tensor(exact_magnitude_factor(tau_for_density(1 - s)), dtype=torch.float64))


def test_empirical_scaling_restores_each_rows_realised_energy():
    net = sample(NetSpec(50, 2, prune="snip", sparsity=0.8, scaling="empirical"), 0)
    raw = sample(NetSpec(50, 2), 0)
    for w, r in zip(net.weights, raw.weights):
        alive = (w != 0).any(1)  # SNIP may empty whole rows (units with zero gradient): they stay zero
        assert alive.float().mean() > 0.5
        torch.testing.assert_close((w * w).sum(1)[alive], (r * r).sum(1)[alive], rtol=1e-12, atol=0)


def test_pruned_scaled_networks_stay_stable_and_unscaled_vanish():
    # 90% magnitude pruning, n = 256, L = 30: exact/empirical keep log||J|| within O(1) of the unpruned net,
    # while no scaling loses (L/2) log(1 + (ii)) ~ 30/2 * log(0.44) ~ -12 (law value of condition (ii)).
    L = 30
    ref = jacstab.depth_curve(sample(NetSpec(256, L), 0))[-1].item()
    for rule in ("exact", "empirical"):
        v = jacstab.depth_curve(sample(NetSpec(256, L, prune="magnitude", sparsity=0.9, scaling=rule), 0))[-1]
        assert abs(v.item() - ref) < 1.5
    none = jacstab.depth_curve(sample(NetSpec(256, L, prune="magnitude", sparsity=0.9), 0))[-1].item()
    assert none < ref - 8


def test_torch_prune_masks_are_taken_and_scaled():
    from torch.nn.utils import prune

    net = sample(NetSpec(32, 3), 0)
    layers = [torch.nn.Linear(32, 32, bias=False).double() for _ in range(3)]
    for lin, w in zip(layers, net.weights):
        with torch.no_grad():
            lin.weight.copy_(w)
        prune.l1_unstructured(lin, "weight", amount=0.75)
    masks = masks_from_torch_prune(layers)
    assert all(int(m.sum()) == 256 for m in masks)  # 25% of 1024
    pruned = apply_masks(net, masks, scaling="random")
    for lin, w in zip(layers, pruned.weights):
        torch.testing.assert_close(w, lin.weight.detach() * 2.0)  # (1 - 0.75)^(-1/2) = 2
    with pytest.raises(ValueError, match="no weight_mask"):
        masks_from_torch_prune([torch.nn.Linear(3, 3)])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prune": "random", "sparsity": 1.0}, "sparsity must be in \\[0, 1\\)"),
        ({"prune": "random", "sparsity": -0.1}, "sparsity must be"),
        ({"eta": -0.5}, "eta must be"),
        ({"prune": "magnitude-threshold"}, "needs threshold"),
        ({"prune": "magnitude-threshold", "threshold": -1.0}, "threshold must be"),
        ({"sparsity": 0.5}, "need a pruning method"),
        ({"prune": "random", "sparsity": 0.5, "scaling": "paper-magnitude"}, "applies to magnitude"),
        ({"prune": "snip", "sparsity": 0.5, "scaling": "exact"}, "use scaling='empirical'"),
        ({"prune": "magnitude", "keep": 0}, "keep must be"),
        ({"prune": "magnitude", "sparsity": 0.5, "keep": 3}, "either sparsity or keep"),
        ({"prune": "random", "sparsity": 0.5, "scaling": "exatc"}, "did you mean .exact."),
        ({"correlation": "row", "rho": 1.0}, "rho must be"),
        ({"init": "orthogonal", "eta": 0.1}, "need init='gaussian'"),
    ],
)
def test_bad_pruning_and_correlation_specs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NetSpec(8, 2, **kwargs)


def test_threshold_that_keeps_nothing_is_an_error():
    with pytest.raises(ValueError, match="keeps no weight of hidden matrix 1"):
        sample(NetSpec(8, 2, prune="magnitude-threshold", threshold=50.0), 0)


def test_externally_masked_net_is_certified_as_masked_not_as_the_unpruned_law():
    net = sample(NetSpec(64, 6), 0)
    gens = [torch.Generator().manual_seed(k) for k in range(6)]
    masks = [torch.rand(64, 64, generator=g) < 0.1 for g in gens]
    masked = apply_masks(net, masks, scaling="none")
    assert masked.provenance.kind == "masked" and masked.provenance.parent is net
    rows = {r["name"]: r for r in jacstab.certify(masked).rows()}
    # independent: realised sparsity is the fraction of zeros; condition (ii) the worst row of 1/2 sum_k w_ik^2 - 1
    zeros = sum(int((w == 0).sum()) for w in masked.weights) / (6 * 64 * 64)
    assert rows["realised sparsity"]["value"] == pytest.approx(zeros, abs=1e-15)
    per_row = torch.cat([0.5 * (w * w).sum(1) - 1 for w in masked.weights])
    assert rows["(ii)"]["value"] == pytest.approx(per_row.abs().max().item(), rel=1e-12)
    assert rows["(ii)"]["value"] > 0.7  # ~90% of each row's energy removed; the unpruned law would say ~0
    assert jacstab.certify(masked).summary.startswith("masked from outside")
    with pytest.raises(ValueError, match=r"would drop what was done to this network \(masked from outside"):
        jacstab.depth_curve(masked, independent=True)
