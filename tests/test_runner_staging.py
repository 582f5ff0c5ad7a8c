"""The submission copy: what is left out and why, the spec's files first, the note in the report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import GradeOptions, grade, grade_all, load_spec
from harness.runner_staging import COPY_MAX_FILES, LeftOut, copy_note, copy_submission

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "integrations"
TINY = FIXTURES / "tiny.yaml"


def fill(folder: Path, count: int, name: str = "f{}.txt") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        (folder / name.format(number)).write_text("x")


def make_venv(repo: Path, files: int = 3000) -> None:
    """A local virtual environment as `python -m venv .venv` leaves it, with ``files`` small files."""
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (repo / ".venv" / "bin" / "python").write_text("")
    fill(repo / ".venv" / "lib" / "site-packages", files - 2, "m{:04}.py")


def student_repo(path: Path) -> Path:
    path.mkdir()
    for module in (FIXTURES / "student").glob("*.py"):
        shutil.copy(module, path)
    return path


def test_environments_caches_dot_folders_and_node_modules_are_left_out_and_named(tmp_path):
    source = tmp_path / "repo"
    source.mkdir()
    (source / "q1.py").write_text("A = 1\n")
    make_venv(source, files=10)
    fill(source / "env" / "Scripts", 1, "python.exe")
    fill(source / "tools", 1, "pyvenv.cfg")
    fill(source / "venv", 1)  # named like an environment, but it is not one: copied
    for folder in ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox"):
        fill(source / folder, 2)
    fill(source / ".git" / "objects", 3)
    fill(source / ".idea", 1)
    fill(source / "node_modules" / "left-pad", 2)
    fill(source / "src" / "__pycache__", 1)
    left_out = copy_submission(source, tmp_path / "copy")
    copied = sorted(path.relative_to(tmp_path / "copy").as_posix() for path in (tmp_path / "copy").rglob("*"))
    assert copied == ["q1.py", "src", "venv", "venv/f0.txt"]
    assert left_out == (
        LeftOut(".git/", "a dot-folder"), LeftOut(".idea/", "a dot-folder"),
        LeftOut(".venv/", "a virtual environment"), LeftOut("env/", "a virtual environment"),
        LeftOut("node_modules/", "node_modules"), LeftOut("tools/", "a virtual environment"),
    )
    assert copy_note(left_out) == (
        "left out of the copy graded: .venv/, env/, tools/ (virtual environments), node_modules/ "
        "(node_modules), .git/, .idea/ (dot-folders)"
    )


def test_the_spec_files_are_copied_first_and_files_over_the_limit_are_counted(tmp_path):
    source = tmp_path / "repo"
    source.mkdir()
    fill(source / "data", COPY_MAX_FILES + 200)
    (source / "answers.yaml").write_text("{}\n")
    (source / "q1.py").write_text("A = 1\n")
    (source / "zz.txt").write_text("z")
    left_out = copy_submission(source, tmp_path / "copy", first=["q1.py", "answers.yaml", "q9.py"])
    assert (tmp_path / "copy" / "q1.py").read_text() == "A = 1\n"
    assert (tmp_path / "copy" / "answers.yaml").exists()
    assert len(list((tmp_path / "copy").rglob("*.txt"))) == COPY_MAX_FILES - 2
    assert len(left_out) == 203 and {entry.reason for entry in left_out} == {"over the copy limit"}
    assert copy_note(left_out) == (
        "left out of the copy graded: 203 files over the copy limit of 1,000 files and 64 MiB: "
        "data/ (202 files), zz.txt"
    )


def test_without_the_spec_files_first_a_large_folder_would_crowd_them_out(tmp_path):
    source = tmp_path / "repo"
    source.mkdir()
    fill(source / "data", COPY_MAX_FILES)
    (source / "q1.py").write_text("A = 1\n")
    copy_submission(source, tmp_path / "copy")
    assert not (tmp_path / "copy" / "q1.py").exists()  # so the first= order is what saves them


def test_a_long_listing_is_summarised():
    left_out = [LeftOut(f".d{number}/", "a dot-folder") for number in range(8)]
    assert copy_note(left_out) == "left out of the copy graded: .d0/, .d1/, .d2/, .d3/, .d4/ and 3 more (dot-folders)"
    assert copy_note([]) is None


def test_a_student_repo_with_a_venv_grades_exactly_as_without_one(tmp_path, reference_cache):
    assignment = load_spec(TINY)
    options = GradeOptions(cache_dir=reference_cache)
    plain = grade(assignment, student_repo(tmp_path / "plain"), options)
    with_venv = student_repo(tmp_path / "with_venv")
    make_venv(with_venv)
    graded = grade(assignment, with_venv, options)
    assert graded.questions == plain.questions
    assert (graded.score, graded.max_score) == (plain.score, plain.max_score)
    assert plain.notes == ()
    assert graded.notes == ("left out of the copy graded: .venv/ (a virtual environment)",)


def test_the_report_folder_inside_a_submission_is_left_out_and_the_report_says_so(tmp_path, reference_cache):
    repo = student_repo(tmp_path / "repo")
    fill(repo / "reports", COPY_MAX_FILES)  # an earlier run's reports: would crowd out nothing now
    make_venv(repo)
    outcome = grade_all([load_spec(TINY)], [repo], repo / "reports", GradeOptions(cache_dir=reference_cache))
    [[result]] = outcome.results.values()
    note = "left out of the copy graded: .venv/ (a virtual environment), reports/ (the report folder)"
    assert result.notes == (note,)
    assert note in (repo / "reports" / "repo" / "report.md").read_text()


@pytest.mark.parametrize("interpreter", [("bin", "python"), ("Scripts", "python.exe")])
def test_an_environment_without_pyvenv_cfg_is_recognised_by_its_interpreter(tmp_path, interpreter):
    source = tmp_path / "repo"
    fill(source / "venv" / interpreter[0], 1, interpreter[1])
    assert copy_submission(source, tmp_path / "copy") == (LeftOut("venv/", "a virtual environment"),)
