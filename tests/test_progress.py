"""Progress on stderr: the bar and plain lines (pure), a terminal or not, and -q."""

from __future__ import annotations

import io
from pathlib import Path

from harness.cli import main
from harness.progress import ProgressPrinter, format_duration, progress_bar, progress_line

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "integrations"


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def clock(*times: float):
    return iter(times).__next__


def test_durations_are_whole_seconds_with_hours_only_when_needed():
    assert [format_duration(s) for s in (0, 7.4, 59.6, 754, 3723, -1)] == [
        "0:00", "0:07", "1:00", "12:34", "1:02:03", "0:00"]


def test_the_plain_line_has_the_count_the_label_and_the_mean_based_estimate():
    assert progress_line(3, 10, 12.0, "tiny.yaml alice: 9/10") == (
        "[3/10] tiny.yaml alice: 9/10 (0:12 elapsed, about 0:28 left)")
    assert progress_line(10, 10, 40.0, "tiny.yaml zoe: 5/10") == "[10/10] tiny.yaml zoe: 5/10 (0:40 elapsed)"


def test_the_bar_shows_count_percent_elapsed_and_estimate_and_fits_the_width():
    assert progress_bar(3, 10, 12.0, "tiny.yaml alice: 9/10", width=100) == (
        "[######--------------]  3/10  30%  0:12 elapsed, about 0:28 left  tiny.yaml alice: 9/10")
    assert progress_bar(10, 10, 40.0, "x") == "[####################] 10/10 100%  0:40 elapsed  x"
    long = "tiny.yaml a_very_long_submission_name: 9/10"
    assert progress_bar(3, 10, 12.0, long) == (
        "[######--------------]  3/10  30%  0:12 elapsed, about 0:28 left  tiny.yaml ...")
    assert len(progress_bar(3, 10, 12.0, long)) == 79  # one column spare: no wrap, so \r works
    assert progress_bar(3, 10, 12.0, long, width=70) == (
        "[######--------------]  3/10  30%  0:12 elapsed, about 0:28 left")
    assert progress_bar(1, 4, 1.0, "label", width=30) == "[#####---------------] 1/4  2"


def test_on_a_terminal_one_line_is_rewritten_in_place_and_ended_by_close():
    stream = Stream(tty=True)
    printer = ProgressPrinter(stream, clock=clock(0.0, 10.0, 20.0), width=lambda: 100)
    printer(1, 2, "tiny.yaml a_long_name: 5/5")
    printer(2, 2, "tiny.yaml b: 3/5")
    printer.close()
    first = "[##########----------] 1/2  50%  0:10 elapsed, about 0:10 left  tiny.yaml a_long_name: 5/5"
    second = "[####################] 2/2 100%  0:20 elapsed  tiny.yaml b: 3/5"
    assert stream.getvalue() == f"\r{first}\r{second.ljust(len(first))}\n"


def test_elsewhere_each_submission_gets_a_plain_line_and_close_adds_nothing():
    stream = Stream(tty=False)
    printer = ProgressPrinter(stream, clock=clock(0.0, 10.0, 20.0))
    printer(1, 2, "tiny.yaml a: 5/5")
    printer(2, 2, "tiny.yaml b: 3/5")
    printer.close()
    assert stream.getvalue() == (
        "[1/2] tiny.yaml a: 5/5 (0:10 elapsed, about 0:10 left)\n[2/2] tiny.yaml b: 3/5 (0:20 elapsed)\n")


def grade(tmp_path: Path, cache: Path, *args: str, students=("correct", "student")) -> int:
    paths = [str(FIXTURES / "tiny.yaml"), *(str(FIXTURES / s) for s in students)]
    return main(["grade", *paths, "--out", str(tmp_path / "out"), "--cache-dir", str(cache), "--jobs", "1", *args])


def test_quiet_prints_only_the_final_line(tmp_path, capsys, reference_cache):
    assert grade(tmp_path, reference_cache, "-q") == 0
    assert capsys.readouterr().err == f"reports written to {tmp_path / 'out'}\n"
    assert grade(tmp_path, reference_cache, "-q", students=("student",)) == 0
    assert capsys.readouterr().err == f"reports written to {tmp_path / 'out'}\n"


def test_without_quiet_a_log_gets_one_progress_line_per_submission(tmp_path, capsys, reference_cache):
    assert grade(tmp_path, reference_cache) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "[1/2] tiny.yaml correct: 5/5", "[2/2] tiny.yaml student: 3/5", f"reports written to {tmp_path / 'out'}"]
    assert lines[0].endswith(" left)") and lines[1].endswith(" elapsed)")
    assert grade(tmp_path, reference_cache, students=("student",)) == 0
    assert capsys.readouterr().err == f"student: 3/5\nreports written to {tmp_path / 'out'}\n"
