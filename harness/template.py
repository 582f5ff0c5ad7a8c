"""The grader's side of the worker template (``_template.py``): start it, fork workers from it.

Starting a worker afresh costs a Python start and numpy's import, about 0.1 s, for every
submission. The template pays that once per grading process: ``WorkerTemplate`` starts
``_template.py`` (``python -I -B``, a clean environment, its own session, no descriptor of the
grader's but its control socket), and ``spawn`` asks it to fork one submission's worker, which it
confines before any student code runs (see ``_template.py``). What a child sees of the template
is Python, numpy and the worker's code, never anything of the grader or of another submission.

``template_for(sandbox)`` keeps one template per grading process and mode (a process forked by
``--jobs`` starts its own: a socket shared across processes would mix their replies). A template
that died (killed from outside) is replaced on the next spawn.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.errors import InternalError

__all__ = ["TEMPLATE_SCRIPT", "TemplateChild", "WorkerTemplate", "hand_over_templates", "prestart_workers", "probe",
           "take_over_templates", "template_for"]

TEMPLATE_SCRIPT = Path(__file__).with_name("_template.py")
RUN_ID_PLACEHOLDER = "0" * 16  # as _template.py has it
_START_TIMEOUT = 60.0
_MAX_MESSAGE = 1 << 16


class TemplateChild:
    """A worker forked by the template; quacks like the ``subprocess.Popen`` it replaces."""

    def __init__(self, template: WorkerTemplate, pid: int, pidfd: int | None) -> None:
        self.template = template
        self.pid = pid
        self.pidfd = pidfd  # the caller owns it (polls it, closes it)
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code as ``subprocess`` gives it; ``subprocess.TimeoutExpired`` if not by ``timeout``."""
        if self.returncode is None:
            self.returncode = self.template.exit_code(self.pid, timeout)
        return self.returncode


class WorkerTemplate:
    """One running ``_template.py`` and the control socket to it."""

    def __init__(self, python: str, environment: Mapping[str, str]) -> None:
        self.python = python
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        self.errors = tempfile.TemporaryFile()  # its stderr: read if it fails to start, never a pipe that fills
        environment = dict(environment, HARNESS_RUN_ID=RUN_ID_PLACEHOLDER)
        try:
            self.process = subprocess.Popen(
                [python, "-I", "-B", str(TEMPLATE_SCRIPT), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.errors,
                pass_fds=(theirs.fileno(),),
                env=environment,
                cwd="/",
                start_new_session=True,
            )
        except OSError as error:
            ours.close()
            raise InternalError(f"could not start the worker template {python!r}: {error}") from error
        finally:
            theirs.close()
        self.exited: dict[int, int] = {}
        self.started = False  # whether its "ready" message has come (awaited on first use)
        self.owner = os.getpid()  # the process that started it (and can wait for it)

    def _await_ready(self) -> None:
        if self.started:
            return
        ready = self._message(time.monotonic() + _START_TIMEOUT)
        if ready is None or ready[0].get("op") != "ready":
            errors = self._stop_and_read_errors()
            raise InternalError(f"the worker template did not start: {errors or 'no message'}")
        self.started = True

    @property
    def alive(self) -> bool:
        if self.owner == os.getpid():
            return self.process.poll() is None
        try:  # taken over by a forked grading process: the template is its parent's child
            os.kill(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def spawn(self, config: dict, fds: Sequence[int]) -> TemplateChild:
        """Fork a worker confined by ``config`` on the pipe ends ``fds`` (request, reply, output)."""
        self._await_ready()
        try:
            socket.send_fds(self.control, [json.dumps({"op": "spawn", "config": config}).encode()], list(fds))
        except OSError as error:
            raise InternalError(f"the worker template is gone ({error})") from error
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            found = self._message(deadline)
            if found is None:
                raise InternalError("the worker template did not answer a spawn request")
            message, received = found
            if message.get("op") == "spawned" and type(message.get("pid")) is int:
                return TemplateChild(self, message["pid"], received[0] if received else None)
            for fd in received:
                os.close(fd)
            if message.get("op") == "error":
                raise InternalError(f"the worker template refused a spawn request: {message.get('message')}")

    def exit_code(self, pid: int, timeout: float | None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while pid not in self.exited:
            if self._message(deadline) is None:
                if not self.alive:
                    raise InternalError(f"the worker template died before reporting the exit of {pid}")
                raise subprocess.TimeoutExpired(f"worker {pid}", timeout or 0.0)
        return self.exited.pop(pid)

    def _message(self, deadline: float | None) -> tuple[dict, list[int]] | None:
        """The next message (an exit report is recorded and returned too); ``None`` at the deadline or EOF."""
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.control], [], [], wait)
            if not ready:
                return None
            try:
                data, fds, _, _ = socket.recv_fds(self.control, _MAX_MESSAGE, 1)
            except OSError:
                return None
            if not data:
                return None
            message = json.loads(data)
            if message.get("op") == "exited":
                self.exited[message["pid"]] = message["code"]
            return message, fds

    def close(self) -> None:
        """Hang up: the template kills what it forked and exits."""
        self.control.close()
        self.errors.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def _stop_and_read_errors(self) -> str:
        self.control.close()
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()
        self.errors.seek(0)
        errors = self.errors.read().decode(errors="replace").strip()
        return errors[-2000:]


def probe(python: str, config: dict, timeout: float = 30.0) -> tuple[int | None, str]:
    """Fork a confined child that only says where it runs: ``(exit code, its output)``.

    The exit code is ``None`` when the template itself cannot start or answer (the output then says why).
    """
    try:
        template = template_for(python, config["mode"])
        output_read, output_write = os.pipe()
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            child = template.spawn(dict(config, probe=True), (request_read, reply_write, output_write))
        finally:
            for fd in (request_read, reply_write, output_write):
                os.close(fd)
        try:
            code = child.wait(timeout)
        finally:
            for fd in (request_write, reply_read, child.pidfd):
                if fd is not None:
                    os.close(fd)
        chunks = []
        while chunk := os.read(output_read, 1 << 16):
            chunks.append(chunk)
        os.close(output_read)
        return code, b"".join(chunks).decode(errors="replace")
    except (InternalError, subprocess.TimeoutExpired, OSError) as error:
        return None, str(error)


_templates: dict[tuple[int, str], WorkerTemplate] = {}
_spares: dict[int, list[WorkerTemplate]] = {}
"""Templates started ahead for the grading processes a pool will fork, by the pid that started them."""


TEMPLATE_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""The template's own environment: nothing of the grader's, nothing of any submission's (each child
replaces it with its runner's; only ``/proc/PID/environ`` still shows this one)."""


def template_for(python: str, mode: str | None = None) -> WorkerTemplate:
    """This process's template (started on first use, restarted if it died); any mode forks from it.

    (``mode`` is accepted for the callers' clarity: a child's config says how to confine it.)
    """
    key = (os.getpid(), python)
    template = _templates.get(key)
    if template is None or not template.alive:
        for stale in [k for k in _templates if k[0] != os.getpid()]:
            del _templates[stale]  # a forked grading process: its parent's templates are not its own
        template = _templates[key] = WorkerTemplate(python, TEMPLATE_ENVIRONMENT)
    return template


def hand_over_templates() -> None:
    """In a process that has just forked a grading process: the first of its templates in line
    (the one it uses, then the spares ``prestart_workers`` started) is that child's from now on
    (``take_over_templates``); this process starts another if it ever needs one."""
    pid = os.getpid()
    for key in [key for key in _templates if key[0] == pid][:1]:
        _templates.pop(key).control.close()  # the child holds its own copy of the socket
        return
    if _spares.get(pid):
        _spares[pid].pop(0).control.close()


def take_over_templates() -> None:
    """In a grading process just forked: use the first of the parent's templates in line (see
    ``hand_over_templates``); the others are its siblings' or its parent's."""
    parent = os.getppid()
    line = [_templates.pop(key) for key in [key for key in _templates if key[0] == parent]]
    line += _spares.pop(parent, [])
    if line:
        _templates[(os.getpid(), line[0].python)] = line[0]


def prestart_workers(count: int = 1) -> None:
    """Start this process's template now, without waiting for it: its Python and numpy load on
    another core while the grader imports its own modules (``harness grade`` calls this first).

    With ``count`` above 1, also that many less one spares, for the grading processes a pool forks
    (each takes one over, see ``hand_over_templates``).
    """
    from harness.mounts import python_executable

    try:
        template_for(python_executable())
        spares = _spares.setdefault(os.getpid(), [])
        while len(spares) < count - 1:
            spares.append(WorkerTemplate(python_executable(), TEMPLATE_ENVIRONMENT))
    except InternalError:
        pass  # said again, with the reason, when a worker is needed
