"""The worker: imports one submission's modules and calls its functions, inside the sandbox.

A standalone script (stdlib and numpy only, never the ``harness`` package), started by
``harness.runner`` as ``python -I -B _worker.py REQUEST_FD REPLY_FD SUBMISSION_DIR LIMITS_JSON``.

Protocol: every message in both directions is a frame, ``4-byte big-endian header length``,
``header`` (UTF-8 JSON object), then ``header["nbytes"]`` bytes of raw little-endian float64
payload. The parent sends requests on REQUEST_FD; this script answers on REPLY_FD. The first
request is ``hello``, which carries the run's token; every reply repeats it. Student output goes
to fds 1 and 2 (one pipe), which the parent drains separately, so nothing a student prints is ever
read as a reply. After each call, and before every other reply, the worker writes
``\0harness-end-of-output:TOKEN\0`` to that pipe (through its own copy of fd 1), so the parent knows
which output belongs to which call. A ``call`` request carries a batch of calls and gets one reply
for all of them: ``results``, one ``[status, shape or message]`` per call made, and their values in
one payload; the marks tell the parent how far a batch got while it runs.

Once student code has run, this process belongs to the student: it can read the token from memory
and write to any fd it holds. The parent therefore treats every reply as a hostile claim about the
call in flight and validates it (see ``harness/runner.py``); the token and the private fd numbers
only stop forgeries from processes that do not share this one's memory.
"""

# Builtins the worker uses are bound as this module's globals, so a student who patches
# ``builtins.float`` or ``builtins.isinstance`` at import does not break the reply encoding.
from builtins import (  # noqa: A004
    BaseException,
    MemoryError,
    OverflowError,
    any,
    bool,
    callable,
    dict,
    enumerate,
    float,
    id,
    int,
    isinstance,
    len,
    list,
    memoryview,
    min,
    sorted,
    str,
    type,
)

import builtins
import fcntl
import importlib.util
import inspect
import json
import os
import resource
import struct
import sys
import types

import numpy as np

_HEADER = struct.Struct(">I")
_MAX_REQUEST_HEADER = 1 << 24
_MAX_TEXT = 1000
# Fds the parent passed are moved here (and made close-on-exec) before any student code runs,
# so that student code writing to "fd 3" or a child process started with subprocess cannot hit
# the reply channel by accident. A determined student can still find them: see the docstring.
_PRIVATE_FD_MIN = 200


class _Closed(Exception):
    """The parent closed the request pipe: time to exit."""


_os_read, _os_write = os.read, os.write
# The stdlib (json included) looks builtins up at call time; replies are encoded only after
# the original entries are put back, whatever student code did to them.
_BUILTINS = dict(builtins.__dict__)
_loads = json.loads


def _read_exact(fd, count):
    chunks = []
    while count:
        chunk = _os_read(fd, min(count, 1 << 20))
        if not chunk:
            raise _Closed
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd):
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    if size > _MAX_REQUEST_HEADER:
        raise _Closed
    header = _loads(_read_exact(fd, size))
    payload = _read_exact(fd, header.get("nbytes", 0))
    return header, payload


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[_os_write(fd, view) :]


def _text(value, limit=_MAX_TEXT):
    """Return ``str(value)`` cut to ``limit`` characters, never raising (student ``__str__``)."""
    try:
        text = str(value)
    except BaseException:  # noqa: BLE001 - a student's __str__ may raise anything
        return "<message could not be converted to text>"
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return text


class Worker:
    """Serve requests for one submission until the parent closes the request pipe."""

    def __init__(self, request_fd, reply_fd, output_fd, submission_dir, limits):
        self.request_fd = request_fd
        self.reply_fd = reply_fd
        self.output_fd = output_fd
        self.mark = b""
        self.submission_dir = os.path.abspath(submission_dir)
        self.limits = limits
        self.token = ""
        self.modules = {}
        # Bound before student code runs, so monkeypatching numpy, json or builtins at import
        # cannot change how results are encoded (it can only make this process's replies wrong,
        # which costs the student alone).
        self._asarray = np.asarray
        self._frombuffer = np.frombuffer
        self._int64 = np.int64
        self._ndarray = np.ndarray
        self._dumps = json.dumps
        self._stdout = sys.stdout
        self._stderr = sys.stderr

    # ----------------------------------------------------------------------------- framing
    def reply(self, header, payload=b"", *, marked=True):
        """Send one reply frame; first (unless the caller marked it already) the end-of-output mark."""
        builtins.__dict__.update(_BUILTINS)
        header = dict(header, token=self.token, nbytes=len(payload))
        data = self._dumps(header, ensure_ascii=True, allow_nan=False).encode("ascii")
        if marked:
            self.end_of_output()
        _write_all(self.reply_fd, _HEADER.pack(len(data)) + data + payload)

    def end_of_output(self):
        """Mark the end of what the student printed so far (one mark per reply or call)."""
        self._flush_student_output()
        try:
            _write_all(self.output_fd, self.mark)
        except OSError:  # the student closed it: the parent then takes whatever output it has
            pass

    def _flush_student_output(self):
        # Output must reach the pipe before the reply, so the parent charges it to this call.
        for stream in {id(s): s for s in (sys.stdout, sys.stderr, self._stdout, self._stderr)}.values():
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001 - students may replace or close the streams
                pass

    # ----------------------------------------------------------------------------- serving
    def serve(self):
        header, _ = _read_frame(self.request_fd)
        if header.get("op") != "hello":
            return
        self.token = header["token"]
        self.mark = ("\0harness-end-of-output:" + self.token + "\0").encode("ascii")
        _set_limits(self.limits)
        if self.submission_dir not in sys.path:
            # Appended, not prepended: a student's numpy.py or random.py never shadows the real one.
            sys.path.append(self.submission_dir)
        self.reply({"op": "ready", "pid": os.getpid()})
        while True:
            header, payload = _read_frame(self.request_fd)
            op = header.get("op")
            if op == "import":
                self.reply(dict(self.import_module(header["module"]), id=header["id"]))
            elif op == "inspect":
                self.reply(*self.inspect(header))
            elif op == "call":
                self.call(header, payload)
            else:
                return

    def import_module(self, name):
        """Import the submission's ``name.py`` once; return ``{"status": ..., "message": ...}``."""
        if name in self.modules:
            return self.modules[name]
        path = os.path.join(self.submission_dir, name + ".py")
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            result = {"status": "ok", "message": ""}
        except MemoryError:
            sys.modules.pop(name, None)
            result = {"status": "memory", "message": "MemoryError while importing"}
        except BaseException as error:  # noqa: BLE001 - SystemExit, KeyboardInterrupt included
            sys.modules.pop(name, None)
            result = {"status": "module_error", "message": self.describe(error, at_import=True)}
        self.modules[name] = result
        return result

    def inspect(self, request):
        reply = {"id": request["id"]}
        outcome = self.import_module(request["module"])
        if outcome["status"] != "ok":
            return dict(reply, **outcome), b""
        module = sys.modules.get(request["module"])
        name = request["name"]
        try:
            found = name in vars(module)
            obj = vars(module)[name] if found else None
        except BaseException as error:  # noqa: BLE001
            return dict(reply, status="module_error", message=self.describe(error)), b""
        if not found:
            return dict(reply, status="missing_name", message=self.missing_name(module, name)), b""
        if callable(obj):
            return dict(reply, **self.signature(obj)), b""
        reply.update(status="value", value_type=_text(type(obj).__name__, 100))
        if type(obj) is bool or type(obj) is np.bool_:
            reply.update(value_kind="bool", value=bool(obj))
            return reply, b""
        if type(obj) in (int, float) or isinstance(obj, (np.integer, np.floating, np.ndarray, list, tuple)):
            status, array, _ = self.to_float64(obj)
            if status == "ok":
                reply.update(value_kind="array", shape=list(array.shape))
                return reply, array.tobytes()
        reply.update(value_kind="none")
        return reply, b""

    def missing_name(self, module, name):
        try:
            names = sorted(n for n in vars(module) if not n.startswith("_"))
            names = [n for n in names if not isinstance(vars(module)[n], types.ModuleType)]
        except BaseException:  # noqa: BLE001
            names = []
        text = f"{module.__name__}.py defines no {name!r}"
        if names:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            text += f"; it defines: {shown}"
        return _text(text)

    def signature(self, obj):
        result = {"status": "function", "parameters": [], "has_varargs": False, "line": None}
        try:
            parameters = inspect.signature(obj).parameters.values()
            variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            result["parameters"] = [_text(p.name, 200) for p in parameters if p.kind not in variadic]
            result["has_varargs"] = any(p.kind in variadic for p in parameters)
        except BaseException as error:  # noqa: BLE001 - builtins and odd callables have none
            result["message"] = "could not read its parameters: " + self.describe(error)
        try:
            code = inspect.unwrap(obj).__code__
            if self.in_submission(code.co_filename):
                result["line"] = int(code.co_firstlineno)
        except BaseException:  # noqa: BLE001
            pass
        return result

    def call(self, request, payload):
        """Make every call of the request; one reply for all of them, one output mark per call.

        The parent counts the marks as calls finish (each one restarts its call deadline); after
        a ``memory`` result the worker stops, and the reply holds the calls made until then.
        """
        module_name, name = request["module"], request["name"]
        results, values = [], []
        flat = self._frombuffer(payload, dtype="<f8")
        numbers = flat.tolist()  # every entry as a Python float: scalars are taken from here
        for spec in request["calls"]:
            try:
                arguments = {key: self.argument(flat, numbers, offset, shape, kind) for key, offset, shape, *kind in spec}
                status, array, message = self.run(module_name, name, arguments)
            except MemoryError:
                status, array, message = "memory", None, "MemoryError"
            self.end_of_output()
            if status == "ok":
                results.append(["ok", list(array.shape)])
                values.append(array.tobytes())
            else:
                results.append([status, message])
            if status == "memory":
                break
        self.reply({"id": request["id"], "index": None, "results": results}, b"".join(values), marked=False)

    def argument(self, flat, numbers, offset, shape, kind=()):
        """One argument: a float (an int for labels) when it is a scalar, else a fresh float64 array."""
        start = offset // 8
        if not shape:
            return int(numbers[start]) if kind == ["int64"] else numbers[start]
        count = 1
        for size in shape:
            count *= size
        array = flat[start : start + count].reshape(shape).copy()  # fresh and writable: mutation cannot leak
        if kind == ["int64"]:  # labels: whole numbers sent as float64
            return array.astype(self._int64)
        return array

    def run(self, module_name, name, arguments):
        imported = self.import_module(module_name)
        if imported["status"] != "ok":
            return "exception", None, imported["message"]
        try:
            function = vars(sys.modules[module_name])[name]
        except BaseException:  # noqa: BLE001
            return "exception", None, f"{module_name}.py defines no {name!r}"
        try:
            result = function(**arguments)
        except MemoryError:
            return "memory", None, "MemoryError"
        except BaseException as error:  # noqa: BLE001 - the student's failure, reported
            return "exception", None, self.describe(error)
        return self.to_float64(result)

    def to_float64(self, result):
        """Convert a returned value to a float64 array: ``(status, array, message)``."""
        kind = type(result)
        if kind is complex or isinstance(result, (complex, np.complexfloating)):
            return "bad_value", None, "returned complex numbers"
        if isinstance(result, (str, bytes, bytearray)) or result is None:
            return "bad_value", None, f"returned a non-numeric value of type {_text(kind.__name__, 100)!r}"
        if kind is int:
            try:
                float(result)
            except OverflowError:
                return "bad_value", None, "returned an integer too large for float64"
        try:
            array = self._asarray(result)
        except MemoryError:
            return "memory", None, "MemoryError"
        except BaseException as error:  # noqa: BLE001 - __array__, __len__... are student code
            return "bad_value", None, "returned a value numpy cannot convert: " + self.describe(error)
        if not isinstance(array, self._ndarray):
            return "bad_value", None, f"returned a non-numeric value of type {_text(kind.__name__, 100)!r}"
        if array.dtype.kind == "c":
            return "bad_value", None, "returned complex numbers"
        if array.dtype.kind not in "biuf":
            what = f"returned a non-numeric value of type {_text(kind.__name__, 100)!r}"
            if isinstance(result, (list, tuple, self._ndarray)):
                what += f" (its entries make numpy dtype {_text(array.dtype, 50)!r})"
            return "bad_value", None, what
        if array.size > self.limits["max_result_entries"]:
            return "bad_value", None, (
                f"returned {array.size} numbers; at most {self.limits['max_result_entries']} are accepted"
            )
        try:
            # asarray, not ascontiguousarray (which makes 0-d arrays 1-d); tobytes() is C order anyway.
            return "ok", self._asarray(array, dtype="<f8"), ""
        except MemoryError:
            return "memory", None, "MemoryError"
        except BaseException as error:  # noqa: BLE001
            return "bad_value", None, "returned a value numpy cannot convert: " + self.describe(error)

    # ----------------------------------------------------------------------------- messages
    def in_submission(self, filename):
        try:
            return os.path.abspath(filename).startswith(self.submission_dir + os.sep)
        except BaseException:  # noqa: BLE001
            return False

    def describe(self, error, at_import=False):
        """Render ``ZeroDivisionError: float division by zero (q2_4.py, line 7)``."""
        kind = _text(type(error).__name__, 100)
        place = None
        if isinstance(error, SyntaxError) and error.filename and self.in_submission(error.filename):
            text = _text(error.msg)
            place = (error.filename, error.lineno)
        else:
            text = _text(error)
            traceback = error.__traceback__
            while traceback is not None:
                filename = traceback.tb_frame.f_code.co_filename
                if self.in_submission(filename):
                    place = (filename, traceback.tb_lineno)
                traceback = traceback.tb_next
        message = f"{kind}: {text}" if text else kind
        if at_import:
            message += " at import"
        if place is not None:
            relative = os.path.relpath(place[0], self.submission_dir)
            message += f" ({relative}, line {place[1]})"
        return message


def _set_limits(limits):
    """Apply the rlimits; the hard CPU limit is one second above the soft one (SIGXCPU first)."""
    settings = [
        (resource.RLIMIT_AS, limits["memory_bytes"]),
        (resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 1),
        (resource.RLIMIT_FSIZE, limits["file_size_bytes"]),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_CORE, 0),
        # Only effective when the worker is not root; under root the pids cgroup does this job.
        (resource.RLIMIT_NPROC, limits["processes"]),
    ]
    for resource_id, soft, *hard in settings:
        resource.setrlimit(resource_id, (soft, hard[0] if hard else soft))


def _private_fd(fd):
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _PRIVATE_FD_MIN)
    os.close(fd)
    return moved


def main(argv):
    request_fd, reply_fd = _private_fd(int(argv[1])), _private_fd(int(argv[2]))
    output_fd = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, _PRIVATE_FD_MIN)
    worker = Worker(request_fd, reply_fd, output_fd, argv[3], json.loads(argv[4]))
    try:
        worker.serve()
    except (_Closed, BrokenPipeError):
        pass
    # Skip interpreter shutdown: student objects' __del__ and atexit hooks must not run.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
