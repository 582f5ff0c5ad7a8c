"""The worker process of one submission and the parent's ends of its pipes.

``Worker`` starts ``_worker.py`` on the submission's copy inside the layers ``harness.sandbox``
found (its own session, a cgroup where there is one), frames requests and replies (a 4-byte
length, a JSON header, then raw bytes), reads within a deadline, notices the worker's death
and kills it with everything it started. A reply frame is checked here only as a frame: its
size, that it is JSON and that it holds the run's token; what it says is ``harness.runner_codec``'s
to validate, and which call it answers the session's.

Output: the worker's stdout and stderr share one pipe, drained separately from replies. Before
each reply the worker writes an end-of-output mark (holding the token) to that pipe, so the
parent gives each call exactly the output printed up to its own reply, even when several replies
arrive at once. Output never counts toward a verdict; a student who forges marks only shifts
which of their own calls their output is shown with.
"""

from __future__ import annotations

import collections
import json
import math
import os
import secrets
import select
import signal
import struct
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import sandbox as _sandbox
from harness import uids
from harness.cgroups import WorkerCgroup
from harness.errors import InternalError, UsageError
from harness.mounts import python_executable
from harness.template import TemplateChild, template_for

__all__ = [
    "Limits",
    "Worker",
    "WorkerFailure",
    "escape_text",
    "format_bytes",
    "memory_message",
    "surviving_processes",
    "violation",
]

_HEADER = struct.Struct(">I")
_MAX_REPLY_HEADER = 64 << 10
_OUTPUT_FLOOD_FACTOR = 128  # a call printing more than this many times output_bytes is stopped
_READ_CHUNK = 1 << 16
_REAPING_SECONDS = 5.0  # how long the kernel may take to empty a killed PID namespace
_OUTPUT_PAUSE = 0.005  # after reading output, read it again this much later at the soonest


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's worker (sizes in bytes, times in seconds)."""

    call_timeout: float = 2.0  # per request, wall clock, enforced from the parent
    submission_timeout: float = 120.0  # worker time for the whole submission
    memory_bytes: int = 1 << 30  # RLIMIT_AS per process, and the memory cgroup's limit for the worker
    # and all its children together where there is one; numpy alone needs about 150 MiB
    cpu_seconds: int = 60  # RLIMIT_CPU, per worker process
    file_size_bytes: int = 1 << 20  # RLIMIT_FSIZE
    open_files: int = 64  # RLIMIT_NOFILE
    output_bytes: int = 8192  # captured stdout+stderr kept per call (escaped, truncated)
    max_result_entries: int = 1 << 16  # cap on a returned array's size
    processes: int = 32  # pids cgroup limit (and RLIMIT_NPROC, which root ignores)

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise UsageError(f"Limits.{name} must be a positive number, got {value!r}")
            if math.isinf(value) or math.isnan(value):
                raise UsageError(f"Limits.{name} must be finite, got {value!r}")
        for name in ("memory_bytes", "cpu_seconds", "file_size_bytes", "open_files", "max_result_entries", "processes"):
            if not isinstance(getattr(self, name), int):
                raise UsageError(f"Limits.{name} must be an int, got {getattr(self, name)!r}")


def format_bytes(size: int) -> str:
    """``1 GiB``, ``512 MiB``, ``8 KiB``, ``100 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def escape_text(text: str, limit: int, *, keep_newlines: bool = True) -> str:
    """Escape control characters (terminal escapes, NULs) and cut the result to ``limit`` characters.

    The limit applies to the escaped text: a NUL becomes four characters, so a message of NULs
    may not grow four times past it.
    """
    parts = []
    length = 0
    used = 0
    for character in text:
        code = ord(character)
        if character == "\n" and keep_newlines or character == "\t":
            part = character
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or 0xD800 <= code < 0xE000:
            part = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        else:
            part = character
        if length + len(part) > limit:
            break
        parts.append(part)
        length += len(part)
        used += 1
    escaped = "".join(parts)
    if used < len(text):
        escaped += f"... [{len(text) - used} more characters]"
    return escaped


class WorkerFailure(Exception):
    """The worker did not answer a request properly; it has been (or must be) killed."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.budget_spent = False  # the submission's time is up: not the fault of this request


SUBMISSION_IN_OUTPUT = "<submission>"
"""What the submission's temporary copy is called in captured output (its path changes every run)."""


class Worker:
    """One live worker process and the parent's ends of its three pipes."""

    def __init__(self, limits: Limits, sandbox: _sandbox.Sandbox, place: _sandbox.WorkerPlace,
                 environment: dict[str, str], name: str) -> None:
        """Start a worker on the submission's copy at ``place``; ``name`` names its cgroup where there is one."""
        self.limits = limits
        self.sandbox = sandbox
        self.uid = place.uid
        self.run_id = environment.get("HARNESS_RUN_ID", "")
        copy = place.copy
        # Where the copy lies differs on every run (a temporary folder): output names it alike.
        self.copy_paths = sorted({str(copy), str(Path(copy).resolve())}, key=len, reverse=True)
        self.token = secrets.token_hex(16)
        self.mark = f"\x00harness-end-of-output:{self.token}\x00".encode("ascii")  # as _worker.py writes it
        self.imported: set[str] = set()
        self.next_id = 0
        self.inbox = bytearray()
        self.output = bytearray()  # kept output of the reply being read (capped)
        self.output_total = 0  # its size in bytes, kept or not
        self.output_tail = b""  # bytes that may be the start of a mark split across reads
        self.finished: collections.deque[tuple[bytes, int]] = collections.deque()  # output per reply
        self.marks = 0  # end-of-output marks seen: calls (or replies) the worker has finished
        self.last_mark_at = 0.0  # when the last of them was read
        self.batch_calls = 1  # calls answered by the reply awaited (its payload may hold that many results)
        self.cgroup: WorkerCgroup | None = None
        if sandbox.pids_cgroup is not None or sandbox.memory_cgroup is not None:
            try:
                self.cgroup = WorkerCgroup(
                    sandbox, name, max_processes=self.limits.processes, memory_bytes=self.limits.memory_bytes
                )
            except OSError as error:
                raise InternalError(f"could not create the worker's cgroup {name!r}: {error}") from error
        self.exit_fd: int | None = None  # a pidfd: readable once the worker has exited
        self.exited = False
        request_read, self.request_fd = os.pipe()
        self.reply_fd, reply_write = os.pipe()
        self.output_fd, output_write = os.pipe()
        worker_limits = {
            key: getattr(self.limits, key)
            for key in ("memory_bytes", "cpu_seconds", "file_size_bytes", "open_files", "max_result_entries", "processes")
        }
        try:
            if sandbox.forks_from_template:
                self.process = self._fork(sandbox, place, environment, worker_limits,
                                          (request_read, reply_write, output_write))
            else:
                self.process = self._start(sandbox, place, environment, worker_limits,
                                           (request_read, reply_write, output_write))
        except BaseException:
            self._close_fds()
            if self.cgroup is not None:
                self.cgroup.remove()
            raise
        finally:
            for fd in (request_read, reply_write, output_write):
                os.close(fd)
        for fd in (self.request_fd, self.reply_fd, self.output_fd):
            os.set_blocking(fd, False)
        self.poller = select.poll()
        self.poller.register(self.reply_fd, select.POLLIN)
        self.poller.register(self.output_fd, select.POLLIN)
        self.output_open = True
        self.output_polled = True  # registered with the poller (see _poll)
        self.output_quiet_until = 0.0
        # A child the student forked keeps the reply pipe open after the worker dies; without a
        # pidfd (Linux < 5.3) that death is noticed only when the call's deadline expires.
        try:
            if self.exit_fd is None:
                self.exit_fd = os.pidfd_open(self.process.pid)
            self.poller.register(self.exit_fd, select.POLLIN)
        except (AttributeError, OSError):
            self.exit_fd = None

    def _start(self, sandbox, place, environment, worker_limits, fds) -> subprocess.Popen:
        """Start the worker afresh: ``python -I`` inside bubblewrap, or in the given mode."""
        request_read, reply_write, output_write = fds
        command = sandbox.command(
            place, [str(request_read), str(reply_write), sandbox.submission_path(place), json.dumps(worker_limits)]
        )
        join = self.cgroup.join if self.cgroup else None
        # Mode "uid": join the cgroup as root, then become the submission's uid for good.
        before_exec = uids.become(place.uid, before=join) if sandbox.mode == "uid" else join
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output_write,
                stderr=output_write,
                cwd=place.copy,
                env=environment,
                pass_fds=(request_read, reply_write),
                start_new_session=True,
                preexec_fn=before_exec,
            )
        except OSError as error:
            raise InternalError(f"could not start the submission worker {command[0]!r}: {error}") from error

    def _fork(self, sandbox, place, environment, worker_limits, fds) -> TemplateChild:
        """Fork the worker from this process's template, confined as ``sandbox`` requires."""
        config = sandbox.template_config(
            place, environment, worker_limits, self.cgroup.procs_files() if self.cgroup else []
        )
        child = template_for(python_executable(), sandbox.mode).spawn(config, fds)
        self.exit_fd = child.pidfd
        return child

    # ------------------------------------------------------------------------ transport
    def send(self, header: dict, payload: bytes, deadline: float) -> None:
        """Write one request frame, reading output meanwhile so neither side can block the other."""
        data = json.dumps(dict(header, nbytes=len(payload))).encode()
        view = memoryview(_HEADER.pack(len(data)) + data + payload)
        self.poller.register(self.request_fd, select.POLLOUT)
        try:
            while view:
                for fd, _ in self._poll(deadline):
                    if self.exited:
                        raise self._died()
                    if fd == self.request_fd:
                        try:
                            view = view[os.write(self.request_fd, view) :]
                        except BlockingIOError:
                            pass
                        except BrokenPipeError:
                            raise self._died() from None
        finally:
            self.poller.unregister(self.request_fd)

    def receive(self, deadline: float) -> tuple[dict, bytes]:
        """Read and validate one reply frame."""
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            if self.exited:
                raise self._died()
            self._poll(deadline)

    def has_exited(self) -> bool:
        """Whether the worker process has exited already (without waiting; its pidfd says so)."""
        if self.exited:
            return True
        if self.exit_fd is None:
            return False
        ready = select.poll()
        ready.register(self.exit_fd, select.POLLIN)
        return bool(ready.poll(0))

    def _poll(self, deadline: float) -> list[tuple[int, int]]:
        """Wait for the worker (up to ``deadline``) and read what it sent.

        Output is read at most every ``_OUTPUT_PAUSE`` seconds while replies are awaited: a batch
        writes a mark per call, and waking for each would cost more than the calls. (A worker
        that fills the pipe meanwhile waits that long at most.)
        """
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            raise WorkerFailure("timeout", "")
        if self.output_open and not self.output_polled:
            if now >= self.output_quiet_until:
                self.poller.register(self.output_fd, select.POLLIN)
                self.output_polled = True
            else:
                remaining = min(remaining, self.output_quiet_until - now)
        events = self.poller.poll(max(1, math.ceil(remaining * 1000)))
        for fd, _ in events:
            if fd == self.output_fd:
                self._read_output()
                flood = self.limits.output_bytes * _OUTPUT_FLOOD_FACTOR
                if self.output_total > flood:
                    raise WorkerFailure("output_limit", f"printed more than {format_bytes(flood)} of output; stopped")
                if self.output_open and self.output_polled:
                    self.poller.unregister(self.output_fd)
                    self.output_polled = False
                    self.output_quiet_until = time.monotonic() + _OUTPUT_PAUSE
            elif fd == self.reply_fd:
                self._read_replies(1)
            elif fd == self.exit_fd:
                self.poller.unregister(fd)
                self._read_replies(64)  # what it wrote before it died (bounded: children may write on)
                self.exited = True
        return events

    def _read_replies(self, reads: int) -> None:
        for _ in range(reads):
            try:
                data = os.read(self.reply_fd, _READ_CHUNK)
            except BlockingIOError:
                return
            if not data:
                raise self._died()
            self.inbox += data

    def _read_output(self) -> None:
        try:
            data = os.read(self.output_fd, _READ_CHUNK)
        except BlockingIOError:
            return
        if not data:
            if self.output_open:
                if self.output_polled:
                    self.poller.unregister(self.output_fd)
                    self.output_polled = False
                self.output_open = False
            return
        data = self.output_tail + data
        while (at := data.find(self.mark)) >= 0:
            self._keep(data[:at])
            self.finished.append(self._take())
            self.marks += 1
            self.last_mark_at = time.monotonic()
            data = data[at + len(self.mark) :]
        split = _mark_prefix_length(data, self.mark)
        self._keep(data[: len(data) - split])
        self.output_tail = data[len(data) - split :]

    def _keep(self, data: bytes) -> None:
        room = self.limits.output_bytes + 1 - len(self.output)
        if room > 0:
            self.output += data[:room]
        self.output_total += len(data)

    def _take(self) -> tuple[bytes, int]:
        taken = bytes(self.output), self.output_total
        self.output.clear()
        self.output_total = 0
        return taken

    def read_pending_output(self) -> None:
        """Read what output has arrived (so its marks are counted); bounded, never waits."""
        ready = select.poll()
        ready.register(self.output_fd, select.POLLIN)
        for _ in range(64):
            if not self.output_open or not ready.poll(0):
                return
            self._read_output()

    def drain_output(self) -> str:
        """Return what was printed before the reply just received (up to its mark), escaped.

        Without a mark (the worker died, timed out, or closed its copy of the pipe) it is
        whatever arrived so far.
        """
        if not self.finished:
            ready = select.poll()
            ready.register(self.output_fd, select.POLLIN)
            for _ in range(64):  # bounded: a background thread may print forever
                if self.finished or not self.output_open or not ready.poll(0):
                    break
                self._read_output()
        if self.finished:
            data, total = self.finished.popleft()
            if not total:
                return ""
        else:
            self._keep(self.output_tail)
            self.output_tail = b""
            data, total = self._take()
        limit = self.limits.output_bytes
        text = data.decode("utf-8", errors="backslashreplace")
        for path in self.copy_paths:
            text = text.replace(path, SUBMISSION_IN_OUTPUT)
        if total > limit:
            return escape_text(text[:limit], limit) + f"\n... [{total - limit} more bytes of output not shown]"
        return escape_text(text, limit)

    def _parse(self) -> tuple[dict, bytes] | None:
        if len(self.inbox) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.inbox)
        if size > _MAX_REPLY_HEADER:
            raise violation(f"a reply header of {size} bytes (at most {_MAX_REPLY_HEADER})")
        if len(self.inbox) < _HEADER.size + size:
            return None
        try:
            header = json.loads(bytes(self.inbox[_HEADER.size : _HEADER.size + size]))
        except (ValueError, RecursionError) as error:
            raise violation(f"a reply header that is not JSON ({error})") from None
        if not isinstance(header, dict):
            raise violation("a reply header that is not a JSON object")
        if not secrets.compare_digest(str(header.get("token", "")), self.token):
            raise violation("a reply without the run's token")
        nbytes = header.get("nbytes")
        if type(nbytes) is not int or not 0 <= nbytes <= 8 * self.limits.max_result_entries * self.batch_calls:
            raise violation(f"a payload size of {nbytes!r}")
        end = _HEADER.size + size + nbytes
        if len(self.inbox) < end:
            return None
        payload = bytes(self.inbox[_HEADER.size + size : end])
        del self.inbox[:end]
        return header, payload

    def _died(self) -> WorkerFailure:
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return WorkerFailure("crashed", "the worker closed its reply channel")
        killed = code in (-signal.SIGKILL, 128 + signal.SIGKILL)
        if killed and self.cgroup is not None and self.cgroup.oom_kills() > 0:  # each worker's cgroup is new
            return WorkerFailure("memory", f"{memory_message(self.limits)} (the worker and its child processes together)")
        return WorkerFailure("crashed", _describe_exit(code, self.limits))

    # ------------------------------------------------------------------------ lifetime
    def kill(self) -> None:
        """Kill the worker, its process group and everything in its cgroup; wait for them."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if self.exit_fd is not None:  # forked but not yet in a session of its own
                try:
                    signal.pidfd_send_signal(self.exit_fd, signal.SIGKILL)
                except OSError:
                    pass
        if self.cgroup is not None:
            self.cgroup.kill_all(signal.SIGKILL)
        if self.sandbox.mode == "uid" and self.uid is not None:
            uids.kill_all(self.uid)  # daemons that left the process group and the cgroup
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
            pass
        if self.cgroup is None and self.sandbox.pid_namespace:
            self._kill_namespace()
        if self.cgroup is not None:
            deadline = time.monotonic() + 5
            while not self.cgroup.remove() and time.monotonic() < deadline:
                self.cgroup.kill_all(signal.SIGKILL)
                time.sleep(0.01)
        self._close_fds()

    def _kill_namespace(self) -> None:
        """Without a cgroup to list them: kill what is left of the worker's PID namespace, and wait.

        bubblewrap's init (process 1 of the namespace, in a session of its own) can outlive the
        bwrap that started it; killed from here it takes the namespace with it, which the kernel
        empties soon after, not at once. Processes are found by the run's environment marker.
        """
        deadline = time.monotonic() + _REAPING_SECONDS
        while (left := surviving_processes(self.run_id)) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def _close_fds(self) -> None:
        for fd in (self.request_fd, self.reply_fd, self.output_fd, self.exit_fd):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
        self.request_fd = self.reply_fd = self.output_fd = self.exit_fd = None  # never closed twice


def _mark_prefix_length(data: bytes, mark: bytes) -> int:
    """The length of the longest end of ``data`` that begins ``mark`` (a mark split across reads)."""
    for length in range(min(len(mark) - 1, len(data)), 0, -1):
        if mark.startswith(data[-length:]):
            return length
    return 0


def violation(what: str) -> WorkerFailure:
    """The failure of a worker that sent ``what``, which the protocol does not allow."""
    return WorkerFailure("crashed", f"the worker broke the protocol: {what}")


def memory_message(limits: Limits) -> str:
    """The message of a call, import or worker killed at the memory limit."""
    return f"killed: memory limit {format_bytes(limits.memory_bytes)}"


def _describe_exit(code: int, limits: Limits) -> str:
    # bubblewrap reports a child killed by signal N as exit code 128 + N.
    number = -code if code < 0 else code - 128 if code > 128 else None
    if number is None:
        return f"the worker process exited with code {code} before replying (os._exit?)"
    if number == signal.SIGXCPU:
        return f"killed: CPU time limit {limits.cpu_seconds} s"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGSEGV:
        return f"crashed: segmentation fault ({name})"
    if number == signal.SIGKILL:
        return f"killed ({name}): CPU time limit {limits.cpu_seconds} s, memory, or an external kill"
    return f"killed by {name}"


def surviving_processes(run_id: str) -> list[int]:
    """Pids of live processes started for the run ``run_id`` (found by its environment marker).

    A process that replaced its environment escapes this check; inside bubblewrap's PID
    namespace or a pids cgroup nothing survives ``close()`` anyway.
    """
    marker = f"HARNESS_RUN_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environment.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found
