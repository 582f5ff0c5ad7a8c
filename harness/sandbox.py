"""Detect and build the isolation layers around the worker: bubblewrap, ``unshare -n``, cgroups.

Layers are detected by running them, not by looking for binaries: bubblewrap is installed on
machines where it cannot create namespaces (unprivileged containers, hardened kernels), and the
reason it fails is what an instructor needs to read. ``detect()`` probes once per process.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
SANDBOX_WORKER = "/run/harness/_worker.py"
SANDBOX_SUBMISSION = "/submission"
SANDBOX_TMP_BYTES = 16 << 20
_PROBE_TIMEOUT = 30.0
_LIBRARY_DIRS = ("/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64")


@dataclass(frozen=True)
class Sandbox:
    """The isolation layers available on this machine, and why the missing ones are missing."""

    bwrap: str | None = None  # bubblewrap executable, when bubblewrap runs here
    unshare: str | None = None  # `unshare` executable, when `unshare -n` is the fallback
    pids_cgroup: Path | None = None  # a cgroup directory under which per-worker pids cgroups go
    problems: tuple[str, ...] = ()  # why stronger layers are unavailable, one reason each

    @property
    def pid_namespace(self) -> bool:
        """Whether workers run in their own PID namespace (so ``kill(-1)`` stays inside)."""
        return self.bwrap is not None

    @property
    def network_isolated(self) -> bool:
        """Whether workers run in a network namespace with no route out."""
        return self.bwrap is not None or self.unshare is not None

    def describe(self) -> str:
        """One line naming the active layers, e.g. for a run header."""
        if self.bwrap is not None:
            layers = [
                "bubblewrap (no network, own PID/IPC/UTS/mount/user namespaces, no capabilities, "
                "only Python, numpy and the submission copy visible read-only, "
                f"{SANDBOX_TMP_BYTES >> 20} MiB tmpfs /tmp)"
            ]
        elif self.unshare is not None:
            layers = ["process + unshare -n (no network)"]
        else:
            layers = ["process"]
        if self.pids_cgroup is not None:
            layers.append("pids cgroup")
        layers.append("rlimits")
        text = ", ".join(layers)
        if self.problems:
            text += " (" + "; ".join(self.problems) + ")"
        return text

    def command(self, submission_copy: Path, worker_arguments: Sequence[str]) -> list[str]:
        """The argv that starts the worker on ``submission_copy`` inside these layers."""
        python = python_executable()
        if self.bwrap is None:
            prefix = [self.unshare, "--net", "--"] if self.unshare else []
            return [*prefix, python, "-I", "-B", str(WORKER_SCRIPT), *worker_arguments]
        return [
            *bwrap_arguments(self.bwrap, submission_copy),
            "--",
            python,
            "-I",
            "-B",
            SANDBOX_WORKER,
            *worker_arguments,
        ]


def python_executable() -> str:
    """The interpreter the worker runs: the real file, unless a virtual environment needs its link."""
    return sys.executable if sys.prefix != sys.base_prefix else os.path.realpath(sys.executable)


def python_paths() -> list[str]:
    """The directories and files the worker's Python and numpy need, outermost only."""
    import numpy  # the worker needs it; so does the harness, so this costs nothing

    paths = {os.path.realpath(sys.executable), str(Path(numpy.__file__).resolve().parent.parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(os.path.realpath(sysconfig.get_path(key)))
    library = Path(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("LDLIBRARY") or "")
    if library.is_file():
        paths.add(str(library.resolve()))
    if sys.prefix != sys.base_prefix:  # a virtual environment: its pyvenv.cfg and bin/ too
        paths.add(os.path.realpath(sys.prefix))
        paths.add(sys.executable)
    ordered = sorted(p for p in paths if os.path.exists(p))
    return [p for p in ordered if not any(p.startswith(q + os.sep) for q in ordered if q != p)]


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
    ]
    for directory in _LIBRARY_DIRS:  # the C library and the dynamic loader
        if os.path.islink(directory):
            arguments += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            arguments += ["--ro-bind", directory, directory]
    if os.path.isfile("/etc/ld.so.cache"):
        arguments += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for path in python_paths():
        if not any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS if os.path.isdir(d)):
            arguments += ["--ro-bind", path, path]
    arguments += ["--dev", "/dev", "--size", str(SANDBOX_TMP_BYTES), "--tmpfs", "/tmp"]
    arguments += ["--ro-bind", str(WORKER_SCRIPT), SANDBOX_WORKER]
    if submission_copy is not None:
        arguments += ["--ro-bind", str(submission_copy), SANDBOX_SUBMISSION]
        arguments += ["--chdir", SANDBOX_SUBMISSION]
    return arguments


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"


def probe_bwrap(bwrap: str | None) -> str | None:
    """Run Python with numpy under bubblewrap; return ``None`` if it works, else why not."""
    if bwrap is None:
        return "bubblewrap unavailable: `bwrap` is not installed (apt-get install bubblewrap)"
    probe = "import numpy, os; print(os.getpid(), os.getuid())"
    try:
        done = subprocess.run(
            [*bwrap_arguments(bwrap, None), "--", python_executable(), "-I", "-c", probe],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            env=_probe_environment(),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap unavailable: {error}"
    if done.returncode != 0:
        return f"bubblewrap unavailable: {_first_line(done.stderr)}"
    pid = done.stdout.split()[0] if done.stdout.split() else ""
    # A fresh PID namespace numbers its processes from 1; the worker is 1 or 2 (after bwrap's init).
    if not pid.isdigit() or int(pid) > 3:
        return f"bubblewrap unavailable: no PID namespace (the probe ran as pid {pid!r})"
    return None


def probe_unshare(unshare: str | None) -> str | None:
    """Check that ``unshare -n`` can create a network namespace; ``None`` if it can."""
    if unshare is None:
        return "unshare -n unavailable: `unshare` is not installed"
    try:
        done = subprocess.run(
            [unshare, "--net", "--", python_executable(), "-I", "-c", "pass"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            env=_probe_environment(),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare -n unavailable: {error}"
    if done.returncode != 0:
        return f"unshare -n unavailable: {_first_line(done.stderr)}"
    return None


def _probe_environment() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1"}


def find_pids_cgroup() -> tuple[Path | None, str | None]:
    """Find a writable cgroup with the pids controller: ``(directory, None)`` or ``(None, why)``."""
    own: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError as error:
        return None, f"no pids cgroup: {error}"
    for mount in mounts:
        fields = mount.split()
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup" and "pids" in fields[3].split(","):
            base = Path(fields[1]) / own.get("pids", "/").lstrip("/")
        elif fields[2] == "cgroup2" and "pids" not in own:
            base = Path(fields[1]) / own.get("", "/").lstrip("/")
        else:
            continue
        probe = base / f"harness-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            continue
        try:
            if (probe / "pids.max").exists():
                return base, None
        finally:
            probe.rmdir()
    return None, "no pids cgroup: no writable cgroup with the pids controller"


@functools.lru_cache(maxsize=None)
def detect(bwrap: str | None = "", unshare: str | None = "") -> Sandbox:
    """Probe the layers that work here (once per process; pass ``None`` to rule one out).

    ``""`` means "look it up on PATH". Tests pass ``bwrap=None`` to get the fallback layers.
    """
    if bwrap == "":
        bwrap = shutil.which("bwrap")
    if unshare == "":
        unshare = shutil.which("unshare")
    problems = []
    cgroup, why = find_pids_cgroup()
    if why:
        problems.append(why)
    bwrap_problem = probe_bwrap(bwrap)
    if bwrap_problem is None:
        return Sandbox(bwrap=bwrap, pids_cgroup=cgroup, problems=tuple(problems))
    problems.insert(0, bwrap_problem)
    unshare_problem = probe_unshare(unshare)
    if unshare_problem is not None:
        problems.append(unshare_problem)
        unshare = None
    return Sandbox(unshare=unshare, pids_cgroup=cgroup, problems=tuple(problems))


class PidsCgroup:
    """A per-worker pids cgroup: caps its process count and finds every process to kill."""

    def __init__(self, parent: Path, name: str, max_processes: int) -> None:
        self.path = parent / name
        self.path.mkdir()
        (self.path / "pids.max").write_text(f"{max_processes}\n")

    def join(self) -> None:
        """Move the calling process into the cgroup (used in the child before exec)."""
        with open(self.path / "cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))

    def pids(self) -> list[int]:
        """The processes now in the cgroup."""
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self, signal_number: int) -> None:
        """Signal every process in the cgroup until none is left (forks race with the kill)."""
        for _ in range(1000):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal_number)
                except ProcessLookupError:
                    pass

    def remove(self) -> bool:
        """Delete the cgroup once it is empty; ``False`` when processes are still dying."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True
