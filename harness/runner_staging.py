"""Copy a submission into the temporary folder its worker runs in, leaving out what must not be copied.

What is copied: the files the spec names first (each question's module, ``answers.yaml``), then
every other regular file in name order, under a budget of ``COPY_MAX_FILES`` files and
``COPY_MAX_BYTES`` bytes. What is left out: symbolic links and special files (never followed),
virtual environments, caches, dot-folders, ``node_modules``, the folders the caller excludes (the
run's report folder), folders nested too deep, and whatever is over the budget. ``copy_note``
words what was left out, and why, as one line for the submission's report.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COPY_MAX_BYTES", "COPY_MAX_FILES", "LeftOut", "copy_note", "copy_submission"]

COPY_MAX_FILES = 1000
COPY_MAX_BYTES = 64 << 20
_MAX_DEPTH = 8

CACHES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox"})
"""Folders of tools' caches: regenerated at will, so left out without a word."""

_VENV_NAMES = frozenset({".venv", "venv", "env"})
_VENV_INTERPRETERS = (("bin", "python"), ("Scripts", "python.exe"))

# Reasons, in the order a note lists them (the ones a student may not expect first).
OVER_LIMIT = "over the copy limit"
_REASONS = {  # reason: its plural
    "a virtual environment": "virtual environments",
    "the report folder": "the report folders",
    "node_modules": "node_modules",
    "a dot-folder": "dot-folders",
    "nested too deep": "nested too deep",
    "a symbolic link": "symbolic links",
    "not a regular file": "not regular files",
}


@dataclass(frozen=True)
class LeftOut:
    """A file or folder of the submission that was not copied, and why."""

    path: str
    """Relative to the submission, with ``/`` separators; a folder's ends with ``/``."""
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def copy_submission(
    source: Path, target: Path, *, first: Sequence[str] = (), exclude: Iterable[Path] = (),
) -> tuple[LeftOut, ...]:
    """Copy ``source`` into ``target`` (which must not exist, or be an empty folder); return what was left out, and why.

    ``first``: file names at the top of ``source`` copied before anything else, so the budget
    never runs out before the files grading needs. ``exclude``: folders never copied (the run's
    report folder, when it lies inside the submission). Caches are left out without an entry.
    """
    left_out: list[LeftOut] = []
    budget = {"files": COPY_MAX_FILES, "bytes": COPY_MAX_BYTES}
    excluded = {Path(path).resolve() for path in exclude}
    if not (target.is_dir() and not any(target.iterdir())):  # a prepared worker's empty copy folder
        target.mkdir(mode=0o755)

    def copy_file(path: Path, into: Path, relative: str) -> None:
        if path.is_symlink():
            left_out.append(LeftOut(relative, "a symbolic link"))
        elif not path.is_file():
            left_out.append(LeftOut(relative, "not a regular file"))
        elif not _copy_file(path, into, budget):
            left_out.append(LeftOut(relative, OVER_LIMIT))

    copied_first = set()
    for name in dict.fromkeys(first):
        path = source / name
        if os.path.lexists(path):
            copied_first.add(name)
            copy_file(path, target / name, name)

    def walk(directory: Path, into: Path, depth: int) -> None:
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                relative = Path(os.path.relpath(entry.path, source)).as_posix()
                if depth == 0 and entry.name in copied_first:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    reason = _folder_reason(Path(entry.path), depth, excluded)
                    if reason is None:
                        (into / entry.name).mkdir(mode=0o755)
                        walk(Path(entry.path), into / entry.name, depth + 1)
                    elif reason != "a cache":
                        left_out.append(LeftOut(relative + "/", reason))
                else:
                    copy_file(Path(entry.path), into / entry.name, relative)

    walk(source, target, 0)
    return tuple(left_out)


def _folder_reason(folder: Path, depth: int, excluded: set[Path]) -> str | None:
    name = folder.name
    if name in CACHES:
        return "a cache"
    if (folder / "pyvenv.cfg").exists() or (
        name in _VENV_NAMES and any(os.path.lexists(folder.joinpath(*parts)) for parts in _VENV_INTERPRETERS)
    ):
        return "a virtual environment"
    if folder.resolve() in excluded:
        return "the report folder"
    if name == "node_modules":
        return "node_modules"
    if name.startswith("."):
        return "a dot-folder"
    if depth >= _MAX_DEPTH:
        return "nested too deep"
    return None


def copy_note(left_out: Sequence[LeftOut]) -> str | None:
    """One line for the report saying what was left out of the copy and why; ``None`` if nothing was.

    Folders are named with their reason; files over the budget are counted and summarised by
    their top folder, so a note stays short however many files were dropped.
    """
    if not left_out:
        return None
    parts = []
    for reason, plural in _REASONS.items():
        paths = [entry.path for entry in left_out if entry.reason == reason]
        if paths:
            parts.append(f"{_listing(paths)} ({plural if len(paths) > 1 else reason})")
    over = [entry.path for entry in left_out if entry.reason == OVER_LIMIT]
    if over:
        groups: dict[str, int] = {}
        for path in over:
            top = path.split("/", 1)[0] + ("/" if "/" in path else "")
            groups[top] = groups.get(top, 0) + 1
        listed = [f"{top} ({count:,} files)" if top.endswith("/") else top for top, count in groups.items()]
        parts.append(
            f"{len(over):,} file{'s' if len(over) > 1 else ''} over the copy limit of "
            f"{COPY_MAX_FILES:,} files and {COPY_MAX_BYTES >> 20} MiB: {_listing(listed)}"
        )
    return "left out of the copy graded: " + ", ".join(parts)


def _listing(names: Sequence[str], shown: int = 5) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown:,} more"


def _copy_file(source: Path, target: Path, budget: dict[str, int]) -> bool:
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or budget["files"] < 1 or info.st_size > budget["bytes"]:
            return False
        budget["files"] -= 1
        budget["bytes"] -= info.st_size
        with open(fd, "rb", closefd=False) as reader, open(target, "xb") as writer:
            shutil.copyfileobj(reader, writer)
        os.chmod(target, 0o644)
        return True
    finally:
        os.close(fd)
