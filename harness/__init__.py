"""Property-based grading of derivative homework: the public API.

Every entry point (the ``harness`` command, the pytest plugin, the Gradescope autograder, the
benchmark) uses only the names below; everything else in the package may change. A typical use:

>>> import harness
>>> from pathlib import Path
>>> assignment = harness.load_spec("specs/q2_neural_networks.yaml")
>>> result = harness.grade(assignment, Path("submissions/reference_solution"))
>>> result.score, result.max_score
(10.0, 10.0)

Names are imported on first use (PEP 562), so ``import harness`` stays cheap: the pytest plugin
is loaded by every pytest run, enabled or not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness._version import __version__

_EXPORTS: dict[str, str] = {
    # specs
    "Assignment": "harness.spec",
    "ClaimItem": "harness.spec",
    "DerivativeItem": "harness.spec",
    "Item": "harness.spec",
    "Question": "harness.spec",
    "load_spec": "harness.spec",
    "load_spec_text": "harness.spec",
    # grading
    "GradeOptions": "harness.grading",
    "Grader": "harness.grading",
    "Limits": "harness.runner",
    "RunOutcome": "harness.grading",
    "SurveyCall": "harness.grading",
    "survey": "harness.grading",
    "input_strategy": "harness.strategies",
    "grade": "harness.grading",
    "grade_all": "harness.grading",
    "warm_cache": "harness.grading",
    "write_lock": "harness.grading",
    "lock_path": "harness.lock",
    "ProgressPrinter": "harness.progress",
    # checking a spec before grading
    "Finding": "harness.checkspec",
    "SpecReport": "harness.checkspec",
    "check_spec": "harness.checkspec",
    "render_spec_report": "harness.checkspec",
    # results (plain data)
    "ClaimEvidence": "harness.results",
    "Counterexample": "harness.results",
    "ItemResult": "harness.results",
    "QuestionResult": "harness.results",
    "RunSettings": "harness.results",
    "StepResult": "harness.results",
    "SubmissionResult": "harness.results",
    # reports (pure rendering) and writing them
    "escape_text": "harness.report",
    "gradescope_results": "harness.report",
    "render_class_html": "harness.report",
    "render_class_summary": "harness.report",
    "render_grades_csv": "harness.report",
    "render_item_text": "harness.report",
    "render_junit": "harness.report",
    "render_mistakes_csv": "harness.report",
    "render_submission_markdown": "harness.report",
    "write_atomically": "harness.outputs",
    "write_class": "harness.outputs",
    "write_submission": "harness.outputs",
    # where specs, submissions and settings are found
    "ANSWERS_FILE": "harness.answers",
    "Writeup": "harness.writeup",
    "load_writeup": "harness.writeup",
    "Config": "harness.config",
    "find_config": "harness.config",
    "parse_toml": "harness.config",
    "is_submission": "harness.discovery",
    "spec_paths": "harness.discovery",
    "split_paths": "harness.discovery",
    "writeups_in": "harness.discovery",
    # the reference cache and the sandbox
    "ReferenceCache": "harness.cache",
    "default_cache_dir": "harness.cache",
    "format_bytes": "harness.runner",
    "detect_isolation": "harness.sandbox",
    "prestart_workers": "harness.template",
    "ISOLATION_CHOICES": "harness.sandbox",
    # errors
    "FormulaError": "harness.errors",
    "HarnessError": "harness.errors",
    "InternalError": "harness.errors",
    "SandboxUnavailable": "harness.errors",
    "SpecError": "harness.errors",
    "UsageError": "harness.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors; at run time the names load on first use
    from harness.answers import ANSWERS_FILE
    from harness.cache import ReferenceCache, default_cache_dir
    from harness.checkspec import Finding, SpecReport, check_spec, render_spec_report
    from harness.config import Config, find_config, parse_toml
    from harness.discovery import is_submission, spec_paths, split_paths, writeups_in
    from harness.errors import FormulaError, HarnessError, InternalError, SandboxUnavailable, SpecError, UsageError
    from harness.grading import (
        GradeOptions,
        Grader,
        RunOutcome,
        SurveyCall,
        grade,
        grade_all,
        survey,
        warm_cache,
        write_lock,
    )
    from harness.lock import lock_path
    from harness.outputs import write_atomically, write_class, write_submission
    from harness.progress import ProgressPrinter
    from harness.report import (
        escape_text,
        gradescope_results,
        render_class_html,
        render_class_summary,
        render_grades_csv,
        render_item_text,
        render_junit,
        render_mistakes_csv,
        render_submission_markdown,
    )
    from harness.results import (
        ClaimEvidence,
        Counterexample,
        ItemResult,
        QuestionResult,
        RunSettings,
        StepResult,
        SubmissionResult,
    )
    from harness.runner import Limits, format_bytes
    from harness.sandbox import ISOLATION_CHOICES, detect_isolation
    from harness.template import prestart_workers
    from harness.strategies import input_strategy
    from harness.writeup import Writeup, load_writeup
    from harness.spec import Assignment, ClaimItem, DerivativeItem, Item, Question, load_spec, load_spec_text
