"""GraSP and SynFlow against direct autograd, schedules, realised densities, ablations, approximate isometry, the
real-data scoring batch and the new spec fields (issue 15)."""

import math

import pytest
import torch

from jacstab import NetSpec, sample
from jacstab.lab.trials import MetricCall, Trial
from jacstab.pruning import (
    approx_isometry,
    grasp_scores,
    isometry_defect,
    keep_keys,
    round_densities,
    synflow_scores,
    top_masks,
)
from jacstab.training import class_balanced_batch, load_dataset, pruning_batch

# float64 identities (autograd vs torch.func / closed form, same arithmetic up to summation order): the values are
# O(1e-3..1), rounding ~1e-15 relative per operation over ~100 operations -> 1e-10 relative leaves a wide margin.
EXACT = 1e-10


def _batch(spec, m=12, seed=3):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(m, spec.input_dim, generator=g, dtype=torch.float64),
            torch.randint(spec.out_dim, (m,), generator=g))


def _flat_loss(net, x, y, shapes):
    def f(theta):
        ws, i = [], 0
        for s in shapes:
            ws.append(theta[i:i + s[0] * s[1]].view(s))
            i += s[0] * s[1]
        return torch.nn.functional.cross_entropy(net.replace(weights=ws)(x), y)
    return f


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_grasp_scores_equal_minus_w_times_dense_hessian_times_gradient(activation):
    spec = NetSpec(5, 3, activation=activation, in_dim=4, out_dim=3)
    net = sample(spec, 1)
    x, y = _batch(spec)
    shapes = [tuple(w.shape) for w in net.weights]
    theta = torch.cat([w.flatten() for w in net.weights])
    f = _flat_loss(net, x, y, shapes)
    g = torch.func.grad(f)(theta)
    h = torch.autograd.functional.hessian(f, theta)  # dense 75 x 75 Hessian, double backward
    ref = -theta * (h @ g)
    got = torch.cat([s.flatten() for s in grasp_scores(net, x, y)])
    assert float(h.abs().max()) > 0 and float(ref.abs().max()) > 1e-8  # a non-trivial reference
    torch.testing.assert_close(got, ref, rtol=EXACT, atol=EXACT * float(ref.abs().max()))


def test_synflow_scores_equal_autograd_of_the_linearised_abs_network():
    spec = NetSpec(6, 4, in_dim=5, out_dim=3)
    net = sample(spec, 2)
    ws = [w.abs().clone().requires_grad_(True) for w in net.weights]
    v = net.w_in.abs() @ torch.ones(spec.input_dim, dtype=torch.float64)
    for w in ws:
        v = w @ v  # non-negative: no activation (SynFlow linearises the network)
    r = (net.w_out.abs() @ v).sum()
    grads = torch.autograd.grad(r, ws)
    ref = [w.detach() * gr for w, gr in zip(ws, grads)]
    top = max(float(t.max()) for t in ref)
    for got, want in zip(synflow_scores(net), ref):
        torch.testing.assert_close(got, want / top, rtol=EXACT, atol=1e-14)
    # Tanaka et al. 2020, Theorem 1 (conservation): every layer's scores sum to R (here: divided by the top score)
    sums = [float(s.sum()) for s in synflow_scores(net)]
    assert max(sums) - min(sums) <= EXACT * max(sums)
    assert math.isclose(sums[0] * top, float(r.detach()), rel_tol=EXACT)


def test_synflow_is_data_free_and_sees_only_absolute_weights():
    spec = NetSpec(16, 4, prune="synflow", sparsity=0.8, prune_rounds=5)
    plain = sample(spec, 0)
    for data in (_batch(spec, 8, 1), _batch(spec, 30, 2)):
        assert all(torch.equal(a, b) for a, b in zip(sample(spec, 0, data=data).weights, plain.weights))
    parent = sample(spec.unpruned(), 0)
    flipped = parent.replace(weights=[-w for w in parent.weights], w_in=-parent.w_in, w_out=-parent.w_out)
    for a, b in zip(synflow_scores(parent), synflow_scores(flipped)):
        assert torch.equal(a, b)


def test_synflow_log_domain_at_depth_where_the_plain_product_overflows():
    net = sample(NetSpec(64, 400), 0)  # R ~ (sqrt(n) E|N| sqrt 2)^L ~ 9^400 = 1e380 > float64 max
    keys = keep_keys("synflow", net)
    assert all(bool(torch.isfinite(k).all()) for k in keys)
    assert max(float(k.max()) for k in keys) > 700  # log scores beyond exp's float64 range, still ranked


@pytest.mark.parametrize("schedule", ["exponential", "linear"])
def test_round_densities_follow_the_schedule(schedule):
    d = round_densities(0.01, 4, schedule)
    want = [0.01 ** (r / 4) for r in range(1, 5)] if schedule == "exponential" else [1 - 0.99 * r / 4 for r in
                                                                                       range(1, 5)]
    assert d == pytest.approx(want, rel=1e-15)
    assert d[-1] == pytest.approx(0.01, rel=1e-15)


@pytest.mark.parametrize("prune", ["magnitude", "snip", "grasp", "synflow"])
@pytest.mark.parametrize("scope", ["layer", "global"])
@pytest.mark.parametrize("rounds", [1, 3])
def test_realised_densities_equal_the_requested_ones(prune, scope, rounds):
    n, L, s = 12, 3, 0.9
    net = sample(NetSpec(n, L, prune=prune, sparsity=s, prune_scope=scope, prune_rounds=rounds), 0)
    counts = [int((w != 0).sum()) for w in net.weights]
    want = round((1 - s) * n * n)
    if scope == "layer":
        assert counts == [want] * L
    else:
        assert sum(counts) == want * L


def test_iterative_magnitude_equals_one_shot_magnitude():
    # |w| does not change when other weights are removed, so every round keeps a superset of the final top set
    one = sample(NetSpec(16, 3, prune="magnitude", sparsity=0.95), 0)
    many = sample(NetSpec(16, 3, prune="magnitude", sparsity=0.95, prune_rounds=7, prune_schedule="linear"), 0)
    assert all(torch.equal(a, b) for a, b in zip(one.weights, many.weights))


def test_iterative_synflow_differs_from_one_shot_and_keeps_the_count():
    one = sample(NetSpec(16, 6, prune="synflow", sparsity=0.97, prune_rounds=1), 0)
    many = sample(NetSpec(16, 6, prune="synflow", sparsity=0.97), 0)  # 100 rounds
    assert [int((w != 0).sum()) for w in many.weights] == [int((w != 0).sum()) for w in one.weights]
    assert any(not torch.equal(a != 0, b != 0) for a, b in zip(one.weights, many.weights))


def _pair(prune, ablation, **kw):
    base = dict(prune=prune, sparsity=0.8, **kw)
    return sample(NetSpec(16, 3, **base), 5), sample(NetSpec(16, 3, prune_ablation=ablation, **base), 5)


@pytest.mark.parametrize("prune", ["magnitude", "snip", "synflow", "magnitude-threshold"])
def test_shuffle_keeps_each_layers_count_and_the_parent_weights(prune):
    kw = {"threshold": 0.3, "sparsity": 0.0} if prune == "magnitude-threshold" else {}
    spec = NetSpec(16, 3, prune=prune, **({"sparsity": 0.8} | kw))
    plain, shuf = sample(spec, 5), sample(spec.replace(prune_ablation="shuffle"), 5)
    parent = sample(spec.unpruned(), 5)
    for a, b, w in zip(plain.weights, shuf.weights, parent.weights):
        assert int((a != 0).sum()) == int((b != 0).sum())
        assert not torch.equal(a != 0, b != 0)
        assert torch.equal(b[b != 0], w[b != 0])  # kept weights are the parent's, unscaled
    assert torch.equal(plain.w_in, shuf.w_in) and torch.equal(plain.w_out, shuf.w_out)


def test_invert_keeps_the_lowest_scores():
    spec = NetSpec(16, 3, prune="magnitude", sparsity=0.8, prune_ablation="invert")
    net, parent = sample(spec, 5), sample(spec.unpruned(), 5)
    want = top_masks([-w.abs() for w in parent.weights], round(0.2 * 256), "layer")
    assert all(torch.equal(w != 0, m) for w, m in zip(net.weights, want))
    plain = sample(spec.replace(prune_ablation="none"), 5)
    for a, b in zip(plain.weights, net.weights):
        assert float(a.abs()[a != 0].min()) >= float(b.abs().max())  # kept sets separated by |w|


def test_reinit_keeps_the_mask_and_redraws_the_kept_weights_from_the_law():
    n, L = 64, 4
    spec = NetSpec(n, L, prune="snip", sparsity=0.5)
    plain, re = sample(spec, 5), sample(spec.replace(prune_ablation="reinit"), 5)
    kept = []
    for a, b in zip(plain.weights, re.weights):
        assert torch.equal(a != 0, b != 0)
        assert not torch.equal(a, b)
        kept.append(b[b != 0])
    assert torch.equal(plain.w_in, re.w_in) and torch.equal(plain.w_out, re.w_out)
    v = torch.cat(kept) * math.sqrt(n / 2.0)  # N(0, 1) if re-drawn from N(0, sigma2/n); SNIP kept |w| would be larger
    m = v.numel()
    # sample variance of m N(0,1) draws: standard error sqrt(2/m) ~ 0.0125; 5 standard errors
    assert abs(float(v.var()) - 1.0) < 5 * math.sqrt(2 / m)
    big = torch.cat([a[a != 0] for a in plain.weights]) * math.sqrt(n / 2.0)
    assert float(big.var()) > 1.0 + 10 * math.sqrt(2 / m)  # the ablation changed something SNIP had selected


def test_approx_isometry_lowers_the_defect_and_keeps_the_mask():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(48, 48, generator=g, dtype=torch.float64) / math.sqrt(48)
    mask = torch.rand(48, 48, generator=g, dtype=torch.float64) < 0.3
    v0 = w * mask / float(mask.double().mean()) ** 0.5
    v = approx_isometry(w, mask, 1.0)
    assert torch.equal(v[~mask], torch.zeros_like(v[~mask]))
    # measured: 7.39 -> 0.455 at 300 steps (0.104 at 600); a 4x reduction leaves margin, fails if the descent breaks
    assert isometry_defect(v) < 0.25 * isometry_defect(v0)
    assert isometry_defect(approx_isometry(w, mask, 1.0, steps=600)) < isometry_defect(v)  # still descending
    assert torch.equal(v, approx_isometry(w, mask, 1.0))  # deterministic


def test_approx_isometry_scaling_in_a_network_keeps_the_masks_of_every_criterion():
    for prune in ("random", "magnitude", "snip", "grasp", "synflow"):
        spec = NetSpec(16, 3, sigma2=1.0, prune=prune, sparsity=0.5, scaling="approx-isometry", prune_rounds=2
                       if prune != "random" else None)
        iso, plain = sample(spec, 0), sample(spec.replace(scaling="none"), 0)
        for a, b in zip(iso.weights, plain.weights):
            assert torch.equal(a != 0, b != 0)
            assert isometry_defect(a) < isometry_defect(b / 0.5**0.5)


def test_compression_is_stored_as_sparsity():
    a = NetSpec(32, 2, prune="magnitude", compression=2)
    b = NetSpec(32, 2, prune="magnitude", sparsity=0.99)
    assert a == b and a.hash() == b.hash() and a.compression is None
    assert a.pruning.compression == pytest.approx(2.0, rel=1e-12)
    with pytest.raises(ValueError, match="either compression"):
        NetSpec(32, 2, prune="magnitude", sparsity=0.5, compression=1)
    with pytest.raises(ValueError, match="compression"):
        NetSpec(32, 2, prune="magnitude", compression=-1)


def test_batch_fields_of_criteria_that_read_no_batch_are_stored_at_defaults():
    a = NetSpec(32, 2, prune="magnitude", sparsity=0.5, prune_data="mnist", prune_batch=10, prune_batch_seed=3)
    assert a == NetSpec(32, 2, prune="magnitude", sparsity=0.5) and a.prune_data == "synthetic"
    with pytest.raises(ValueError, match="prune_data must be one of"):
        NetSpec(32, 2, prune="magnitude", sparsity=0.5, prune_data="cifar")


def test_new_fields_enter_the_canonical_form_only_when_set():
    base = NetSpec(32, 2, prune="snip", sparsity=0.5)
    assert "prune_batch" not in base.to_dict() and "prune_data" not in base.to_dict()
    assert base.replace(prune_batch=100).to_dict()["prune_batch"] == 100
    assert base.replace(prune_batch=100).hash() != base.hash()
    assert NetSpec(32, 2, prune="synflow", sparsity=0.5).pruning.n_rounds == 100


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"prune": "random", "sparsity": 0.5, "prune_rounds": 2}, "prune_rounds > 1"),
    ({"prune": "random", "sparsity": 0.5, "prune_ablation": "invert"}, "needs scores"),
    ({"prune": "random", "sparsity": 0.5, "prune_ablation": "shuffle"}, "is a random mask"),
    ({"prune": "grasp", "sparsity": 0.5, "scaling": "exact"}, "known weight law"),
    ({"prune": "magnitude", "sparsity": 0.5, "scaling": "exact", "prune_ablation": "reinit"}, "changes the kept"),
    ({"prune": "snip", "sparsity": 0.5, "prune_schedule": "cubic"}, "prune_schedule must be one of"),
    ({"prune_ablation": "shuffle"}, "need a pruning method"),
])
def test_bad_practice_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NetSpec(8, 2, **kwargs)


def test_class_balanced_batch_and_the_dataset_scoring_path(toy):
    ds = load_dataset("idx", toy)
    x, y = class_balanced_batch(ds, 23, seed=4)
    assert torch.bincount(y, minlength=10).tolist() == [3, 3, 3] + [2] * 7  # 23 = 10 * 2 + 3
    rows = {tuple(r.tolist()) for r in ds.x_train.double()}
    assert all(tuple(r.tolist()) in rows for r in x)  # real training examples
    spec = NetSpec(16, 3, in_dim=64, prune="grasp", sparsity=0.8, prune_data="idx", prune_batch=23,
                   prune_batch_seed=4)
    with pytest.raises(ValueError, match="pruning_batch"):
        sample(spec, 0)  # the math core reads no files
    bx, by = pruning_batch(spec, 0, toy)
    assert torch.equal(bx, x) and torch.equal(by, y)
    net = sample(spec, 0, data=(bx, by))
    synth = sample(spec.replace(prune_data="synthetic", prune_batch=None, prune_batch_seed=None), 0)
    assert any(not torch.equal(a != 0, b != 0) for a, b in zip(net.weights, synth.weights))


def test_trial_identity_covers_scoring_dataset_batch_size_and_seed(toy):
    spec = NetSpec(16, 2, in_dim=64, prune="snip", sparsity=0.5, prune_data="idx", prune_batch=20)
    t = Trial(spec, 0, (MetricCall.make("depth_curve"),), data_dir=str(toy))
    assert t.datasets() == ["idx"] and "data" in t.identity()
    assert Trial(spec.replace(prune_batch=30), 0, t.metrics, data_dir=str(toy)).id != t.id
    assert Trial(spec.replace(prune_batch_seed=7), 0, t.metrics, data_dir=str(toy)).id != t.id
    synth = Trial(spec.replace(prune_data="synthetic", prune_batch=None), 0, t.metrics)
    assert synth.datasets() == [] and "data" not in synth.identity()
