"""The worker template: a process with Python, numpy and the worker loaded, forked per submission.

A standalone script (stdlib and numpy only, never the ``harness`` package), started once per
grading process by ``harness.template`` as ``python -I -B _template.py CONTROL_FD``. It imports
numpy, ``_worker.py`` and ``_confine.py`` (from its own folder) and then only waits: it never
imports a submission, never holds a spec, an answer key or a true value, and never runs student
code. Each submission's worker is a child forked from it, so it starts with the template's
pristine memory (copy-on-write: what one child changes, no other child and not the template sees)
and is confined before any student code runs, exactly as a worker started afresh would be:

1. its own session, the parent-death signal (it dies with the template), the worker's cgroup
   joined (``cgroup_procs``), stdin on ``/dev/null``, stdout and stderr on the output pipe, every
   other descriptor closed, the environment replaced by the runner's;
2. mode ``namespaces``: ``_confine.launch``: new namespaces, process 1 forked (the worker itself),
   a fresh read-only root, its own uid (as root), no capabilities, ``no_new_privs``; mode
   ``uid``: the submission's uid, no capabilities and ``no_new_privs``; mode ``process``
   (trusted code): nothing more;
3. the worker's main loop (``_worker.main``) on the request and reply pipes (or, for a
   ``probe`` config, one line saying its pid and uid: how ``harness.sandbox`` tests a mode).

Protocol on CONTROL_FD (an ``AF_UNIX`` ``SOCK_SEQPACKET`` socket, one JSON object per message):
the grader sends ``{"op": "spawn", "config": ...}`` with the worker's three pipe ends attached
(``SCM_RIGHTS``); the template answers ``{"op": "spawned", "pid": N}`` with a pidfd of the child
attached, and later ``{"op": "exited", "pid": N, "code": C}`` when it has reaped it (``C`` as
``subprocess`` gives it: negative for a signal). When the grader hangs up, the template kills its
children and exits.

``/proc/PID/environ`` shows the environment a process was started with, not what it set later:
the template is started with a placeholder ``HARNESS_RUN_ID``, which each child overwrites in
place with its runner's id, so a stray process can still be found by it.
"""

import ctypes
import importlib.util
import json
import os
import select
import signal
import socket
import sys

RUN_ID_PLACEHOLDER = "0" * 16
_MAX_MESSAGE = 1 << 20
_FAILED = 125


def _load(name):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    specification = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(specification)
    sys.modules[name] = module
    specification.loader.exec_module(module)
    return module


import numpy  # noqa: E402,F401 - the point of the template: loaded once, shared by every child

_worker = _load("_worker")
_confine = _load("_confine")


def _write_run_id(run_id):
    """Overwrite the placeholder in this process's original environment block with ``run_id``."""
    with open("/proc/self/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    start, end = int(fields[47]), int(fields[48])  # env_start and env_end (fields 50 and 51)
    block = ctypes.string_at(start, end - start)
    placeholder = ("HARNESS_RUN_ID=" + RUN_ID_PLACEHOLDER).encode()
    at = block.find(placeholder)
    wanted = ("HARNESS_RUN_ID=" + run_id).encode()
    if at < 0 or len(wanted) != len(placeholder):
        raise OSError(22, "the environment has no run id placeholder to overwrite")
    ctypes.memmove(start + at, wanted, len(wanted))


def _close_other_fds(keep):
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _default_signals():
    """The signal handling a fresh interpreter has (the template's and the launcher's undone)."""
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _child(config, template, request_fd, reply_fd, output_fd):
    """In the forked child: confine it as the mode requires, then serve the worker. Never returns."""
    try:
        _default_signals()
        os.setsid()
        _confine._check(_confine._libc.prctl(_confine.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0),
                        "set the parent-death signal")
        if os.getppid() != template:  # the template died before the signal was armed
            os._exit(_FAILED)
        for procs in config["cgroup_procs"]:
            with open(procs, "w") as handle:
                handle.write("0")  # this process (and so everything it starts)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        _close_other_fds({0, 1, 2, request_fd, reply_fd})
        os.environ.clear()
        os.environ.update(config["environment"])
        _write_run_id(config["environment"]["HARNESS_RUN_ID"])
        os.chdir(config["cwd"])
        argv = ["_worker.py", str(request_fd), str(reply_fd), config["submission"], json.dumps(config["limits"])]
        mode = config["mode"]
        serve = _probe if config.get("probe") else lambda: _process_one(argv)
        if mode == "namespaces":
            confine = dict(config["confine"], close_fds=[request_fd, reply_fd])
            os._exit(_confine.launch(confine, serve))
        if mode == "uid":
            _confine._drop_privileges({"uid": config["uid"]})
        elif mode != "process":
            raise OSError(22, f"unknown mode {mode!r}")
    except BaseException as error:  # noqa: BLE001 - anything before the worker: say what, exit 125
        os.write(2, f"template: {error}\n".encode(errors="replace"))
        os._exit(_FAILED)
    _probe() if config.get("probe") else _serve(argv)


def _probe():
    """What ``harness.sandbox`` probes a mode with: where this confined child runs, then exit."""
    os.write(1, f"{os.getpid()} {os.getuid()} numpy {numpy.__version__}\n".encode())
    os._exit(0)


def _process_one(argv):
    """The worker as process 1 of its PID namespace (no init of its own: one fork less per worker).

    The kernel drops the signals process 1 does not handle, the CPU limit's ``SIGXCPU`` among them;
    a handler turns it into the exit a worker killed by it would have (``128 + SIGXCPU``). A
    student who replaces the handler, or a call stuck in C code, meets the hard limit a second
    later (``SIGKILL``, which reaches process 1 too).
    """
    _default_signals()
    signal.signal(signal.SIGXCPU, lambda number, frame: os._exit(128 + signal.SIGXCPU))
    _worker.main(argv)
    os._exit(_FAILED)


def _serve(argv):
    _default_signals()
    _worker.main(argv)  # exits the process
    os._exit(_FAILED)  # pragma: no cover


class Template:
    def __init__(self, control):
        self.control = control
        self.children = set()
        self.wake_read, wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda number, frame: None)

    def serve(self):
        while True:
            ready, _, _ = select.select([self.control, self.wake_read], [], [])
            if self.wake_read in ready:
                try:
                    os.read(self.wake_read, 4096)
                except BlockingIOError:
                    pass
            self.reap()
            if self.control in ready:
                try:
                    data, fds, _, _ = socket.recv_fds(self.control, _MAX_MESSAGE, 3)
                except OSError:
                    data, fds = b"", []
                if not data:
                    self.stop()
                    return
                self.spawn(json.loads(data), fds)

    def spawn(self, message, fds):
        if message.get("op") != "spawn" or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            self.send({"op": "error", "message": "a spawn request needs a config and three descriptors"})
            return
        template = os.getpid()
        child = os.fork()
        if child == 0:
            self.control.close()
            _child(message["config"], template, *fds)
        for fd in fds:
            os.close(fd)
        self.children.add(child)
        try:
            pidfd = os.pidfd_open(child)
        except (AttributeError, OSError):
            pidfd = None
        self.send({"op": "spawned", "pid": child}, [] if pidfd is None else [pidfd])
        if pidfd is not None:
            os.close(pidfd)

    def reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.send({"op": "exited", "pid": pid, "code": os.waitstatus_to_exitcode(status)})

    def send(self, message, fds=()):
        try:
            socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))
        except OSError:
            pass

    def stop(self):
        for child in self.children:
            try:
                os.killpg(child, signal.SIGKILL)
            except OSError:
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass


def main(argv):
    _confine._check(_confine._libc.prctl(_confine.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0),
                    "set the parent-death signal")
    control = socket.socket(fileno=int(argv[1]))
    control.sendall(json.dumps({"op": "ready", "pid": os.getpid()}).encode())
    Template(control).serve()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
