"""The harness's exception family.

Every error a user can cause is a ``HarnessError``; each class also subclasses the builtin
exception a Python user would expect (``ValueError`` for bad values), as Hypothesis does with
``InvalidArgument(TypeError)``. Messages always show the bad value with ``!r``, what was expected,
and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence


class HarnessError(Exception):
    """Base class of every error the harness reports to a user (never a bare traceback).

    Every class of the family survives a trip between processes (``pickle``, as the grading
    pool's pipes use) with its class and message intact.
    """

    def __reduce__(self):
        # Keyword-only constructors (SpecError, FormulaError) would not unpickle by default.
        state = dict(self.__dict__)
        return (_rebuild, (type(self), str(self), state))


class FormulaError(HarnessError, ValueError):
    """A formula is not in the safe formula language, or cannot be evaluated.

    ``column`` is the 0-based offset into ``source`` where the problem starts (``None`` when the
    problem is the formula as a whole).
    """

    def __init__(self, message: str, *, source: str = "", column: int | None = None) -> None:
        self.message = message
        self.source = source
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        if self.column is None or not self.source or "\n" in self.source:
            return self.message
        caret = " " * self.column + "^"
        return f"{self.message} (column {self.column + 1})\n    {self.source}\n    {caret}"


def format_key_path(key_path: Sequence[str | int]) -> str:
    """Render a key path like ``questions / 0 / items / 1 / wrt`` as ``questions[0].items[1].wrt``."""
    text = ""
    for key in key_path:
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            text += f".{key}" if text else str(key)
    return text


class SpecError(HarnessError, ValueError):
    """A spec file is malformed: the message names the file, line, key path, problem and fix."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key_path: Sequence[str | int] = (),
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.line = line
        self.key_path = tuple(key_path)
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: "
        if self.key_path:
            text += f"at {format_key_path(self.key_path)}: "
        text += self.problem
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UsageError(HarnessError, ValueError):
    """The command line or configuration asks for something impossible (exit code 1)."""


class SandboxUnavailable(HarnessError, RuntimeError):
    """A sandbox layer was required (``--require-sandbox``) but cannot run on this machine."""


class InternalError(HarnessError, RuntimeError):
    """A fault of the harness itself, not of the user or the submission (exit code 3).

    Raised when a reference cannot be computed (does not converge, does not settle), when the
    float-leak guard or the reference self-test fails, or when a submission's worker cannot be
    started. It costs the item being checked, never the run: the item is reported as an
    internal error with this message.
    """


def _rebuild(cls: type, message: str, state: dict) -> HarnessError:
    error = Exception.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error
