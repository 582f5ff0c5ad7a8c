"""Check every step of a write-up numerically, at the inputs its question is graded on.

A chain ``S0 = S1 = ... = Sn`` has n steps; step k says ``S(k-1) = Sk``. Each side is evaluated in
float64 at the first ``STEP_EXAMPLES`` inputs the question's items are graded on (for every
activation of the question), with every derivative symbol worth the true derivative from the reference, and a
derivative still to be taken (``\\frac{\\partial}{\\partial z}(\\ldots)``) worth its value by a
central difference in mpmath. A step holds when ``Sk`` agrees with ``S(k-1)`` within the item
tolerance everywhere, or agrees with ``S0`` (a row that returns to the truth after a wrong row is
not blamed for the wrong row above it). A step that holds nowhere near is false, with the first
input where it fails, both sides' values there and a diagnosis where one fits: a sign, a constant
factor, the activation's value used for its derivative, another quantity's derivative. A step
whose sides cannot be evaluated is unchecked (``holds`` is ``None``), with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from harness.backends import FLOAT64, MpmathBackend, to_float64
from harness.errors import FormulaError, HarnessError
from harness.formula import Formula, evaluate, parse
from harness.model import recompute
from harness.results import StepResult, as_value
from harness.spec import Assignment, DerivativeItem, Question
from harness.writeup.answers import derivative_text
from harness.writeup.reading import Writeup, Written, WrittenChain
from harness.writeup.translate import DUMMY, Expression, Operator, derivative_name

STEP_EXAMPLES = 20
"""How many of the question's drawn inputs (per activation) each step is checked on."""

_DIGITS = 40
_STEP = "1e-12"


class _Unchecked(Exception):
    """A side that cannot be evaluated: the reason, for the report."""


@dataclass(frozen=True)
class _Point:
    activation: str | None
    example: object
    values: Mapping[str, np.ndarray]


def _tolerances(question: Question, assignment: Assignment) -> tuple[float, float]:
    for item in question.items:
        if isinstance(item, DerivativeItem):
            return item.rtol, item.atol
    return assignment.settings.rtol, assignment.settings.atol


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    if a.shape != b.shape and a.size != 1 and b.size != 1:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))))


class _Evaluator:
    """Values of written sides at a question's points, each formula parsed once."""

    def __init__(self, checker, question: Question) -> None:
        self.checker = checker
        self.model = question.model or checker.assignment.model
        self.oracle = checker.oracle_for(question)
        self.question = question
        self._formulas: dict[tuple[int, str | None], Formula] = {}

    def points(self) -> list[_Point]:
        """The first ``STEP_EXAMPLES`` inputs the question's items are graded on (so a lock serves too)."""
        items = [item for item in self.question.items if isinstance(item, DerivativeItem)]
        count = self.checker.example_count(items[0]) if items else self.checker.assignment.settings.examples
        points = []
        for activation in self.question.activations or (None,):
            for example in self.checker.draw(self.question, activation, count)[:STEP_EXAMPLES]:
                points.append(_Point(activation, example, self.oracle.quantities(example, activation)))
        return points

    def formula(self, expression: Expression, activation: str | None) -> Formula:
        key = (id(expression), activation)
        if key not in self._formulas:
            self._formulas[key] = parse(expression.render(activation))
        return self._formulas[key]

    def dummies(self) -> list[str]:
        """What a definition's bare variable takes, at each point: the activation's arguments in the model."""
        placeholder = self.model.activation
        arguments = [next(iter(formula.names)) for _, formula in self.model.quantities
                     if placeholder is not None and placeholder in formula.calls and len(formula.names) == 1]
        return arguments or list(self.model.variable_names)

    def value(self, side: Written, point: _Point, dummy: np.ndarray | None = None) -> np.ndarray:
        if side.expression is None:
            raise _Unchecked(side.error)
        expression = side.expression
        env: dict[str, np.ndarray] = dict(point.values)
        if dummy is not None:
            env[DUMMY] = dummy
        for of, wrt in expression.derivatives:
            env[derivative_name(of, wrt)] = self.oracle.jacobian(point.example, point.activation, of, wrt)
        for operator in expression.operators:
            env[operator.name] = self.derivative(operator, point, env)
        try:
            with np.errstate(all="ignore"):
                return np.asarray(evaluate(self.formula(expression, point.activation), env, FLOAT64), dtype=np.float64)
        except FormulaError as error:
            raise _Unchecked(f"{side.place}: cannot be evaluated: {error.message}") from None

    def derivative(self, operator: Operator, point: _Point, env: Mapping[str, np.ndarray]) -> np.ndarray:
        """d body / d wrt by a central difference in mpmath, everything upstream of ``wrt`` held fixed."""
        formula = self.formula(operator.body, point.activation)
        if any(name not in self.model.names and name != DUMMY for name in formula.names):
            raise _Unchecked(f"the derivative of an expression holding another derivative is not checked "
                             f"(d/d{operator.wrt} of {formula.source})")
        backend = MpmathBackend(_DIGITS)
        exact = {name: backend.asarray(env[name]) for name in (*point.values, *([DUMMY] if DUMMY in env else []))}
        step = backend.ctx.mpf(_STEP)
        downstream = self.model.downstream([operator.wrt])
        sides = []
        for sign in (1, -1):
            shifted = dict(exact)
            shifted[operator.wrt] = exact[operator.wrt] + sign * step
            shifted = recompute(self.model, shifted, backend, downstream, activation=point.activation)
            try:
                sides.append(evaluate(formula, shifted, backend))
            except FormulaError as error:
                raise _Unchecked(f"d/d{operator.wrt} of {formula.source} cannot be evaluated: {error.message}") from None
        return to_float64((sides[0] - sides[1]) / (2 * step))


def check_steps(checker, writeup: Writeup | None) -> tuple[StepResult, ...]:
    """Every step of every chain of ``writeup``, checked (in file order); ``()`` without a write-up."""
    if writeup is None:
        return ()
    assignment = checker.assignment
    results: list[StepResult] = []
    for question in assignment.questions:
        section = writeup.section(question.id)
        if section is None or not any(len(chain.sides) > 1 for chain in section.chains):
            continue
        evaluator = _Evaluator(checker, question)
        try:
            points = evaluator.points()
        except HarnessError as error:
            points, reason = [], f"the question's inputs could not be computed: {error}"
        else:
            reason = None
        rtol, atol = _tolerances(question, assignment)
        for chain in section.chains:
            for k in range(1, len(chain.sides)):
                if reason is not None:
                    results.append(_step(question, chain, k, None, reason))
                    continue
                results.append(_check(evaluator, question, chain, k, points, rtol, atol))
    return tuple(results)


def _step(question: Question, chain: WrittenChain, k: int, holds: bool | None, reason: str | None, **more) -> StepResult:
    left, right = chain.sides[k - 1], chain.sides[k]
    return StepResult(
        question_id=question.id, file=right.file, line=right.line, latex=f"{left.latex} = {right.latex}",
        holds=holds, label=chain.label, reason=reason, **more,
    )


def _check(evaluator: _Evaluator, question: Question, chain: WrittenChain, k: int, points: list[_Point],
           rtol: float, atol: float) -> StepResult:
    first, left, right = chain.sides[0], chain.sides[k - 1], chain.sides[k]
    failures = []
    dummies = evaluator.dummies() if chain.dummy else [None]
    compared = 0
    try:
        for point in points:
            for source in dummies:
                dummy = None if source is None else point.values[source]
                right_value = evaluator.value(right, point, dummy)
                left_value = evaluator.value(left, point, dummy)
                if not (np.isfinite(left_value).all() or np.isfinite(right_value).all()):
                    continue  # neither side is a number here (a log of a negative value): no evidence
                compared += 1
                if _close(left_value, right_value, rtol, atol):
                    continue
                if k > 1 and _close(evaluator.value(first, point, dummy), right_value, rtol, atol):
                    continue
                failures.append((point, left_value, right_value, source))
    except _Unchecked as error:
        return _step(question, chain, k, None, str(error))
    except HarnessError as error:
        return _step(question, chain, k, None, f"the true value could not be computed: {error}")
    if not compared:
        return _step(question, chain, k, None, "neither side is a finite number at any of the inputs")
    if not failures:
        return _step(question, chain, k, True, None, examples=compared)
    point, left_value, right_value, source = failures[0]
    diagnosis = _diagnose(evaluator, left, right, [failure[:3] for failure in failures], rtol, atol)
    inputs = tuple((name, as_value(value)) for name, value in point.example.values)
    if source is not None:  # the value the definition's bare variable took
        inputs += ((chain.dummy, as_value(point.values[source])),)
    return _step(
        question, chain, k, False, diagnosis, examples=compared, failed=len(failures),
        inputs=inputs,
        activation=point.activation, left_value=as_value(left_value), right_value=as_value(right_value),
    )


def _diagnose(evaluator: _Evaluator, left: Written, right: Written, failures: list, rtol: float, atol: float) -> str | None:
    """A sign, a constant factor, a function's value used for its derivative, another derivative."""
    if all(_close(-l, r, rtol, atol) for _, l, r in failures):
        return "sign error: the right side is minus the left side"
    ratios = []
    for _, l, r in failures:
        with np.errstate(all="ignore"):
            ratio = np.asarray(r / l, dtype=np.float64)
        if ratio.size != 1 or not np.isfinite(ratio).all():
            ratios = []
            break
        ratios.append(float(ratio.reshape(())))
    if len(ratios) > 1 and np.allclose(ratios, ratios[0], rtol=1e-6):
        return f"a constant factor: the right side is {ratios[0]:.6g} times the left side"
    model = evaluator.model
    for derivative, other in ((left, right), (right, left)):
        symbol = derivative.expression.symbol if derivative.expression else None
        if symbol is None:
            continue
        of, wrt = symbol
        values = [(point, l if other is left else r) for point, l, r in failures]
        if of in model.quantity_names and all(_close(point.values[of], value, rtol, atol) for point, value in values):
            return (f"the value of {of} is used for its derivative: {other.latex} is {of} itself, not "
                    f"{derivative_text(of, wrt)}")
        for quantity in model.quantity_names:
            if quantity == of or wrt in (quantity,) or wrt not in model.upstream(quantity):
                continue
            try:
                matches = all(_close(evaluator.oracle.jacobian(point.example, point.activation, quantity, wrt),
                                     value, rtol, atol) for point, value in values)
            except HarnessError:
                continue
            if matches:
                return (f"{other.latex} is {derivative_text(quantity, wrt)}, not {derivative_text(of, wrt)}: "
                        f"did you mean {derivative_text(quantity, wrt)}?")
    return None
