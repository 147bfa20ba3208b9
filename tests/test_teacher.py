"""Fixed-gates singular-value dynamics on a low-rank linear teacher (issue 13 part 5; jacstab.training.teacher)."""

import dataclasses
import math

import numpy as np
import pytest
import torch

import jacstab
from jacstab.lab.experiment import parse_experiment
from jacstab.lab.metrics import TEACHER_FIELDS, Context, get_metric
from jacstab.training.teacher import TOP_K, _Chain, teacher_dynamics, teacher_matrix


def _jacobian(net):
    """The input-output Jacobian dY_L/dY_0 at the default input, by torch.func (independent of the layers' factors)."""
    y0 = net.input_map(net.default_input())
    return torch.func.jacrev(net.hidden_map)(y0)


@pytest.mark.parametrize("kw", [{}, {"gates": "bernoulli"}, {"residual": 0.5}])
def test_step_zero_records_the_jacobian_and_the_teacher(kw):
    # with the gates frozen at x, the end-to-end map at step 0 is J(x): its singular values (jacrev + svdvals) and
    # the teacher modes u_i^T J v_i of T D_0 must match to float64 round-off (1e-10 relative)
    net = jacstab.sample(jacstab.NetSpec(10, 3, sigma2=1.0, **kw), 3)
    run = teacher_dynamics(net, rank=2, strengths=[3.0, 1.5], steps=1, every=1)
    jac = _jacobian(net)
    np.testing.assert_allclose(run.top[0], torch.linalg.svdvals(jac)[:TOP_K].numpy(), rtol=1e-10, atol=1e-13)
    t = teacher_matrix(10, [3.0, 1.5], 3)
    gate0 = torch.zeros(10, dtype=torch.float64)
    gate0[net.gates(net.default_input())[0].idx] = 1.0
    t_eff = t * gate0
    u, s, vh = torch.linalg.svd(t_eff)
    np.testing.assert_allclose(run.strengths, s[:2].numpy(), rtol=1e-12)
    np.testing.assert_allclose(run.mode[0], [float(u[:, i] @ jac @ vh[i]) for i in range(2)], rtol=1e-9, atol=1e-12)
    assert run.loss[0] == pytest.approx(0.5 * float(((jac - t_eff) ** 2).sum()), rel=1e-12)


def test_one_layer_linear_net_follows_the_closed_form():
    # L = 1, linear: M = W_1 and gradient descent on (1/2)||M - T||^2 is M <- M - lr (M - T) exactly, so every
    # teacher mode obeys m_t = s - (s - m_0)(1 - lr)^t (exact up to round-off: 1e-10 absolute)
    net = jacstab.sample(jacstab.NetSpec(6, 1, activation="linear", sigma2=1.0), 1)
    lr, steps = 0.05, 40
    run = teacher_dynamics(net, rank=3, strengths=[2.0, 1.0, 0.5], steps=steps, lr=lr, every=5)
    s, m0 = run.strengths, run.mode[0]
    want = s - (s - m0) * (1 - lr) ** run.steps[:, None]
    np.testing.assert_allclose(run.mode, want, atol=1e-10)


def test_scalar_chain_matches_the_balanced_logistic_solution():
    # two balanced gains w_1 = w_2 = w: sigma = w^2 obeys d sigma/dt = 2 sigma (s - sigma) (Arora et al. 2019 with
    # N = 2), the logistic sigma(t) = s / (1 + (s / sigma_0 - 1) e^{-2 s t}); explicit Euler with lr = 1e-4 over
    # t = 2 has a global error O(lr) ~ 1e-4 relative, so 1e-3 relative is a safe bound that a wrong update fails
    s, sigma0, lr, t = 1.5, 0.01, 1e-4, 2.0
    chain = _Chain(np.full((1, 2), math.sqrt(sigma0)))
    for _ in range(round(t / lr)):
        chain.step(np.array([s]), lr)
    want = s / (1 + (s / sigma0 - 1) * math.exp(-2 * s * t))
    assert chain.strength()[0] == pytest.approx(want, rel=1e-3)
    # a zero gain stays a fixed point of the product (its update uses the product of the other gains: 0 here too)
    chain = _Chain(np.array([[0.0, 0.5, 2.0]]))
    chain.step(np.array([1.0]), 0.1)
    np.testing.assert_allclose(chain.gains, [[0.1 * 0.5 * 2.0, 0.5, 2.0]])


def test_deep_gated_net_learns_the_teacher_modes_in_order():
    # the low-rank bias: from a small initialisation the strongest mode is learned first, all three end aligned
    # (alignment > 0.99) and the rest of the spectrum stays small; a network that failed to train or learned
    # the modes in another order fails these
    net = jacstab.sample(jacstab.NetSpec(16, 3, sigma2=0.5), 0)
    run = teacher_dynamics(net, rank=3, steps=1500, lr=0.01, every=10)
    meas, pred = run.half_times()
    assert np.all(np.isfinite(meas)) and list(meas) == sorted(meas)
    assert run.loss[-1] < 1e-2 * run.loss[0]
    assert np.all(run.align[-1] > 0.99)
    assert np.all(run.top[-1, 3:] < 0.2 * run.strengths[-1])
    assert np.all(np.isfinite(pred))


def test_bad_arguments_and_divergence_are_clear_errors():
    net = jacstab.sample(jacstab.NetSpec(8, 2), 0)
    with pytest.raises(ValueError, match="rank"):
        teacher_dynamics(net, rank=4)
    with pytest.raises(ValueError, match="strengths: need 2"):
        teacher_dynamics(net, rank=2, strengths=[1.0])
    with pytest.raises(ValueError, match="strength"):
        teacher_dynamics(net, rank=1, strengths=[-1.0])
    with pytest.raises(ValueError, match=r"non-finite at step .*lower lr"):
        teacher_dynamics(net, rank=1, strengths=[50.0], lr=5.0, steps=200, every=1)


def test_metric_records_are_the_run_and_the_toml_table_reaches_them():
    exp = parse_experiment({"name": "t", "metrics": ["teacher"], "net": {"width": 8, "depth": 2},
                            "teacher": {"rank": 2, "steps": 30, "every": 10}}, "test")  # fmt: skip
    params = dict(exp.metrics[0].params)
    assert params == {"rank": 2, "steps": 30, "step_size": 0.005, "every": 10}
    net = jacstab.sample(exp.specs[0], 0)
    recs = get_metric("teacher").records(get_metric("teacher").compute(net, params, Context()))
    run = teacher_dynamics(net, rank=2, steps=30, every=10)
    assert [r["step"] for r in recs] == [0, 10, 20, 30]
    assert [r["mode_2"] for r in recs] == run.mode[:, 1].tolist()
    assert [r["predicted_1"] for r in recs] == run.predicted[:, 0].tolist()
    assert all(math.isnan(r["mode_3"]) and math.isnan(r["strength_3"]) for r in recs)  # rank 2: third mode padded
    assert len(recs[0]) == len(TEACHER_FIELDS)
    with pytest.raises(ValueError, match=r"\[teacher\] sets the teacher metric"):
        parse_experiment({"name": "t", "metrics": ["depth_curve"], "net": {"width": 8, "depth": 2},
                          "teacher": {"rank": 2}}, "test")  # fmt: skip
    with pytest.raises(ValueError, match="rank"):
        parse_experiment({"name": "t", "metrics": ["teacher"], "net": {"width": 8, "depth": 2},
                          "teacher": {"rank": 5}}, "test")  # fmt: skip


def test_figure_and_table_of_the_builtin(tmp_path):
    from jacstab.lab import Store
    from jacstab.lab.builtin import builtin_experiment
    from jacstab.lab.figures import FigureOptions, render
    from jacstab.lab.runner import run_experiment

    exp = builtin_experiment("fixed-gates-dynamics", quick=True)
    small = dataclasses.replace(exp, specs=tuple(s.replace(width=12) for s in exp.specs), seeds=exp.seeds[:2])
    with Store(tmp_path / "s.sqlite") as st:
        run_experiment(small, st, executor="serial")
        (r,) = render(small, st, tmp_path, FigureOptions())
    assert r.png.stat().st_size > 20_000
    rows = r.tables[0].rows
    assert [row["mode"] for row in rows] == [1, 2, 3, 1, 2, 3]
    # the table's predicted half-time equals the one computed from the API for the same seeds (exact: both are
    # recorded steps)
    spec = small.specs[0]
    runs = [teacher_dynamics(jacstab.sample(spec, s), rank=3, steps=1500, lr=0.005, every=10) for s in small.seeds]
    want = np.mean([run.half_times()[1][0] for run in runs])
    assert float(str(rows[0]["half-time predicted"]).split()[0]) == pytest.approx(want)
