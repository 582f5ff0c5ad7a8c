"""Copy a submission into the temporary folder its worker runs in, refusing what must not be copied."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

__all__ = ["copy_submission"]

_COPY_MAX_FILES = 1000
_COPY_MAX_BYTES = 64 << 20


def copy_submission(source: Path, target: Path) -> tuple[str, ...]:
    """Copy regular files and folders of ``source`` into ``target``; return what was skipped.

    Symlinks are never followed (a link to a spec or another student's folder would otherwise be
    copied in as its target's content), special files and ``__pycache__`` are skipped, and the
    copy stops at ``_COPY_MAX_FILES`` files or ``_COPY_MAX_BYTES`` bytes.
    """
    skipped: list[str] = []
    budget = {"files": _COPY_MAX_FILES, "bytes": _COPY_MAX_BYTES}

    def walk(directory: Path, into: Path, depth: int) -> None:
        into.mkdir(mode=0o755)
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                relative = os.path.relpath(entry.path, source)
                if entry.is_symlink():
                    skipped.append(f"{relative}: symbolic link")
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name == "__pycache__":
                        continue
                    if depth >= 8:
                        skipped.append(f"{relative}: folder nested too deep")
                    else:
                        walk(Path(entry.path), into / entry.name, depth + 1)
                elif entry.is_file(follow_symlinks=False):
                    if not _copy_file(Path(entry.path), into / entry.name, budget):
                        skipped.append(f"{relative}: over the copy limit")
                else:
                    skipped.append(f"{relative}: not a regular file")

    walk(source, target, 0)
    return tuple(skipped)


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
