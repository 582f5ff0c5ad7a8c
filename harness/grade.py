"""Grade submissions against assignments: the one API the CLI (and later plugins) adapt.

For each assignment (spec) and each submission folder, a fresh isolated worker answers every item;
``check`` judges it; the finished ``SubmissionResult`` is written at once (atomically), so an
interrupted run keeps every submission it finished.
"""

from __future__ import annotations

import contextlib
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
import mpmath
import numpy as np

from harness._version import __version__
from harness.answers import ANSWERS_FILE, WrittenAnswers, load_answers
from harness.check import AssignmentChecker, ClaimAnswer, Problem
from harness.errors import SandboxUnavailable, UsageError
from harness.outputs import write_class, write_submission
from harness.cached_check import CachedChecker
from harness.parallel import graded, run_cache
from harness.results import ItemResult, QuestionResult, RunSettings, SubmissionResult
from harness.runner import Definition, Limits, SubmissionRunner
from harness.spec import Assignment, ClaimItem, DerivativeItem, Question


@dataclass(frozen=True)
class GradeOptions:
    """How to grade: overrides of the spec's settings, the worker's limits, parallelism and caching."""

    seed: int | None = None
    examples: int | None = None
    limits: Limits | None = None
    require_sandbox: bool = False
    jobs: int = 1
    """Grading processes (see ``harness.parallel``); the reports are the same whatever the number."""
    cache_dir: Path | None = None
    """The persistent reference cache's folder (see ``harness.cache``); ``None``: no persistent cache."""

    def __post_init__(self) -> None:
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise UsageError(f"jobs must be a whole number of at least 1, got {self.jobs!r}")


class PythonAnswer:
    """An item answered by a Python function, called in the submission's isolated worker."""

    def __init__(self, runner: SubmissionRunner, module: str, name: str, definition: Definition) -> None:
        self.runner, self.module, self.name = runner, module, name
        self.source = f"{module}.py"
        self.line = definition.line
        self.parameters = tuple(definition.parameters)

    def call_many(self, batch):
        # After one call has used up its time limit (or memory), the others would too: stop there.
        return self.runner.call_many(self.module, self.name, batch, give_up_after=1)


class _NotABool:
    """What a claim's answer was instead of a bool, shown as ``'yes' (a str)``."""

    def __init__(self, value: object, value_type: str | None = None, *, described: str | None = None) -> None:
        self.text = described or f"{value!r} (a {value_type or type(value).__name__})"

    def __repr__(self) -> str:
        return self.text


def definition_problem(definition: Definition, question: Question, module: str, name: str) -> Problem | None:
    """A Problem for a definition that cannot answer at all (missing file, import error, ...)."""
    source = f"{module}.py"
    if definition.status == "missing_module":
        return Problem(
            f"missing file {source}",
            f"The submission has no file {source}; question {question.id} expects {name} in it.",
            source,
        )
    if definition.status == "module_error":
        return Problem(
            f"{source} could not be loaded: {definition.message}",
            f"Loading {source} failed, so none of its answers can be checked: {definition.message}",
            source,
        )
    if definition.status == "missing_name":
        return Problem(
            f"{source} does not define {name}",
            f"{source} loads, but defines nothing named {name} (names are case-sensitive).",
            source,
        )
    return None


class Submission:
    """One submission's ways of answering: its worker (Python modules) and its answers.yaml."""

    def __init__(self, runner: SubmissionRunner, written: WrittenAnswers) -> None:
        self.runner = runner
        self.written = written
        self.notes: list[str] = []

    def written_entry(self, question: Question, name: str, definition: Definition):
        """The answers.yaml entry for an item the modules do not define, else None (noting a clash)."""
        test_name = f"{question.id} {name}"
        if definition.status not in ("missing_module", "missing_name"):
            if self.written.has(test_name):
                self.notes.append(
                    f"{ANSWERS_FILE}: the entry for {test_name} is ignored because "
                    f"{question.module}.py defines {name}"
                )
            return None
        if test_name in self.written.problems:
            return Problem(f"{ANSWERS_FILE}: the answer to {test_name} cannot be read",
                           self.written.problems[test_name], ANSWERS_FILE)
        if test_name in self.written.formulas:
            return self.written.formulas[test_name]
        if test_name in self.written.values:
            return _Written(self.written.values[test_name])
        if self.written.error is not None:
            return Problem(self.written.error, self.written.error, ANSWERS_FILE)
        return None

    def answer(self, question: Question, item: DerivativeItem):
        """The Answer (or Problem) for a derivative item."""
        definition = self.runner.inspect(question.module, item.name)
        written = self.written_entry(question, item.name, definition)
        if isinstance(written, _Written):
            return Problem(
                f"{ANSWERS_FILE}: the answer to {question.id} {item.name} is not a formula",
                f"In {ANSWERS_FILE}, a derivative is answered by a formula in quotes, such as "
                f"\"a1 * (1 - a1)\"; found {written.value!r}.",
                ANSWERS_FILE,
            )
        if written is not None:
            return written
        problem = definition_problem(definition, question, question.module, item.name)
        if problem is not None:
            return problem
        source = f"{question.module}.py"
        if definition.status != "function":
            return Problem(
                f"{item.name} is a value, not a function",
                f"{item.name} in {source} must be a function (def {item.name}(...):) whose "
                "parameters name the quantities it needs.",
                source, definition.line,
            )
        if definition.has_varargs:
            return Problem(
                f"{item.name} uses *args or **kwargs",
                f"{item.name} must name every quantity it needs as a parameter (e.g. "
                f"def {item.name}(x, w2, a1, yhat)); *args and **kwargs receive nothing.",
                source, definition.line,
            )
        return PythonAnswer(self.runner, question.module, item.name, definition)

    def claim(self, question: Question, item: ClaimItem) -> ClaimAnswer | Problem:
        """What the submission answered to a claim, or why it answered nothing."""
        definition = self.runner.inspect(question.module, item.name)
        written = self.written_entry(question, item.name, definition)
        if isinstance(written, _Written):
            value = written.value if isinstance(written.value, bool) else _NotABool(written.value)
            return ClaimAnswer(value, ANSWERS_FILE)
        if isinstance(written, Problem):
            return written
        if written is not None:  # a formula string where a bool was wanted
            return ClaimAnswer(_NotABool(written.formula.source), ANSWERS_FILE)
        problem = definition_problem(definition, question, question.module, item.name)
        if problem is not None:
            return problem
        source = f"{question.module}.py"
        if definition.status == "function":
            return ClaimAnswer(_NotABool(None, described="a function"), source, definition.line)
        if definition.value_type == "bool":
            return ClaimAnswer(definition.value, source, definition.line)
        return ClaimAnswer(_NotABool(definition.value, definition.value_type), source, definition.line)


@dataclass(frozen=True)
class _Written:
    """A non-formula value an answers.yaml entry gave (a bool for a claim, or a mistake)."""

    value: object


def check_item(checker: AssignmentChecker, submission: Submission, question: Question, item) -> ItemResult:
    """One item's verdict; a bug of the harness costs this item only, and is reported as such."""
    try:
        if isinstance(item, ClaimItem):
            return checker.check_claim(question, item, submission.claim(question, item))
        return checker.check_derivative(question, item, submission.answer(question, item))
    except (KeyboardInterrupt, SandboxUnavailable):
        raise
    except Exception as error:  # an internal error: keep grading, say so loudly
        print(f"harness: internal error while checking {question.id} {item.name}:", file=sys.stderr)
        traceback.print_exc()
        return ItemResult(
            question_id=question.id, name=item.name,
            kind="claim" if isinstance(item, ClaimItem) else "derivative",
            max_score=float(item.points), score=0.0, status="error",
            summary=f"internal error of the grader: {type(error).__name__}",
            diagnosis="The grader itself failed on this item; this is not your fault. Your "
            "instructor has been shown the details.",
            internal_error=True,
        )


def grade_question(checker: AssignmentChecker, submission: Submission, question: Question) -> QuestionResult:
    items = tuple(check_item(checker, submission, question, item) for item in question.items)
    return QuestionResult(question.id, question.title, question.prompt, items)


def run_settings(checker: AssignmentChecker, isolation: str, command: str) -> RunSettings:
    settings = checker.assignment.settings
    return RunSettings(
        seed=checker.seed,
        examples=checker.examples_override or settings.examples,
        rtol=settings.rtol,
        atol=settings.atol,
        reference_digits=settings.reference_digits,
        harness_version=__version__,
        hypothesis_version=hypothesis.__version__,
        numpy_version=np.__version__,
        mpmath_version=mpmath.__version__,
        python_version=platform.python_version(),
        isolation=isolation,
        command=command,
    )


def reproduce_command(assignment: Assignment, submission: Path, checker: AssignmentChecker) -> str:
    return (
        f"harness grade {display_path(Path(assignment.path))} {display_path(submission)} "
        f"--seed {checker.seed}"
        + (f" --examples {checker.examples_override}" if checker.examples_override else "")
    )


def display_path(path: Path) -> str:
    """A path relative to the working directory when it is below it, else just its name."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def grade_submission(
    checker: AssignmentChecker, submission: Path, options: GradeOptions = GradeOptions()
) -> SubmissionResult:
    """Grade one submission folder against one assignment."""
    started = time.perf_counter()
    limits = options.limits or Limits(
        call_timeout=checker.assignment.settings.call_timeout,
        submission_timeout=checker.assignment.settings.submission_timeout,
    )
    with SubmissionRunner(submission, limits, require_sandbox=options.require_sandbox) as runner:
        answering = Submission(runner, load_answers(submission))
        questions = tuple(grade_question(checker, answering, q) for q in checker.assignment.questions)
        isolation = runner.isolation
    return SubmissionResult(
        submission=submission.name,
        assignment=checker.assignment.title,
        spec_file=Path(checker.assignment.path).name,
        questions=questions,
        settings=run_settings(checker, isolation, reproduce_command(checker.assignment, submission, checker)),
        execution_time=round(time.perf_counter() - started, 3),
        notes=tuple(answering.notes),
    )


@dataclass
class RunOutcome:
    """What a grading run produced, per assignment."""

    results: dict[str, list[SubmissionResult]] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def internal_errors(self) -> int:
        """How many items the grader itself failed on (each already reported on stderr)."""
        return sum(
            item.internal_error for results in self.results.values() for r in results for item in r.items
        )


Progress = Callable[[str], None]


def output_folder(out: Path, assignment: Assignment, many: bool) -> Path:
    return out / Path(assignment.path).stem if many else out


def grade_all(
    assignments: Sequence[Assignment],
    submissions: Sequence[Path],
    out: Path,
    options: GradeOptions = GradeOptions(),
    progress: Progress | None = None,
) -> RunOutcome:
    """Grade every submission against every assignment, writing reports as each one finishes.

    With ``options.jobs`` above 1, that many processes grade (``harness.parallel``); submissions
    finish in any order, but every file written is the same whatever the number.
    """
    names = [submission.name for submission in submissions]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise UsageError(
            f"two submission folders are named {clashes[0]!r}: reports are named after the folder, "
            "so each submission needs a folder name of its own"
        )
    outcome = RunOutcome(results={assignment.path: [] for assignment in assignments})
    many = len(assignments) > 1
    tasks = [(number, submission) for number in range(len(assignments)) for submission in submissions]
    try:
        with run_cache(options.cache_dir, options.jobs) as cache:
            checkers = [
                CachedChecker(assignment, seed=options.seed, examples=options.examples, cache=cache)
                for assignment in assignments
            ]

            def grade(task: tuple[int, Path]) -> SubmissionResult:
                number, submission = task
                return grade_submission(checkers[number], submission, options)

            with contextlib.closing(graded(checkers, tasks, grade, options.jobs)) as results:
                for done, (index, result) in enumerate(results, start=1):
                    assignment = assignments[tasks[index][0]]
                    write_submission(output_folder(out, assignment, many), result, assignment.visibility)
                    outcome.results[assignment.path].append(result)
                    if progress is not None:
                        progress(
                            f"[{done}/{len(tasks)}] {Path(assignment.path).name} {result.submission}: "
                            f"{_points(result.score)}/{_points(result.max_score)}"
                        )
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        order = {submission.name: position for position, submission in enumerate(submissions)}
        for assignment in assignments:
            finished = outcome.results[assignment.path]
            finished.sort(key=lambda result: order[result.submission])
            if finished:
                write_class(output_folder(out, assignment, many), finished)
    return outcome


def _points(value: float) -> str:
    return f"{value:g}"
