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

Each item is checked when its test runs, by a ``harness.Grader`` opened for the spec on first
use and kept for the session: the same core, checker and on-disk reference cache as ``harness
grade`` (``--harness-cache-dir``, default ``$HARNESS_CACHE_DIR`` else ``~/.cache/harness``), one
sandboxed worker per spec. Inputs are seeded per question, so an item gets the verdict the full
run gives whichever items are selected, and under pytest-xdist each worker checks only the items
it runs. The verdict is an ``ItemResult``: a pass, a failure showing the report's diagnosis and
minimal counterexample, or an error (the answer could not be checked: a missing file, a module
that does not load). The score summary adds up the items' ``user_properties``, which xdist
workers send to the controller with their reports, so it appears once, also under xdist.
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness import Assignment, Grader, Item, ItemResult, Question


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
    group.addoption("--harness-cache-dir", metavar="DIR", type=Path,
                    help="the reference cache (default: $HARNESS_CACHE_DIR, else ~/.cache/harness)")
    group.addoption("--harness-isolation", choices=("auto", "bubblewrap", "namespaces", "uid", "none"),
                    help="the isolation mode (default: [tool.harness] isolation, else auto)")
    group.addoption("--harness-trusted-code", action="store_true", default=None,
                    help="the code is your own: grade it even where it cannot be isolated (reports say so)")


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
        config.pluginmanager.register(state, "harness-state")  # for its pytest_runtest_logreport


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


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.scores:
        return
    terminalreporter.section("harness score")
    for spec, (score, max_score, items) in sorted(state.scores.items()):
        terminalreporter.write_line(f"{spec}: {score:g} / {max_score:g} points on the {items} item(s) run")


# ---------------------------------------------------------------------------------------------
# The enabled plugin's state: what to grade, and one grader per spec once used


@dataclass(eq=False)  # hashable: it is registered as a plugin
class _State:
    specs: tuple[Path, ...]
    submission: Path
    seed: int | None
    examples: int | None
    require_sandbox: bool
    isolation: str
    trusted_code: bool
    cache_dir: Path
    source: str
    """Where the settings came from, for the header (``"pyproject.toml"``, ``"options"``)."""
    collected: set[Path] = field(default_factory=set)
    graders: dict[Path, Grader | BaseException] = field(default_factory=dict)
    scores: dict[str, list] = field(default_factory=dict)
    """Per spec (as shown), the points, maximum and number of the graded items reported."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Every item's teardown report carries its score, on the controller under xdist too.
        if report.when != "teardown":
            return
        properties = dict(report.user_properties)
        if "harness_spec" in properties:
            totals = self.scores.setdefault(properties["harness_spec"], [0.0, 0.0, 0])
            totals[0] += properties["score"]
            totals[1] += properties["max_score"]
            totals[2] += 1

    def header(self, config: pytest.Config) -> list[str]:
        """How to reproduce the run: what is graded, the seed and examples, the isolation."""
        import harness

        lines = [f"harness: grading {_shown(self.submission, config)} (settings from {self.source})"]
        for spec in self.specs:
            try:
                settings = harness.load_spec(spec).settings
            except harness.HarnessError:
                lines.append(f"harness: {_shown(spec, config)}: cannot be loaded (see the collection error)")
                continue
            seed = settings.seed if self.seed is None else self.seed
            examples = settings.examples if self.examples is None else self.examples
            lines.append(f"harness: {_shown(spec, config)}: seed {seed}, {examples} examples per item; reproduce "
                         f"with --harness-seed={seed} --harness-examples={examples}")
        lines.append(f"harness: isolation: {harness.detect_isolation()}")
        return lines

    def result(self, node: HarnessItem) -> ItemResult:
        """The verdict on ``node``, checked by its spec's grader (opened on first use)."""
        import harness

        if node.spec not in self.graders:
            options = harness.GradeOptions(seed=self.seed, examples=self.examples,
                                           require_sandbox=self.require_sandbox, isolation=self.isolation,
                                           trusted_code=self.trusted_code, cache_dir=self.cache_dir)
            try:
                self.graders[node.spec] = harness.Grader(node.assignment, self.submission, options)
            except Exception as error:  # every item of the spec reports it; none tries again
                self.graders[node.spec] = error
        grader = self.graders[node.spec]
        if isinstance(grader, BaseException):
            raise grader
        return grader.check(node.question, node.item)

    def close(self) -> None:
        for grader in self.graders.values():
            if not isinstance(grader, BaseException):
                grader.close()


_STATE = pytest.StashKey[_State]()


def _enable(config: pytest.Config) -> _State | None:
    """The plugin's state when configuration or options enable it, else None (it stays inert)."""
    import harness

    option = config.option
    try:
        settings = harness.find_config(config.rootpath)
    except harness.HarnessError as error:
        raise pytest.UsageError(f"harness: {error}") from None
    if settings.file is None and not option.harness_spec and option.harness_submission is None:
        return None
    invoked = config.invocation_params.dir
    root = settings.root or config.rootpath
    given = [_existing(invoked / path, "--harness-spec", "file") for path in option.harness_spec]
    try:
        specs = harness.spec_paths(given, settings, root)
    except harness.UsageError as error:
        raise pytest.UsageError(f"harness: {error} (or pass --harness-spec SPEC.yaml)") from None
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
        isolation=option.harness_isolation or settings.isolation or "auto",
        trusted_code=bool(option.harness_trusted_code or settings.trusted_code),
        cache_dir=(invoked / option.harness_cache_dir if option.harness_cache_dir else harness.default_cache_dir()),
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
        import harness

        assignment = harness.load_spec(self.path)
        for question in assignment.questions:
            yield QuestionNode.from_parent(self, name=question.id, assignment=assignment, question=question)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        import harness

        if isinstance(excinfo.value, harness.HarnessError):
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
        import harness

        try:
            self.verdict = self.session.config.stash[_STATE].result(self)
        except harness.HarnessError as error:
            pytest.fail(str(error), pytrace=False)
        self.user_properties += [("harness_spec", _shown(self.spec, self.config)),
                                 ("score", self.verdict.score), ("max_score", self.verdict.max_score)]
        if self.verdict.status == "error":  # not checked at all: an error, as in JUnit reports
            pytest.fail(harness.render_item_text(self.verdict), pytrace=False)

    def runtest(self) -> None:
        if self.verdict.status != "passed":
            raise ItemFailed(self.verdict)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        import harness

        if isinstance(excinfo.value, ItemFailed):
            return harness.render_item_text(excinfo.value.result)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The student's file and the line defining the item (read, never run, here)."""
        import harness

        submission = self.session.config.stash[_STATE].submission
        module = submission / f"{self.question.module}.py"
        if not module.exists() and (submission / harness.ANSWERS_FILE).exists():
            return submission / harness.ANSWERS_FILE, None, f"{self.question.id} {self.item.name}"
        writeups = [] if module.exists() else harness.writeups_in(submission)
        if writeups:  # answered in a write-up (its first file: which section is known only once graded)
            return writeups[0], None, f"{self.question.id} {self.item.name}"
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
