"""The ``harness`` command: exit codes, messages, defaults and byte-identical reruns."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCALAR = ROOT / "specs" / "q2_neural_networks.yaml"
SAMPLE = ROOT / "submissions" / "sample_student"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=cwd or ROOT, capture_output=True, text=True, timeout=600
    )


def tree(folder: Path) -> dict[str, str]:
    """Every file's text, with the one timing field of results.json blanked."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            text = path.read_text()
            if path.name == "results.json":
                payload = json.loads(text)
                payload["execution_time"] = None
                text = json.dumps(payload)
            files[str(path.relative_to(folder))] = text
    return files


@pytest.mark.slow
def test_grading_twice_gives_byte_identical_reports(tmp_path, class_files):
    subs = [str(ROOT / "submissions" / n) for n in ("sample_student", "sign_and_factor_errors")]
    for name in ("first", "second"):
        done = run("grade", str(SCALAR), *subs, "--examples", "25", "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    first, second = tree(tmp_path / "first"), tree(tmp_path / "second")
    assert first.keys() == second.keys() == class_files | {
        f"{name}/{report}" for name in ("sample_student", "sign_and_factor_errors") for report in ("report.md", "results.json")
    }
    assert first == second


@pytest.mark.slow
def test_the_report_says_how_to_reproduce_it(tmp_path):
    assert main(["grade", str(SCALAR), str(SAMPLE), "--examples", "5", "--seed", "7", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "sample_student" / "report.md").read_text()
    assert "harness grade specs/q2_neural_networks.yaml submissions/sample_student --seed 7 --examples 5" in report
    assert "- Seed: `7`" in report


@pytest.mark.slow
def test_with_no_arguments_it_grades_the_bundled_folders_into_reports(tmp_path):
    for folder in ("specs", "submissions"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    for spec in (tmp_path / "specs").glob("*.yaml"):  # keep the run short: 3 examples per item
        spec.write_text(spec.read_text().replace("examples: 100", "examples: 3").replace("examples: 50", "examples: 3"))
    done = run("grade", "--examples", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for spec in ("q2_neural_networks", "q2_neural_networks_vector"):
        assert (tmp_path / "reports" / spec / "summary.md").exists()
        assert (tmp_path / "reports" / spec / "sample_student" / "results.json").exists()
    # Each bundled submission is graded against the specs it answers: the Q2 ones against both
    # editions, each new assignment's reference and mistakes against their own spec only.
    graded = {spec.name: sorted(p.name for p in spec.iterdir() if p.is_dir()) for spec in (tmp_path / "reports").iterdir()}
    assert graded["calculus_sheet"] == ["calculus_mistakes", "calculus_reference"]
    assert graded["matrix_calculus"] == ["matrix_calculus_mistakes", "matrix_calculus_reference"]
    assert graded["cs231n_layers"] == ["layers_mistakes", "layers_reference"]
    assert "seed_writeup" in graded["q2_neural_networks"] and "calculus_reference" not in graded["q2_neural_networks"]
    assert graded["q2_neural_networks"] == graded["q2_neural_networks_vector"]
    runs = sum(len(names) for names in graded.values())
    assert f"[{runs}/{runs}]" in done.stderr  # progress for a multi-submission run
    assert "not graded against calculus_sheet.yaml (they answer another spec of this run): " in done.stderr


def test_a_path_that_is_neither_spec_nor_submission_is_a_usage_error(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nope.txt")]) == 1
    assert capsys.readouterr().err == (
        f"harness: error: {str(tmp_path / 'nope.txt')!r} is neither a spec file (.yaml) nor a submission folder\n"
    )


def test_an_unknown_flag_is_a_usage_error_with_exit_code_1(capsys):
    assert main(["grade", "--frobnicate"]) == 1
    assert "unrecognized arguments: --frobnicate" in capsys.readouterr().err


def test_a_malformed_spec_is_reported_with_file_line_and_key_and_exit_code_1(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SCALAR.read_text().replace("of: yhat\n        wrt: w1", "of: yhat\n        wrt: w3"))
    assert main(["grade", str(spec), str(SAMPLE), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"harness: error: {spec}:116: at questions[3].items[0].wrt: unknown name 'w3'; expected a "
        "variable or quantity of the model: x, w1, b1, w2, b2, z1, a1, z2, yhat\n"
    )
    assert not (tmp_path / "out").exists()


def test_fail_under_exits_2_when_a_submission_scores_below_the_threshold(tmp_path, capsys):
    args = ["grade", str(SCALAR), str(SAMPLE), "--examples", "5", "--out", str(tmp_path)]
    assert main([*args, "--fail-under", "95"]) == 2
    assert "below 95%: sample_student (90%)" in capsys.readouterr().err
    assert main([*args, "--fail-under", "90"]) == 0


@pytest.mark.slow
def test_check_spec_passes_the_bundled_scalar_spec():
    done = run("check-spec", str(SCALAR), "--examples", "10")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("OK")


@pytest.mark.slow
def test_check_spec_catches_a_wrong_answer_key_with_a_minimal_counterexample():
    done = run("check-spec", "tests/fixtures/q2_wrong_key.yaml", "--examples", "20")
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    failing = [line for line in lines if line.startswith("  FAIL")]
    assert len(failing) == 1 and "2.4 dyhat_dw1" in failing[0] and "WRONG KEY" in failing[0]
    start = lines.index(failing[0])
    assert lines[start + 1 : start + 9] == [
        "         x: 1.0",
        "         w1: 0.0",
        "         b1: 0.0",
        "         w2: 1.0",
        "         b2: 0.0",
        "         activation: sigmoid",
        "         answer key: 0.11750185610079725",
        "         reference: 0.058750928050398624",
    ]
    assert done.stdout.endswith("FAILED\n\n")


def test_python_dash_m_harness_is_the_harness_command():
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("harness ")


@pytest.mark.parametrize(
    ("error", "code", "said"),
    [
        (harness.InternalError("a grading process died"), 3, "harness: internal error: a grading process died"),
        (harness.UsageError("no submissions"), 1, "harness: error: no submissions"),
        (KeyboardInterrupt(), 130, "harness: interrupted"),
    ],
)
def test_errors_map_to_exit_codes_by_their_class(monkeypatch, capsys, error, code, said):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(harness, "grade_all", fail)
    assert main(["grade", str(SCALAR), str(SAMPLE)]) == code
    assert said in capsys.readouterr().err


def test_code_that_cannot_be_isolated_is_refused_unless_declared_trusted(tmp_path, capsys):
    reference = str(ROOT / "submissions" / "reference_solution")
    arguments = ["grade", str(SCALAR), reference, "--examples", "3", "--isolation", "none"]
    assert main([*arguments, "--out", str(tmp_path / "refused")]) == 1
    error = capsys.readouterr().err
    assert "submission code cannot be isolated here" in error and "pass --trusted-code" in error
    assert not (tmp_path / "refused" / "reference_solution").exists()
    assert main([*arguments, "--trusted-code", "--out", str(tmp_path / "trusted")]) == 0
    report = (tmp_path / "trusted" / "reference_solution" / "report.md").read_text()
    assert "NO ISOLATION: submission code runs as the grader (trusted code only)" in report
    assert json.loads((tmp_path / "trusted" / "reference_solution" / "results.json").read_text())[
        "extra_data"]["isolation"].startswith("NO ISOLATION")


def test_a_named_isolation_mode_that_cannot_run_is_an_error_not_a_fallback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on the PATH
    harness.sandbox.detect.cache_clear()
    try:
        code = main(["grade", str(SCALAR), str(ROOT / "submissions" / "reference_solution"), "--examples", "3",
                     "--isolation", "bubblewrap", "--out", str(tmp_path / "out")])
    finally:
        harness.sandbox.detect.cache_clear()
    assert code == 1
    assert "isolation 'bubblewrap' was asked for but cannot run here: bubblewrap unavailable" in capsys.readouterr().err
