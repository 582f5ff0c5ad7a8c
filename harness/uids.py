"""A separate unprivileged uid for each submission's worker (when the grader is root).

Root ignores ``RLIMIT_NPROC``, may ptrace, signal and read everything: a worker must never run as
root. ``allocate()`` gives each runner its own uid from a range no account uses (no passwd entry is
needed): ``BASE + 64 * pid + n`` for the grading process's pid, so uids of runners that live at
the same time never collide, across processes too (``--jobs``). Two workers with different uids
cannot signal, trace or read each other; the uid's processes are killed with ``kill_all`` (a
process that becomes the uid and sends ``kill(-1)``: that reaches every process of the uid,
daemons that left their session included, and nothing else) and the files it left in the shared
temporary folders are removed with ``remove_files``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
import shutil
import signal
from collections.abc import Callable, Iterable
from pathlib import Path

BASE = 1_600_000_000
PROBE_UID = BASE - 1
_PER_PROCESS = 64
_SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm")
_PR_SET_NO_NEW_PRIVS = 38
_counter = itertools.count()


def allocate() -> int:
    """A uid no other live runner uses (the caller must be root to use it)."""
    return BASE + _PER_PROCESS * os.getpid() + next(_counter) % _PER_PROCESS


def no_new_privileges() -> None:
    """``prctl(PR_SET_NO_NEW_PRIVS)``: no setuid binary or file capability grants anything after this."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def _switch(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def become(uid: int, before: Callable[[], None] | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: run ``before`` (joining a cgroup needs root), then become ``uid`` for good."""

    def switch() -> None:
        if before is not None:
            before()
        _switch(uid)
        no_new_privileges()

    return switch


def kill_all(uid: int, *, rounds: int = 100) -> None:
    """Kill every process running as ``uid``, until /proc shows none (a fork bomb races the kill).

    ``kill(-1)`` from a process that has become ``uid`` reaches exactly the processes of that uid.
    It cannot say when none is left (it succeeds whenever any other process exists), so the
    parent looks in /proc between rounds.
    """
    for _ in range(rounds):
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the forked child
            try:
                _switch(uid)
                for _ in range(3):
                    os.kill(-1, signal.SIGKILL)  # every process of the uid but this one
                os._exit(0)
            except BaseException:  # noqa: BLE001 - never return into the parent's code
                os._exit(2)
        os.waitpid(child, 0)
        if not processes_of(uid):
            return


def processes_of(uid: int) -> list[int]:
    """Live processes whose real uid is ``uid`` (zombies left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)] and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(entry.name))
    return found


def remove_files(uid: int, folders: Iterable[str] = _SHARED_TEMPORARY) -> list[str]:
    """Delete what ``uid`` left at the top of the shared temporary folders; the paths removed."""
    removed = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
                removed.append(entry.path)
            except OSError:
                continue
    return removed


def give(path: Path, uid: int, mode: int = 0o700) -> None:
    """Make ``path`` and everything under it belong to ``uid`` (the top folder private to it)."""
    for folder, directories, files in os.walk(path):
        for name in [*directories, *files]:
            os.lchown(os.path.join(folder, name), uid, uid)
    os.chown(path, uid, uid)
    os.chmod(path, mode)
