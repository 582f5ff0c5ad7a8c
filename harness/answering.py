"""How a submission answers each item: a function in its sandboxed worker, its answers.yaml, or its write-up.

``Submission`` looks an item up in the submission's modules (through the runner, which only
inspects them inside the worker), in its ``answers.yaml`` and in its write-ups (``*.md``,
``*.tex``: ``harness.writeup``), and gives the checker an ``Answer`` to call, or a ``Problem``
saying why the item cannot be checked at all (missing file, a value where a function was
expected, ``*args``, an unreadable equation, ...). A module wins over ``answers.yaml``, and both
over a write-up, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.answers import ANSWERS_FILE, WrittenAnswers
from harness.check import ClaimAnswer, Problem
from harness.runner import Definition, SubmissionRunner
from harness.spec import ClaimItem, DerivativeItem, Question
from harness.writeup import WriteupAnswers


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

    def __init__(self, runner: SubmissionRunner, written: WrittenAnswers, writeup: WriteupAnswers | None = None) -> None:
        self.runner = runner
        self.written = written
        self.writeup = writeup
        self.notes: list[str] = list(writeup.notes) if writeup else []

    def from_writeup(self, question: Question, name: str, definition: Definition) -> bool:
        """Whether the write-up answers this item: neither a module nor answers.yaml does, and it has the question."""
        if self.writeup is None or not self.writeup.answers(question.id):
            return False
        in_yaml = self.written.has(f"{question.id} {name}")
        if definition.status in ("missing_module", "missing_name") and not in_yaml:
            return True
        source = ANSWERS_FILE if in_yaml else f"{question.module}.py"
        self.notes.append(f"the write-up's answer to {question.id} {name} is ignored because {source} gives it")
        return False

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
        if self.from_writeup(question, item.name, definition):
            return self.writeup.answer(question, item)
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
        if self.from_writeup(question, item.name, definition):
            return self.writeup.claim(question, item)
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
