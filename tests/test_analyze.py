"""jacstab.analyze / jacstab.rescale on torch.nn.utils.prune-pruned models against jacstab's own networks."""

import math
import re
from pathlib import Path

import pytest
import torch
from torch.nn.utils import prune

import jacstab
from jacstab import NetSpec, sample

# float64: the model and jacstab compute the same products in possibly different order; ~1e-15 relative per
# operation over depth 4 -> 1e-10 relative is a wide margin for an exact identity.
EXACT = 1e-10


def _hidden_model(net, masks=None):
    """nn.Sequential computing jacstab's hidden map Y_0 -> Y_L: ReLU, Linear(W_1), ReLU, Linear(W_2), ..."""
    mods = []
    for k, w in enumerate(net.weights):
        lin = torch.nn.Linear(net.width, net.width, bias=False).double()
        with torch.no_grad():
            lin.weight.copy_(w)
        if masks is not None:
            prune.custom_from_mask(lin, "weight", masks[k])
        mods += [torch.nn.ReLU(), lin]
    return torch.nn.Sequential(*mods)


@pytest.mark.parametrize("scaling", ["empirical", "random"])
def test_rescaled_torch_pruned_model_agrees_with_jacstab_net(scaling):
    spec = NetSpec(10, 4, prune="magnitude", sparsity=0.7, scaling=scaling)  # (1-s) n^2 = 30: law = realised density
    net, parent = sample(spec, 0), sample(spec.unpruned(), 0)
    masks = [w != 0 for w in net.weights]
    model = _hidden_model(parent, masks)
    jacstab.rescale(model, rule=scaling)
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    for lin, w in zip(lins, net.weights):
        assert torch.equal(lin.weight_mask != 0, w != 0)  # masks kept
        torch.testing.assert_close(lin.weight, w, rtol=EXACT, atol=0)
    y0 = net.input_map(net.default_input())
    df = jacstab.analyze(model, y0[None, :], k=3)
    ref = jacstab.singular_values(net, net.default_input(), k=3)
    got = torch.tensor(df.attrs["top_singular_values"], dtype=torch.float64)
    # singular values are backward stable relative to the largest one (sigma_3 may be a rounding-level zero here)
    torch.testing.assert_close(got, ref.cpu(), rtol=EXACT, atol=EXACT * float(ref[0]))
    assert df["density"].tolist() == pytest.approx([float((w != 0).double().mean()) for w in net.weights], abs=0)
    assert list(df["shape"]) == [(10, 10)] * 4


def test_log_gains_sum_to_log_norm_of_J_u_and_match_the_factors():
    net = sample(NetSpec(10, 3, prune="random", sparsity=0.5, scaling="random"), 1)
    model = _hidden_model(net)
    y0 = net.input_map(net.default_input())[None, :]
    df = jacstab.analyze(model, y0, seed=4)
    u = torch.randn(y0.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    u = (u / u.norm()).flatten()
    jac = torch.func.jacrev(lambda y: net.hidden_map(y))(y0[0])  # independent: jacstab's own forward
    assert math.isclose(df["log_gain"].sum(), math.log(float((jac @ u).norm())), rel_tol=EXACT)
    # layer-by-layer: J^(d) u from the depth-d hidden map
    for d in range(1, 4):
        jd = torch.func.jacrev(lambda y, d=d: net.hidden_map(y, d))(y0[0])
        assert math.isclose(df["log_gain"][:d].sum(), math.log(float((jd @ u).norm())), rel_tol=1e-9, abs_tol=1e-12)
    assert df["recommended_scale"].tolist() == [1.0, 1.0, 1.0]  # no torch prune mask: nothing to recommend


def test_recommended_scale_and_spread_of_a_pruned_layer():
    lin = torch.nn.Linear(6, 4, bias=False).double()
    prune.l1_unstructured(lin, "weight", amount=0.5)
    w, m = lin.weight_orig.detach(), lin.weight_mask != 0
    df = jacstab.analyze(torch.nn.Sequential(lin), torch.ones(1, 6, dtype=torch.float64))
    assert df["recommended_scale"][0] == pytest.approx(math.sqrt(float((w**2).sum() / (w**2 * m).sum())), rel=1e-14)
    e = ((w * m) ** 2).sum(1)
    assert df["row_energy_spread"][0] == pytest.approx(float(e.std(unbiased=False) / e.mean()), rel=1e-14)
    assert df["density"][0] == 0.5


def test_analyze_rejects_what_it_cannot_read():
    with pytest.raises(ValueError, match="has parameters"):
        jacstab.analyze(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3)), torch.ones(1, 3))
    with pytest.raises(ValueError, match="batch dimension of 1"):
        jacstab.analyze(torch.nn.Sequential(torch.nn.Linear(3, 3)), torch.ones(2, 3))
    with pytest.raises(ValueError, match="rule must be"):
        jacstab.rescale(torch.nn.Sequential(torch.nn.Linear(3, 3)), rule="exact")

    class Skip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(3, 3)

        def forward(self, x):
            return x + self.a(x)

    with pytest.raises(ValueError, match="sequential"):
        jacstab.analyze(Skip(), torch.ones(1, 3))


def test_the_worked_example_in_docs_runs():
    text = (Path(__file__).resolve().parents[1] / "docs" / "pruning.md").read_text()
    code = re.search(r"<!-- example:analyze -->\s*```python\n(.*?)```", text, re.S).group(1)
    scope = {}
    exec(compile(code, "docs/pruning.md", "exec"), scope)
    before, after = scope["before"], scope["after"]
    assert list(before["layer"]) == ["0", "3", "5", "7"]
    assert before["density"].tolist() == pytest.approx([1.0, 0.1, 0.1, 0.1], abs=1e-3)  # l1_unstructured rounds
    assert (before["recommended_scale"][1:] > 1).all() and before["recommended_scale"][0] == 1.0
    assert after.attrs["log_norm"] > before.attrs["log_norm"]  # the rows were scaled up by c_i >= 1
