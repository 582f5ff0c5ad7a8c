"""Run a submission's code in an isolated worker process and bring back plain numbers.

The grading process never runs student code. ``SubmissionRunner`` copies one submission into a
temporary directory, starts ``_worker.py`` on that copy inside the layers ``harness.sandbox``
found, and talks to it over pipes: requests carry only inputs (never expected values, specs or
reference code), replies are a small JSON header plus raw float64 bytes, both validated by the
parent against caps and rebuilt with ``np.frombuffer``. Nothing the worker sends is unpickled
or evaluated; its exit code and stdout never count toward a verdict.

Every reply is treated as a hostile claim about the call in flight: once student code has run,
the worker process is the student's, and a student who reads the worker's memory can learn the
run token and write frames to the reply fd. That buys nothing a ``return`` statement does not:
the worker never holds an expected value, and a frame for a later call, or any malformed byte,
is a protocol violation that ends the worker and costs only the student's own call. A frame for
an earlier call is dropped: it is the genuine reply whose place a forged one took, and failing
the next request for it would cost an item the forgery never touched. The token stops forgeries
from processes that do not share the worker's memory (a child process started before the token
arrived cannot see it; other submissions' workers do not have it).

Deadlines are wall-clock and enforced here: each request gets ``call_timeout`` and the whole
submission ``submission_timeout`` of worker time. On expiry, crash or memory exhaustion the
worker and everything it started are killed, and the next request starts a fresh one, so one
hang costs only the calls it hung on.

The pieces: ``harness.runner_staging`` copies the submission, ``harness.runner_transport`` owns
the worker process, its pipes and its output, ``harness.runner_codec`` encodes requests and
decodes replies. This module is the session over them, and the place to import the runner from.
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
import shutil
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

from harness import sandbox as _sandbox
from harness import uids
from harness.errors import InternalError, SandboxUnavailable, UsageError
from harness.runner_codec import (
    Definition,
    EncodedBatch,
    Outcome,
    check_name,
    decode_definition,
    decode_outcomes,
    encode_arguments,
    encode_calls,
    reply_message,
)
from harness.runner_staging import LeftOut, copy_note, copy_submission
from harness.runner_transport import (
    Limits,
    Worker,
    WorkerFailure,
    escape_text,
    format_bytes,
    memory_message,
    surviving_processes,
    violation,
)

__all__ = [
    "WORKER_ENDING",
    "discard_spares",
    "Definition",
    "EncodedBatch",
    "LeftOut",
    "Limits",
    "Outcome",
    "SubmissionRunner",
    "copy_note",
    "copy_submission",
    "escape_text",
    "format_bytes",
    "surviving_processes",
]

_START_TIMEOUT = 60.0  # our own start-up (Python + numpy), never charged to the student
_WORKER_NUMBERS = itertools.count(1)  # names each worker's cgroups

WORKER_ENDING = frozenset({"timeout", "memory", "crashed"})
"""Outcome statuses after which the worker is replaced by a fresh one."""


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
        trusted: bool = False,
        sandbox: _sandbox.Sandbox | None = None,
        first: Sequence[str] = (),
        exclude: Sequence[Path] = (),
    ) -> None:
        """Refuses to run unless the submission is isolated (or ``trusted``); see ``check_isolation``.

        ``first`` and ``exclude`` go to ``copy_submission``: files copied before the others, folders never copied.
        """
        self.submission_dir = Path(submission_dir)
        if not self.submission_dir.is_dir():
            raise UsageError(f"submission folder {str(submission_dir)!r} does not exist or is not a folder")
        self.limits = limits
        self.sandbox = sandbox if sandbox is not None else _sandbox.detect()
        check_isolation(self.sandbox, require_sandbox=require_sandbox, trusted=trusted)
        self.isolation = self.sandbox.describe()
        self.workers_started = 0
        self.spent = 0.0  # worker time charged to the submission
        self._resources: dict[str, Worker] = {}
        self._module_failures: dict[str, tuple[str, str]] = {}
        self._prepared: Worker | None = None
        spare = _take_spare(self.sandbox, limits)
        if spare is not None:  # a worker started ahead, on an empty copy folder: this submission's now
            self._temporary, self.run_id, self.place, self.environment, self._prepared = spare
            uid = self.place.uid
        else:
            self._temporary, self.run_id, self.place, self.environment = _new_place(self.sandbox)
            uid = self.place.uid
        self._resources["prepared"] = self._prepared  # type: ignore[assignment]
        # A runner dropped without close() (an exception in the caller, Ctrl-C) still kills its
        # worker and deletes its copy when collected or at interpreter exit.
        self._finalizer = weakref.finalize(self, _cleanup, self._resources, self._temporary,
                                           uid if self.sandbox.mode == "uid" else None)
        self.copy = self.place.copy
        self.left_out = copy_submission(self.submission_dir, self.copy, first=first, exclude=exclude)
        self.copy_note = copy_note(self.left_out)
        if uid is not None:
            uids.give(self.copy, uid)  # the copy is the uid's alone

    def prepare_next(self) -> None:
        """Start, now, the worker of the next runner this process creates with the same sandbox and
        limits, on an empty copy folder: its namespaces are built while this submission is graded.

        It holds nothing of any submission until that runner copies one into its folder.
        """
        _prepare_spare(self.sandbox, self.limits)

    # ------------------------------------------------------------------------ public API
    def inspect(self, module: str, name: str) -> Definition:
        """Say what ``module.py`` defines under ``name`` (importing it in the worker)."""
        check_name("module", module)
        check_name("name", name)
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
            return decode_definition(header, payload, self.limits)
        except WorkerFailure as failure:
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
        check_name("module", module)
        check_name("name", name)
        if isinstance(batch, EncodedBatch):
            encoded, whole = batch.encoded, batch.whole
        else:
            encoded, whole = [encode_arguments(arguments) for arguments in batch], None
        outcomes: list[Outcome] = []
        while len(outcomes) < len(encoded):
            outcomes += self._call_batch(module, name, encoded[len(outcomes) :], whole if not outcomes else None)
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
    def _call_batch(self, module: str, name: str, encoded: list[tuple[list, bytes]],
                    whole: tuple[list, bytes] | None = None) -> list[Outcome]:
        """Run calls until the first one that ends the worker; return the outcomes obtained.

        ``whole`` is ``encode_calls(encoded)`` when the caller has it already.
        """
        if not (self.copy / f"{module}.py").is_file():
            message = f"the submission has no file {module}.py"
            return [Outcome("exception", message=message) for _ in encoded]
        if self._out_of_time():
            return [Outcome("timeout", message=self._out_of_time_message()) for _ in encoded]
        failure = self._import(module)
        if failure is not None:
            return [Outcome(failure[0], message=failure[1]) for _ in encoded]
        calls, payload = whole if whole is not None else encode_calls(encoded)
        header = {"op": "call", "id": None, "module": module, "name": name, "calls": calls}
        marks_before = None
        try:
            request_id = self._send(header, payload)
            marks_before = self._worker.marks
            reply, values = self._receive(request_id, None, batch=len(encoded))
            results = reply.get("results")
            # Each call's mark is in the output pipe before the reply: one output per result.
            made = min(len(results), len(encoded)) if isinstance(results, list) else 0
            outputs = [self._worker.drain_output() for _ in range(made)]
            outcomes = decode_outcomes(reply, values, outputs, len(encoded), self.limits)
        except WorkerFailure as failure:
            return self._batch_failed(module, name, encoded, failure, marks_before)
        if outcomes[-1].status == "memory":  # the worker stops after it; start afresh
            self._stop_worker()
        return outcomes

    def _batch_failed(self, module: str, name: str, encoded: list[tuple[list, bytes]], failure: WorkerFailure,
                      marks_before: int | None) -> list[Outcome]:
        """The outcomes of a batch whose worker died, hung or broke the protocol at one call.

        The marks say how many calls finished before that one; their values went down with the
        worker, so they are made again by a fresh worker (a shorter batch: this ends).
        """
        worker = self._worker
        finished = 0
        if worker is not None and marks_before is not None:
            worker.read_pending_output()
            finished = min(max(worker.marks - marks_before, 0), len(encoded) - 1)
            for _ in range(finished):
                worker.drain_output()
        output = worker.drain_output() if worker is not None else ""
        self._stop_worker()
        failed = Outcome(failure.status, message=failure.message, output=output)
        if not finished or failure.budget_spent:
            return [failed]
        again = self._call_batch(module, name, encoded[:finished])
        return again if len(again) < finished else again + [failed]
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
                failure = ("memory", f"importing {module}.py: {memory_message(self.limits)}")
            else:
                failure = ("exception", reply_message(header))
        except WorkerFailure as failure_:
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

    def _receive(self, request_id: int, index: int | None, *, batch: int | None = None) -> tuple[dict, bytes]:
        """The reply to ``request_id``; in a batch of ``batch`` calls, each call has the call deadline.

        A batch is answered at once; at a deadline the marks the worker wrote as calls finished
        tell whether the call running now started later, and so has time left.
        """
        worker = self._worker

        def awaited(deadline: float) -> tuple[dict, bytes]:
            reply, payload = worker.receive(deadline)
            while _earlier(reply, request_id, index):  # see the module docstring
                worker.drain_output()
                reply, payload = worker.receive(deadline)
            if reply.get("id") != request_id or reply.get("index") != index:
                raise violation(f"a reply to request {reply.get('id')!r}/{reply.get('index')!r} during request {request_id}")
            return reply, payload

        if batch is None:
            return self._timed(awaited)
        worker.batch_calls = batch
        progress, since = worker.marks, None
        try:
            while True:
                try:
                    return self._timed(awaited, since=since)
                except WorkerFailure as failure:
                    if failure.status != "timeout" or failure.budget_spent:
                        raise
                    worker.read_pending_output()
                    if worker.marks == progress:
                        raise
                    progress, since = worker.marks, worker.last_mark_at  # the running call began then
        finally:
            worker.batch_calls = 1

    def _out_of_time(self) -> bool:
        return self.spent >= self.limits.submission_timeout

    def _out_of_time_message(self) -> str:
        return f"submission time limit of {self.limits.submission_timeout:g} s used up"

    def _timed(self, action, *, since: float | None = None):
        """Run ``action(deadline)`` under the call and submission deadlines; charge the time.

        The call deadline counts from ``since`` when given (a call of a batch that began then).
        """
        remaining = self.limits.submission_timeout - self.spent
        if remaining <= 0:
            failure = WorkerFailure("timeout", self._out_of_time_message())
            failure.budget_spent = True
            raise failure
        start = time.monotonic()
        call_budget = self.limits.call_timeout - (start - since if since is not None else 0.0)
        budget = min(call_budget, remaining)
        try:
            return action(start + budget)
        except WorkerFailure as failure:
            if failure.status == "timeout":
                failure.budget_spent = remaining < call_budget
                if failure.budget_spent:
                    failure.message = self._out_of_time_message()
                else:
                    failure.message = f"timed out after {self.limits.call_timeout:g} s"
            raise
        finally:
            self.spent += time.monotonic() - start

    def _ensure_worker(self) -> Worker:
        if self._worker is not None:
            return self._worker
        if not self._finalizer.alive:
            raise UsageError("this SubmissionRunner is closed; create a new one to run the submission again")
        self.workers_started += 1
        worker, self._prepared = self._prepared, None
        self._resources.pop("prepared", None)
        if worker is None:
            worker = _start_worker(self.limits, self.sandbox, self.place, self.environment, self.run_id)
        deadline = time.monotonic() + _START_TIMEOUT
        try:
            worker.send({"op": "hello", "token": worker.token}, b"", deadline)
            header, _ = worker.receive(deadline)
            if header.get("op") != "ready":
                raise violation("no ready message")
        except WorkerFailure as failure:
            output = worker.drain_output()
            worker.kill()
            raise InternalError(
                f"the submission worker did not start ({failure.status}: {failure.message}); "
                f"isolation: {self.isolation}; its output: {output!r}"
            ) from None
        worker.drain_output()
        self._worker = worker
        return worker

    @property
    def _worker(self) -> Worker | None:
        return self._resources.get("worker")

    @_worker.setter
    def _worker(self, worker: Worker) -> None:
        self._resources["worker"] = worker

    def _stop_worker(self) -> None:
        worker = self._resources.pop("worker", None)
        if worker is not None:
            worker.kill()


def _start_worker(limits: Limits, sandbox: _sandbox.Sandbox, place: _sandbox.WorkerPlace,
                  environment: dict[str, str], run_id: str) -> Worker:
    # Unique in this process (an id() can be reused by a later runner), and it names the run.
    name = f"harness-{os.getpid()}-{next(_WORKER_NUMBERS)}-{run_id}"
    return Worker(limits, sandbox, place, environment, name)


def _new_place(sandbox: _sandbox.Sandbox) -> tuple[Path, str, _sandbox.WorkerPlace, dict[str, str]]:
    """A temporary folder with the worker's (empty) copy, tmp and root folders; its run id and environment.

    With a uid of its own, the copy and tmp belong to it alone.
    """
    temporary = Path(tempfile.mkdtemp(prefix="harness-run-"))
    uid = uids.allocate() if sandbox.own_uid else None
    run_id = secrets.token_hex(8)  # in the worker's environment: lets tests find strays
    copy, tmp, root = temporary / "submission", temporary / "tmp", temporary / "root"
    for folder in (copy, tmp, root):
        folder.mkdir(mode=0o755)
    worker_script = _sandbox.WORKER_SCRIPT
    if uid is not None:
        # The uid may not read the harness's installation: it gets its own copy of the worker.
        worker_script = temporary / "_worker.py"
        shutil.copyfile(_sandbox.WORKER_SCRIPT, worker_script)
        worker_script.chmod(0o644)
        uids.give(copy, uid)
        uids.give(tmp, uid)
        temporary.chmod(0o711)  # others may pass through to what is theirs, never list
    place = _sandbox.WorkerPlace(copy=copy, tmp=tmp, root=root, worker_script=worker_script, uid=uid)
    home = sandbox.temporary_path(place)
    environment = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TMPDIR": home,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HARNESS_RUN_ID": run_id,
    }
    return temporary, run_id, place, environment


_spares: dict[int, tuple[tuple, tuple]] = {}
"""By process: ``((sandbox, limits), (temporary, run_id, place, environment, worker))``, a worker started ahead."""


def _prepare_spare(sandbox: _sandbox.Sandbox, limits: Limits) -> None:
    discard_spares()
    temporary, run_id, place, environment = _new_place(sandbox)
    try:
        worker = _start_worker(limits, sandbox, place, environment, run_id)
    except InternalError:
        _remove_place(temporary, place.uid if sandbox.mode == "uid" else None)
        return  # the next runner starts its own, and says why if it cannot
    _spares[os.getpid()] = ((sandbox, limits), (temporary, run_id, place, environment, worker))


def _take_spare(sandbox: _sandbox.Sandbox, limits: Limits) -> tuple | None:
    """The worker started ahead for this sandbox and these limits, if there is one (any other is discarded)."""
    found = _spares.get(os.getpid())
    if found is None:
        return None
    key, spare = found
    if key != (sandbox, limits) or spare[4].has_exited():  # a spare that died is not handed out
        discard_spares()
        return None
    del _spares[os.getpid()]
    return spare


def discard_spares() -> None:
    """Kill the worker started ahead (if any) and remove its folders; a forked process drops its parent's."""
    for pid in list(_spares):
        _key, (temporary, _run_id, place, _environment, worker) = _spares.pop(pid)
        if pid == os.getpid():
            worker.kill()
            _remove_place(temporary, place.uid)


def _remove_place(temporary: Path, uid: int | None) -> None:
    if uid is not None:
        uids.remove_files(uid)
    shutil.rmtree(temporary, ignore_errors=True)


atexit.register(discard_spares)


def _cleanup(resources: dict[str, Worker], temporary: Path, uid: int | None) -> None:
    worker = resources.pop("worker", None)
    if worker is not None:
        worker.kill()
    prepared = resources.pop("prepared", None)
    if prepared is not None:  # adopted from a spare, never greeted
        prepared.kill()
    if uid is not None:  # mode "uid": what the uid left in /tmp (its processes died with each worker)
        uids.remove_files(uid)
    shutil.rmtree(temporary, ignore_errors=True)


def check_isolation(sandbox: _sandbox.Sandbox, *, require_sandbox: bool = False, trusted: bool = False) -> None:
    """Refuse (``SandboxUnavailable``) to run untrusted code without isolation, or without namespaces when required."""
    if require_sandbox and not sandbox.pid_namespace:
        raise SandboxUnavailable(
            "a namespace sandbox is required (--require-sandbox) but cannot run here: "
            + "; ".join(sandbox.problems)
            + ". Install bubblewrap (apt-get install bubblewrap) and allow it to create "
            "namespaces, or grade without --require-sandbox."
        )
    if not sandbox.isolated and not trusted:
        raise SandboxUnavailable(
            "submission code cannot be isolated here: "
            + "; ".join(sandbox.problems)
            + ". It would run as the grader, able to read the answer keys and rewrite the reports. "
            "Install bubblewrap (apt-get install bubblewrap), grade as root, or allow user "
            "namespaces; if the code is your own (a student grading their own repository), pass "
            "--trusted-code (trusted_code = true, GradeOptions(trusted_code=True))."
        )


def _earlier(reply: dict, request_id: int, index: int | None) -> bool:
    """Whether ``reply`` answers a call before the one awaited (``request_id``, ``index``)."""
    got_id, got_index = reply.get("id"), reply.get("index")
    if type(got_id) is not int:
        return False
    if got_id < request_id:
        return True
    return got_id == request_id and type(got_index) is int and type(index) is int and got_index < index
