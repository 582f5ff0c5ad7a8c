"""The pytest plugin, run by pytest itself through the pytester fixture, in a student repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

# Imported here, before pytester's in-process runs, so that they keep these modules (numpy cannot
# be imported twice in a process) and reuse them rather than reloading them for each run.
from harness.errors import SpecError
from harness.grading import grade
from harness.report import render_item_text
from harness.spec import load_spec
import harness.pytest_plugin

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "integrations"


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A student repository whose pyproject.toml points the harness at specs/tiny.yaml."""
    # An installed harness registers the plugin through its entry point too; each test loads it
    # with -p instead, so it runs the same whether the harness is installed or not.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    (pytester.path / "specs").mkdir()
    shutil.copy(FIXTURES / "tiny.yaml", pytester.path / "specs")
    (pytester.path / "pyproject.toml").write_text(
        '[tool.harness]\nspecs = ["specs/tiny.yaml"]\nsubmission = "."\n'
    )
    return pytester


def hand_in(repo: pytest.Pytester, student: str) -> None:
    for path in (FIXTURES / student).glob("*.py"):
        shutil.copy(path, repo.path)


def run(repo: pytest.Pytester, *args: str) -> pytest.RunResult:
    return repo.runpytest("-p", "harness.pytest_plugin", *args)


def test_a_correct_submission_passes_every_item_under_its_question_id(repo):
    hand_in(repo, "correct")
    result = run(repo, "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([
        "specs/tiny.yaml::1.1::dy_dw PASSED*",
        "specs/tiny.yaml::1.1::dy_dx PASSED*",
        "specs/tiny.yaml::1.1::dy_dx_changes_with_w PASSED*",
        "specs/tiny.yaml::1.2::dz_dw PASSED*",
        "*= harness score =*",
        "specs/tiny.yaml: 5 / 5 points on the 4 item(s) run",
    ])


def test_the_header_prints_how_to_reproduce_the_run(repo):
    result = run(repo, "--collect-only", "--harness-seed", "9")
    result.stdout.fnmatch_lines([
        "harness: grading . (settings from pyproject.toml)",
        "harness: specs/tiny.yaml: seed 9, 5 examples per item; reproduce with --harness-seed=9 "
        "--harness-examples=5",
        "harness: isolation: *rlimits*",
    ])


def test_a_wrong_answer_fails_with_the_reports_diagnosis_not_a_traceback(repo):
    hand_in(repo, "student")
    result = run(repo, "-k", "1.1")
    result.assert_outcomes(passed=2, failed=1, deselected=1)
    assignment = load_spec(repo.path / "specs" / "tiny.yaml")
    graded = grade(assignment, repo.path)
    wrong = next(item for item in graded.items if item.name == "dy_dx")
    # The failure is exactly the report's text: diagnosis, where, minimal counterexample.
    assert f"{'_' * 10} 1.1 dy_dx {'_' * 10}" in result.stdout.str()
    assert render_item_text(wrong) in result.stdout.str()
    assert "Where: q1.py, line 8" in render_item_text(wrong)
    assert "Traceback" not in result.stdout.str() and "harness/" not in result.stdout.str()
    result.stdout.fnmatch_lines(["FAILED specs/tiny.yaml::1.1::dy_dx - sign error*"])


def test_a_function_that_raises_fails_showing_its_exception_at_the_smallest_input(repo):
    repo.makepyfile(q1="def dy_dw(x, y):\n    return y * (1 - y) / x\n")
    result = run(repo, "-k", "dy_dw")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*_ 1.1 dy_dw _*", "Where: q1.py, line 1", "*x = 0*", "Error:", "*ZeroDivisionError*"])
    assert "Traceback" not in result.stdout.str()


def test_a_missing_module_is_an_error_saying_which_file_is_missing(repo):
    hand_in(repo, "student")
    result = run(repo, "-k", "1.2")
    result.assert_outcomes(errors=1, deselected=3)
    result.stdout.fnmatch_lines([
        "*_ ERROR at setup of 1.2 dz_dw _*",
        "missing file q2.py",
        "",
        "The submission has no file q2.py; question 1.2 expects dz_dw in it.",
        "",
        "Where: q2.py",
    ])


def test_a_module_that_fails_to_load_makes_each_of_its_items_an_error(repo):
    repo.makepyfile(q1="raise RuntimeError('unfinished')\n")
    result = run(repo, "-k", "1.1")
    result.assert_outcomes(errors=3, deselected=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of 1.1 dy_dw*", "q1.py could not be loaded: *unfinished*"])


def test_minus_k_grades_only_the_selected_items(repo):
    hand_in(repo, "correct")
    result = run(repo, "-k", "1.2 or dy_dw")
    result.assert_outcomes(passed=2, deselected=2)
    result.stdout.fnmatch_lines(["*= harness score =*", "specs/tiny.yaml: 3 / 3 points on the 2 item(s) run"])


def test_an_item_is_checked_only_when_its_test_runs(repo):
    hand_in(repo, "correct")
    recorder = repo.inline_run("-p", "harness.pytest_plugin", "-k", "dy_dw")
    recorder.assertoutcome(passed=1)
    state = recorder.getcall("pytest_sessionfinish").session.config.stash[harness.pytest_plugin._STATE]
    (grader,) = state.graders.values()
    assert list(grader._checked) == [("1.1", "dy_dw")]


def test_under_xdist_each_worker_checks_its_share_and_the_score_appears_once(repo):
    hand_in(repo, "student")
    result = repo.runpytest_subprocess("-p", "harness.pytest_plugin", "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    summary = [line for line in result.outlines if "points on the" in line]
    assert summary == ["specs/tiny.yaml: 3 / 5 points on the 4 item(s) run"]


def verdicts(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("specs/tiny.yaml")]


def test_a_local_venv_in_the_repository_changes_no_verdict(repo):
    hand_in(repo, "student")
    without = run(repo, "-v")
    (repo.path / ".venv" / "bin").mkdir(parents=True)
    (repo.path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (repo.path / ".venv" / "bin" / "python").write_text("")
    for number in range(3000):  # far over the copy's 1,000 files, all sorted before q1.py
        (repo.path / ".venv" / f"m{number:04}.py").write_text("x")
    with_venv = run(repo, "-v")
    with_venv.assert_outcomes(passed=2, failed=1, errors=1)
    assert verdicts(with_venv) == verdicts(without) and len(verdicts(without)) == 5
    assert "specs/tiny.yaml: 3 / 5 points on the 4 item(s) run" in with_venv.outlines


def test_each_item_points_at_the_students_file_and_line(repo):
    hand_in(repo, "student")
    recorded = repo.inline_run("-p", "harness.pytest_plugin", "--collect-only")
    locations = [call.item.location for call in recorded.getcalls("pytest_itemcollected")]
    assert locations == [  # lines are 0-based, as pytest keeps them
        ("q1.py", 3, "1.1 dy_dw"),
        ("q1.py", 7, "1.1 dy_dx"),
        ("q1.py", 11, "1.1 dy_dx_changes_with_w"),
        ("q2.py", None, "1.2 dz_dw"),
    ]


def test_options_enable_the_plugin_without_any_configuration(repo):
    (repo.path / "pyproject.toml").unlink()
    hand_in(repo, "correct")
    result = run(repo, "--harness-spec", "specs/tiny.yaml", "--harness-submission", ".", "-k", "1.2")
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(["harness: grading . (settings from options)"])


def test_a_configuration_error_stops_pytest_with_the_precise_message(repo):
    pyproject = repo.path / "pyproject.toml"
    pyproject.write_text('[tool.harness]\nspecs = ["specs/tiny.yaml"]\nsubmision = "."\n')
    result = run(repo)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[:2] == [
        f"ERROR: harness: {pyproject}:3: at tool.harness.submision: unknown key 'submision'; "
        "expected one of: specs, submission, out, seed, examples, fail_under, require_sandbox, junit, isolation, trusted_code",
        "  hint: did you mean 'submission'?",
    ]


def test_a_missing_spec_option_is_a_usage_error(repo):
    result = run(repo, "--harness-spec", "specs/q3.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == f"ERROR: harness: --harness-spec: no file '{repo.path / 'specs' / 'q3.yaml'}'"


def test_a_malformed_spec_is_a_collection_error_with_the_spec_errors_message(repo):
    spec = repo.path / "specs" / "tiny.yaml"
    spec.write_text(spec.read_text().replace("wrt: w\n        expected: x", "wtr: w\n        expected: x"))
    with pytest.raises(SpecError) as raised:
        load_spec(spec)
    result = run(repo)
    assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest stops on collection errors
    result.stdout.fnmatch_lines(["*ERROR collecting specs/tiny.yaml*"])
    assert str(raised.value).startswith(f"{spec}:47: at questions[1].items[0].wtr: unknown key 'wtr'")
    assert str(raised.value) in result.stdout.str()


def test_a_spec_outside_the_paths_pytest_searches_gets_a_note(repo):
    (repo.path / "pyproject.toml").write_text(
        '[tool.harness]\nspecs = ["specs/tiny.yaml"]\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    )
    repo.mkdir("tests")
    (repo.path / "tests" / "test_own.py").write_text("def test_own():\n    pass\n")
    result = run(repo)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "harness: specs/tiny.yaml was not collected: it is outside the paths pytest searched "
        "(tests); run pytest specs/tiny.yaml, or add its folder to testpaths",
    ])


def test_without_configuration_the_plugin_is_inert_and_imports_nothing_heavy(repo):
    (repo.path / "pyproject.toml").unlink()
    repo.makepyfile(test_light="""
        import sys

        def test_nothing_heavy_was_imported():
            heavy = {"numpy", "hypothesis", "mpmath", "yaml", "harness.spec", "harness.grading"}
            assert heavy.isdisjoint(sys.modules)
    """)
    result = repo.runpytest_subprocess("-p", "harness.pytest_plugin")
    result.assert_outcomes(passed=1)
    assert "harness:" not in result.stdout.str()


def test_importing_the_plugin_imports_only_the_public_api_and_its_version():
    code = ("import sys, harness.pytest_plugin; print(sorted(m for m in sys.modules if m.startswith('harness')), "
            "'numpy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout == "['harness', 'harness._version', 'harness.pytest_plugin'] False\n"


def test_the_plugin_is_registered_through_the_pytest11_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"harness": "harness.pytest_plugin"}


def test_installed_it_loads_through_its_entry_point_and_no_harness_disables_it(repo, tmp_path_factory, monkeypatch):
    # What installing the harness adds for pytest: a distribution with this pytest11 entry point.
    site = tmp_path_factory.mktemp("site")
    (site / "harness_probe-0.dist-info").mkdir()
    (site / "harness_probe-0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: harness-probe\nVersion: 0\n")
    (site / "harness_probe-0.dist-info" / "entry_points.txt").write_text("[pytest11]\nharness = harness.pytest_plugin\n")
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(ROOT)]))
    loaded = repo.runpytest_subprocess("--collect-only")
    loaded.stdout.fnmatch_lines(["harness: grading . (settings from pyproject.toml)", "collected 4 items"])
    disabled = repo.runpytest_subprocess("--collect-only", "-p", "no:harness")
    disabled.stdout.fnmatch_lines(["collected 0 items"])
    assert "harness:" not in disabled.stdout.str()
