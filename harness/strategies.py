"""Hypothesis strategies that draw a model's inputs: dimension sizes, then every variable.

Values stay inside each variable's closed domain, are finite and never subnormal (a subnormal
input tests float64 corner cases of the student's arithmetic, not their calculus); a discrete
variable (labels, integers) gets whole numbers in its range, held as float64. Two kinds of input
are not drawn, because there the reference or a correct float64 formula has nothing to say:

- where an argument of an exponential function of the model (``exp``, ``sigmoid``, ``softmax``,
  ... : the records with ``exponential``) exceeds ``EXP_SAFE`` in size: there a mathematically
  correct formula such as ``exp(z)/(1 + exp(z))`` overflows to nan, so the point tests float64, not
  calculus. Models without such a function are not limited (a least-squares loss may be 1e6);
- where an argument of a function comes within ``KINK_DISTANCE`` of a point where it is not
  differentiable (``abs`` at 0, ``maximum`` where its arguments tie, ``logdet`` of a singular
  matrix): there the finite-difference reference would be the average of two one-sided slopes.

Every quantity must also be finite in float64. ``check-spec`` reports how often inputs are left
out, and why. Hypothesis shrinks dimensions towards their lower bound and values towards 0 and
simple numbers, so a minimal counterexample is small and readable; the shrinker can only reach
inputs the filter lets through, so it never lands on a kink.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.backends import FLOAT64
from harness.example import Example
from harness.functions import EXP_SAFE, KINK_DISTANCE, Function
from harness.model import Model, evaluate_model

__all__ = ["EXP_SAFE", "KINK_DISTANCE", "Example", "examples", "input_strategy", "not_gradable", "scattered",
           "sizes", "unfiltered_examples", "values_at", "within_float64_range"]


GRID_POINTS = 2000
"""Spread entries lie on a grid of at least this many steps across the domain, with a round step
(0.001 for [-5, 5], so a value reads like ``-3.281``)."""


@functools.lru_cache(maxsize=256)
def entries(domain: tuple[float, float]) -> st.SearchStrategy[float]:
    """Floats spread over a closed interval, a quarter of them simple numbers, all finite.

    Hypothesis's own floats crowd near 0 (tiny values such as 1e-157: a quarter of 100 draws in
    [-5, 5] fall within 1e-6 of 0), which tests float64's corners, not calculus, and lands on the
    kinks of relu or abs. Three quarters are drawn about uniformly from a grid with a round step
    (at least ``GRID_POINTS`` steps across the domain); a quarter are simple numbers of the domain
    (0, ±1, ±2, ±0.5, its ends). Shrinking prefers the simple numbers, then grid points near the
    domain's simplest point (0, or the end nearest to it).
    """
    low, high = domain
    step = 10.0 ** math.floor(math.log10((high - low) / GRID_POINTS))
    first, last = math.ceil(low / step), math.floor(high / step)
    simple = sorted({value for value in (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, low, high) if low <= value <= high},
                    key=lambda value: (value != int(value), abs(value), value < 0))  # 0, 1, -1, 2, ... first
    anchor = min(max(0, first), last)  # the grid point shrinking goes towards
    above, below = last - anchor, anchor - first

    def on_grid(offset: int) -> float:
        return min(max(round((anchor + offset) * step, 12), low), high)

    sides = ([_spread(above)] if above else []) + ([_spread(below).map(lambda n: -n)] if below else [])
    grid = (st.one_of(*sides) if len(sides) > 1 else sides[0] if sides else st.just(0)).map(on_grid)
    return st.one_of(st.sampled_from(simple), grid, grid, grid) if simple else grid


def _spread(count: int) -> st.SearchStrategy[int]:
    """Integers 1..count, about uniform, shrinking towards 1.

    Hypothesis draws a wide integer range mostly near its low end, so a wide side is drawn as
    its hundreds, then the rest (two narrow draws, each close to uniform).
    """
    if count <= 100:
        return st.integers(1, count)
    return st.tuples(st.integers(0, count // 100), st.integers(1, 100)).map(
        lambda parts: parts[0] * 100 + parts[1]).filter(lambda n: n <= count)


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
        if variable.discrete:
            low, high = variable.integer_range(size_map)
            elements = st.integers(low, high).map(float)
        else:
            elements = entries(variable.domain)
        strategies[variable.name] = hnp.arrays(np.float64, shape, elements=elements)
    return st.fixed_dictionaries(strategies)


class _Excluded(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _watch(record: Function, operands: tuple, statics: dict) -> None:
    """Stop an evaluation at an exponential's overflow or a function's kink (see the module docstring)."""
    if record.exponential and any(bool(np.any(np.abs(operand) > EXP_SAFE)) for operand in operands):
        raise _Excluded(f"an argument of {record.name} beyond +-{EXP_SAFE:g}, where exp overflows float64")
    if (record.kinks is not None or record.gap is not None) and record.kink_distance(*operands, **statics) < KINK_DISTANCE:
        where = record.kinks.text if record.kinks is not None else record.kink_text
        raise _Excluded(f"an argument of {record.name} within {KINK_DISTANCE:g} of where it is not "
                        f"differentiable ({where})")


def not_gradable(model: Model, example: Example, activation: str | None) -> str | None:
    """Why ``example`` is not drawn (an exponential's overflow, a kink, a non-finite quantity), or None."""
    try:
        with np.errstate(all="ignore"):
            values = evaluate_model(model, example.point, FLOAT64, activation=activation, observe=_watch)
    except _Excluded as excluded:
        return excluded.reason
    for name in model.quantity_names:
        if not np.all(np.isfinite(values[name])):
            return f"{name} is nan or infinite in float64"
    return None


def within_float64_range(model: Model, example: Example, activation: str | None) -> bool:
    """Whether ``example`` is gradable: see ``not_gradable``."""
    return not_gradable(model, example, activation) is None


def scattered(model: Model, seed: int, count: int) -> list[Example]:
    """``count`` inputs scattered over the domains as the survey draws them, without Hypothesis.

    For a scan that needs no shrinking (``check-spec``'s look at where inputs are left out): the
    same mixture as ``entries`` (three quarters on the grid, a quarter simple numbers), sizes
    uniform in their ranges, labels and integers uniform in theirs; numpy's generator, seeded.
    """
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(count):
        size_map = {name: int(rng.integers(low, high + 1)) for name, (low, high) in model.dimensions}
        values = []
        for variable in model.variables:
            shape = tuple(size_map[dim] if isinstance(dim, str) else dim for dim in variable.shape)
            if variable.discrete:
                low, high = variable.integer_range(size_map)
                value = rng.integers(low, high + 1, size=shape).astype(np.float64)
            else:
                value = _scattered_entries(rng, variable.domain, shape)
            values.append((variable.name, np.asarray(value, dtype=np.float64)))
        points.append(Example(tuple((name, size_map[name]) for name, _ in model.dimensions), tuple(values)))
    return points


def _scattered_entries(rng: np.random.Generator, domain: tuple[float, float], shape: tuple) -> np.ndarray:
    low, high = domain
    step = 10.0 ** math.floor(math.log10((high - low) / GRID_POINTS))
    decimals = max(0, -math.floor(math.log10(step)))
    grid = np.clip(np.round(np.round(rng.uniform(low, high, size=shape) / step) * step, decimals), low, high)
    simple = np.array([v for v in (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, low, high) if low <= v <= high])
    chosen = simple[rng.integers(0, len(simple), size=shape)] if simple.size else grid
    return np.where(rng.random(size=shape) < 0.25, chosen, grid)


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
