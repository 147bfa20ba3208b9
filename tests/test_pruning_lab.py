"""The pruning-methods built-in, its figure and the CLI's pruning options (issue 15)."""

import json
import math

import numpy as np
import pytest

import jacstab
from jacstab.cli import main
from jacstab.lab.builtin import BUILTIN, builtin_experiment, fmnist_installed
from jacstab.lab.figures import LAYOUTS
from jacstab.lab.figures import pruning as pruning_fig
from jacstab.lab.figures._data import Context, Setting


def test_pruning_methods_quick_grid_is_the_issues_table_at_quick_size():
    exp = builtin_experiment("pruning-methods", quick=True)
    assert BUILTIN["pruning-methods"]["reproduce"] is False
    specs = exp.specs
    assert len(specs) == 5 * 3 * 2 and len(exp.seeds) == 2  # criteria x scalings x depths {10, 50}
    assert {s.prune for s in specs} == {"random", "magnitude", "snip", "grasp", "synflow"}
    assert {s.scaling for s in specs} == {"none", "empirical", "approx-isometry"}
    # only the criteria that read a batch carry the dataset (the others store prune_data at its default)
    assert {s.prune for s in specs if s.prune_data == "fashion-mnist"} == {"snip", "grasp"}
    assert exp.metric_names == ("depth_curve", "train")
    full = builtin_experiment("pruning-methods")
    assert {s.depth for s in full.specs} == {10, 50, 100} and {s.sparsity for s in full.specs} == {0.5, 0.9, 0.99}


@pytest.mark.skipif(not fmnist_installed(), reason="needs Fashion-MNIST (dataset-fashion-mnist)")
def test_snip_trials_fingerprint_the_scoring_dataset():
    exp = builtin_experiment("pruning-methods", quick=True)
    snip = next(t for t in exp.trials() if t.spec.prune == "snip")
    assert "fashion-mnist" in snip.identity()["data"]


def test_growth_figure_reads_the_slope_per_setting():
    exp = builtin_experiment("pruning-methods", quick=True)
    settings = []
    rng = np.random.default_rng(0)
    for i, spec in enumerate(exp.specs):
        d = np.arange(1, spec.depth + 1)
        slope = 0.01 * (i - 10)
        noise = rng.normal(0, 1e-3, (2, 1))  # a per-seed offset: the least-squares slope of each seed is exact
        settings.append(Setting(spec, slope * d[None, :] + noise, (0, 1)))
    ctx = Context(exp, "depth_curve", settings)
    assert pruning_fig.applies(ctx)
    g = pruning_fig.growth(ctx)
    for i, spec in enumerate(exp.specs):
        m, _ = g[(spec.sparsity, spec.depth, spec.prune, spec.scaling)]
        assert m == pytest.approx(0.01 * (i - 10) / math.log(10), abs=1e-12)  # exact line, per seed
    fig = LAYOUTS["pruning-methods"].figure(ctx)
    assert len(fig.axes) == 2 and "per layer" in fig.axes[0].get_ylabel()


def test_cli_takes_the_new_pruning_options(capsys):
    argv = ["measure", "-n", "16", "-L", "3", "--prune", "grasp", "--compression", "1", "--prune-rounds", "2",
            "--prune-schedule", "linear", "--prune-ablation", "shuffle", "--scaling", "approx-isometry",
            "--format", "json"]
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, _ = capsys.readouterr()
    assert e.value.code == 0
    spec = jacstab.NetSpec(16, 3, prune="grasp", sparsity=0.9, prune_rounds=2, prune_schedule="linear",
                           prune_ablation="shuffle", scaling="approx-isometry")
    want = jacstab.depth_curve(jacstab.sample(spec, 0))
    got = [row["log_norm"] for row in json.loads(out)]
    assert got == pytest.approx(want.tolist(), rel=1e-12)


def test_cli_dataset_batch_with_the_wrong_input_dimension_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["measure", "-n", "16", "-L", "2", "--prune", "snip", "--sparsity", "0.5", "--prune-data", "idx",
              "--data-dir", "/nonexistent-folder"])
    _, err = capsys.readouterr()
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and "jacstab: error" in err


def test_verdict_table_reads_growth_and_accuracy_from_the_store(tmp_path):
    # the report's verdict: growth = the per-seed OLS slope mean (jacstab.lab.analysis) in log10 per layer, checked
    # against depth_curve directly; unscaled random pruning at s = 0.5 loses (1/2) log10 2 = 0.1505 per layer
    # exactly in every seed (same weights, exact identity), so its CI excludes 0 and it is "unstable"
    import dataclasses

    from jacstab.lab import Store
    from jacstab.lab.analysis import growth_slope, growth_start
    from jacstab.lab.experiment import parse_experiment
    from jacstab.lab.figures.pruning import verdict_table
    from jacstab.lab.report import Provenance, write_report
    from jacstab.lab.runner import run_experiment

    exp = parse_experiment({"name": "pruning-methods-quick", "metrics": ["depth_curve"], "seeds": 3,
                            "net": {"width": 32, "depth": 12, "prune": "random", "sparsity": 0.5},
                            "grid": {"scaling": ["none", "random"]}}, "test")  # fmt: skip
    with Store(tmp_path / "s.sqlite") as st:
        run_experiment(exp, st, executor="serial")
        table = verdict_table(exp, st)
        html = write_report([exp], st, tmp_path / "out", Provenance("test", str(tmp_path / "s.sqlite"), "test"))
    assert "Which combinations keep J stable and train" in html.read_text()  # the report shows the verdict
    assert verdict_table(dataclasses.replace(exp, name="other"), Store(tmp_path / "empty.sqlite")) is None
    rows = {r["scaling"]: r for r in table.rows}
    curves = np.array([jacstab.depth_curve(jacstab.sample(exp.specs[0], s)).numpy() for s in range(3)])
    want = growth_slope(curves, start=growth_start(12)).value / math.log(10)
    assert float(rows["none"]["growth log10/layer"].split()[0]) == pytest.approx(want, abs=1e-4)
    scaled = float(rows["random"]["growth log10/layer"].split()[0])
    assert want - scaled == pytest.approx(-0.5 * math.log10(2), abs=1e-4)
    assert rows["none"]["verdict"] == "unstable; not trained" and rows["none"]["test accuracy"] == "not trained"
