"""The lock of drawn inputs: written once, graded on everywhere, refused when stale, Hypothesis-free."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness
import harness.claims
import harness.search
from harness.check import Checker
from harness.cli import main
from harness.lock import lock_path, read_lock

ROOT = Path(__file__).resolve().parent.parent
SCALAR = ROOT / "specs" / "q2_neural_networks.yaml"
WRONG = ROOT / "submissions" / "sign_and_factor_errors"


@pytest.fixture
def spec(tmp_path) -> Path:
    copy = tmp_path / "specs" / "q2.yaml"
    copy.parent.mkdir()
    shutil.copy(SCALAR, copy)
    return copy


def test_a_lock_holds_exactly_the_inputs_and_evidence_hypothesis_drew(spec):
    assignment = harness.load_spec(spec)
    path = harness.write_lock(assignment, examples=7)
    assert path == lock_path(assignment) == spec.with_name("q2.lock.json")
    lock = read_lock(assignment, assignment.settings.seed, 7)
    drawing = Checker(assignment, examples=7)
    question = assignment.questions[2]
    for activation in question.activations:
        assert [e.key() for e in lock.draw(question.id, activation, 7)] == [
            e.key() for e in drawing.draw(question, activation, 7)]
    claim = question.item("dyhat_dx_changes_with_b2")
    assert lock.claim(question.id, claim.name, 7) == drawing.claim_evidence(question, claim)


def test_grading_on_a_lock_uses_no_hypothesis_and_says_so(spec, tmp_path, monkeypatch):
    assignment = harness.load_spec(spec)
    harness.write_lock(assignment, examples=7)

    def forbidden(*args, **kwargs):
        raise AssertionError("Hypothesis was asked although the inputs are locked")

    for module, name in ((harness.search, "collect"), (harness.search, "find_minimal"), (harness.claims, "establish")):
        monkeypatch.setattr(module, name, forbidden)
    result = harness.grade(assignment, WRONG, harness.GradeOptions(examples=7))
    assert result.score == 8 and result.settings.hypothesis_version == "not used"
    digest = json.loads(spec.with_name("q2.lock.json").read_text())["sha256"]
    assert result.settings.inputs == f"locked by q2.lock.json (sha256 {digest[:12]})"
    assert f"- Inputs: `locked by q2.lock.json (sha256 {digest[:12]})`" in harness.render_submission_markdown(result)
    document = harness.gradescope_results(result)  # what Gradescope shows says so too
    assert document["extra_data"]["inputs"] == result.settings.inputs and result.settings.locked
    assert f"examples per item, inputs `locked by q2.lock.json (sha256 {digest[:12]})`):" in document["output"]
    sign_error = next(item for item in result.items if item.mistake == "sign error")
    assert sign_error.counterexample is not None  # shrunk by the lock's own shrinker


def test_a_lock_for_other_settings_is_not_used(spec):
    assignment = harness.load_spec(spec)
    harness.write_lock(assignment, examples=7)
    assert read_lock(assignment, assignment.settings.seed, 8) is None
    assert read_lock(assignment, assignment.settings.seed + 1, 7) is None


@pytest.mark.parametrize("damage", ["spec edited", "entry edited", "not json"])
def test_a_stale_or_damaged_lock_is_refused_with_the_fix(spec, damage):
    assignment = harness.load_spec(spec)
    path = harness.write_lock(assignment, examples=7)
    if damage == "spec edited":
        spec.write_text(spec.read_text() + "\n# edited after the lock was made\n")
        assignment = harness.load_spec(spec)
        expected = "the lock was made for another version of q2.yaml"
    elif damage == "entry edited":
        path.write_text(path.read_text().replace("0x1.0000000000000p+0", "0x1.8000000000000p+0", 1))
        expected = "the lock is damaged or of another format"
    else:
        path.write_text("{")
        expected = "not a lock of drawn inputs"
    with pytest.raises(harness.UsageError) as raised:
        read_lock(assignment, assignment.settings.seed, 7)
    assert expected in str(raised.value) and f"make it again with `harness lock {spec}`" in str(raised.value)


def test_the_lock_command_writes_a_lock_beside_each_spec(spec, capsys):
    assert main(["lock", str(spec), "--examples", "3"]) == 0
    assert spec.with_name("q2.lock.json").is_file()
    assert f"wrote {spec.with_name('q2.lock.json')}" in capsys.readouterr().err


OTHER_HYPOTHESIS = "6.100.0"


@pytest.mark.slow
def test_two_hypothesis_versions_grade_byte_identically_on_a_lock(spec, tmp_path):
    """Two venvs from the package index, differing only in Hypothesis, give the same report files."""
    assert main(["lock", str(spec), "--examples", "10"]) == 0
    submissions = [ROOT / "submissions" / name for name in ("sample_student", "sign_and_factor_errors")]
    trees = {}
    for version in (OTHER_HYPOTHESIS, None):
        venv = tmp_path / f"venv-{version or 'here'}"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
        python = venv / "bin" / "python"
        if version is not None:
            installed = subprocess.run([python, "-m", "pip", "install", "--quiet", f"hypothesis=={version}"],
                                       capture_output=True, text=True)
            if installed.returncode != 0:
                pytest.skip(f"hypothesis=={version} could not be installed: {installed.stderr[-300:]}")
        shown = subprocess.run([python, "-c", "import hypothesis; print(hypothesis.__version__)"],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert shown == (version or __import__("hypothesis").__version__)
        out = tmp_path / f"out-{shown}"
        done = subprocess.run(
            [python, "-m", "harness", "grade", str(spec), *map(str, submissions), "--examples", "10",
             "--out", str(out), "--no-cache", "--jobs", "1"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, done.stderr
        trees[shown] = {
            str(path.relative_to(out)): path.read_text()
            for path in sorted(out.rglob("*")) if path.is_file() and path.name != "results.json"
        }
        results = [json.loads(path.read_text()) for path in sorted(out.rglob("results.json"))]
        trees[shown]["results"] = json.dumps([{**r, "execution_time": None} for r in results])
    first, second = trees.values()
    assert len(trees) == 2 and first == second
