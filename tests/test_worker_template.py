"""A submission never sees what a previous one left: files, environment, module state, memory.

Workers are forked from one pre-loaded template per grading process (``harness.template``) in every
mode but bubblewrap. Each test here runs one submission that leaves traces everywhere it can, then
a second one, forked from the same template, that looks for them. The suite runs in whatever mode
``HARNESS_TEST_ISOLATION`` names (``tests/test_isolation_modes.py`` runs it once per mode this
machine can produce); in the default run that is the strongest mode here.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import numpy as np
import pytest

from harness import load_spec, sandbox
from harness.mounts import python_executable
from harness.runner import Limits, SubmissionRunner
from harness.template import template_for

ISOLATION = os.environ.get("HARNESS_TEST_ISOLATION", "auto")
SANDBOX = sandbox.choose(ISOLATION)
LIMITS = Limits(call_timeout=10.0, memory_bytes=512 << 20)
SIZES = (24, 200, 5000, 1 << 16, 1 << 20, 1 << 23)
"""Buffer sizes the first submission fills with its marker and frees (small ones reuse the heap)."""

LEAVE = '''\
import builtins
import json
import os
import sys

import numpy as np

MARKER = {marker!r}
KEPT = []


def leave(x):
    """Leave a trace everywhere a later submission could look."""
    for folder in ("/tmp", "/dev/shm", os.environ.get("HOME", "/tmp"), os.environ.get("TMPDIR", "/tmp"), "."):
        try:
            with open(os.path.join(folder, "left-" + MARKER[:8]), "w") as handle:
                handle.write(MARKER)
        except OSError:
            pass
    os.environ["LEFT_BY_A"] = MARKER
    os.putenv("LEFT_BY_A_PUTENV", MARKER)
    np.LEFT_BY_A = MARKER
    json.LEFT_BY_A = MARKER
    builtins.LEFT_BY_A = MARKER
    sys.path.insert(0, "/left-by-a")
    sys.modules["left_by_a"] = sys.modules[__name__]
    np.set_printoptions(precision=2)
    np.seterr(all="raise")
    for size in {sizes!r}:
        buffer = np.frombuffer((MARKER.encode() * (size // len(MARKER.encode()) + 1))[:size], dtype=np.uint8).copy()
        KEPT.append(bytes(buffer[: min(size, 4096)]))
        del buffer
    KEPT.append(MARKER * 3)
    builtins.len = lambda value: 0
    return 1.0
'''

LOOK = '''\
import builtins
import gc
import json
import os
import sys

import numpy as np

# The needles are built at run time from halves, so this module's own constants never match.
NEEDLES = {{name: left + right for name, (left, right) in {halves!r}.items()}}
SIZES = {sizes!r}
GRADER_MODULES = ("harness", "hypothesis", "mpmath", "yaml", "pytest", "left_by_a")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (bytes, bytearray)):
        yield value.decode("latin-1")
    elif isinstance(value, dict):
        for key, item in list(value.items()):
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in list(value):
            if isinstance(item, (str, bytes, bytearray)):
                yield from _strings(item)


def look(x):
    """Report every trace of an earlier submission or of the grader this process can find."""
    found = []
    for folder in ("/tmp", "/dev/shm", os.environ.get("HOME", "/tmp"), os.environ.get("TMPDIR", "/tmp"), "."):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        found += [f"file {{folder}}/{{name}}" for name in names if name.startswith("left-")]
    found += [f"environment {{name}}" for name in os.environ if name.startswith("LEFT_BY_A")]
    found += ["getenv" for name in ("LEFT_BY_A", "LEFT_BY_A_PUTENV") if os.getenv(name)]
    for module, name in ((np, "numpy"), (json, "json"), (builtins, "builtins")):
        if hasattr(module, "LEFT_BY_A"):
            found.append(f"attribute {{name}}.LEFT_BY_A")
    if builtins.len("abc") != 3:
        found.append("builtins.len replaced")
    if "/left-by-a" in sys.path:
        found.append("sys.path")
    found += [f"module {{name}}" for name in sys.modules if name.split(".")[0] in GRADER_MODULES]
    if np.get_printoptions()["precision"] != 8 or np.geterr()["divide"] != "warn":
        found.append("numpy settings")
    needles = {{name: needle.encode() for name, needle in NEEDLES.items()}}
    for size in SIZES:
        fresh = np.empty(size, dtype=np.uint8).tobytes()
        found += [f"memory: {{name}} in a fresh {{size}}-byte buffer" for name, needle in needles.items()
                  if needle[:16] in fresh]
    mine = {{id(needle) for needle in NEEDLES.values()}}
    for container in gc.get_objects():
        if id(container) in mine or container is NEEDLES:
            continue
        for text in _strings(container):
            for name, needle in NEEDLES.items():
                if text is not needle and needle in text:
                    found.append(f"memory: {{name}} in a live object")
    print(json.dumps(sorted(set(found))))
    return float(len(set(found)))
'''


def _halves(text: str) -> tuple[str, str]:
    """``text`` cut after 8 characters: the 16 bytes looked for in raw memory span the cut, so the
    looking submission's own source (which holds both halves) never matches."""
    assert len(text) >= 16, text
    return text[:8], text[8:]


def _submission(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True)
    (folder / f"{name}.py").write_text(source)
    return folder


def _run(folder: Path, module: str):
    with SubmissionRunner(folder, LIMITS, sandbox=SANDBOX, trusted=not SANDBOX.isolated) as runner:
        outcome = runner.call(module, module, {"x": np.array(0.0)})
        return outcome, runner.run_id


def _template_pid() -> int | None:
    if not SANDBOX.forks_from_template:
        return None
    return template_for(python_executable(), SANDBOX.mode).process.pid


@pytest.mark.skipif(not SANDBOX.isolated, reason="without isolation a submission shares the grader's files by design")
def test_a_submission_sees_nothing_an_earlier_one_left(tmp_path):
    marker = "LEFTBYA" + secrets.token_hex(12)
    first, first_run = _run(_submission(tmp_path / "a", "leave", LEAVE.format(marker=marker, sizes=SIZES)), "leave")
    assert first.status == "ok", first
    template = _template_pid()
    spec = load_spec(Path(__file__).parent.parent / "specs" / "q2_neural_networks.yaml")
    grader_text = spec.questions[0].title  # the grader holds the spec; no worker may
    halves = {"marker": _halves(marker), "first run id": _halves(first_run), "spec title": _halves(grader_text),
              "spec path": _halves(str(spec.path))}
    second, _ = _run(_submission(tmp_path / "b", "look", LOOK.format(halves=halves, sizes=SIZES)), "look")
    assert second.status == "ok", second
    assert json.loads(second.output) == [], second.output
    assert second.value == 0.0
    assert _template_pid() == template  # the same template forked both: nothing restarted it


@pytest.mark.skipif(not SANDBOX.forks_from_template, reason=f"{SANDBOX.mode} starts every worker afresh")
def test_a_submission_cannot_change_the_template(tmp_path):
    """Whatever a child does to its memory or its processes, the next child starts from the same template."""
    attack = '''\
import os
import signal


def attack(x):
    for pid in range(1, 400):  # every process it can see, its parents included
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    os.kill(os.getppid(), signal.SIGSTOP) if os.getppid() > 1 else None
    return 1.0
'''
    _run(_submission(tmp_path / "a", "attack", attack), "attack")
    template = _template_pid()
    outcome, _ = _run(_submission(tmp_path / "b", "look", LOOK.format(halves={}, sizes=SIZES)), "look")
    assert outcome.status == "ok" and outcome.value == 0.0, outcome
    assert _template_pid() == template


@pytest.mark.skipif(not SANDBOX.forks_from_template, reason=f"{SANDBOX.mode} starts every worker afresh")
def test_the_template_holds_nothing_of_the_grader():
    pid = _template_pid()
    status = Path(f"/proc/{pid}/status").read_text()
    assert "\nCapEff:\t0000000000000000" in status or os.geteuid() == 0  # root's template forks as root
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = sorted(entry.split(b"=", 1)[0].decode() for entry in environment if entry)
    assert names == ["HARNESS_RUN_ID", "HOME", "LANG", "LC_ALL", "MKL_NUM_THREADS", "OMP_NUM_THREADS",
                     "OPENBLAS_NUM_THREADS", "PATH", "TMPDIR"]
    open_fds = os.listdir(f"/proc/{pid}/fd")
    assert len(open_fds) <= 8, open_fds  # stdio, its control socket, its wake-up pipe


@pytest.mark.skipif(not SANDBOX.isolated, reason="without isolation a submission shares the grader's files by design")
def test_a_worker_started_ahead_sees_nothing_an_earlier_one_left(tmp_path):
    """``prepare_next`` starts the next submission's worker during this one, on an empty copy folder."""
    from harness import runner as runner_module
    from harness.runner import discard_spares, surviving_processes

    marker = "LEFTBYA" + secrets.token_hex(12)
    leave = _submission(tmp_path / "a", "leave", LEAVE.format(marker=marker, sizes=SIZES))
    with SubmissionRunner(leave, LIMITS, sandbox=SANDBOX) as first:
        assert first.call("leave", "leave", {"x": np.array(0.0)}).status == "ok"
        first.prepare_next()
        _, (_, spare_run, *_rest) = runner_module._spares[os.getpid()]
        first_run = first.run_id
    halves = {"marker": _halves(marker), "first run id": _halves(first_run)}
    look = _submission(tmp_path / "b", "look", LOOK.format(halves=halves, sizes=SIZES))
    with SubmissionRunner(look, LIMITS, sandbox=SANDBOX) as second:
        assert second.run_id == spare_run  # it took the worker started ahead
        outcome = second.call("look", "look", {"x": np.array(0.0)})
        assert second.workers_started == 1
    assert outcome.status == "ok" and json.loads(outcome.output) == [], outcome
    # One that no runner takes is killed and removed.
    with SubmissionRunner(look, LIMITS, sandbox=SANDBOX) as third:
        third.prepare_next()
    _, (temporary, unused_run, *_rest) = runner_module._spares[os.getpid()]
    discard_spares()
    assert surviving_processes(unused_run) == [] and not temporary.exists()


@pytest.mark.skipif(not SANDBOX.isolated, reason="the spare is started like any isolated worker")
def test_a_worker_started_ahead_that_died_is_not_handed_out(tmp_path):
    import signal

    from harness import runner as runner_module

    folder = _submission(tmp_path / "a", "look", LOOK.format(halves={}, sizes=SIZES))
    with SubmissionRunner(folder, LIMITS, sandbox=SANDBOX) as first:
        first.prepare_next()
    _, (_, spare_run, _, _, spare) = runner_module._spares[os.getpid()]
    signal.pidfd_send_signal(spare.exit_fd, signal.SIGKILL)  # it may not have its own session yet
    spare.process.wait(10)
    with SubmissionRunner(folder, LIMITS, sandbox=SANDBOX) as second:
        assert second.run_id != spare_run  # a fresh worker, not the dead one
        outcome = second.call("look", "look", {"x": np.array(0.0)})
    assert outcome.status == "ok" and outcome.value == 0.0, outcome
