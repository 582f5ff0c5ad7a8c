"""The function registry: its records agree with numpy, with each other and with the docs."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from harness import functions
from harness.backends import FLOAT64, Float64Backend, MpmathBackend, to_float64
from harness.errors import InternalError
from harness.formula import ELEMENTWISE_FUNCTIONS, evaluate, infer_shape, parse
from harness.functions import LIBRARY, OPERATORS, Function, Kinks, ShapeError, Static, docs_table
from harness.model import Model, Variable
from harness.reference import reference_jacobian, self_test

ROOT = Path(__file__).resolve().parent.parent
ELEMENTWISE = sorted(name for name, record in LIBRARY.items() if record.elementwise and len(record.arrays) == 1)
BACKEND = MpmathBackend(30)

# Every float but -0.0, which mpmath cannot hold (it becomes 0, so 1 / -0.0 differs in sign).
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True).map(lambda x: x + 0.0)


def within_ulps(got: float, want: float, ulps: int) -> bool:
    """Both nan, both the same infinity, or ``ulps`` float64 steps apart at most."""
    if math.isnan(want) or math.isinf(want):
        return got == want or (math.isnan(got) and math.isnan(want))
    return abs(got - want) <= ulps * math.ulp(want)


# -- the docs --------------------------------------------------------------------------------


def test_the_docs_contain_exactly_the_generated_table():
    documented = (ROOT / "docs" / "spec-format.md").read_text()
    found = re.findall(re.escape(functions.DOCS_BEGIN) + ".*?" + re.escape(functions.DOCS_END), documented, re.S)
    assert found == [docs_table()], (
        "docs/spec-format.md is out of date; paste the output of "
        "python -c 'from harness.functions import docs_table; print(docs_table())' between its markers"
    )


def test_the_docs_table_has_one_row_per_record_saying_how_it_is_written():
    rows = docs_table().splitlines()[3:-1]
    assert len(rows) == len(OPERATORS) + len(LIBRARY) + len(functions.CONSTANTS)
    assert rows[0] == "| `a + b` | Sum, entry by entry; shapes broadcast as in numpy (a scalar with anything). |  |  |"
    assert "| `abs(a)` | Absolute value. | yes | 0 |" in rows
    assert any(row.startswith("| `sum(a, axis=None)` | The sum of all entries") for row in rows)


# -- kernels ---------------------------------------------------------------------------------


@settings(max_examples=300)
@given(name=st.sampled_from(ELEMENTWISE), x=ANY_FLOAT)
def test_each_elementwise_float64_kernel_agrees_with_its_mpmath_kernel_rounded(name, x):
    via_float = float(FLOAT64.apply(name, np.asarray(x)))
    via_mpmath = float(to_float64(BACKEND.apply(name, BACKEND.asarray(x))))
    assert within_ulps(via_float, via_mpmath, 2), (via_float, via_mpmath)


@settings(max_examples=300)
@given(name=st.sampled_from(["+", "-", "*", "/", "**"]), x=ANY_FLOAT, y=ANY_FLOAT)
def test_each_binary_operator_gives_the_same_special_values_in_both_backends(name, x, y):
    # Double rounding (at 30 digits, then to float64) may move a result by one step, no more.
    via_float = float(FLOAT64.apply(name, np.asarray(x), np.asarray(y)))
    via_mpmath = float(to_float64(BACKEND.apply(name, BACKEND.asarray(x), BACKEND.asarray(y))))
    assert within_ulps(via_float, via_mpmath, 1), (via_float, via_mpmath)


@st.composite
def summed(draw):
    """An array (integer-valued entries, so every sum is exact) and an axis of it, or None."""
    values = draw(arrays(np.float64, array_shapes(min_dims=0, max_dims=3, max_side=3),
                         elements=st.integers(-1000, 1000).map(float)))
    axis = draw(st.none() | st.integers(-values.ndim, values.ndim - 1)) if values.ndim else None
    return values, axis


@given(summed())
def test_sum_with_an_axis_matches_numpy_in_both_backends(case):
    values, axis = case
    expected = np.sum(values, axis=axis)
    assert LIBRARY["sum"].result_shape(values.shape, axis=axis) == np.shape(expected)
    np.testing.assert_array_equal(FLOAT64.apply("sum", values, axis=axis), expected)
    via_mpmath = BACKEND.apply("sum", BACKEND.asarray(values), axis=axis)
    assert via_mpmath.shape == np.shape(expected)
    np.testing.assert_array_equal(to_float64(via_mpmath), expected)


def test_sum_along_an_axis_is_written_with_an_integer_literal():
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    cases = [("sum(W, axis=0)", ("D",), [5, 7, 9]), ("sum(W, 1)", ("H",), [6, 15]),
             ("sum(W, axis=-1)", ("H",), [6, 15]), ("sum(W)", (), 21), ("sum(W, axis=None)", (), 21)]
    for source, shape, expected in cases:
        formula = parse(source)
        assert infer_shape(formula, {"W": ("H", "D")}) == shape
        np.testing.assert_array_equal(evaluate(formula, {"W": w}, FLOAT64), expected)
        np.testing.assert_array_equal(to_float64(evaluate(formula, {"W": w}, BACKEND)), expected)


@st.composite
def call_of(draw, record: Function):
    shapes = draw(st.lists(array_shapes(min_dims=0, max_dims=3, max_side=3), min_size=len(record.arrays),
                           max_size=len(record.arrays)))
    statics = {
        static.name: draw(st.integers(1, 3) if static.dimension and index == 0 else st.none() | st.integers(-3, 3))
        if not static.dimension or index == 0 else draw(st.none() | st.integers(1, 3))
        for index, static in enumerate(record.statics)
    }
    return shapes, statics


@settings(max_examples=200)
@given(data=st.data(), record=st.sampled_from([*OPERATORS.values(), *LIBRARY.values()]))
def test_a_shape_rule_that_accepts_gives_the_shape_both_kernels_produce(data, record):
    shapes, statics = data.draw(call_of(record))
    operands = [np.full(shape, 0.5) for shape in shapes]
    try:
        shape = record.result_shape(*shapes, **statics)
    except ShapeError:
        return
    with np.errstate(all="ignore"):
        assert np.shape(record.float64(*operands, **statics)) == shape
    assert BACKEND.apply(record.name, *map(BACKEND.asarray, operands), **statics).shape == shape


@settings(max_examples=200)
@given(data=st.data(), record=st.sampled_from([*OPERATORS.values(), *LIBRARY.values()]))
def test_what_numpy_refuses_the_shape_rule_refuses(data, record):
    shapes, statics = data.draw(call_of(record))
    try:
        with np.errstate(all="ignore"):
            record.float64(*[np.zeros(shape) for shape in shapes], **statics)
    except (ValueError, np.exceptions.AxisError):
        with pytest.raises(ShapeError):
            record.result_shape(*shapes, **statics)


# -- kinks -----------------------------------------------------------------------------------


def test_kinks_are_listed_within_an_interval():
    assert Kinks(0.0, None, "0").within(-5, 5) == (0.0,)
    assert Kinks(0.0, None, "0").within(0.5, 5) == ()
    quarter = math.pi / 2
    assert Kinks(quarter, math.pi, "π/2 + kπ").within(-5, 5) == (-3 * quarter, -quarter, quarter, 3 * quarter)
    assert Kinks(1.0, 2.0, "1 + 2k").within(1.0, 5.0) == (1.0, 3.0, 5.0)


def one_sided_slopes(name: str, x: float) -> tuple:
    """The slopes of ``name`` (its mpmath kernel) just left and just right of ``x``."""
    at, step = BACKEND.ctx.mpf(x), BACKEND.ctx.mpf(10) ** -12
    left, middle, right = BACKEND.apply(name, np.array([at - step, at, at + step], dtype=object))
    return (middle - left) / step, (right - middle) / step


def smooth_at(name: str, x: float) -> bool:
    left, right = one_sided_slopes(name, x)
    return bool(BACKEND.ctx.isfinite(left) and BACKEND.ctx.isfinite(right) and abs(left - right) < 1e-6 * (1 + abs(left)))


@pytest.mark.parametrize("name", [name for name, record in LIBRARY.items() if record.kinks])
def test_a_function_is_not_differentiable_at_each_of_its_kinks(name):
    kinks = LIBRARY[name].kinks.within(-5, 5)
    assert kinks
    assert [kink for kink in kinks if smooth_at(name, kink)] == []


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_a_function_is_differentiable_everywhere_else_where_it_is_defined(name):
    kinks = LIBRARY[name].kinks.within(-5, 5) if LIBRARY[name].kinks else ()
    grid = [*np.linspace(-5, 5, 23), *np.linspace(-0.95, 0.95, 11)]  # arcsin and arccos live in [-1, 1]
    points = [x for x in grid if all(abs(x - kink) > 0.1 for kink in kinks)]
    defined = [x for x in points if not BACKEND.ctx.isnan(BACKEND.apply(name, BACKEND.asarray(x))[()])]
    assert len(defined) >= 10
    assert [x for x in defined if not smooth_at(name, x)] == []


def test_tan_is_not_differentiable_at_its_poles_in_the_default_domain():
    quarter = math.pi / 2
    assert LIBRARY["tan"].kinks.within(-5, 5) == (-3 * quarter, -quarter, quarter, 3 * quarter)
    assert not LIBRARY["tan"].activation and "tan" not in ELEMENTWISE_FUNCTIONS


@given(st.floats(-5, 5))
def test_tan_is_sine_over_cosine_to_the_last_digits_in_mpmath(x):
    difference = evaluate(parse("tan(x) * cos(x) - sin(x)"), {"x": x}, BACKEND)[()]
    assert abs(difference) < BACKEND.ctx.mpf(10) ** -28


# -- records ---------------------------------------------------------------------------------


def test_an_inconsistent_record_is_refused_with_every_problem_named():
    with pytest.raises(InternalError) as caught:
        Function("cube", ("a",), np.cbrt, lambda b, x: x, "Cube.", lambda name, shape: shape, elementwise=True,
                 statics=(Static("axis", None),), kinks=Kinks(0.0, None, "0"))
    assert str(caught.value) == (
        "the record of 'cube' is inconsistent: an elementwise function has no static arguments; "
        "a unary elementwise function needs its derivative"
    )


def test_an_operator_is_written_with_its_symbol_and_a_function_with_its_signature():
    assert [OPERATORS[name].call for name in ("+", "@", "neg")] == ["a + b", "a @ b", "-a"]
    assert [LIBRARY[name].call for name in ("exp", "dot", "sum")] == ["exp(a)", "dot(a, b)", "sum(a, axis=None)"]


def test_a_new_elementwise_record_is_all_the_harness_needs(monkeypatch):
    cube = Function(
        "cube", ("a",), lambda a: a**3, lambda b, x: b.fit(x**3), "The cube of each entry.",
        lambda name, shape: shape, elementwise=True, derivative=lambda ctx, x: 3 * x**2, activation=True,
    )  # fmt: skip
    monkeypatch.setitem(functions._LIBRARY, "cube", cube)
    formula = parse("cube(x) + s(x)", placeholders=("s",))
    assert infer_shape(formula, {"x": ("D",)}) == ("D",)
    x = np.array([0.5, -2.0])
    np.testing.assert_array_equal(evaluate(formula, {"x": x}, Float64Backend(), bind={"s": "cube"}), 2 * x**3)
    mpmath_backend = MpmathBackend(30)
    np.testing.assert_array_equal(
        to_float64(evaluate(formula, {"x": x}, mpmath_backend, bind={"s": "cube"})), 2 * x**3
    )
    self_test()
    model = Model(variables=(Variable("x", (), (-5.0, 5.0)),), quantities=(("y", parse("cube(x)")),))
    assert reference_jacobian(model, "y", "x", {"x": 0.5})[()] == mpmath.mpf("0.75")
    assert "| `cube(a)` | The cube of each entry. | yes |  |" in docs_table()
    monkeypatch.setitem(functions._LIBRARY, "cube", dataclasses.replace(cube, derivative=lambda ctx, x: x))
    with pytest.raises(InternalError, match=r"^reference self-test failed: the derivative of cube\(x\)"):
        self_test()


# -- the array functions of issue 10 -----------------------------------------------------------

ARRAY_FUNCTIONS = ["mean", "max", "min", "logsumexp", "softmax", "log_softmax", "norm", "trace", "det", "logdet",
                   "inv", "diag"]


@st.composite
def well_conditioned(draw, size=None):
    """A square matrix with entries in [-3, 3] and a condition number below 1e4."""
    n = size or draw(st.integers(1, 3))
    matrix = draw(arrays(np.float64, (n, n), elements=st.floats(-3, 3, allow_subnormal=False)))
    if np.linalg.cond(matrix) > 1e4:
        matrix = matrix + 4 * np.eye(n) * (1 + np.abs(matrix).max())
    return matrix


@settings(max_examples=200)
@given(st.sampled_from(ARRAY_FUNCTIONS), well_conditioned(), st.data())
def test_each_array_functions_float64_kernel_agrees_with_its_mpmath_kernel(name, matrix, data):
    record = LIBRARY[name]
    statics = {static.name: data.draw(st.sampled_from([None, 0, 1, -1])) for static in record.statics}
    if name in ("softmax", "log_softmax") and statics.get("axis") is None:
        statics["axis"] = -1
    via_float = record.float64(matrix, **statics) if statics else record.float64(matrix)
    via_mpmath = to_float64(BACKEND.apply(name, BACKEND.asarray(matrix), **statics))
    np.testing.assert_allclose(via_mpmath, via_float, rtol=1e-9, atol=1e-12)


@settings(max_examples=60)
@given(well_conditioned(), st.data())
def test_solve_is_the_inverse_times_the_right_hand_side_in_both_backends(matrix, data):
    rhs = data.draw(arrays(np.float64, (matrix.shape[0],), elements=st.floats(-3, 3)))
    exact = to_float64(BACKEND.apply("solve", BACKEND.asarray(matrix), BACKEND.asarray(rhs)))
    np.testing.assert_allclose(exact, np.linalg.solve(matrix, rhs), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(FLOAT64.apply("solve", matrix, rhs), np.linalg.solve(matrix, rhs))


GRADIENTS = [  # a function of x (a vector) or A (a square matrix), and its gradient in closed form
    ("logsumexp(x)", lambda x: np.exp(x) / np.exp(x).sum()),
    ("norm(x)", lambda x: x / np.linalg.norm(x)),
    ("mean(x)", lambda x: np.full_like(x, 1 / x.size)),
    ("sum(softmax(x) * x)", lambda x: (lambda s: s * (1 + x - s @ x))(np.exp(x) / np.exp(x).sum())),
    ("det(A)", lambda a: np.linalg.det(a) * np.linalg.inv(a).T),
    ("log(abs(det(A)))", lambda a: np.linalg.inv(a).T),
    ("trace(inv(A))", lambda a: -(np.linalg.inv(a) @ np.linalg.inv(a)).T),
    ("sum(diag(A)) + trace(A @ A)", lambda a: np.eye(len(a)) + 2 * a.T),
]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(GRADIENTS), well_conditioned(size=3), arrays(np.float64, (3,), elements=st.floats(-3, 3)))
def test_the_reference_gradient_of_each_array_function_is_its_closed_form(case, matrix, vector):
    source, gradient = case
    wrt, value = ("A", matrix) if "A" in source else ("x", vector)
    if source.startswith("norm") and np.linalg.norm(vector) < 1e-3:
        return  # its kink
    model = Model(variables=(Variable(wrt, ("N", "N") if wrt == "A" else ("N",), (-5.0, 5.0)),),
                  quantities=(("f", parse(source)),), dimensions=(("N", (3, 3)),))
    got = to_float64(reference_jacobian(model, "f", wrt, {wrt: value, "N": 3}))
    np.testing.assert_allclose(got, gradient(value), rtol=1e-7, atol=1e-9)


def test_unknown_functions_get_a_hint_only_when_it_is_right():
    def hint(source):
        with pytest.raises(Exception) as caught:
            parse(source)
        return str(caught.value).splitlines()[0]

    assert hint("atan(x)") == "unknown function 'atan'; did you mean 'arctan'? (column 1)"
    assert hint("ln(x)") == "unknown function 'ln'; did you mean 'log'? (column 1)"
    assert hint("dett(x)") == "unknown function 'dett'; did you mean 'det'? (column 1)"
    assert "did you mean" not in hint("dte(x)") and "the functions are: abs," in hint("dte(x)")
    assert parse("arctan(x) + det(A)").calls == {"arctan", "det"}


@settings(max_examples=300)
@given(st.sampled_from(["maximum", "minimum"]), ANY_FLOAT, ANY_FLOAT, ANY_FLOAT)
def test_maximum_minimum_and_clip_agree_between_the_backends_even_at_nan_and_inf(name, x, y, z):
    via_float = float(FLOAT64.apply(name, np.asarray(x), np.asarray(y)))
    via_mpmath = float(to_float64(BACKEND.apply(name, BACKEND.asarray(x), BACKEND.asarray(y))))
    assert within_ulps(via_float, via_mpmath, 0)
    low, high = sorted((y, z))
    clipped = float(FLOAT64.apply("clip", np.asarray(x), np.asarray(low), np.asarray(high)))
    exact = float(to_float64(BACKEND.apply("clip", *map(BACKEND.asarray, (x, low, high)))))
    assert within_ulps(clipped, exact, 0)
