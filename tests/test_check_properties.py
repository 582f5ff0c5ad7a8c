"""The checker as a property: correct formulas always pass, perturbed ones always fail.

Hypothesis draws a random model ``f(x, w)`` from the formula language, the test derives its exact
derivative ``d f / d x`` symbolically (an independent, tiny differentiator below), and the checker
grades that derivative, written as an answer, against the mpmath reference. A perturbed copy,
``(1 + eps) * derivative + delta``, must always be caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings, strategies as st

from harness.answers import FormulaAnswer
from harness.check import Checker
from harness.formula import parse
from harness.spec import load_spec_text

FUNCTIONS = ("sigmoid", "tanh", "softplus", "sin")


@dataclass(frozen=True)
class Expr:
    """A random expression: its formula text and the formula text of its derivative in x."""

    text: str
    derivative: str


def leaf() -> st.SearchStrategy[Expr]:
    variables = st.sampled_from([Expr("x", "1"), Expr("w", "0")])
    constants = st.sampled_from(["0.5", "2", "-1.5", "3"]).map(lambda c: Expr(c, "0"))
    exps = st.sampled_from(["x", "w"]).map(lambda v: Expr(f"exp({v})", f"exp({v})" if v == "x" else "0"))
    return st.one_of(variables, constants, exps)


def derivative_of(function: str, inner: Expr) -> str:
    a, da = inner.text, inner.derivative
    outer = {
        "sigmoid": f"sigmoid({a}) * (1 - sigmoid({a}))",
        "tanh": f"(1 - tanh({a}) ** 2)",
        "softplus": f"sigmoid({a})",
        "sin": f"cos({a})",
    }[function]
    return f"({outer}) * ({da})"


def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def add(pair):
        a, b = pair
        return Expr(f"({a.text} + {b.text})", f"({a.derivative} + {b.derivative})")

    def multiply(pair):
        a, b = pair
        return Expr(f"({a.text} * {b.text})", f"({a.derivative} * {b.text} + {a.text} * {b.derivative})")

    def apply(pair):
        function, inner = pair
        return Expr(f"{function}({inner.text})", derivative_of(function, inner))

    return st.one_of(
        st.tuples(children, children).map(add),
        st.tuples(children, children).map(multiply),
        st.tuples(st.sampled_from(FUNCTIONS), children).map(apply),
    )


expressions = st.recursive(leaf(), extend, max_leaves=6).filter(lambda e: "x" in e.text)


def checker_for(expr: Expr) -> tuple[Checker, object, object]:
    spec = f"""\
title: Random model
settings: {{examples: 25, seed: 3}}
variables:
  x: {{domain: [-2, 2]}}
  w: {{domain: [-2, 2]}}
model:
  f: "{expr.text}"
questions:
  - id: "1"
    title: Random derivative
    module: q1
    items:
      - function: df_dx
        points: 1
        of: f
        wrt: x
"""
    assignment = load_spec_text(spec, "random.yaml")
    question = assignment.questions[0]
    return Checker(assignment), question, question.items[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.nested_given])
@given(expressions)
def test_a_correct_derivative_formula_always_passes(expr):
    checker, question, item = checker_for(expr)
    result = checker.check_derivative(question, item, FormulaAnswer(parse(expr.derivative), None))
    assert result.status == "passed", (expr, result.summary, result.counterexample)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.nested_given])
@given(expressions, st.floats(1e-6, 0.5), st.floats(1e-6, 0.5))
def test_a_perturbed_derivative_formula_always_fails(expr, eps, delta):
    checker, question, item = checker_for(expr)
    wrong = f"(1 + {eps!r}) * ({expr.derivative}) + {delta!r}"
    result = checker.check_derivative(question, item, FormulaAnswer(parse(wrong), None))
    assert result.status == "failed", (expr, wrong)
    assert result.counterexample is not None
    assert result.counterexample.max_abs_error > result.counterexample.tolerance
