"""Run a submission's code in an isolated worker process and bring back plain numbers.

The grading process never runs student code. ``SubmissionRunner`` copies one submission into a
temporary directory, starts ``_worker.py`` on that copy inside the layers ``harness.sandbox``
found, and talks to it over pipes: requests carry only inputs (never expected values, specs or
reference code), replies are a small JSON header plus raw float64 bytes, both validated here
against caps and rebuilt with ``np.frombuffer``. Nothing the worker sends is unpickled or
evaluated; its exit code and stdout never count toward a verdict.

Every reply is treated as a hostile claim about the call in flight: once student code has run,
the worker process is the student's, and a student who reads the worker's memory can learn the
run token and write frames to the reply fd. That buys nothing a ``return`` statement does not:
the worker never holds an expected value, and a frame for a later call, or any malformed byte,
is a protocol violation that ends the worker and costs only the student's own call. A frame for
an earlier call is dropped: it is the genuine reply whose place a forged one took, and failing
the next request for it would cost an item the forgery never touched. The token stops forgeries
from processes that do not share the worker's memory (a child process started before the token
arrived cannot see it; other submissions' workers do not have it).

Output: the worker's stdout and stderr share one pipe, drained separately from replies. Before
each reply the worker writes an end-of-output mark (holding the token) to that pipe, so the
parent gives each call exactly the output printed up to its own reply, even when several replies
arrive at once. Output never counts toward a verdict; a student who forges marks only shifts
which of their own calls their output is shown with.

Deadlines are wall-clock and enforced here: each request gets ``call_timeout`` and the whole
submission ``submission_timeout`` of worker time. On expiry, crash or memory exhaustion the
worker and everything it started are killed, and the next request starts a fresh one, so one
hang costs only the calls it hung on.
"""

from __future__ import annotations

import collections
import json
import keyword
import math
import os
import secrets
import select
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from harness import sandbox as _sandbox
from harness.errors import HarnessError, SandboxUnavailable, UsageError

_HEADER = struct.Struct(">I")
_MAX_REPLY_HEADER = 64 << 10
_MAX_MESSAGE = 1000
_MAX_SHAPE_DIMENSIONS = 32
_START_TIMEOUT = 60.0  # our own start-up (Python + numpy), never charged to the student
_OUTPUT_FLOOD_FACTOR = 128  # a call printing more than this many times output_bytes is stopped
_COPY_MAX_FILES = 1000
_COPY_MAX_BYTES = 64 << 20
_READ_CHUNK = 1 << 16


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


@dataclass(frozen=True)
class Definition:
    """What a submission module defines under a name."""

    status: str  # "function" | "value" | "missing_module" | "module_error" | "missing_name"
    parameters: tuple[str, ...] = ()  # for functions, in order
    has_varargs: bool = False  # *args or **kwargs present
    value: bool | float | tuple | None = None  # for "value": bool, float or nested tuples
    value_type: str = ""  # type name of the value as the worker saw it
    line: int | None = None  # line of the def in the module file
    message: str = ""  # readable reason for module_error, missing_name, ...


WORKER_ENDING = frozenset({"timeout", "memory", "crashed"})
"""Outcome statuses after which the worker is replaced by a fresh one."""


@dataclass(frozen=True)
class Outcome:
    """The result of one call of a student function."""

    status: str  # "ok" | "exception" | "timeout" | "crashed" | "memory" | "bad_value" | "output_limit" | "skipped"
    value: np.ndarray | None = None  # float64, when status == "ok"
    message: str = ""
    output: str = ""  # captured stdout/stderr, escaped, truncated


def format_bytes(size: int) -> str:
    """``1 GiB``, ``512 MiB``, ``8 KiB``, ``100 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def escape_text(text: str, limit: int, *, keep_newlines: bool = True) -> str:
    """Escape control characters (terminal escapes, NULs) and cut ``text`` to ``limit`` characters."""
    kept = text[:limit]
    parts = []
    for character in kept:
        code = ord(character)
        if character == "\n" and keep_newlines or character == "\t":
            parts.append(character)
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or 0xD800 <= code < 0xE000:
            parts.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            parts.append(character)
    escaped = "".join(parts)
    if len(text) > limit:
        escaped += f"... [{len(text) - limit} more characters]"
    return escaped


class _Failure(Exception):
    """The worker did not answer a request properly; it has been (or must be) killed."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.budget_spent = False  # the submission's time is up: not the fault of this request


class _Worker:
    """One live worker process and the parent's ends of its three pipes."""

    def __init__(self, runner: SubmissionRunner) -> None:
        self.limits = runner.limits
        self.token = secrets.token_hex(16)
        self.mark = f"\x00harness-end-of-output:{self.token}\x00".encode("ascii")  # as _worker.py writes it
        self.imported: set[str] = set()
        self.next_id = 0
        self.inbox = bytearray()
        self.output = bytearray()  # kept output of the reply being read (capped)
        self.output_total = 0  # its size in bytes, kept or not
        self.output_tail = b""  # bytes that may be the start of a mark split across reads
        self.finished: collections.deque[tuple[bytes, int]] = collections.deque()  # output per reply
        self.cgroup: _sandbox.WorkerCgroup | None = None
        self.oom_kills_before = 0  # the memory cgroup's OOM kill count when the last request was sent
        runner.workers_started += 1
        if runner.sandbox.pids_cgroup is not None or runner.sandbox.memory_cgroup is not None:
            name = f"harness-{os.getpid()}-{id(runner):x}-{runner.workers_started}"
            try:
                self.cgroup = _sandbox.WorkerCgroup(
                    runner.sandbox, name, max_processes=self.limits.processes, memory_bytes=self.limits.memory_bytes
                )
            except OSError as error:
                raise HarnessError(f"could not create the worker's cgroup {name!r}: {error}") from error
        self.exit_fd: int | None = None  # a pidfd: readable once the worker has exited
        self.exited = False
        request_read, self.request_fd = os.pipe()
        self.reply_fd, reply_write = os.pipe()
        self.output_fd, output_write = os.pipe()
        worker_limits = {
            key: getattr(self.limits, key)
            for key in ("memory_bytes", "cpu_seconds", "file_size_bytes", "open_files", "max_result_entries", "processes")
        }
        submission = _sandbox.SANDBOX_SUBMISSION if runner.sandbox.bwrap else str(runner.copy)
        command = runner.sandbox.command(
            runner.copy,
            [str(request_read), str(reply_write), submission, json.dumps(worker_limits)],
        )
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output_write,
                stderr=output_write,
                cwd=runner.copy,
                env=runner.environment,
                pass_fds=(request_read, reply_write),
                start_new_session=True,
                preexec_fn=self.cgroup.join if self.cgroup else None,
            )
        except OSError as error:
            self._close_fds()
            if self.cgroup is not None:
                self.cgroup.remove()
            raise HarnessError(f"could not start the submission worker {command[0]!r}: {error}") from error
        finally:
            for fd in (request_read, reply_write, output_write):
                os.close(fd)
        for fd in (self.request_fd, self.reply_fd, self.output_fd):
            os.set_blocking(fd, False)
        self.poller = select.poll()
        self.poller.register(self.reply_fd, select.POLLIN)
        self.poller.register(self.output_fd, select.POLLIN)
        self.output_open = True
        # A child the student forked keeps the reply pipe open after the worker dies; without a
        # pidfd (Linux < 5.3) that death is noticed only when the call's deadline expires.
        try:
            self.exit_fd = os.pidfd_open(self.process.pid)
            self.poller.register(self.exit_fd, select.POLLIN)
        except (AttributeError, OSError):
            self.exit_fd = None

    # ------------------------------------------------------------------------ transport
    def send(self, header: dict, payload: bytes, deadline: float) -> None:
        """Write one request frame, reading output meanwhile so neither side can block the other."""
        data = json.dumps(dict(header, nbytes=len(payload))).encode()
        view = memoryview(_HEADER.pack(len(data)) + data + payload)
        self.oom_kills_before = self.cgroup.oom_kills() if self.cgroup is not None else 0
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

    def _poll(self, deadline: float) -> list[tuple[int, int]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure("timeout", "")
        events = self.poller.poll(max(1, math.ceil(remaining * 1000)))
        for fd, _ in events:
            if fd == self.output_fd:
                self._read_output()
                flood = self.limits.output_bytes * _OUTPUT_FLOOD_FACTOR
                if self.output_total > flood:
                    raise _Failure("output_limit", f"printed more than {format_bytes(flood)} of output; stopped")
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
                self.poller.unregister(self.output_fd)
                self.output_open = False
            return
        data = self.output_tail + data
        while (at := data.find(self.mark)) >= 0:
            self._keep(data[:at])
            self.finished.append(self._take())
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

    def drain_output(self) -> str:
        """Return what was printed before the reply just received (up to its mark), escaped.

        Without a mark (the worker died, timed out, or closed its copy of the pipe) it is
        whatever arrived so far.
        """
        ready = select.poll()
        ready.register(self.output_fd, select.POLLIN)
        for _ in range(64):  # bounded: a background thread may print forever
            if self.finished or not self.output_open or not ready.poll(0):
                break
            self._read_output()
        if self.finished:
            data, total = self.finished.popleft()
        else:
            self._keep(self.output_tail)
            self.output_tail = b""
            data, total = self._take()
        limit = self.limits.output_bytes
        text = data.decode("utf-8", errors="backslashreplace")
        if total > limit:
            return escape_text(text[:limit], limit) + f"\n... [{total - limit} more bytes of output not shown]"
        return escape_text(text, limit)

    def _parse(self) -> tuple[dict, bytes] | None:
        if len(self.inbox) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.inbox)
        if size > _MAX_REPLY_HEADER:
            raise _violation(f"a reply header of {size} bytes (at most {_MAX_REPLY_HEADER})")
        if len(self.inbox) < _HEADER.size + size:
            return None
        try:
            header = json.loads(bytes(self.inbox[_HEADER.size : _HEADER.size + size]))
        except (ValueError, RecursionError) as error:
            raise _violation(f"a reply header that is not JSON ({error})") from None
        if not isinstance(header, dict):
            raise _violation("a reply header that is not a JSON object")
        if not secrets.compare_digest(str(header.get("token", "")), self.token):
            raise _violation("a reply without the run's token")
        nbytes = header.get("nbytes")
        if type(nbytes) is not int or not 0 <= nbytes <= 8 * self.limits.max_result_entries:
            raise _violation(f"a payload size of {nbytes!r}")
        end = _HEADER.size + size + nbytes
        if len(self.inbox) < end:
            return None
        payload = bytes(self.inbox[_HEADER.size + size : end])
        del self.inbox[:end]
        return header, payload

    def _died(self) -> _Failure:
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return _Failure("crashed", "the worker closed its reply channel")
        killed = code in (-signal.SIGKILL, 128 + signal.SIGKILL)
        if killed and self.cgroup is not None and self.cgroup.oom_kills() > self.oom_kills_before:
            return _Failure("memory", f"{_memory_message(self.limits)} (the worker and its child processes together)")
        return _Failure("crashed", _describe_exit(code, self.limits))

    # ------------------------------------------------------------------------ lifetime
    def kill(self) -> None:
        """Kill the worker, its process group and everything in its cgroup; wait for them."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.cgroup is not None:
            self.cgroup.kill_all(signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
            pass
        if self.cgroup is not None:
            deadline = time.monotonic() + 5
            while not self.cgroup.remove() and time.monotonic() < deadline:
                self.cgroup.kill_all(signal.SIGKILL)
                time.sleep(0.01)
        self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self.request_fd, self.reply_fd, self.output_fd, self.exit_fd):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass


def _mark_prefix_length(data: bytes, mark: bytes) -> int:
    """The length of the longest end of ``data`` that begins ``mark`` (a mark split across reads)."""
    for length in range(min(len(mark) - 1, len(data)), 0, -1):
        if mark.startswith(data[-length:]):
            return length
    return 0


def _earlier(reply: dict, request_id: int, index: int | None) -> bool:
    """Whether ``reply`` answers a call before the one awaited (``request_id``, ``index``)."""
    got_id, got_index = reply.get("id"), reply.get("index")
    if type(got_id) is not int:
        return False
    if got_id < request_id:
        return True
    return got_id == request_id and type(got_index) is int and type(index) is int and got_index < index


def _violation(what: str) -> _Failure:
    return _Failure("crashed", f"the worker broke the protocol: {what}")


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


def _check_name(kind: str, value: str) -> None:
    if not isinstance(value, str) or not value.isidentifier() or keyword.iskeyword(value):
        raise UsageError(f"{kind} must be a Python identifier, got {value!r}")


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


class SubmissionRunner:
    """Run one submission's functions in an isolated worker; a context manager.

    >>> with SubmissionRunner(Path("submissions/alice")) as runner:  # doctest: +SKIP
    ...     runner.inspect("q2_4", "dyhat_dw1")
    ...     runner.call("q2_4", "dyhat_dw1", {"x": np.array(0.5), ...})
    """

    def __init__(
        self,
        submission_dir: Path,
        limits: Limits = Limits(),
        *,
        require_sandbox: bool = False,
        sandbox: _sandbox.Sandbox | None = None,
    ) -> None:
        self.submission_dir = Path(submission_dir)
        if not self.submission_dir.is_dir():
            raise UsageError(f"submission folder {str(submission_dir)!r} does not exist or is not a folder")
        self.limits = limits
        self.sandbox = sandbox if sandbox is not None else _sandbox.detect()
        if require_sandbox and not self.sandbox.pid_namespace:
            raise SandboxUnavailable(
                "the bubblewrap sandbox is required but cannot run here: "
                + "; ".join(self.sandbox.problems)
                + ". Install bubblewrap (apt-get install bubblewrap) and allow it to create "
                "namespaces, or grade without --require-sandbox."
            )
        self.isolation = self.sandbox.describe()
        self.workers_started = 0
        self.spent = 0.0  # worker time charged to the submission
        self._resources: dict[str, _Worker] = {}
        self._module_failures: dict[str, tuple[str, str]] = {}
        self._temporary = Path(tempfile.mkdtemp(prefix="harness-run-"))
        # A runner dropped without close() (an exception in the caller, Ctrl-C) still kills its
        # worker and deletes its copy when collected or at interpreter exit.
        self._finalizer = weakref.finalize(self, _cleanup, self._resources, self._temporary)
        self.copy = self._temporary / "submission"
        self.skipped = copy_submission(self.submission_dir, self.copy)
        (self._temporary / "tmp").mkdir()
        self.run_id = secrets.token_hex(8)  # in the worker's environment: lets tests find strays
        self.environment = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": "/tmp" if self.sandbox.bwrap else str(self._temporary / "tmp"),
            "TMPDIR": "/tmp" if self.sandbox.bwrap else str(self._temporary / "tmp"),
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "HARNESS_RUN_ID": self.run_id,
        }

    # ------------------------------------------------------------------------ public API
    def inspect(self, module: str, name: str) -> Definition:
        """Say what ``module.py`` defines under ``name`` (importing it in the worker)."""
        _check_name("module", module)
        _check_name("name", name)
        if not (self.copy / f"{module}.py").is_file():
            return Definition("missing_module", message=f"the submission has no file {module}.py")
        if self._out_of_time():
            return Definition("module_error", message=self._out_of_time_message())
        failure = self._import(module)
        if failure is not None:
            return Definition("module_error", message=failure[1])
        try:
            header, payload = self._request({"op": "inspect", "module": module, "name": name}, b"")
            self._worker.drain_output()
            return _definition(header, payload, self.limits)
        except _Failure as failure:
            self._stop_worker()
            return Definition("module_error", message=f"while looking up {name!r} in {module}.py: {failure.message}")

    def call(self, module: str, name: str, arguments: Mapping[str, np.ndarray]) -> Outcome:
        """Call ``module.name(**arguments)`` once in the worker."""
        return self.call_many(module, name, [arguments])[0]

    def call_many(
        self, module: str, name: str, batch: Sequence[Mapping[str, np.ndarray]], *, give_up_after: int | None = None
    ) -> list[Outcome]:
        """Call ``module.name`` on each mapping of arguments; one round trip when nothing fails.

        With ``give_up_after=n``, once ``n`` calls have ended their worker (timeout, memory kill,
        crash), the remaining calls are not made and come back with status ``"skipped"``: a
        function that hangs then costs one time limit, not one per input.
        """
        _check_name("module", module)
        _check_name("name", name)
        encoded = [_encode_arguments(arguments) for arguments in batch]
        outcomes: list[Outcome] = []
        while len(outcomes) < len(encoded):
            outcomes += self._call_batch(module, name, encoded[len(outcomes) :])
            fatal = [o for o in outcomes if o.status in WORKER_ENDING]
            if give_up_after is not None and len(fatal) >= give_up_after and len(outcomes) < len(encoded):
                message = f"not run: an earlier call {fatal[-1].message}"
                outcomes += [Outcome("skipped", message=message) for _ in encoded[len(outcomes) :]]
        return outcomes

    def close(self) -> None:
        """Kill the worker and everything it started; delete the temporary copy."""
        self._finalizer()

    def __enter__(self) -> SubmissionRunner:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------ internals
    def _call_batch(self, module: str, name: str, encoded: list[tuple[list, bytes]]) -> list[Outcome]:
        """Run calls until the first one that ends the worker; return the outcomes obtained."""
        if not (self.copy / f"{module}.py").is_file():
            message = f"the submission has no file {module}.py"
            return [Outcome("exception", message=message) for _ in encoded]
        if self._out_of_time():
            return [Outcome("timeout", message=self._out_of_time_message()) for _ in encoded]
        failure = self._import(module)
        if failure is not None:
            return [Outcome(failure[0], message=failure[1]) for _ in encoded]
        specs, payload, offset = [], bytearray(), 0
        for described, data in encoded:
            specs.append([[key, offset + start, shape] for key, start, shape in described])
            payload += data
            offset += len(data)
        header = {"op": "call", "id": None, "module": module, "name": name, "calls": specs}
        outcomes: list[Outcome] = []
        try:
            request_id = self._send(header, bytes(payload))
            for index in range(len(encoded)):
                reply, values = self._receive(request_id, index)
                outcome = _outcome(reply, values, self._worker.drain_output(), self.limits)
                outcomes.append(outcome)
                if outcome.status == "memory":  # the worker stops after it; start afresh
                    self._stop_worker()
                    break
        except _Failure as failure:
            output = self._worker.drain_output() if self._worker else ""
            outcomes.append(Outcome(failure.status, message=failure.message, output=output))
            self._stop_worker()
        return outcomes

    def _import(self, module: str) -> tuple[str, str] | None:
        """Import ``module`` in the current worker; return ``(status, message)`` if it failed."""
        if module in self._module_failures:
            return self._module_failures[module]
        if self._worker is not None and module in self._worker.imported:
            return None
        try:
            header, _ = self._request({"op": "import", "module": module}, b"")
            self._worker.drain_output()
            status = header.get("status")
            if status == "ok":
                self._worker.imported.add(module)
                return None
            if status == "memory":
                self._stop_worker()
                failure = ("memory", f"importing {module}.py: {_memory_message(self.limits)}")
            else:
                failure = ("exception", _message(header))
        except _Failure as failure_:
            self._stop_worker()
            failure = (failure_.status, f"importing {module}.py: {failure_.message}")
            if failure_.budget_spent:
                return failure
        self._module_failures[module] = failure
        return failure

    def _request(self, header: dict, payload: bytes) -> tuple[dict, bytes]:
        request_id = self._send(header, payload)
        return self._receive(request_id, None)

    def _send(self, header: dict, payload: bytes) -> int:
        worker = self._ensure_worker()
        worker.next_id += 1
        header = dict(header, id=worker.next_id)
        self._timed(lambda deadline: worker.send(header, payload, deadline))
        return worker.next_id

    def _receive(self, request_id: int, index: int | None) -> tuple[dict, bytes]:
        worker = self._worker

        def awaited(deadline: float) -> tuple[dict, bytes]:
            reply, payload = worker.receive(deadline)
            while _earlier(reply, request_id, index):  # see the module docstring
                worker.drain_output()
                reply, payload = worker.receive(deadline)
            if reply.get("id") != request_id or reply.get("index") != index:
                raise _violation(f"a reply to request {reply.get('id')!r}/{reply.get('index')!r} during request {request_id}")
            return reply, payload

        return self._timed(awaited)

    def _out_of_time(self) -> bool:
        return self.spent >= self.limits.submission_timeout

    def _out_of_time_message(self) -> str:
        return f"submission time limit of {self.limits.submission_timeout:g} s used up"

    def _timed(self, action):
        """Run ``action(deadline)`` under the call and submission deadlines; charge the time."""
        remaining = self.limits.submission_timeout - self.spent
        if remaining <= 0:
            failure = _Failure("timeout", self._out_of_time_message())
            failure.budget_spent = True
            raise failure
        budget = min(self.limits.call_timeout, remaining)
        start = time.monotonic()
        try:
            return action(start + budget)
        except _Failure as failure:
            if failure.status == "timeout":
                failure.budget_spent = budget < self.limits.call_timeout
                if failure.budget_spent:
                    failure.message = self._out_of_time_message()
                else:
                    failure.message = f"timed out after {self.limits.call_timeout:g} s"
            raise
        finally:
            self.spent += time.monotonic() - start

    def _ensure_worker(self) -> _Worker:
        if self._worker is not None:
            return self._worker
        if not self._finalizer.alive:
            raise UsageError("this SubmissionRunner is closed; create a new one to run the submission again")
        worker = _Worker(self)
        deadline = time.monotonic() + _START_TIMEOUT
        try:
            worker.send({"op": "hello", "token": worker.token}, b"", deadline)
            header, _ = worker.receive(deadline)
            if header.get("op") != "ready":
                raise _violation("no ready message")
        except _Failure as failure:
            output = worker.drain_output()
            worker.kill()
            raise HarnessError(
                f"the submission worker did not start ({failure.status}: {failure.message}); "
                f"isolation: {self.isolation}; its output: {output!r}"
            ) from None
        worker.drain_output()
        self._worker = worker
        return worker

    @property
    def _worker(self) -> _Worker | None:
        return self._resources.get("worker")

    @_worker.setter
    def _worker(self, worker: _Worker) -> None:
        self._resources["worker"] = worker

    def _stop_worker(self) -> None:
        worker = self._resources.pop("worker", None)
        if worker is not None:
            worker.kill()


def _cleanup(resources: dict[str, _Worker], temporary: Path) -> None:
    worker = resources.pop("worker", None)
    if worker is not None:
        worker.kill()
    shutil.rmtree(temporary, ignore_errors=True)


def _encode_arguments(arguments: Mapping[str, np.ndarray]) -> tuple[list, bytes]:
    described, chunks, offset = [], [], 0
    for key, value in arguments.items():
        _check_name("argument name", key)
        array = np.asarray(value, dtype="<f8")  # 0-d stays 0-d; tobytes() is C order
        described.append([key, offset, list(array.shape)])
        chunks.append(array.tobytes(order="C"))
        offset += array.nbytes
    return described, b"".join(chunks)


def _message(header: dict) -> str:
    message = header.get("message", "")
    if not isinstance(message, str):
        raise _violation("a message that is not text")
    return escape_text(message, _MAX_MESSAGE, keep_newlines=False)


def _memory_message(limits: Limits) -> str:
    return f"killed: memory limit {format_bytes(limits.memory_bytes)}"


def _array(header: dict, payload: bytes, limits: Limits) -> np.ndarray:
    """Rebuild a float64 array from a validated header and payload."""
    shape = header.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_SHAPE_DIMENSIONS
        or not all(type(size) is int and 0 <= size <= limits.max_result_entries for size in shape)
    ):
        raise _violation(f"an invalid shape {shape!r}")
    count = math.prod(shape)
    if count > limits.max_result_entries or len(payload) != 8 * count:
        raise _violation(f"{len(payload)} bytes for shape {tuple(shape)}")
    return np.frombuffer(payload, dtype="<f8").astype(np.float64).reshape(shape)


def _outcome(header: dict, payload: bytes, output: str, limits: Limits) -> Outcome:
    status = header.get("status")
    if status == "ok":
        return Outcome("ok", value=_array(header, payload, limits), output=output)
    if status == "memory":
        return Outcome("memory", message=_memory_message(limits), output=output)
    if status in ("exception", "bad_value"):
        return Outcome(status, message=_message(header), output=output)
    raise _violation(f"an unknown call status {status!r}")


def _definition(header: dict, payload: bytes, limits: Limits) -> Definition:
    status = header.get("status")
    line = header.get("line")
    line = line if type(line) is int and line > 0 else None
    if status == "function":
        parameters = header.get("parameters")
        if not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters):
            raise _violation("parameters that are not a list of names")
        return Definition(
            "function",
            parameters=tuple(escape_text(p, 200, keep_newlines=False) for p in parameters),
            has_varargs=header.get("has_varargs") is True,
            line=line,
            message=_message(header),
        )
    if status == "value":
        kind = header.get("value_kind")
        value_type = escape_text(str(header.get("value_type", "")), 100, keep_newlines=False)
        if kind == "bool":
            if type(header.get("value")) is not bool:
                raise _violation("a bool value that is not a bool")
            value = header["value"]
        elif kind == "array":
            array = _array(header, payload, limits)
            value = float(array) if array.ndim == 0 else _nested_tuple(array.tolist())
        else:
            value = None
        return Definition("value", value=value, value_type=value_type)
    if status in ("module_error", "missing_name"):
        return Definition(status, message=_message(header))
    if status == "memory":
        return Definition("module_error", message=_memory_message(limits))
    raise _violation(f"an unknown inspect status {status!r}")


def _nested_tuple(value: object) -> object:
    return tuple(_nested_tuple(item) for item in value) if isinstance(value, list) else value
