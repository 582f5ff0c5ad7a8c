"""pytest plugin: every item of a spec becomes a test of the student's own repository.

Registered for every pytest run through the ``pytest11`` entry point, it stays inert and imports
nothing but ``harness.config`` (standard library only) unless a harness configuration
(``[tool.harness]`` in pyproject.toml, or harness.toml) or a ``--harness-spec`` /
``--harness-submission`` option enables it. Disable it in a project with ``-p no:harness``.

Collection uses pytest's own file hook, as pytest's non-Python example does: a configured spec
file becomes a ``SpecFile``, each question a collector named by its id, each item a test named
after its function or claim. The node id reads ``specs/q2.yaml::2.4::dyhat_dw1``, so ``-k 2.4``,
``--lf``, ``--deselect`` and pytest-xdist work as they do for Python tests; items injected from a
session-wide hook would escape them (pytest-mypy stopped injecting its status item in
``pytest_collection_modifyitems`` for that reason). The price: pytest must walk past the spec
file, which it does by default; a note after collection says when it did not.

The first item of a spec to run grades the submission once, through the same runner and checker
as ``harness grade``, for exactly the items selected in this session (inputs are seeded per
question, so a subset gets the verdicts the full run gives). Each item then reports its own
``ItemResult``: a pass, a failure showing the report's diagnosis and minimal counterexample, or
an error (the answer could not be checked: a missing file, a module that does not load).
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.results import ItemResult, SubmissionResult
    from harness.spec import Assignment, Item, Question


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "derivative homework grading (harness)")
    group.addoption("--harness-spec", action="append", default=[], metavar="SPEC", type=Path,
                    help="grade against this spec file (repeatable); enables the plugin")
    group.addoption("--harness-submission", metavar="FOLDER", type=Path,
                    help="the submission folder to grade (default: [tool.harness] submission, "
                    "else the folder of the configuration, else the rootdir); enables the plugin")
    group.addoption("--harness-seed", metavar="N", type=_at_least(0), help="override the specs' seed")
    group.addoption("--harness-examples", metavar="N", type=_at_least(1),
                    help="override the examples per item")


def _at_least(minimum: int):
    def whole_number(text: str) -> int:
        if not text.strip().isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return int(text)

    return whole_number


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "harness: a graded item of a harness spec")
    state = _enable(config)
    if state is not None:
        config.stash[_STATE] = state


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = config.stash.get(_STATE, None)
    return None if state is None else state.header(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    state = parent.config.stash.get(_STATE, None)
    if state is None or file_path.suffix not in (".yaml", ".yml") or file_path.resolve() not in state.specs:
        return None
    state.collected.add(file_path.resolve())
    return SpecFile.from_parent(parent, path=file_path)


def pytest_report_collectionfinish(config: pytest.Config) -> list[str] | None:
    state = config.stash.get(_STATE, None)
    if state is None or config.args_source == pytest.Config.ArgsSource.ARGS:
        return None  # paths on the command line: leaving a spec out was the user's choice
    return [
        f"harness: {_shown(spec, config)} was not collected: it is outside the paths pytest "
        f"searched ({', '.join(config.args)}); run pytest {_shown(spec, config)}, or add its "
        "folder to testpaths"
        for spec in state.specs if spec not in state.collected
    ] or None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    scores = [] if state is None else [
        f"{_shown(spec, config)}: {graded.score:g} / {graded.max_score:g} points on the "
        f"{len(graded.items)} item(s) run"
        for spec, graded in state.graded.items() if not isinstance(graded, BaseException)
    ]
    if scores:
        terminalreporter.section("harness score")
        for line in scores:
            terminalreporter.write_line(line)


# ---------------------------------------------------------------------------------------------
# The enabled plugin's state: what to grade, and each spec's result once graded


@dataclass
class _State:
    specs: tuple[Path, ...]
    submission: Path
    seed: int | None
    examples: int | None
    require_sandbox: bool
    source: str
    """Where the settings came from, for the header (``"pyproject.toml"``, ``"options"``)."""
    collected: set[Path] = field(default_factory=set)
    graded: dict[Path, SubmissionResult | BaseException] = field(default_factory=dict)

    def header(self, config: pytest.Config) -> list[str]:
        """How to reproduce the run: what is graded, the seed and examples, the isolation."""
        from harness.errors import HarnessError
        from harness.sandbox import detect
        from harness.spec import load_spec

        lines = [f"harness: grading {_shown(self.submission, config)} (settings from {self.source})"]
        for spec in self.specs:
            try:
                settings = load_spec(spec).settings
            except HarnessError:
                lines.append(f"harness: {_shown(spec, config)}: cannot be loaded (see the collection error)")
                continue
            seed = settings.seed if self.seed is None else self.seed
            examples = settings.examples if self.examples is None else self.examples
            lines.append(f"harness: {_shown(spec, config)}: seed {seed}, {examples} examples per item; reproduce "
                         f"with --harness-seed={seed} --harness-examples={examples}")
        lines.append(f"harness: isolation: {detect().describe()}")
        return lines

    def result(self, node: HarnessItem) -> ItemResult:
        """The verdict on ``node``, grading its spec for every selected item on first use."""
        if node.spec not in self.graded:
            wanted = {(other.question.id, other.item.name) for other in node.session.items
                      if isinstance(other, HarnessItem) and other.spec == node.spec}
            try:
                self.graded[node.spec] = self._grade(_only(node.assignment, wanted))
            except Exception as error:  # every item of the spec reports it; none grades again
                self.graded[node.spec] = error
        graded = self.graded[node.spec]
        if isinstance(graded, BaseException):
            raise graded
        return next(result for result in graded.items
                    if (result.question_id, result.name) == (node.question.id, node.item.name))

    def _grade(self, assignment: Assignment) -> SubmissionResult:
        from harness.check import AssignmentChecker
        from harness.grade import GradeOptions, grade_submission

        checker = AssignmentChecker(assignment, seed=self.seed, examples=self.examples)
        options = GradeOptions(seed=self.seed, examples=self.examples, require_sandbox=self.require_sandbox)
        return grade_submission(checker, self.submission, options)


_STATE = pytest.StashKey[_State]()


def _only(assignment: Assignment, wanted: set[tuple[str, str]]) -> Assignment:
    """``assignment`` reduced to the (question id, item name) pairs in ``wanted``."""
    questions = []
    for question in assignment.questions:
        items = tuple(item for item in question.items if (question.id, item.name) in wanted)
        if items:
            questions.append(replace(question, items=items))
    return replace(assignment, questions=tuple(questions))


def _enable(config: pytest.Config) -> _State | None:
    """The plugin's state when configuration or options enable it, else None (it stays inert)."""
    from harness.config import find_config
    from harness.errors import HarnessError

    option = config.option
    try:
        settings = find_config(config.rootpath)
    except HarnessError as error:
        raise pytest.UsageError(f"harness: {error}") from None
    if settings.file is None and not option.harness_spec and option.harness_submission is None:
        return None
    invoked = config.invocation_params.dir
    root = settings.root or config.rootpath
    specs = tuple(_existing(invoked / path, "--harness-spec", "file") for path in option.harness_spec)
    specs = specs or settings.specs or tuple(sorted((root / "specs").glob("*.yaml")))
    if not specs:
        raise pytest.UsageError(
            f"harness: no spec to grade against: no specs/*.yaml in {root}; set specs in "
            "[tool.harness] of pyproject.toml or pass --harness-spec SPEC.yaml"
        )
    if option.harness_submission is not None:
        submission = _existing(invoked / option.harness_submission, "--harness-submission", "folder")
    else:
        submission = settings.submission or root
    return _State(
        specs=tuple(path.resolve() for path in specs),
        submission=submission.resolve(),
        seed=option.harness_seed if option.harness_seed is not None else settings.seed,
        examples=option.harness_examples if option.harness_examples is not None else settings.examples,
        require_sandbox=bool(settings.require_sandbox),
        source=settings.file.name if settings.file is not None else "options",
    )


def _existing(path: Path, option: str, kind: str) -> Path:
    if not (path.is_file() if kind == "file" else path.is_dir()):
        raise pytest.UsageError(f"harness: {option}: no {kind} {str(path)!r}")
    return path


def _shown(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# Collection nodes


class SpecFile(pytest.File):
    """A spec file: one collector per question."""

    def collect(self):
        from harness.spec import load_spec

        assignment = load_spec(self.path)
        for question in assignment.questions:
            yield QuestionNode.from_parent(self, name=question.id, assignment=assignment, question=question)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        from harness.errors import HarnessError

        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)  # the spec error's file, line, key path and hint
        return super().repr_failure(excinfo)


class QuestionNode(pytest.Collector):
    """One question of a spec: one test per item."""

    def __init__(self, *, assignment: Assignment, question: Question, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.assignment, self.question = assignment, question

    def collect(self):
        for item in self.question.items:
            yield HarnessItem.from_parent(self, name=item.name, assignment=self.assignment,
                                          question=self.question, item=item)


class ItemFailed(Exception):
    """Raised by a failing item's test; pytest shows it through ``HarnessItem.repr_failure``."""

    def __init__(self, result: ItemResult) -> None:
        super().__init__(result.summary)
        self.result = result


class HarnessItem(pytest.Item):
    """One graded item: passes, fails with the report's diagnosis, or errors when it cannot run."""

    def __init__(self, *, assignment: Assignment, question: Question, item: Item, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.assignment, self.question, self.item = assignment, question, item
        self.spec = Path(assignment.path).resolve()
        self.add_marker("harness")

    def setup(self) -> None:
        from harness.errors import HarnessError
        from harness.report import render_item_text

        try:
            self.verdict = self.session.config.stash[_STATE].result(self)
        except HarnessError as error:
            pytest.fail(str(error), pytrace=False)
        self.user_properties += [("score", self.verdict.score), ("max_score", self.verdict.max_score)]
        if self.verdict.status == "error":  # not checked at all: an error, as in JUnit reports
            pytest.fail(render_item_text(self.verdict), pytrace=False)

    def runtest(self) -> None:
        if self.verdict.status != "passed":
            raise ItemFailed(self.verdict)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from harness.report import render_item_text

        if isinstance(excinfo.value, ItemFailed):
            return render_item_text(excinfo.value.result)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The student's file and the line defining the item (read, never run, here)."""
        from harness.answers import ANSWERS_FILE

        submission = self.session.config.stash[_STATE].submission
        module = submission / f"{self.question.module}.py"
        if not module.exists() and (submission / ANSWERS_FILE).exists():
            return submission / ANSWERS_FILE, None, f"{self.question.id} {self.item.name}"
        line = _definition_line(module, self.item.name)
        return module, None if line is None else line - 1, f"{self.question.id} {self.item.name}"


def _definition_line(module: Path, name: str) -> int | None:
    """The line of the top-level ``def name`` or ``name = ...`` in ``module``, if it parses."""
    try:
        tree = ast.parse(module.read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node.lineno
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return node.lineno
    return None
