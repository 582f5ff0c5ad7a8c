"""Grade a class in parallel: a warm-up, then a pool of grading processes, one submission per task.

A run is two phases. **Warm-up** computes what every submission needs, once: for each (question,
activation) the survey's inputs and, at each, the quantities and every item's true and given
derivatives; for each claim, its evidence. **Grading** then checks one submission per task. With
``jobs`` processes both phases run in a pool of forked grading processes that never run student
code themselves: each still grades a submission in its own fresh sandboxed worker. The processes
share what they compute through the on-disk ``ReferenceCache`` (a private temporary one when the
persistent cache is off), so a reference is computed about once per run, not once per process.

Results come back to the parent over a pipe as they finish; only the parent writes reports, in
the order submissions finish, and the class summary sorts them, so every file is the same
whatever ``jobs`` is. On Ctrl-C the parent asks each grading process to stop (SIGTERM, which they
turn into ``KeyboardInterrupt`` so each closes its sandbox worker), keeps every finished report
and writes the summary of those.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, TypeVar

from harness.errors import HarnessError, InternalError
from harness.runner import discard_spares
from harness.template import hand_over_templates, take_over_templates

if TYPE_CHECKING:
    from harness.check import Checker

T = TypeVar("T")
R = TypeVar("R")
_STOP_TIMEOUT = 30.0  # seconds a grading process gets to close its sandbox worker on Ctrl-C


def graded(checkers: Sequence[Checker], tasks: Sequence[T], grade: Callable[[T], R], jobs: int) -> Iterator[tuple[int, R]]:
    """Yield ``(index, grade(tasks[index]))`` for every task.

    With one job, in order, in this process. With more, the checkers are first warmed up and
    the tasks then graded by a ``GradingPool``, yielding each result as it finishes. One task
    whose checkers are warm already is graded here too: a pool would only add its start-up.
    Close the generator when leaving early (``contextlib.closing``): that stops the pool.
    """
    if jobs <= 1 or not GradingPool.available() or (len(tasks) == 1 and all(c.is_warm() for c in checkers)):
        for index, task in enumerate(tasks):
            yield index, grade(task)
        return
    pieces = _pieces(checkers)

    def work(job: tuple[str, object]) -> object:
        kind, payload = job
        if kind == "warm":
            number, piece = payload
            return checkers[number].warm_up(piece)
        return grade(payload)

    warm_already = bool(tasks) and all(checker.is_warm() for checker in checkers)
    with GradingPool(work, min(jobs, max(len(pieces), len(tasks)))) as pool:
        if not warm_already:  # a warm-up would only read back, one piece after the other
            for _ in pool.run([("warm", piece) for piece in pieces]):
                pass
        yield from pool.run([("grade", task) for task in tasks])


def warm(checkers: Sequence[Checker], jobs: int) -> None:
    """Compute (or read back) every checker's survey references and claims, with ``jobs`` processes."""
    if jobs <= 1 or not GradingPool.available():
        for number, piece in _pieces(checkers):
            checkers[number].warm_up(piece)
        return
    for _ in graded(checkers, [], lambda task: None, jobs):
        pass


def _pieces(checkers: Sequence[Checker]) -> list[tuple[int, tuple]]:
    return [(number, piece) for number, checker in enumerate(checkers) for piece in checker.warm_up_tasks()]


class GradingPool:
    """``jobs`` forked processes that each run ``function(task)``; results come back as they finish.

    >>> with GradingPool(grade_one, jobs=2) as pool:
    ...     for index, result in pool.run(tasks):
    ...         ...
    """

    def __init__(self, function: Callable[[object], object], jobs: int) -> None:
        self.function = function
        self.jobs = jobs
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._connections: list[multiprocessing.connection.Connection] = []

    @staticmethod
    def available() -> bool:
        """Whether processes can be forked here (the pool relies on inheriting the parent's state)."""
        return "fork" in multiprocessing.get_all_start_methods()

    def __enter__(self) -> GradingPool:
        context = multiprocessing.get_context("fork")
        for number in range(self.jobs):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, self.function), daemon=True)
            process.start()
            hand_over_templates()  # a template started ahead (if any) is that grading process's now
            theirs.close()
            self._processes.append(process)
            self._connections.append(ours)
        return self

    def run(self, tasks: Sequence[object]) -> Iterator[tuple[int, object]]:
        """Yield ``(index, function(tasks[index]))`` as each task finishes, in any order."""
        waiting = iter(enumerate(tasks))
        busy: dict[multiprocessing.connection.Connection, tuple[int, object]] = {}

        def give(connection: multiprocessing.connection.Connection) -> None:
            for index, task in waiting:
                connection.send((index, task))
                busy[connection] = (index, task)
                return

        for connection in self._connections:
            give(connection)
        while busy:
            for connection in multiprocessing.connection.wait(list(busy)):
                index, task = busy.pop(connection)
                try:
                    kind, payload = connection.recv()
                except (EOFError, OSError):
                    raise InternalError(f"a grading process died while working on {task!r}") from None
                if kind == "error":  # the error as the grading process raised it, class and all
                    raise payload
                give(connection)
                yield index, payload

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback_: TracebackType | None
    ) -> None:
        if kind is None:
            for connection in self._connections:
                try:
                    connection.send(None)
                except OSError:
                    pass
        else:  # interrupted or failed: stop the others now; each closes its sandbox worker
            for process in self._processes:
                if process.is_alive():
                    os.kill(process.pid, signal.SIGTERM)
        for process in self._processes:
            process.join(_STOP_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
        for connection in self._connections:
            connection.close()


def _serve(connection: multiprocessing.connection.Connection, function: Callable[[object], object]) -> None:
    """A grading process: run tasks until told to stop; SIGTERM stops it cleanly, Ctrl-C is the parent's.

    It forks its sandbox workers from a worker template its parent started ahead, where there is
    one left (``harness.template.take_over_templates``), else from one it starts itself.
    """
    take_over_templates()
    # A Python-level handler, not SIG_IGN: sandbox workers started from here get the default back.
    signal.signal(signal.SIGINT, _ignore)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, _interrupt)
    try:
        while not _stopping:
            message = connection.recv()
            if message is None:
                return
            try:
                reply = ("ok", function(message[1]))
            except HarnessError as error:  # the family pickles with its class and message
                reply = ("error", error)
            except Exception:  # a bug: the parent reports it as an internal error, traceback and all
                reply = ("error", InternalError(f"a grading process failed:\n{traceback.format_exc()}"))
            connection.send(reply)
    except (KeyboardInterrupt, EOFError, OSError):
        return
    finally:
        discard_spares()  # a forked process runs no atexit hook
        connection.close()


_stopping = False


def _ignore(signum: int, frame: FrameType | None) -> None:
    pass


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Stop: raise ``KeyboardInterrupt`` where it unwinds the task (closing its sandbox worker)."""
    global _stopping
    _stopping = True
    if _swallowed_at(frame):  # a gc callback or __del__ would print the exception and go on
        signal.setitimer(signal.ITIMER_REAL, 0.02)  # try again in a moment, from SIGALRM
        return
    raise KeyboardInterrupt


def _swallowed_at(frame: FrameType | None) -> bool:
    callbacks = {getattr(callback, "__code__", None) for callback in gc.callbacks}
    while frame is not None:
        if frame.f_code in callbacks or frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False
