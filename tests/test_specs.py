import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacstab import NetSpec


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"width": 0, "depth": 3}, "width"),
        ({"width": 4, "depth": 0}, "depth"),
        ({"width": 4.5, "depth": 3}, "width"),
        ({"width": True, "depth": 3}, "width"),
        ({"width": 4, "depth": 3, "sigma2": -1.0}, "sigma2"),
        ({"width": 4, "depth": 3, "sigma2": 0.0}, "sigma2"),
        ({"width": 4, "depth": 3, "sigma2": float("nan")}, "sigma2"),
        ({"width": 4, "depth": 3, "activation": "rleu"}, "activation"),
        ({"width": 4, "depth": 3, "init": "xavier"}, "init"),
        ({"width": 4, "depth": 3, "slope": 1.5}, "slope"),
        ({"width": 4, "depth": 3, "in_dim": 0}, "in_dim"),
        ({"width": 4, "depth": 3, "out_dim": -2}, "out_dim"),
    ],
)
def test_invalid_fields_name_field_and_value(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field} must") as e:
        NetSpec(**kwargs)
    assert repr(kwargs[field]) in str(e.value) or str(kwargs[field]) in str(e.value)


def test_typo_suggests_closest():
    with pytest.raises(ValueError, match="did you mean 'relu'"):
        NetSpec(4, 3, activation="rleu")
    with pytest.raises(ValueError, match="did you mean 'sigma2'"):
        NetSpec.from_dict({"width": 4, "depth": 3, "sigma": 2.0})


def test_in_dim_resolution_makes_equal_laws_hash_equal():
    assert NetSpec(8, 3).hash() == NetSpec(8, 3, in_dim=8).hash()
    assert NetSpec(8, 3).hash() != NetSpec(8, 4).hash()
    assert NetSpec(8, 3, sigma2=2).hash() == NetSpec(8, 3, sigma2=2.0).hash()


@given(
    width=st.integers(1, 10_000),
    depth=st.integers(1, 10_000),
    activation=st.sampled_from(["relu", "linear", "tanh", "leaky_relu", "abs"]),
    sigma2=st.floats(1e-3, 100.0),
    init=st.sampled_from(["gaussian", "orthogonal"]),
)
def test_canonical_json_roundtrip(width, depth, activation, sigma2, init):
    spec = NetSpec(width, depth, activation=activation, sigma2=sigma2, init=init)
    again = NetSpec.from_dict(json.loads(spec.canonical_json()))
    assert again.canonical_json() == spec.canonical_json()
    assert again.hash() == spec.hash()
    assert len(spec.hash()) == 16


def test_replace_validates():
    with pytest.raises(ValueError, match=r"^depth must"):
        NetSpec(4, 3).replace(depth=-1)
