"""Grading results as plain, frozen data.

Everything a report shows lives here, already computed: rendering (``harness.report``) is a pure
function of these objects and never imports Hypothesis, the runner or the reference. Arrays are
stored as nested tuples of floats (or a float for a scalar) so results are hashable, comparable
and JSON-friendly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np

# A numeric value as a report shows it: a float, or nested tuples of floats for an array.
Value = Union[float, tuple]

Status = Literal["passed", "failed", "error"]


def as_value(array: np.ndarray | float | None) -> Value | None:
    """A float64 array as report data: a float, or nested tuples of floats."""
    if array is None:
        return None
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0:
        return float(array)
    return tuple(as_value(row) for row in array)


@dataclass(frozen=True)
class Counterexample:
    """The minimal failing example Hypothesis shrank to, shown whole in the report."""

    inputs: tuple[tuple[str, Value], ...]
    """The model's variables at the failing point, in spec order: ``(("x", 0.5), ("w1", ...))``."""
    dimensions: tuple[tuple[str, int], ...] = ()
    """Sizes of the symbolic dimensions at this point: ``(("H", 2), ("D", 1))``; empty for scalars."""
    activation: str | None = None
    """The family member the activation placeholder stood for (``"softplus"``), if any."""
    arguments: tuple[tuple[str, Value], ...] = ()
    """What the student's function received, by parameter name."""
    expected: Value | None = None
    """The true value (reference, rounded to float64)."""
    received: Value | None = None
    """What the function returned (as float64), when it returned a number."""
    expected_shape: tuple[int, ...] | None = None
    received_shape: tuple[int, ...] | None = None
    error: str | None = None
    """The exception or problem at this point, when there was one (``"ZeroDivisionError: ..."``)."""
    max_abs_error: float | None = None
    tolerance: float | None = None
    """The largest allowed absolute difference at the worst entry (so readers see the margin)."""


@dataclass(frozen=True)
class ClaimEvidence:
    """The numerical evidence for a yes/no claim: two inputs differing only in one variable."""

    statement: str
    truth: bool
    """What the harness established numerically."""
    changed_variable: str
    first_inputs: tuple[tuple[str, Value], ...]
    second_inputs: tuple[tuple[str, Value], ...]
    first_value: Value
    second_value: Value
    activation: str | None = None
    examples: int = 0
    """How many input pairs were compared."""


@dataclass(frozen=True)
class ItemResult:
    """The verdict on one item (a function or a constant) of one question."""

    question_id: str
    name: str
    kind: Literal["derivative", "claim"]
    max_score: float
    score: float
    status: Status
    summary: str
    """One line a student understands: ``"correct on 100 examples"``, ``"sign error"``, ..."""
    diagnosis: str | None = None
    """A paragraph explaining what is wrong and how to think about it, when something is."""
    counterexample: Counterexample | None = None
    evidence: ClaimEvidence | None = None
    answered: Value | bool | None = None
    """For a claim: what the submission answered."""
    examples: int = 0
    """How many examples the item was checked on."""
    source: str | None = None
    """Where the answer came from: ``"q2_4.py"`` or ``"answers.yaml"``."""
    line: int | None = None
    """Line of the function's definition in ``source``, when known (for CI annotations)."""
    output: str = ""
    """Captured stdout/stderr of the submission for this item, escaped and truncated."""
    internal_error: bool = False
    """The grader itself failed on this item (a bug to report), not the submission."""
    quoted: str | None = None
    """For an answer read from a write-up: what it says, as written (``"\\hat{y}(1 - \\hat{y})"``);
    ``source`` and ``line`` say where."""
    mistake: str | None = None
    """The kind of mistake, the same for every submission that makes it, for class statistics:
    a failed derivative's diagnosis (``"sign error"``, ``"transposed"``, ...), ``"wrong claim"``,
    ``"not a bool"``, ``"not checked"`` (a missing file, a module that does not load, ...) or
    ``"internal error"``; ``None`` for a passed item."""

    @property
    def test_name(self) -> str:
        """The name reports and Gradescope use: ``"2.4 dyhat_dw1"``."""
        return f"{self.question_id} {self.name}"


@dataclass(frozen=True)
class StepResult:
    """One step ``A = B`` of a write-up, checked numerically at its question's inputs."""

    question_id: str
    file: str
    line: int
    latex: str
    """The step as written: ``"\\frac{\\partial \\hat{y}}{\\partial b_2} = 1"``."""
    holds: bool | None
    """True, False, or None when it could not be checked (``reason`` says why)."""
    label: str | None = None
    """The equation's label in the write-up (``"2.1.2"``), if it has one."""
    reason: str | None = None
    """Why a step is unchecked, or the diagnosis of a false step when one fits."""
    examples: int = 0
    failed: int = 0
    """On how many of the ``examples`` inputs a false step fails."""
    inputs: tuple[tuple[str, Value], ...] = ()
    """The first input where a false step fails."""
    activation: str | None = None
    left_value: Value | None = None
    right_value: Value | None = None


@dataclass(frozen=True)
class QuestionResult:
    """All item verdicts of one question, with the question's text for the report."""

    id: str
    title: str
    prompt: str
    items: tuple[ItemResult, ...]

    @property
    def score(self) -> float:
        return sum(item.score for item in self.items)

    @property
    def max_score(self) -> float:
        return sum(item.max_score for item in self.items)


@dataclass(frozen=True)
class RunSettings:
    """Everything needed to reproduce a grading run; every report prints it."""

    seed: int
    examples: int
    rtol: float
    atol: float
    reference_digits: int
    harness_version: str
    hypothesis_version: str
    numpy_version: str
    mpmath_version: str
    python_version: str
    isolation: str
    """Which isolation layers were active (``"process+rlimits"``, ``"bubblewrap"``, ...)."""
    command: str
    """A command line that reproduces this result."""
    inputs: str = "drawn from the seed by Hypothesis (no lock)"
    """Where the inputs came from: drawn (this default), or ``"locked by q2.lock.json (sha256 ...)"``."""

    @property
    def locked(self) -> bool:
        """Whether a lock fixed the inputs (``harness.lock``), rather than Hypothesis drawing them."""
        return self.inputs != RunSettings.inputs


@dataclass(frozen=True)
class SubmissionResult:
    """One submission graded against one assignment (spec file)."""

    submission: str
    """The submission's folder name: the only identifier reports use."""
    assignment: str
    spec_file: str
    questions: tuple[QuestionResult, ...]
    settings: RunSettings
    execution_time: float = 0.0
    """Wall seconds; the only field allowed to differ between two identical runs."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Submission-wide remarks (``"answers.yaml ignored for 2.4 dyhat_dw1: q2_4.py defines it"``)."""
    not_gradable: str | None = None
    """Why nothing of the submission could be graded (an empty upload, none of the files the spec
    names), as PrairieLearn's ``gradable: false``; ``None`` for a submission that was graded."""
    steps: tuple[StepResult, ...] = ()
    """Every step of the submission's write-ups, checked (``harness.writeup``); empty without one."""

    @property
    def status(self) -> str:
        """``"graded"``, or ``"not gradable: <why>"``."""
        return "graded" if self.not_gradable is None else f"not gradable: {self.not_gradable}"

    @property
    def score(self) -> float:
        return sum(question.score for question in self.questions)

    @property
    def max_score(self) -> float:
        return sum(question.max_score for question in self.questions)

    @property
    def items(self) -> tuple[ItemResult, ...]:
        return tuple(item for question in self.questions for item in question.items)
