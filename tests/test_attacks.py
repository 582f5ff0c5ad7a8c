"""The attack suite at the runner level: one submission per attack in tests/fixtures/attacks/.

Each attack must end in a clean non-"ok" status or a harmless number, leave the grading process
and a bystander submission healthy, change nothing outside its temporary copy, and leave no
process behind. Attacks that would harm the host if unconfined (``kill(-1)``, fork bombs) run
only after the test has checked that the PID namespace (and a pids cgroup) is active.
"""

from __future__ import annotations

import hashlib
import os
import math
import shutil
import socket
import stat
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness import sandbox, uids
from harness.runner import Limits, Outcome, SubmissionRunner, surviving_processes

ATTACKS = Path(__file__).parent / "fixtures" / "attacks"
LIMITS = Limits(call_timeout=1.0, memory_bytes=512 << 20, submission_timeout=30.0)
# The isolation mode the suite attacks: the strongest here, or the one a mode-matrix run names
# (tests/test_isolation_modes.py runs this suite once per mode the machine can produce).
ISOLATION = os.environ.get("HARNESS_TEST_ISOLATION", "auto")
SANDBOX = sandbox.choose(ISOLATION)
ARGUMENTS = {"x": np.array(0.3), "w1": np.array(0.5), "b1": np.array(-0.2), "w2": np.array(1.5), "b2": np.array(0.1)}
HOST_MARKERS = [Path("/tmp/shadow_ran"), Path("/tmp/pickle_pwned")]
CORRECT = """\
import math


def dyhat_dw1(x, w1, b1, w2, b2):
    a1 = 1 / (1 + math.exp(-(w1 * x + b1)))
    yhat = 1 / (1 + math.exp(-(w2 * a1 + b2)))
    return yhat * (1 - yhat) * w2 * a1 * (1 - a1) * x
"""


def requirement_problem(needs: str) -> str | None:
    """Why an attack needing ``needs`` must not run here, or ``None`` when it may."""
    # An unprivileged uid of its own confines kill(-1) to the submission's processes, and makes
    # RLIMIT_NPROC count (root ignores it): host-harming attacks are safe there too.
    confined = SANDBOX.pid_namespace or SANDBOX.own_uid
    if needs == "pid namespace and pids cgroup":
        if not confined or (SANDBOX.pids_cgroup is None and not SANDBOX.own_uid):
            return f"host-harming attack: needs a PID namespace and a pids cgroup, or a uid of its own ({SANDBOX.describe()})"
    elif needs == "pid namespace":
        if not confined:
            return f"host-harming attack: needs a PID namespace or a uid of its own ({SANDBOX.describe()})"
    elif needs == "private file system":
        if not SANDBOX.private_filesystem:
            return f"without namespaces the worker sees the host file system ({SANDBOX.describe()})"
    elif needs == "confined files":
        if not SANDBOX.private_filesystem and not SANDBOX.own_uid:
            return f"the worker may write wherever the grader may ({SANDBOX.describe()})"
    elif needs == "process reaping":
        if not confined and SANDBOX.pids_cgroup is None:
            return f"a setsid daemon escapes without a PID namespace, a pids cgroup or a uid ({SANDBOX.describe()})"
    elif needs == "network isolation":
        if not SANDBOX.network_isolated:
            return f"no network namespace here ({SANDBOX.describe()})"
    return None


@dataclass(frozen=True)
class Attack:
    name: str
    statuses: tuple[str, ...]  # acceptable outcome statuses ("module_error" for import attacks)
    message: str = ""  # expected at the start of the message
    value: Callable[[np.ndarray], bool] | None = None  # for "ok": the harmless value it must be
    needs: str = ""


def equals(expected: float) -> Callable[[np.ndarray], bool]:
    return lambda value: type(value) is np.ndarray and value.dtype == np.float64 and value.tolist() == expected


def is_nan(value: np.ndarray) -> bool:
    return math.isnan(float(value))


TIMEOUT = "timed out after 1 s"
TABLE = [
    Attack("eq_always_true", ("bad_value",), "returned a non-numeric value of type 'AlwaysEqual'"),
    Attack("lying_float_subclass", ("ok",), value=equals(123.0)),  # only its __float__ number crosses
    Attack("lying_ndarray_subclass", ("ok",), value=equals(0.0)),
    Attack("array_raises", ("bad_value",), "returned a value numpy cannot convert: RuntimeError: boom from __array__"),
    Attack("array_hangs", ("timeout",), TIMEOUT),
    Attack("array_side_effects", ("ok",), value=equals(0.5), needs="private file system"),
    Attack("frame_inspection", ("ok",), value=equals(0.0)),
    Attack("monkeypatch_numpy", ("ok",), value=equals(1.5)),
    Attack("shadow_modules", ("ok",), value=equals(2.5)),
    Attack("sys_exit_call", ("exception",), "SystemExit: 0 (q2_4.py, line 6)"),
    Attack("keyboard_interrupt_call", ("exception",), "KeyboardInterrupt (q2_4.py, line 5)"),
    Attack("os_exit_call", ("crashed",), "the worker process exited with code 0 before replying"),
    Attack("sys_exit_import", ("module_error",), "SystemExit: 0 at import (q2_4.py, line 4)"),
    Attack("keyboard_interrupt_import", ("module_error",), "KeyboardInterrupt at import (q2_4.py, line 2)"),
    Attack("os_exit_import", ("module_error",), "importing q2_4.py: the worker process exited with code 0"),
    Attack("forged_frame_stdout", ("ok",), value=equals(0.25)),
    Attack("forged_frame_fd", ("crashed",), "the worker broke the protocol: a reply without the run's token"),
    # With the token read from memory a forgery is just another way to return a number.
    Attack("forged_frame_with_token", ("ok",), value=equals(1e9)),
    Attack("read_secrets", ("ok",), value=equals(0.0), needs="private file system"),
    # Writes land in the sandbox's private /tmp (or, as a uid of its own, the host's /tmp, cleaned
    # up after it): the check that matters is the victims' snapshot.
    Attack("write_outside", ("ok",), needs="confined files"),
    # Plants files where the grader would trust them, reads the grader through /proc and ptrace:
    # the checks that matter are grader_untouched() and the output (no secret).
    Attack("tamper_with_the_grader", ("ok",), value=equals(0.0)),
    Attack("spy_on_the_grader", ("ok",), value=equals(0.0)),
    # Refused under bubblewrap (loopback up, nobody listening), unreachable under unshare -n.
    Attack("socket_localhost", ("exception",), needs="network isolation"),
    Attack("pickle_reduce", ("bad_value",), "returned a non-numeric value of type 'Payload'"),
    Attack("memory_bomb_empty", ("memory",), "killed: memory limit 512 MiB"),
    Attack("memory_bomb_list", ("timeout", "memory")),
    # "... (the worker and its child processes together)" where a memory cgroup caps them; filling
    # 512 MiB can take longer than the 1 s call timeout on a loaded machine.
    Attack("memory_bomb_children", ("memory", "timeout")),
    Attack("cpu_loop", ("timeout",), TIMEOUT),
    Attack("cpu_loop_ignore_sigxcpu", ("timeout",), TIMEOUT),
    Attack("sleep_forever", ("timeout",), TIMEOUT),
    Attack("fork_bomb", ("timeout", "crashed"), needs="pid namespace and pids cgroup"),
    # Alone in its PID namespace it finds no one (ProcessLookupError); as a uid of its own, kill(-1)
    # succeeds without reaching anyone but its own processes.
    Attack("kill_everything", ("exception", "crashed", "ok"), value=equals(0.0), needs="pid namespace"),
    Attack("subprocess_spawn", ("ok", "exception")),
    Attack("multiprocessing_spawn", ("ok", "exception")),
    Attack("setsid_daemon", ("ok",), value=equals(0.0), needs="process reaping"),
    Attack("stdout_flood", ("output_limit",), "printed more than 1 MiB of output; stopped"),
    Attack("huge_array", ("bad_value",), "returned 10000000 numbers; at most 65536 are accepted"),
    Attack("huge_exception_message", ("exception",), "ValueError: \\x1b[31mxxxxxxxx"),
    Attack("deep_recursion", ("timeout", "crashed", "memory", "exception")),
    Attack("segfault", ("crashed",), "crashed: segmentation fault (SIGSEGV)"),
    Attack("nan_result", ("ok",), value=is_nan),
    Attack("inf_result", ("ok",), value=equals(math.inf)),
    Attack("complex_result", ("bad_value",), "returned complex numbers"),
    Attack("object_result", ("bad_value",), "returned a non-numeric value of type 'ndarray'"),
    Attack("int_result", ("ok",), value=equals([[3.0]])),
]


def test_every_attack_fixture_is_in_the_table():
    assert sorted(a.name for a in TABLE) == sorted(p.name for p in ATTACKS.iterdir() if p.is_dir())


def snapshot(folder: Path, *, skip: Path | None = None) -> dict[str, tuple]:
    """``folder`` and every path under it but ``skip``: content hash (or link target), mode, size, mtime."""
    found = {}
    for path in sorted([folder, *folder.rglob("*")]):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        if path.is_symlink():
            content = "-> " + str(path.readlink())
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = "dir"
        info = path.lstat()
        found[str(path)] = (content, stat.S_IMODE(info.st_mode), info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def bystander(tmp_path_factory: pytest.TempPathFactory):
    """A correct submission whose worker lives through every attack."""
    folder = tmp_path_factory.mktemp("bystander")
    (folder / "q2_4.py").write_text(CORRECT)
    with SubmissionRunner(folder, LIMITS, sandbox=SANDBOX) as runner:
        expected = runner.call("q2_4", "dyhat_dw1", ARGUMENTS)
        assert expected.status == "ok"
        yield runner, expected


@pytest.fixture
def victims(tmp_path: Path) -> Path:
    """An output folder and another student's folder that attacks aim at (named in target.txt)."""
    reports = tmp_path / "reports"
    (reports / "other_student").mkdir(parents=True)
    (reports / "secret.txt").write_text("expected values")
    (reports / "other_student" / "q2_4.py").write_text(CORRECT)
    return reports


MARKER = "PWNED_BY_SUBMISSION"  # what tamper_with_the_grader plants
SECRET = "expected values"  # what secret.txt in the victims' folder holds


def grader_folders(victims: Path) -> list[Path]:
    """Where the grader keeps what it trusts: the report folder, the reference cache, the installed
    harness, site-packages, the shared memory folder and /tmp's top level."""
    return [victims, victims / "other_student", Path(os.environ["HARNESS_CACHE_DIR"]),
            Path(sandbox.__file__).parent, Path(sysconfig.get_path("purelib")), Path(sysconfig.get_path("stdlib")),
            Path("/dev/shm"), Path("/tmp")]


def planted(victims: Path) -> list[str]:
    """Files tamper_with_the_grader managed to plant (removed here, so one breach fails one test)."""
    found = []
    for folder in grader_folders(victims):
        for name in (f"{MARKER}.pth", "harness.toml", MARKER):
            path = folder / name
            if path.exists() and (name != "harness.toml" or MARKER in path.read_text(errors="replace")):
                found.append(str(path))
                path.unlink()
    return found


def prepare(attack: str, tmp_path: Path, victims: Path, server: socket.socket) -> Path:
    folder = tmp_path / "submissions" / attack
    shutil.copytree(ATTACKS / attack, folder)
    targets = [victims, victims / "other_student", *grader_folders(victims)[2:]]
    (folder / "target.txt").write_text("".join(f"{target}\n" for target in targets))
    (folder / "port.txt").write_text(str(server.getsockname()[1]))
    if attack == "shadow_modules":  # a real conftest.py in tests/ would be collected by pytest
        (folder / "conftest.py").write_text("raise SystemExit('conftest.py was imported')\n")
    return folder


@pytest.mark.parametrize("attack", TABLE, ids=[a.name for a in TABLE])
def test_attack_costs_only_its_own_call(attack: Attack, tmp_path: Path, victims: Path, bystander):
    problem = requirement_problem(attack.needs)
    if problem:
        pytest.skip(problem)
    numpy_asarray = np.asarray
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        folder = prepare(attack.name, tmp_path, victims, server)
        before = snapshot(victims)
        with SubmissionRunner(folder, LIMITS, sandbox=SANDBOX) as runner:
            definition = runner.inspect("q2_4", "dyhat_dw1")
            if attack.statuses == ("module_error",):
                outcome = Outcome(definition.status, message=definition.message)
            else:
                assert definition.status == "function", definition
                outcome = runner.call("q2_4", "dyhat_dw1", ARGUMENTS)
            later = runner.call("q2_4", "dyhat_dw1", ARGUMENTS)  # the runner is still usable
            run_id, uid = runner.run_id, runner.place.uid
        with pytest.raises(BlockingIOError):
            server.accept()
    assert outcome.status in attack.statuses, outcome
    assert outcome.message.startswith(attack.message), outcome
    assert len(outcome.message) < 1100 and len(outcome.output) < 8300
    if outcome.status == "ok" and attack.value is not None:
        assert attack.value(outcome.value), outcome
    assert later.status in attack.statuses + ("ok", "exception", "crashed"), later
    assert surviving_processes(run_id) == []
    if uid is not None:
        assert uids.processes_of(uid) == []
    assert snapshot(victims) == before
    assert planted(victims) == []
    assert SECRET not in outcome.output and "ptrace attached" not in outcome.output, outcome.output
    assert not any(marker.exists() for marker in HOST_MARKERS)
    assert np.asarray is numpy_asarray
    runner_, expected = bystander
    assert runner_.call("q2_4", "dyhat_dw1", ARGUMENTS) == expected


def test_forged_frames_printed_to_stdout_are_only_shown_escaped(tmp_path, victims):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        folder = prepare("forged_frame_stdout", tmp_path, victims, server)
    with SubmissionRunner(folder, LIMITS, sandbox=SANDBOX) as runner:
        outcome = runner.call("q2_4", "dyhat_dw1", ARGUMENTS)
    assert outcome.value.tolist() == 0.25
    assert outcome.output.startswith('\\x00\\x00\\x00M{"id": 1, "index": 0, "status": "ok"')
    assert outcome.output.endswith("\\x1b[2J\\x1b[31mALL TESTS PASSED\\x1b[0m\n")


def test_the_genuine_reply_a_forgery_displaced_does_not_fail_the_next_request(tmp_path):
    folder = tmp_path / "forger"
    shutil.copytree(ATTACKS / "forged_frame_with_token", folder)
    (folder / "other.py").write_text("def f(x):\n    print('other', x)\n    return x\n")
    with SubmissionRunner(folder, LIMITS, sandbox=SANDBOX) as runner:
        (forged,) = runner.call_many("q2_4", "dyhat_dw1", [ARGUMENTS])
        definition = runner.inspect("other", "f")
        later = runner.call("other", "f", {"x": np.array(2.0)})
        assert runner.workers_started == 1
    assert forged.status == "ok" and forged.value.tolist() == 1e9
    assert definition.status == "function", definition
    assert (later.status, later.value.tolist(), later.output) == ("ok", 2.0, "other 2.0\n")


def test_host_harming_attacks_are_skipped_without_a_pid_namespace(monkeypatch):
    monkeypatch.setattr(__import__(__name__), "SANDBOX", sandbox.Sandbox(mode="process"))
    assert requirement_problem("pid namespace").startswith("host-harming attack: needs a PID namespace")
    assert requirement_problem("pid namespace and pids cgroup").startswith("host-harming attack")
    assert requirement_problem("") is None
