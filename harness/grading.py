"""Grade submissions against assignments: the one core every entry point calls.

``grade`` grades one submission, ``grade_all`` a class (writing reports as each submission
finishes, atomically, so an interrupted run keeps every one it finished), and ``Grader`` grades
one submission item by item (the pytest plugin runs one test per item). All three check through
the same ``Checker`` and remember references, inputs, claims and shrink paths in the same store:
the on-disk reference cache when ``GradeOptions.cache_dir`` names one, else memory.

Each submission gets one fresh isolated worker (``harness.runner``) that answers every item; a
fault of the harness while checking an item (an ``InternalError``, or any bug) costs that item
only, and is reported as such.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mpmath
import numpy as np

from harness._version import __version__
from harness.example import hypothesis_version
from harness.answering import Submission
from harness.answers import ANSWERS_FILE, load_answers
from harness.check import Checker
from harness.discovery import not_gradable, pairs
from harness.errors import InternalError, SandboxUnavailable, UsageError
from harness.lock import lock_path, read_lock, save_lock
from harness.outputs import write_class, write_submission
from harness.parallel import GradingPool, graded, warm
from harness.results import ItemResult, QuestionResult, RunSettings, StepResult, SubmissionResult
from harness.runner import Limits, SubmissionRunner, discard_spares
from harness.sandbox import ISOLATION_CHOICES, check_private
from harness.sandbox import choose as choose_sandbox
from harness.spec import Assignment, ClaimItem, DerivativeItem, Item, Question
from harness.store import Store, open_cache, run_store
from harness.writeup import WriteupAnswers
from harness.writeup.steps import check_steps


@dataclass(frozen=True)
class GradeOptions:
    """How to grade: overrides of the spec's settings, the worker's limits, parallelism and caching."""

    seed: int | None = None
    examples: int | None = None
    limits: Limits | None = None
    require_sandbox: bool = False
    """Refuse to grade unless submissions run in their own namespaces (bubblewrap or the harness's own)."""
    isolation: str = "auto"
    """``auto`` (the strongest mode that works here) or one of ``bubblewrap``, ``namespaces``, ``uid``,
    ``none`` (see ``harness.sandbox``); a named mode that cannot run is an error, never a fallback."""
    trusted_code: bool = False
    """The submissions are the user's own: grade them even where they cannot be isolated (said in
    every report). Without it the harness refuses to run code it cannot isolate."""
    jobs: int = 1
    """Grading processes (see ``harness.parallel``); the reports are the same whatever the number."""
    cache_dir: Path | None = None
    """The persistent reference cache's folder (see ``harness.cache``); ``None``: memory only."""
    exclude: tuple[Path, ...] = ()
    """Folders never copied from a submission; ``grade_all`` adds its report folder (``out``)."""

    def __post_init__(self) -> None:
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise UsageError(f"jobs must be a whole number of at least 1, got {self.jobs!r}")
        if self.isolation not in ISOLATION_CHOICES:
            raise UsageError(
                f"isolation must be one of {', '.join(ISOLATION_CHOICES)}, got {self.isolation!r}"
            )


def checker_for(assignment: Assignment, options: GradeOptions, store: Store | None = None) -> Checker:
    """The checker grading ``assignment`` with ``options``' seed and examples, remembering in ``store``."""
    if store is None and options.cache_dir is not None:
        store = open_cache(options.cache_dir)
    seed = assignment.settings.seed if options.seed is None else options.seed
    lock = read_lock(assignment, seed, options.examples)
    return Checker(assignment, seed=seed, examples=options.examples, store=store, lock=lock)


class Grader:
    """Grades one submission against one assignment, item by item, in one isolated worker.

    >>> with Grader(assignment, Path("submissions/alice"), options) as grader:
    ...     verdict = grader.check(question, item)
    ...     result = grader.result()

    ``checker`` shares one class-wide checker between graders (``grade_all`` does); by default
    each grader builds its own from ``options``.
    """

    def __init__(
        self, assignment: Assignment, submission: Path, options: GradeOptions = GradeOptions(),
        *, checker: Checker | None = None,
    ) -> None:
        self.assignment = assignment
        self.submission = Path(submission)
        self.checker = checker if checker is not None else checker_for(assignment, options)
        self._started = time.perf_counter()
        limits = options.limits or Limits(
            call_timeout=assignment.settings.call_timeout,
            submission_timeout=assignment.settings.submission_timeout,
        )
        first = [f"{question.module}.py" for question in assignment.questions] + [ANSWERS_FILE]
        sandbox = choose_sandbox(options.isolation)
        check_private(sandbox, [assignment.path, lock_path(assignment), options.cache_dir, *options.exclude])
        self._runner = SubmissionRunner(self.submission, limits, require_sandbox=options.require_sandbox,
                                        trusted=options.trusted_code, sandbox=sandbox,
                                        first=first, exclude=options.exclude)
        self._answering = Submission(self._runner, load_answers(self.submission),
                                     WriteupAnswers.load(self.submission, assignment))
        self._steps: tuple[StepResult, ...] | None = None
        self._checked: dict[tuple[str, str], ItemResult] = {}

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the submission's worker and remove its temporary copy."""
        self._runner.close()

    def prepare_next(self) -> None:
        """Start the worker of the next submission this process grades alike (``SubmissionRunner.prepare_next``)."""
        self._runner.prepare_next()

    @property
    def isolation(self) -> str:
        return self._runner.isolation

    def check(self, question: Question, item: Item) -> ItemResult:
        """The verdict on one item (checked once; asking again gives the same result)."""
        key = (question.id, item.name)
        if key not in self._checked:
            result = _check_item(self.checker, self._answering, question, item)
            quoted = self._answering.writeup.quote(question.id, item.name) if self._answering.writeup else None
            self._checked[key] = dataclasses.replace(result, quoted=quoted) if quoted else result
        return self._checked[key]

    def steps(self) -> tuple[StepResult, ...]:
        """Every step of the submission's write-ups, checked once (``harness.writeup.steps``)."""
        if self._steps is None:
            writeup = self._answering.writeup
            self._steps = _check_steps(self.checker, writeup.writeup if writeup else None)
        return self._steps

    def result(self) -> SubmissionResult:
        """Every item checked so far, as the submission's result (in the spec's order)."""
        questions = []
        for question in self.assignment.questions:
            keys = [(question.id, item.name) for item in question.items]
            items = tuple(self._checked[key] for key in keys if key in self._checked)
            if items:
                questions.append(QuestionResult(question.id, question.title, question.prompt, items))
        command = _reproduce_command(self.assignment, self.submission, self.checker)
        return SubmissionResult(
            submission=self.submission.name,
            assignment=self.assignment.title,
            spec_file=Path(self.assignment.path).name,
            questions=tuple(questions),
            settings=_run_settings(self.checker, self.isolation, command),
            execution_time=round(time.perf_counter() - self._started, 3),
            notes=tuple(note for note in (self._runner.copy_note, *self._answering.notes) if note),
            not_gradable=not_gradable(self.submission, sorted({f"{q.module}.py" for q in self.assignment.questions})),
            steps=self.steps(),
        )


def grade(assignment: Assignment, submission: Path, options: GradeOptions = GradeOptions()) -> SubmissionResult:
    """Grade one submission folder against one assignment: every item of every question."""
    with run_store(options.cache_dir, 1) as store:
        return _grade(checker_for(assignment, options, store), submission, options)


def _grade(checker: Checker, submission: Path, options: GradeOptions, *, more: bool = False) -> SubmissionResult:
    """Grade one submission; with ``more`` (others follow in this process), the next one's worker is
    started ahead, once this one's is up, so its namespaces are built while this one is graded."""
    with Grader(checker.assignment, submission, options, checker=checker) as grader:
        for number, question in enumerate(checker.assignment.questions):
            for item in question.items:
                grader.check(question, item)
            if more and number == 0:
                grader.prepare_next()
        return grader.result()


def _check_item(checker: Checker, submission: Submission, question: Question, item: Item) -> ItemResult:
    """One item's verdict; a fault of the harness costs this item only, and is reported as such."""
    try:
        if isinstance(item, ClaimItem):
            result = checker.check_claim(question, item, submission.claim(question, item))
        else:
            result = checker.check_derivative(question, item, submission.answer(question, item))
        if result.internal_error:  # the checker's own verdict on a fault of the harness (a reference)
            print(f"harness: internal error while checking {question.id} {item.name}:", file=sys.stderr)
            print(f"  {result.summary}. {result.diagnosis}", file=sys.stderr)
        return result
    except (KeyboardInterrupt, SandboxUnavailable):
        raise
    except Exception as error:  # an internal error: keep grading, say so loudly
        print(f"harness: internal error while checking {question.id} {item.name}:", file=sys.stderr)
        if isinstance(error, InternalError):
            print(f"  {error}", file=sys.stderr)
            detail = f" What failed: {error}"
        else:  # a bug: its traceback is what the maintainers need
            traceback.print_exc()
            detail = ""
        return ItemResult(
            question_id=question.id, name=item.name,
            kind="claim" if isinstance(item, ClaimItem) else "derivative",
            max_score=float(item.points), score=0.0, status="error",
            summary=f"internal error of the grader: {type(error).__name__}",
            diagnosis="The grader itself failed on this item; this is not your fault. Your "
            f"instructor has been shown the details.{detail}",
            internal_error=True, mistake="internal error",
        )


def _check_steps(checker: Checker, writeup) -> tuple[StepResult, ...]:
    """The write-up's steps; a fault of the harness here costs the steps only, never a grade."""
    try:
        return check_steps(checker, writeup)
    except (KeyboardInterrupt, SandboxUnavailable):
        raise
    except Exception:
        print("harness: internal error while checking the write-up's steps:", file=sys.stderr)
        traceback.print_exc()
        return ()


def _run_settings(checker: Checker, isolation: str, command: str) -> RunSettings:
    settings = checker.assignment.settings
    return RunSettings(
        seed=checker.seed,
        examples=checker.examples_override or settings.examples,
        rtol=settings.rtol,
        atol=settings.atol,
        reference_digits=settings.reference_digits,
        harness_version=__version__,
        hypothesis_version="not used" if checker.lock else hypothesis_version(),
        numpy_version=np.__version__,
        mpmath_version=mpmath.__version__,
        python_version=platform.python_version(),
        isolation=isolation,
        command=command,
        **({"inputs": checker.lock.description} if checker.lock else {}),
    )


def _reproduce_command(assignment: Assignment, submission: Path, checker: Checker) -> str:
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


@dataclass
class RunOutcome:
    """What a grading run produced, per assignment."""

    results: dict[str, list[SubmissionResult]] = field(default_factory=dict)
    interrupted: bool = False
    skipped: dict[str, list[str]] = field(default_factory=dict)
    """By assignment path: the submissions not graded against it, since they answer another one
    of the run (``harness.discovery.pairs``)."""

    @property
    def internal_errors(self) -> int:
        """How many items the grader itself failed on (each already reported on stderr)."""
        return sum(
            item.internal_error for results in self.results.values() for r in results for item in r.items
        )


Progress = Callable[[int, int, str], None]
"""Called as each submission finishes: how many are done, of how many, and ``spec.yaml name: 9/10``."""


def output_folder(out: Path, assignment: Assignment, many: bool) -> Path:
    """Where one assignment's reports go: ``out``, or ``out/<spec stem>`` when a run has several."""
    return out / Path(assignment.path).stem if many else out


def grade_all(
    assignments: Sequence[Assignment],
    submissions: Sequence[Path],
    out: Path,
    options: GradeOptions = GradeOptions(),
    progress: Progress | None = None,
) -> RunOutcome:
    """Grade every submission against every assignment, writing reports as each one finishes.

    With several assignments, a submission is graded only against those it answers most
    questions of (``harness.discovery.pairs``; the others are listed in ``RunOutcome.skipped``).

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
    options = dataclasses.replace(options, exclude=(*options.exclude, Path(out)))
    many = len(assignments) > 1
    tasks, skipped = pairs(assignments, submissions)
    for number, submission in skipped:
        outcome.skipped.setdefault(assignments[number].path, []).append(submission.name)
    try:
        with run_store(options.cache_dir, _processes(options.jobs)) as store:
            checkers = [checker_for(assignment, options, store) for assignment in assignments]

            def grade_task(task: tuple[int, Path]) -> SubmissionResult:
                number, submission = task
                return _grade(checkers[number], submission, options, more=len(tasks) > 1)

            with contextlib.closing(graded(checkers, tasks, grade_task, options.jobs)) as results:
                for done, (index, result) in enumerate(results, start=1):
                    assignment = assignments[tasks[index][0]]
                    write_submission(output_folder(out, assignment, many), result, assignment.visibility)
                    outcome.results[assignment.path].append(result)
                    if progress is not None:
                        progress(done, len(tasks), f"{Path(assignment.path).name} {result.submission}: "
                                 f"{result.score:g}/{result.max_score:g}")
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        discard_spares()  # the worker started ahead for a submission that did not come
        order = {submission.name: position for position, submission in enumerate(submissions)}
        for assignment in assignments:
            finished = outcome.results[assignment.path]
            finished.sort(key=lambda result: order[result.submission])
            if finished:
                write_class(output_folder(out, assignment, many), finished)
    return outcome


def warm_cache(assignments: Sequence[Assignment], options: GradeOptions) -> None:
    """Fill the store ``options`` name (its ``cache_dir``) with what grading these needs first."""
    with run_store(options.cache_dir, _processes(options.jobs)) as store:
        warm([checker_for(assignment, options, store) for assignment in assignments], options.jobs)


@dataclass(frozen=True)
class SurveyCall:
    """One call of the survey: what a function answering ``item`` receives at one drawn input."""

    question: Question
    item: DerivativeItem
    activation: str | None
    arguments: dict[str, np.ndarray]
    """Every quantity the question offers for the item, by name (a function asks for some of them)."""


def survey(assignment: Assignment, options: GradeOptions = GradeOptions()) -> list[SurveyCall]:
    """Every call the survey makes for ``assignment``, in grading order, with the same inputs."""
    calls = []
    with run_store(options.cache_dir, 1) as store:
        checker = checker_for(assignment, options, store)
        for question in assignment.questions:
            for item in question.items:
                if not isinstance(item, DerivativeItem):
                    continue
                for activation in question.activations or (None,):
                    for example in checker.draw(question, activation, checker.example_count(item)):
                        arguments = checker.arguments(item, example, activation, question.offered(item))
                        calls.append(SurveyCall(question, item, activation, arguments))
    return calls


def write_lock(assignment: Assignment, *, seed: int | None = None, examples: int | None = None) -> Path:
    """Draw ``assignment``'s inputs and claims' evidence now and write its lock beside the spec."""
    seed = assignment.settings.seed if seed is None else seed
    return save_lock(Checker(assignment, seed=seed, examples=examples))


def _processes(jobs: int) -> int:
    return jobs if GradingPool.available() else 1
