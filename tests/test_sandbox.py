"""Each isolation layer is active where ``SubmissionRunner.isolation`` claims it is."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest

from harness import sandbox
from harness.errors import SandboxUnavailable
from harness.runner import Limits, SubmissionRunner, surviving_processes

LIMITS = Limits(call_timeout=2.0, memory_bytes=512 << 20, cpu_seconds=30, file_size_bytes=1 << 16, open_files=32)
DETECTED = sandbox.detect()  # the harness's own namespaces where they work, workers forked from the template
BUBBLEWRAP = sandbox.detect(namespaces=False)  # bubblewrap where it runs: every worker a fresh Python
FALLBACK = sandbox.detect(bwrap=None)  # never bubblewrap
UNISOLATED = sandbox.Sandbox(mode="process", problems=("bubblewrap unavailable: test", "namespaces unavailable: test"))
needs_bubblewrap = pytest.mark.skipif(BUBBLEWRAP.mode != "bubblewrap", reason=f"bubblewrap cannot run here: {BUBBLEWRAP.problems}")
PRIVATE = list({chosen.mode: chosen for chosen in (DETECTED, BUBBLEWRAP, FALLBACK) if chosen.private_filesystem}.values())

PROBES = '''\
import os
import resource
import socket
import sys
import time


def limits(x):
    kinds = [resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_CORE]
    return [resource.getrlimit(kind)[0] for kind in kinds]


def environment(x):
    print(sorted(os.environ))
    return float(os.environ["OPENBLAS_NUM_THREADS"])


def view(x):
    import json

    print(json.dumps({"root": os.listdir("/"), "here": sorted(os.listdir(".")), "cwd": os.getcwd()}))
    return float(os.getpid())


def open_fds(x):
    found = []
    for fd in range(1024):
        try:
            os.fstat(fd)
            found.append(fd)
        except OSError:
            pass
    print(found)
    return float(len([fd for fd in found if fd < 200]))


def writable(x):
    found = []
    for directory in ("/", "/dev", "/dev/shm", "/run", "/submission", "/tmp"):
        try:
            with open(os.path.join(directory, "probe"), "wb") as f:
                f.write(b"x")
            found.append(directory)
        except OSError:
            pass
    print(found)
    return 0.0


def uses_harness(x):
    import harness.runner  # an editable install's finder may still make "harness" a namespace

    return 1.0


def children_hold_memory(x):
    # Each child stays under RLIMIT_AS; together they are over the memory cgroup's limit.
    children = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            data = b"x" * (160 << 20)
            time.sleep(1.5)
            os._exit(len(data) & 0)
        children.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    return float(sum(os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9 for status in statuses))


def outgrows_its_children(x):
    # Children first (so they share none of it), then the worker becomes the biggest process.
    for _ in range(3):
        if os.fork() == 0:
            data = b"x" * (150 << 20)
            time.sleep(60)
    hoard = []
    while True:
        hoard.append(b"x" * (16 << 20))


def connect(x):
    with open("port.txt") as f:
        port = int(f.read())
    socket.create_connection(("127.0.0.1", port), timeout=0.5)
    return 1.0


def big_file(x):
    with open(os.environ["TMPDIR"] + "/big", "wb") as f:
        f.write(b"x" * (1 << 17))
    return 1.0


def spin(x):
    while True:
        pass
'''


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("probes")
    (folder / "probes.py").write_text(PROBES)
    (folder / "notes.txt").write_text("copied too")
    return folder


@pytest.fixture(scope="module", params=["detected", "bubblewrap", "fallback", "trusted"])
def runner(request: pytest.FixtureRequest, submission: Path):
    chosen = {"detected": DETECTED, "bubblewrap": BUBBLEWRAP, "fallback": FALLBACK, "trusted": UNISOLATED}[request.param]
    with SubmissionRunner(submission, LIMITS, sandbox=chosen, trusted=request.param == "trusted") as runner:
        yield runner


def call(runner: SubmissionRunner, name: str):
    return runner.call("probes", name, {"x": np.array(0.0)})


def test_rlimits_are_applied_to_the_worker(runner):
    outcome = call(runner, "limits")
    assert outcome.status == "ok", outcome
    assert outcome.value.tolist() == [512 << 20, 30, 1 << 16, 32, 0]


def test_the_environment_is_scrubbed(runner):
    outcome = call(runner, "environment")
    assert outcome.value == 1.0
    names = ["HARNESS_RUN_ID", "HOME", "LANG", "LC_ALL", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PATH"]
    names += ["PWD", "TMPDIR"] if runner.sandbox.mode == "bubblewrap" else ["TMPDIR"]  # bubblewrap's --chdir sets PWD
    assert outcome.output == f"{names}\n"


def test_only_stdio_is_open_below_the_private_fds(runner):
    outcome = call(runner, "open_fds")
    assert outcome.value == 3.0, outcome.output


def test_the_file_size_limit_stops_big_files(runner):
    outcome = call(runner, "big_file")  # Python ignores SIGXFSZ, so the write fails instead
    assert outcome.status == "exception"
    line = next(n for n, text in enumerate(PROBES.splitlines(), 1) if "1 << 17" in text)
    assert outcome.message == f"OSError: [Errno 27] File too large (probes.py, line {line})"


def test_the_cpu_limit_kills_a_spinning_worker(submission):
    limits = Limits(call_timeout=10.0, cpu_seconds=1)
    with SubmissionRunner(submission, limits) as runner:
        outcome = call(runner, "spin")
    assert (outcome.status, outcome.message) == ("crashed", "killed: CPU time limit 1 s")


def cgroup_file(runner: SubmissionRunner, *names: str) -> Path:
    """The first of ``names`` (v2 name, v1 name) that exists in the worker's cgroups."""
    return next(path / name for name in names for path in runner._worker.cgroup.paths if (path / name).exists())


@pytest.mark.skipif(DETECTED.pids_cgroup is None, reason="no writable pids cgroup here")
def test_the_worker_runs_in_its_own_pids_cgroup(submission):
    with SubmissionRunner(submission, LIMITS) as runner:
        assert "pids cgroup" in runner.isolation
        assert call(runner, "limits").status == "ok"
        cgroup = runner._worker.cgroup
        assert cgroup_file(runner, "pids.max").read_text().strip() == str(LIMITS.processes)
        assert len(cgroup.pids()) >= 1
    assert not any(path.exists() for path in cgroup.paths)


needs_memory_cgroup = pytest.mark.skipif(DETECTED.memory_cgroup is None, reason="no writable memory cgroup here")


@needs_memory_cgroup
def test_the_memory_cgroup_caps_the_worker_and_its_children_together(submission):
    limits = Limits(call_timeout=20.0, memory_bytes=512 << 20)
    with SubmissionRunner(submission, limits) as runner:
        assert "memory cgroup (the worker and its children together)" in runner.isolation
        outcome = call(runner, "children_hold_memory")
        limit = cgroup_file(runner, "memory.max", "memory.limit_in_bytes").read_text().strip()
        oom_kills = runner._worker.cgroup.oom_kills()
    assert outcome.status == "ok", outcome
    assert 1 <= outcome.value <= 3  # 4 x 160 MiB do not fit in 512 MiB; 3 do
    assert (limit, oom_kills) == (str(512 << 20), outcome.value)


@needs_memory_cgroup
def test_a_worker_killed_by_its_memory_cgroup_is_a_memory_verdict(submission):
    limits = Limits(call_timeout=20.0, memory_bytes=768 << 20)
    with SubmissionRunner(submission, limits) as runner:
        outcome = call(runner, "outgrows_its_children")
        run_id = runner.run_id
    assert (outcome.status, outcome.message) == (
        "memory", "killed: memory limit 768 MiB (the worker and its child processes together)"
    )
    assert surviving_processes(run_id) == []


def test_without_a_memory_cgroup_the_isolation_says_so():
    bare = sandbox.Sandbox(mode="namespaces", pids_cgroup=Path("/x"), problems=("no memory cgroup: no writable cgroup",))
    assert bare.describe().endswith(", pids cgroup, rlimits (no memory cgroup: no writable cgroup)")


@pytest.mark.parametrize("chosen", PRIVATE, ids=[chosen.mode for chosen in PRIVATE])
def test_the_sandbox_shows_only_python_and_the_submission_copy(submission, chosen):
    with SubmissionRunner(submission, LIMITS, sandbox=chosen) as runner:
        assert runner.isolation.startswith(f"{chosen.mode} (no network, own PID")
        outcome = call(runner, "view")
        assert outcome.value <= 3.0  # a fresh PID namespace: the worker is pid 1 or 2
        seen = json.loads(outcome.output)
        allowed = {"dev", "tmp", "run", "submission", "etc", "usr", "lib", "lib32", "lib64", "libx32"}
        allowed |= {Path(mount[2]).parts[1] for mount in sandbox.python_mounts()}
        assert set(seen["root"]) <= allowed
        assert not {"proc", "sys", "home", "work", "var"} & set(seen["root"])
        assert (seen["here"], seen["cwd"]) == (["notes.txt", "probes.py"], "/submission")
        outcome = call(runner, "uses_harness")
        assert outcome.message.startswith("ModuleNotFoundError: No module named 'harness"), outcome


@pytest.mark.parametrize("chosen", PRIVATE, ids=[chosen.mode for chosen in PRIVATE])
def test_only_the_sized_tmp_is_writable_inside_the_sandbox(submission, chosen):
    # tmpfs pages are not address space: an unsized writable tmpfs would escape RLIMIT_AS.
    with SubmissionRunner(submission, LIMITS, sandbox=chosen) as runner:
        outcome = call(runner, "writable")
    expected = "['/tmp']\n" if chosen.mode == "bubblewrap" else "['/dev/shm', '/tmp']\n"
    assert outcome.output == expected
    assert f"{sandbox.SANDBOX_TMP_BYTES >> 20} MiB" in runner.isolation


def _listener(folder: Path) -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    (folder / "port.txt").write_text(str(server.getsockname()[1]))
    return server


@pytest.mark.parametrize("chosen", [DETECTED, BUBBLEWRAP, FALLBACK], ids=["detected", "bubblewrap", "fallback"])
def test_the_network_is_unreachable_when_claimed(tmp_path, chosen):
    if not chosen.network_isolated:
        pytest.skip(f"no network isolation here: {chosen.problems}")
    (tmp_path / "probes.py").write_text(PROBES)
    with _listener(tmp_path) as server, SubmissionRunner(tmp_path, LIMITS, sandbox=chosen) as runner:
        outcome = call(runner, "connect")
        assert outcome.status == "exception"
        assert "ConnectionRefusedError" in outcome.message or "OSError" in outcome.message
        with pytest.raises(BlockingIOError):
            server.accept()


def test_the_fallback_says_why_bubblewrap_is_missing():
    fallback = sandbox.detect(bwrap=None, namespaces=False)
    assert fallback.problems[:2] == (
        "bubblewrap unavailable: `bwrap` is not installed (apt-get install bubblewrap)", "namespaces not tried"
    )
    assert fallback.describe().startswith("separate unprivileged uid" if fallback.mode == "uid" else "NO ISOLATION")


def test_auto_prefers_the_harness_namespaces_and_says_so():
    if DETECTED.mode != "namespaces":
        pytest.skip(f"the namespace launcher cannot run here: {DETECTED.problems}")
    assert DETECTED.forks_from_template
    if BUBBLEWRAP.mode == "bubblewrap":
        assert not BUBBLEWRAP.forks_from_template
    assert "each worker forked from a template holding only Python, numpy and the worker" in DETECTED.describe()


@pytest.mark.skipif(FALLBACK.mode != "namespaces", reason=f"the namespace launcher cannot run here: {FALLBACK.problems}")
def test_without_bubblewrap_the_harness_builds_the_namespaces_itself():
    assert FALLBACK.pid_namespace and FALLBACK.network_isolated and FALLBACK.private_filesystem
    assert FALLBACK.own_uid == (os.geteuid() == 0)


def test_a_failing_bubblewrap_is_reported_with_its_own_words(tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert sandbox.probe_bwrap(str(fake)) == (
        "bubblewrap unavailable: bwrap: Creating new namespace failed: Operation not permitted"
    )


def test_require_sandbox_refuses_to_run_without_namespaces(submission):
    uid_only = sandbox.Sandbox(mode="uid", problems=("bubblewrap unavailable: test", "namespaces unavailable: test"))
    for chosen in (uid_only, UNISOLATED):
        with pytest.raises(SandboxUnavailable, match="a namespace sandbox is required .* cannot run here: bubblewrap unavailable: test"):
            SubmissionRunner(submission, LIMITS, require_sandbox=True, trusted=True, sandbox=chosen)


def test_untrusted_code_is_refused_without_isolation(submission):
    with pytest.raises(SandboxUnavailable, match="submission code cannot be isolated here: .* pass --trusted-code"):
        SubmissionRunner(submission, LIMITS, sandbox=UNISOLATED)
    with SubmissionRunner(submission, LIMITS, sandbox=UNISOLATED, trusted=True) as runner:
        assert runner.isolation.startswith("NO ISOLATION: submission code runs as the grader (trusted code only)")
        assert call(runner, "limits").status == "ok"


@needs_bubblewrap
def test_require_sandbox_accepts_a_working_bubblewrap(submission):
    with SubmissionRunner(submission, LIMITS, require_sandbox=True, sandbox=BUBBLEWRAP) as runner:
        assert call(runner, "limits").status == "ok"


def test_the_description_names_every_layer():
    layers = sandbox.Sandbox(mode="uid", pids_cgroup=Path("/x"), memory_cgroup=Path("/y"), problems=("no bwrap",))
    assert layers.describe() == (
        "separate unprivileged uid per submission, no new privileges, its files private, every process of the "
        "uid killed at the end (no namespaces: world-readable host files and the network are reachable), "
        "pids cgroup, memory cgroup (the worker and its children together), rlimits (no bwrap)"
    )
    assert sandbox.Sandbox().describe() == "NO ISOLATION: submission code runs as the grader (trusted code only), rlimits"
    assert "a separate unprivileged uid per submission" in sandbox.Sandbox(mode="namespaces").describe()
    assert "the grader's uid in a user namespace" in sandbox.Sandbox(mode="namespaces", user_namespace=True).describe()


def test_python_mounts_do_not_expose_the_project(tmp_path):
    project = Path(__file__).resolve().parent.parent
    for kind, source, target in sandbox.python_mounts():
        for path in (source, target) if kind == "bind" else (target,):
            assert not str(project).startswith(path), path
            assert not path.startswith(str(project)), path



def test_mode_uid_refuses_while_the_graders_files_are_readable_by_every_user():
    folder = Path(tempfile.mkdtemp(prefix="harness-exposed-"))  # under /tmp itself: others may search it
    try:
        folder.chmod(0o755)
        spec = folder / "spec.yaml"
        spec.write_text("answer keys")
        spec.chmod(0o644)
        assert sandbox.readable_by_others(spec)
        uid_only = sandbox.Sandbox(mode="uid")
        with pytest.raises(SandboxUnavailable, match=r"can read whatever every user may: .*spec\.yaml .*chmod -R go-rwx"):
            sandbox.check_private(uid_only, [spec, None])
        sandbox.check_private(sandbox.Sandbox(mode="namespaces"), [spec])  # not visible there at all
        folder.chmod(0o700)
        assert not sandbox.readable_by_others(spec)
        sandbox.check_private(uid_only, [spec, folder / "missing"])
    finally:
        shutil.rmtree(folder)
