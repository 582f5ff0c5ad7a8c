"""A question's model: its variables and the named quantities defined from them, in order."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from harness.backends import Backend
from harness.errors import FormulaError
from harness.formula import Formula, Observer, evaluate, infer_shape, plan
from harness.functions import format_shape


@dataclass(frozen=True)
class Variable:
    """An input of the model: drawn by Hypothesis, differentiated against, passed to students."""

    name: str
    shape: tuple  # symbolic, e.g. ("H", "D"); () for a scalar
    domain: tuple[float, float]  # closed interval for every entry
    labels: str | int | None = None
    """Integer class labels from 0 to this size - 1 (a dimension name or a number); None: not labels."""
    integers: tuple[int, int] | None = None
    """Integer entries from this inclusive range; None: real entries."""

    @property
    def discrete(self) -> bool:
        """Integer-valued: drawn as integers, passed to students as integers, never differentiated."""
        return self.labels is not None or self.integers is not None

    def integer_range(self, sizes: Mapping[str, int]) -> tuple[int, int]:
        """The inclusive range of a discrete variable's entries once the dimensions have sizes."""
        if self.integers is not None:
            return self.integers
        count = sizes[self.labels] if isinstance(self.labels, str) else self.labels
        return 0, int(count) - 1


@dataclass(frozen=True)
class Model:
    """The variables, the dimension ranges and the quantities ``name = formula`` in order."""

    variables: tuple[Variable, ...]
    quantities: tuple[tuple[str, Formula], ...]
    dimensions: tuple[tuple[str, tuple[int, int]], ...] = ()
    activation: str | None = None
    """The placeholder function name (``"s"``) that a question binds to a family member."""

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(variable.name for variable in self.variables)

    @property
    def quantity_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.quantities)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a student function may use: variables, then quantities."""
        return self.variable_names + self.quantity_names

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """The symbolic dimensions; a formula may use each as a number (its size)."""
        return tuple(name for name, _ in self.dimensions)

    @cached_property
    def used_dimensions(self) -> frozenset[str]:
        """The dimensions its variables' shapes, labels or formulas use (a spec's others do not matter here)."""
        used = {dim for variable in self.variables for dim in variable.shape if isinstance(dim, str)}
        used |= {variable.labels for variable in self.variables if isinstance(variable.labels, str)}
        for _, formula in self.quantities:
            used |= (formula.names | formula.sizes) & set(self.dimension_names)
        return frozenset(used)

    def used_variables(self, names: Collection[str]) -> tuple[str, ...]:
        """The variables that ``names`` (variables or quantities) are or depend on, in model order."""
        wanted = set(names).union(*(self.upstream(name) for name in names))
        return tuple(name for name in self.variable_names if name in wanted)

    def variable(self, name: str) -> Variable:
        for variable in self.variables:
            if variable.name == name:
                return variable
        raise KeyError(name)

    def formula(self, name: str) -> Formula:
        """The formula defining quantity ``name``."""
        for quantity, formula in self.quantities:
            if quantity == name:
                return formula
        raise KeyError(name)

    @cached_property
    def _shapes(self) -> dict[str, tuple]:
        shapes = {name: () for name in self.dimension_names}
        shapes.update({variable.name: tuple(variable.shape) for variable in self.variables})
        for name, formula in self.quantities:
            shapes[name] = infer_shape(formula, shapes)
        return shapes

    def symbolic_shape(self, name: str) -> tuple:
        """The shape of a variable or quantity in dimension names (``("H",)``; ``()`` for a scalar)."""
        if name not in self._shapes:
            raise KeyError(name)
        return self._shapes[name]

    def concrete_shape(self, name: str, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The shape of a variable or quantity once the dimensions have sizes."""
        concrete = []
        for dimension in self.symbolic_shape(name):
            if isinstance(dimension, str):
                if dimension not in sizes:
                    raise FormulaError(
                        f"no size for dimension {dimension!r} of {name!r}; sizes were given for "
                        f"{', '.join(sorted(sizes)) or '(none)'}"
                    )
                dimension = sizes[dimension]
            concrete.append(int(dimension))
        return tuple(concrete)

    def sizes_of(self, values: Mapping[str, Any]) -> dict[str, int]:
        """The dimension sizes implied by the shapes of the variables' values, checked for consistency."""
        sizes: dict[str, int] = {}
        source: dict[str, str] = {}
        for variable in self.variables:
            shape = np.shape(values[variable.name])
            declared = tuple(variable.shape)
            consistent = len(shape) == len(declared)
            for dimension, size in zip(declared, shape) if consistent else ():
                if isinstance(dimension, str):
                    sizes.setdefault(dimension, size)
                    source.setdefault(dimension, variable.name)
                    consistent = consistent and sizes[dimension] == size
                else:
                    consistent = consistent and dimension == size
            if not consistent:
                implied = ", ".join(
                    f"{dimension} = {sizes[dimension]} (from {source[dimension]})"
                    for dimension in declared
                    if dimension in sizes and source[dimension] != variable.name
                )
                raise FormulaError(
                    f"the value of {variable.name!r} has shape {format_shape(shape)}, which does not "
                    f"fit its declared shape {format_shape(declared)}" + (f" with {implied}" if implied else "")
                )
        return sizes

    @cached_property
    def _inputs(self) -> dict[str, frozenset[str]]:
        """For each quantity, every name it depends on, directly or through other quantities."""
        inputs: dict[str, frozenset[str]] = {}
        for name, formula in self.quantities:
            inputs[name] = frozenset(formula.names).union(*(inputs.get(used, ()) for used in formula.names))
        return inputs

    def upstream(self, name: str) -> frozenset[str]:
        """The variables and quantities that ``name`` depends on (empty for a variable)."""
        return self._inputs.get(name, frozenset())

    def downstream(self, names: Collection[str]) -> tuple[str, ...]:
        """The quantities that depend on any of ``names``, in model order."""
        return tuple(quantity for quantity, _ in self.quantities if self._inputs[quantity] & set(names))


def _bind(model: Model, activation: str | None) -> dict[str, str]:
    if activation is None:
        return {}
    if model.activation is None:
        raise FormulaError(f"activation={activation!r} was given, but the model has no activation placeholder")
    return {model.activation: activation}


def evaluate_model(
    model: Model,
    point: Mapping[str, Any],
    backend: Backend,
    *,
    activation: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    observe: Observer | None = None,
) -> dict[str, np.ndarray]:
    """Every variable and quantity of ``model`` at ``point``, in model order, in ``backend``.

    ``point`` maps each variable to its value and may give dimension sizes (other keys are
    ignored); values are converted exactly. The result also holds every dimension with a known
    size, as a number, after the quantities. A quantity named in ``overrides`` takes the given value instead of its formula, and
    the quantities after it use that value: this is how a derivative with respect to an
    intermediate quantity (``z2``) holds everything upstream fixed.
    """
    sizes_given = {name: point[name] for name in model.dimension_names if name in point}
    overrides = dict(overrides or {})
    unknown = overrides.keys() - set(model.quantity_names)
    if unknown:
        raise FormulaError(
            f"cannot override {', '.join(sorted(unknown))}: only quantities can be overridden "
            f"({', '.join(model.quantity_names)})"
        )
    values: dict[str, np.ndarray] = {}
    for variable in model.variables:
        if variable.name not in point:
            raise FormulaError(
                f"no value for the variable {variable.name!r}; the point gives "
                f"{', '.join(sorted(point)) or 'nothing'}"
            )
        values[variable.name] = backend.asarray(point[variable.name])
    sizes = {**{name: int(size) for name, size in sizes_given.items()}, **model.sizes_of(values)}
    for name in model.dimension_names:
        if name in sizes:  # a formula may use a dimension as a number: mean is sum(x) / N
            values[name] = backend.asarray(float(sizes[name]))
    for name, value in overrides.items():
        value = overrides[name] = backend.asarray(value)
        expected = model.concrete_shape(name, sizes)
        if value.shape != expected:
            raise FormulaError(
                f"the override of {name!r} has shape {format_shape(value.shape)}, expected "
                f"{format_shape(expected)} (its shape {format_shape(model.symbolic_shape(name))} at this point)"
            )
    values.update(overrides)
    remaining = [name for name in model.quantity_names if name not in overrides]
    values = recompute(model, values, backend, remaining, activation=activation, observe=observe)
    return {name: values[name] for name in (*model.names, *model.dimension_names) if name in values}


def recompute(
    model: Model,
    values: Mapping[str, np.ndarray],
    backend: Backend,
    names: Sequence[str],
    *,
    activation: str | None = None,
    observe: Observer | None = None,
) -> dict[str, np.ndarray]:
    """A copy of ``values`` in which the quantities ``names`` are evaluated again, in model order.

    ``values`` must already hold (in ``backend``'s representation) everything those formulas use
    that is not itself recomputed. The reference uses this to recompute only what lies downstream
    of a perturbed input.
    """
    bind = _bind(model, activation)
    result = dict(values)
    wanted = set(names)
    for name, formula in model.quantities:
        if name in wanted:
            result[name] = evaluate(formula, result, backend, bind=bind, observe=observe)
    return result


def plan_recompute(
    model: Model, values: Mapping[str, np.ndarray], backend: Backend, names: Sequence[str], *, activation: str | None = None
) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    """``recompute`` of the quantities ``names``, planned once (``harness.formula.plan``) for running it often.

    The function returned takes values shaped like ``values`` (and with its dimension sizes),
    already in ``backend``'s representation, and gives what ``recompute`` would, bit for bit. The
    reference recomputes the same quantities for every perturbation of an input this way.
    """
    bind = _bind(model, activation)
    wanted = set(names)
    steps = [(name, plan(formula, values, backend, bind=bind)) for name, formula in model.quantities if name in wanted]

    def run(changed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = dict(changed)
        with np.errstate(all="ignore"):
            for name, step in steps:
                result[name] = step(result)
        return result

    return run
