"""Which folders are submissions, and when a submission holds nothing that can be graded."""

from __future__ import annotations

from pathlib import Path

from harness.discovery import is_submission, not_gradable

EXPECTED = ["q1.py", "q2.py"]


def test_an_empty_upload_is_not_gradable(tmp_path):
    (tmp_path / ".DS_Store").write_text("")  # dot-files do not count
    assert not_gradable(tmp_path, EXPECTED) == "the submission is empty"


def test_an_upload_without_any_file_the_spec_names_is_not_gradable(tmp_path):
    (tmp_path / "notes.txt").write_text("my answers are on paper")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "q1.py").write_text("")  # a folder uploaded instead of its files
    assert not_gradable(tmp_path, EXPECTED) == (
        "none of the files the spec names (q1.py, q2.py, answers.yaml, or a write-up: *.md, *.tex) was handed in"
    )


def test_one_expected_file_or_written_answers_make_a_submission_gradable(tmp_path: Path):
    (tmp_path / "q2.py").write_text("")
    assert not_gradable(tmp_path, EXPECTED) is None
    other = tmp_path / "other"
    other.mkdir()
    (other / "answers.yaml").write_text("")
    assert not_gradable(other, EXPECTED) is None and is_submission(other)
