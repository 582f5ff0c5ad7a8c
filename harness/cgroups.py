"""Per-worker cgroups: cap a worker's processes and memory together, and find every process to kill.

Each worker gets its own cgroup where the machine allows it (cgroup v1 with writable ``pids`` and
``memory`` hierarchies, or a cgroup v2 subtree with those controllers enabled): ``pids.max`` caps
its processes (root ignores ``RLIMIT_NPROC``) and the memory limit caps the worker *and every
process it starts together* (``RLIMIT_AS`` caps each process alone, so 32 processes could use 32
times the limit). The cgroup also lists every process to kill, even one that left the session.
The cgroup files belong to the grader: a worker running as its own uid cannot write them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

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

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join (the worker template's children)."""
        return [str(path / "cgroup.procs") for path in self.paths]

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
        """Signal every process in the cgroups until none is left (forks race with the kill).

        With ``SIGKILL`` on cgroup v2 the kernel does it at once (``cgroup.kill``); the processes
        then need a moment to exit, waited for with short sleeps rather than a busy loop.
        """
        if signal_number == signal.SIGKILL:
            for path in self.paths:
                try:
                    (path / "cgroup.kill").write_text("1")
                except OSError:
                    pass
        pause = 0.0002
        for _ in range(1000):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal_number)
                except ProcessLookupError:
                    pass
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

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
