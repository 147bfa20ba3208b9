"""Training in the lab: trial inputs and data in the trial id, the train metric in TOML sweeps (resume after a kill),
the training built-ins and their report section."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import jacstab
from _idx import write_dataset
from jacstab.cli import main
from jacstab.lab import Store
from jacstab.lab.builtin import builtin_experiment
from jacstab.lab.experiment import parse_experiment
from jacstab.lab.metrics import get_metric
from jacstab.lab.trials import MetricCall, Trial, compute, fixed_threads, parse_input
from jacstab.training.data import dataset_input

SPEC = jacstab.NetSpec(width=16, depth=3, in_dim=64)
TRAIN = {"dataset": "idx", "epochs": 1, "lr": [0.1, 0.01], "batch_size": 32}


def run(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_input_spellings():
    assert parse_input("gaussian") == parse_input("default") == ("default", None, 0)
    assert parse_input("dataset:mnist") == ("dataset", "mnist", 0)
    assert parse_input("dataset:idx:7") == ("dataset", "idx", 7)
    for bad, msg in (("dataset:mnst", "did you mean 'mnist'"), ("dataset:idx:-1", "INDEX"), ("image", "gaussian")):
        with pytest.raises(ValueError, match=msg):
            parse_input(bad)


def test_trial_id_covers_input_and_data_bytes(toy, tmp_path):
    dc = (MetricCall.make("depth_curve"),)
    plain = Trial(SPEC, 0, dc)
    assert Trial(SPEC, 0, dc, "gaussian").id == plain.id and "data" not in plain.identity()
    at_image = Trial(SPEC, 0, dc, "dataset:idx:0", str(toy))
    assert at_image.id != plain.id and set(at_image.identity()["data"]) == {"idx"}
    moved = write_dataset(tmp_path / "moved")  # same bytes elsewhere: same id
    assert Trial(SPEC, 0, dc, "dataset:idx:0", str(moved)).id == at_image.id
    other = write_dataset(tmp_path / "other", seed=5)  # other bytes: another id
    assert Trial(SPEC, 0, dc, "dataset:idx:0", str(other)).id != at_image.id
    assert Trial(SPEC, 0, dc, "dataset:idx:1", str(toy)).id != at_image.id


def test_depth_curve_at_a_dataset_input_is_the_engine_value(toy):
    trial = Trial(SPEC, 2, (MetricCall.make("depth_curve"),), "dataset:idx:5", str(toy))
    result = compute(trial)
    x = dataset_input("idx", 5, toy)
    want = jacstab.depth_curve(jacstab.sample(SPEC, 2), x).tolist()
    assert result.status == "done" and result.values["depth_curve"] == want
    assert want != jacstab.depth_curve(jacstab.sample(SPEC, 2)).tolist()  # the input does change the gates


def test_input_dimension_mismatch_is_an_error(toy):
    trial = Trial(SPEC.replace(in_dim=None), 0, (MetricCall.make("depth_curve"),), "dataset:idx:0", str(toy))
    result = compute(trial)
    assert result.status == "error" and "set in_dim = 64" in result.error


def test_train_metric_equals_jacstab_train(toy):
    call = MetricCall.make("train", dataset="idx", epochs=2, lr=(0.1, 0.01), batch_size=32)
    result = compute(Trial(SPEC, 1, (call,), data_dir=str(toy)))
    assert result.status == "done", result.error
    records = get_metric("train").records(result.values["train"])
    with fixed_threads(1):  # trials compute with 1 thread; the summation order depends on the thread count
        lib = jacstab.train(SPEC, "idx", data_dir=toy, epochs=2, lr=[0.1, 0.01], batch_size=32, seed=1)
    assert len(records) == 3
    for rec, want in zip(records, lib.history):
        row = want.as_row()
        assert all(rec[k] == float(row[k]) for k in rec)


def test_toml_errors():
    base = {"metrics": ["depth_curve"], "net": {"width": 8, "depth": 2}}
    with pytest.raises(ValueError, match="'train' is not in 'metrics'"):
        parse_experiment({**base, "train": {"epochs": 2}})
    with pytest.raises(ValueError, match=r"\[train\]: metric 'train' takes no parameter 'epoch'"):
        parse_experiment({**base, "metrics": ["train"], "train": {"epoch": 2}})
    with pytest.raises(ValueError, match="lr must be"):
        parse_experiment({**base, "metrics": ["train"], "train": {"lr": [0.1, 0.1]}})
    with pytest.raises(ValueError, match="key 'input'"):
        parse_experiment({**base, "input": "dataset:nope"})


def _toml(tmp_path, toy, name="tr"):
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\nmetrics = ["train"]\nseeds = 2\n[net]\nwidth = 16\nin_dim = 64\n[grid]\n'
        'depth = [1, 2, 3]\n[train]\ndataset = "idx"\nepochs = 2\nlr = [0.1, 0.01]\nbatch_size = 32\n'
    )
    return path


def test_training_sweep_resumes(capsys, tmp_path, toy):
    path, store = _toml(tmp_path, toy), str(tmp_path / "s.sqlite")
    args = ["sweep", str(path), "--store", store, "--data-dir", str(toy), "--executor", "serial", "--format", "json"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert json.loads(out)[0]["done"] == 6
    code, out, _ = run(capsys, *args)
    assert json.loads(out)[0]["skipped"] == 6 and json.loads(out)[0]["done"] == 0
    exp = parse_experiment(json.loads(json.dumps({"name": "tr", "metrics": ["train"], "seeds": 2,
                                                  "net": {"width": 16, "in_dim": 64}, "grid": {"depth": [1, 2, 3]},
                                                  "train": {**TRAIN, "epochs": 2}}))).with_data_dir(str(toy))
    with Store(store) as st:
        vals = st.values(exp.trial(exp.specs[2], 1).id, "train")
    with fixed_threads(1):
        lib = jacstab.train(exp.specs[2], "idx", data_dir=toy, epochs=2, lr=[0.1, 0.01], batch_size=32, seed=1)
    assert vals[-2] == lib.final.log_norm  # stored under the id the experiment computes, values from train()


def test_killed_training_sweep_resumes(tmp_path, toy):
    path, store = _toml(tmp_path, toy, "killed"), str(tmp_path / "k.sqlite")
    cmd = [sys.executable, "-m", "jacstab", "sweep", str(path), "--store", store, "--data-dir", str(toy),
           "--executor", "process", "--workers", "2", "--quiet"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.2)
            if os.path.exists(store):
                try:
                    with Store(store, readonly=True) as st:
                        if len(st.finished()) >= 1:
                            break
                except ValueError:  # the file exists but the driver has not created its tables yet: poll again
                    continue
        os.killpg(p.pid, signal.SIGKILL)  # the driver and its workers, no cleanup
    finally:
        p.wait(timeout=60)
    with Store(store, readonly=True) as st:
        before = len(st.finished())
    assert before >= 1
    r = subprocess.run([*cmd[:-1], "--format", "json"], capture_output=True, text=True, timeout=300)
    summary = json.loads(r.stdout)[0]
    assert r.returncode == 0 and summary["skipped"] == before and summary["skipped"] + summary["done"] == 6


def test_training_builtins_and_data_routing(toy):
    sizes = {"fig7-8": 4 * 4 * 2, "fig9-iid": 4 * 3, "fig9-eta": 4 * 4}  # quick: 4 depths x grid, 1 seed
    for name, count in sizes.items():
        exp = builtin_experiment(name, quick=True)
        assert len(exp.trials()) == count and exp.metric_names == ("train",)
        assert all(s.input_dim == 784 for s in exp.specs)
    assert dict(builtin_experiment("fig9-iid", quick=True).metrics[0].params)["dataset"] == "fashion-mnist"
    with_mnist = builtin_experiment("fig9-iid", data_dir=str(toy))  # a folder holding IDX files: MNIST
    assert dict(with_mnist.metrics[0].params)["dataset"] == "mnist" and with_mnist.data_dir == str(toy)
    assert dict(with_mnist.metrics[0].params)["epochs"] == 70  # full size: the paper's 70 epochs
    assert builtin_experiment("fig7-8", data_dir=str(toy)).data_dir is None  # Fashion-MNIST from its own folder


def test_report_section_for_training(tmp_path, toy, capsys):
    from jacstab.lab.report import Provenance, write_report

    path, store = _toml(tmp_path, toy, "rep"), str(tmp_path / "r.sqlite")
    code, _, err = run(capsys, "sweep", str(path), "--store", store, "--data-dir", str(toy), "--executor", "serial")
    assert code == 0, err
    exp = parse_experiment({"name": "rep", "metrics": ["train"], "seeds": 2, "net": {"width": 16, "in_dim": 64},
                            "grid": {"depth": [1, 2, 3]}, "train": {**TRAIN, "epochs": 2}}).with_data_dir(str(toy))
    with Store(store, readonly=True) as st:
        html = write_report([exp], st, tmp_path / "out", Provenance("test", store, "test")).read_text()
        first = st.values(exp.trial(exp.specs[0], 0).id, "train")
        second = st.values(exp.trial(exp.specs[0], 1).id, "train")
    assert html.count("<img") == 1 and "through training" in html
    init = np.mean([first[6], second[6]])  # field 6 of epoch 0 is log_norm (TRAIN_FIELDS)
    assert f"{init:.4g}" in html  # the table's initial ln||J|| for depth 1 is the seeds' mean
    assert (tmp_path / "out" / "rep-train.png").is_file()


def test_cli_measure_at_a_dataset_input(capsys, toy):
    code, out, err = run(capsys, "measure", "-n", "16", "-L", "3", "--in-dim", "64", "--input", "dataset:idx:5",
                         "--data-dir", str(toy), "--format", "json")
    assert code == 0 and "test image 5 of idx" in err
    x = dataset_input("idx", 5, toy)
    assert [r["log_norm"] for r in json.loads(out)] == jacstab.depth_curve(jacstab.sample(SPEC, 0), x).tolist()
    code, out, err = run(capsys, "lyapunov", "-n", "16", "-L", "3", "--input", "dataset:idx", "--data-dir", str(toy))
    assert code == 2 and "give --in-dim 64" in err and out == ""
    assert torch.is_tensor(x)


def test_training_figure_reads_the_train_metric_when_it_is_not_the_first(toy, tmp_path):
    # pruning-methods lists depth_curve before train: the figure's caption must read the train metric's parameters
    # (it crashed reading the first metric's); its table's accuracy is the stored one
    from jacstab.lab import Store
    from jacstab.lab.experiment import parse_experiment
    from jacstab.lab.figures import FigureOptions, render
    from jacstab.lab.runner import run_experiment

    exp = parse_experiment({"name": "t", "metrics": ["depth_curve", "train"], "net": {"width": 8, "depth": 2,
                            "in_dim": 64}, "train": {"dataset": "idx", "epochs": 1, "subset": 100}}, "test")
    exp = exp.with_data_dir(str(toy))
    with Store(tmp_path / "s.sqlite") as st:
        run_experiment(exp, st, executor="serial")
        out = {r.metric: r for r in render(exp, st, tmp_path, FigureOptions())}
    assert set(out) == {"depth_curve", "train"} and out["train"].png.stat().st_size > 10_000
