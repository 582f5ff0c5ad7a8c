"""Check items of an assignment: draw inputs, judge answers, shrink failures, diagnose.

One ``Checker`` per assignment serves every submission of a run. It is built from parts: an
``Oracle`` (reference values), a ``Memory`` over a ``Store`` (survey inputs and claims' evidence)
and a ``Shrinker`` (minimal counterexamples, with shrink paths), all remembering through the same
store: in memory by default, the on-disk cache when grading a class, a shared one later.

The search runs in two phases so that every submission sees the same inputs and pays one round
trip per item:

1. **Survey.** The item's examples are drawn once per (question, activation) with a seeded,
   database-free Hypothesis run, so they are the same for every submission of a run; the
   candidate answers all of them in one batch and each answer is judged.
2. **Shrink.** Only if something failed, ``harness.shrink`` replays the same seeded search with
   the judgement as its predicate and shrinks the first failure to a minimal counterexample.

Failures that cost a full time limit per call (timeouts, memory kills, crashes) are not shrunk:
the first such input is reported as it was drawn.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harness import claims
from harness.codecs import EVIDENCE, EXAMPLES, SURVEY, Survey
from harness.errors import InternalError
from harness.judge import Record, Verdict, diagnose, judge_many
from harness.oracle import REFERENCE_SOURCES, Oracle
from harness.runner_codec import EncodedBatch
from harness.results import ClaimEvidence, Counterexample, ItemResult, as_value
from harness.example import Example, derived_seed, hypothesis_version
from harness.lock import Lock
from harness.shrink import NOT_SHRUNK, Judged, Shrinker, shrink_locked
from harness.spec import Assignment, ClaimItem, DerivativeItem, Question
from harness.store import Memory, Store, source_digest

CHECK_SOURCES = REFERENCE_SOURCES + ("check", "claims", "codecs", "judge", "results", "search", "shrink", "strategies")
"""The modules whose code determines survey inputs, claims' evidence and shrink paths."""

_CHECK_CODE = source_digest(CHECK_SOURCES)


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


def suggest(name: str, known: Sequence[str]) -> str:
    """``"; did you mean 'yhat'?"`` when a known name is close, else ``""``."""
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _sizes(model, example: Example) -> tuple[tuple[str, int], ...]:
    """The example's sizes of the dimensions the question's model uses."""
    return tuple((name, size) for name, size in example.sizes if name in model.used_dimensions)


def item_variables(question: Question, item: DerivativeItem | ClaimItem) -> tuple[str, ...]:
    """The variables an item's answer depends on: what its counterexamples show (all, if none)."""
    names = [item.of, item.wrt] + [name for name in (getattr(item, "wrt2", None), getattr(item, "upstream", None)) if name]
    names += [name for given in getattr(item, "given", ()) for name in (given.of, given.wrt)]
    if isinstance(item, ClaimItem):
        names.append(item.changes_with)
    used = question.model.used_variables([name for name in names if name in question.model.names])
    return used or question.model.variable_names


WarmUpTask = tuple[str, "str | None", "str | None"]
"""One independent piece of a warm-up: (question id, activation, claim name or None)."""


@dataclass(frozen=True)
class _Survey:
    """One item's survey as every submission is asked it: the calls, the true values, the inputs' keys and sizes."""

    calls: EncodedBatch
    wants: list[np.ndarray]
    keys: list[tuple]
    sizes: list[tuple[tuple[str, int], ...]]

    @property
    def stacked(self) -> np.ndarray | None:
        """The true values as one array (a row each) when they share a shape, else ``None``."""
        if "_stacked" not in self.__dict__:
            same = len({np.shape(want) for want in self.wants}) == 1
            object.__setattr__(self, "_stacked", np.array(self.wants, dtype=np.float64) if same else None)
        return self.__dict__["_stacked"]


class Checker:
    """Checks the items of one assignment for any number of submissions, remembering what they share."""

    def __init__(
        self, assignment: Assignment, *, seed: int | None = None, examples: int | None = None, store: Store | None = None,
        lock: Lock | None = None,
    ) -> None:
        self.assignment = assignment
        self.seed = assignment.settings.seed if seed is None else seed
        self.examples_override = examples
        digits = assignment.settings.reference_digits
        self.oracle = Oracle(assignment.model, spec=assignment.digest, digits=digits, store=store)
        self._oracles = {
            question.id: Oracle(question.model, spec=f"{assignment.digest}/{question.id}", digits=digits, store=store)
            for question in assignment.questions if question.own_model
        }
        self._questions = {id(item): question for question in assignment.questions for item in question.items}
        self.memory = Memory(self.oracle.memory.store, ("harness check", assignment.digest, digits), _CHECK_CODE)
        self.shrinker = Shrinker(self.memory)
        self.lock = lock
        """The locked inputs, when grading uses a lock (``harness.lock``): then Hypothesis is not used."""
        # Drawn inputs depend on these versions too; they are part of every key that holds inputs.
        drawn_by = ("locked", lock.digest) if lock else (hypothesis_version(), np.__version__)
        self._versions = (*drawn_by, self.seed)
        self._surveys: dict[tuple, _Survey] = {}

    def oracle_for(self, question: Question) -> Oracle:
        """The oracle of the question's model: the spec's, or the question's own (variables, quantities)."""
        return self._oracles.get(question.id, self.oracle)

    def question_of(self, item: DerivativeItem | ClaimItem) -> Question:
        """The question an item of this assignment belongs to."""
        return self._questions[id(item)]

    # -- inputs -------------------------------------------------------------------------------
    def example_count(self, item: DerivativeItem | ClaimItem) -> int:
        return self.examples_override if self.examples_override is not None else item.examples

    def seed_for(self, question: Question, activation: str | None) -> int:
        """The seed of one question's survey for one activation."""
        return derived_seed(self.seed, self.assignment.digest, question.id, activation)

    def draw(self, question: Question, activation: str | None, count: int) -> list[Example]:
        """The survey's inputs for one question and activation: the same for every submission.

        One search draws as many inputs as the question's largest item needs; an item with
        fewer examples (a costly second derivative) takes the first ones.
        """
        if self.lock is not None:
            return self.lock.draw(question.id, activation, count)
        place, total = self._draw_place(question, activation, count)

        def compute() -> list[Example]:
            from harness.search import collect
            from harness.strategies import examples

            strategy = examples(question.model, activation)
            return collect(strategy, self.seed_for(question, activation), total)

        return self.memory.remember(place, compute, EXAMPLES)[:count]

    def _draw_place(self, question: Question, activation: str | None, count: int = 0) -> tuple[tuple, int]:
        """Where the store keeps a question's survey inputs, and how many it draws."""
        total = max([count, *(self.example_count(item) for item in question.items)])
        return ("draw", *self._versions, question.id, activation, total), total

    def is_warm(self) -> bool:
        """Whether the store holds every survey's inputs already (a warm-up would only read them back)."""
        if self.lock is not None:
            return True
        return all(
            self.memory.read(self._draw_place(question, activation)[0], EXAMPLES) is not None
            for question in self.assignment.questions for activation in question.activations or (None,)
            if any(isinstance(item, DerivativeItem) for item in question.items)
        )

    def arguments(
        self, item: DerivativeItem, example: Example, activation: str | None, parameters: Sequence[str],
    ) -> dict[str, np.ndarray]:
        """The values a function asking for ``parameters`` receives at ``example`` (fresh arrays).

        Labels and other integer variables arrive as int64 arrays (Python ints for scalars, in
        the worker), and so does a dimension's size; everything else as float64.
        """
        question = self.question_of(item)
        oracle = self.oracle_for(question)
        values = oracle.quantities(example, activation)
        given = {g.name: g for g in item.given}
        discrete = {variable.name for variable in question.model.variables if variable.discrete}
        arguments = {}
        sizes = example.size_map
        for name in parameters:
            if name in given:
                value = oracle.jacobian(example, activation, given[name].of, given[name].wrt)
            elif name in sizes:
                value, discrete = np.asarray(sizes[name]), discrete | {name}
            else:
                value = values[name]
            arguments[name] = np.array(value, dtype=np.int64 if name in discrete else np.float64, copy=True)
        return arguments

    def want(self, item: DerivativeItem, example: Example, activation: str | None) -> np.ndarray:
        """What the item's function must return at ``example``, correctly rounded."""
        return self.oracle_for(self.question_of(item)).answer(example, activation, item)

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
                diagnosis=answer.explanation, source=answer.source, line=answer.line, mistake="not checked",
            )
        problem = self.parameter_problem(question, item, answer)
        if problem is not None:
            return ItemResult(
                **base, score=0.0, status="error", summary=problem.summary,
                diagnosis=problem.explanation, source=answer.source, line=answer.line, mistake="not checked",
            )
        activations = question.activations or (None,)
        checked = 0
        for activation in activations:
            if not self.draw(question, activation, self.example_count(item)):
                return ItemResult(
                    **base, score=0.0, status="error", summary="no gradable input in the domains",
                    diagnosis="No input could be drawn where every quantity is finite, away from kinks and "
                    "within the exponential's range, so this item could not be graded; this is not your "
                    "fault. Your instructor should widen the domains (harness check-spec says why inputs "
                    "were left out).", source=answer.source, line=answer.line, internal_error=True,
                    mistake="not checked",
                )
            try:
                failure = self._check_one(question, item, answer, activation)
            except InternalError as error:  # the reference, at one input: this item only, saying where
                return ItemResult(
                    **base, score=0.0, status="error", summary="reference undefined at this input",
                    diagnosis=f"The grader cannot compute the true answer at one of the inputs, so this item "
                    f"could not be graded; this is not your fault, and your instructor is shown the details. "
                    f"What failed: {error}", source=answer.source, line=answer.line,
                    internal_error=True, mistake="reference undefined",
                )
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
                line=answer.line, output=output, mistake=diagnosis.kind,
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
            if name not in offered and name not in question.model.dimension_names:
                return Problem(
                    f"parameter {name!r} is not a quantity of {question.id}",
                    f"{item.name} asks for a parameter named {name!r}, but {question.id} offers only: "
                    f"{', '.join(offered)}{suggest(name, offered)}. Name each parameter after the "
                    "quantity you need; the harness passes it by that name.",
                )
        return None

    def _judged(self, item: DerivativeItem, wants: Sequence[np.ndarray], outcomes: Sequence,
                stacked: np.ndarray | None = None) -> list[Judged]:
        verdicts = judge_many(wants, outcomes, rtol=item.rtol, atol=item.atol, stacked=stacked)
        return [(verdict, outcome.output) for verdict, outcome in zip(verdicts, outcomes)]

    def _survey(self, question: Question, item: DerivativeItem, activation: str | None,
                parameters: Sequence[str], drawn: Sequence[Example]) -> _Survey:
        """What every submission is asked at the survey's inputs, prepared once per process."""
        place = (question.id, item.name, activation, tuple(parameters), len(drawn))
        found = self._surveys.get(place)
        if found is None:
            every, wants = self._survey_values(question, item, activation, drawn)
            # (parameter_problem has refused any name the question does not offer)
            calls = [{name: arguments[name] for name in parameters} for arguments in every]
            found = self._surveys[place] = _Survey(
                calls=EncodedBatch(calls), wants=wants, keys=[example.key() for example in drawn],
                sizes=[_sizes(question.model, example) for example in drawn],
            )
        return found

    def _survey_values(self, question: Question, item: DerivativeItem, activation: str | None,
                       drawn: Sequence[Example]) -> Survey:
        """Every value a function may ask for at each survey input, and the true values: one store entry
        (instead of a reference look-up per input and argument), written by the warm-up."""
        offered = tuple(question.offered(item))
        names = offered + tuple(d for d in question.model.dimension_names if d not in offered)

        def compute() -> Survey:
            return ([self.arguments(item, example, activation, names) for example in drawn],
                    [self.want(item, example, activation) for example in drawn])

        place = ("survey", *self._versions, question.id, item.name, activation, names, len(drawn))
        return self.memory.remember(place, compute, SURVEY)

    def _check_one(self, question: Question, item: DerivativeItem, answer: Answer, activation: str | None):
        """Survey then shrink for one activation: the number of examples on success, else details."""
        count = self.example_count(item)
        drawn = self.draw(question, activation, count)

        model = question.model

        def ask(inputs: Sequence[Example]) -> list[Judged]:
            calls = [self.arguments(item, example, activation, answer.parameters) for example in inputs]
            wants = [self.want(item, example, activation) for example in inputs]
            return self._judged(item, wants, answer.call_many(calls))

        asked = self._survey(question, item, activation, answer.parameters, drawn)
        survey: dict[tuple, Judged] = {}
        records = []
        for index, judged in enumerate(self._judged(item, asked.wants, answer.call_many(asked.calls), asked.stacked)):
            if judged[0].kind == "skipped":  # not run after a call that used up its time limit
                continue
            survey[asked.keys[index]] = judged
            records.append(Record(asked.sizes[index], asked.wants[index], judged[0]))
        failing = [(e, survey[key]) for e, key in zip(drawn, asked.keys) if key in survey and not survey[key][0].ok]
        if not failing:
            return len(drawn)
        example, (verdict, output) = failing[0]
        if verdict.kind not in NOT_SHRUNK and self.lock is not None:
            example, (verdict, output) = shrink_locked(model, activation, drawn, survey, ask)
        elif verdict.kind not in NOT_SHRUNK:
            place = ("shrink", *self._versions, question.id, item.name, activation)
            def strategy():
                from harness.strategies import examples

                return examples(model, activation)

            seed = self.seed_for(question, activation)
            shrunk = self.shrinker.shrink(place, strategy, seed, count, drawn, survey, ask)
            if shrunk is not None:
                example, (verdict, output) = shrunk
        shown = Record(_sizes(model, example), self.want(item, example, activation), verdict)
        symmetric_from = None
        if item.kind == "second" and item.wrt == item.wrt2:
            symmetric_from = len(question.model.symbolic_shape(item.of))
        diagnosis = diagnose(records, rtol=item.rtol, atol=item.atol, name=item.name, shown=shown,
                             kind=item.kind, symmetric_from=symmetric_from)
        counterexample = self.counterexample(item, example, activation, answer.parameters, verdict)
        return diagnosis, counterexample, output

    def counterexample(
        self, item: DerivativeItem, example: Example, activation: str | None,
        parameters: Sequence[str], verdict: Verdict,
    ) -> Counterexample:
        want = self.want(item, example, activation)
        arguments = self.arguments(item, example, activation, parameters)
        received = verdict.received
        error = verdict.message if verdict.kind not in ("mismatch",) else None
        used = set(item_variables(self.question_of(item), item))
        return Counterexample(
            inputs=tuple((name, as_value(value)) for name, value in example.values if name in used),
            dimensions=_sizes(self.question_of(item).model, example),
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
        """Establish a claim numerically (once per store, so once for a class and later runs)."""
        count = self.example_count(item)
        if self.lock is not None:
            return self.lock.claim(question.id, item.name, count)

        def compute() -> ClaimEvidence:
            return claims.establish(
                self.oracle_for(question), question, item, count,
                seed_for=lambda activation: self.seed_for(question, activation),
                first_drawn=lambda activation: self.draw(question, activation, 1)[0],
            )

        return self.memory.remember(("claim", *self._versions, question.id, item.name, count), compute, EVIDENCE)

    def check_claim(self, question: Question, item: ClaimItem, answer: ClaimAnswer | Problem) -> ItemResult:
        """Compare the submission's True/False with the numerically established truth."""
        base = dict(question_id=question.id, name=item.name, kind="claim", max_score=float(item.points))
        if isinstance(answer, Problem):
            return ItemResult(**base, score=0.0, status="error", summary=answer.summary,
                              diagnosis=answer.explanation, source=answer.source, line=answer.line,
                              mistake="not checked")
        evidence = self.claim_evidence(question, item)
        base.update(evidence=evidence, examples=evidence.examples, source=answer.source, line=answer.line)
        answered = answer.value
        if not isinstance(answered, bool):
            return ItemResult(
                **base, score=0.0, status="failed",
                summary=f"not a bool: {item.name} is {answered!r}",
                diagnosis=f"{item.name} must be the constant True or False; it is {answered!r}.",
                mistake="not a bool",
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
            diagnosis=claims.explanation(question.model, item, evidence), answered=answered,
            mistake="wrong claim",
        )

    # -- warming up -----------------------------------------------------------------------------
    def warm_up_tasks(self) -> list[WarmUpTask]:
        """The independent pieces of what every submission needs first: see ``warm_up``."""
        tasks: list[WarmUpTask] = []
        for question in self.assignment.questions:
            for activation in question.activations or (None,):
                tasks.append((question.id, activation, None))
            tasks += [(question.id, None, item.name) for item in question.items if isinstance(item, ClaimItem)]
        return tasks

    def warm_up(self, task: WarmUpTask) -> None:
        """Compute (or read back) one piece: a claim's evidence, or one activation's survey references.

        The warm-up only saves time: whatever fails here (a reference that cannot be computed,
        which is remembered as such, or a bug) is skipped, and the items that need it meet the
        failure when they are checked, each costing its item, as they would without a warm-up.
        """
        question_id, activation, claim = task
        question = self.assignment.question(question_id)
        if claim is not None:
            with contextlib.suppress(Exception):
                self.claim_evidence(question, question.item(claim))
            return
        for item in question.items:
            if not isinstance(item, DerivativeItem):
                continue
            try:
                drawn = self.draw(question, activation, self.example_count(item))
            except Exception:
                continue
            try:
                self._survey_values(question, item, activation, drawn)  # warm: one entry read
                continue
            except Exception:
                pass
            # A reference failed at one input: compute the others, so no later process has to.
            for example in drawn:
                with contextlib.suppress(Exception):
                    self.arguments(item, example, activation, question.offered(item))
                    self.want(item, example, activation)
