"""Shared test set-up: one hermetic reference cache for the session, and a way to swap a function's record."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import pytest

from harness import functions


def pytest_configure(config) -> None:
    # Keep the test run hermetic: its reference cache lives in a temporary folder, not ~/.cache.
    # Set before any test starts, so the CLI subprocesses the tests run and pytest-xdist's workers
    # (started after this hook, in the controller) inherit it too: one cache for the session.
    os.environ.setdefault("HARNESS_CACHE_DIR", tempfile.mkdtemp(prefix="harness-test-cache-"))


@pytest.fixture(scope="session")
def reference_cache() -> Path:
    """The session's reference cache (``$HARNESS_CACHE_DIR``, a temporary folder), shared by every test.

    CLI subprocesses find it through the environment; in-process grading gets it as
    ``GradeOptions(cache_dir=reference_cache)``, so a reference is computed once per session.
    """
    return Path(os.environ["HARNESS_CACHE_DIR"])


@pytest.fixture(scope="session")
def class_files() -> set[str]:
    """The class-wide files a finished run writes: the summaries, the CSVs, the chart of the totals."""
    from harness.outputs import CLASS_FILES
    from harness.report.summary import CHART_FILE

    return set(CLASS_FILES) | {CHART_FILE}


@pytest.fixture
def replace_record(monkeypatch):
    """``replace_record("exp", mpmath=...)`` changes a library function's record for the test.

    Backends made afterwards (those the reference makes included) use the changed record.
    """

    def replace(name: str, **changes) -> None:
        monkeypatch.setitem(functions._LIBRARY, name, dataclasses.replace(functions.LIBRARY[name], **changes))

    return replace
