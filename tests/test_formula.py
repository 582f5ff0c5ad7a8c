"""The formula language: whitelist, hostile input, shape inference, evaluation in both backends."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.backends import FLOAT64, MpmathBackend, to_float64
from harness.errors import FormulaError
from harness.formula import DEFAULT_FUNCTIONS, ELEMENTWISE_FUNCTIONS, MAX_LENGTH, evaluate, infer_shape, parse, plan

Q2_SHAPES = {"x": ("D",), "w1": ("H", "D"), "b1": ("H",), "w2": ("H",), "b2": (), "z1": ("H",), "yhat": ()}


def message(source: str, **kwargs) -> str:
    with pytest.raises(FormulaError) as caught:
        parse(source, **kwargs)
    return str(caught.value)


def test_a_formula_records_the_names_it_uses_and_the_functions_it_calls():
    formula = parse("s(w1 @ x + b1).T * sum(exp(-x)) ** 2", placeholders=["s"])
    assert formula.names == {"w1", "x", "b1"}
    assert formula.calls == {"s", "transpose", "sum", "exp"}
    assert formula == parse("s(w1 @ x + b1).T * sum(exp(-x)) ** 2", placeholders=["s"])


def test_the_library_has_the_functions_the_issue_requires():
    required = {"exp", "log", "log1p", "sqrt", "tanh", "sigmoid", "softplus", "abs", "sum", "dot", "outer", "transpose"}
    assert required <= DEFAULT_FUNCTIONS
    assert ELEMENTWISE_FUNCTIONS <= DEFAULT_FUNCTIONS
    assert not {"sum", "dot", "outer", "transpose"} & ELEMENTWISE_FUNCTIONS


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "__import__('os')",
            "the name '__import__' is not allowed: names starting with '__' are reserved (column 1)\n"
            "    __import__('os')\n    ^",
        ),
        (
            "().__class__",
            "attribute access '.__class__' is not allowed: the only attribute is '.T' (transpose) (column 1)\n"
            "    ().__class__\n    ^",
        ),
        (
            "x.__dict__",
            "attribute access '.__dict__' is not allowed: the only attribute is '.T' (transpose) (column 1)\n"
            "    x.__dict__\n    ^",
        ),
        (
            "1 + x[0]",
            "subscripts such as 'x[0]' are not supported: formulas work on whole arrays "
            "(use sum, dot, outer or .T) (column 5)\n    1 + x[0]\n        ^",
        ),
        ("lambda: 1", "lambda expressions are not allowed in formulas (column 1)\n    lambda: 1\n    ^"),
        (
            "sum([v for v in x])",
            "comprehensions are not allowed in formulas (column 5)\n    sum([v for v in x])\n        ^",
        ),
        ("x < 1", "comparisons are not allowed in formulas (column 1)\n    x < 1\n    ^"),
        ("x + 'a'", "'a' is not allowed in formulas: only real numbers are (column 5)\n    x + 'a'\n        ^"),
        ("2j * x", "2j is not allowed in formulas: only real numbers are (column 1)\n    2j * x\n    ^"),
        ("True * x", "True is not allowed in formulas: only real numbers are (column 1)\n    True * x\n    ^"),
        (
            "x // 2",
            "operator '//' is not supported; the operators are + - * / ** @ (column 1)\n    x // 2\n    ^",
        ),
        ("not x", "operator 'not' is not supported; the operators are + - * / ** @ (column 1)\n    not x\n    ^"),
        (
            "exp(sigmod(x))",
            "unknown function 'sigmod'; did you mean 'sigmoid'? (column 5)\n    exp(sigmod(x))\n        ^",
        ),
        ("exp(x, 2)", "exp() takes 1 argument, got 2 (column 1)\n    exp(x, 2)\n    ^"),
        ("dot(x)", "dot() takes 2 arguments, got 1 (column 1)\n    dot(x)\n    ^"),
        (
            "exp(x=1)",
            "exp() takes positional arguments only, not keyword arguments (column 1)\n    exp(x=1)\n    ^",
        ),
        ("exp(*x)", "starred arguments ('*args') are not allowed (column 5)\n    exp(*x)\n        ^"),
        (
            "x.sum()",
            "only library functions can be called, by name: cannot call 'x.sum' (column 1)\n    x.sum()\n    ^",
        ),
        ("(x, 1)", "tuples are not allowed in formulas (column 1)\n    (x, 1)\n    ^"),
        ("x if x else 1", "conditional expressions ('a if c else b') are not allowed in formulas (column 1)\n"
         "    x if x else 1\n    ^"),
        ("(y := 2)", "assignment expressions (':=') are not allowed in formulas (column 2)\n    (y := 2)\n     ^"),
        ("x + * 2", "invalid syntax: invalid syntax (column 5)\n    x + * 2\n        ^"),
        ("exp(x", "invalid syntax: '(' was never closed (column 4)\n    exp(x\n       ^"),
        ("", "empty formula: write an expression such as 'w1 @ x + b1'"),
    ],
)
def test_anything_outside_the_whitelist_is_rejected_with_the_column(source, expected):
    assert message(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "sum(W, axis=k)",
            "axis of sum() must be an integer literal such as axis=0 or axis=-1, got 'k': it fixes the shape of "
            "the result (column 13)\n    sum(W, axis=k)\n                ^",
        ),
        (
            "sum(W, 1.0)",
            "axis of sum() must be an integer literal such as axis=0 or axis=-1, got '1.0': it fixes the shape of "
            "the result (column 8)\n    sum(W, 1.0)\n           ^",
        ),
        (
            "1 + sum(W, axis=True)",
            "axis of sum() must be an integer literal such as axis=0 or axis=-1, got 'True': it fixes the shape of "
            "the result (column 17)\n    1 + sum(W, axis=True)\n                    ^",
        ),
        (
            "sum(W, axes=0)",
            "sum() has no keyword argument 'axes'; did you mean 'axis'? (column 8)\n    sum(W, axes=0)\n           ^",
        ),
        (
            "sum(W, 0, axis=1)",
            "sum() got axis twice, by position and by keyword (column 11)\n    sum(W, 0, axis=1)\n              ^",
        ),
        (
            "sum(W, 0, 1)",
            "sum() takes at most 2 arguments (sum(a, axis=None)), got 3 (column 1)\n    sum(W, 0, 1)\n    ^",
        ),
        (
            "sum(axis=0)",
            "sum() is missing its array argument a: call it as sum(a, axis=None) (column 1)\n    sum(axis=0)\n    ^",
        ),
        ("sum(W, **k)", "'**' arguments are not allowed (column 8)\n    sum(W, **k)\n           ^"),
        (
            "s(x, axis=0)",
            "s() takes positional arguments only, not keyword arguments (column 1)\n    s(x, axis=0)\n    ^",
        ),
    ],
)
def test_a_static_argument_must_be_an_integer_literal_of_the_signature(source, expected):
    assert message(source, placeholders=("s",)) == expected


def test_static_arguments_are_read_at_parse_time_by_position_or_keyword():
    for source in ("sum(W, axis=-1)", "sum(W, -1)"):
        formula = parse(source)
        assert formula._tree.statics == (("axis", -1),)
        assert formula.names == {"W"}
    assert parse("sum(W)")._tree.statics == parse("sum(W, axis=None)")._tree.statics == (("axis", None),)


def test_the_column_counts_characters_not_bytes():
    assert message("σ + x.y") == (
        "attribute access '.y' is not allowed: the only attribute is '.T' (transpose) (column 5)\n"
        "    σ + x.y\n        ^"
    )


def test_an_activation_placeholder_may_be_called_but_only_when_declared():
    assert parse("s(z1)", placeholders=("s",)).calls == {"s"}
    assert message("s(z1)") == (
        "unknown function 's'; the functions are: abs, arccos, arcsin, arctan, clip, cos, cosh, det, diag, "
        "dot, exp, expm1, eye, heaviside, inv, log, log1p, log_softmax, logdet, logsumexp, max, maximum, mean, min, "
        "minimum, norm, onehot, ones, outer, relu, sigmoid, sin, sinh, softmax, softplus, solve, sqrt, sum, "
        "tan, tanh, trace, transpose (column 1)\n    s(z1)\n    ^"
    )
    assert message("x", placeholders=("exp",)) == (
        "cannot use 'exp' as an activation placeholder: it must be a name that is not a library function"
    )


@pytest.mark.parametrize(
    "source",
    [
        "(" * 5000 + "x" + ")" * 5000,
        "-" * 1999 + "x",
        "+".join(["x"] * 150),
        "exp(" * 150 + "x" + ")" * 150,
        "[" * 300 + "]" * 300,
        "x\0",
        "x" * (MAX_LENGTH + 1),
    ],
    ids=["parentheses", "minus-signs", "long-sum", "nested-calls", "brackets", "null-byte", "too-long"],
)
def test_hostile_input_gives_a_clean_formula_error_quickly(source):
    started = time.perf_counter()
    with pytest.raises(FormulaError):
        parse(source)
    assert time.perf_counter() - started < 1.0


def test_overlong_input_says_how_long_it_may_be():
    expected = f"formula is too long ({MAX_LENGTH + 1} characters; at most {MAX_LENGTH} are allowed)"
    assert message("x" * (MAX_LENGTH + 1)).startswith(expected)


def test_deep_nesting_is_rejected_at_the_nesting_limit():
    assert message("exp(" * 150 + "x" + ")" * 150).startswith("formula is nested too deeply (more than 100 levels)")


@pytest.mark.parametrize(
    "source",
    ["9**9**9**9", "10**10**10**10", "-(10**10**10**10)", "2**-(10**10**10)", "exp(10**400)",
     "10**4000 * 10**4000", "(1 + 2**-1000000)**(2**1000000)", "sin(10**400)"],
)
@pytest.mark.parametrize("backend", [FLOAT64, MpmathBackend(30)], ids=["float64", "mpmath"])
def test_towers_of_powers_evaluate_to_inf_or_zero_without_hanging(source, backend):
    started = time.perf_counter()
    value = evaluate(parse(source), {}, backend)
    assert time.perf_counter() - started < 2.0
    as_float = float(value) if backend is FLOAT64 else to_float64(value)
    assert np.isinf(as_float) or as_float in (0.0, 1.0) or np.isnan(as_float)


def test_a_huge_integer_literal_is_inf_in_float64_and_exact_in_mpmath():
    formula = parse("9" * 1999)
    assert evaluate(formula, {}, FLOAT64) == np.inf
    backend = MpmathBackend(30)
    assert backend.ctx.nstr(evaluate(formula, {}, backend)[()], 5) == "1.0e+1999"


@pytest.mark.parametrize(
    ("source", "expected"),
    [("1/0", np.inf), ("-1/0", -np.inf), ("0/0", np.nan), ("log(-1)", np.nan), ("log(0)", -np.inf),
     ("sqrt(-4)", np.nan), ("log1p(-2)", np.nan), ("(-8)**(1/3)", np.nan), ("0**-1", np.inf),
     ("exp(1000) - exp(1000)*0 + (-1)**0.5", np.nan), ("sigmoid(-1000)", 0.0), ("softplus(1000)", 1000.0)],
)
def test_undefined_operations_give_the_same_nan_or_inf_in_both_backends(source, expected):
    formula = parse(source)
    mpmath_backend = MpmathBackend(30)
    with np.errstate(all="raise"):
        via_float = evaluate(formula, {}, FLOAT64)
    via_mpmath = to_float64(evaluate(formula, {}, mpmath_backend))
    np.testing.assert_equal(via_float, expected)
    np.testing.assert_equal(via_mpmath, expected)


def test_decimal_literals_mean_their_decimal_value_in_mpmath():
    backend = MpmathBackend(40)
    assert evaluate(parse("0.1 * 10 - 1"), {}, backend)[()] == 0


# -- shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "shape"),
    [
        ("w1 @ x + b1", ("H",)),
        ("w2 @ sigmoid(w1 @ x + b1) + b2", ()),
        ("outer(w2 * z1, x)", ("H", "D")),
        ("x @ w1.T", ("H",)),
        ("w1.T @ w1", ("D", "D")),
        ("transpose(w1) * 2", ("D", "H")),
        ("sum(w1) * x", ("D",)),
        ("sum(w1, axis=0) * x", ("D",)),
        ("sum(w1, axis=-1) + b1", ("H",)),
        ("sum(outer(w1, x), 1)", ("H", "D")),
        ("dot(w2, z1) + dot(b2, x)", ("D",)),
        ("yhat * (1 - yhat)", ()),
        ("w1 * x", ("H", "D")),
    ],
)
def test_shapes_follow_numpy_broadcasting_and_matmul(source, shape):
    assert infer_shape(parse(source), Q2_SHAPES) == shape


@pytest.mark.parametrize(
    ("source", "shapes", "expected"),
    [
        (
            "w1 @ x + b1",
            {"w1": ("H", "D"), "x": ("H",), "b1": ("H",)},
            "cannot apply @ to shapes [H, D] and [H]: the inner dimensions D and H differ (column 1)\n"
            "    w1 @ x + b1\n    ^",
        ),
        (
            "w1 @ x + x",
            Q2_SHAPES,
            "cannot apply + to shapes [H] and [D]: the dimensions H and D differ (column 1)\n"
            "    w1 @ x + x\n    ^",
        ),
        (
            "1 + b2 @ x",
            Q2_SHAPES,
            "cannot apply @ to shapes [] and [D]: @ needs arrays with 1 or 2 dimensions (use * to multiply "
            "by a scalar) (column 5)\n    1 + b2 @ x\n        ^",
        ),
        (
            "dot(x, b1)",
            Q2_SHAPES,
            "cannot apply dot to shapes [D] and [H]: the inner dimensions D and H differ (column 1)\n"
            "    dot(x, b1)\n    ^",
        ),
        (
            "outer(x, x) @ x @ w1 @ w1",
            Q2_SHAPES,
            "cannot apply @ to shapes [D] and [H, D]: the inner dimensions D and H differ (column 1)\n"
            "    outer(x, x) @ x @ w1 @ w1\n    ^",
        ),
        (
            "sigmoid(yaht)",
            Q2_SHAPES,
            "unknown name 'yaht'; did you mean 'yhat'? (column 9)\n    sigmoid(yaht)\n            ^",
        ),
        (
            "exp + 1",
            Q2_SHAPES,
            "unknown name 'exp'; exp is a function: call it, as in exp(x) (column 1)\n    exp + 1\n    ^",
        ),
        ("q", {"a": ()}, "unknown name 'q'; the known names are: a (column 1)\n    q\n    ^"),
        (
            "sum(w1, axis=2)",
            Q2_SHAPES,
            "cannot apply sum with axis=2 to shape [H, D]: the axis must be from -2 to 1 (column 1)\n"
            "    sum(w1, axis=2)\n    ^",
        ),
        (
            "x * sum(b2, 0)",
            Q2_SHAPES,
            "cannot apply sum with axis=0 to shape []: a scalar has no axis (column 5)\n    x * sum(b2, 0)\n        ^",
        ),
        (
            "w1 @ outer(x, w1)",
            Q2_SHAPES,
            "cannot apply @ to shapes [H, D] and [D, H, D]: @ supports arrays with 1 or 2 dimensions only "
            "(column 1)\n    w1 @ outer(x, w1)\n    ^",
        ),
    ],
)
def test_shape_errors_name_the_operation_both_shapes_and_the_column(source, shapes, expected):
    with pytest.raises(FormulaError) as caught:
        infer_shape(parse(source), shapes)
    assert str(caught.value) == expected


# -- evaluation ------------------------------------------------------------------------------


def test_a_placeholder_is_evaluated_as_the_function_it_is_bound_to():
    formula = parse("s(x) + 1", placeholders=("s",))
    np.testing.assert_allclose(evaluate(formula, {"x": 0.0}, FLOAT64, bind={"s": "softplus"}), 1 + np.log(2))
    with pytest.raises(FormulaError) as caught:
        evaluate(formula, {"x": 0.0}, FLOAT64)
    assert str(caught.value) == (
        "the activation placeholder 's' is not bound to a function (column 1)\n    s(x) + 1\n    ^"
    )
    for function in ("sinh", "tan"):
        with pytest.raises(FormulaError) as caught:
            evaluate(formula, {"x": 0.0}, FLOAT64, bind={"s": function})
        assert str(caught.value) == (
            f"cannot bind 's' to {function!r}: an activation must be one of abs, arctan, cos, exp, expm1, log, "
            "log1p, relu, sigmoid, sin, softplus, sqrt, tanh"
        )


def test_evaluating_with_concrete_shapes_that_disagree_names_them():
    with pytest.raises(FormulaError) as caught:
        evaluate(parse("w @ v"), {"w": np.ones((2, 3)), "v": np.ones(2)}, MpmathBackend(20))
    assert str(caught.value) == (
        "cannot apply @ to shapes [2, 3] and [2]: the inner dimensions 3 and 2 differ (column 1)\n    w @ v\n    ^"
    )


def test_a_missing_value_is_an_unknown_name_with_a_suggestion():
    with pytest.raises(FormulaError) as caught:
        evaluate(parse("2 * yaht"), {"yhat": 1.0}, FLOAT64)
    assert str(caught.value) == "unknown name 'yaht'; did you mean 'yhat'? (column 5)\n    2 * yaht\n        ^"


# Random formulas over positive values: no cancellation, so float64 is accurate to a few ulps
# per operation and must agree with the mpmath value rounded to float64.
_LEAVES = st.sampled_from(["a", "b", "v", "m", "1.5", "0.25", "3"])
_UNARY = ["exp", "sigmoid", "softplus", "tanh", "sqrt", "log1p", "abs", "sum"]


def _combine(children):
    unary = st.tuples(st.sampled_from(_UNARY), children).map(lambda t: f"{t[0]}({t[1]})")
    binary = st.tuples(children, st.sampled_from(["+", "*", "/"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    templates = st.sampled_from(["m @ {}", "({}).T", "outer({}, 2)", "sum({}, axis=-1)"])
    structural = st.tuples(templates, children).map(lambda t: t[0].format(t[1]))
    return unary | binary | structural


_FORMULAS = st.recursive(_LEAVES, _combine, max_leaves=8)
_POSITIVE = st.floats(0.1, 2.0)


@settings(max_examples=50, deadline=None)
@given(source=_FORMULAS, a=_POSITIVE, b=_POSITIVE, v=st.lists(_POSITIVE, min_size=2, max_size=2),
       m=st.lists(_POSITIVE, min_size=4, max_size=4))
def test_float64_and_mpmath_backends_agree_on_random_formulas(source, a, b, v, m):
    formula = parse(source)
    env = {"a": a, "b": b, "v": np.array(v), "m": np.array(m).reshape(2, 2)}
    try:
        infer_shape(formula, {"a": (), "b": (), "v": (2,), "m": (2, 2)})
    except FormulaError:
        assume(False)
    via_float = evaluate(formula, env, FLOAT64)
    assume(np.all(np.isfinite(via_float)) and np.all(np.abs(via_float) < 1e300))
    backend = MpmathBackend(40)
    via_mpmath = to_float64(evaluate(formula, env, backend))
    np.testing.assert_allclose(via_float, via_mpmath, rtol=1e-12)


# A plan (the formula resolved once, for the reference's many perturbations) must compute exactly
# what evaluating the formula computes, at the point it was made for and at others of its shapes.
_ANY = st.floats(-3.0, 3.0)
_PLANNED_UNARY = ["exp", "sigmoid", "softplus", "tanh", "log", "sqrt", "abs", "sum", "softmax", "logsumexp"]


def _combine_any(children):
    unary = st.tuples(st.sampled_from(_PLANNED_UNARY), children).map(lambda t: f"{t[0]}({t[1]})")
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    templates = st.sampled_from(["m @ {}", "({}).T", "-({})", "outer({}, v)", "sum({}, axis=-1)", "eye(N) * {}"])
    structural = st.tuples(templates, children).map(lambda t: t[0].format(t[1]))
    return unary | binary | structural


_ANY_FORMULAS = st.recursive(st.sampled_from(["a", "v", "m", "N", "0.1", "2", "pi"]), _combine_any, max_leaves=8)


def _same_entries(got, want) -> bool:
    got, want = np.asarray(got, dtype=object), np.asarray(want, dtype=object)
    return got.shape == want.shape and all(
        type(g) is type(w) and (repr(g) == repr(w)) for g, w in zip(got.flat, want.flat)
    )


@settings(max_examples=150, deadline=None)
@given(source=_ANY_FORMULAS, first=st.lists(_ANY, min_size=7, max_size=7), second=st.lists(_ANY, min_size=7, max_size=7))
def test_a_plan_computes_exactly_what_evaluate_computes_at_any_point_of_its_shapes(source, first, second):
    formula = parse(source)
    try:
        infer_shape(formula, {"a": (), "v": (2,), "m": (2, 2), "N": ()})
    except FormulaError:
        assume(False)

    def env(values):
        return {"a": values[0], "v": np.array(values[1:3]), "m": np.array(values[3:]).reshape(2, 2), "N": 2.0}

    for backend in (MpmathBackend(40), FLOAT64):
        planned = plan(formula, {name: backend.asarray(value) for name, value in env(first).items()}, backend)
        for values in (first, second):
            converted = {name: backend.asarray(value) for name, value in env(values).items()}
            with np.errstate(all="ignore"):
                got = planned(converted)
            assert _same_entries(got, evaluate(formula, env(values), backend))


def test_a_plan_reports_a_shape_error_when_it_is_made_as_evaluate_does():
    env = {"m": np.ones((2, 3)), "v": np.ones(2)}
    with pytest.raises(FormulaError) as evaluated:
        evaluate(parse("m @ v"), env, FLOAT64)
    with pytest.raises(FormulaError) as planned:
        plan(parse("m @ v"), env, FLOAT64)
    assert str(planned.value) == str(evaluated.value)
