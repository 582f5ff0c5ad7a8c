"""Reference Jacobians against closed forms computed directly in mpmath, to 25 digits."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness import reference
from harness.backends import MpmathBackend
from harness.errors import HarnessError, InternalError
from harness.functions import LIBRARY, OPERATORS
from harness.formula import parse
from harness.model import Model, Variable
from harness.reference import reference_jacobian, reference_values, self_test

DIGITS = 25

# The closed forms are computed here, in a context of our own, never through the harness.
CTX = mpmath.MPContext()
CTX.dps = 60

ACTIVATIONS = {
    "sigmoid": (lambda z: 1 / (1 + CTX.exp(-z)), lambda z: 1 / (4 * CTX.cosh(z / 2) ** 2)),
    "softplus": (lambda z: CTX.log1p(CTX.exp(z)), lambda z: 1 / (1 + CTX.exp(-z))),
    "tanh": (CTX.tanh, lambda z: CTX.sech(z) ** 2),
}

ENTRY = st.floats(-5.0, 5.0)
SLOW = settings(max_examples=8, deadline=None)


def exact(values) -> np.ndarray:
    """Floats as an object array of this module's mpf, exactly."""
    return np.vectorize(CTX.mpf, otypes=[object])(np.asarray(values, dtype=np.float64))


def elementwise(function, values: np.ndarray) -> np.ndarray:
    return np.vectorize(function, otypes=[object])(values)


def assert_digits(actual: np.ndarray, expected: np.ndarray, digits: int = DIGITS) -> None:
    """Every entry agrees to ``digits`` significant digits (an exact zero must be exactly zero)."""
    expected = np.asarray(expected, dtype=object)
    assert actual.shape == expected.shape
    for index, want in np.ndenumerate(expected):
        got = actual[index]
        if want == 0:
            assert got == 0, f"entry {index}: {got} instead of 0"
        else:
            error = abs((got - want) / want)
            assert error < CTX.mpf(10) ** -digits, f"entry {index}: {got} instead of {want} (relative error {error})"


def model(variables: dict[str, tuple], quantities: dict[str, str], activation: str | None = None) -> Model:
    placeholders = (activation,) if activation else ()
    return Model(
        variables=tuple(Variable(name, shape, (-5.0, 5.0)) for name, shape in variables.items()),
        quantities=tuple((name, parse(source, placeholders=placeholders)) for name, source in quantities.items()),
        activation=activation,
    )


# -- single functions and products -----------------------------------------------------------

DERIVATIVES = {
    "exp": CTX.exp,
    "log": lambda x: 1 / x,
    "sigmoid": ACTIVATIONS["sigmoid"][1],
    "softplus": ACTIVATIONS["softplus"][1],
    "tanh": ACTIVATIONS["tanh"][1],
}


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(sorted(DERIVATIVES)), v=arrays(np.float64, st.integers(1, 3), elements=ENTRY))
def test_the_jacobian_of_an_elementwise_function_is_the_diagonal_of_its_derivative(name, v):
    if name == "log":
        v = np.abs(v) + 0.01
    jacobian = reference_jacobian(model({"v": v.shape}, {"y": f"{name}(v)"}), "y", "v", {"v": v})
    expected = np.diag(elementwise(DERIVATIVES[name], exact(v))) if v.size else np.empty((0, 0), dtype=object)
    assert_digits(jacobian, expected)


@settings(max_examples=10, deadline=None)
@given(v=arrays(np.float64, st.integers(1, 3), elements=st.floats(-1.5, 1.5)))
def test_the_jacobian_of_tan_is_the_diagonal_of_one_over_cosine_squared(v):
    jacobian = reference_jacobian(model({"v": v.shape}, {"y": "tan(v)"}), "y", "v", {"v": v})
    assert_digits(jacobian, np.diag(elementwise(lambda x: 1 / CTX.cos(x) ** 2, exact(v))))


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(sorted(DERIVATIVES)), x=ENTRY, scale=st.floats(-13.5, 13.5))
@example(name="softplus", x=0.0, scale=3.1521094180216746e-47)  # tiny, not 0: once taken as 0 to 1e-33
def test_scalar_derivatives_of_exponential_chains_hold_across_large_magnitudes(name, x, scale):
    # y = f(scale * exp(x)): the argument reaches about +-2000, where exp is far beyond float64
    # and sigmoid(2000) or tanh(2000) differ from 1 only after hundreds of digits.
    if name == "log":
        scale = abs(scale) + 1.0
    m = model({"x": (), "scale": ()}, {"u": "scale * exp(x)", "y": f"{name}(u)"})
    jacobian = reference_jacobian(m, "y", "x", {"x": x, "scale": scale})
    u = exact(scale)[()] * CTX.exp(exact(x)[()])
    assert_digits(jacobian, np.asarray(DERIVATIVES[name](u) * u, dtype=object))


@SLOW
@given(data=st.data(), rows=st.integers(1, 3), inner=st.integers(1, 3), columns=st.integers(1, 3))
def test_matrix_product_jacobians_are_the_factors_arranged_by_index(data, rows, inner, columns):
    a = data.draw(arrays(np.float64, (rows, inner), elements=ENTRY))
    b = data.draw(arrays(np.float64, (inner, columns), elements=ENTRY))
    v = data.draw(arrays(np.float64, (inner,), elements=ENTRY))
    m = model({"a": a.shape, "b": b.shape, "v": v.shape}, {"c": "a @ b", "y": "a @ v"})
    point = {"a": a, "b": b, "v": v}
    zero = CTX.mpf(0)
    eye = lambda n: np.where(np.eye(n, dtype=bool), CTX.mpf(1), zero)  # noqa: E731
    # dc[i,k]/da[j,l] = [i == j] b[l,k];  dc[i,k]/db[j,l] = a[i,j] [k == l];  dy[i]/da[j,k] = [i == j] v[k]
    assert_digits(reference_jacobian(m, "c", "a", point), np.einsum("ij,lk->ikjl", eye(rows), exact(b)))
    assert_digits(reference_jacobian(m, "c", "b", point), np.einsum("ij,kl->ikjl", exact(a), eye(columns)))
    assert_digits(reference_jacobian(m, "y", "a", point), np.einsum("ij,k->ijk", eye(rows), exact(v)))
    assert_digits(reference_jacobian(m, "y", "v", point), exact(a))


# -- Question 2 ------------------------------------------------------------------------------

Q2_FORMULAS = {
    "scalar": {"z1": "w1 * x + b1", "a1": "s(z1)", "z2": "w2 * a1 + b2", "yhat": "s(z2)"},
    "vector": {"z1": "w1 @ x + b1", "a1": "s(z1)", "z2": "w2 @ a1 + b2", "yhat": "s(z2)"},
}


def q2_model(edition: str) -> Model:
    shapes = {"x": ("D",), "w1": ("H", "D"), "b1": ("H",), "w2": ("H",), "b2": ()}
    if edition == "scalar":
        shapes = {name: () for name in shapes}
    return model(shapes, Q2_FORMULAS[edition], activation="s")


def q2_point(data, edition: str) -> dict[str, np.ndarray]:
    if edition == "vector":
        hidden, inputs = data.draw(st.integers(1, 4), label="H"), data.draw(st.integers(1, 4), label="D")
        shapes = {"x": (inputs,), "w1": (hidden, inputs), "b1": (hidden,), "w2": (hidden,), "b2": ()}
    else:
        shapes = {name: () for name in ("x", "w1", "b1", "w2", "b2")}
    return {name: data.draw(arrays(np.float64, shape, elements=ENTRY), label=name) for name, shape in shapes.items()}


def q2_answer(edition: str, activation: str, wrt: str, point: dict[str, np.ndarray]) -> np.ndarray:
    """The answer key of Question 2, computed directly: d yhat / d wrt."""
    s, ds = ACTIVATIONS[activation]
    x, w1, b1, w2, b2 = (exact(point[name]) for name in ("x", "w1", "b1", "w2", "b2"))
    matmul = np.matmul if edition == "vector" else np.multiply
    outer = np.multiply.outer if edition == "vector" else np.multiply
    z1 = matmul(w1, x) + b1
    a1 = elementwise(s, z1)
    z2 = np.asarray(matmul(w2, a1) + b2, dtype=object)[()]
    delta1 = w2 * elementwise(ds, z1)
    return {
        "w2": ds(z2) * a1,
        "b2": ds(z2),
        "x": ds(z2) * matmul(delta1, w1),
        "w1": ds(z2) * outer(delta1, x),
        "z2": ds(z2),
    }[wrt]


@pytest.mark.parametrize("wrt", ["w2", "b2", "x", "w1", "z2"])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("edition", ["scalar", "vector"])
@SLOW
@given(data=st.data())
def test_every_question_2_answer_matches_the_reference_to_25_digits(edition, activation, wrt, data):
    point = q2_point(data, edition)
    jacobian = reference_jacobian(q2_model(edition), "yhat", wrt, point, activation=activation)
    assert_digits(jacobian, np.asarray(q2_answer(edition, activation, wrt, point), dtype=object))


@SLOW
@given(data=st.data(), activation=st.sampled_from(sorted(ACTIVATIONS)))
def test_reference_values_match_the_question_2_model_computed_directly(data, activation):
    point = q2_point(data, "vector")
    values = reference_values(q2_model("vector"), point, activation=activation)
    s, _ = ACTIVATIONS[activation]
    z1 = exact(point["w1"]) @ exact(point["x"]) + exact(point["b1"])
    yhat = s(exact(point["w2"]) @ elementwise(s, z1) + exact(point["b2"])[()])
    assert list(values) == ["x", "w1", "b1", "w2", "b2", "z1", "a1", "z2", "yhat"]
    assert_digits(values["z1"], z1)
    assert_digits(values["yhat"], np.asarray(yhat, dtype=object))


# -- hard cases ------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [0.0, 1.5])
def test_a_derivative_absorbed_by_saturation_is_still_resolved(x):
    # sigmoid(z) with z = 2000 + ...: 1 - sigmoid(z) is below 10**-868, so at the first working
    # precision both sides of the difference are exactly 1.
    m = model({"x": ()}, {"z": "100 * exp(x) + 1900", "y": "sigmoid(z)"})
    z = 100 * CTX.exp(exact(x)[()]) + 1900
    expected = ACTIVATIONS["sigmoid"][1](z) * 100 * CTX.exp(exact(x)[()])
    assert_digits(reference_jacobian(m, "y", "x", {"x": x}), np.asarray(expected, dtype=object))


def test_a_variable_added_to_a_huge_quantity_still_counts():
    m = model({"x": ()}, {"big": "exp(2000 + 0 * x)", "y": "big + x", "u": "log(y)"})
    expected = 1 / (CTX.exp(2000) + CTX.mpf(0.5))
    assert_digits(reference_jacobian(m, "u", "x", {"x": 0.5}), np.asarray(expected, dtype=object))


def test_entries_that_cannot_depend_on_a_perturbed_entry_are_exactly_zero():
    point = {"x": np.array([0.0, 2.0]), "w1": np.array([[1.0, 2.0], [3.0, 4.0]]), "b1": np.zeros(2),
             "w2": np.array([0.0, 1.0]), "b2": np.array(0.5)}
    jacobian = reference_jacobian(q2_model("vector"), "yhat", "w1", point, activation="sigmoid")
    # x[0] == 0 kills column 0; w2[0] == 0 kills row 0.
    assert jacobian[0, 0] == jacobian[0, 1] == jacobian[1, 0] == 0
    assert jacobian[1, 1] != 0


def test_an_even_function_at_its_centre_has_derivative_exactly_zero():
    m = model({"x": ()}, {"y": "cos(x) + x ** 2"})
    assert reference_jacobian(m, "y", "x", {"x": 0.0})[()] == 0


@pytest.mark.parametrize("name", ["*", "@", "dot", "outer", "+", "-", "sum"])
def test_the_dependence_analysis_takes_zero_times_nan_as_zero_in_every_bilinear_function(name):
    record = {**OPERATORS, **LIBRARY}[name]
    nan, zeros = np.full((2, 2), np.nan), np.zeros((2, 2))
    arguments = (nan, zeros)[: len(record.arrays)]
    dependence = reference._DependenceBackend()
    reached = dependence.apply(name, *map(dependence.asarray, arguments))
    ordinary = MpmathBackend(15)
    assert all(CTX.isnan(entry) for entry in ordinary.apply(name, *map(ordinary.asarray, arguments)).flat)
    assert [CTX.isnan(entry) for entry in reached.flat] == [not record.bilinear] * reached.size


def test_jacobian_shapes_are_the_shape_of_the_output_then_of_the_input():
    m = q2_model("vector")
    point = {"x": np.ones(3), "w1": np.ones((2, 3)), "b1": np.ones(2), "w2": np.ones(2), "b2": np.array(1.0)}
    assert reference_jacobian(m, "z1", "w1", point, activation="tanh").shape == (2, 2, 3)
    assert reference_jacobian(m, "a1", "z1", point, activation="tanh").shape == (2, 2)
    identity = reference_jacobian(m, "z1", "z1", point, activation="tanh")
    assert_digits(identity, np.where(np.eye(2, dtype=bool), CTX.mpf(1), CTX.mpf(0)))
    assert_digits(reference_jacobian(m, "z1", "b2", point, activation="tanh"), exact(np.zeros((2,))))


def test_an_unknown_name_is_reported():
    with pytest.raises(HarnessError) as caught:
        reference_jacobian(q2_model("scalar"), "yhat", "w3", {}, activation="tanh")
    assert str(caught.value) == (
        "wrt='w3' is not a variable or quantity of the model (x, w1, b1, w2, b2, z1, a1, z2, yhat)"
    )


def test_non_finite_values_are_returned_as_they_come():
    m = model({"x": ()}, {"y": "log(x)", "z": "exp(exp(exp(x)))"})
    assert CTX.isnan(reference_jacobian(m, "y", "x", {"x": -1.0})[()])
    assert CTX.isnan(reference_jacobian(m, "z", "x", {"x": 5.0})[()])  # inf - inf


# -- the self-test and the float-leak guard ---------------------------------------------------


def test_the_self_test_passes_and_covers_every_elementwise_function():
    self_test()
    elementwise = {f"{name}(x)" for name, record in LIBRARY.items() if record.elementwise and len(record.arrays) == 1}
    assert {"exp(x)", "abs(x)", "sigmoid(x)"} < elementwise < set(reference._self_test_formulas(CTX, CTX.mpf(0.5)))


def test_the_self_test_catches_a_function_that_computes_in_float(replace_record):
    def softplus_through_float(b, x):
        return b.ctx.mpf(math.log1p(math.exp(float(x))))

    replace_record("softplus", mpmath=softplus_through_float)
    with pytest.raises(InternalError) as caught:
        self_test()
    assert str(caught.value).startswith("reference self-test failed: the derivative of softplus(x) at x = 0.625 is ")
    assert str(caught.value).endswith(
        "the mpmath evaluation is not exact enough, probably because a function computes in float"
    )


def test_the_self_test_checks_each_function_against_the_derivative_in_its_record(replace_record):
    replace_record("cos", derivative=lambda ctx, x: ctx.sin(x))  # the sign is wrong
    with pytest.raises(InternalError) as caught:
        self_test()
    assert str(caught.value) == (
        "reference self-test failed: the derivative of cos(x) at x = 0.625 is -0.58509727294046215480539931415 by "
        "finite differences but 0.58509727294046215480539931415 in closed form (relative error 1.17); the mpmath "
        "evaluation is not exact enough, probably because a function computes in float"
    )


def test_a_float_leaking_into_a_reference_computation_raises(monkeypatch, replace_record):
    monkeypatch.setattr(reference, "_self_tested", True)
    replace_record("tanh", mpmath=lambda b, x: math.tanh(float(x)))
    with pytest.raises(InternalError, match="^float leak in the mpmath backend: tanh produced"):
        reference_jacobian(q2_model("scalar"), "yhat", "w1", {name: 0.5 for name in ("x", "w1", "b1", "w2", "b2")},
                           activation="tanh")


def test_a_float_leaking_only_at_the_perturbed_points_raises(monkeypatch, replace_record):
    # The point itself is evaluated as usual; the perturbed ones go through the plan, which must
    # guard against floats as well.
    monkeypatch.setattr(reference, "_self_tested", True)
    replace_record("tanh", mpmath=lambda b, x: b.ctx.tanh(x) if x == 0.5 else math.tanh(float(x)))
    m = model({"x": ()}, {"y": "tanh(x)"})
    with pytest.raises(InternalError, match="^float leak in the mpmath backend: tanh produced"):
        reference_jacobian(m, "y", "x", {"x": 0.5})


def test_a_jacobian_evaluates_only_the_quantities_of_and_wrt_need(monkeypatch, replace_record):
    monkeypatch.setattr(reference, "_self_tested", True)
    replace_record("cosh", mpmath=lambda b, x: 1 / 0)  # evaluating unused would raise
    m = model({"x": ()}, {"y": "exp(x)", "unused": "cosh(x)"})
    assert_digits(reference_jacobian(m, "y", "x", {"x": 0.5}), np.array(CTX.exp(CTX.mpf(0.5)), dtype=object))


def test_the_self_test_runs_before_the_first_reference(monkeypatch):
    calls = []
    monkeypatch.setattr(reference, "_self_tested", False)
    monkeypatch.setattr(reference, "self_test", lambda: calls.append(1))
    m = model({"x": ()}, {"y": "exp(x)"})
    reference_jacobian(m, "y", "x", {"x": 0.0})
    reference_values(m, {"x": 0.0})
    assert calls == [1]


@pytest.mark.parametrize("formula", ["x * x * x", "x ** 5", "sin(x) - x"])
def test_a_zero_derivative_whose_finite_differences_are_not_zero_is_found_to_be_zero(formula):
    # Found by tests/test_check_properties.py: x**3 at 0 made the two passes disagree forever.
    model = Model(variables=(Variable("x", (), (-5.0, 5.0)),), quantities=(("f", parse(formula)),))
    value = reference_jacobian(model, "f", "x", {"x": np.float64(0.0)})
    assert abs(value[()]) < mpmath.mpf(10) ** -33
