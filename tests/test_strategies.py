"""The inputs drawn: spread over the domain, never at a kink, limited only where exp is used."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.formula import parse
from harness.model import Model, Variable
from harness.search import collect, find_minimal
from harness.strategies import KINK_DISTANCE, entries, examples, not_gradable, unfiltered_examples


def model(formula: str, domain=(-5.0, 5.0), shape=()) -> Model:
    return Model(variables=(Variable("x", shape, domain),), quantities=(("f", parse(formula)),),
                 dimensions=(("N", (1, 3)),) if shape else ())


def test_draws_spread_over_the_domain_instead_of_crowding_at_zero():
    drawn = collect(unfiltered_examples(model("x * 1")), 7, 100)
    values = np.array([float(example.point["x"]) for example in drawn])
    assert np.sum(np.abs(values) < 1e-6) <= 3
    quartiles = np.percentile(values, [25, 50, 75])
    assert quartiles[0] < -1 and quartiles[2] > 1  # not all near 0


@settings(max_examples=50, suppress_health_check=list(HealthCheck))
@given(st.floats(-100, 100), st.floats(1e-3, 100))
def test_every_drawn_entry_lies_in_its_domain(low, width):
    domain = (low, low + width)
    drawn = collect(unfiltered_examples(model("x * 1", domain)), 3, 20)
    assert all(domain[0] <= float(example.point["x"]) <= domain[1] for example in drawn)
    assert entries(domain) is entries(domain)  # built once per domain


@pytest.mark.parametrize(("formula", "kink"), [("relu(x)", 0.0), ("abs(x - 0.5)", 0.5), ("maximum(x, 1 - x)", 0.5),
                                              ("heaviside(x)", 0.0)])
def test_no_input_within_the_kink_distance_of_a_kink_is_drawn(formula, kink):
    near = model(formula, domain=(-1.0, 1.0))
    drawn = collect(examples(near), 11, 60)
    assert len(drawn) == 60
    assert all(abs(float(example.point["x"]) - kink) >= KINK_DISTANCE for example in drawn)
    assert not_gradable(near, _at(near, kink), None).startswith("an argument of")
    assert not_gradable(near, _at(near, kink + 2 * KINK_DISTANCE), None) is None


def test_the_shrinker_never_lands_on_a_kink():
    relu = model("relu(x)")
    smallest = find_minimal(examples(relu), 5, 30, lambda example: True)
    assert abs(float(smallest.point["x"])) >= KINK_DISTANCE


def test_a_model_without_an_exponential_is_drawn_however_large_its_values():
    squares = model("(x - 1000) ** 2 * 1000")
    assert not_gradable(squares, _at(squares, 5.0), None) is None
    growing = model("exp(200 * x)")
    assert not_gradable(growing, _at(growing, 4.0), None) == (
        "an argument of exp beyond +-700, where exp overflows float64"
    )
    assert not_gradable(growing, _at(growing, 3.0), None) is None


def test_a_singular_matrix_is_not_drawn_for_logdet():
    logdet = Model(variables=(Variable("A", ("N", "N"), (-5.0, 5.0)),), quantities=(("f", parse("logdet(A @ A.T + eye(N))")),),
                   dimensions=(("N", (1, 3)),))
    singular = Model(variables=logdet.variables, quantities=(("f", parse("log(abs(det(A)))")),), dimensions=logdet.dimensions)
    from harness.strategies import Example

    zero = Example((("N", 2),), (("A", np.array([[1.0, 2.0], [2.0, 4.0]])),))
    assert not_gradable(singular, zero, None).startswith("an argument of abs within 1e-06")
    assert not_gradable(logdet, zero, None) is None


def _at(model: Model, x: float):
    from harness.strategies import Example

    return Example((), (("x", np.asarray(x)),))
