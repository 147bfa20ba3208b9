"""Paper 003 in training: the Jacobian-orthogonality penalty (an exact identity, its gradient against finite
differences), the orthogonal parametrisation, their wiring into jacstab.train, the lab metrics and the CLI."""

import json
import math

import pytest
import torch

import jacstab
from jacstab.cli import main
from jacstab.lab.experiment import parse_experiment
from jacstab.lab.metrics import get_metric
from jacstab.lab.trials import MetricCall, Trial, compute
from jacstab.training.data import dataset_input
from jacstab.training.regularisers import OrthogonalHidden, jacobian_penalty, probe_vectors

SPEC = jacstab.NetSpec(width=16, depth=3, in_dim=64)


def test_penalty_with_basis_probes_is_the_squared_isometry_defect():
    # v_j = e_j for j = 1..n: (1/n) sum_j ||(J^T J - I) e_j||^2 = ||J^T J - I||_F^2 / n = defect^2 exactly;
    # the reference is the QR-chain singular values (an independent path): 1e-10 relative
    net = jacstab.sample(jacstab.NetSpec(12, 4, activation="tanh", sigma2=1.5, in_dim=5), 0)
    x = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    pen = jacobian_penalty(net, x.expand(12, 5), torch.eye(12, dtype=torch.float64)).item()
    want = jacstab.isometry_defect(net, x).defect ** 2
    assert abs(pen - want) <= 1e-10 * want


def test_probe_vectors_are_scaled_rademacher():
    v = probe_vectors(3, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert v.shape == (3, 16) and torch.all(v.abs() == 0.25)  # +-1/sqrt(16), exactly
    w = probe_vectors(3, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(v, w)  # seeded


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_penalty_gradient_matches_finite_differences(act):
    spec = jacstab.NetSpec(10, 3, activation=act, sigma2=1.3, in_dim=6)
    net = jacstab.sample(spec, 3)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 6, dtype=torch.float64, generator=g)
    v = probe_vectors(2, 10, generator=g, dtype=torch.float64)
    params = [w.clone().requires_grad_(True) for w in net.weights]
    w_in = net.w_in.clone().requires_grad_(True)
    pen = jacobian_penalty(net.replace(weights=params, w_in=w_in), x, v)
    pen.backward()

    def at(k, delta):  # the penalty with W_k (k = 0: W_in) moved by delta, no autograd
        ws = [w.clone() for w in net.weights]
        wi = net.w_in.clone()
        if k == 0:
            wi = wi + delta
        else:
            ws[k - 1] = ws[k - 1] + delta
        return jacobian_penalty(net.replace(weights=ws, w_in=wi), x, v).item()

    h = 1e-6
    for k, grad in ((0, w_in.grad), (1, params[0].grad), (3, params[2].grad)):
        e = torch.randn(grad.shape, dtype=torch.float64, generator=g)
        fd = (at(k, h * e) - at(k, -h * e)) / (2 * h)
        an = float((grad * e).sum())
        # central differences: truncation O(h^2 |P'''|) ~ 1e-12 and rounding eps |P| / h ~ 1e-10 relative to the
        # O(1) values here (ReLU: no gate flips within +-1e-6 at this seed, else the check would fail loudly)
        assert abs(fd - an) <= 1e-6 * max(1.0, abs(an)), (k, fd, an)


def test_orthogonal_parametrisation_starts_at_the_sampled_weights_and_stays_orthogonal(toy):
    spec = jacstab.NetSpec(16, 4, activation="groupsort", init="orthogonal", sigma2=1.0, in_dim=64)
    net0 = jacstab.sample(spec, 2)
    orth = OrthogonalHidden(net0.weights, 1.0)
    for w, w0 in zip(orth.weights(), net0.weights):  # the Cayley trivialisation starts at the sampled Q exactly
        torch.testing.assert_close(w.detach(), w0, rtol=0, atol=1e-14)
    r = jacstab.train(spec, "idx", data_dir=toy, epochs=2, lr=0.1, batch_size=32, seed=2, dtype=torch.float64,
                      orthogonal_param=True)
    moved = max(float((w - w0).abs().max()) for w, w0 in zip(r.network.weights, net0.weights))
    assert moved > 1e-3  # it did train
    # W stays orthogonal to float64 rounding of ~40 Cayley solves: the Jacobian stays an isometry
    assert jacstab.isometry_defect(r.network, dataset_input("idx", 0, toy)).defect < 1e-10
    free = jacstab.train(spec, "idx", data_dir=toy, epochs=2, lr=0.1, batch_size=32, seed=2, dtype=torch.float64)
    assert jacstab.isometry_defect(free.network, dataset_input("idx", 0, toy)).defect > 1e-3  # without it: drifts


def test_jac_reg_pulls_the_jacobian_towards_an_isometry(toy):
    spec = jacstab.NetSpec(16, 4, sigma2=2.0, in_dim=64)
    x = dataset_input("idx", 0, toy)
    kw = dict(data_dir=toy, epochs=3, lr=0.05, batch_size=32, seed=0, dtype=torch.float64)
    plain = jacstab.train(spec, "idx", **kw)
    reg = jacstab.train(spec, "idx", jac_reg=1.0, jac_probes=4, **kw)
    d0 = jacstab.isometry_defect(jacstab.sample(spec, 0), x).defect
    d_plain, d_reg = (jacstab.isometry_defect(r.network, x).defect for r in (plain, reg))
    # deterministic (seeded); the penalty's gradient descends defect^2, so the regularised net ends closer to an
    # isometry than the plain one and than its initialisation (margins of 10% on these seeded runs)
    assert d_reg < 0.9 * d_plain and d_reg < 0.9 * d0


def test_training_options_are_validated(toy):
    kw = dict(data_dir=toy, epochs=1, lr=0.1, batch_size=8)
    with pytest.raises(ValueError, match=r"orthogonal_param .* needs init='orthogonal'"):
        jacstab.train(SPEC, "idx", orthogonal_param=True, **kw)
    with pytest.raises(ValueError, match=r"jac_probes must be an integer \[1, 8\]"):
        jacstab.train(SPEC, "idx", jac_reg=0.1, jac_probes=9, **kw)
    with pytest.raises(ValueError, match="jac_reg must be a finite number"):
        jacstab.train(SPEC, "idx", jac_reg=-1.0, **kw)
    with pytest.raises(ValueError, match="v"):
        jacobian_penalty(jacstab.sample(SPEC, 0), torch.ones(2, 64, dtype=torch.float64), torch.ones(3, 16))
    with pytest.raises(ValueError, match="not gain \\* orthogonal"):
        OrthogonalHidden(jacstab.sample(SPEC, 0).weights, 1.0)


def test_new_train_parameters_leave_existing_trial_ids_alone(toy):
    plain = MetricCall.make("train", dataset="idx", epochs=2)
    explicit = MetricCall.make("train", dataset="idx", epochs=2, jac_reg=0.0, jac_probes=1, orthogonal_param=False)
    assert plain.identity() == explicit.identity() == {"name": "train", "params": {"dataset": "idx", "epochs": 2},
                                                        "version": 1}
    reg = MetricCall.make("train", dataset="idx", epochs=2, jac_reg=0.01)
    assert reg.identity()["params"]["jac_reg"] == 0.01
    assert Trial(SPEC, 0, (reg,), data_dir=str(toy)).id != Trial(SPEC, 0, (plain,), data_dir=str(toy)).id
    with pytest.raises(ValueError, match="orthogonal_param must be true or false"):
        MetricCall.make("train", orthogonal_param=1)
    exp = parse_experiment({"metrics": ["train_isometry"], "net": {"width": 8, "depth": 2},
                            "train": {"jac_reg": 0.5, "epochs": 1}})
    assert dict(exp.metrics[0].params)["jac_reg"] == 0.5


def test_train_isometry_metric_records(toy):
    call = MetricCall.make("train_isometry", dataset="idx", epochs=2, lr=0.1, batch_size=32, jac_reg=0.1)
    result = compute(Trial(SPEC, 1, (call,), data_dir=str(toy)))
    assert result.status == "done", result.error
    recs = get_metric("train_isometry").records(result.values["train_isometry"])
    assert [r["isometry_defect"] for r in recs][1] != [r["isometry_defect"] for r in recs][1]  # NaN between
    x = dataset_input("idx", 0, toy)
    assert recs[0]["isometry_defect"] == jacstab.isometry_defect(jacstab.sample(SPEC, 1), x).defect
    assert math.isfinite(recs[-1]["isometry_defect"]) and recs[-1]["isometry_defect"] != recs[0]["isometry_defect"]
    assert math.isnan(recs[0]["epoch_seconds"]) and recs[1]["epoch_seconds"] == recs[2]["epoch_seconds"] > 0
    train_recs = get_metric("train").records(
        compute(Trial(SPEC, 1, (MetricCall.make("train", **dict(call.params)),), data_dir=str(toy))).values["train"])
    assert [r["test_accuracy"] for r in train_recs] == [r["test_accuracy"] for r in recs]  # the same training


def test_cli_train_with_the_new_options(capsys, toy):
    args = ["train", "-n", "16", "-L", "3", "--in-dim", "64", "--dataset", "idx", "--data-dir", str(toy), "--epochs",
            "1", "--batch-size", "32", "--lr", "0.1", "--format", "json"]
    with pytest.raises(SystemExit) as e:
        main([*args, "--jac-reg", "0.1", "--jac-probes", "2"])
    out, _ = capsys.readouterr()
    rows = json.loads(out)
    assert e.value.code == 0 and len(rows) == 2
    lib = jacstab.train(SPEC, "idx", data_dir=toy, epochs=1, lr=0.1, batch_size=32, jac_reg=0.1, jac_probes=2)
    assert rows[1]["test_accuracy"] == lib.final.test_accuracy
    with pytest.raises(SystemExit) as e:
        main([*args, "--keep-orthogonal"])
    _, err = capsys.readouterr()
    assert e.value.code == 2 and "needs init='orthogonal'" in err


def test_train_isometry_of_a_diverged_run_is_nan_not_an_error(toy):
    call = MetricCall.make("train_isometry", dataset="idx", epochs=1, lr=1e3, batch_size=32)
    result = compute(Trial(jacstab.NetSpec(16, 3, in_dim=64, sigma2=4.0), 0, (call,), data_dir=str(toy)))
    assert result.status == "done", result.error
    recs = get_metric("train_isometry").records(result.values["train_isometry"])
    assert recs[-1]["diverged"] == 1.0 and math.isnan(recs[-1]["isometry_defect"])
    assert math.isfinite(recs[0]["isometry_defect"])  # the initial network is finite
