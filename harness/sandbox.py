"""Detect the strongest isolation this machine gives the worker, and build the command that uses it.

Four modes; ``detect()`` probes them in this order by running each (once per process), because a
tool that is installed may still be refused its namespaces, and the reason is what an instructor
needs to read:

``namespaces``
    the harness's own launcher (``harness/_confine.py``) builds from the system calls every Linux
    has what bubblewrap builds: mount, PID, IPC, network, UTS and cgroup namespaces (inside a user
    namespace when the grader is an ordinary user), a fresh read-only root, no capabilities,
    ``no_new_privs``, and as root a separate unprivileged uid per submission (``harness.uids``).
    Its workers are forked from a pre-loaded template (``harness.template``), which is why it
    comes first: a worker is ready in about 10 ms instead of 100.
``bubblewrap``
    ``bwrap`` with every namespace, no capabilities, a fresh read-only root (``harness.mounts``),
    for where the harness's namespaces are refused (a setuid bubblewrap without unprivileged user
    namespaces) or when asked for by name; each worker is a fresh ``python -I``.
``uid``
    root where namespaces are refused (Docker's default profile, Gradescope): the worker (forked
    from the template) runs as its submission's own unprivileged uid with no capabilities and no
    new privileges, its files private to that uid; every process of the uid is killed when it
    ends. The host's world-readable files and the network stay reachable.
``process``
    none of the above: the worker runs as the grader. Only for code the user says is trusted
    (``--trusted-code``); otherwise the runner refuses to start.

Per-worker cgroups (``harness.cgroups``) come on top of any mode where the machine has them.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import uids
from harness.cgroups import WorkerCgroup, find_cgroup
from harness.mounts import (
    SANDBOX_SUBMISSION,
    SANDBOX_TMP_BYTES,
    SANDBOX_WORKER,
    WORKER_SCRIPT,
    bwrap_arguments,
    python_executable,
    python_mounts,
)

__all__ = [
    "MODES",
    "SANDBOX_SHM_BYTES",
    "SANDBOX_SUBMISSION",
    "SANDBOX_TMP_BYTES",
    "SANDBOX_WORKER",
    "ISOLATION_CHOICES",
    "WORKER_SCRIPT",
    "Sandbox",
    "WorkerCgroup",
    "WorkerPlace",
    "bwrap_arguments",
    "check_private",
    "choose",
    "detect",
    "detect_isolation",
    "python_executable",
    "python_mounts",
    "readable_by_others",
]

SANDBOX_SHM_BYTES = 4 << 20
MODES = ("bubblewrap", "namespaces", "uid", "process")
_PROBE_TIMEOUT = 30.0

_PATH = re.compile(r"/(?:[^\s/:'\"()]+/)+([^\s/:'\"()]+)")
"""An absolute path in a probe's message; its last part is kept."""


@dataclass(frozen=True)
class Sandbox:
    """The isolation this machine gives workers, and why the stronger modes are missing."""

    mode: str = "process"  # one of MODES
    bwrap: str | None = None  # bubblewrap executable, in mode "bubblewrap"
    user_namespace: bool = False  # mode "namespaces" as an ordinary user (no uid of its own)
    pids_cgroup: Path | None = None  # a cgroup directory under which per-worker pids cgroups go
    memory_cgroup: Path | None = None  # the same for memory cgroups (the same directory on cgroup v2)
    problems: tuple[str, ...] = ()  # why stronger modes are unavailable, one reason each

    @property
    def pid_namespace(self) -> bool:
        """Whether workers run in their own PID namespace (so ``kill(-1)`` stays inside)."""
        return self.mode in ("bubblewrap", "namespaces")

    @property
    def private_filesystem(self) -> bool:
        """Whether workers see only Python, numpy and their copy (not the host's files)."""
        return self.mode in ("bubblewrap", "namespaces")

    @property
    def network_isolated(self) -> bool:
        """Whether workers run in a network namespace with no route out."""
        return self.mode in ("bubblewrap", "namespaces")

    @property
    def own_uid(self) -> bool:
        """Whether each submission's worker runs as its own unprivileged uid."""
        return self.mode == "uid" or (self.mode == "namespaces" and not self.user_namespace)

    @property
    def isolated(self) -> bool:
        """Whether submission code is kept from the grader at all (every mode but "process")."""
        return self.mode != "process"

    def describe(self) -> str:
        """One line naming the active layers, e.g. for a run header and every report."""
        if self.mode == "bubblewrap":
            layers = [
                "bubblewrap (no network, own PID/IPC/UTS/mount/user namespaces, no capabilities, "
                "only Python, numpy and the submission copy visible, all read-only but a "
                f"{SANDBOX_TMP_BYTES >> 20} MiB tmpfs /tmp)"
            ]
        elif self.mode == "namespaces":
            who = (
                "the grader's uid in a user namespace, no capabilities"
                if self.user_namespace
                else "a separate unprivileged uid per submission"
            )
            layers = [
                "namespaces (no network, own PID/IPC/UTS/mount/cgroup namespaces, "
                f"{who}, no new privileges, only Python, numpy and the submission copy visible, "
                f"all read-only but a {SANDBOX_TMP_BYTES >> 20} MiB /tmp and a "
                f"{SANDBOX_SHM_BYTES >> 20} MiB /dev/shm; each worker forked from a template "
                "holding only Python, numpy and the worker)"
            ]
        elif self.mode == "uid":
            layers = [
                "separate unprivileged uid per submission, no new privileges, its files private, "
                "every process of the uid killed at the end (no namespaces: world-readable host files "
                "and the network are reachable)"
            ]
        else:
            layers = ["NO ISOLATION: submission code runs as the grader (trusted code only)"]
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

    def command(self, place: WorkerPlace, worker_arguments: Sequence[str]) -> list[str]:
        """The argv that starts a fresh worker on ``place`` under bubblewrap (every other mode forks
        its workers from the template: ``template_config``)."""
        if self.mode != "bubblewrap":
            raise ValueError(f"mode {self.mode!r} forks its workers from the template; it has no command")
        return [*bwrap_arguments(self.bwrap, place.copy), "--", python_executable(), "-I", "-B", SANDBOX_WORKER,
                *worker_arguments]

    @property
    def forks_from_template(self) -> bool:
        """Whether workers are forked from a pre-loaded template (``harness.template``), not started afresh.

        Every mode but bubblewrap: a process cannot be forked into bubblewrap's namespaces.
        """
        return self.mode != "bubblewrap"

    def template_config(self, place: WorkerPlace, environment: dict[str, str], worker_limits: dict,
                        cgroup_procs: Sequence[str]) -> dict:
        """What ``_template.py`` needs to confine one worker it forks on ``place``."""
        config = {
            "mode": self.mode,
            "environment": dict(environment),
            "cwd": str(place.copy),
            "submission": self.submission_path(place),
            "limits": worker_limits,
            "cgroup_procs": list(cgroup_procs),
            "uid": place.uid if self.mode == "uid" else None,
        }
        if self.mode == "namespaces":
            config["confine"] = confine_config(place.root, place.copy, None if self.user_namespace else place.uid,
                                               self.user_namespace, ())
        return config

    def submission_path(self, place: WorkerPlace) -> str:
        """Where the worker finds the submission copy (its path inside the sandbox)."""
        return SANDBOX_SUBMISSION if self.private_filesystem else str(place.copy)

    def temporary_path(self, place: WorkerPlace) -> str:
        """The worker's ``HOME`` and ``TMPDIR``."""
        return "/tmp" if self.private_filesystem else str(place.tmp)


@dataclass(frozen=True)
class WorkerPlace:
    """Where one submission's worker lives on the host: its copy, its tmp, its uid."""

    copy: Path  # the submission copy
    tmp: Path  # HOME and TMPDIR outside a private file system
    root: Path  # an empty folder the namespace launcher mounts the worker's root on
    worker_script: Path  # the worker script the uid can read (modes "uid" and "process")
    uid: int | None  # the submission's own uid (root in modes "namespaces" and "uid"), else None


def confine_config(root: Path, copy: Path | None, uid: int | None, user_namespace: bool,
                   close_fds: Sequence[int]) -> dict:
    """The configuration ``_confine.launch`` reads: what to mount, who to become, what to close."""
    mounts = [list(mount) for mount in python_mounts()]
    mounts.append(["bind", str(WORKER_SCRIPT), SANDBOX_WORKER])
    if copy is not None:
        mounts.append(["bind", str(copy), SANDBOX_SUBMISSION])
    return {
        "root": str(root),
        "mounts": mounts,
        "uid": uid,
        "user_namespace": user_namespace,
        "tmp_bytes": SANDBOX_TMP_BYTES,
        "shm_bytes": SANDBOX_SHM_BYTES,
        "chdir": SANDBOX_SUBMISSION if copy is not None else "/",
        "close_fds": list(close_fds),
    }


# ---------------------------------------------------------------------------- probes
def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"


_PROBE = "import numpy, os; print(os.getpid(), os.getuid())"


def _probe_pid(done: subprocess.CompletedProcess) -> str | None:
    """Why the probe did not run in a fresh PID namespace, or ``None``."""
    pid = done.stdout.split()[0] if done.stdout.split() else ""
    # A fresh PID namespace numbers its processes from 1; the worker is 1 or 2 (after bwrap's init).
    if not pid.isdigit() or int(pid) > 3:
        return f"no PID namespace (the probe ran as pid {pid!r})"
    return None


def probe_bwrap(bwrap: str | None) -> str | None:
    """Run Python with numpy under bubblewrap; return ``None`` if it works, else why not."""
    if bwrap is None:
        return "bubblewrap unavailable: `bwrap` is not installed (apt-get install bubblewrap)"
    done = _run_probe([*bwrap_arguments(bwrap, None), "--", python_executable(), "-I", "-c", _PROBE])
    if isinstance(done, str):
        return f"bubblewrap unavailable: {done}"
    why = _probe_pid(done)
    return f"bubblewrap unavailable: {why}" if why else None


def probe_namespaces() -> tuple[str | None, bool]:
    """Fork a child from the worker template, confined in the harness's namespaces: ``(None, user_namespace)`` if it works.

    The probe is the template's own first child, so the template this starts serves the run's workers.
    """
    from harness import template

    user_namespace = os.geteuid() != 0
    uid = None if user_namespace else uids.PROBE_UID
    with tempfile.TemporaryDirectory(prefix="harness-probe-") as folder:
        config = {
            "mode": "namespaces", "environment": {"HARNESS_RUN_ID": template.RUN_ID_PLACEHOLDER, "PATH": "/usr/bin:/bin"},
            "cwd": "/", "submission": "/", "limits": {}, "cgroup_procs": [], "uid": None,
            "confine": confine_config(Path(folder), None, uid, user_namespace, ()),
        }
        code, output = template.probe(python_executable(), config)
    if code != 0:
        why = output.strip().splitlines()[-1] if output.strip() else f"the probe exited with code {code}"
        return f"namespaces unavailable: {why}", user_namespace
    done = subprocess.CompletedProcess([], 0, stdout=output, stderr="")
    why = _probe_pid(done)
    if why is None and uid is not None and done.stdout.split()[1:2] != [str(uid)]:
        why = f"the probe did not run as its own uid (it ran as {done.stdout.split()[1:2]})"
    return (f"namespaces unavailable: {why}" if why else None), user_namespace


def probe_uid() -> str | None:
    """As root, run Python with numpy as an unprivileged uid; ``None`` if it works, else why not."""
    if os.geteuid() != 0:
        return "a uid per submission needs root (the grader runs as an ordinary user)"
    done = _run_probe([python_executable(), "-I", "-c", _PROBE], preexec_fn=uids.become(uids.PROBE_UID))
    if isinstance(done, str):
        return f"a uid per submission unavailable: {done} (can the uid {uids.PROBE_UID} read the Python installation?)"
    return None


def _run_probe(command: list[str], preexec_fn=None) -> subprocess.CompletedProcess | str:
    """Run a probe command; its completed process if it succeeded, else why it failed."""
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            env=_probe_environment(),
            cwd="/",
            preexec_fn=preexec_fn,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    if done.returncode != 0:
        return _first_line(done.stderr)
    return done


def _probe_environment() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1"}


@functools.lru_cache(maxsize=None)
def detect(bwrap: str | None = "", *, namespaces: bool = True, uid: bool = True) -> Sandbox:
    """Probe the strongest mode that works here (once per process).

    The harness's own namespaces come first: they isolate as bubblewrap does, and their workers
    are forked from a pre-loaded template (``harness.template``) instead of starting Python afresh
    for every submission, ten times faster. ``bwrap=""`` looks bubblewrap up on PATH; ``None``
    rules it out, as ``namespaces=False`` and ``uid=False`` rule out the other modes (tests and
    ``choose`` use them to get each mode).
    """
    if bwrap == "":
        bwrap = shutil.which("bwrap")
    (pids, no_pids), (memory, no_memory) = find_cgroup("pids"), find_cgroup("memory")
    cgroup_problems = [why for why in (no_pids, no_memory) if why]
    found = dict(pids_cgroup=pids, memory_cgroup=memory)
    namespace_problem = "namespaces not tried"
    if namespaces:
        namespace_problem, user_namespace = probe_namespaces()
        if namespace_problem is None:
            return Sandbox(mode="namespaces", user_namespace=user_namespace, **found, problems=tuple(cgroup_problems))
    bwrap_problem = probe_bwrap(bwrap)
    if bwrap_problem is None:
        problems = ([namespace_problem] if namespaces else []) + cgroup_problems
        return Sandbox(mode="bubblewrap", bwrap=bwrap, **found, problems=tuple(problems))
    problems = [bwrap_problem, namespace_problem]
    if uid:
        uid_problem = probe_uid()
        if uid_problem is None:
            return Sandbox(mode="uid", **found, problems=tuple(problems + cgroup_problems))
        problems.append(uid_problem)
    return Sandbox(mode="process", **found, problems=tuple(problems + cgroup_problems))


def readable_by_others(path: Path) -> bool:
    """Whether a user who is neither the owner nor in the group can read ``path`` (as mode "uid"'s workers).

    True when every folder above it may be searched by others and the path itself read by them.
    """
    try:
        path = Path(path).resolve()
        if not path.exists():
            return False
        if not path.stat().st_mode & 0o004:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in path.parents)
    except OSError:
        return False


def check_private(sandbox: Sandbox, paths: Sequence[Path | None]) -> None:
    """In mode "uid" workers see the host's files: refuse when the grader's own are readable by all.

    ``paths`` are what a submission must never read (the spec and its answer keys, the lock, the
    reference cache, the report folder); ``None`` entries are skipped.
    """
    from harness.errors import SandboxUnavailable

    if sandbox.mode != "uid":
        return
    exposed = [str(path) for path in paths if path is not None and readable_by_others(Path(path))]
    if exposed:
        raise SandboxUnavailable(
            "without namespaces each submission runs as an unprivileged uid of its own, which can read "
            "whatever every user may: " + ", ".join(exposed) + " (answer keys, true values or reports). "
            "Make them private first (chmod -R go-rwx on their folder, as the Gradescope bundle does "
            "with /autograder/source), or grade where bubblewrap or user namespaces run."
        )


ISOLATION_CHOICES = ("auto", "bubblewrap", "namespaces", "uid", "none")


def choose(isolation: str = "auto") -> Sandbox:
    """The sandbox for ``--isolation``: the strongest that works (``auto``), or exactly the mode named.

    Naming a mode that cannot run here raises ``SandboxUnavailable`` with the probes' reasons;
    ``none`` runs code as the grader and is accepted only for trusted code (see the runner).
    """
    from harness.errors import SandboxUnavailable, UsageError

    if isolation not in ISOLATION_CHOICES:
        raise UsageError(f"isolation must be one of {', '.join(ISOLATION_CHOICES)}, got {isolation!r}")
    if isolation == "auto":
        return detect()
    if isolation == "none":
        return Sandbox(mode="process", problems=("isolation none was asked for",))
    found = {
        "bubblewrap": detect(namespaces=False),
        "namespaces": detect(bwrap=None),
        "uid": detect(bwrap=None, namespaces=False),
    }[isolation]
    if found.mode != isolation:
        raise SandboxUnavailable(
            f"isolation {isolation!r} was asked for but cannot run here: " + "; ".join(found.problems)
        )
    return found


def detect_isolation() -> str:
    """One line saying which isolation submission code gets on this machine (what reports print)."""
    return detect().describe()


def main() -> None:  # pragma: no cover - `python -m harness.sandbox`: what this machine gives
    print(detect().describe())


if __name__ == "__main__":  # pragma: no cover
    main()
