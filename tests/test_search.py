"""The seeded searches draw the same inputs whatever else the process has loaded, and write nothing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from harness.search import collect, find_minimal

ROOT = Path(__file__).resolve().parent.parent
# Numbers Hypothesis would find in a "local" module's source (outside site-packages and tests/).
LOCAL_CONSTANTS = [0.123456789, 0.987654321, -0.31415926, 0.2718281828, -0.8675309]
LOCAL_MODULE = "CONSTANTS = [" + ", ".join(map(repr, LOCAL_CONSTANTS)) + "]\n"


@dataclass(frozen=True)
class Point:
    x: float

    def key(self) -> tuple:
        return (self.x,)


POINTS = st.builds(Point, st.floats(-1.0, 1.0))


def _load_local_module(folder: Path) -> None:
    """Import a module of constants from ``folder`` (a "local" module in Hypothesis's sense)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "course_constants.py"
    path.write_text(LOCAL_MODULE)
    spec = importlib.util.spec_from_file_location("course_constants", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["course_constants"] = module
    spec.loader.exec_module(module)


def test_the_drawn_inputs_do_not_depend_on_the_modules_loaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = collect(POINTS, 1234, 300)
    _load_local_module(tmp_path / "course")  # not under a folder named tests: Hypothesis scans it
    try:
        after = collect(POINTS, 1234, 300)
        shrunk = find_minimal(POINTS, 1234, 300, lambda point: point.x > 0.5)
    finally:
        del sys.modules["course_constants"]
    assert after == before
    assert not {point.x for point in after} & set(LOCAL_CONSTANTS)
    assert shrunk is not None and shrunk.x > 0.5
    assert not (tmp_path / ".hypothesis").exists()


def test_grading_writes_nothing_in_the_working_directory(tmp_path):
    work = tmp_path / "repo"
    work.mkdir()
    out = tmp_path / "reports"
    environment = {**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "grade", str(ROOT / "specs" / "q2_neural_networks.yaml"),
         str(ROOT / "submissions" / "reference_solution"), "--out", str(out), "--quiet"],
        cwd=work, env=environment, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(work)) == []
