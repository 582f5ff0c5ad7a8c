"""Parallel grading: the same files whatever --jobs and the cache, Ctrl-C keeps what finished."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import InternalError, SpecError
from harness.parallel import GradingPool

ROOT = Path(__file__).resolve().parent.parent
SCALAR = ROOT / "specs" / "q2_neural_networks.yaml"
SUBMISSIONS = [
    ROOT / "submissions" / name for name in ("reference_solution", "sample_student", "sign_and_factor_errors")
]


def harness(*args: object, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def tree(folder: Path) -> dict[str, str]:
    """Every file's text, with the one timing field of results.json blanked."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            lines = path.read_text().splitlines()
            files[str(path.relative_to(folder))] = [
                '  "execution_time": <blanked>,' if line.startswith('  "execution_time": ') else line
                for line in lines
            ]
    return files


@pytest.mark.slow
def test_reports_are_identical_whatever_the_jobs_and_the_cache(tmp_path, class_files):
    cache = tmp_path / "cache"
    runs = {
        "one job, no cache": ["--jobs", "1", "--no-cache"],
        "two jobs, cold cache": ["--jobs", "2", "--cache-dir", cache],
        "one job, warm cache": ["--jobs", "1", "--cache-dir", cache],
    }
    trees = {}
    for name, options in runs.items():
        out = tmp_path / name.replace(" ", "_").replace(",", "")
        done = harness("grade", SCALAR, *SUBMISSIONS, "--examples", "10", "--out", out, *options, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        trees[name] = tree(out)
        if name == "two jobs, cold cache":
            entries = harness("cache", "info", "--cache-dir", cache, cwd=tmp_path).stdout
    assert len(trees["one job, no cache"]) == len(class_files) + 2 * len(SUBMISSIONS)  # report.md, results.json
    assert trees["two jobs, cold cache"] == trees["one job, no cache"]
    assert trees["one job, warm cache"] == trees["one job, no cache"]
    # The warm run found every reference it needed: it added no entry.
    assert harness("cache", "info", "--cache-dir", cache, cwd=tmp_path).stdout == entries


@pytest.mark.slow
def test_a_reference_that_cannot_be_computed_costs_its_items_alike_whatever_the_jobs(tmp_path):
    fixture = ROOT / "tests" / "fixtures" / "reference_fails"
    runs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        done = harness("grade", fixture / "spec.yaml", fixture / "class", "--out", out, "--jobs", jobs, "--no-cache",
                       cwd=tmp_path)
        runs[jobs] = (done.returncode, tree(out))
        assert "Traceback" not in done.stderr
        assert "the reference for d r / d x cannot be computed at x = 0.0" in done.stderr
    assert runs["1"] == runs["2"]
    code, files = runs["1"]
    assert code == 3  # an internal error of the grader, not the user's
    assert "| `right` | 1 / 2 | 50% | 1 | 0 |" in files["summary.md"]  # du_dw still graded
    report = "\n".join(files["right/report.md"])
    assert "ERROR: 1 `dr_dx` (0 / 1)\n\nreference undefined at this input" in report
    assert "cannot be computed at x = 0.0, w = 0.0" in report


SLOW = '''\
import time


def dyhat_dw2(a1, dyhat_dz2):
    time.sleep(60)
'''


@pytest.mark.slow
def test_ctrl_c_keeps_finished_reports_and_leaves_no_worker_behind(tmp_path, class_files):
    submissions = tmp_path / "class"
    shutil.copytree(ROOT / "submissions" / "reference_solution", submissions / "a_fast")
    (submissions / "b_slow").mkdir()
    (submissions / "b_slow" / "q2_1.py").write_text(SLOW)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    out = tmp_path / "reports"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "grade", str(SCALAR), str(submissions), "--examples", "5",
         "--jobs", "2", "--no-cache", "--out", str(out)],
        cwd=tmp_path, env=dict(os.environ, TMPDIR=str(temporary)), start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not (out / "a_fast" / "results.json").exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        time.sleep(0.5)  # b_slow is now sleeping in its worker
        assert process.poll() is None
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert "interrupted: kept the 1 finished reports" in stderr
    assert {path.name for path in out.iterdir()} == {"a_fast", *class_files}
    assert "a_fast" in (out / "grades.csv").read_text() and "b_slow" not in (out / "grades.csv").read_text()
    # Every sandbox worker, submission copy and the run's shared temporary cache are gone.
    assert list(temporary.iterdir()) == []
    assert _processes_mentioning(str(temporary)) == []


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if text in command or cwd.startswith(text):
                found.append(command)
    return found


# -- the pool itself ------------------------------------------------------------------------------
def test_the_pool_returns_every_result_once():
    with GradingPool(lambda task: task * task, jobs=2) as pool:
        results = dict(pool.run(list(range(10))))
    assert results == {index: index * index for index in range(10)}


def _fail(task: str) -> None:
    if task == "harness":
        raise SpecError("the spec is wrong", file="q.yaml", line=3)
    if task == "bug":
        raise ZeroDivisionError("oops")
    os._exit(7)


@pytest.mark.parametrize(
    ("task", "error", "message"),
    [
        ("harness", SpecError, "^q.yaml:3: the spec is wrong$"),
        ("bug", InternalError, "(?s)a grading process failed:\nTraceback.*ZeroDivisionError: oops"),
        ("exit", InternalError, "a grading process died while working on 'exit'"),
    ],
)
def test_a_failing_task_is_reported_in_the_parent_with_its_class(task, error, message):
    with pytest.raises(error, match=message) as raised:
        with GradingPool(_fail, jobs=2) as pool:
            list(pool.run([task]))
    assert type(raised.value) is error
