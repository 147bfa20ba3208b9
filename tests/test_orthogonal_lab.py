"""Paper 003 in the lab: the orthogonal-jacobian built-ins and the train_isometry view (figure + table) on a toy
IDX dataset; the table's numbers are the stored values."""

import math

import numpy as np

from jacstab.lab import Store
from jacstab.lab.builtin import BUILTIN, builtin_experiment
from jacstab.lab.experiment import parse_experiment
from jacstab.lab.figures import Context, FigureOptions, collect, render
from jacstab.lab.figures.orthogonal import arch, runs, table_rows
from jacstab.lab.metrics import get_metric
from jacstab.lab.runner import run_experiment


def test_builtins_list_every_architecture_at_every_depth():
    exp = builtin_experiment("orthogonal-jacobian", quick=True)
    names = {arch(s) for s in exp.specs}
    assert len(exp.specs) == 24 and len(names) == 6 and {s.depth for s in exp.specs} == {10, 50, 100, 200}
    assert {s.width for s in exp.specs} == {64} and exp.metrics[0].name == "train_isometry"
    assert any(s.block == "reflection" for s in exp.specs) and any(s.activation == "half_relu" for s in exp.specs)
    reg = builtin_experiment("orthogonal-jacobian-reg", quick=True)
    assert dict(reg.metrics[0].params)["jac_reg"] == 0.01 and len(reg.specs) == 4
    full = builtin_experiment("orthogonal-jacobian")
    assert {s.width for s in full.specs} == {128} and len(full.seeds) == 2
    assert BUILTIN["orthogonal-jacobian"]["reproduce"] is False  # quick: 44 s + 23 s on 2 cores (docs/orthogonal.md)


def test_train_isometry_view_draws_and_tabulates_the_stored_values(tmp_path, toy):
    doc = {"name": "oj", "metrics": ["train_isometry"], "seeds": 2,
           "net": {"width": 16, "in_dim": 64, "init": "orthogonal", "sigma2": 1.0},
           "grid": {"depth": [2, 4], "activation": ["groupsort", "relu"]},
           "train": {"dataset": "idx", "epochs": 1, "lr": 0.05, "batch_size": 32}}
    exp = parse_experiment(doc).with_data_dir(str(toy))
    with Store(str(tmp_path / "s.sqlite")) as st:
        run_experiment(exp, st, executor="serial")
    with Store(str(tmp_path / "s.sqlite"), readonly=True) as st:
        ctx = Context(exp, "train_isometry", collect(exp, st, "train_isometry"))
        rs = runs(ctx)
        (tmp_path / "figs").mkdir()
        [out] = render(exp, st, tmp_path / "figs", FigureOptions())
        stored = st.values(exp.trial(exp.specs[0], 0).id, "train_isometry")
    assert len(rs) == 8 and out.png is not None and out.png.is_file()
    rows = {(r["architecture"], r["depth"]): r for r in table_rows(rs)}
    gs = rows[("groupsort + orthogonal (sigma2=1)", 2)]
    recs = get_metric("train_isometry").records(stored)
    both = [r for r in rs if r.spec.depth == 2 and r.spec.activation == "groupsort"]
    assert gs["seeds"] == 2 and math.isclose(gs["test accuracy"], np.mean([r.final["test_accuracy"] for r in both]))
    assert recs[0]["isometry_defect"] < 1e-12  # groupsort + orthogonal at sigma2 = 1: J orthogonal at init
    assert gs["defect init"] < 1e-12 and rows[("relu + orthogonal (sigma2=1)", 2)]["defect init"] > 0.1
    assert out.tables[0].rows == table_rows(rs)
