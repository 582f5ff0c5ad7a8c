"""Written answers: items answered by a formula in ``answers.yaml``, never by running code.

A submission may give an item as a formula string in the safe formula language (or a claim as a
bool), keyed by the item's test name::

    "2.4 dyhat_dw1": "a1*(1-a1)*w2*x*yhat*(1-yhat)"   # Python-like syntax, the same library
    "2.3 dyhat_dx_changes_with_b2": true

The formula is parsed and evaluated by ``harness.formula`` in float64, inside the grading process,
with no code execution at all; it is graded exactly like a Python function computing the same
formula (its parameters are the names it uses). A Python module that defines the same item wins,
and the report says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness._yaml import load
from harness.backends import FLOAT64
from harness.errors import FormulaError, SpecError
from harness.formula import Formula, evaluate, parse

ANSWERS_FILE = "answers.yaml"
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class WrittenOutcome:
    """The same fields as the runner's Outcome, for an answer computed in-process."""

    status: str
    value: np.ndarray | None = None
    message: str = ""
    output: str = ""


class FormulaAnswer:
    """An item answered by a written formula, evaluated in float64 by the safe evaluator."""

    def __init__(self, formula: Formula, line: int | None) -> None:
        self.formula = formula
        self.source = ANSWERS_FILE
        self.line = line
        self.parameters = tuple(sorted(formula.names | formula.sizes))  # eye(N) asks for N too

    def call_many(self, batch: Sequence[Mapping[str, np.ndarray]]) -> list[WrittenOutcome]:
        return [self._call(arguments) for arguments in batch]

    def _call(self, arguments: Mapping[str, np.ndarray]) -> WrittenOutcome:
        try:
            with np.errstate(all="ignore"):
                value = evaluate(self.formula, arguments, FLOAT64)
        except FormulaError as error:
            return WrittenOutcome("exception", message=f"the formula cannot be evaluated: {error.message}")
        return WrittenOutcome("ok", value=np.array(value, dtype=np.float64))


@dataclass(frozen=True)
class WrittenAnswers:
    """The parsed ``answers.yaml`` of one submission: formulas, bools, and per-entry problems."""

    formulas: Mapping[str, FormulaAnswer]
    values: Mapping[str, object]
    problems: Mapping[str, str]
    """Entries that could not be read, by test name: the message for the student."""
    error: str | None = None
    """Why the whole file could not be read, if it could not."""

    def has(self, test_name: str) -> bool:
        return test_name in self.formulas or test_name in self.values or test_name in self.problems


NO_ANSWERS = WrittenAnswers({}, {}, {})


def load_answers(submission: Path) -> WrittenAnswers:
    """Read ``answers.yaml`` of a submission folder (absent: no written answers)."""
    path = submission / ANSWERS_FILE
    if not path.is_file():
        return NO_ANSWERS
    if path.is_symlink() or path.stat().st_size > MAX_BYTES:
        return WrittenAnswers({}, {}, {}, f"{ANSWERS_FILE} must be a regular file under 1 MiB")
    try:
        document = load(path.read_text(encoding="utf-8"), ANSWERS_FILE)
    except (SpecError, UnicodeDecodeError) as error:
        return WrittenAnswers({}, {}, {}, f"{ANSWERS_FILE} cannot be read: {error}")
    if not isinstance(document.data, dict):
        return WrittenAnswers({}, {}, {}, f"{ANSWERS_FILE} must map item names to formulas")
    formulas: dict[str, FormulaAnswer] = {}
    values: dict[str, object] = {}
    problems: dict[str, str] = {}
    for name, entry in document.data.items():
        line = document.line((name,))
        if isinstance(entry, str):
            try:
                formulas[name] = FormulaAnswer(parse(entry), line)
            except FormulaError as error:
                problems[name] = f"{ANSWERS_FILE}, line {line}: {error}"
        else:
            values[name] = entry
    return WrittenAnswers(formulas, values, problems)
