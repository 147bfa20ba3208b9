"""A corpus of bad inputs, given as a new user would give them (issue 9, item 8).

CLI: every case exits with code 2, prints nothing on stdout, and exactly one line on stderr that starts with
``jacstab: error:``, names the offending option or field (with a did-you-mean hint where a choice was misspelled)
and carries no traceback; no store, report folder or any other file is created or changed.
API: every case raises the named exception with a one-line message that names the field.

All cases run in a scratch folder with ``JACSTAB_MAX_BYTES`` at 4 GiB, so the size checks fail the same way on any
machine and no case can allocate more than that even if a check were missing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import jacstab
from jacstab.cli import main

MAX_BYTES = 4 * 2**30
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given when no GPU is present")
NET = ["-n", "4", "-L", "3"]

# Experiment files of the sweep cases (written into the scratch folder by the ``workdir`` fixture).
_GRID_1E8 = (
    "[net]\nwidth = 4\n[grid]\n"
    f"depth = {list(range(1, 10_001))}\n"
    f"sigma2 = {[round(1.0 + i * 1e-4, 4) for i in range(10_000)]}\n"
)
TOMLS = {
    "ok.toml": "[net]\nwidth = 4\ndepth = 3\n",
    "unknown_top.toml": "sedes = 3\n[net]\nwidth = 4\ndepth = 3\n",
    "unknown_net.toml": "[net]\nwidht = 4\ndepth = 3\n",
    "unknown_grid.toml": "[net]\nwidth = 4\n[grid]\ndepht = [1, 2]\n",
    "width_str.toml": "[net]\nwidth = '4'\ndepth = 3\n",
    "seeds_str.toml": "seeds = 'three'\n[net]\nwidth = 4\ndepth = 3\n",
    "seeds_zero.toml": "seeds = 0\n[net]\nwidth = 4\ndepth = 3\n",
    "k_true.toml": "k = true\nmetrics = ['spectrum']\n[net]\nwidth = 4\ndepth = 3\n",
    "k_unread.toml": "k = 2\n[net]\nwidth = 4\ndepth = 3\n",
    "seeds_1e9.toml": "seeds = 1000000000\n[net]\nwidth = 4\ndepth = 3\n",
    "grid_1e8.toml": _GRID_1E8,
    "grid_empty.toml": "[net]\nwidth = 4\n[grid]\ndepth = []\n",
    "grid_scalar.toml": "[net]\nwidth = 4\n[grid]\ndepth = 3\n",
    "net_and_grid.toml": "[net]\nwidth = 4\ndepth = 3\n[grid]\ndepth = [1, 2]\n",
    "net_not_table.toml": "net = 3\n",
    "metric_typo.toml": "metrics = ['spectrm']\n[net]\nwidth = 4\ndepth = 3\n",
    "metrics_str.toml": "metrics = 'spectrum'\n[net]\nwidth = 4\ndepth = 3\n",
    "no_width.toml": "[net]\ndepth = 3\n",
    "sigma2_nan.toml": "[net]\nwidth = 4\ndepth = 3\nsigma2 = nan\n",
    "grid_point_bad.toml": "[net]\nwidth = 4\ndepth = 3\n[grid]\nsigma2 = [1.0, -1.0]\n",
    "width_huge.toml": "[net]\nwidth = 200000\ndepth = 3\n",
    "invalid.toml": "[net\nwidth = 4\n",
}


def cli(argv, needles, id, marks=()):
    return pytest.param(argv, needles, id=id, marks=marks)


def sweep(toml, *needles, id, extra=(), marks=()):
    return cli(["sweep", toml, "--store", "new.sqlite", "--executor", "serial", *extra], list(needles), id, marks)


CLI_CASES = [
    # --- measure: integers, sizes -----------------------------------------------------------------------------
    cli(["measure", "-n", "abc", "-L", "3"], ["'--width'", "not a valid integer"], "measure-width-not-an-integer"),
    cli(["measure", "-n", "1e3", "-L", "3"], ["'--width'", "not a valid integer"], "measure-width-in-e-notation"),
    cli(["measure", "-n", "4", "-L", "2.5"], ["'--depth'", "not a valid integer"], "measure-depth-float"),
    cli(["measure", "-n", "-4", "-L", "3"], ["width must be an integer >= 1", "-4"], "measure-width-negative"),
    cli(["measure", "-n", "0", "-L", "3"], ["width must be an integer >= 1"], "measure-width-zero"),
    cli(["measure", "-n", "4", "-L", "0"], ["depth must be an integer >= 1"], "measure-depth-zero"),
    cli(["measure", *NET, "--in-dim", "0"], ["in_dim must be an integer >= 1"], "measure-in-dim-zero"),
    cli(["measure", *NET, "--out-dim", "0"], ["out_dim must be an integer >= 1"], "measure-out-dim-zero"),
    cli(["measure", "-n", "200000", "-L", "3"], ["width 200000", "GiB for its weights"], "measure-width-200000"),
    cli(["measure", "-n", "16", "-L", "100000000"], ["depth 100000000", "GiB for its weights"], "measure-depth-1e8"),
    cli(
        ["measure", *NET, "--in-dim", "100000000000"],
        ["input dimension 100000000000", "GiB for its weights"],
        "measure-in-dim-1e11",
    ),
    cli(["measure", *NET, "--seeds", "0"], ["--seeds must be >= 1"], "measure-seeds-zero"),
    cli(["measure", *NET, "--seeds", "-3"], ["--seeds must be >= 1"], "measure-seeds-negative"),
    cli(["measure", *NET, "--seeds", "abc"], ["'--seeds'", "not a valid integer"], "measure-seeds-not-an-integer"),
    cli(["measure", *NET, "--seed0", "-1"], ["--seed0 must be >= 0"], "measure-seed0-negative"),
    # --- non-finite and out-of-range floats ---------------------------------------------------------------------
    cli(["measure", *NET, "--sigma2", "nan"], ["sigma2 must be a finite number", "nan"], "measure-sigma2-nan"),
    cli(["measure", *NET, "--sigma2", "inf"], ["sigma2 must be a finite number", "inf"], "measure-sigma2-inf"),
    cli(["measure", *NET, "--sigma2", "1e7"], ["sigma2 must be a finite number"], "measure-sigma2-too-large"),
    cli(
        ["measure", *NET, "--prune", "random", "--sparsity", "nan"],
        ["sparsity must be a finite number"],
        "measure-sparsity-nan",
    ),
    cli(
        ["measure", *NET, "--prune", "random", "--sparsity", "inf"],
        ["sparsity must be a finite number"],
        "measure-sparsity-inf",
    ),
    cli(
        ["measure", *NET, "--prune", "magnitude", "--sparsity", "-0.1"],
        ["sparsity must be a finite number"],
        "measure-sparsity-negative",
    ),
    cli(["measure", *NET, "--eta", "nan"], ["eta must be a finite number"], "measure-eta-nan"),
    cli(["measure", *NET, "--eta", "inf"], ["eta must be a finite number"], "measure-eta-inf"),
    cli(["measure", *NET, "--eta", "-1"], ["eta must be a finite number"], "measure-eta-negative"),
    cli(["measure", *NET, "--correlation", "row", "--rho", "nan"], ["rho must be a finite number"], "measure-rho-nan"),
    cli(["measure", *NET, "--correlation", "ar1", "--rho", "inf"], ["rho must be a finite number"], "measure-rho-inf"),
    cli(
        ["measure", *NET, "--activation", "leaky_relu", "--slope", "nan"],
        ["slope must be a finite number"],
        "measure-slope-nan",
    ),
    cli(
        ["measure", *NET, "--activation", "leaky_relu", "--slope", "inf"],
        ["slope must be a finite number"],
        "measure-slope-inf",
    ),
    cli(
        ["measure", *NET, "--prune", "magnitude-threshold", "--threshold", "nan"],
        ["threshold must be a finite number"],
        "measure-threshold-nan",
    ),
    # --- misspelled choices -------------------------------------------------------------------------------------
    cli(["measure", *NET, "--activation", "rleu"], ["'--activation'", "did you mean 'relu'"], "activation-rleu"),
    cli(["measure", *NET, "--init", "xavier"], ["'--init'", "'xavier' is not one of 'gaussian'"], "init-xavier"),
    cli(["measure", *NET, "--init", "gausian"], ["'--init'", "did you mean 'gaussian'"], "init-gausian"),
    cli(["measure", *NET, "--prune", "magnitud"], ["'--prune'", "did you mean 'magnitude'"], "prune-magnitud"),
    cli(
        ["measure", *NET, "--prune", "random", "--sparsity", "0.5", "--scaling", "exactt"],
        ["'--scaling'", "did you mean 'exact'"],
        "scaling-exactt",
    ),
    cli(["measure", *NET, "--prune-scope", "globl"], ["'--prune-scope'", "did you mean 'global'"], "scope-globl"),
    cli(["measure", *NET, "--correlation", "rows"], ["'--correlation'", "did you mean 'row'"], "correlation-rows"),
    cli(["spectrum", *NET, "--method", "lanzcos"], ["'--method'", "did you mean 'lanczos'"], "method-lanzcos"),
    cli(["measure", *NET, "--format", "jsn"], ["'--format'", "did you mean 'json'"], "format-jsn"),
    cli(["measure", *NET, "--dtype", "float16"], ["'--dtype'", "'float16' is not one of"], "dtype-float16"),
    cli(["measure", *NET, "--device", "tpu"], ["--device must be cpu, cuda or cuda:N"], "device-tpu"),
    cli(["measure", *NET, "--device", "cuda"], ["--device cuda", "no CUDA device"], "device-cuda-absent", NO_CUDA),
    cli(["measure", *NET, "--bogus"], ["No such option '--bogus'"], "unknown-option"),
    cli(["measure", "-n", "4"], ["Missing option '--depth'"], "missing-depth"),
    cli(["frobnicate"], ["No such command 'frobnicate'"], "unknown-command"),
    # --- inconsistent combinations ------------------------------------------------------------------------------
    cli(["measure", *NET, "--sparsity", "0.5"], ["sparsity", "need a pruning method"], "sparsity-without-prune"),
    cli(
        ["measure", *NET, "--prune", "random", "--threshold", "0.1"],
        ["threshold applies to prune='magnitude-threshold' only"],
        "threshold-with-prune-random",
    ),
    cli(
        ["measure", *NET, "--prune", "magnitude", "--keep", "3", "--sparsity", "0.5"],
        ["either sparsity or keep"],
        "keep-with-sparsity",
    ),
    cli(["measure", *NET, "--prune", "magnitude", "--keep", "17"], ["keep must be an integer [1, 16]"], "keep-over-n2"),
    cli(["measure", *NET, "--prune", "magnitude", "--keep", "0"], ["keep must be an integer >= 1"], "keep-zero"),
    cli(["measure", *NET, "--prune", "magnitude-threshold"], ["needs threshold > 0"], "threshold-missing"),
    cli(["measure", *NET, "--prune", "random", "--sparsity", "1"], ["sparsity must be in [0, 1)"], "sparsity-one"),
    cli(["measure", *NET, "--rho", "0.5"], ["rho=0.5 needs a correlation kind"], "rho-without-correlation"),
    cli(["measure", *NET, "--init", "orthogonal", "--eta", "0.5"], ["need init='gaussian'"], "eta-with-orthogonal"),
    cli(
        ["measure", *NET, "--prune", "snip", "--sparsity", "0.5", "--scaling", "exact"],
        ["scaling='exact'", "use scaling='empirical'"],
        "exact-scaling-with-snip",
    ),
    # --- spectrum, lyapunov: k and depth ------------------------------------------------------------------------
    cli(["spectrum", *NET, "--k", "0"], ["--k must be an integer in [1, 4]"], "spectrum-k-zero"),
    cli(["spectrum", *NET, "--k", "5"], ["--k must be an integer in [1, 4]", "got 5"], "spectrum-k-over-width"),
    cli(["spectrum", *NET, "--at-depth", "4"], ["--at-depth must be in [1, 3]"], "spectrum-at-depth-beyond-depth"),
    cli(["spectrum", *NET, "--at-depth", "0"], ["--at-depth must be in [1, 3]"], "spectrum-at-depth-zero"),
    cli(["spectrum", *NET, "--at-depth", "1.5"], ["'--at-depth'", "not a valid integer"], "spectrum-at-depth-float"),
    cli(["lyapunov", *NET, "--k", "0"], ["--k must be an integer in [1, 4]"], "lyapunov-k-zero"),
    cli(["lyapunov", *NET, "--k", "5"], ["--k must be an integer in [1, 4]"], "lyapunov-k-over-width"),
    cli(["lyapunov", *NET, "--k", "abc"], ["'--k'", "not a valid integer"], "lyapunov-k-not-an-integer"),
    cli(["lyapunov", "-n", "200000", "-L", "2"], ["width 200000", "GiB"], "lyapunov-width-200000"),
    # --- certify, scalings --------------------------------------------------------------------------------------
    cli(["certify", *NET, "--sigma2", "nan"], ["sigma2 must be a finite number"], "certify-sigma2-nan"),
    cli(["certify", *NET, "--scaling", "exact"], ["scaling need a pruning method"], "certify-scaling-without-prune"),
    cli(["certify", *NET, "--sampled", "--seeds", "0"], ["--seeds must be >= 1"], "certify-sampled-seeds-zero"),
    cli(["certify", *NET, "--sampled", "--seed0", "-1"], ["--seed0 must be >= 0"], "certify-sampled-seed0-negative"),
    cli(["certify", "-n", "200000", "-L", "2", "--sampled"], ["width 200000", "GiB"], "certify-sampled-huge"),
    cli(["scalings", *NET], ["give --prune and --sparsity"], "scalings-without-prune"),
    cli(
        ["scalings", *NET, "--prune", "random", "--sparsity", "0.5", "--every", "0"],
        ["--every must be >= 1"],
        "scalings-every-zero",
    ),
    cli(
        ["scalings", *NET, "--prune", "random", "--sparsity", "nan"],
        ["sparsity must be a finite number"],
        "scalings-sparsity-nan",
    ),
    cli(["scalings", *NET, "--prune", "random", "--sparsity", "0.5", "--seeds", "0"], ["--seeds"], "scalings-seeds-0"),
    # --- theory <kind> ------------------------------------------------------------------------------------------
    cli(["theory", "edgee"], ["'edgee' is not one of", "did you mean 'edge'"], "theory-kind-misspelled"),
    cli(["theory", "edge", "--sigma2", "nan"], ["--sigma2 must be a finite number"], "theory-edge-sigma2-nan"),
    cli(["theory", "edge", "--sigma2", "inf"], ["--sigma2 must be a finite number"], "theory-edge-sigma2-inf"),
    cli(["theory", "scaling", "--sigma2", "nan"], ["--sigma2 must be a finite number"], "theory-scaling-sigma2-nan"),
    cli(["theory", "lyapunov", "--sigma2", "inf"], ["--sigma2 must be a finite number"], "theory-lyapunov-sigma2-inf"),
    cli(["theory", "density", "--sigma2", "inf"], ["--sigma2 must be a finite number"], "theory-density-sigma2-inf"),
    cli(["theory", "edge", "--p", "nan"], ["p (the mask density) must be in (0, 1]"], "theory-edge-p-nan"),
    cli(["theory", "edge", "--p", "0"], ["p (the mask density) must be in (0, 1]"], "theory-edge-p-zero"),
    cli(["theory", "edge", "--depth", "-1"], ["--depth must be >= 1"], "theory-edge-depth-negative"),
    cli(["theory", "edge", "--depth", "100000000"], ["--depth must be <= 100,000"], "theory-edge-depth-1e8"),
    cli(["theory", "edge", "--init", "xavier"], ["'--init'", "'xavier' is not one of"], "theory-init-xavier"),
    cli(["theory", "moments", "--k", "0"], ["--k must be >= 1"], "theory-moments-k-zero"),
    cli(["theory", "moments", "--k", "100000"], ["--k must be <= 2000"], "theory-moments-k-100000"),
    cli(
        ["theory", "moments", "--depth", "5000"],
        ["moments overflow float64 at depth L = 5000"],
        "theory-moments-depth-overflow",
    ),
    cli(["theory", "density", "--depth", "200"], ["up to depth L = 64", "got L = 200"], "theory-density-depth-200"),
    cli(["theory", "density", "--points", "0"], ["--points must be >= 1"], "theory-density-points-zero"),
    cli(["theory", "density", "--points", "100000000"], ["--points must be <= 10,000"], "theory-density-points-1e8"),
    cli(["theory", "lyapunov", "--width", "100000000"], ["--width must be <= 10,000,000"], "theory-lyapunov-width-1e8"),
    cli(["theory", "scaling", "--sparsities", "0.5,abc"], ["--sparsities must be comma-separated"], "theory-sp-abc"),
    cli(["theory", "scaling", "--sparsities", "0.5,1.5"], ["--sparsities must lie in [0, 1)"], "theory-sp-1.5"),
    cli(["theory", "lognormal", "--activation", "tanh"], ["activation must be linear or relu"], "theory-ln-tanh"),
    cli(["theory", "lognormal", "--width", "0"], ["--width must be >= 1"], "theory-lognormal-width-zero"),
    # --- experiments --------------------------------------------------------------------------------------------
    cli(["experiments", "--format", "jsn"], ["'--format'", "did you mean 'json'"], "experiments-format-jsn"),
    cli(["experiments", "extra"], ["unexpected extra argument (extra)"], "experiments-extra-argument"),
    cli(["experiments", "--quick"], ["No such option '--quick'"], "experiments-unknown-option"),
    # --- sweep: experiment files ------------------------------------------------------------------------------
    sweep("fig9", "fig9: neither an experiment file nor a built-in", "did you mean 'fig", id="sweep-builtin-typo"),
    sweep("missing.toml", "missing.toml: neither an experiment file", id="sweep-missing-file"),
    sweep("adir", "adir: neither an experiment file", id="sweep-file-is-a-directory"),
    sweep("invalid.toml", "invalid.toml: not valid TOML", "line 1", id="sweep-invalid-toml"),
    sweep("unknown_top.toml", "unknown key 'sedes'", "did you mean 'seeds'", id="sweep-unknown-key"),
    sweep("unknown_net.toml", "[net]: unknown key 'widht'", "did you mean 'width'", id="sweep-unknown-net-key"),
    sweep("unknown_grid.toml", "[grid]: unknown key 'depht'", "did you mean 'depth'", id="sweep-unknown-grid-key"),
    sweep("width_str.toml", "width must be an integer >= 1, got '4'", id="sweep-width-string"),
    sweep("seeds_str.toml", "key 'seeds' must be an integer >= 1", id="sweep-seeds-string"),
    sweep("seeds_zero.toml", "key 'seeds' must be an integer >= 1, got 0", id="sweep-seeds-zero"),
    sweep("k_true.toml", "key 'k' must be an integer >= 1, got True", id="sweep-k-true"),
    sweep("k_unread.toml", "key 'k' applies to spectrum and lyapunov", id="sweep-k-without-reader"),
    sweep("seeds_1e9.toml", "1000000000 seeds", "exceeds 1,000,000", id="sweep-seeds-1e9"),
    sweep("grid_1e8.toml", "100000000 grid points", "exceeds 1,000,000", id="sweep-grid-1e8-points"),
    sweep("grid_empty.toml", "[grid] key 'depth' must be a non-empty list", id="sweep-grid-empty-list"),
    sweep("grid_scalar.toml", "[grid] key 'depth' must be a non-empty list, got 3", id="sweep-grid-scalar"),
    sweep("net_and_grid.toml", "key 'depth' is both in [net] and in [grid]", id="sweep-key-in-net-and-grid"),
    sweep("net_not_table.toml", "[net] must be a table", id="sweep-net-not-a-table"),
    sweep("metric_typo.toml", "unknown metric 'spectrm'", "did you mean 'spectrum'", id="sweep-metric-typo"),
    sweep("metrics_str.toml", "key 'metrics' must be a non-empty list", id="sweep-metrics-not-a-list"),
    sweep("no_width.toml", "NetSpec field 'width' is required", id="sweep-width-missing"),
    sweep("sigma2_nan.toml", "sigma2 must be a finite number", id="sweep-sigma2-nan"),
    sweep("grid_point_bad.toml", "grid point {'sigma2': -1.0}: sigma2 must be", id="sweep-bad-grid-point"),
    sweep("width_huge.toml", "width 200000", "GiB for its weights", id="sweep-width-200000"),
    # --- sweep: run options and store paths ---------------------------------------------------------------------
    sweep(
        "ok.toml", "'--executor'", "did you mean 'serial'", id="sweep-executor-seriall", extra=["--executor", "seriall"]
    ),
    sweep("ok.toml", "--workers must be >= 1, got 0", id="sweep-workers-zero", extra=["--workers", "0"]),
    sweep(
        "ok.toml", "--address applies to --executor dask", id="sweep-address-serial", extra=["--address", "tcp://h:1"]
    ),
    cli(["sweep", "ok.toml", "--store", "adir"], ["store path 'adir' is a directory"], "sweep-store-is-a-directory"),
    cli(
        ["sweep", "ok.toml", "--store", "nofolder/s.sqlite"], ["folder 'nofolder' does not exist"], "sweep-store-no-dir"
    ),
    cli(["sweep", "ok.toml", "--store", "junk.sqlite"], ["'junk.sqlite' is not a jacstab results store"], "sweep-junk"),
    cli(["sweep", "--store", "new.sqlite"], ["Missing argument 'EXPERIMENT_FILE'"], "sweep-no-file"),
    # --- results, report, reproduce -----------------------------------------------------------------------------
    cli(["results", "--store", "none.sqlite"], ["no results store at 'none.sqlite'"], "results-store-missing"),
    cli(["results", "--store", "adir"], ["no results store at 'adir'"], "results-store-is-a-directory"),
    cli(["results", "--store", "nofolder/s.sqlite"], ["no results store at 'nofolder/s.sqlite'"], "results-no-dir"),
    cli(
        ["results", "--store", "junk.sqlite"], ["'junk.sqlite' is not a readable jacstab results store"], "results-junk"
    ),
    cli(["results", "--store", "valid.sqlite", "--format", "jsn"], ["did you mean 'json'"], "results-format-jsn"),
    cli(
        ["results", "--store", "valid.sqlite", "--parquet", "nofolder/x.parquet"],
        ["nofolder"],
        "results-parquet-in-missing-folder",
    ),
    cli(["report", "--store", "none.sqlite", "--out", "rep"], ["no results store at 'none.sqlite'"], "report-no-store"),
    cli(["report", "--store", "junk.sqlite", "--out", "rep"], ["'junk.sqlite' is not a readable"], "report-junk-store"),
    cli(
        ["report", "--store", "valid.sqlite", "--out", "afile"], ["'afile' is a file, not a folder"], "report-out-file"
    ),
    cli(["report", "--store", "valid.sqlite", "--out", "rep"], ["nothing to report"], "report-empty-store"),
    cli(["reproduce", "--quick", "--store", "adir", "--out", "rep"], ["'adir' is a directory"], "reproduce-store-dir"),
    cli(["reproduce", "--quick", "--store", "new.sqlite", "--out", "afile"], ["--out 'afile' is a file"], "repro-out"),
    cli(
        ["reproduce", "--quick", "--store", "new.sqlite", "--out", "rep", "--executor", "seriall"],
        ["'--executor'", "did you mean 'serial'"],
        "reproduce-executor-seriall",
    ),
    cli(
        ["reproduce", "--quick", "--store", "new.sqlite", "--out", "rep", "--workers", "0"],
        ["--workers must be >= 1"],
        "reproduce-workers-zero",
    ),
    cli(
        ["reproduce", "--quick", "--store", "nofolder/r.sqlite", "--out", "rep"],
        ["folder 'nofolder' does not exist"],
        "reproduce-store-in-missing-folder",
    ),
    cli(["reproduce", "--quick", "--store", "junk.sqlite", "--out", "rep"], ["is not a jacstab results"], "repro-junk"),
]


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its kind, size and modification time.

    SQLite's ``-wal``/``-shm`` companions of the pre-existing ``valid.sqlite`` are left out: reading a WAL store
    read-only may leave them (they hold no data; the store itself is checked unchanged).
    """
    out = {}
    for p in sorted(root.rglob("*")):
        name = str(p.relative_to(root))
        if name in ("valid.sqlite-wal", "valid.sqlite-shm"):
            continue
        st = p.stat()
        out[name] = (p.is_dir(), st.st_size if p.is_file() else 0, st.st_mtime_ns)
    return out


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A scratch folder as the working directory: a folder, a plain file, a junk and an empty store, the TOMLs."""
    from jacstab.lab import Store

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JACSTAB_MAX_BYTES", str(MAX_BYTES))
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("a plain file\n")
    (tmp_path / "junk.sqlite").write_text("this is not an SQLite database\n" * 10)
    Store(tmp_path / "valid.sqlite").close()
    for name, text in TOMLS.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _run(capsys, argv):
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "needles"), CLI_CASES)
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(workdir, capsys, argv, needles):
    before = _snapshot(workdir)
    code, out, err = _run(capsys, argv)
    assert "Traceback" not in err
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err  # exactly one line
    assert err.startswith("jacstab: error: "), err
    for needle in needles:
        assert needle in err
    assert _snapshot(workdir) == before  # no store, report folder or other file created or changed


# --- API ------------------------------------------------------------------------------------------------------

SPEC = jacstab.NetSpec(4, 3)


def _net():
    return jacstab.sample(SPEC, 0)


def _linear():
    return torch.nn.Linear(4, 4).double()


def _ones(*shape, dtype=torch.float64):
    return torch.ones(*shape, dtype=dtype)


def _masks(n=3, shape=(4, 4), fill=True):
    return [torch.full(shape, fill, dtype=torch.bool) for _ in range(n)]


def _nan_weight_net():
    net = _net()
    weights = [w.clone() for w in net.weights]
    weights[1][0, 0] = math.nan
    return jacstab.depth_curve(net.replace(weights=weights))


def _parse(doc):
    from jacstab.lab.experiment import parse_experiment

    return parse_experiment(doc, "exp.toml")


_OK_NET = {"width": 4, "depth": 3}


def api(f, exc, match, id, marks=()):
    return pytest.param(f, exc, match, id=id, marks=marks)


API_CASES = [
    # --- NetSpec ------------------------------------------------------------------------------------------------
    api(lambda t: jacstab.NetSpec(True, 3), ValueError, r"width must be an integer >= 1, got True", "spec-bool-width"),
    api(lambda t: jacstab.NetSpec(4.0, 3), ValueError, r"width must be an integer", "spec-float-width"),
    api(lambda t: jacstab.NetSpec("4", 3), ValueError, r"width must be an integer", "spec-str-width"),
    api(lambda t: jacstab.NetSpec(4, 0), ValueError, r"depth must be an integer >= 1", "spec-depth-zero"),
    api(lambda t: jacstab.NetSpec(4, 3, in_dim=0), ValueError, r"in_dim must be an integer", "spec-in-dim-zero"),
    api(lambda t: jacstab.NetSpec(4, 3, sigma2=math.nan), ValueError, r"sigma2 must be a finite number", "spec-s2-nan"),
    api(lambda t: jacstab.NetSpec(4, 3, sigma2=math.inf), ValueError, r"sigma2 must be a finite", "spec-s2-inf"),
    api(lambda t: jacstab.NetSpec(4, 3, slope=math.nan), ValueError, r"slope must be a finite", "spec-slope-nan"),
    api(lambda t: jacstab.NetSpec(4, 3, activation="rleu"), ValueError, r"did you mean 'relu'", "spec-activation"),
    api(lambda t: jacstab.NetSpec(4, 3, init="xavier"), ValueError, r"init must be one of gaussian", "spec-init"),
    api(lambda t: jacstab.NetSpec(4, 3, prune="magnitud"), ValueError, r"did you mean 'magnitude'", "spec-prune"),
    api(
        lambda t: jacstab.NetSpec(4, 3, prune="random", sparsity=0.5, scaling="exactt"),
        ValueError,
        r"scaling must be one of .*did you mean 'exact'",
        "spec-scaling",
    ),
    api(lambda t: jacstab.NetSpec(4, 3, sparsity=0.5), ValueError, r"need a pruning method", "spec-sparsity-no-prune"),
    api(
        lambda t: jacstab.NetSpec(4, 3, prune="random", sparsity=math.nan),
        ValueError,
        r"sparsity must be a finite number",
        "spec-sparsity-nan",
    ),
    api(
        lambda t: jacstab.NetSpec(4, 3, prune="magnitude", keep=17),
        ValueError,
        r"keep must be an integer \[1, 16\]",
        "spec-keep-over-n2",
    ),
    api(
        lambda t: jacstab.NetSpec(4, 3, prune="random", threshold=0.1),
        ValueError,
        r"threshold applies to prune='magnitude-threshold' only",
        "spec-threshold-with-random",
    ),
    api(lambda t: jacstab.NetSpec(4, 3, init="orthogonal", eta=0.5), ValueError, r"init='gaussian'", "spec-eta-orth"),
    api(lambda t: jacstab.NetSpec(4, 3, eta=math.nan), ValueError, r"eta must be a finite number", "spec-eta-nan"),
    api(lambda t: jacstab.NetSpec(4, 3, rho=0.5), ValueError, r"rho=0.5 needs a correlation kind", "spec-rho-no-kind"),
    api(
        lambda t: jacstab.NetSpec(4, 3, correlation="row", rho=math.inf),
        ValueError,
        r"rho must be a finite number",
        "spec-rho-inf",
    ),
    api(
        lambda t: jacstab.NetSpec.from_dict({"widht": 4, "depth": 3}),
        ValueError,
        r"unknown NetSpec field 'widht' \(did you mean 'width'\?\)",
        "spec-from-dict-typo",
    ),
    # --- sample -------------------------------------------------------------------------------------------------
    api(lambda t: jacstab.sample(SPEC, seed=-1), ValueError, r"seed must be an integer", "sample-seed-negative"),
    api(lambda t: jacstab.sample(SPEC, seed=1.5), ValueError, r"seed must be an integer", "sample-seed-float"),
    api(
        lambda t: jacstab.sample(SPEC, 0, dtype=torch.int32),
        ValueError,
        r"dtype must be torch.float32 or torch.float64, got torch.int32",
        "sample-int-dtype",
    ),
    api(lambda t: jacstab.sample("spec", 0), TypeError, r"spec must be a NetSpec, got str", "sample-str-spec"),
    api(lambda t: jacstab.sample(SPEC, 0, device="tpu"), ValueError, r"device must be", "sample-device-tpu"),
    api(lambda t: jacstab.sample(SPEC, 0, device="cuda"), ValueError, r"no CUDA device", "sample-cuda-absent", NO_CUDA),
    api(
        lambda t: jacstab.sample(jacstab.NetSpec(200000, 3), 0),
        ValueError,
        r"width 200000.*GiB for its weights",
        "sample-width-200000",
    ),
    api(
        lambda t: jacstab.sample(jacstab.NetSpec(16, 10**8), 0),
        ValueError,
        r"depth 100000000.*GiB for its weights",
        "sample-depth-1e8",
    ),
    # --- engine: what is passed -----------------------------------------------------------------------------------
    api(lambda t: jacstab.depth_curve(SPEC), TypeError, r"NetSpec is a law.*jacstab\.sample", "depth-curve-of-spec"),
    api(
        lambda t: jacstab.depth_curve(torch.nn.Linear(4, 4)),
        TypeError,
        r"got Linear.*jacstab\.singular_values\(f, x\)",
        "depth-curve-of-module",
    ),
    api(lambda t: jacstab.depth_curve([1.0, 2.0]), TypeError, r"must be a jacstab Network, got list", "dc-of-list"),
    api(
        lambda t: jacstab.lyapunov_exponents(torch.nn.Linear(4, 4)),
        TypeError,
        r"must be a jacstab Network, got Linear",
        "lyapunov-of-module",
    ),
    api(lambda t: jacstab.certify(object()), TypeError, r"certify takes a NetSpec or a Network", "certify-object"),
    # --- engine: k, depth, method -------------------------------------------------------------------------------
    api(lambda t: jacstab.singular_values(_net(), k=0), ValueError, r"k must be an integer >= 1, got 0", "sv-k-zero"),
    api(lambda t: jacstab.singular_values(_net(), k=True), ValueError, r"k must be an integer.*True", "sv-k-true"),
    api(lambda t: jacstab.singular_values(_net(), k=2.0), ValueError, r"k must be an integer", "sv-k-float"),
    api(lambda t: jacstab.singular_values(_net(), depth=0), ValueError, r"depth must be an integer in \[1, 3\]", "d0"),
    api(lambda t: jacstab.singular_values(_net(), depth=4), ValueError, r"depth must be an integer in \[1, 3\]", "d4"),
    api(
        lambda t: jacstab.singular_values(_net(), method="dens"),
        ValueError,
        r"method must be one of .*did you mean 'dense'",
        "sv-method-dens",
    ),
    api(
        lambda t: jacstab.depth_curve(_net(), method="lanzcos"),
        ValueError,
        r"did you mean 'lanczos'",
        "depth-curve-method-lanzcos",
    ),
    api(
        lambda t: jacstab.jacobian_operator(_net(), method="lanczoss"),
        ValueError,
        r"did you mean 'lanczos'",
        "operator-method-typo",
    ),
    api(lambda t: jacstab.lyapunov_exponents(_net(), k=0), ValueError, r"k must be an integer", "lyapunov-k-zero"),
    api(lambda t: jacstab.lyapunov_exponents(_net(), seed=-1), ValueError, r"seed must be an integer", "lyap-seed"),
    # --- engine: x ------------------------------------------------------------------------------------------------
    api(
        lambda t: jacstab.singular_values(_net(), _ones(5)),
        ValueError,
        r"x must have shape \(4,\).*got \(5,\)",
        "sv-x-wrong-shape",
    ),
    api(
        lambda t: jacstab.singular_values(_net(), _ones(1, 4)),
        ValueError,
        r"x must have shape \(4,\)",
        "sv-x-batched",
    ),
    api(lambda t: jacstab.singular_values(_net(), [1.0] * 4), TypeError, r"x must be a torch\.Tensor", "sv-x-list"),
    api(
        lambda t: jacstab.depth_curve(_net(), torch.tensor([1.0, math.nan, 1.0, 1.0], dtype=torch.float64)),
        ValueError,
        r"x must be a finite",
        "depth-curve-x-nan",
    ),
    api(
        lambda t: jacstab.singular_values(_net(), _ones(4, dtype=torch.int64)),
        ValueError,
        r"x must be a floating-point tensor.*int64",
        "sv-x-integer-dtype",
    ),
    api(lambda t: jacstab.singular_values(_linear()), ValueError, r"x is required", "callable-without-x"),
    api(lambda t: jacstab.singular_values(_linear(), [1.0] * 4), ValueError, r"x must be a non-empty", "callable-list"),
    api(
        lambda t: jacstab.singular_values(_linear(), _ones(4), depth=2),
        ValueError,
        r"depth applies to a jacstab Network only",
        "callable-with-depth",
    ),
    api(
        lambda t: jacstab.singular_values(lambda x: x * math.nan, _ones(4)),
        ValueError,
        r"output f\(x\) has nan or inf",
        "callable-nan-output",
    ),
    api(lambda t: _nan_weight_net(), ValueError, r"W_2 \(net\.weights\[1\]\) has 1 nan or inf", "nan-in-weights"),
    # --- pruning.apply_masks --------------------------------------------------------------------------------------
    api(
        lambda t: jacstab.pruning.apply_masks(_net(), _masks(n=1)),
        ValueError,
        r"one mask per hidden matrix \(3\), got 1",
        "masks-count",
    ),
    api(
        lambda t: jacstab.pruning.apply_masks(_net(), _masks(shape=(3, 3))),
        ValueError,
        r"mask 0 has shape \(3, 3\), expected \(4, 4\)",
        "masks-shape",
    ),
    api(
        lambda t: jacstab.pruning.apply_masks(_net(), _masks(fill=False)),
        ValueError,
        r"mask 0 keeps no weight",
        "masks-all-false",
    ),
    api(
        lambda t: jacstab.pruning.apply_masks(_net(), _masks(), scaling="exactt"),
        ValueError,
        r"scaling for external masks must be none, random or empirical, got 'exactt'",
        "masks-unknown-scaling",
    ),
    api(
        lambda t: jacstab.pruning.apply_masks(SPEC, _masks()),
        TypeError,
        r"must be a jacstab Network .*got NetSpec",
        "masks-on-a-spec",
    ),
    # --- lab: experiments, metric calls, store ------------------------------------------------------------------
    api(lambda t: _parse({"sedes": 3}), ValueError, r"exp.toml: unknown key 'sedes' \(did you mean 'seeds'", "pe-key"),
    api(
        lambda t: _parse({"net": {"widht": 4, "depth": 3}}),
        ValueError,
        r"\[net\]: unknown key 'widht' \(did you mean 'width'",
        "pe-net-key",
    ),
    api(
        lambda t: _parse({"k": True, "metrics": ["spectrum"], "net": _OK_NET}),
        ValueError,
        r"key 'k' must be an integer >= 1, got True",
        "pe-k-true",
    ),
    api(lambda t: _parse({"seeds": 10**9, "net": _OK_NET}), ValueError, r"1,000,000,000 trials exceeds", "pe-seeds"),
    api(
        lambda t: _parse({"net": {"width": 4}, "grid": {"depth": list(range(1, 10**4 + 1)), "sigma2": [1.0] * 10**4}}),
        ValueError,
        r"100000000 grid points .* exceeds 1,000,000",
        "pe-grid-1e8",
    ),
    api(lambda t: _parse({"net": {"width": 4}, "grid": {"depth": []}}), ValueError, r"non-empty list", "pe-grid-empty"),
    api(
        lambda t: _parse({"net": _OK_NET, "grid": {"depth": [1, 2]}}),
        ValueError,
        r"key 'depth' is both in \[net\] and in \[grid\]",
        "pe-key-in-both",
    ),
    api(lambda t: _parse({"net": {"depth": 3}}), ValueError, r"NetSpec field 'width' is required", "pe-width-missing"),
    api(lambda t: _parse({"metrics": ["spectrm"], "net": _OK_NET}), ValueError, r"did you mean 'spectrum'", "pe-met"),
    api(lambda t: _parse({"seeds": "3", "net": _OK_NET}), ValueError, r"key 'seeds' must be an integer", "pe-seeds-s"),
    api(lambda t: _parse({"net": 3}), ValueError, r"\[net\] must be a table", "pe-net-not-a-table"),
    api(lambda t: _parse([1, 2]), ValueError, r"an experiment is a table of keys", "pe-not-a-table"),
    api(
        lambda t: jacstab.lab.MetricCall.make("spectrm"),
        ValueError,
        r"unknown metric 'spectrm' \(did you mean 'spectrum'\?\)",
        "metric-call-typo",
    ),
    api(
        lambda t: jacstab.lab.MetricCall.make("depth_curve", k=3),
        ValueError,
        r"metric 'depth_curve' takes no parameter 'k'",
        "metric-call-unknown-parameter",
    ),
    api(lambda t: jacstab.lab.MetricCall.make("spectrum", k=0), ValueError, r"k must be an integer", "metric-k-zero"),
    api(lambda t: jacstab.lab.Store(t), ValueError, r"is a directory; give a file name", "store-is-a-directory"),
    api(lambda t: jacstab.lab.Store(t / "no" / "s.sqlite"), ValueError, r"folder .* does not exist", "store-no-dir"),
    api(lambda t: jacstab.lab.Store(_junk(t)), ValueError, r"is not a jacstab results store", "store-junk-file"),
    api(
        lambda t: jacstab.lab.Store(t / "none.sqlite", readonly=True),
        ValueError,
        r"no results store at",
        "store-readonly-missing",
    ),
    # --- theory ---------------------------------------------------------------------------------------------------
    api(lambda t: jacstab.theory.predict(object()), TypeError, r"predict takes a jacstab\.NetSpec", "predict-object"),
    api(lambda t: jacstab.theory.moments(0, 3), ValueError, r"K must be an integer in \[1, 2000\], got 0", "moments-0"),
    api(lambda t: jacstab.theory.moments(10**5, 3), ValueError, r"K must be an integer in \[1, 2000\]", "moments-1e5"),
    api(lambda t: jacstab.theory.moments(3, 0), ValueError, r"L must be an integer >= 1", "moments-depth-zero"),
    api(
        lambda t: jacstab.theory.moments(8, 5000),
        OverflowError,
        r"L = 5000|depth",
        "moments-depth-overflow",
    ),
    api(lambda t: jacstab.theory.density(np.array([0.5]), 200), ValueError, r"up to depth L = 64", "density-deep"),
    api(lambda t: jacstab.theory.gaussian_lyapunov(10**8), ValueError, r"n must be an integer in \[1, 10\^7\]", "gl-n"),
]


def _junk(folder: Path) -> Path:
    p = folder / "junk.sqlite"
    p.write_text("this is not an SQLite database\n" * 10)
    return p


@pytest.mark.parametrize(("f", "exc", "match"), API_CASES)
def test_api_bad_input_raises_one_clear_line(tmp_path, monkeypatch, f, exc, match):
    monkeypatch.setenv("JACSTAB_MAX_BYTES", str(MAX_BYTES))
    with pytest.raises(exc, match=match) as info:
        f(tmp_path)
    assert "\n" not in str(info.value)
    assert {p.name for p in tmp_path.rglob("*")} <= {"junk.sqlite"}  # no store or folder was created


def test_api_accepts_numpy_integers():
    """numpy integers are integers: accepted (and stored as int) wherever a Python int is."""
    spec = jacstab.NetSpec(np.int64(4), np.int32(3), in_dim=np.int16(5), out_dim=np.uint8(2))
    assert (spec.width, spec.depth, spec.input_dim, spec.out_dim) == (4, 3, 5, 2)
    assert all(type(v) is int for v in (spec.width, spec.depth, spec.in_dim, spec.out_dim))
    assert (
        spec == jacstab.NetSpec(4, 3, in_dim=5, out_dim=2)
        and spec.hash() == jacstab.NetSpec(4, 3, in_dim=5, out_dim=2).hash()
    )
    net = jacstab.sample(spec, np.int64(0))
    assert jacstab.singular_values(net, k=np.int64(2)).shape == (2,)
    assert jacstab.singular_values(net, depth=np.int64(2), k=np.int32(1)).shape == (1,)
    assert jacstab.lyapunov_exponents(net, k=np.int64(2)).shape == (2,)
    assert np.isfinite(jacstab.theory.moments(np.int64(3), np.int64(2))).all()
