"""Check one item of one submission: draw inputs, judge answers, shrink failures, diagnose.

The search runs in two phases so that every submission sees the same inputs and pays one round
trip per item:

1. **Survey.** The item's examples are drawn once per (question, activation) with a seeded,
   database-free Hypothesis run, so they are the same for every submission of a run; the
   candidate answers all of them in one batch and each answer is judged.
2. **Shrink.** Only if something failed, Hypothesis replays the same seeded search with the
   judgement as its test and shrinks the first failure to a minimal counterexample. Judgements are
   memoised per input, so replays agree with the survey, and at most ``SHRINK_BUDGET`` new inputs
   are tried, so the result is deterministic and a slow submission cannot stall the run.

Failures that cost a full time limit per call (timeouts, memory kills, crashes) are not shrunk:
the first such input is reported as it was drawn.
"""

from __future__ import annotations

import difflib
import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, find, given, seed, settings
from hypothesis.errors import NoSuchExample
from hypothesis import strategies as st

from harness.judge import Record, Verdict, diagnose, judge
from harness.oracle import Oracle
from harness.results import ClaimEvidence, Counterexample, ItemResult, Value
from harness.spec import Assignment, ClaimItem, DerivativeItem, Question
from harness.strategies import Example, examples, values_at, within_float64_range

SHRINK_BUDGET = 200
"""New inputs the shrinker may try per failing item (a count, not a time, to stay deterministic)."""

NOT_SHRUNK = ("timeout", "memory", "crashed", "output_limit")


class Answer(Protocol):
    """One way a submission answers an item: a Python function in the worker, or a written formula."""

    source: str
    line: int | None
    parameters: tuple[str, ...]

    def call_many(self, batch: Sequence[Mapping[str, np.ndarray]]) -> list:
        """Answer every input of ``batch``; each result has ``status``, ``value``, ``message``, ``output``.

        An answer may stop early after a call that used up its time limit: the rest come back
        with status ``"skipped"`` and are not judged.
        """


@dataclass(frozen=True)
class Problem:
    """Why an item could not be checked at all (missing file, bad parameters, ...)."""

    summary: str
    explanation: str
    source: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class ClaimAnswer:
    """What a submission answered to a claim (a bool, or whatever it gave instead) and where."""

    value: object
    source: str
    line: int | None = None


def derived_seed(base: int, *parts: object) -> int:
    """A stable 64-bit seed for one (question, activation, ...) from the run's seed."""
    text = "\x1f".join([str(base), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _search_settings(max_examples: int, phases: Sequence[Phase]) -> settings:
    return settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=tuple(phases),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


def as_value(array: np.ndarray | float | None) -> Value | None:
    """A float64 array as report data: a float, or nested tuples of floats."""
    if array is None:
        return None
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0:
        return float(array)
    return tuple(as_value(row) for row in array)


def suggest(name: str, known: Sequence[str]) -> str:
    """``"; did you mean 'yhat'?"`` when a known name is close, else ``""``."""
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def collect(strategy: st.SearchStrategy[Example], seed_value: int, count: int) -> list[Example]:
    """The first ``count`` distinct examples a seeded, database-free Hypothesis run draws."""
    drawn: list[Example] = []
    seen: set[tuple] = set()

    # Hypothesis can draw an input twice; ask for more and keep the first `count` distinct.
    @seed(seed_value)
    @_search_settings(count + count // 2 + 10, [Phase.generate])
    @given(strategy)
    def gather(example: Example) -> None:
        if example.key() not in seen:
            seen.add(example.key())
            drawn.append(example)

    gather()
    return drawn[:count]


class _Failure(Exception):
    def __init__(self, example: Example) -> None:
        super().__init__("failing example")
        self.example = example


def find_minimal(
    strategy: st.SearchStrategy[Example], seed_value: int, count: int, fails: Callable[[Example], bool]
) -> Example | None:
    """Replay a seeded search of ``count`` examples and shrink its first failure; None if none fails.

    ``fails`` must answer the same for the same input every time it is asked (memoise it):
    Hypothesis replays the minimal example once more at the end.
    """

    @seed(seed_value)
    @_search_settings(count, [Phase.generate, Phase.shrink])
    @given(strategy)
    def search(example: Example) -> None:
        if fails(example):
            raise _Failure(example)

    try:
        search()
    except _Failure as failure:
        return failure.example
    return None


class AssignmentChecker:
    """Checks items of one assignment; shared by every submission of a run (inputs, references)."""

    def __init__(self, assignment: Assignment, *, seed: int | None = None, examples: int | None = None) -> None:
        self.assignment = assignment
        self.seed = assignment.settings.seed if seed is None else seed
        self.examples_override = examples
        self.oracle = Oracle(assignment.model, digits=assignment.settings.reference_digits)
        self._drawn: dict[tuple, list[Example]] = {}
        self._claims: dict[tuple, ClaimEvidence] = {}

    # -- inputs -------------------------------------------------------------------------------
    def example_count(self, item: DerivativeItem | ClaimItem) -> int:
        return self.examples_override if self.examples_override is not None else item.examples

    def _seed_for(self, question: Question, activation: str | None) -> int:
        return derived_seed(self.seed, self.assignment.digest, question.id, activation)

    def draw(self, question: Question, activation: str | None, count: int) -> list[Example]:
        """The survey's inputs for one question and activation: the same for every submission."""
        key = (question.id, activation, count)
        if key not in self._drawn:
            strategy = examples(self.assignment.model, activation)
            self._drawn[key] = collect(strategy, self._seed_for(question, activation), count)
        return self._drawn[key]

    def arguments(
        self, item: DerivativeItem, example: Example, activation: str | None, parameters: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """The values a function asking for ``parameters`` receives at ``example`` (fresh arrays)."""
        values = self.oracle.quantities(example, activation)
        given = {g.name: g for g in item.given}
        arguments = {}
        for name in parameters:
            if name in given:
                value = self.oracle.jacobian(example, activation, given[name].of, given[name].wrt)
            else:
                value = values[name]
            arguments[name] = np.array(value, dtype=np.float64, copy=True)
        return arguments

    def want(self, item: DerivativeItem, example: Example, activation: str | None) -> np.ndarray:
        return self.oracle.jacobian(example, activation, item.of, item.wrt)

    # -- derivative items ---------------------------------------------------------------------
    def check_derivative(
        self, question: Question, item: DerivativeItem, answer: Answer | Problem
    ) -> ItemResult:
        """Judge a derivative item for every activation of the question; the first failure decides."""
        base = dict(
            question_id=question.id, name=item.name, kind="derivative", max_score=float(item.points)
        )
        if isinstance(answer, Problem):
            return ItemResult(
                **base, score=0.0, status="error", summary=answer.summary,
                diagnosis=answer.explanation, source=answer.source, line=answer.line,
            )
        problem = self.parameter_problem(question, item, answer)
        if problem is not None:
            return ItemResult(
                **base, score=0.0, status="error", summary=problem.summary,
                diagnosis=problem.explanation, source=answer.source, line=answer.line,
            )
        activations = question.activations or (None,)
        checked = 0
        for activation in activations:
            failure = self._check_one(question, item, answer, activation)
            if isinstance(failure, int):
                checked += failure
                continue
            diagnosis, counterexample, output = failure
            summary = diagnosis.summary
            if activation is not None and len(activations) > 1:
                summary += f" (with activation {activation})"
            return ItemResult(
                **base, score=0.0, status="failed", summary=summary, diagnosis=diagnosis.explanation,
                counterexample=counterexample, examples=checked, source=answer.source,
                line=answer.line, output=output,
            )
        summary = f"correct on {checked} examples"
        if len(activations) > 1:
            summary += " (" + ", ".join(f"{a}" for a in activations) + ")"
        return ItemResult(
            **base, score=float(item.points), status="passed", summary=summary, examples=checked,
            source=answer.source, line=answer.line,
        )

    def parameter_problem(self, question: Question, item: DerivativeItem, answer: Answer) -> Problem | None:
        """A Problem when the function asks for something the question does not offer."""
        offered = question.offered(item)
        for name in answer.parameters:
            if name not in offered:
                return Problem(
                    f"parameter {name!r} is not a quantity of {question.id}",
                    f"{item.name} asks for a parameter named {name!r}, but {question.id} offers only: "
                    f"{', '.join(offered)}{suggest(name, offered)}. Name each parameter after the "
                    "quantity you need; the harness passes it by that name.",
                )
        return None

    def _check_one(self, question, item, answer, activation):
        """Survey then shrink for one activation: the number of examples on success, else details."""
        drawn = self.draw(question, activation, self.example_count(item))
        batch = [self.arguments(item, example, activation, answer.parameters) for example in drawn]
        outcomes = answer.call_many(batch)
        memo: dict[tuple, tuple[Verdict, str]] = {}
        records = []
        for example, outcome in zip(drawn, outcomes):
            if outcome.status == "skipped":  # not run after a call that used up its time limit
                continue
            verdict = self._judge(item, example, activation, outcome)
            memo[example.key()] = (verdict, outcome.output)
            records.append(Record(example.sizes, self.want(item, example, activation), verdict))
        failing = [(e, memo[e.key()]) for e in drawn if e.key() in memo and not memo[e.key()][0].ok]
        if not failing:
            return len(drawn)
        example, (verdict, output) = failing[0]
        if verdict.kind not in NOT_SHRUNK:
            shrunk = self._shrink(question, item, answer, activation, memo)
            if shrunk is not None:
                example, verdict, output = shrunk
        shown = Record(example.sizes, self.want(item, example, activation), verdict)
        diagnosis = diagnose(records, rtol=item.rtol, atol=item.atol, name=item.name, shown=shown)
        counterexample = self.counterexample(item, example, activation, answer.parameters, verdict)
        return diagnosis, counterexample, output

    def _judge(self, item, example, activation, outcome) -> Verdict:
        want = self.want(item, example, activation)
        return judge(want, outcome.status, outcome.value, outcome.message, rtol=item.rtol, atol=item.atol)

    def _shrink(self, question, item, answer, activation, memo):
        """Replay the seeded search with shrinking; returns (example, verdict, output) or None."""
        budget = [SHRINK_BUDGET]

        def verdict_for(example: Example) -> tuple[Verdict, str] | None:
            key = example.key()
            if key not in memo:
                if budget[0] <= 0:
                    return None
                budget[0] -= 1
                arguments = self.arguments(item, example, activation, answer.parameters)
                (outcome,) = answer.call_many([arguments])
                memo[key] = (self._judge(item, example, activation, outcome), outcome.output)
                if memo[key][0].kind in NOT_SHRUNK:  # each further try could cost a time limit
                    budget[0] = 0
            return memo[key]

        def fails(example: Example) -> bool:
            found = verdict_for(example)
            # Past the budget, unseen inputs count as passing: the shrinker then keeps its best.
            return found is not None and not found[0].ok

        strategy = examples(self.assignment.model, activation)
        example = find_minimal(strategy, self._seed_for(question, activation), self.example_count(item), fails)
        if example is None:
            return None
        verdict, output = memo[example.key()]
        return example, verdict, output

    def counterexample(
        self, item: DerivativeItem, example: Example, activation: str | None,
        parameters: Sequence[str], verdict: Verdict,
    ) -> Counterexample:
        want = self.want(item, example, activation)
        arguments = self.arguments(item, example, activation, parameters)
        received = verdict.received
        error = verdict.message if verdict.kind not in ("mismatch",) else None
        return Counterexample(
            inputs=tuple((name, as_value(value)) for name, value in example.values),
            dimensions=example.sizes,
            activation=activation,
            arguments=tuple((name, as_value(value)) for name, value in arguments.items()),
            expected=as_value(want),
            received=as_value(received),
            expected_shape=tuple(want.shape),
            received_shape=None if received is None else tuple(received.shape),
            error=error,
            max_abs_error=verdict.max_abs_error,
            tolerance=verdict.tolerance,
        )

    # -- claims -------------------------------------------------------------------------------
    def claim_evidence(self, question: Question, item: ClaimItem) -> ClaimEvidence:
        """Establish a claim numerically (once per run): does d of/d wrt change with one variable?"""
        key = (question.id, item.name)
        if key not in self._claims:
            self._claims[key] = self._establish(question, item)
        return self._claims[key]

    def _establish(self, question: Question, item: ClaimItem) -> ClaimEvidence:
        model = self.assignment.model
        activations = question.activations or (None,)
        count = self.example_count(item)

        def pairs(activation):
            """Two gradable inputs that differ only in the claim's variable."""
            return examples(model, activation).flatmap(
                lambda example: values_at(model, example.size_map, only=item.changes_with).map(
                    lambda new: (example, example.replace(item.changes_with, new[item.changes_with]))
                )
            ).filter(lambda pair: within_float64_range(model, pair[1], activation))

        def derivative(example, activation):
            return self.oracle.jacobian(example, activation, item.of, item.wrt)

        def differs(pair, activation) -> bool:
            first, second = (derivative(e, activation) for e in pair)
            return not bool(np.all(np.abs(first - second) <= item.atol + item.rtol * np.abs(first)))

        fallback = None
        for activation in activations:
            rng = random.Random(self._seed_for(question, activation) ^ 0xC1A1)
            search = _search_settings(count, [Phase.generate, Phase.shrink])
            try:
                pair = find(pairs(activation), lambda p, a=activation: differs(p, a), settings=search, random=rng)
            except NoSuchExample:
                if fallback is None:
                    first = self.draw(question, activation, 1)[0]
                    fallback = (first, first, activation)
                continue
            return self._evidence(item, pair[0], pair[1], activation, truth=True, examples=count)
        first, _, activation = fallback
        # The claim held on every pair: show one pair with the other end of the domain.
        low, high = model.variable(item.changes_with).domain
        value = first.point[item.changes_with]
        other = np.where(value == high, low, high).astype(np.float64)
        return self._evidence(item, first, first.replace(item.changes_with, other), activation,
                              truth=False, examples=count * len(activations))

    def _evidence(self, item, first, second, activation, *, truth, examples) -> ClaimEvidence:
        return ClaimEvidence(
            statement=item.statement,
            truth=truth,
            changed_variable=item.changes_with,
            first_inputs=tuple((n, as_value(v)) for n, v in first.values),
            second_inputs=tuple((n, as_value(v)) for n, v in second.values),
            first_value=as_value(self.oracle.jacobian(first, activation, item.of, item.wrt)),
            second_value=as_value(self.oracle.jacobian(second, activation, item.of, item.wrt)),
            activation=activation,
            examples=examples,
        )

    def check_claim(self, question: Question, item: ClaimItem, answer: ClaimAnswer | Problem) -> ItemResult:
        """Compare the submission's True/False with the numerically established truth."""
        base = dict(question_id=question.id, name=item.name, kind="claim", max_score=float(item.points))
        if isinstance(answer, Problem):
            return ItemResult(**base, score=0.0, status="error", summary=answer.summary,
                              diagnosis=answer.explanation, source=answer.source, line=answer.line)
        evidence = self.claim_evidence(question, item)
        base.update(evidence=evidence, examples=evidence.examples, source=answer.source, line=answer.line)
        answered = answer.value
        if not isinstance(answered, bool):
            return ItemResult(
                **base, score=0.0, status="failed",
                summary=f"not a bool: {item.name} is {answered!r}",
                diagnosis=f"{item.name} must be the constant True or False; it is {answered!r}.",
            )
        truth = "true" if evidence.truth else "false"
        if answered == evidence.truth:
            return ItemResult(
                **base, score=float(item.points), status="passed",
                summary=f"correct: the claim is {truth}", answered=answered,
            )
        return ItemResult(
            **base, score=0.0, status="failed",
            summary=f"wrong: you answered {answered}, but the claim is {truth}",
            diagnosis=self.claim_explanation(item, evidence), answered=answered,
        )

    def claim_explanation(self, item: ClaimItem, evidence: ClaimEvidence) -> str:
        """Why the claim holds or not, pointing at where the variable enters the model."""
        of, wrt, var = item.of, item.wrt, item.changes_with
        if not evidence.truth:
            return (
                f"On {evidence.examples} pairs of inputs that differ only in {var}, d {of} / d {wrt} "
                f"never changed: it does not depend on {var}."
            )
        uses = [
            f"{name} = {formula.source}"
            for name, formula in self.assignment.model.quantities
            if var in formula.names
        ]
        where = f" {var} enters the model in {', '.join(uses)}." if uses else ""
        return (
            f"Changing only {var} changes d {of} / d {wrt} (see the two inputs below).{where} "
            "The chain rule for the derivative contains factors evaluated at those quantities (for "
            "example the activation's derivative at them), so the derivative changes with "
            f"{var} even where {var} does not appear as a factor of the formula."
        )
