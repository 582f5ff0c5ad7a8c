"""The sandbox starts from every Python a user would have, and the attack suite holds in every mode.

Pythons: a ``python3 -m venv`` under ``/tmp`` made from Debian's ``/usr/bin/python3`` (a symlink
chain: ``venv/bin/python3 -> /usr/bin/python3 -> python3.11``), one made from the interpreter
running the tests (pyenv here: ``venv/bin/python3 -> ~/.pyenv/versions/X/bin/python3 -> python3.X``)
under ``/tmp`` and outside it, and the interpreter itself.

Modes: the attack suites (``tests/test_attacks.py`` at the runner level and
``tests/test_attacks_end_to_end.py`` through ``grade_all``) run in a subprocess once per mode this
machine can produce, selected with ``HARNESS_TEST_ISOLATION`` (a named mode that cannot run fails
the run, it never falls back): bubblewrap from the ``/tmp`` venv, the harness's own namespaces as
root, a uid per submission as root (namespaces ruled out), and as an unprivileged user (uid 65534)
both bubblewrap and the namespaces in a user namespace. A mode the machine cannot produce skips,
saying why.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")
NOBODY = 65534


def _packages() -> list[str]:
    """The project's dependencies and pytest, at the versions running these tests (the suites pin
    verdicts that depend on the inputs drawn)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0] for requirement in project["dependencies"]
             if "python_version <" not in requirement]
    return [f"{name}=={importlib.metadata.version(name)}" for name in [*names, "pytest"]]


PACKAGES = _packages()
ATTACK_SUITES = ["tests/test_attacks.py", "tests/test_attacks_end_to_end.py", "tests/test_worker_template.py"]


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=1800, **kwargs)


def _make_venv(python: str, folder: Path, *, packages: bool) -> Path:
    """A venv at ``folder`` made by ``python`` that finds the harness (a .pth, like an editable install)."""
    done = _run([python, "-m", "venv", *([] if packages else ["--system-site-packages"]), str(folder)])
    if done.returncode != 0:
        pytest.skip(f"{python} -m venv failed here: {done.stderr.strip()[-300:]}")
    venv_python = folder / "bin" / "python3"
    if packages:
        done = _run([str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PACKAGES])
        if done.returncode != 0:
            pytest.skip(f"could not install the harness's dependencies into a venv: {done.stderr.strip()[-300:]}")
    site = _run([str(venv_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    Path(site, "harness_project.pth").write_text(f"{ROOT}\n")
    for path in [folder, *folder.rglob("*")]:  # readable by an unprivileged user and a uid of its own
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o644)
    return venv_python


@pytest.fixture(scope="module")
def system_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv under /tmp made from Debian's /usr/bin/python3, with the dependencies installed."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip("no /usr/bin/python3 on this machine")
    folder = Path("/tmp") / f"harness-venv-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    yield _make_venv(str(SYSTEM_PYTHON), folder, packages=True)
    shutil.rmtree(folder, ignore_errors=True)


def _mode(python: Path | str, *arguments: str, user: int | None = None) -> str:
    """The mode ``harness.sandbox.detect(*arguments)`` finds when run by ``python`` (as ``user``)."""
    code = f"from harness import sandbox; found = sandbox.detect({', '.join(arguments)}); print(found.mode); print(found.problems)"
    done = _run(_as(user) + [str(python), "-c", code], cwd="/")
    assert done.returncode == 0, done.stderr
    return done.stdout


def _as(user: int | None) -> list[str]:
    if user is None:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("running as another user needs root and util-linux setpriv")
    return [setpriv, f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"]


bubblewrap_here = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed here")


@bubblewrap_here
def test_bubblewrap_starts_from_a_venv_under_tmp_made_by_a_symlinked_system_python(system_venv):
    assert os.path.islink(system_venv) and os.path.islink(os.readlink(system_venv))
    assert _mode(system_venv, "namespaces=False").startswith("bubblewrap\n")
    assert _mode(system_venv).startswith("namespaces\n")  # auto: the harness's own namespaces come first


@pytest.mark.parametrize("where", ["tmp", "elsewhere"])
def test_every_sandbox_starts_from_a_venv_of_the_running_python(tmp_path, where):
    base = Path("/tmp") if where == "tmp" else ROOT / ".pytest-venvs"
    folder = base / f"harness-venv-{where}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        python = _make_venv(sys.executable, folder, packages=False)
        if shutil.which("bwrap"):
            assert _mode(python, "namespaces=False").startswith("bubblewrap\n")
            if where == "elsewhere":  # the /tmp case runs the suites from Debian's Python's venv
                _attack_suite(python, "bubblewrap", tmp_path)
        assert _mode(python, "bwrap=None").startswith("namespaces\n")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if where == "elsewhere" and base.exists() and not any(base.iterdir()):
            base.rmdir()


def test_the_namespaces_start_from_the_interpreter_itself():
    assert _mode(sys.executable, "bwrap=None").startswith("namespaces\n")


def _attack_suite(python: Path | str, isolation: str, tmp_path: Path, *, user: int | None = None) -> None:
    """Run both attack suites with ``python`` in ``isolation`` (as ``user``); fail with their output."""
    work = tmp_path / f"run-{isolation}"
    work.mkdir()
    if user is not None:
        os.chown(work, user, user)
        tmp_path.chmod(0o755)
        for parent in tmp_path.parents:  # pytest's base folder is private to root
            if str(parent).startswith("/tmp/") and parent.stat().st_uid == 0:
                parent.chmod(parent.stat().st_mode | 0o711)
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "HARNESS_TEST_ISOLATION": isolation,
        "HARNESS_CACHE_DIR": str(work / "cache"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [str(python), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-o", "addopts=-ra",
               f"--basetemp={work / 'pytest'}", *ATTACK_SUITES]
    done = _run(_as(user) + command, cwd=ROOT, env=environment)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, f"{isolation}: {done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert " passed" in summary and "failed" not in summary, summary


@bubblewrap_here
def test_the_attack_suite_holds_under_bubblewrap_from_a_venv_under_tmp(system_venv, tmp_path):
    _attack_suite(system_venv, "bubblewrap", tmp_path)


def test_the_attack_suite_holds_in_the_harness_own_namespaces_as_root(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("as root only (the unprivileged case is its own test)")
    _attack_suite(sys.executable, "namespaces", tmp_path)


def test_the_attack_suite_holds_with_a_uid_per_submission_as_root(system_venv, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a uid per submission needs root")
    _attack_suite(system_venv, "uid", tmp_path)


@pytest.mark.parametrize("isolation", ["bubblewrap", "namespaces"])
def test_the_attack_suite_holds_as_an_unprivileged_user(system_venv, tmp_path, isolation):
    if isolation == "bubblewrap" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed here")
    _attack_suite(system_venv, isolation, tmp_path, user=NOBODY)


# ------------------------------------------------------------------ the Gradescope layout
GRADESCOPE_SPEC = ROOT / "specs" / "q2_neural_networks.yaml"
REFERENCE = ROOT / "submissions" / "reference_solution"
SECRET = "SECRET-AUTOGRADER-TOKEN-4711"
GRADESCOPE_ATTACK = '''\
"""Attack on the Gradescope layout: rewrite results.json and run_autograder, read source/."""
import os
import time
from pathlib import Path

ROOT = Path(Path(__file__).with_name("target.txt").read_text().strip())
FORGED = '{"score": 100.0, "tests": []}'


def _try(action):
    try:
        action()
        return 1
    except OSError:
        return 0


def dyhat_dw1(x, w1, b1, w2, b2):
    stolen = ""
    for path in (ROOT / "source" / "secret.txt", ROOT / "source" / "specs" / "q2_neural_networks.yaml"):
        try:
            stolen += path.read_text()[:200]
        except OSError:
            pass
    _try(lambda: (ROOT / "results" / "results.json").write_text(FORGED))
    _try(lambda: (ROOT / "source" / "run_autograder").write_text("#!/bin/sh\\necho owned\\n"))
    if os.fork() == 0:  # a daemon that outlives the worker and rewrites the results afterwards
        os.setsid()
        if os.fork() == 0:
            for _ in range(40):
                time.sleep(0.25)
                _try(lambda: (ROOT / "results" / "results.json").write_text(FORGED))
            os._exit(0)
        os._exit(0)
    os.wait()
    if stolen:
        raise ValueError(stolen)
    return 0.0
'''


def _own_uid_processes() -> list[int]:
    from harness import uids

    found = []
    for entry in Path("/proc").iterdir():
        try:
            uid = int(next(line for line in (entry / "status").read_text().splitlines() if line.startswith("Uid:")).split()[1])
        except (OSError, ValueError, StopIteration):
            continue
        if uids.PROBE_UID <= uid < uids.BASE + (1 << 28):
            found.append(int(entry.name))
    return found


def _gradescope_run(tmp_path: Path, isolation: str, python: Path | str) -> Path:
    """Run the bundle's real run_autograder on an attacking submission in a fake /autograder."""
    from harness import GradeOptions
    from harness.integrations.gradescope_bundle import build_bundle
    from test_gradescope_bundle import run_autograder, unpack

    bundle = tmp_path / "autograder.zip"
    build_bundle([GRADESCOPE_SPEC], bundle, GradeOptions(seed=0, examples=5, isolation=isolation))
    root = unpack(bundle, tmp_path)
    for folder in [tmp_path, *tmp_path.parents]:  # as on Gradescope: /autograder is reachable by all
        if str(folder).startswith("/tmp/") and folder.stat().st_uid == 0:
            folder.chmod(folder.stat().st_mode | 0o711)
    root.chmod(0o755)
    (root / "source" / "secret.txt").write_text(SECRET)
    submission = root / "submission"
    shutil.copytree(REFERENCE, submission, dirs_exist_ok=True)
    (submission / "q2_4.py").write_text(GRADESCOPE_ATTACK)
    (submission / "target.txt").write_text(f"{root}\n")
    script = (root / "source" / "run_autograder").read_bytes()
    run_autograder(root, str(python))
    import time

    time.sleep(3)  # what a surviving daemon would need to rewrite the results
    assert (root / "source" / "run_autograder").read_bytes() == script
    assert _own_uid_processes() == []
    return root


@pytest.mark.parametrize("isolation", ["auto", "namespaces", "uid"])
def test_the_gradescope_layout_holds_against_a_submission(tmp_path, isolation, request):
    if os.geteuid() != 0:
        pytest.skip("Gradescope runs the autograder as root")
    python = request.getfixturevalue("system_venv") if isolation == "uid" else sys.executable
    root = _gradescope_run(tmp_path, isolation, python)
    document = json.loads((root / "results" / "results.json").read_text())
    text = json.dumps(document)
    assert SECRET not in text and "dyhat_dw1:" not in text.split('"tests"')[0]
    scores = {test["name"]: test["score"] for test in document["tests"]}
    assert "2.4 dyhat_dw1" in scores, document["output"]
    assert scores.pop("2.4 dyhat_dw1") == 0
    assert all(score > 0 for score in scores.values()), scores
    assert document["score"] == 7
    assert document["extra_data"]["isolation"].startswith(
        {"auto": ("namespaces", "bubblewrap"), "namespaces": ("namespaces",),
         "uid": ("separate unprivileged uid",)}[isolation]
    )
