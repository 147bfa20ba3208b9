"""Figures and the report (issue 10): the paper's panels, theory only where predict gives it, honest statistics,
any experiment, exports. Stores of synthetic curves (tests/_report_data.py) keep these tests fast and let every
number be checked against a hand computation."""

import csv
import io
import json
import math
import re
import struct

import numpy as np
import pytest
from scipy import special, stats

from _report_data import OFFSET, SLOPE_NOISE, fake_store
from jacstab.cli import main
from jacstab.lab import Store
from jacstab.lab.builtin import builtin_experiment
from jacstab.lab.catalog import select, stored_experiments
from jacstab.lab.figures import LAYOUTS, VIEWS, Context, FigureOptions, collect, depth, spectra
from jacstab.theory import predict

LN10 = math.log(10)
PANELS = {"fig1": 2, "fig2": 2, "fig3": 4, "fig4": 2}  # the paper's Figures 1-4


def _run(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.fixture(scope="module")
def builtin_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("fake") / "fake.sqlite"
    fake_store(path).close()
    return path


def _svg_counts(svg: str) -> tuple[int, int]:
    """(axes, theory artists) in a matplotlib SVG: each axes is a group ``id="axes_N"``; theory artists carry
    the gid ``theory``."""
    return len(re.findall(r'<g id="axes_\d+"', svg)), len(re.findall(r'<g id="theory', svg))


@pytest.mark.parametrize("theory", [True, False])
def test_builtin_figures_have_the_papers_panels_and_theory_only_where_predicted(builtin_store, tmp_path, capsys,
                                                                                theory):
    out = tmp_path / "rep"
    args = ["report", "--store", str(builtin_store), "--out", str(out), "--fig-format", "svg", "--format", "json"]
    code, stdout, _ = _run(args + ([] if theory else ["--no-theory"]), capsys)
    assert code == 0 and json.loads(stdout) == [{"report": str(out / "report.html")}]
    for base, panels in PANELS.items():
        axes, lines = _svg_counts((out / f"{base}-quick.svg").read_text())
        assert axes == panels, base
        exp = builtin_experiment(base, quick=True)
        # independent count: settings whose law predict() covers (fig1 also draws sigma2 = 2 in its right panel,
        # fig4 draws eta = 0 in its left panel and as a star at d = L/2 and d = L in its right panel)
        covered = sum(predict(s).log_norm is not None for s in exp.specs)
        want = {"fig1": covered + 1, "fig2": covered, "fig3": covered, "fig4": covered + 2}[base]
        assert lines == (want if theory else 0), base
    assert {"fig3": 0, "fig4": 1}["fig3"] == 0  # magnitude pruning: no prediction (not orthogonally invariant)
    exp4 = builtin_experiment("fig4", quick=True)
    assert [s.eta for s in exp4.specs if predict(s).log_norm is not None] == [0.0]  # eta > 0: no prediction
    assert (out / "fig1-quick.png").is_file()  # the PNG the HTML embeds


def _parse_pm(text: str) -> tuple[float, float]:
    value, half = text.split(" ± ")
    return float(value), float(half)


def test_tables_match_a_hand_computation(builtin_store):
    """Measured log10 ||J^(L)|| and slope per layer with their t intervals, recomputed here from the formula the
    synthetic curves were made with (2 seeds: t_{0.975, 1} = 12.71)."""
    exp = builtin_experiment("fig1", quick=True)
    with Store(builtin_store, readonly=True) as st:
        ctx = Context(exp, "depth_curve", collect(exp, st), FigureOptions())
    final, growth = depth.final_table(ctx), depth.growth_table(ctx)
    L, t = exp.specs[0].depth, stats.t.ppf(0.975, 1)
    for spec, frow, grow in zip(exp.specs, final.rows, growth.rows):
        g = 0.5 * math.log(spec.sigma2 / 2)  # Theorem 2.2 for ReLU
        last = np.array([(g + SLOPE_NOISE[s]) * L + OFFSET[s] for s in (0, 1)]) / LN10
        m, h = _parse_pm(frow["measured"])
        assert m == pytest.approx(last.mean(), abs=1e-4) and h == pytest.approx(t * last.std(ddof=1) / 2**0.5, abs=1e-4)
        slopes = np.array([g + SLOPE_NOISE[s] for s in (0, 1)]) / LN10  # exact lines: OLS returns their slope
        m, h = _parse_pm(grow["measured"])
        assert m == pytest.approx(slopes.mean(), abs=1e-4) and h == pytest.approx(t * slopes.std(ddof=1) / 2**0.5,
                                                                                  abs=1e-4)
        assert grow["theory"] == pytest.approx(g / LN10, abs=1e-12)
        assert grow["measured - theory"] == pytest.approx(slopes.mean() - g / LN10, abs=1e-4)
        # the mean slope is g - 0.005, inside the CI (half-width 12.71 * 0.015 / sqrt 2)
        assert grow["verdict"] == "consistent: theory inside the 95% CI"
    assert depth.verdict(1.0, 0.1, 0.5) == "differs: theory below the 95% CI"
    assert depth.verdict(1.0, math.nan, 0.5) == "no CI (one live seed)" and depth.verdict(1.0, 0.1, None) == (
        "no prediction")


def test_dead_networks_are_named_never_nan(builtin_store, tmp_path, capsys):
    exp = builtin_experiment("fig2", quick=True)
    with Store(builtin_store, readonly=True) as st:
        ctx = Context(exp, "depth_curve", collect(exp, st), FigureOptions())
    rows = depth.final_table(ctx).rows
    dead = [r for r, s in zip(rows, exp.specs) if s.sparsity == 0.99 and s.scaling == "none"]
    assert [r["dead networks"] for r in dead] == ["J = 0 in 2/2 seeds from depth 4"]
    assert dead[0]["measured"] == "J = 0 in 2/2 seeds from depth 4" and dead[0]["live seeds"] == "0/2"
    assert all(r["dead networks"] == "none" for r in rows if r not in dead)
    code, _, _ = _run(["report", "fig2", "--quick", "--store", str(builtin_store), "--out", str(tmp_path)], capsys)
    page = (tmp_path / "report.html").read_text()
    assert code == 0 and "J = 0 in 2/2 seeds from depth 4" in page
    assert not re.search(r"\bnan\b", page, re.IGNORECASE)


def test_unknown_experiment_is_exit_2_naming_the_stored_ones(builtin_store, tmp_path, capsys):
    code, out, err = _run(["report", "fig9", "--store", str(builtin_store), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "no experiment 'fig9'" in err and "it holds: fig1-quick, fig2-quick, fig3-quick, fig4-quick" in err
    assert not (tmp_path / "r").exists()


def test_unregistered_builtins_are_found_and_short_names_resolve(tmp_path):
    """A store written before experiments were registered still reports its built-in figures."""
    with fake_store(tmp_path / "old.sqlite", ("fig1",), registered=False) as st:
        assert list(stored_experiments(st)) == ["fig1-quick"]
        assert [e.name for e in select(st, ["fig1"])] == ["fig1-quick"]  # the stored size
        with pytest.raises(ValueError, match=r"no experiment 'fig2'; it holds: fig1-quick$"):
            select(st, ["fig2"])


def test_dpi_and_formats(builtin_store, tmp_path, capsys):
    def png_width(path):
        return struct.unpack(">I", path.read_bytes()[16:20])[0]  # IHDR width

    for dpi in (80, 160):
        out = str(tmp_path / str(dpi))
        code, _, _ = _run(["report", "fig1", "--quick", "--store", str(builtin_store), "--out", out, "--dpi", str(dpi)],
                          capsys)
        assert code == 0
    ratio = png_width(tmp_path / "160" / "fig1-quick.png") / png_width(tmp_path / "80" / "fig1-quick.png")
    assert ratio == pytest.approx(2.0, rel=0.02)  # pixels scale with dpi (tight bounding box: +-1 px rounding)
    code, _, _ = _run(["report", "fig4", "--quick", "--store", str(builtin_store), "--out", str(tmp_path / "pdf"),
                       "--fig-format", "pdf"], capsys)
    assert code == 0 and (tmp_path / "pdf" / "fig4-quick.pdf").read_bytes()[:5] == b"%PDF-"
    code, _, err = _run(["report", "--store", str(builtin_store), "--fig-format", "eps"], capsys)
    assert code == 2 and "'eps' is not one of 'png', 'pdf', 'svg'" in err


TOML = """
name = "custom"
metrics = ["depth_curve", "spectrum", "lyapunov", "certificate"]
seeds = 2
[net]
width = 8
depth = 4
[grid]
activation = ["linear", "relu"]
"""


@pytest.fixture(scope="module")
def custom_store(tmp_path_factory):
    """A real sweep of a user's TOML experiment (every metric; tiny nets, serial)."""
    d = tmp_path_factory.mktemp("custom")
    (d / "custom.toml").write_text(TOML)
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(d / "custom.toml"), "--store", str(d / "c.sqlite"), "--executor", "serial", "--quiet"])
    assert e.value.code == 0
    return d / "c.sqlite"


def test_report_on_a_custom_toml_experiment_draws_every_metric(custom_store, tmp_path, capsys):
    code, _, _ = _run(["report", "--store", str(custom_store), "--out", str(tmp_path), "--fig-format", "svg"], capsys)
    page = (tmp_path / "report.html").read_text()
    assert code == 0 and page.count("<img") == 3  # depth curves, spectrum, lyapunov; certificate: tables
    for stem in ("custom", "custom-spectrum", "custom-lyapunov"):
        axes, _ = _svg_counts((tmp_path / f"{stem}.svg").read_text())
        assert axes == 1, stem  # one varying field (activation): one panel, one colour per activation
    for anchor in ("custom-depth_curve", "custom-spectrum", "custom-lyapunov", "custom-certificate"):
        assert f"id='{anchor}'" in page and f"href='#{anchor}'" in page  # section and table-of-contents entry
    assert "Theorem 3.1&#x27;s conditions" in page and "No stored results" not in page


def test_lyapunov_theory_is_newmans_for_linear_gaussian_and_growth_otherwise(custom_store):
    from jacstab.lab.catalog import stored_experiments

    with Store(custom_store, readonly=True) as st:
        exp = stored_experiments(st)["custom"]
        ctx = Context(exp, "lyapunov", collect(exp, st, "lyapunov"), FigureOptions())
    rows = {r["setting"]: r for r in spectra.lyapunov_tables(ctx)[0].rows}
    n = 8  # Newman (1986): lambda_1 = (1/2) (log(2 sigma2 / n) + psi(n / 2)), sigma2 = 2
    assert rows["activation=linear"]["lambda_1 theory"] == pytest.approx(
        0.5 * (math.log(2 * 2.0 / n) + special.digamma(n / 2)) / LN10, rel=1e-12)
    assert rows["activation=relu"]["lambda_1 theory"] == pytest.approx(0.0, abs=1e-15)  # (1/2) log(2 * 1/2)
    assert set(VIEWS) == {"depth_curve", "spectrum", "lyapunov", "certificate", "train", "train_isometry"}
    assert set(PANELS) <= set(LAYOUTS) and {"fig7-8", "fig9-iid", "fig9-eta"} <= set(LAYOUTS)


def test_exports_are_tidy_one_based_and_full_precision(custom_store, capsys):
    import jacstab

    with Store(custom_store, readonly=True) as st:
        rows = [r for r in st.rows() if r["metric"] == "depth_curve"]
        exp = stored_experiments(st)["custom"]
        t = exp.trials()[0]
        curve = jacstab.depth_curve(jacstab.sample(t.spec, t.seed)).tolist()
        mine = sorted((r["index"], r["value"]) for r in rows if r["trial_id"] == t.id)
        assert mine == list(zip(range(1, 5), curve))  # index = depth d, 1-based
        assert {r["experiment"] for r in rows} == {"custom"}
        assert len(st.rows(experiment="custom")) == len(st.rows()) and st.rows(experiment="other") == []
        df = st.curves()
        spec_cols = [c for c in df.columns if c not in ("experiment", "spec_hash", "seed", "d", "value")]
        groups = df.groupby([*spec_cols, "d"]).size()
        assert len(groups) == 2 * 4 and set(groups) == {2}  # 2 settings x 4 depths, 2 seeds each
        assert "threshold" not in df.columns  # all-None spec fields are dropped
    code, out, _ = _run(["results", "--store", str(custom_store), "--format", "csv"], capsys)
    got = {(r["trial_id"], r["metric"], int(r["index"])): r["value"] for r in csv.DictReader(io.StringIO(out))}
    assert all(float(got[(t.id, "depth_curve", d)]) == v for d, v in enumerate(curve, 1))  # bit-exact round trip
    code, out, _ = _run(["results", "--store", str(custom_store), "--format", "jsonl"], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(got) and all(json.loads(x)["experiment"] == "custom" for x in lines)
