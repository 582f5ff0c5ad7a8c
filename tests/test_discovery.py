"""Which folders are submissions, and when a submission holds nothing that can be graded."""

from __future__ import annotations

from pathlib import Path

from harness.discovery import is_submission, not_gradable

ROOT = Path(__file__).resolve().parent.parent

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


def test_a_run_of_several_specs_grades_each_submission_against_the_ones_it_answers(tmp_path):
    from harness.discovery import pairs
    from harness.spec import load_spec

    scalar, vector = (load_spec(ROOT / "specs" / name) for name in ("q2_neural_networks.yaml", "q2_neural_networks_vector.yaml"))
    calculus = load_spec(ROOT / "specs" / "calculus_sheet.yaml")
    both = tmp_path / "q2_student"
    both.mkdir()
    (both / "q2_4.py").write_text("def dyhat_dw1(x):\n    return x\n")
    written = tmp_path / "written"
    written.mkdir()
    (written / "answers.yaml").write_text(f'"{calculus.questions[0].id} {calculus.questions[0].items[0].name}": "1"\n')
    empty = tmp_path / "empty"
    empty.mkdir()
    kept, skipped = pairs([scalar, vector, calculus], [both, written, empty])
    assert kept == [(0, both), (0, empty), (1, both), (1, empty), (2, written), (2, empty)]
    assert skipped == [(0, written), (1, written), (2, both)]
    assert pairs([scalar], [written])[0] == [(0, written)]  # one spec: every submission
