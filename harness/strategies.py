"""Hypothesis strategies that draw a model's inputs: dimension sizes, then every variable.

Values stay inside each variable's closed domain, are finite and never subnormal (a subnormal
input tests float64 corner cases of the student's arithmetic, not their calculus). Inputs where a
quantity of the model leaves float64's exponential range (|q| > ``EXP_SAFE``) are not drawn: there
a mathematically correct formula such as ``exp(z)/(1 + exp(z))`` overflows to nan, so the point
tests float64, not calculus (``check-spec`` reports how often this happens). Hypothesis
shrinks dimensions towards their lower bound and values towards 0 and simple numbers, so a minimal
counterexample is small and readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.backends import FLOAT64
from harness.model import Model, evaluate_model

EXP_SAFE = 700.0
"""Largest |quantity| drawn: exp(700) ~ 1e304 still fits in float64 (overflow is past 709.78)."""


@dataclass(frozen=True)
class Example:
    """One drawn input: sizes of the symbolic dimensions and a float64 value per variable."""

    sizes: tuple[tuple[str, int], ...]
    values: tuple[tuple[str, np.ndarray], ...]

    @property
    def point(self) -> dict[str, np.ndarray]:
        return dict(self.values)

    @property
    def size_map(self) -> dict[str, int]:
        return dict(self.sizes)

    def key(self) -> tuple:
        """A hashable identity: exact sizes and the exact bytes of every value."""
        return (self.sizes, tuple((name, value.shape, value.tobytes()) for name, value in self.values))

    def replace(self, name: str, value: np.ndarray) -> Example:
        """The same example with one variable's value replaced."""
        values = tuple((n, value if n == name else v) for n, v in self.values)
        return Example(self.sizes, values)


def entries(domain: tuple[float, float]) -> st.SearchStrategy[float]:
    """Finite, non-subnormal floats in a closed interval."""
    low, high = domain
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def sizes(model: Model) -> st.SearchStrategy[dict[str, int]]:
    """A size for every symbolic dimension, within its declared range."""
    return st.fixed_dictionaries(
        {name: st.integers(low, high) for name, (low, high) in model.dimensions}
    )


def values_at(model: Model, size_map: Mapping[str, int], *, only: str | None = None):
    """A strategy for the variables' values once the dimensions have sizes (or just one of them)."""
    strategies = {}
    for variable in model.variables:
        if only is not None and variable.name != only:
            continue
        shape = tuple(size_map[dim] if isinstance(dim, str) else dim for dim in variable.shape)
        strategies[variable.name] = hnp.arrays(np.float64, shape, elements=entries(variable.domain))
    return st.fixed_dictionaries(strategies)


def within_float64_range(model: Model, example: Example, activation: str | None) -> bool:
    """Whether every quantity of the model at ``example`` stays within +-EXP_SAFE (and is finite)."""
    with np.errstate(all="ignore"):
        values = evaluate_model(model, example.point, FLOAT64, activation=activation)
    return all(bool(np.all(np.abs(value) <= EXP_SAFE)) for value in values.values())


@st.composite
def unfiltered_examples(draw, model: Model) -> Example:
    """Dimensions, then every variable: any point of the domains (``check-spec`` scans these)."""
    size_map = draw(sizes(model))
    values = draw(values_at(model, size_map))
    return Example(
        sizes=tuple((name, size_map[name]) for name, _ in model.dimensions),
        values=tuple((variable.name, values[variable.name]) for variable in model.variables),
    )


def examples(model: Model, activation: str | None = None) -> st.SearchStrategy[Example]:
    """Draw the dimensions first, then every variable with the drawn shapes (float64-safe points)."""
    return unfiltered_examples(model).filter(lambda example: within_float64_range(model, example, activation))


def input_strategy(assignment, activation: str | None = None) -> st.SearchStrategy[Example]:
    """The Hypothesis strategy grading draws an assignment's inputs from (for one activation)."""
    return examples(assignment.model, activation)
