"""Keep the test run hermetic: its reference cache lives in a temporary folder, not ~/.cache."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    # Set before any test starts, so the CLI subprocesses the tests run inherit it too.
    os.environ.setdefault("HARNESS_CACHE_DIR", tempfile.mkdtemp(prefix="harness-test-cache-"))
