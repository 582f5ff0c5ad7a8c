"""Progress of a grading run on stderr: a bar rewritten in place on a terminal, plain lines elsewhere.

Timings appear here only, never in a report file. The time estimate is the mean time per
finished submission times the number left.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressPrinter", "format_duration", "progress_bar", "progress_line"]

_BAR_WIDTH = 20


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``: whole seconds, rounded."""
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _timing(done: int, total: int, elapsed: float) -> str:
    left = "" if done >= total else f", about {format_duration(elapsed / done * (total - done))} left"
    return f"{format_duration(elapsed)} elapsed{left}"


def progress_line(done: int, total: int, elapsed: float, label: str) -> str:
    """The plain line for logs: ``[3/10] spec.yaml alice: 9/10 (0:12 elapsed, about 0:28 left)``."""
    return f"[{done}/{total}] {label} ({_timing(done, total, elapsed)})"


def progress_bar(done: int, total: int, elapsed: float, label: str, width: int = 80) -> str:
    """The terminal's bar, at most ``width`` characters (the label is cut to fit)::

        [######--------------]  3/10  30%  0:12 elapsed, about 0:28 left  spec.yaml alice: 9/10
    """
    filled = _BAR_WIDTH * done // total if total else _BAR_WIDTH
    percent = 100 * done // total if total else 100
    counts = f"{done:>{len(str(total))}}/{total}"
    line = f"[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {counts} {percent:3}%  {_timing(done, total, elapsed)}"
    room = width - 1 - len(line) - 2  # one column spare: a full line would wrap on some terminals
    if room >= 4:
        line += "  " + (label if len(label) <= room else label[: room - 3] + "...")
    return line[: width - 1]


class ProgressPrinter:
    """A ``grade_all`` progress callback writing to ``stream``; call ``close`` when the run ends.

    On a terminal (``stream.isatty()``) one bar line is rewritten in place with ``\\r`` and ended
    with a newline by ``close``; otherwise each finished submission gets a plain line.
    """

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic,
                 width: Callable[[], int] = lambda: shutil.get_terminal_size().columns) -> None:
        self.stream, self.clock, self.width = stream, clock, width
        self.tty = stream.isatty()
        self.started = clock()
        self._shown = 0  # length of the bar on screen, so a shorter one can blank its tail

    def __call__(self, done: int, total: int, label: str) -> None:
        elapsed = self.clock() - self.started
        if not self.tty:
            print(progress_line(done, total, elapsed, label), file=self.stream, flush=True)
            return
        line = progress_bar(done, total, elapsed, label, self.width())
        self.stream.write("\r" + line.ljust(self._shown))
        self.stream.flush()
        self._shown = len(line)

    def close(self) -> None:
        """End the bar's line (on a terminal, if one was drawn)."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = 0
