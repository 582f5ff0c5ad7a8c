"""The attack suite end to end: attack submissions graded by ``harness.grading.grade_all``.

``test_attacks.py`` attacks the runner call by call; here the same attacks go through the real
pipeline (spec, checker, runner, reports), several per grading run, in a run that also grades the
reference solution. Each attack submission is the reference solution with the attack's files on
top, so an attack that costs anything beyond its own item (2.4 ``dyhat_dw1``, 3 points) shows up
as a lost point elsewhere. Everything lives in a temporary tree (spec copy, submissions, a decoy
folder) that is snapshotted before and after; the report folder is the only place that may change.

The spec copy grades 2.4 third: 2.2 and 2.3 are answered before the attack runs, 2.1 is imported
after it, by whatever worker the attack left behind (or a fresh one, when it killed its own).

Per run the tests check: the reference keeps full marks; each attack loses exactly its item, with
the verdict its report shows; each submission stays within its time budget; no process and no
cgroup of the run survives; nothing outside the report folder changed, and the report folder holds
only reports. Attacks that harm an unconfined host (``kill(-1)``, a fork bomb) run only when the PID
namespace and the pids cgroup are verified active, and with ``require_sandbox``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import harness.grading
from harness.grading import GradeOptions, grade_all
from harness.report.markdown import escape_text
from harness.results import ItemResult, SubmissionResult
from harness.runner import Limits, SubmissionRunner, surviving_processes
from harness.spec import load_spec
from test_attacks import ATTACKS, HOST_MARKERS, ISOLATION, SANDBOX, grader_folders, planted, requirement_problem, snapshot

pytestmark = pytest.mark.slow  # whole classes of attacks graded end to end

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "q2_neural_networks.yaml"
REFERENCE = ROOT / "submissions" / "reference_solution"
GRADING_ORDER = ("2.2", "2.3", "2.4", "2.1")
ATTACKED = "2.4 dyhat_dw1"
LIMITS = Limits(call_timeout=1.0, submission_timeout=10.0, memory_bytes=512 << 20)
OPTIONS = GradeOptions(seed=0, examples=5, limits=LIMITS, jobs=1, isolation=ISOLATION)  # one process: its runners are recorded
# What a submission may take beyond its worker time: each worker start-up (Python and numpy under
# bubblewrap take about 0.3 s here) and the grading around the calls (references, reports).
START_ALLOWANCE = 5.0
GRADING_ALLOWANCE = 20.0
# The grading process itself is not sandboxed: a blow-up there (a grader bug, an alias bomb) must
# fail this test, not exhaust a machine shared with others.
GRADER_HEADROOM_BYTES = 4 << 30
FORMULA_MARKER = Path("/tmp/harness_formula_ran")


@dataclass(frozen=True)
class Attack:
    """One attack fixture and what its item must end as."""

    name: str
    verdicts: tuple[str, ...] = ()  # the item's summary is one of these (whole text)
    received: float | None = None  # or: a value verdict, on this harmless number when given
    run: str = "attack_run"
    needs: str = ""


TIMEOUT = "did not finish in time: timed out after 1 s"
CRASHED = "crashed the Python process: "
NOT_LOADED = "q2_4.py could not be loaded: "
MEMORY = "ran out of memory: killed: memory limit 512 MiB"
HUGE_MESSAGE = "raised an exception: ValueError: \\x1b[31m" + "x" * 980 + "... [63 more characters]"  # 1000 escaped
TABLE = [
    Attack("eq_always_true", ("returned a non-numeric value of type 'AlwaysEqual'",)),
    Attack("lying_float_subclass", received=123.0),  # only its __float__ number crosses
    Attack("lying_ndarray_subclass", received=0.0),
    Attack("array_raises", ("returned a value numpy cannot convert: RuntimeError: boom from __array__ (q2_4.py, line 6)",)),
    Attack("array_hangs", (TIMEOUT,)),
    Attack("array_side_effects", received=0.5, needs="private file system"),
    Attack("frame_inspection", received=0.0),
    Attack("monkeypatch_numpy", received=1.5),
    Attack("shadow_modules", received=2.5),
    Attack("sys_exit_call", ("raised an exception: SystemExit: 0 (q2_4.py, line 6)",)),
    Attack("keyboard_interrupt_call", ("raised an exception: KeyboardInterrupt (q2_4.py, line 5)",)),
    Attack("os_exit_call", (CRASHED + "the worker process exited with code 0 before replying (os._exit?)",)),
    Attack("sys_exit_import", (NOT_LOADED + "SystemExit: 0 at import (q2_4.py, line 4)",)),
    Attack("keyboard_interrupt_import", (NOT_LOADED + "KeyboardInterrupt at import (q2_4.py, line 2)",)),
    Attack("os_exit_import", (NOT_LOADED + "importing q2_4.py: the worker process exited with code 0 before replying (os._exit?)",)),
    Attack("forged_frame_stdout", received=0.25),
    Attack("forged_frame_fd", (CRASHED + "the worker broke the protocol: a reply without the run's token",)),
    Attack("forged_frame_with_token", received=1e9),  # a forgery is just another way to return
    Attack("read_secrets", received=0.0, needs="private file system"),
    Attack("write_outside", received=None, needs="confined files"),  # counts its writes to /tmp
    Attack("tamper_with_the_grader", received=0.0),  # see test_nothing_is_planted_where_the_grader_looks
    Attack("spy_on_the_grader", received=0.0),  # see test_no_secret_reaches_a_report
    Attack(
        "socket_localhost",
        (
            "raised an exception: ConnectionRefusedError: [Errno 111] Connection refused (q2_4.py, line 11)",
            "raised an exception: OSError: [Errno 101] Network is unreachable (q2_4.py, line 11)",
        ),
        needs="network isolation",
    ),
    Attack("pickle_reduce", ("returned a non-numeric value of type 'Payload'",)),
    Attack("memory_bomb_empty", (MEMORY,)),
    Attack("memory_bomb_list", (TIMEOUT, MEMORY)),
    # Each process under RLIMIT_AS, together over the limit: the memory cgroup's kill where there is
    # one (filling 512 MiB can take longer than the 1 s call timeout on a loaded machine).
    Attack(
        "memory_bomb_children",
        (MEMORY + " (the worker and its child processes together)" if SANDBOX.memory_cgroup else MEMORY, TIMEOUT),
    ),
    Attack("cpu_loop", (TIMEOUT,)),
    Attack("cpu_loop_ignore_sigxcpu", (TIMEOUT,)),
    Attack("sleep_forever", (TIMEOUT,)),
    Attack("subprocess_spawn", received=0.0),
    Attack("multiprocessing_spawn", received=0.0),
    Attack("setsid_daemon", received=0.0, needs="process reaping"),
    Attack("stdout_flood", ("printed too much output: printed more than 1 MiB of output; stopped",)),
    Attack("huge_array", ("returned 10000000 numbers; at most 65536 are accepted",)),
    Attack("huge_exception_message", (HUGE_MESSAGE,)),
    Attack("deep_recursion", (TIMEOUT, MEMORY, CRASHED + "crashed: segmentation fault (SIGSEGV)")),
    Attack("segfault", (CRASHED + "crashed: segmentation fault (SIGSEGV)",)),
    Attack("nan_result", ("returned nan or inf where the true value is finite",)),
    Attack("inf_result", ("returned nan or inf where the true value is finite",)),
    Attack("complex_result", ("returned complex numbers",)),
    Attack("object_result", ("returned a non-numeric value of type 'ndarray' (its entries make numpy dtype 'object')",)),
    Attack("int_result", received=3.0),
    # Host-harming: only in their own run, after the checks in host_harming_run.
    Attack(
        "fork_bomb",
        (TIMEOUT, CRASHED + "killed (SIGKILL): CPU time limit 60 s, memory, or an external kill"),
        run="host_harming_run",
        needs="pid namespace and pids cgroup",
    ),
    Attack(  # alone in its PID namespace (whose init it may not signal), it finds no one to kill
        "kill_everything",
        ("raised an exception: ProcessLookupError: [Errno 3] No such process (q2_4.py, line 7)",),
        run="host_harming_run",
        needs="pid namespace",
    )
    if SANDBOX.pid_namespace
    else Attack(  # as a uid of its own, kill(-1) succeeds and reaches only the uid's own processes
        "kill_everything", received=0.0, run="host_harming_run", needs="pid namespace"
    ),
]
HOST_HARMING = "pid namespace and pids cgroup"

# answers.yaml attacks: hostile formulas are parsed by the safe formula language, never run.
CANNOT_BE_READ = "answers.yaml: the answer to {} cannot be read"
HOSTILE_FORMULAS = {
    "2.1 dyhat_dw2": f"__import__('os').system('touch {FORMULA_MARKER}')",
    "2.1 dyhat_db2": "().__class__.__bases__",
    "2.2 dyhat_dw2": "9**9**9**9",
    "2.2 dyhat_db2": "(" * 10_000 + "z2" + ")" * 10_000,
    "2.3 dyhat_dx": "w1" + " + w1" * 200_000,  # a 1 MB string
    "2.3 dyhat_dx_changes_with_b2": True,
    "2.4 dyhat_dw1": "__import__('os')",  # q2_4.py defines dyhat_dw1: the module wins
}
NESTED_FORMULAS = {  # within the length limit, nested as deep as it allows
    "2.1 dyhat_dw2": "(" * 999 + "a1" + ")" * 999,
    "2.1 dyhat_db2": "-" * 1990 + "dyhat_dz2",
    "2.2 dyhat_dw2": " * ".join(["a1"] * 400),
    "2.2 dyhat_db2": "sigmoid(" * 220 + "z2" + ")" * 220,
    "2.3 dyhat_dx": "w1.__class__",
    "2.3 dyhat_dx_changes_with_b2": "__import__('os')",  # a hostile string where a bool is wanted
    "2.4 dyhat_dw1": "a1*(1-a1)*w2*x*yhat*(1-yhat)",  # a correct formula, graded like code
}
WRITTEN = {"hostile_formulas": HOSTILE_FORMULAS, "nested_formulas": NESTED_FORMULAS}
WITH_MODULE = "hostile_formulas"  # also has the reference's q2_4.py
WRITTEN_VERDICTS = {  # (submission, item): (status, summary); every other item passes
    **{("hostile_formulas", name): ("error", CANNOT_BE_READ.format(name))
       for name in ("2.1 dyhat_dw2", "2.1 dyhat_db2", "2.2 dyhat_db2", "2.3 dyhat_dx")},
    ("hostile_formulas", "2.2 dyhat_dw2"): ("failed", "returned nan or inf where the true value is finite"),
    **{("nested_formulas", name): ("error", CANNOT_BE_READ.format(name)) for name in (
        "2.1 dyhat_dw2", "2.1 dyhat_db2", "2.2 dyhat_dw2", "2.2 dyhat_db2", "2.3 dyhat_dx", "2.3 dyhat_dx_changes_with_b2"
    )},
}


def test_every_attack_fixture_is_graded_end_to_end():
    assert sorted(a.name for a in TABLE) == sorted(p.name for p in ATTACKS.iterdir() if p.is_dir())


# ---------------------------------------------------------------------------------------- runs
@dataclass
class Run:
    """What one grading run produced, and what the tree and the machine looked like around it."""

    root: Path
    reports: Path
    results: dict[str, SubmissionResult]
    runners: list[SubmissionRunner]
    seconds: float
    before: dict[str, tuple]
    after: dict[str, tuple]
    connections: int  # accepted by the listener the socket attack aims at

    def item(self, submission: str, test_name: str) -> ItemResult:
        return next(i for i in self.results[submission].items if i.test_name == test_name)

    def report(self, submission: str) -> str:
        return (self.reports / submission / "report.md").read_text()


def write_spec(folder: Path) -> Path:
    """The spec, questions reordered to GRADING_ORDER (so the attack runs between other items)."""
    data = yaml.safe_load(SPEC.read_text())
    data["questions"].sort(key=lambda question: GRADING_ORDER.index(question["id"]))
    folder.mkdir()
    path = folder / SPEC.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def build_tree(root: Path, port: int, attacks: Sequence[str], written: Mapping[str, Mapping]) -> tuple[Path, list[Path]]:
    """The run's tree: spec copy, decoy, submissions (the reference last); returns spec and submissions."""
    spec = write_spec(root / "spec")
    decoy = root / "decoy"
    (decoy / "other_student").mkdir(parents=True)
    (decoy / "secret.txt").write_text("expected values: 0.0421\n")
    shutil.copy(REFERENCE / "q2_4.py", decoy / "other_student" / "q2_4.py")
    (root / "reports").mkdir()  # made now, so creating it does not change the tree's root
    submissions = root / "submissions"
    folders = []
    for name in attacks:
        folder = submissions / name
        shutil.copytree(REFERENCE, folder)
        shutil.copytree(ATTACKS / name, folder, dirs_exist_ok=True)
        targets = [root / "reports", decoy, decoy / "other_student", submissions / "reference_solution", spec.parent,
                   *grader_folders(decoy)[2:]]
        (folder / "target.txt").write_text("".join(f"{path}\n" for path in targets))
        (folder / "port.txt").write_text(str(port))
        if name == "shadow_modules":  # a real conftest.py among the fixtures would be collected
            (folder / "conftest.py").write_text("raise SystemExit('conftest.py was imported')\n")
        folders.append(folder)
    for name, entries in written.items():
        folder = submissions / name
        folder.mkdir(parents=True)
        if name == WITH_MODULE:
            shutil.copy(REFERENCE / "q2_4.py", folder / "q2_4.py")
        (folder / "answers.yaml").write_text(yaml.safe_dump(dict(entries), width=float("inf"), default_style='"'))
        folders.append(folder)
    folders.append(shutil.copytree(REFERENCE, submissions / "reference_solution"))
    return spec, folders


def grade_run(root: Path, attacks: Sequence[str], written: Mapping[str, Mapping], options: GradeOptions = OPTIONS) -> Run:
    """Grade ``attacks`` and ``written`` with the reference in one grade_all run, recording its runners."""
    runners: list[SubmissionRunner] = []

    def recording(*args, **kwargs) -> SubmissionRunner:
        runner = SubmissionRunner(*args, **kwargs)
        runners.append(runner)
        return runner

    with socket.socket() as listener, pytest.MonkeyPatch.context() as patch:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        spec, submissions = build_tree(root, listener.getsockname()[1], attacks, written)
        patch.setattr(harness.grading, "SubmissionRunner", recording)
        before = snapshot(root, skip=root / "reports")
        started = time.monotonic()
        with grader_memory_capped():
            outcome = grade_all([load_spec(spec)], submissions, root / "reports", options)
        seconds = time.monotonic() - started
        after = snapshot(root, skip=root / "reports")
        connections = 0
        while True:
            try:
                listener.accept()[0].close()
                connections += 1
            except BlockingIOError:
                break
    assert not outcome.interrupted and outcome.internal_errors == 0
    (results,) = outcome.results.values()
    return Run(root, root / "reports", {r.submission: r for r in results}, runners, seconds, before, after, connections)


@contextlib.contextmanager
def grader_memory_capped() -> Iterator[None]:
    """Cap this process's address space at its current size plus GRADER_HEADROOM_BYTES."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    cap = pages * resource.getpagesize() + GRADER_HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def runnable(run: str) -> list[str]:
    return [a.name for a in TABLE if a.run == run and requirement_problem(a.needs) is None]


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return grade_run(tmp_path_factory.mktemp("attack_run"), runnable("attack_run"), {})


@pytest.fixture(scope="module")
def host_harming_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Fork bomb and kill(-1): only where the sandbox's PID namespace and pids cgroup are verified."""
    problem = requirement_problem(HOST_HARMING)
    if problem:
        pytest.skip(problem)
    # Never unconfined: a namespace sandbox is required, or (mode "uid") the uid of its own that
    # requirement_problem has just checked.
    options = dataclasses.replace(OPTIONS, require_sandbox=SANDBOX.mode != "uid")
    return grade_run(tmp_path_factory.mktemp("host_harming_run"), runnable("host_harming_run"), {}, options)


@pytest.fixture(scope="module")
def written_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return grade_run(tmp_path_factory.mktemp("written_run"), [], WRITTEN)


RUNS = ["attack_run", "host_harming_run", "written_run"]


@pytest.fixture(params=RUNS)
def run(request: pytest.FixtureRequest) -> Run:
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------------------------------- tests
def test_the_reference_solution_keeps_full_marks(run: Run):
    result = run.results["reference_solution"]
    assert result.score == result.max_score == 10
    assert [i.test_name for i in result.items if i.status != "passed"] == []
    assert json.loads((run.reports / "reference_solution" / "results.json").read_text())["score"] == 10


@pytest.mark.parametrize("attack", TABLE, ids=[a.name for a in TABLE])
def test_an_attack_costs_only_its_own_item_with_a_clear_verdict(attack: Attack, request: pytest.FixtureRequest):
    problem = requirement_problem(attack.needs)
    if problem:
        pytest.skip(problem)
    run: Run = request.getfixturevalue(attack.run)
    result = run.results[attack.name]
    item = run.item(attack.name, ATTACKED)
    assert [i.test_name for i in result.items if i.score != i.max_score] == [ATTACKED]
    assert (result.score, result.max_score) == (7, 10)
    if attack.verdicts:
        assert item.summary in attack.verdicts
    else:  # a number crossed the protocol, and it was judged as one
        assert item.status == "failed" and item.counterexample.error is None, item
        if attack.received is not None:
            assert item.counterexample.received == attack.received
    heading = f"### {'ERROR' if item.status == 'error' else 'FAIL'}: 2.4 `dyhat_dw1` (0 / 3)"
    assert f"{heading}\n\n{escape_text(item.summary)}\n" in run.report(attack.name)


@pytest.fixture(scope="module")
def parallel_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Every attack that may run here (the host-harming ones where they are confined) in one
    ``--jobs 2`` run: two grading processes side by side, each with its own workers."""
    attacks = runnable("attack_run") + (runnable("host_harming_run") if requirement_problem(HOST_HARMING) is None else [])
    options = dataclasses.replace(OPTIONS, jobs=2, require_sandbox=SANDBOX.mode != "uid")
    return grade_run(tmp_path_factory.mktemp("parallel_run"), attacks, WRITTEN, options)


def test_two_jobs_grade_every_submission_under_the_whole_attack_suite(parallel_run: Run):
    attacks = [a for a in TABLE if a.name in parallel_run.results]
    assert len(attacks) == len(runnable("attack_run")) + (
        len(runnable("host_harming_run")) if requirement_problem(HOST_HARMING) is None else 0)
    assert set(parallel_run.results) == {a.name for a in attacks} | set(WRITTEN) | {"reference_solution"}
    assert parallel_run.results["reference_solution"].score == 10
    for attack in attacks:
        result = parallel_run.results[attack.name]
        assert [i.test_name for i in result.items if i.score != i.max_score] == [ATTACKED], attack.name
        item = parallel_run.item(attack.name, ATTACKED)
        if attack.verdicts:
            assert item.summary in attack.verdicts, (attack.name, item.summary)
        elif attack.received is not None:
            assert item.counterexample.received == attack.received, attack.name
    assert parallel_run.after == parallel_run.before


def test_nothing_is_planted_where_the_grader_looks(attack_run: Run):
    assert planted(attack_run.root / "decoy") == []
    assert planted(attack_run.root / "spec") == []


def test_no_secret_reaches_a_report(run: Run):
    for path in run.reports.rglob("*"):
        if path.is_file():
            assert "0.0421" not in path.read_text(errors="replace"), path
            assert "ptrace attached" not in path.read_text(errors="replace"), path


def test_every_report_states_the_isolation_it_was_graded_under(run: Run):
    assert {result.settings.isolation for result in run.results.values()} == {SANDBOX.describe()}


def test_host_harming_attacks_ran_only_confined(host_harming_run: Run):
    """In a PID namespace with a pids cgroup, or as a uid of their own (kill(-1) and RLIMIT_NPROC confined)."""
    assert requirement_problem(HOST_HARMING) is None
    for result in host_harming_run.results.values():
        assert result.settings.isolation == SANDBOX.describe(), result.submission
        assert result.settings.isolation.startswith(("bubblewrap (no network, own PID/", "namespaces (no network, own PID/",
                                                     "separate unprivileged uid per submission")), result.submission


def test_the_run_finishes_within_its_deadlines(run: Run):
    budget = 0.0
    for runner in run.runners:
        result = run.results[runner.submission_dir.name]
        assert runner.spent <= LIMITS.submission_timeout + 0.5, result.submission
        allowed = LIMITS.submission_timeout + runner.workers_started * START_ALLOWANCE + GRADING_ALLOWANCE
        assert result.execution_time <= allowed, (result.submission, runner.workers_started)
        budget += allowed
    assert run.seconds <= budget


def test_no_process_or_cgroup_of_the_run_survives(run: Run):
    assert len(run.runners) == len(run.results)
    assert [pid for runner in run.runners for pid in surviving_processes(runner.run_id)] == []
    parents = {p for p in (SANDBOX.pids_cgroup, SANDBOX.memory_cgroup) if p is not None}
    endings = tuple(f"-{runner.run_id}" for runner in run.runners)  # a worker's cgroup ends with its run's id
    assert [c for p in parents for c in p.iterdir() if c.name.startswith("harness-") and c.name.endswith(endings)] == []


def test_nothing_outside_the_report_folder_changes(run: Run):
    assert run.after == run.before
    assert run.connections == 0
    assert not any(marker.exists() for marker in [*HOST_MARKERS, FORMULA_MARKER])


def test_the_report_folder_holds_only_the_reports(run: Run, class_files):
    expected = set(class_files)
    for name in run.results:
        expected |= {name, f"{name}/report.md", f"{name}/results.json"}
    found = {str(path.relative_to(run.reports)) for path in run.reports.rglob("*")}
    assert found == expected
    assert not any(path.is_symlink() for path in run.reports.rglob("*"))


@pytest.mark.parametrize("submission", WRITTEN)
def test_hostile_written_answers_are_clean_item_verdicts(written_run: Run, submission: str):
    for item in written_run.results[submission].items:
        status, summary = WRITTEN_VERDICTS.get((submission, item.test_name), ("passed", item.summary))
        assert (item.status, item.summary) == (status, summary), item.test_name
        if status == "error":
            assert item.diagnosis.startswith("answers.yaml, line "), item.diagnosis
            assert item.source == "answers.yaml"


def test_the_module_wins_over_a_hostile_written_answer(written_run: Run):
    result = written_run.results["hostile_formulas"]
    item = written_run.item("hostile_formulas", ATTACKED)
    assert (item.status, item.source) == ("passed", "q2_4.py")
    assert result.notes == ("answers.yaml: the entry for 2.4 dyhat_dw1 is ignored because q2_4.py defines dyhat_dw1",)
    assert written_run.item("nested_formulas", ATTACKED).source == "answers.yaml"


ALIAS_BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 9)]
    + ['"2.4 dyhat_dw1": "x"']
)


def test_a_yaml_alias_bomb_in_answers_yaml_is_refused_at_once(tmp_path: Path):
    (tmp_path / "answers.yaml").write_text(ALIAS_BOMB)
    code = f"from pathlib import Path; from harness.answers import load_answers; load_answers(Path({str(tmp_path)!r}))"
    try:  # in a child with a memory cap: the bomb must not take the test process with it
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, timeout=4, cwd=ROOT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20)),
        )
    except subprocess.TimeoutExpired:
        pytest.fail("loading a 571-byte answers.yaml did not finish in 4 s")
    assert done.returncode == 0, done.stderr[-500:]


def test_a_deeply_nested_answers_yaml_costs_only_its_own_submission(tmp_path: Path):
    deep = tmp_path / "deeply_nested"
    deep.mkdir()
    (deep / "answers.yaml").write_text('"2.4 dyhat_dw1": ' + "[" * 1000 + "]" * 1000 + "\n")
    reference = shutil.copytree(REFERENCE, tmp_path / "reference_solution")
    with grader_memory_capped():
        # A private copy of the spec: mode "uid" refuses to grade with an answer key every user may read.
        outcome = grade_all([load_spec(write_spec(tmp_path / "spec"))], [deep, reference], tmp_path / "reports", OPTIONS)
    results = {r.submission: r for results in outcome.results.values() for r in results}
    assert results["reference_solution"].score == 10
    assert next(i for i in results["deeply_nested"].items if i.test_name == ATTACKED).status == "error"
