"""``jacstab train``: rows equal to the library's, the validation grid, one-line errors, Ctrl-C keeps epochs."""

import json
import signal
import subprocess
import sys

import pytest

import jacstab
from jacstab.cli import main

LAUNCH = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'jacstab'; import runpy; runpy.run_module('jacstab', run_name='__main__')"
)


def run(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def base(toy, *extra):
    return ["train", "-n", "32", "-L", "2", "--dataset", "idx", "--data-dir", str(toy), "--epochs", "2", *extra]


def test_rows_equal_the_library(capsys, toy):
    code, out, err = run(capsys, *base(toy, "--seeds", "2", "--lr", "0.05", "--format", "json"))
    assert code == 0, err
    rows = json.loads(out)
    for seed in (0, 1):
        lib = jacstab.train(jacstab.NetSpec(32, 2), "idx", data_dir=toy, epochs=2, lr=0.05, seed=seed,
                            dtype=__import__("torch").float32)
        got = [r for r in rows if r["seed"] == seed]
        assert got == json.loads(json.dumps(lib.rows()))  # same numbers, epochs 0..2
    assert "data: idx from" in err


def test_grid_prints_the_chosen_lr(capsys, toy):
    code, out, err = run(capsys, *base(toy, "--lr", "0.5", "--lr", "0.01", "--format", "json"))
    rows = json.loads(out)
    chosen = {r["lr"] for r in rows}
    assert code == 0 and len(chosen) == 1 and len(rows) == 3
    assert f"lr {chosen.pop():g} chosen on validation accuracy" in err
    code, out, _ = run(capsys, *base(toy, "--lr", "0.5", "--lr", "0.01", "--all-lrs", "--format", "csv"))
    lines = out.splitlines()
    assert lines[0].endswith(",diverged,chosen") and len(lines) == 1 + 6
    assert sum(line.endswith(",True") for line in lines[1:]) == 3  # one lr's three epochs are the chosen ones


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--epochs", "0"], "epochs must be"),
        (["--in-dim", "10"], "in_dim=10 but idx images have d = 64"),
        (["--lr", "0.1", "--lr", "0.1"], "repeated"),
        (["--optimizer", "adam", "--momentum", "0.9"], "momentum is an SGD option"),
        (["--subset", "0"], "subset"),
    ],
)
def test_bad_arguments_one_line_exit_2(capsys, toy, extra, message):
    code, out, err = run(capsys, *base(toy), *extra)
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1


def test_missing_dataset_names_folder_and_package(capsys, tmp_path):
    code, out, err = run(capsys, "train", "-n", "8", "-L", "1", "--epochs", "1", "--data-dir", str(tmp_path))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert str(tmp_path) in err and "apt-get install dataset-fashion-mnist" in err


def test_ctrl_c_keeps_finished_epochs(toy):
    args = base(toy, "--epochs", "100000", "--lr", "0.01", "--format", "json")
    p = subprocess.Popen([sys.executable, "-c", LAUNCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         bufsize=0)
    try:
        head = p.stdout.readline() + p.stdout.readline() + p.stdout.readline()  # "[", epoch 0, epoch 1
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    rows = json.loads((head + out).decode())
    assert p.returncode == 130 and "interrupted" in err.decode() and "Traceback" not in err.decode()
    assert len(rows) >= 2 and [r["epoch"] for r in rows] == list(range(len(rows)))
