"""What the worker's fresh root holds: the C library, the Python it runs, and nothing of the grader.

``python_mounts()`` lists read-only binds and symlinks (host path = path inside) that let the
worker's Python start from wherever it lives: the system Python, pyenv, conda, a virtual
environment anywhere (``/tmp`` included) made from any of them through any chain of symlinks.
Both the bubblewrap mode (``bwrap_arguments``) and the harness's own namespace launcher
(``harness/_confine.py``) mount exactly this list.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from pathlib import Path

SANDBOX_WORKER = "/run/harness/_worker.py"
SANDBOX_SUBMISSION = "/submission"
SANDBOX_TMP_BYTES = 16 << 20
WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_LIBRARY_DIRS = ("/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64")
_MAX_LINKS = 40

Mount = tuple[str, str, str]
"""``("bind", source, target)`` or ``("symlink", link_target, link)``."""


def python_executable() -> str:
    """The interpreter the worker runs: the path this Python was started as (a venv needs its link)."""
    return sys.executable if sys.prefix != sys.base_prefix else os.path.realpath(sys.executable)


def resolve_links(path: str, links: list[tuple[str, str]]) -> str:
    """Resolve ``path`` component by component, appending every symlink met as ``(target, link)``."""
    current = "/"
    for part in Path(path).parts[1:]:
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            if len(links) >= _MAX_LINKS:
                return os.path.realpath(candidate)
            target = os.readlink(candidate)
            links.append((target, candidate))
            current = resolve_links(os.path.normpath(os.path.join(current, target)), links)
        else:
            current = candidate
    return current


def _venv_home() -> list[str]:
    """The ``home`` and ``executable`` of a virtual environment's ``pyvenv.cfg`` (where its base lives)."""
    found = []
    try:
        lines = Path(sys.prefix, "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("home", "executable") and os.path.isabs(value.strip()):
            found.append(value.strip())
    return found


def _inside(path: str, folders: list[str]) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") for folder in folders)


def python_mounts() -> list[Mount]:
    """The binds and symlinks the worker's Python and numpy need, outermost folders only."""
    return list(_python_mounts(sys.executable, sys.prefix))


@functools.lru_cache(maxsize=None)
def _python_mounts(executable: str, prefix: str) -> tuple[Mount, ...]:
    """``python_mounts`` for this interpreter (once per process: every worker needs the same)."""
    import numpy  # the worker needs it; so does the harness, so this costs nothing

    mounts: list[Mount] = []
    library_dirs = []
    for directory in _LIBRARY_DIRS:  # the C library and the dynamic loader
        if os.path.islink(directory):
            mounts.append(("symlink", os.readlink(directory), directory))
        elif os.path.isdir(directory):
            mounts.append(("bind", directory, directory))
            library_dirs.append(directory)
    if os.path.isfile("/etc/ld.so.cache"):
        mounts.append(("bind", "/etc/ld.so.cache", "/etc/ld.so.cache"))
    links: list[tuple[str, str]] = []
    wanted = {resolve_links(os.path.abspath(sys.executable), links)}
    # The whole installation (base prefix) and the virtual environment: the interpreter finds its
    # standard library and pyvenv.cfg from the path it was started as, so those paths must exist.
    for prefix in (sys.base_prefix, sys.prefix, sys.exec_prefix, *_venv_home()):
        wanted.add(resolve_links(os.path.abspath(prefix), links))
    wanted.add(resolve_links(str(Path(numpy.__file__).parent.parent), links))
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        wanted.add(resolve_links(sysconfig.get_path(key), links))
    library = Path(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("LDLIBRARY") or "")
    if library.is_file():
        wanted.add(resolve_links(str(library), links))
    existing = sorted(path for path in wanted if os.path.exists(path) and path != "/")
    outermost = [p for p in existing if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in existing)]
    for path in outermost:
        if not _inside(path, library_dirs):
            mounts.append(("bind", path, path))
    bound = library_dirs + outermost
    seen = set()
    for target, link in links:
        if link in seen or _inside(link, bound) or link in _LIBRARY_DIRS:
            continue
        seen.add(link)
        mounts.append(("symlink", target, link))
    return tuple(mounts)


def bwrap_arguments(bwrap: str, submission_copy: Path | None) -> list[str]:
    """bubblewrap options: every namespace, no capabilities, a minimal read-only file system."""
    arguments = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        # The sized /tmp first: a Python or a submission copy under /tmp is bound on top of it.
        "--size",
        str(SANDBOX_TMP_BYTES),
        "--tmpfs",
        "/tmp",
    ]
    for kind, source, target in python_mounts():
        arguments += ["--ro-bind", source, target] if kind == "bind" else ["--symlink", source, target]
    arguments += ["--dev", "/dev"]
    arguments += ["--ro-bind", str(WORKER_SCRIPT), SANDBOX_WORKER]
    if submission_copy is not None:
        arguments += ["--ro-bind", str(submission_copy), SANDBOX_SUBMISSION]
        arguments += ["--chdir", SANDBOX_SUBMISSION]
    # bubblewrap's own root and /dev are unsized tmpfs mounts, and tmpfs pages escape RLIMIT_AS:
    # only the sized /tmp stays writable.
    arguments += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return arguments
