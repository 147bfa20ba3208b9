"""CLI for issue 13: spectrum --log (with a depth range), lyapunov stderr, --residual."""

import json

import pytest
import torch

import jacstab
from jacstab.cli import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_spectrum_log_rows_equal_the_api(capsys):
    code, out, _ = run(capsys, "spectrum", "-n", "8", "-L", "30", "--log", "--k", "3", "--residual", "0.5",
                       "--format", "json")  # fmt: skip
    rows = json.loads(out)
    net = jacstab.sample(jacstab.NetSpec(8, 30, residual=0.5), 0)
    assert code == 0 and list(rows[0]) == ["seed", "index", "log_singular_value"]
    assert [r["log_singular_value"] for r in rows] == jacstab.log_singular_values(net, k=3).tolist()


def test_spectrum_log_depth_range(capsys):
    code, out, _ = run(capsys, "spectrum", "-n", "8", "-L", "25", "--every", "10", "--k", "2", "--format", "json")
    rows = json.loads(out)
    net = jacstab.sample(jacstab.NetSpec(8, 25), 0)
    ref = jacstab.log_singular_values(net, depths=[10, 20], k=2)
    assert code == 0 and [(r["depth"], r["index"]) for r in rows] == [(10, 1), (10, 2), (20, 1), (20, 2)]
    got = torch.tensor([r["log_singular_value"] for r in rows], dtype=torch.float64)
    torch.testing.assert_close(got, ref.reshape(-1))


def test_lyapunov_rows_have_stderr(capsys):
    code, out, _ = run(capsys, "lyapunov", "-n", "8", "-L", "40", "--k", "2", "--format", "json")
    rows = json.loads(out)
    res = jacstab.lyapunov(jacstab.sample(jacstab.NetSpec(8, 40), 0), k=2)
    assert code == 0 and list(rows[0]) == ["seed", "index", "exponent", "stderr"]
    assert [r["stderr"] for r in rows] == res.stderr.tolist()


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["spectrum", "-n", "8", "-L", "5", "--every", "0"], "--every must be >= 1"),
        (["spectrum", "-n", "8", "-L", "5", "--log", "--method", "dense"], "--method does not apply"),
        (["measure", "-n", "8", "-L", "3", "--residual", "-1"], "residual must be a finite number"),
    ],
)
def test_bad_spectral_options_exit_2_with_one_line(capsys, argv, msg):
    code, _, err = run(capsys, *argv)
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert code == 2 and len(lines) == 1 and msg in lines[0]
