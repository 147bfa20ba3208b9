"""Experiments as data, the sweep runner and its CLI."""

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jacstab
from jacstab import NetSpec
from jacstab.cli import main
from jacstab.lab import Store
from jacstab.lab.experiment import load_experiment, parse_experiment
from jacstab.lab.runner import run_experiment

BASE = {"name": "t", "metrics": ["depth_curve"], "seeds": 2, "net": {"width": 16, "depth": 4}}


@settings(max_examples=30, deadline=None)
@given(
    sig=st.lists(st.sampled_from([0.5, 1.0, 2.0, 4.0]), min_size=1, max_size=4, unique=True),
    depths=st.lists(st.integers(1, 9), min_size=1, max_size=3, unique=True),
    seeds=st.integers(1, 4),
)
def test_grid_expansion_is_the_cartesian_product(sig, depths, seeds):
    exp = parse_experiment({"seeds": seeds, "net": {"width": 8}, "grid": {"sigma2": sig, "depth": depths}})
    trials = exp.trials()
    assert len(trials) == len(sig) * len(depths) * seeds
    assert len({t.id for t in trials}) == len(trials)  # all distinct
    assert {t.spec.sigma2 for t in trials} == set(sig) and {t.spec.depth for t in trials} == set(depths)


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ('nmae = "x"', "unknown key 'nmae' (did you mean 'name'?)"),
        ('metrics = ["depth_curv"]', "unknown metric 'depth_curv' (did you mean 'depth_curve'?)"),
        ("metrics = []", "key 'metrics' must be a non-empty list"),
        ("seeds = 0", "key 'seeds' must be an integer >= 1"),
        ("seed0 = -1", "key 'seed0' must be an integer >= 0"),
        ("k = 0", "key 'k' must be an integer >= 1"),
        ("[net]\nwidht = 4", "[net]: unknown key 'widht' (did you mean 'width'?)"),
        ("[net]\nwidth = 4\ndepth = 2\n[grid]\nsigma2 = []", "[grid] key 'sigma2' must be a non-empty list"),
        ("[net]\nwidth = 4\ndepth = 2\n[grid]\nwidth = [4]", "key 'width' is both in [net] and in [grid]"),
        ("[net]\nwidth = 4\ndepth = 2\n[grid]\nsigma2 = [-1.0]", "grid point {'sigma2': -1.0}: sigma2 must be"),
        ("[net]\nwidth = 4\n", "grid point {}"),  # depth missing
        ("metrics = [", "not valid TOML"),
    ],
)
def test_malformed_experiment_files_each_give_their_own_error(tmp_path, doc, needle):
    path = tmp_path / "bad.toml"
    path.write_text(doc)
    with pytest.raises(ValueError) as e:
        load_experiment(path)
    assert str(e.value).startswith(str(path)) and needle in str(e.value)


def test_serial_and_process_executors_give_bit_identical_results(tmp_path):
    exp = parse_experiment({**BASE, "metrics": ["depth_curve", "lyapunov"], "k": 3, "grid": {"sigma2": [1.0, 2.0]}})
    with Store(tmp_path / "a.sqlite") as a, Store(tmp_path / "b.sqlite") as b:
        sa = run_experiment(exp, a, executor="serial")
        sb = run_experiment(exp, b, executor="process", workers=2)
        assert (sa.done, sb.done, sa.errors) == (4, 4, 0)
        key = lambda r: (r["trial_id"], r["metric"], r["index"])  # noqa: E731
        ra, rb = sorted(a.rows(), key=key), sorted(b.rows(), key=key)
        assert [(key(r), r["value"]) for r in ra] == [(key(r), r["value"]) for r in rb]


def test_resume_skips_and_errors_are_recorded(tmp_path):
    exp = parse_experiment({**BASE, "seeds": 3})
    with Store(tmp_path / "s.sqlite") as st:
        calls = []
        first = run_experiment(exp, st, executor="serial", progress=lambda d, t: calls.append((d, t)))
        again = run_experiment(exp, st, executor="serial")
        assert (first.done, again.skipped, again.done) == (3, 3, 0) and calls[-1] == (3, 3)
    # a trial that raises (threshold keeps no weight) is stored as an error and the sweep goes on
    bad = parse_experiment(
        {
            "seeds": 2,
            "net": {"width": 8, "depth": 2},
            "grid": {"prune": ["magnitude-threshold"], "threshold": [0.1, 50.0]},
        }
    )
    with Store(tmp_path / "e.sqlite") as st:
        s = run_experiment(bad, st, executor="serial")
        errs = [r for r in st.rows() if r["status"] == "error"]
        assert (s.done, s.errors) == (2, 2) and "keeps no weight" in errs[0]["error"]


def test_sweep_and_results_cli(tmp_path, capsys):
    exp = tmp_path / "e.toml"
    exp.write_text('name = "cli"\nseeds = 2\n[net]\nwidth = 8\ndepth = 3\n[grid]\nsigma2 = [1.0, 2.0]\n')
    store = str(tmp_path / "r.sqlite")
    for expected_done in (4, 0):
        with pytest.raises(SystemExit) as e:
            main(["sweep", str(exp), "--store", store, "--executor", "serial", "--format", "json"])
        (row,) = json.loads(capsys.readouterr().out)
        assert e.value.code == 0 and row["done"] == expected_done and row["trials"] == 4
    with pytest.raises(SystemExit) as e:
        main(["results", "--store", store, "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert e.value.code == 0 and len(rows) == 4 * 3 and {r["sigma2"] for r in rows} == {1.0, 2.0}
    assert NetSpec(8, 3).width == rows[0]["width"]
    with pytest.raises(SystemExit) as e:
        main(["results", "--store", store, "--format", "csv", "--parquet", str(tmp_path / "r.parquet")])
    capsys.readouterr()
    import pandas as pd

    df = pd.read_parquet(tmp_path / "r.parquet")
    assert e.value.code == 0 and len(df) == 12 and sorted(df["value"]) == sorted(r["value"] for r in rows)
    with pytest.raises(SystemExit) as e:
        main(["results", "--store", str(tmp_path / "none.sqlite")])
    assert e.value.code == 2 and "no results store" in capsys.readouterr().err


def test_killed_sweep_resumes_without_duplicates(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    exp = tmp_path / "k.toml"
    exp.write_text("seeds = 40\nmetrics = ['depth_curve', 'lyapunov']\n[net]\nwidth = 96\ndepth = 60\n")
    store = str(tmp_path / "k.sqlite")
    cmd = [sys.executable, "-m", "jacstab", "sweep", str(exp), "--store", store, "--executor", "serial"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    n_before = 0
    while time.time() < deadline and p.poll() is None:
        if os.path.exists(store):
            with Store(store) as st:
                n_before = len(st.finished())
            if n_before >= 3:
                break
        time.sleep(0.1)
    os.kill(p.pid, signal.SIGKILL)  # really killed, mid-sweep
    p.wait()
    assert 3 <= n_before < 40
    r = subprocess.run([*cmd, "--format", "json"], capture_output=True, text=True, check=True)
    (row,) = json.loads(r.stdout)
    assert row["trials"] == 40 and row["skipped"] + row["done"] == 40 and row["skipped"] >= n_before
    with Store(store) as st:
        per = st.conn.execute("SELECT metric, COUNT(*) FROM trial_values GROUP BY trial_id, metric").fetchall()
        assert len(st.finished()) == 40 and sorted({c for _, c in per}) == [60, 96]  # complete trials only


def test_builtin_experiments(tmp_path, capsys):
    from jacstab.lab.builtin import BUILTIN, TRAINING, builtin_experiment, fmnist_installed

    for name in set(BUILTIN) - set(TRAINING):  # the training built-ins: tests/test_lab_train.py
        full, quick = builtin_experiment(name), builtin_experiment(name, quick=True)
        if full.metric_names == ("approx21",):  # Section 6.1: L = 30, n = 100, l = 10, N = 1000 (one trial each)
            assert (full.specs[0].width, full.specs[0].depth) == (100, 30)
            assert dict(full.metrics[0].params) == {"layer": 10, "networks": 1000, "pairs": 50}
            assert dict(quick.metrics[0].params)["networks"] < 1000
            continue
        if BUILTIN[name].get("sizes") == "pruning":  # its grid and sizes: tests/test_pruning_lab.py
            continue
        if isinstance(BUILTIN[name].get("sizes"), dict):  # papers 002/004: their own sizes, the Gaussian input
            qs, fs = quick.specs[0], full.specs[0]
            assert full.input == "default" and len(quick.trials()) <= len(full.trials())
            assert qs.width * qs.depth < fs.width * fs.depth
            continue
        # the paper's input is an MNIST image: Fashion-MNIST's test image 0 when installed, else the Gaussian input
        assert full.input == ("dataset:fashion-mnist:0" if fmnist_installed() else "default")
        assert full.specs[0].input_dim == (784 if fmnist_installed() else 256)
        assert full.specs[0].width == 256 and full.specs[0].depth == 100 and len(full.seeds) == 3
        assert len(quick.trials()) < len(full.trials())
    assert {s.scaling for s in builtin_experiment("fig3").specs} >= {"none", "random", "paper-magnitude"}
    assert min(s.eta for s in builtin_experiment("fig4").specs if s.eta > 0) == 2.0**-8
    with pytest.raises(SystemExit) as e:
        main(["sweep", "figg1", "--store", str(tmp_path / "x.sqlite")])
    assert e.value.code == 2 and "did you mean 'fig" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["experiments", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    names = ["fig1", "fig2", "fig3", "fig4", "fig7-8", "fig9-iid", "fig9-eta", "fig5", "fig6", "gates",
             "orthogonal-jacobian", "orthogonal-jacobian-reg", "residual-alpha", "residual-depth", "separation",
             "fixed-gates-dynamics", "pruning-methods"]
    assert [r["name"] for r in rows] == names and rows[0]["trials_full"] == 9


def test_reproduce_quick_cli(tmp_path, capsys):
    store, out = str(tmp_path / "r.sqlite"), tmp_path / "rep"
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "gates", "--quick", "--store", store,
              "--out", str(out), "--executor", "serial", "--format", "json"])  # training: tests/test_lab_train.py
    rows = json.loads(capsys.readouterr().out)
    names = [f"fig{i}-quick" for i in range(1, 7)] + ["gates-quick"]
    assert e.value.code == 0 and [r["experiment"] for r in rows] == names
    assert all(r["errors"] == 0 for r in rows) and rows[3]["skipped"] >= 2  # eta = 0 is fig1's sigma2 = 2
    assert all((out / f"fig{i}-quick.png").stat().st_size > 10_000 for i in range(1, 5))
    page = (out / "report.html").read_text()
    # one figure per paper figure 1-4 (Fig. 4's norm vs eta is its right panel), gates, fig5 and fig6 (3 each)
    assert page.count("<img") == 4 + 1 + 3 + 3
    assert rows[5]["skipped"] == 2  # fig6 reuses fig5's forward-gate settings (eta = 0 and 2^-3)
    assert "Scaling factors for magnitude pruning vs sparsity" in page  # the Fig. 3 factor comparison


def test_reproduce_unknown_name_is_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "fig77", "--quick", "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "unknown built-in experiment 'fig77'" in err and err.count("\n") == 1


def test_dask_local_cluster_matches_serial_and_dataframe(tmp_path):
    exp = parse_experiment({**BASE, "grid": {"sigma2": [1.0, 2.0]}})
    with Store(tmp_path / "a.sqlite") as a, Store(tmp_path / "d.sqlite") as d:
        run_experiment(exp, a, executor="serial")
        sd = run_experiment(exp, d, executor="dask", workers=2)
        assert (sd.done, sd.errors) == (4, 0)
        key = lambda r: (r["trial_id"], r["metric"], r["index"])  # noqa: E731
        assert [(key(r), r["value"]) for r in sorted(a.rows(), key=key)] == [
            (key(r), r["value"]) for r in sorted(d.rows(), key=key)
        ]
        df = d.dataframe()
        assert len(df) == 4 * 4 and set(df["sigma2"]) == {1.0, 2.0}
    with pytest.raises(ValueError, match="address applies to executor='dask' only"):
        run_experiment(exp, Store(tmp_path / "x.sqlite"), executor="serial", address="tcp://127.0.0.1:1")


def test_report_into_a_file_path_is_a_one_line_error(tmp_path, capsys):
    store = str(tmp_path / "r.sqlite")
    Store(store).close()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as e:
        main(["report", "--store", store, "--out", str(blocker)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("jacstab: error: --out ") and "is a file, not a folder" in err
    assert err.count("\n") == 1


def test_experiments_differing_only_in_k_do_not_share_trials(tmp_path):
    # jacstab 0.1 defect: the id ignored k, so the k = 8 sweep was skipped and read back 2 values
    base = {"seeds": 1, "metrics": ["spectrum", "depth_curve"], "net": {"width": 16, "depth": 3}}
    a, b = parse_experiment({**base, "k": 2}), parse_experiment({**base, "k": 8})
    with Store(tmp_path / "s.sqlite") as st:
        assert run_experiment(a, st, executor="serial").done == 1
        sb = run_experiment(b, st, executor="serial")
        assert (sb.done, sb.skipped) == (1, 0)
        got = st.values(b.trials()[0].id, "spectrum")
        ref = jacstab.singular_values(jacstab.sample(NetSpec(16, 3), 0), k=8, log=True).tolist()
        assert got == ref  # the stored numbers are exactly the library's, all 8 of them
        # depth_curve does not read k: the trial {depth_curve} alone is the same in both experiments
        only = {**base, "metrics": ["depth_curve"]}
        assert parse_experiment(only).trials()[0].id == parse_experiment(only).trials()[0].id
    with pytest.raises(ValueError, match="key 'k' applies to spectrum and lyapunov"):
        parse_experiment({**base, "metrics": ["depth_curve"], "k": 3})


def test_errored_trials_are_retried_on_rerun(tmp_path, monkeypatch):
    import jacstab.lab.metrics as M

    exp = parse_experiment({"seeds": 2, "metrics": ["spectrum"], "k": 2, "net": {"width": 8, "depth": 2}})
    real = M.REGISTRY["spectrum"]

    def flaky(net, params, ctx):
        if net.seed == 1:
            raise MemoryError("simulated out of memory")
        return real.compute(net, params, ctx)

    monkeypatch.setitem(M.REGISTRY, "spectrum", dataclasses.replace(real, compute=flaky))
    with Store(tmp_path / "s.sqlite") as st:
        s1 = run_experiment(exp, st, executor="serial")
        assert (s1.done, s1.errors, s1.retried) == (1, 1, 0)
        s2 = run_experiment(exp, st, executor="serial", retry_errors=False)
        assert (s2.skipped, s2.done, s2.errors) == (2, 0, 0)
        monkeypatch.setitem(M.REGISTRY, "spectrum", real)  # the transient fault is gone
        s3 = run_experiment(exp, st, executor="serial")
        assert (s3.skipped, s3.done, s3.errors, s3.retried) == (1, 1, 0, 1)
        tid = exp.trials()[1].id
        assert st.conn.execute("SELECT attempts FROM trials WHERE trial_id = ?", (tid,)).fetchone() == (2,)
        ref = jacstab.singular_values(jacstab.sample(NetSpec(8, 2), 1), k=2, log=True).tolist()
        assert st.values(tid, "spectrum") == ref


def test_sweep_cli_exits_1_on_failed_trials_and_retries_them(tmp_path, capsys):
    # threshold 100 keeps no weight: every trial fails inside the computation (a stored error, not bad input)
    toml = tmp_path / "bad.toml"
    toml.write_text('seeds = 2\n[net]\nwidth = 8\ndepth = 2\nprune = "magnitude-threshold"\nthreshold = 100.0\n')
    store = str(tmp_path / "b.sqlite")
    base = ["sweep", str(toml), "--store", store, "--executor", "serial", "--format", "json"]
    for extra, want in (([], (0, 2, 0)), ([], (0, 2, 2)), (["--no-retry-errors"], (2, 0, 0))):
        with pytest.raises(SystemExit) as e:
            main(base + extra)
        out = capsys.readouterr()
        (row,) = json.loads(out.out)
        assert (row["skipped"], row["errors"], row["retried"]) == want
        assert e.value.code == (1 if want[1] else 0)
        assert ("2 trials failed" in out.err) == bool(want[1])
    with Store(store) as st:
        assert st.counts() == {"error": 2}
        assert {a for (a,) in st.conn.execute("SELECT attempts FROM trials")} == {2}
        assert all("keeps no weight" in r["error"] for r in st.rows())


def test_report_never_replaces_a_report_with_an_empty_one(tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "report.html").write_text("<html>an earlier report</html>")
    Store(tmp_path / "empty.sqlite").close()
    with pytest.raises(SystemExit) as e:
        main(["report", "--store", str(tmp_path / "empty.sqlite"), "--out", str(out)])
    assert e.value.code == 2 and "nothing to report" in capsys.readouterr().err
    assert (out / "report.html").read_text() == "<html>an earlier report</html>"


def test_a_dying_worker_is_that_trials_error_and_the_sweep_goes_on(tmp_path, monkeypatch):
    # jacstab 0.1: a worker killed mid-sweep crashed the driver with a 31-line traceback
    import _killer
    import jacstab.lab.executors as executors

    monkeypatch.setattr(executors, "compute", _killer.compute_or_die)
    # 8 trials on 2 workers: the break loses the trials in flight (isolated, one pool each) and the queued ones
    # (back to a full pool); both paths run here
    pools, real_pool = [], executors._new_pool
    monkeypatch.setattr(executors, "_new_pool", lambda n: pools.append(n) or real_pool(n))
    exp = parse_experiment({"seeds": 8, "metrics": ["depth_curve"], "net": {"width": 8, "depth": 3}})
    with Store(tmp_path / "s.sqlite") as st:
        s = run_experiment(exp, st, executor="process", workers=2)
        assert (s.done, s.errors) == (7, 1)
        assert pools[0] == 2 and 1 in pools and 2 in pools[1:]
        dead = exp.trials()[1].id
        (err,) = [r["error"] for r in st.rows() if r["trial_id"] == dead]
        assert err.startswith("WorkerDied")
        for t in exp.trials()[:1] + exp.trials()[2:]:  # the innocent trials are complete and exact
            ref = jacstab.depth_curve(jacstab.sample(t.spec, t.seed)).tolist()
            assert st.values(t.id, "depth_curve") == ref


