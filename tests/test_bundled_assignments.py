"""The three bundled assignments of issue 10, end to end: CLI, pytest plugin, Gradescope bundle.

Each has a reference solution (full marks) and a submission of typical mistakes whose every
verdict is pinned here; a wrong answer key planted in each spec is caught by check-spec.
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

from harness.checkspec import check_spec
from harness.cli import main
from harness.grading import GradeOptions, grade_all
from harness.spec import load_spec, load_spec_text

pytestmark = pytest.mark.slow
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = {  # spec: (its module, the prefix of its submissions)
    "calculus_sheet": ("calculus", "calculus"),
    "matrix_calculus": ("matrix_calculus", "matrix_calculus"),
    "cs231n_layers": ("layers", "layers"),
}
MISTAKES = {
    "calculus_sheet": {
        "1 product_rule": "wrong in part of the domain",
        "2 quotient_rule": "wrong in part of the domain",
        "3 chain_rule": "wrong value",
        "4 tangent": None,
        "5 inverse_trig": "wrong in part of the domain",
        "6 second_derivative": "wrong value",
    },
    "matrix_calculus": {
        "1 quadratic_gradient": "scalar only",
        "1 quadratic_hessian": "not symmetric",
        "2 trace_linear": "transposed",
        "2 trace_quadratic": None,
        "3 log_abs_det": "transposed",
        "3 inverse_bilinear": "sign error",
        "4 ridge_gradient": "wrong in part of the domain",
        "4 ridge_hessian": None,
        "4 newton_step": "wrong in part of the domain",
    },
    "cs231n_layers": {
        "1 affine_backward_x": None,
        "1 affine_backward_W": "transposed",
        "1 affine_backward_b": "not summed over the batch",
        "2 relu_backward": None,
        "3 softmax_loss": "missing 1/N",
        "3 softmax_loss_gradient": "missing 1/N",
        "4 batchnorm_backward_x": "wrong in part of the domain",
        "4 batchnorm_backward_gamma": None,
        "4 batchnorm_backward_beta": "sign error",
    },
}
PLANTED = {  # a wrong answer key for each spec: (the right one, the planted one)
    "calculus_sheet": ("expected: 3 * x ** 2 / (x ** 3 + 1)", "expected: 3 * x / (x ** 3 + 1)"),
    "matrix_calculus": ("expected: inv(X).T", "expected: inv(X)"),
    "cs231n_layers": ("expected: \"sum(dout * xhat, axis=0)\"", "expected: \"sum(dout * xhat, axis=0) / N\""),
}


def spec_path(name: str) -> Path:
    return ROOT / "specs" / f"{name}.yaml"


def submissions(name: str) -> list[Path]:
    prefix = ASSIGNMENTS[name][1]
    return [ROOT / "submissions" / f"{prefix}_reference", ROOT / "submissions" / f"{prefix}_mistakes"]


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_each_assignment_grades_its_reference_fully_and_each_mistake_as_pinned(name, tmp_path, reference_cache):
    outcome = grade_all([load_spec(spec_path(name))], submissions(name), tmp_path,
                        GradeOptions(cache_dir=reference_cache))
    reference, mistakes = next(iter(outcome.results.values()))
    assert reference.score == reference.max_score and reference.max_score > 0
    assert {f"{item.question_id} {item.name}": item.mistake if item.status != "passed" else None
            for item in mistakes.items} == MISTAKES[name]
    assert outcome.internal_errors == 0


def test_the_cli_grades_an_assignment_into_its_class_files(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["grade", str(spec_path("cs231n_layers")), *map(str, submissions("cs231n_layers")),
                 "--out", str(out), "-q"]) == 0
    grades = {line.split(",")[0]: line for line in (out / "grades.csv").read_text().splitlines()[1:]}
    assert grades["layers_reference"].endswith(",11,11,100.00,graded")
    assert grades["layers_mistakes"].endswith(",3,11,27.27,graded")
    report = (out / "layers_mistakes" / "report.md").read_text()
    assert "not summed over the batch" in report and "Traceback" not in capsys.readouterr().err


def test_the_pytest_plugin_grades_an_assignment_item_by_item(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    (pytester.path / "specs").mkdir()
    shutil.copy(spec_path("calculus_sheet"), pytester.path / "specs")
    shutil.copy(ROOT / "submissions" / "calculus_mistakes" / "calculus.py", pytester.path)
    (pytester.path / "pyproject.toml").write_text(
        '[tool.harness]\nspecs = ["specs/calculus_sheet.yaml"]\nsubmission = "."\n'
    )
    result = pytester.runpytest("-p", "harness.pytest_plugin")
    result.assert_outcomes(passed=1, failed=5)
    result.stdout.fnmatch_lines(["*calculus_sheet.yaml::3::chain_rule*"])
    assert "Traceback" not in result.stdout.str()


def test_the_gradescope_bundle_grades_an_assignment(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert main(["gradescope", str(spec_path("matrix_calculus")), "-o", str(bundle)]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    shutil.copy(ROOT / "submissions" / "matrix_calculus_mistakes" / "matrix_calculus.py", root / "submission")
    environment = {**os.environ, "HARNESS_AUTOGRADER_ROOT": str(root), "HARNESS_PYTHON": sys.executable,
                   "PYTHONPATH": str(root / "source" / "harness-src")}
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=environment,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    document = json.loads((root / "results" / "results.json").read_text())
    assert document["score"] == 2.0
    assert {test["name"]: test["status"] for test in document["tests"]} == {
        name: "failed" if mistake else "passed" for name, mistake in MISTAKES["matrix_calculus"].items()
    }


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_wrong_key_is_caught_by_check_spec_with_a_small_counterexample(name, reference_cache):
    right, planted = PLANTED[name]
    text = spec_path(name).read_text()
    assert text.count(right) == 1
    assignment = load_spec_text(text.replace(right, planted), f"planted_{name}.yaml")
    report = check_spec(assignment, cache_dir=reference_cache)
    failed = [finding for finding in report.findings if not finding.ok]
    assert len(failed) == 1 and failed[0].message.startswith("WRONG KEY:"), failed
    details = dict(failed[0].details)
    assert {"answer key", "reference"} <= details.keys()
    entries = [float(v) for key, value in details.items() if key not in ("answer key", "reference", "dimensions")
               for v in _flat(value)]
    assert all(abs(v) <= 2 and float(f"{v:.2g}") == v for v in entries), details  # shrunk to simple numbers


def test_each_bundled_spec_passes_check_spec(reference_cache):
    for name in ASSIGNMENTS:
        report = check_spec(load_spec(spec_path(name)), cache_dir=reference_cache)
        assert report.ok, [f.message for f in report.findings if not f.ok]


def _flat(value):
    if isinstance(value, (tuple, list)):
        for entry in value:
            yield from _flat(entry)
    else:
        yield value
