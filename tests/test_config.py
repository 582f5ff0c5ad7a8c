"""[tool.harness] / harness.toml: found, read, resolved, and wrong keys reported precisely."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import KEYS, Config, find_config, read_config
from harness.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "integrations"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(SpecError) as raised:
        read_config(path)
    return str(raised.value)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A student repository: a spec under specs/, the student's files at the root."""
    (tmp_path / "specs").mkdir()
    shutil.copy(FIXTURES / "tiny.yaml", tmp_path / "specs")
    shutil.copy(FIXTURES / "student" / "q1.py", tmp_path / "q1.py")
    return tmp_path


def test_the_tool_harness_table_is_read_with_paths_relative_to_the_file(repo):
    pyproject = write(repo / "pyproject.toml", """\
[project]
name = "hw"

[tool.harness]
specs = ["specs/tiny.yaml"]
submission = "."
out = "reports"
seed = 3
examples = 7
fail_under = 80
require_sandbox = true
junit = "reports/junit.xml"
""")
    assert read_config(pyproject) == Config(
        specs=(repo / "specs" / "tiny.yaml",), submission=repo, out=repo / "reports", seed=3,
        examples=7, fail_under=80.0, require_sandbox=True, junit=repo / "reports" / "junit.xml",
        file=pyproject,
    )


def test_the_nearest_configuration_up_the_tree_applies(repo):
    write(repo / "pyproject.toml", '[tool.harness]\nseed = 1\n')
    assert find_config(write(repo / "a" / "b" / "x.txt", "").parent).seed == 1


def test_harness_toml_wins_over_pyproject_and_takes_its_keys_at_the_top_level(repo):
    write(repo / "pyproject.toml", '[tool.harness]\nseed = 1\n')
    write(repo / "harness.toml", 'seed = 2\n')
    config = find_config(repo)
    assert (config.seed, config.file) == (2, repo / "harness.toml")


def test_a_pyproject_without_the_table_is_passed_over(repo):
    write(repo / "pyproject.toml", '[tool.harness]\nseed = 1\n')
    write(repo / "student" / "pyproject.toml", '[project]\nname = "derivgrade-harness"\n')
    assert find_config(repo / "student").seed == 1


def test_no_configuration_anywhere_gives_empty_settings(tmp_path):
    assert find_config(tmp_path) == Config()


def test_a_misspelt_key_names_file_line_key_path_and_the_key_meant(repo):
    pyproject = write(repo / "pyproject.toml", '[project]\nname = "hw"\n\n[tool.harness]\nseed = 1\nfail-under = 80\n')
    assert error_of(pyproject) == (
        f"{pyproject}:6: at tool.harness.fail-under: unknown key 'fail-under'; expected one of: "
        "specs, submission, out, seed, examples, fail_under, require_sandbox, junit, isolation, trusted_code\n"
        "  hint: did you mean 'fail_under'?"
    )


def test_a_wrong_value_shows_what_was_found_and_what_was_expected(repo):
    pyproject = write(repo / "pyproject.toml", '[tool.harness]\nexamples = "many"\n')
    assert error_of(pyproject) == (
        f"{pyproject}:2: at tool.harness.examples: expected an integer >= 1; found 'many' (a string)"
    )


def test_a_percentage_written_with_a_percent_sign_gets_a_hint(repo):
    harness_toml = write(repo / "harness.toml", 'fail_under = "80%"\n')
    assert error_of(harness_toml) == (
        f"{harness_toml}:1: at fail_under: expected a percentage from 0 to 100; found '80%' (a string)\n"
        "  hint: write a number without the % sign, such as 80"
    )


def test_a_spec_that_does_not_exist_is_reported_at_its_key(repo):
    pyproject = write(repo / "pyproject.toml", '[tool.harness]\nspecs = ["specs/tiny.yaml", "specs/q3.yaml"]\n')
    assert error_of(pyproject) == (
        f"{pyproject}:2: at tool.harness.specs: no spec file 'specs/q3.yaml' "
        f"(looked for {repo / 'specs' / 'q3.yaml'})"
    )


def test_specs_may_be_a_folder_or_a_glob(repo):
    write(repo / "harness.toml", 'specs = "specs"\n')
    assert find_config(repo).specs == (repo / "specs" / "tiny.yaml",)
    write(repo / "harness.toml", 'specs = ["specs/*.yaml"]\n')
    assert find_config(repo).specs == (repo / "specs" / "tiny.yaml",)


def test_a_tool_harness_header_in_harness_toml_gets_a_hint(repo):
    harness_toml = write(repo / "harness.toml", '[tool.harness]\nseed = 1\n')
    assert error_of(harness_toml).endswith(
        "unknown key 'tool'; expected one of: specs, submission, out, seed, examples, fail_under, "
        "require_sandbox, junit, isolation, trusted_code\n"
        "  hint: in harness.toml the keys stand at the top level, without a [tool.harness] header"
    )


def test_invalid_toml_is_reported_at_its_line(repo):
    pyproject = write(repo / "pyproject.toml", '[tool.harness]\nseed = = 1\n')
    assert error_of(pyproject) == f"{pyproject}:2: not valid TOML: Invalid value"


def test_command_line_values_override_the_file_and_absent_ones_do_not():
    config = Config(seed=1, examples=5)
    assert config.override(seed=2, examples=None) == Config(seed=2, examples=5)


def test_every_key_is_documented_in_the_integrations_guide():
    guide = (ROOT / "docs" / "integrations.md").read_text()
    assert [name for name in KEYS if f"| `{name}` |" not in guide] == []


def test_harness_grade_with_no_arguments_grades_what_the_configuration_names(repo, monkeypatch, capsys):
    write(repo / "pyproject.toml", '[tool.harness]\nspecs = ["specs/tiny.yaml"]\nsubmission = "."\n'
          'out = "graded"\nfail_under = 90\n')
    monkeypatch.chdir(repo)
    assert main(["grade"]) == 2  # 3 of 5 points is below the configured 90%
    assert (repo / "graded" / repo.name / "report.md").is_file()
    assert capsys.readouterr().err.endswith(f"below 90%: {repo.name} (60%)\n")


def test_a_configuration_error_stops_the_command_with_exit_code_1(repo, monkeypatch, capsys):
    pyproject = write(repo / "pyproject.toml", '[tool.harness]\nsed = 1\n')
    monkeypatch.chdir(repo)
    assert main(["grade"]) == 1
    assert capsys.readouterr().err == (
        f"harness: error: {pyproject}:2: at tool.harness.sed: unknown key 'sed'; expected one of: "
        "specs, submission, out, seed, examples, fail_under, require_sandbox, junit, isolation, trusted_code\n"
        "  hint: did you mean 'seed'?\n"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_configuration_another_user_left_above_the_working_directory_is_passed_over(tmp_path):
    planted = write(tmp_path / "harness.toml", "examples = 1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    assert find_config(repo).examples == 1  # ours: it applies
    os.chown(planted, 1_600_000_123, 1_600_000_123)  # as a submission graded as a uid of its own
    try:
        assert find_config(repo) == Config()
    finally:
        os.chown(planted, os.geteuid(), os.getegid())
