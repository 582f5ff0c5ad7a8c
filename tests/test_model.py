"""Models: shapes of variables and quantities, evaluation in order, overrides."""

from __future__ import annotations

import numpy as np
import pytest

from harness.backends import FLOAT64, MpmathBackend, to_float64
from harness.errors import FormulaError
from harness.formula import parse
from harness.model import Model, Variable, evaluate_model, plan_recompute, recompute

POINT = {
    "x": np.array([0.5, -1.0, 2.0]),
    "w1": np.arange(6.0).reshape(2, 3) / 10,
    "b1": np.array([0.1, -0.2]),
    "w2": np.array([1.5, -0.5]),
    "b2": 0.25,
}


def q2_vector_model() -> Model:
    return Model(
        variables=(
            Variable("x", ("D",), (-5.0, 5.0)),
            Variable("w1", ("H", "D"), (-5.0, 5.0)),
            Variable("b1", ("H",), (-5.0, 5.0)),
            Variable("w2", ("H",), (-5.0, 5.0)),
            Variable("b2", (), (-5.0, 5.0)),
        ),
        quantities=tuple(
            (name, parse(source, placeholders=("s",)))
            for name, source in (("z1", "w1 @ x + b1"), ("a1", "s(z1)"), ("z2", "w2 @ a1 + b2"), ("yhat", "s(z2)"))
        ),
        dimensions=(("H", (1, 4)), ("D", (1, 4))),
        activation="s",
    )


def test_concrete_shapes_of_variables_and_quantities_follow_the_sizes():
    model = q2_vector_model()
    sizes = {"H": 2, "D": 3}
    shapes = [model.concrete_shape(name, sizes) for name in model.names]
    assert shapes == [(3,), (2, 3), (2,), (2,), (), (2,), (2,), (), ()]


def test_a_concrete_shape_needs_every_dimension_size():
    with pytest.raises(FormulaError) as caught:
        q2_vector_model().concrete_shape("w1", {"D": 3})
    assert str(caught.value) == "no size for dimension 'H' of 'w1'; sizes were given for D"


def test_evaluating_a_model_gives_every_variable_and_quantity_in_order():
    values = evaluate_model(q2_vector_model(), POINT, FLOAT64, activation="tanh")
    assert list(values) == ["x", "w1", "b1", "w2", "b2", "z1", "a1", "z2", "yhat", *q2_vector_model().dimension_names]
    z1 = POINT["w1"] @ POINT["x"] + POINT["b1"]
    np.testing.assert_allclose(values["yhat"], np.tanh(POINT["w2"] @ np.tanh(z1) + POINT["b2"]))


def test_both_backends_evaluate_a_model_alike():
    backend = MpmathBackend(30)
    exact = evaluate_model(q2_vector_model(), POINT, backend, activation="softplus")
    rounded = evaluate_model(q2_vector_model(), POINT, FLOAT64, activation="softplus")
    for name, value in rounded.items():
        np.testing.assert_allclose(value, to_float64(exact[name]), rtol=1e-14)


def test_a_planned_recompute_gives_what_recompute_gives_bit_for_bit():
    backend = MpmathBackend(40)
    base = evaluate_model(q2_vector_model(), POINT, backend, activation="softplus")
    names = ["a1", "z2", "yhat"]
    planned = plan_recompute(q2_vector_model(), base, backend, names, activation="softplus")
    for shift in ("0", "1e-30", "-2.5"):
        changed = {**base, "z1": base["z1"] + backend.ctx.mpf(shift)}
        got, want = planned(changed), recompute(q2_vector_model(), changed, backend, names, activation="softplus")
        assert list(got) == list(want)
        for name in names:
            assert [repr(entry) for entry in got[name].flat] == [repr(entry) for entry in want[name].flat]


def test_an_override_replaces_a_quantity_and_what_follows_uses_it():
    values = evaluate_model(q2_vector_model(), POINT, FLOAT64, activation="sigmoid", overrides={"z2": 0.0})
    assert values["z2"] == 0.0
    assert values["yhat"] == 0.5
    assert list(values) == ["x", "w1", "b1", "w2", "b2", "z1", "a1", "z2", "yhat", *q2_vector_model().dimension_names]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"overrides": {"z1": 1.0}},
            "the override of 'z1' has shape [], expected [2] (its shape [H] at this point)",
        ),
        (
            {"overrides": {"x": 1.0}},
            "cannot override x: only quantities can be overridden (z1, a1, z2, yhat)",
        ),
        (
            {"point": {**POINT, "b1": np.zeros(3)}},
            "the value of 'b1' has shape [3], which does not fit its declared shape [H] with H = 2 (from w1)",
        ),
        (
            {"point": {name: value for name, value in POINT.items() if name != "b2"}},
            "no value for the variable 'b2'; the point gives b1, w1, w2, x",
        ),
        (
            {"activation": None},
            "the activation placeholder 's' is not bound to a function (column 1)\n    s(z1)\n    ^",
        ),
    ],
)
def test_evaluation_problems_are_explained(kwargs, expected):
    arguments = {"point": POINT, "activation": "tanh", **kwargs}
    point = arguments.pop("point")
    with pytest.raises(FormulaError) as caught:
        evaluate_model(q2_vector_model(), point, FLOAT64, **arguments)
    assert str(caught.value) == expected


def test_an_activation_for_a_model_without_a_placeholder_is_an_error():
    model = Model(variables=(Variable("x", (), (0.0, 1.0)),), quantities=(("y", parse("2 * x")),))
    with pytest.raises(FormulaError) as caught:
        evaluate_model(model, {"x": 1.0}, FLOAT64, activation="tanh")
    assert str(caught.value) == "activation='tanh' was given, but the model has no activation placeholder"


def test_dependencies_run_through_intermediate_quantities():
    model = q2_vector_model()
    assert model.upstream("z2") == {"w1", "x", "b1", "z1", "a1", "w2", "b2"}
    assert model.upstream("x") == frozenset()
    assert model.downstream(["w1"]) == ("z1", "a1", "z2", "yhat")
    assert model.downstream(["b2"]) == ("z2", "yhat")
