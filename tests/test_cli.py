"""The CLI contract: formats, rows equal to the library's values, grouped help with runnable examples, one-line
errors (exit 2 for bad input, 1 for a bug), --quiet, --debug, and no torch import for --help."""

import csv
import io
import json
import math
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import stats

import jacstab
from jacstab import _checks
from jacstab.cli import cli, main

NETWORK_COMMANDS = ("measure", "spectrum", "lyapunov", "certify", "scalings")
ALL_COMMANDS = tuple(cli.commands)


def run(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def one_line(err):
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_measure_json_rows_equal_library_values(capsys):
    code, out, _ = run(
        capsys, "measure", "--width", "16", "--depth", "4", "--seeds", "2", "--seed0", "3", "--format", "json"
    )
    rows = json.loads(out)
    assert code == 0 and [(r["seed"], r["depth"]) for r in rows] == [(s, d) for s in (3, 4) for d in range(1, 5)]
    assert list(rows[0]) == ["seed", "depth", "log_norm"]
    for seed, part in ((3, rows[:4]), (4, rows[4:])):
        curve = jacstab.depth_curve(jacstab.sample(jacstab.NetSpec(16, 4), seed))
        assert [r["log_norm"] for r in part] == curve.tolist()


def test_measure_csv_and_table(capsys):
    code, out, err = run(capsys, "measure", "-n", "8", "-L", "3", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0]) == ["seed", "depth", "log_norm"] and len(rows) == 3
    assert "normalised" in err and "README" in err  # the default input is announced, pointing into the repo
    curve = jacstab.depth_curve(jacstab.sample(jacstab.NetSpec(8, 3), 0)).tolist()
    assert [float(r["log_norm"]) for r in rows] == pytest.approx(curve, rel=1e-9)
    code, out, _ = run(capsys, "measure", "-n", "8", "-L", "3")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["seed", "depth", "log_norm"] and len(lines) == 4
    assert math.isclose(float(lines[3].split()[2]), curve[2], rel_tol=1e-9)


def test_spectrum_and_lyapunov(capsys):
    code, out, _ = run(capsys, "spectrum", "-n", "12", "-L", "3", "--k", "4", "--format", "json", "--method", "dense")
    rows = json.loads(out)
    net = jacstab.sample(jacstab.NetSpec(12, 3), 0)
    ref = jacstab.singular_values(net, k=4).tolist()
    assert code == 0 and [r["index"] for r in rows] == [1, 2, 3, 4]
    assert list(rows[0]) == ["seed", "index", "singular_value", "log_singular_value"]
    assert all(math.isclose(r["singular_value"], v, rel_tol=1e-9) for r, v in zip(rows, ref))
    code, out, _ = run(capsys, "lyapunov", "-n", "12", "-L", "20", "--k", "3", "--format", "json")
    lam = jacstab.lyapunov_exponents(jacstab.sample(jacstab.NetSpec(12, 20), 0), k=3).tolist()
    assert code == 0 and [r["exponent"] for r in json.loads(out)] == lam


def test_spectrum_overflow_is_written_as_inf_in_valid_json(capsys):
    code, out, _ = run(capsys, "spectrum", "-n", "32", "-L", "1500", "--sigma2", "8", "--k", "1", "--format", "json")
    (row,) = json.loads(out)
    assert code == 0 and row["singular_value"] == "inf" and row["log_singular_value"] > 709


def test_out_dim_reaches_the_spec(capsys, monkeypatch):
    seen = []
    real = jacstab.sample

    def spy(spec, seed, **kw):
        seen.append(spec)
        return real(spec, seed, **kw)

    monkeypatch.setattr(jacstab, "sample", spy)
    code, out, _ = run(capsys, "measure", "-n", "8", "-L", "2", "--out-dim", "3", "--format", "json")
    assert code == 0 and seen and all(s.out_dim == 3 for s in seen)
    assert seen[0] == jacstab.NetSpec(8, 2, out_dim=3)
    assert [r["log_norm"] for r in json.loads(out)] == jacstab.depth_curve(real(seen[0], 0)).tolist()
    code, _, err = run(capsys, "measure", "-n", "8", "-L", "2", "--out-dim", "0")
    assert code == 2 and "out_dim must be" in one_line(err)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["measure", "--width", "0", "--depth", "3"], "width must be an integer >= 1"),
        (["measure", "-n", "4", "-L", "3", "--sigma2", "-1"], "sigma2 must be"),
        (["measure", "-n", "4", "-L", "3", "--activation", "rleu"], "did you mean 'relu'"),
        (["measure", "-n", "4", "-L", "3", "--activation", "RELU"], "did you mean 'relu'"),  # case-sensitive
        (["measure", "-n", "4", "-L", "3", "--init", "xavier"], "'xavier' is not one of 'gaussian', 'orthogonal'"),
        (["measure", "-n", "4", "-L", "3", "--prune", "magnitud"], "did you mean 'magnitude'"),
        (["measure", "-n", "4"], "Missing option '--depth'"),
        (["measure", "-n", "4", "-L", "3", "--seeds", "0"], "--seeds must be >= 1"),
        (["measure", "-n", "4", "-L", "3", "--format", "xml"], "'xml' is not one of"),
        (["measure", "-n", "4", "-L", "3", "--format", "jsn"], "did you mean 'json'"),
        (["spectrum", "-n", "4", "-L", "3", "--at-depth", "5"], "--at-depth must be in [1, 3]"),
        (["spectrum", "-n", "4", "-L", "3", "--k", "9"], "--k must be an integer in [1, 4]"),
        (["spectrum", "-n", "4", "-L", "3", "--method", "lanzcos"], "did you mean 'lanczos'"),
        (["lyapunov", "-n", "4", "-L", "3", "--k", "0"], "--k must be"),
        (["measure", "-n", "4", "-L", "3", "--device", "tpu"], "--device must be"),
        (["theory", "egde"], "did you mean 'edge'"),
        (["sweep", "fig9", "--store", "x.sqlite"], "did you mean 'fig"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = [ln for ln in err.splitlines() if not ln.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("jacstab: error: ") and needle in lines[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["measure", "-n", "8", "-L", "2", "--prune", "random", "--sparsity", "1"], "sparsity must be in [0, 1)"),
        (["measure", "-n", "8", "-L", "2", "--eta", "-1"], "eta must be"),
        (["measure", "-n", "8", "-L", "2", "--prune", "magnitude-threshold", "--threshold", "40"], "keeps no weight"),
        (["scalings", "-n", "8", "-L", "2"], "give --prune"),
        (["scalings", "-n", "8", "-L", "2", "--prune", "random", "--every", "0"], "--every must be >= 1"),
        (["theory", "scaling", "--sparsities", "0.5,1.2"], "--sparsities must lie"),
        (["theory", "edge", "--depth", "0"], "--depth must be >= 1"),
        (["theory", "edge", "--p", "0"], "p (the mask density) must be in (0, 1]"),
        (
            ["certify", "-n", "8", "-L", "2", "--prune", "snip", "--sparsity", "0.5", "--scaling", "exact"],
            "use scaling='empirical'",
        ),
    ],
)
def test_bad_pruning_input_on_the_cli(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    lines = [ln for ln in err.splitlines() if not ln.startswith("note:")]
    assert code == 2 and out == "" and len(lines) == 1 and needle in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error(capsys):
    code, _, err = run(capsys, "measure", "-n", "4", "-L", "2", "--device", "cuda")
    assert code == 2 and "no CUDA device is available" in err


# --- --debug, --quiet, internal errors ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["group", "command"])
def test_debug_shows_the_traceback_default_is_one_line(capsys, where):
    argv = ["measure", "-n", "0", "-L", "3"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and one_line(err) == "jacstab: error: width must be an integer >= 1, got 0"
    code, _, err = run(capsys, *(["--debug", *argv] if where == "group" else [*argv, "--debug"]))
    assert code == 2 and err.startswith("Traceback (most recent call last):")
    assert err.rstrip().splitlines()[-1] == "ValueError: width must be an integer >= 1, got 0"


def test_an_unexpected_exception_is_an_internal_error_exit_1(capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(jacstab, "depth_curve", boom)
    code, _, err = run(capsys, "measure", "-n", "4", "-L", "2", "--quiet")
    expected = "jacstab: internal error: RuntimeError: boom (rerun with --debug for the traceback)"
    assert code == 1 and one_line(err) == expected
    assert json.loads(run(capsys, "measure", "-n", "4", "-L", "2", "-q", "--format", "json")[1]) == []
    code, _, err = run(capsys, "--debug", "measure", "-n", "4", "-L", "2", "-q")
    assert code == 1 and "Traceback" in err and err.rstrip().endswith("RuntimeError: boom")


@pytest.mark.parametrize("where", ["group", "command"])
def test_quiet_leaves_rows_only(capsys, where):
    argv = ["scalings", "-n", "16", "-L", "3", "--prune", "random", "--sparsity", "0.5", "--format", "csv"]
    code, out, err = run(capsys, *argv)
    assert code == 0 and "note: input" in err and "summary: " in err
    loud = out
    code, out, err = run(capsys, *(["--quiet", *argv] if where == "group" else [*argv, "-q"]))
    assert code == 0 and err == "" and out == loud
    code, out, err = run(capsys, "measure", "-n", "8", "-L", "2", "--quiet")
    assert code == 0 and err == "" and len(out.splitlines()) == 3
    code, out, err = run(capsys, "certify", "-n", "64", "-L", "4", "-q")
    assert code == 0 and err == "" and "(ii)" in out


# --- help: choices, sections, examples, no torch ----------------------------------------------------------------


def help_text(capsys, cmd):
    code, out, _ = run(capsys, cmd, "--help")
    assert code == 0
    return out


def examples(text):
    """The command lines of the help's Example block (it ends the help)."""
    block = text.split("Example:\n", 1)[1]
    return [ln.strip() for ln in block.splitlines() if ln.strip()]


@pytest.mark.parametrize("cmd", ALL_COMMANDS)
def test_every_help_lists_output_flags_and_ends_with_an_example(capsys, cmd):
    out = help_text(capsys, cmd)
    assert "\nOutput:\n" in out
    for needle in ("--format [table|csv|json|jsonl]", "--quiet", "--debug", "--help"):
        assert needle in out
    lines = examples(out)
    assert lines and all(ln.startswith(f"jacstab {cmd}") for ln in lines)
    assert out.rstrip().endswith(lines[-1])


@pytest.mark.parametrize("cmd", NETWORK_COMMANDS)
def test_network_commands_group_options_and_list_choices(capsys, cmd):
    out = help_text(capsys, cmd)
    heads = [ln[:-1] for ln in out.splitlines() if ln and not ln[0].isspace() and ln.endswith(":")]
    assert heads[:4] == ["Network", "Pruning", "Correlation", "Seeds"] and heads[-1] == "Output"
    assert out.index("\nOutput:\n") < out.index("Example:\n")
    for choices in (
        _checks.ACTIVATIONS,
        _checks.INITS,
        _checks.PRUNES,
        _checks.SCALINGS,
        _checks.SCOPES,
        _checks.CORRELATIONS,
        _checks.DTYPE_NAMES,
    ):
        assert "[" + "|".join(choices) + "]" in out
    assert "--out-dim" in out and "--width" in out


def test_command_specific_choices_are_listed(capsys):
    assert "[" + "|".join(_checks.METHODS) + "]" in help_text(capsys, "spectrum")
    for cmd in ("sweep", "reproduce"):
        assert "[" + "|".join(_checks.EXECUTORS) + "]" in help_text(capsys, cmd)
    out = help_text(capsys, "theory")
    assert "{predict|edge|moments|density|lyapunov|scaling" in out and "|lognormal}" in out
    assert "ddof = 1" in help_text(capsys, "scalings")


def test_no_message_points_outside_the_repository(capsys):
    texts = [help_text(capsys, cmd) for cmd in ALL_COMMANDS]
    texts.append(run(capsys, "measure", "-n", "4", "-L", "2")[2])
    assert not any("DESIGN" in t for t in texts)


@pytest.mark.parametrize("cmd", ["measure", "spectrum", "lyapunov", "certify", "scalings", "theory", "experiments",
                                 "isometry"])
def test_the_help_example_runs(capsys, tmp_path, monkeypatch, cmd):
    monkeypatch.chdir(tmp_path)
    for line in examples(help_text(capsys, cmd)):
        code, out, err = run(capsys, *shlex.split(line)[1:])
        assert code == 0, err
        assert out.strip() and "error" not in err


def test_the_help_examples_of_the_lab_run_in_order(capsys, tmp_path, monkeypatch):
    """sweep fills demo.sqlite, results exports it, report plots it (reproduce's example is the slow one)."""
    monkeypatch.chdir(tmp_path)
    for cmd in ("sweep", "results", "report"):
        for line in examples(help_text(capsys, cmd)):
            code, out, err = run(capsys, *shlex.split(line)[1:])
            assert code == 0, err
            assert out.strip()
    assert (tmp_path / "demo.sqlite").is_file() and (tmp_path / "demo-report").is_dir()
    code, out, _ = run(capsys, "results", "--store", "demo.sqlite", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and {r["prune"] for r in rows} == {"random"} and all(r["status"] == "done" for r in rows)


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from jacstab.cli import cli, main\n"
        "for argv in (['--help'], *([c, '--help'] for c in sorted(cli.commands))):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, argv\n"
        "print('torch imported:', 'torch' in sys.modules, file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "torch imported: False"
    assert "Usage: jacstab theory" in r.stdout and "Usage: jacstab measure" in r.stdout


def test_bare_jacstab_shows_help(capsys):
    code, out, _ = run(capsys)
    assert code == 0 and "Commands:" in out and "measure" in out


def test_console_script_runs_as_a_process():
    r = subprocess.run(
        [sys.executable, "-m", "jacstab", "measure", "-n", "8", "-L", "2", "--format", "csv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "seed,depth,log_norm"
    r = subprocess.run(
        [sys.executable, "-m", "jacstab", "measure", "-n", "-3", "-L", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


# --- certify, scalings, theory -----------------------------------------------------------------------------------


def test_certify(capsys):
    argv = ["certify", "-n", "256", "-L", "20", "--prune", "magnitude", "--sparsity", "0.9"]
    code, out, err = run(capsys, *argv, "--scaling", "paper-magnitude", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and list(rows[0]) == ["seed", "name", "formula", "value", "must_tend_to", "verdict"]
    by = {r["name"]: r for r in rows}
    assert set(by) >= {"(i)", "(ii)", "(iii)", "sparsity edge"} and {r["seed"] for r in rows} == {"law"}
    spec = jacstab.NetSpec(256, 20, prune="magnitude", sparsity=0.9, scaling="paper-magnitude")
    lib = {r["name"]: r for r in jacstab.certify(spec).rows()}
    assert by["(ii)"]["value"] == pytest.approx(lib["(ii)"]["value"], rel=1e-12) and by["(ii)"]["value"] > 0.5
    assert "smallest: e" in err  # exact or empirical restore (ii)
    code, out, _ = run(capsys, *argv, "--scaling", "exact", "--sampled", "--seeds", "2", "--format", "json")
    assert code == 0 and {r["seed"] for r in json.loads(out)} == {0, 1}


def test_scalings_rows_equal_library_curves(capsys):
    argv = ["scalings", "-n", "64", "-L", "30", "--prune", "random", "--sparsity", "0.5", "--seeds", "3"]
    code, out, err = run(capsys, *argv, "--every", "15", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and list(rows[0]) == ["scaling", "depth", "log_norm_mean", "log_norm_ci_low", "log_norm_ci_high",
                                           "log_norm_sd", "seeds", "condition_ii"]
    assert {r["scaling"] for r in rows} == {"none", "random", "exact", "empirical", "approx-isometry"}
    assert {r["depth"] for r in rows} == {15, 30} and {r["seeds"] for r in rows} == {3}
    by = {(r["scaling"], r["depth"]): r for r in rows}
    base = jacstab.NetSpec(64, 30, prune="random", sparsity=0.5)
    for rule in ("none", "random"):
        c = np.array([jacstab.depth_curve(jacstab.sample(base.replace(scaling=rule), s)).tolist() for s in range(3)])
        for d in (15, 30):
            assert by[(rule, d)]["log_norm_mean"] == pytest.approx(c[:, d - 1].mean(), rel=1e-12)
            assert by[(rule, d)]["log_norm_sd"] == pytest.approx(c[:, d - 1].std(ddof=1), rel=1e-10)
            half = stats.t.ppf(0.975, 2) * c[:, d - 1].std(ddof=1) / math.sqrt(3)  # 95% t-interval, 3 seeds
            assert by[(rule, d)]["log_norm_ci_high"] == pytest.approx(c[:, d - 1].mean() + half, rel=1e-10)
            assert by[(rule, d)]["log_norm_ci_low"] == pytest.approx(c[:, d - 1].mean() - half, rel=1e-10)
    # exact identity: unscaled = scaled + (d/2) log(1 - s) on the same weights
    assert by[("none", 30)]["log_norm_mean"] == pytest.approx(by[("random", 30)]["log_norm_mean"] + 15 * math.log(0.5))
    assert by[("random", 15)]["condition_ii"] == pytest.approx(0, abs=1e-12)
    assert by[("none", 15)]["condition_ii"] == pytest.approx(0.5)  # |1/2 * 2 * (1 - s) - 1|
    # the summary: every rule's growth with its CI, and the ranking (unscaled loses (1/2) log 2 per layer)
    (summary,) = [ln for ln in err.splitlines() if ln.startswith("summary:")]
    assert summary.startswith("summary: growth of log||J|| per layer") and "95% CI, 3 seeds" in summary
    assert "most stable: " in summary and "most stable: none" not in summary and " ± " in summary


def test_scalings_summary_uses_the_lab_analysis():
    from jacstab.lab.analysis import growth_slope, growth_start
    from jacstab.lab.scalings import compare_scalings

    base = jacstab.NetSpec(32, 30, prune="random", sparsity=0.5)
    run_ = compare_scalings(base, range(2), every=10)
    rows = list(run_)
    rules = ("none", "random", "exact", "empirical", "approx-isometry")
    assert [(r["scaling"], r["depth"]) for r in rows] == [(s, d) for s in rules for d in (10, 20, 30)]
    curves = np.array([jacstab.depth_curve(jacstab.sample(base, s)).tolist() for s in range(2)])
    slopes = run_.summary.slopes
    want = growth_slope(curves, start=growth_start(30)).value  # the second half of the depths, as the report
    assert slopes["none"].value == pytest.approx(want, rel=1e-12) and slopes["none"].n_seeds == 2
    # same weights: unscaled random pruning loses exactly (1/2) log(1/(1 - s)) per layer, in every seed
    assert slopes["none"].value == pytest.approx(slopes["random"].value + 0.5 * math.log(0.5), abs=1e-9)
    assert slopes["none"].se == pytest.approx(slopes["random"].se, abs=1e-9)
    assert run_.summary.most_stable == run_.summary.ranking.best != "none"
    assert run_.summary.ranking.order[-1][0] == "none"
    assert f"none {slopes['none'].format()}" in str(run_.summary)


def test_theory_edge_linear_case(capsys):
    code, out, _ = run(capsys, "theory", "edge", "--depth", "20", "--sigma2", "1", "--p", "1", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["depth"] for r in rows] == list(range(1, 21))
    assert rows[-1]["predicted_log_norm"] == pytest.approx(2.0102, abs=5e-5)
    assert rows[-1]["predicted_log_norm"] == jacstab.theory.predicted_log_norm(20, 1.0, 1.0)
    # Fuss-Catalan edge (L+1)^(L+1) / L^L of ||J||^2, independently
    assert rows[-1]["predicted_log_norm"] == pytest.approx(0.5 * (21 * math.log(21) - 20 * math.log(20)), rel=1e-12)
    assert all(r["theorem_2_2_log_norm"] == 0 for r in rows)  # (1/2) log(sigma2 p) = 0 per layer
    code, out, _ = run(capsys, "theory", "edge", "--depth", "3", "--sigma2", "4", "--format", "json")
    rows = json.loads(out)
    assert [r["theorem_2_2_log_norm"] for r in rows] == pytest.approx([d * 0.5 * math.log(2) for d in (1, 2, 3)])
    assert [r["predicted_log_norm"] for r in rows] == [
        jacstab.theory.predicted_log_norm(d, 0.5, 4.0) for d in (1, 2, 3)
    ]


def test_other_theory_kinds(capsys):
    code, out, _ = run(
        capsys, "theory", "moments", "--depth", "1", "--p", "1", "--sigma2", "1", "--k", "4", "--format", "json"
    )
    assert code == 0 and [r["moment"] for r in json.loads(out)] == pytest.approx([1, 2, 5, 14])
    code, out, _ = run(capsys, "theory", "lyapunov", "-n", "5", "--sigma2", "1", "--format", "json")
    lam = jacstab.theory.gaussian_lyapunov(5, 1.0).tolist()
    assert code == 0 and [r["exponent"] for r in json.loads(out)] == lam
    code, out, _ = run(
        capsys, "theory", "lognormal", "--activation", "linear", "-n", "64", "-L", "8", "--format", "json"
    )
    (row,) = json.loads(out)
    assert (row["mean"], row["variance"]) == jacstab.theory.log_norm_sq_lognormal(64, 8, "linear", 2.0)
    for kind in ("density", "scaling"):
        code, out, _ = run(capsys, "theory", kind, "--format", "csv")
        assert code == 0 and len(out.splitlines()) >= 2


def test_spectrum_says_which_method_ran(capsys, monkeypatch):
    with pytest.raises(SystemExit):
        main(["spectrum", "-n", "16", "-L", "3", "--k", "2", "--seeds", "2", "--method", "lanczos", "--format", "json"])
    out = capsys.readouterr()
    assert out.err.count("method: lanczos (requested)") == 1  # once, not once per seed
    import jacstab.engine.api as engine_api
    from jacstab.engine._krylov import EigResult

    def never(*a, **kw):
        return EigResult(torch.zeros(a[2], dtype=torch.float64), torch.zeros(a[1], a[2], dtype=torch.float64), 1, False)

    monkeypatch.setattr(engine_api, "top_eigs", never)
    with pytest.raises(SystemExit):
        main(["spectrum", "-n", "16", "-L", "3", "--k", "2", "--method", "lanczos", "--format", "json"])
    out = capsys.readouterr()
    assert "method: dense" in out.err and "fallback: lanczos -> dense" in out.err
    rows = json.loads(out.out)
    ref = jacstab.singular_values(jacstab.sample(jacstab.NetSpec(16, 3), 0), k=2, log=True).tolist()
    assert [r["log_singular_value"] for r in rows] == pytest.approx(ref, rel=1e-10)  # the fallback is exact


def test_theory_predict_rows_equal_the_library_and_edge_refuses_an_activation(capsys):
    with pytest.raises(SystemExit) as e:
        main(
            [
                "theory",
                "predict",
                "-n",
                "256",
                "-L",
                "100",
                "--activation",
                "linear",
                "--sigma2",
                "1",
                "--format",
                "json",
            ]
        )
    rows = {r["quantity"]: r for r in json.loads(capsys.readouterr().out)}
    pred = jacstab.theory.predict(jacstab.NetSpec(256, 100, activation="linear", sigma2=1.0))
    assert e.value.code == 0 and rows["growth_per_layer"]["value"] == 0.0 and rows["condition_ii"]["value"] == 0.0
    assert rows["log_norm(L=100)"]["value"] == pytest.approx(float(pred.log_norm[-1]), rel=1e-12)  # 2.805
    with pytest.raises(SystemExit) as e:
        main(["theory", "edge", "--activation", "linear"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "theory predict" in err and err.count("\n") == 1
