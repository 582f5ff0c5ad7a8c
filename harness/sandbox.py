"""Detect and build the isolation layers around the worker: bubblewrap, ``unshare -n``, cgroups.

Layers are detected by running them, not by looking for binaries: bubblewrap is installed on
machines where it cannot create namespaces (unprivileged containers, hardened kernels), and the
reason it fails is what an instructor needs to read. ``detect()`` probes once per process.

Each worker gets its own cgroup where the machine allows it (cgroup v1 with writable ``pids`` and
``memory`` hierarchies, or a cgroup v2 subtree with those controllers enabled): ``pids.max`` caps
its processes (root ignores ``RLIMIT_NPROC``) and the memory limit caps the worker *and every
process it starts together* (``RLIMIT_AS`` caps each process alone, so 32 processes could use 32
times the limit). The cgroup also lists every process to kill, even one that left the session.
"""

from __future__ import annotations

import functools
import os
import re
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


_PATH = re.compile(r"/(?:[^\s/:'\"()]+/)+([^\s/:'\"()]+)")
"""An absolute path in a probe's message; its last part is kept."""


@dataclass(frozen=True)
class Sandbox:
    """The isolation layers available on this machine, and why the missing ones are missing."""

    bwrap: str | None = None  # bubblewrap executable, when bubblewrap runs here
    unshare: str | None = None  # `unshare` executable, when `unshare -n` is the fallback
    pids_cgroup: Path | None = None  # a cgroup directory under which per-worker pids cgroups go
    memory_cgroup: Path | None = None  # the same for memory cgroups (the same directory on cgroup v2)
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
                "only Python, numpy and the submission copy visible, all read-only but a "
                f"{SANDBOX_TMP_BYTES >> 20} MiB tmpfs /tmp)"
            ]
        elif self.unshare is not None:
            layers = ["process + unshare -n (no network)"]
        else:
            layers = ["process"]
        if self.pids_cgroup is not None:
            layers.append("pids cgroup")
        if self.memory_cgroup is not None:
            layers.append("memory cgroup (the worker and its children together)")
        layers.append("rlimits")
        text = ", ".join(layers)
        if self.problems:
            # Reports quote this line: paths on this machine (a venv under /tmp) must not reach them.
            text += " (" + "; ".join(_PATH.sub(r"…/\1", problem) for problem in self.problems) + ")"
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
    # bubblewrap's own root and /dev are unsized tmpfs mounts, and tmpfs pages escape RLIMIT_AS:
    # only the sized /tmp stays writable.
    arguments += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return arguments


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"


def probe_bwrap(bwrap: str | None) -> str | None:
    """Run Python with numpy under bubblewrap; return ``None`` if it works, else why not."""
    if bwrap is None:
        return "bubblewrap unavailable: `bwrap` is not installed (apt-get install bubblewrap)"
    probe = "import numpy, os; print(os.getpid(), os.getuid())"
    done = _run_probe([*bwrap_arguments(bwrap, None), "--", python_executable(), "-I", "-c", probe])
    if isinstance(done, str):
        return f"bubblewrap unavailable: {done}"
    pid = done.stdout.split()[0] if done.stdout.split() else ""
    # A fresh PID namespace numbers its processes from 1; the worker is 1 or 2 (after bwrap's init).
    if not pid.isdigit() or int(pid) > 3:
        return f"bubblewrap unavailable: no PID namespace (the probe ran as pid {pid!r})"
    return None


def probe_unshare(unshare: str | None) -> str | None:
    """Check that ``unshare -n`` can create a network namespace; ``None`` if it can."""
    if unshare is None:
        return "unshare -n unavailable: `unshare` is not installed"
    done = _run_probe([unshare, "--net", "--", python_executable(), "-I", "-c", "pass"])
    return f"unshare -n unavailable: {done}" if isinstance(done, str) else None


def _run_probe(command: list[str]) -> subprocess.CompletedProcess | str:
    """Run a probe command; its completed process if it succeeded, else why it failed."""
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            env=_probe_environment(),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode != 0:
        return _first_line(done.stderr)
    return done


def _probe_environment() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1"}


# Per controller: the file that sets its limit, on cgroup v2 and on cgroup v1.
_LIMIT_FILES = {"pids": ("pids.max", "pids.max"), "memory": ("memory.max", "memory.limit_in_bytes")}
_PROBE_MEMORY_BYTES = 1 << 30


def find_cgroup(controller: str) -> tuple[Path | None, str | None]:
    """Find a writable cgroup with ``controller``: ``(directory, None)`` or ``(None, why)``.

    The probe creates a child cgroup and sets its limit, as a worker's cgroup will be set up.
    """
    own: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                own[name] = path
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError as error:
        return None, f"no {controller} cgroup: {error}"
    for mount in mounts:
        fields = mount.split()
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup" and controller in fields[3].split(","):
            base = Path(fields[1]) / own.get(controller, "/").lstrip("/")
        elif fields[2] == "cgroup2" and controller not in own:
            base = Path(fields[1]) / own.get("", "/").lstrip("/")
        else:
            continue
        probe = base / f"harness-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            continue
        try:
            limit = _PROBE_MEMORY_BYTES if controller == "memory" else 1
            _set_limit(probe, controller, limit)
            return base, None
        except OSError:
            continue
        finally:
            probe.rmdir()
    return None, f"no {controller} cgroup: no writable cgroup with the {controller} controller"


def _set_limit(cgroup: Path, controller: str, limit: int) -> None:
    """Write ``controller``'s limit in ``cgroup`` (v2 or v1 file names); swap counts toward memory."""
    v2, v1 = _LIMIT_FILES[controller]
    if (cgroup / v2).exists():
        (cgroup / v2).write_text(f"{limit}\n")
        if controller == "memory" and (cgroup / "memory.swap.max").exists():
            (cgroup / "memory.swap.max").write_text("0\n")
    elif (cgroup / v1).exists():
        (cgroup / v1).write_text(f"{limit}\n")
        if controller == "memory" and (cgroup / "memory.memsw.limit_in_bytes").exists():
            (cgroup / "memory.memsw.limit_in_bytes").write_text(f"{limit}\n")
    else:
        raise FileNotFoundError(f"{cgroup} has no {v2} or {v1}: the {controller} controller is not enabled")


@functools.lru_cache(maxsize=None)
def detect(bwrap: str | None = "", unshare: str | None = "") -> Sandbox:
    """Probe the layers that work here (once per process; pass ``None`` to rule one out).

    ``""`` means "look it up on PATH". Tests pass ``bwrap=None`` to get the fallback layers.
    """
    if bwrap == "":
        bwrap = shutil.which("bwrap")
    if unshare == "":
        unshare = shutil.which("unshare")
    (pids, no_pids), (memory, no_memory) = find_cgroup("pids"), find_cgroup("memory")
    problems = [why for why in (no_pids, no_memory) if why]
    found = dict(pids_cgroup=pids, memory_cgroup=memory)
    bwrap_problem = probe_bwrap(bwrap)
    if bwrap_problem is None:
        return Sandbox(bwrap=bwrap, **found, problems=tuple(problems))
    problems.insert(0, bwrap_problem)
    unshare_problem = probe_unshare(unshare)
    if unshare_problem is not None:
        problems.append(unshare_problem)
        unshare = None
    return Sandbox(unshare=unshare, **found, problems=tuple(problems))


def detect_isolation() -> str:
    """One line saying which isolation submission code gets on this machine (what reports print)."""
    return detect().describe()


class WorkerCgroup:
    """A worker's own cgroups (one per hierarchy): cap its processes and memory, find them all."""

    def __init__(self, sandbox: Sandbox, name: str, *, max_processes: int, memory_bytes: int) -> None:
        self.paths: list[Path] = []
        try:
            if sandbox.pids_cgroup is not None:
                _set_limit(self._make(sandbox.pids_cgroup / name), "pids", max_processes)
            if sandbox.memory_cgroup is not None:
                _set_limit(self._make(sandbox.memory_cgroup / name), "memory", memory_bytes)
        except OSError:
            self.remove()
            raise

    def _make(self, path: Path) -> Path:
        if path not in self.paths:  # cgroup v2: one directory holds both controllers
            path.mkdir()
            self.paths.append(path)
        return path

    def join(self) -> None:
        """Move the calling process into the cgroups (used in the child before exec)."""
        for path in self.paths:
            with open(path / "cgroup.procs", "w") as procs:
                procs.write(str(os.getpid()))

    def pids(self) -> list[int]:
        """The processes now in the cgroups."""
        found: set[int] = set()
        for path in self.paths:
            try:
                found.update(int(pid) for pid in (path / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def oom_kills(self) -> int:
        """How many processes the kernel killed for exceeding the memory limit (0 without one)."""
        for path in self.paths:
            for events in ("memory.events", "memory.oom_control"):  # cgroup v2, v1
                try:
                    lines = (path / events).read_text().splitlines()
                except OSError:
                    continue
                for line in lines:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and value.strip().isdigit():
                        return int(value)
        return 0

    def kill_all(self, signal_number: int) -> None:
        """Signal every process in the cgroups until none is left (forks race with the kill)."""
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
        """Delete the cgroups once they are empty; ``False`` when processes are still dying."""
        removed = True
        for path in self.paths:
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                removed = False
        return removed
