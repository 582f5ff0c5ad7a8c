"""The namespace sandbox: confine a worker with Linux's own system calls (no bubblewrap needed).

Standalone (stdlib only, never the ``harness`` package): the worker template (``_template.py``)
loads it and calls ``launch(config, run)`` in each child it forks, which builds what bubblewrap
would:

1. as an ordinary user, a new user namespace first (the grader's uid mapped to itself);
2. new mount, PID, IPC, network, UTS and cgroup namespaces;
3. a fork: the child is process 1 of the new PID namespace (when it exits, the kernel kills every
   process left in the namespace), and dies with the launcher (``PR_SET_PDEATHSIG``);
4. in the child, a fresh root on a small tmpfs holding only read-only bind mounts of what the
   worker needs (the C library, the Python installation with its symlink chain, the worker script,
   the submission copy), a few device nodes, and private sized tmpfs mounts at ``/tmp`` and
   ``/dev/shm``; ``pivot_root`` into it and the old root detached;
5. as root, the worker's own unprivileged uid and gid (one per submission, no supplementary
   groups); in every case an empty bounding set, every capability set cleared (checked with
   ``capget``: nothing else drops what a new user namespace grants, there is no ``execve``) and
   ``PR_SET_NO_NEW_PRIVS``; then ``run()``, the worker's main loop.

The launcher waits for process 1 and returns its status (``128 + signal`` when it was killed,
like bubblewrap). Any failure before ``run()`` is printed on stderr, one line starting with
``confine:``, and exits 125, so the probe can quote it.
"""

import ctypes
import ctypes.util
import os
import platform
import select
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_RELATIME = 1 << 21
# (statvfs f_flag bit, mount flag): the flags a remount in a user namespace may not clear.
_LOCKED_FLAGS = (
    (os.ST_RDONLY, MS_RDONLY),
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217, "i686": 217}
_DEVICES = ("null", "zero", "full", "random", "urandom")
FAILED = 125

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(result, what):
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _mount(source, target, kind, flags, data=None):
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            kind.encode() if kind else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source or kind} on {target}",
    )


def _write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def _enter_namespaces(config):
    """Unshare every namespace; as an ordinary user, a user namespace first with the uid mapped to itself."""
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWCGROUP
    if config["user_namespace"]:
        uid, gid = os.getuid(), os.getgid()
        _check(_libc.unshare(CLONE_NEWUSER), "unshare the user namespace")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _check(_libc.unshare(flags), "unshare the mount, PID, IPC, network, UTS and cgroup namespaces")


def _make_parents(path):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)


def _bind(source, target, *, read_only=True, devices=False):
    _make_parents(target)
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    elif not os.path.exists(target):
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(source, target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if devices else MS_NODEV) | (MS_RDONLY if read_only else 0)
    # In a user namespace the source mount's own flags are locked: keep them, or the remount fails.
    kept = os.statvfs(source).f_flag
    for statvfs_flag, mount_flag in _LOCKED_FLAGS:
        if kept & statvfs_flag:
            flags |= mount_flag
    _mount(None, target, None, flags)


def _tmpfs(target, size, mode):
    os.makedirs(target, mode=0o755, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode:o}")


def _build_root(config):
    """Mount the worker's file system on ``config['root']`` and make it the root."""
    root = config["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    # The sized /tmp first: a Python or a submission copy that lives under /tmp is bound on top.
    _tmpfs(root + "/tmp", config["tmp_bytes"], 0o1777)
    for kind, *paths in config["mounts"]:
        if kind == "bind":
            source, target = paths
            _bind(source, root + target)
        elif kind == "symlink":
            link_target, link = paths
            _make_parents(root + link)
            if not os.path.lexists(root + link):
                os.symlink(link_target, root + link)
    os.makedirs(root + "/dev", mode=0o755, exist_ok=True)
    for device in _DEVICES:
        if os.path.exists("/dev/" + device):
            _bind("/dev/" + device, root + "/dev/" + device, read_only=False, devices=True)
    _tmpfs(root + "/dev/shm", config["shm_bytes"], 0o1777)
    os.chdir(root)
    number = _PIVOT_ROOT.get(platform.machine())
    if number is not None and _libc.syscall(ctypes.c_long(number), b".", b".") == 0:
        _check(_libc.umount2(b".", MNT_DETACH), "detach the old root")
        os.chdir("/")
    else:  # an architecture whose pivot_root number we do not know: chroot (no capability survives)
        os.chroot(root)
        os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _drop_privileges(config):
    uid = config["uid"]
    _drop_bounding_set()
    if uid is not None:  # root: the submission's own unprivileged uid and gid, no groups
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
    _clear_capabilities()


_CAPABILITY_VERSION_3 = 0x20080522
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


def _drop_bounding_set():
    """Drop every capability from the bounding set (needs CAP_SETPCAP: done before the uid switch)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except (OSError, ValueError):
        last = 63
    for capability in range(last + 1):
        _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)  # EPERM without CAP_SETPCAP: checked below


def _clear_capabilities():
    """Empty the effective, permitted, inheritable and ambient sets; fail unless none is left.

    (The ambient set is a subset of the permitted and inheritable ones, so it is empty with them.)
    """
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable} structures, all zero
    _check(_libc.capset(header, data), "clear the capability sets")
    held = (ctypes.c_uint32 * 6)()
    _check(_libc.capget(header, held), "read the capability sets")  # /proc may not be mounted here
    if any(held):
        raise OSError(1, "capabilities are left after dropping them: " + " ".join(f"{word:08x}" for word in held))


def _process_one(config, alive, run):
    """Process 1 of the new PID namespace: build the root, drop privileges, ``run()`` the worker.

    ``alive`` is the read end of a pipe whose write end only the launcher holds: it hangs up when
    the launcher is gone (the launcher is outside the namespace, so ``getppid()`` says 0 either way).
    ``run`` execs the worker, or (in a template's child) serves it and never returns.
    """
    try:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "set the parent-death signal")
        poller = select.poll()
        poller.register(alive, select.POLLIN)
        if poller.poll(0):  # the launcher died before the signal was armed
            os._exit(FAILED)
        _build_root(config)
        try:
            _libc.sethostname(b"sandbox", 7)
        except OSError:
            pass
        _drop_privileges(config)
        os.chdir(config["chdir"])
        os.close(alive)
    except BaseException as error:  # noqa: BLE001 - anything before the worker: say what, exit 125
        os.write(2, f"confine: {error}\n".encode(errors="replace"))
        os._exit(FAILED)
    run()
    os._exit(FAILED)  # pragma: no cover - run() execs or exits


def launch(config, run):
    """Enter the namespaces, fork process 1 to ``run()`` the worker, wait for it; its exit status."""
    try:
        _enter_namespaces(config)
    except OSError as error:
        os.write(2, f"confine: {error}\n".encode(errors="replace"))
        return FAILED
    alive, keep_alive = os.pipe()  # both close-on-exec
    child = os.fork()
    if child == 0:
        os.close(keep_alive)
        _process_one(config, alive, run)
    os.close(alive)
    for fd in config["close_fds"]:  # the worker's ends of its pipes: only process 1 holds them now
        try:
            os.close(fd)
        except OSError:
            pass
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda number, _frame: os.kill(child, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)

