"""Width-changing orthogonal networks (issue 14, part 4): ``jacstab.partial_isometry_net`` and
``jacstab.theory.partial``. Spectra against ``jacrev`` + ``svdvals`` (an independent computation: autograd through the
module, not jacstab's engine), the isometric fraction against the theory exactly, bad input, and the CLI."""

import json
import math

import numpy as np
import pytest
import torch
from torch.func import jacrev

import jacstab
from jacstab.nets.streams import generator, haar_orthogonal
from jacstab.theory import partial_isometry_defect, partial_isometry_dims, partial_isometry_fraction

# narrowing, widening, constant then narrowing, a bottleneck (narrow then widen), one layer, odd widths (abs)
WIDTHS = {
    "narrow": (64, 48, 32, 16),
    "widen": (16, 32, 48, 64),
    "flat-narrow": (32, 32, 32, 20),
    "bottleneck": (64, 40, 24, 24, 40, 64),
    "one-layer": (50, 30),
}
# Singular values of a product of d exactly semi-orthogonal factors carry rounding ~ sqrt(n) eps per factor
# (~1e-15 here), at most linear in d: <= 1e-13 at d = 60 (measured ~1e-15); zeros are resolved by svdvals to
# ~ sigma_1 eps = 2e-16. 1e-12 is the bound and leaves 10x margin.
TOL64 = 1e-12


def _svals_by_autograd(model, x):
    """All min(n_d, n_0) singular values of d model(x) / dx: autograd's Jacobian, then LAPACK's SVD."""
    return torch.linalg.svdvals(jacrev(model)(x).detach())


def _zero_one_split(s, tol):
    """(ones, zeros) counts; fails unless every value is within tol of 0 or of 1."""
    ones, zeros = (s - 1).abs() <= tol, s.abs() <= tol
    assert bool((ones | zeros).all()), f"singular values outside {{0, 1}} +- {tol}: {s[~(ones | zeros)]}"
    return int(ones.sum()), int(zeros.sum())


@pytest.mark.parametrize("act", ["groupsort", "abs", "linear"])
@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_spectrum_is_zero_one_with_the_predicted_multiplicities_at_every_depth(name, act):
    widths = WIDTHS[name]
    if act == "groupsort" and any(w % 2 for w in widths[:-1]):
        pytest.skip("groupsort needs even gated widths")
    model = jacstab.partial_isometry_net(widths, act, seed=3)
    x = jacstab.default_input(widths[0])
    dims = partial_isometry_dims(widths)
    for d in range(1, len(widths)):
        s = _svals_by_autograd(model[: 2 * d], x)
        ones, zeros = _zero_one_split(s, TOL64)
        assert ones == dims[d - 1] == min(widths[: d + 1])
        assert zeros == min(widths[0], widths[d]) - dims[d - 1]
        # jacstab's generic callable path gives the same values
        mine = jacstab.singular_values(model[: 2 * d], x)
        assert torch.allclose(mine, s, atol=TOL64, rtol=0)


@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_isometric_fraction_and_defect_equal_the_theory_exactly(name):
    widths = WIDTHS[name]
    model = jacstab.partial_isometry_net(widths, "abs", seed=11)
    x = jacstab.default_input(widths[0])
    frac, dfct = partial_isometry_fraction(widths), partial_isometry_defect(widths)
    for d in range(1, len(widths)):
        r = jacstab.isometry_defect(model[: 2 * d], x)
        assert r.isometric_dim / widths[0] == frac[d - 1]  # exact: both are integer counts over n_0
        # the defect is sqrt(#zeros / n_0) up to the rounding of the ones (sigma^2 - 1 ~ 1e-15 each)
        assert r.defect == pytest.approx(float(dfct[d - 1]), abs=1e-12)


def test_theory_values_pinned():
    assert partial_isometry_dims((64, 48, 32, 32, 40)).tolist() == [48, 32, 32, 32]
    assert partial_isometry_fraction((64, 48, 32, 32, 40)).tolist() == [0.75, 0.5, 0.5, 0.5]
    assert partial_isometry_fraction((16, 32, 64)).tolist() == [1.0, 1.0]  # widening: an isometry, J^T J = I
    assert partial_isometry_defect((64, 16)).tolist() == [math.sqrt(0.75)]
    with pytest.raises(ValueError):  # read-only, like the other theory curves
        partial_isometry_dims((4, 2))[0] = 1


def test_deep_narrowing_groupsort_net_is_a_partial_isometry_at_depth_60():
    widths = (64,) * 21 + tuple(range(62, 22, -2)) + (24,) * 20  # 60 layers: flat, narrowing by 2, flat
    model = jacstab.partial_isometry_net(widths, "groupsort", seed=0)
    x = jacstab.default_input(64)
    s = _svals_by_autograd(model, x)
    assert _zero_one_split(s, TOL64) == (24, 0) and len(widths) - 1 == 60
    assert jacstab.isometry_defect(model, x).isometric_dim == 24  # fraction 24/64 = n_L / n_0


def test_widen_then_narrow_is_not_a_partial_isometry_which_is_why_it_is_rejected():
    # the excluded shape built by hand: W_2 P W_1 with W_1 (64 x 32) orthonormal columns, W_2 (32 x 64) rows
    w1 = haar_orthogonal(64, 32, generator=generator(0, 1), dtype=torch.float64)
    w2 = haar_orthogonal(32, 64, generator=generator(0, 2), dtype=torch.float64)
    s = torch.linalg.svdvals(w2 @ w1)
    # cosines of principal angles between two random 32-dim subspaces of R^64: spread over (0, 1), none at 0 or 1
    assert bool(((s > 1e-6) & (s < 1 - 1e-6)).all()) and int(((s > 0.1) & (s < 0.9)).sum()) >= 10
    with pytest.raises(ValueError, match=r"widen and then narrow .* narrow and then widen"):
        jacstab.partial_isometry_net((32, 64, 32), "abs", seed=0)


@pytest.mark.parametrize(
    ("widths", "act", "needle"),
    [
        ((64, 80, 48), "abs", r"n_1 = 80 > n_0 = 64, then n_2 = 48 < n_1 = 80"),
        ((64, 33, 32), "groupsort", r"n_1 = 33 is odd: use 34, or activation='abs'"),
        ((63, 32), "groupsort", r"n_0 = 63 is odd"),
        ((64, 0), "abs", r"every width must be an integer >= 1, got 0"),
        ((64, 2.5), "abs", r"every width must be an integer >= 1"),
        ((64,), "abs", r"widths needs 2 to .* entries .* give e.g. \(64, 32\)"),
        ("64,32", "abs", r"widths must be a sequence of integers"),
        ((64, 32), "relu", r"activation must be one of groupsort, abs, linear"),
        ((64, 32), "groupsrt", r"did you mean 'groupsort'"),
    ],
)
def test_bad_input_says_how_to_fix_it(widths, act, needle):
    with pytest.raises(ValueError, match=needle):
        jacstab.partial_isometry_net(widths, act, seed=0)


def test_odd_output_width_is_allowed_with_groupsort():
    model = jacstab.partial_isometry_net((64, 33), "groupsort", seed=0)  # the last width is not gated
    assert _zero_one_split(_svals_by_autograd(model, jacstab.default_input(64)), TOL64) == (33, 0)


def test_seeded_no_global_rng_float32_and_structure():
    state = torch.get_rng_state()
    a = jacstab.partial_isometry_net((16, 12, 8), seed=5)
    assert torch.equal(torch.get_rng_state(), state)  # no draw from the global generator
    b = jacstab.partial_isometry_net((16, 12, 8), seed=5)
    c = jacstab.partial_isometry_net((16, 12, 8), seed=6)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[1].weight, c[1].weight)
    assert [type(m).__name__ for m in a] == ["GroupSort", "Linear", "GroupSort", "Linear"]
    assert a[1].bias is None and tuple(a[3].weight.shape) == (8, 12)
    assert torch.allclose(a[1].weight @ a[1].weight.T, torch.eye(12, dtype=torch.float64), atol=1e-14)
    f = jacstab.partial_isometry_net((16, 12, 8), seed=5, dtype=torch.float32)
    assert f[1].weight.dtype == torch.float32 and torch.allclose(f[1].weight.double(), a[1].weight, atol=1e-7)
    # float32: the ones carry rounding ~ sqrt(n) eps32 ~ 5e-7 per factor
    assert _zero_one_split(_svals_by_autograd(f, jacstab.default_input(16, dtype=torch.float32)), 1e-5) == (8, 0)
    assert a(torch.ones(5, 16, dtype=torch.float64)).shape == (5, 8)  # batched inputs
    with pytest.raises(ValueError, match="seed must be an integer"):
        jacstab.partial_isometry_net((16, 8), seed=-1)
    with pytest.raises(ValueError, match=r"dtype must be torch\.float64 or torch\.float32"):
        jacstab.partial_isometry_net((16, 8), seed=0, dtype=torch.int64)


def test_hutchinson_defect_on_the_module_agrees_with_exact():
    # the matrix-free path (jvp/vjp through an nn.Module whose parameters require grad)
    model = jacstab.partial_isometry_net((64, 48, 48), "groupsort", seed=1)
    x = jacstab.default_input(64)
    h = jacstab.isometry_defect(model, x, method="hutchinson", probes=64, seed=2)
    exact = float(partial_isometry_defect((64, 48, 48))[-1])
    assert h.method == "hutchinson" and abs(h.defect - exact) < 4 * h.stderr  # 4 standard errors: P(fail) ~ 6e-5


def _cli(argv, capsys):
    from jacstab.cli import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_cli_widths_rows_equal_the_library_and_the_theory(capsys):
    code, out, _ = _cli(["isometry", "--widths", "32,24,16,16,24", "--every", "1", "--seeds", "2", "--format",
                         "json"], capsys)
    rows = json.loads(out)
    assert code == 0 and [(r["seed"], r["depth"]) for r in rows] == [(s, d) for s in (0, 1) for d in (1, 2, 3, 4)]
    x = jacstab.default_input(32)
    for r in rows:
        model = jacstab.partial_isometry_net((32, 24, 16, 16, 24), "groupsort", seed=r["seed"])
        assert r["defect"] == jacstab.isometry_defect(model[: 2 * r["depth"]], x).defect
        assert r["isometric_dim"] == r["predicted_dim"] == [24, 16, 16, 16][r["depth"] - 1]
        assert r["isometric_fraction"] == r["predicted_fraction"] and r["n"] == 32
        assert r["width_out"] == (32, 24, 16, 16, 24)[r["depth"]]
        assert r["predicted_defect"] == pytest.approx(math.sqrt(1 - r["predicted_fraction"]), abs=1e-15)
    code, out, _ = _cli(["isometry", "--widths", "30,20", "--activation", "abs", "--format", "csv"], capsys)
    assert code == 0 and out.splitlines()[0].endswith("width_out,isometric_fraction,predicted_dim,"
                                                      "predicted_fraction,predicted_defect")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--widths", "32,64,32"], "widen and then narrow"),
        (["--widths", "64,33,32"], "n_1 = 33 is odd"),
        (["--widths", "64,x"], "--widths must be comma-separated integers"),
        (["--widths", "64,32", "--activation", "relu"], "--activation relu does not apply with --widths"),
        (["--widths", "64,32", "--prune", "random"], "--prune does not apply with --widths"),
        (["--widths", "64,32", "-n", "64"], "--width does not apply with --widths"),
        (["--widths", "64,32", "--every", "2"], "--every must be in [1, 1]"),
        (["-n", "64"], "--depth is required (or give --widths"),
    ],
)
def test_cli_widths_errors_are_one_line_exit_2(argv, needle, capsys):
    code, out, err = _cli(["isometry", *argv], capsys)
    assert code == 2 and out == "" and needle in err and len(err.strip().splitlines()) == 1


def test_cli_help_shows_the_widths_example(capsys):
    code, out, _ = _cli(["isometry", "--help"], capsys)
    assert code == 0 and "--widths" in out and "jacstab isometry --widths 64,48,32,32,48" in out


def test_theory_is_numpy_only():
    assert isinstance(partial_isometry_dims((8, 4)), np.ndarray)
    import jacstab.theory.partial as mod

    assert "torch" not in mod.__dict__


def test_numpy_widths_and_the_memory_limit(monkeypatch):
    assert partial_isometry_dims(np.array([8, 6, 4])).tolist() == [6, 4]
    assert partial_isometry_fraction(range(8, 2, -2)).tolist() == [0.75, 0.5]
    monkeypatch.setenv("JACSTAB_MAX_BYTES", "100")  # 8*6 + 6*4 = 72 float64 entries = 576 bytes
    with pytest.raises(ValueError, match=r"need .* GiB for the weights, over the limit .* use fewer or narrower"):
        jacstab.partial_isometry_net((8, 6, 4), seed=0)
