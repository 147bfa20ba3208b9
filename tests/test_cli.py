"""The CLI contract: formats, rows, one-line errors with exit code 2, the console script itself."""

import csv
import io
import json
import math
import subprocess
import sys

import pytest
import torch

import jacstab
from jacstab.cli import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_measure_json_rows_equal_library_values(capsys):
    code, out, _ = run(
        capsys, "measure", "--width", "16", "--depth", "4", "--seeds", "2", "--seed0", "3", "--format", "json"
    )
    rows = json.loads(out)
    assert code == 0 and [(r["seed"], r["depth"]) for r in rows] == [(s, d) for s in (3, 4) for d in range(1, 5)]
    curve = jacstab.depth_curve(jacstab.sample(jacstab.NetSpec(16, 4), 4))
    assert [r["log_norm"] for r in rows[4:]] == curve.tolist()


def test_measure_csv_and_table(capsys):
    code, out, err = run(capsys, "measure", "-n", "8", "-L", "3", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0]) == ["seed", "depth", "log_norm"] and len(rows) == 3
    assert "normalised" in err  # the default input is announced
    code, out, _ = run(capsys, "measure", "-n", "8", "-L", "3")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["seed", "depth", "log_norm"] and len(lines) == 4
    assert math.isclose(float(lines[3].split()[2]), float(rows[2]["log_norm"]), rel_tol=1e-9)


def test_spectrum_and_lyapunov(capsys):
    code, out, _ = run(capsys, "spectrum", "-n", "12", "-L", "3", "--k", "4", "--format", "json", "--method", "dense")
    rows = json.loads(out)
    net = jacstab.sample(jacstab.NetSpec(12, 3), 0)
    ref = jacstab.singular_values(net, k=4).tolist()
    assert code == 0 and [r["index"] for r in rows] == [1, 2, 3, 4]
    assert all(math.isclose(r["singular_value"], v, rel_tol=1e-9) for r, v in zip(rows, ref))
    code, out, _ = run(capsys, "lyapunov", "-n", "12", "-L", "20", "--k", "3", "--format", "json")
    lam = jacstab.lyapunov_exponents(jacstab.sample(jacstab.NetSpec(12, 20), 0), k=3).tolist()
    assert code == 0 and [r["exponent"] for r in json.loads(out)] == lam


def test_spectrum_overflow_is_written_as_inf_in_valid_json(capsys):
    code, out, _ = run(capsys, "spectrum", "-n", "32", "-L", "1500", "--sigma2", "8", "--k", "1", "--format", "json")
    (row,) = json.loads(out)
    assert code == 0 and row["singular_value"] == "inf" and row["log_singular_value"] > 709


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["measure", "--width", "0", "--depth", "3"], "width must be an integer >= 1"),
        (["measure", "-n", "4", "-L", "3", "--sigma2", "-1"], "sigma2 must be"),
        (["measure", "-n", "4", "-L", "3", "--activation", "rleu"], "did you mean 'relu'"),
        (["measure", "-n", "4", "-L", "3", "--init", "xavier"], "init must be one of"),
        (["measure", "-n", "4"], "Missing option '--depth'"),
        (["measure", "-n", "4", "-L", "3", "--seeds", "0"], "--seeds must be >= 1"),
        (["measure", "-n", "4", "-L", "3", "--format", "xml"], "'xml' is not one of"),
        (["spectrum", "-n", "4", "-L", "3", "--at-depth", "5"], "--at-depth must be in [1, 3]"),
        (["spectrum", "-n", "4", "-L", "3", "--k", "9"], "--k must be an integer in [1, 4]"),
        (["lyapunov", "-n", "4", "-L", "3", "--k", "0"], "--k must be"),
        (["measure", "-n", "4", "-L", "3", "--device", "tpu"], "--device must be"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = [ln for ln in err.splitlines() if not ln.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("jacstab: error: ") and needle in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error(capsys):
    code, _, err = run(capsys, "measure", "-n", "4", "-L", "2", "--device", "cuda")
    assert code == 2 and "no CUDA device is available" in err


@pytest.mark.parametrize("cmd", ["measure", "spectrum", "lyapunov"])
def test_help(capsys, cmd):
    code, out, _ = run(capsys, cmd, "--help")
    assert code == 0 and "--format" in out and "--width" in out


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


def test_certify_scalings_theory_commands(capsys):
    code, out, err = run(
        capsys,
        "certify",
        "-n",
        "256",
        "-L",
        "20",
        "--prune",
        "magnitude",
        "--sparsity",
        "0.9",
        "--scaling",
        "paper-magnitude",
        "--format",
        "json",
    )
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and set(rows) >= {"(i)", "(ii)", "(iii)", "sparsity edge"}
    assert rows["(ii)"]["value"] > 0.5 and "smallest: e" in err  # exact or empirical restore (ii)
    code, out, err = run(
        capsys,
        "scalings",
        "-n",
        "64",
        "-L",
        "6",
        "--prune",
        "random",
        "--sparsity",
        "0.5",
        "--every",
        "3",
        "--format",
        "json",
    )
    assert "most stable: " in err and "most stable: none" not in err  # unscaled loses (1/2) log 2 per layer
    rows = json.loads(out)
    by = {(r["scaling"], r["depth"]): r for r in rows}
    assert code == 0 and {r["scaling"] for r in rows} == {"none", "random", "exact", "empirical"}
    # exact identity: unscaled = scaled + (d/2) log(1 - s) on the same weights
    assert math.isclose(
        by[("none", 6)]["log_norm_mean"], by[("random", 6)]["log_norm_mean"] + 3 * math.log(0.5), abs_tol=1e-9
    )
    code, out, _ = run(
        capsys, "theory", "moments", "--depth", "1", "--p", "1", "--sigma2", "1", "--k", "4", "--format", "json"
    )
    assert code == 0 and [r["moment"] for r in json.loads(out)] == pytest.approx([1, 2, 5, 14])
    for kind in ("edge", "density", "lyapunov", "scaling", "lognormal"):
        code, out, _ = run(capsys, "theory", kind, "--format", "csv")
        assert code == 0 and len(out.splitlines()) >= 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["measure", "-n", "8", "-L", "2", "--prune", "random", "--sparsity", "1"], "sparsity must be in [0, 1)"),
        (["measure", "-n", "8", "-L", "2", "--eta", "-1"], "eta must be"),
        (["measure", "-n", "8", "-L", "2", "--prune", "magnitude-threshold", "--threshold", "40"], "keeps no weight"),
        (["scalings", "-n", "8", "-L", "2"], "give --prune"),
        (["theory", "scaling", "--sparsities", "0.5,1.2"], "--sparsities must lie"),
        (["theory", "edge", "--depth", "0"], "--depth must be >= 1"),
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


def test_ctrl_c_keeps_finished_rows_and_valid_json():
    import signal
    import time

    p = subprocess.Popen(
        [sys.executable, "-m", "jacstab", "measure", "-n", "128", "-L", "50", "--seeds", "100000", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    first = p.stdout.read(1)  # "[": the rows are under way (unbuffered, so nothing is read ahead)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    rows, err = json.loads((first + out).decode()), err.decode()
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert 0 < len(rows) < 100000 * 50 and len(rows) % 50 == 0  # only whole seeds, each with all 50 depths
