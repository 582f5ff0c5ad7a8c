"""The seed write-up graded through every entry point: the CLI, the pytest plugin, the Gradescope bundle.

All three go through the same public API, so they must agree: 2.1, 2.2 and 2.4 right, the 2.3
claim wrong, and the two false steps in ``results.json``'s ``extra_data.steps``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import harness.pytest_plugin  # noqa: F401  (imported before pytester's in-process runs, as test_pytest_plugin does)
from harness.cli import main

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "q2_neural_networks.yaml"
SEED = ROOT / "submissions" / "seed_writeup" / "answers.md"
FALSE_STEPS = [
    {"question": "2.1", "line": 21, "latex": r"\frac{\partial \hat{y}}{\partial b_2} = 1", "holds": False},
    {"question": "2.4", "line": 106, "latex": r"\frac{\partial \mathbf{a}_1}{\partial \mathbf{z}_1} = \sigma(\mathbf{z}_1)",
     "holds": False},
]
VERDICTS = [("2.1 dyhat_dw2", "passed"), ("2.1 dyhat_db2", "passed"), ("2.2 dyhat_dw2", "passed"),
            ("2.2 dyhat_db2", "passed"), ("2.3 dyhat_dx", "passed"), ("2.3 dyhat_dx_changes_with_b2", "failed"),
            ("2.4 dyhat_dw1", "passed")]


def check_results(document: dict) -> None:
    assert document["score"] == 9.0
    assert [(test["name"], test["status"]) for test in document["tests"]] == VERDICTS
    steps = document["extra_data"]["steps"]
    assert [step for step in steps if step["holds"] is not True] == FALSE_STEPS
    assert len(steps) == 52


def test_harness_grade_grades_a_folder_holding_only_a_writeup(tmp_path, capsys):
    submission = tmp_path / "submissions" / "seed"
    submission.mkdir(parents=True)
    shutil.copy(SEED, submission / "answers.md")
    assert main(["grade", str(SPEC), str(tmp_path / "submissions"), "--out", str(tmp_path / "out"), "-q"]) == 0
    check_results(json.loads((tmp_path / "out" / "seed" / "results.json").read_text()))
    report = (tmp_path / "out" / "seed" / "report.md").read_text()
    assert ("Your write-up (answers.md, line 51):\n\n```latex\nNo, $\\frac{\\partial \\hat{y}}{\\partial "
            "\\mathbf{x}}$ does not change.\n```") in report
    assert "## Steps of the write-up" in report


def test_the_pytest_plugin_grades_a_writeup_item_by_item(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    (pytester.path / "specs").mkdir()
    shutil.copy(SPEC, pytester.path / "specs")
    shutil.copy(SEED, pytester.path / "answers.md")
    (pytester.path / "pyproject.toml").write_text(
        '[tool.harness]\nspecs = ["specs/q2_neural_networks.yaml"]\nsubmission = "."\n')
    result = pytester.runpytest("-p", "harness.pytest_plugin", "-v", "-rf")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["*2.3::dyhat_dx_changes_with_b2 FAILED*",
                                 "*wrong: you answered False, but the claim is true*"])


@pytest.mark.slow  # builds the bundle and runs its run_autograder as Gradescope does
def test_the_gradescope_bundle_grades_the_seed_writeup(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert main(["gradescope", str(SPEC), "-o", str(bundle)]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    shutil.copy(SEED, root / "submission" / "answers.md")
    environment = {**os.environ, "HARNESS_AUTOGRADER_ROOT": str(root), "HARNESS_PYTHON": sys.executable,
                   "PYTHONPATH": str(root / "source" / "harness-src")}
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=environment,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    check_results(json.loads((root / "results" / "results.json").read_text()))
