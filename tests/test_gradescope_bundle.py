"""`harness gradescope`: the autograder zip, unpacked into a folder laid out like /autograder and run.

run_autograder runs with ``HARNESS_AUTOGRADER_ROOT`` pointing at that folder and ``HARNESS_PYTHON``
at this interpreter, which already has the dependencies setup.sh would pip-install; the harness it
runs is the copy shipped in the bundle (``PYTHONPATH=source/harness-src``), so the tests show the
bundle is self-contained.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from harness._version import __version__
from harness.cli import main
from harness.integrations.autograder import crash_results
from harness.integrations.vendor import pinned

pytestmark = pytest.mark.slow  # the bundle's scripts run as Gradescope runs them

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "integrations"
SPEC = FIXTURES / "tiny.yaml"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert main(["gradescope", str(SPEC), "-o", str(path)]) == 0
    return path


def unpack(bundle: Path, tmp_path: Path) -> Path:
    """A folder laid out like /autograder: source/ (the bundle), an empty submission/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HARNESS_AUTOGRADER_ROOT": str(root), "HARNESS_PYTHON": python,
                   "PYTHONPATH": str(root / "source" / "harness-src")}
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=environment,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def results(root: Path) -> dict:
    return json.loads((root / "results" / "results.json").read_text())


def test_the_bundle_has_gradescopes_layout_with_executable_scripts(bundle):
    with zipfile.ZipFile(bundle) as archive:
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "specs/tiny.yaml", "harness-src/pyproject.toml",
            "harness-src/harness/__main__.py", "harness-src/harness/cli.py",
            "harness-src/harness/spec.schema.json", "harness-src/harness/report/junit.py"} <= set(modes)
    assert modes["setup.sh"] == modes["run_autograder"] == 0o100755
    assert modes["specs/tiny.yaml"] == 0o100644
    assert not [name for name in modes if "__pycache__" in name or name.endswith(".pyc")]


def test_both_scripts_are_valid_bash(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    for script in ("setup.sh", "run_autograder"):
        done = subprocess.run(["bash", "-n", str(root / "source" / script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_setup_installs_the_harness_shipped_in_the_bundle_with_the_projects_dependencies(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    assert '"$root/venv/bin/python" -m pip install --quiet ./harness-src\n' in (root / "source" / "setup.sh").read_text()
    shipped = tomllib.loads((root / "source" / "harness-src" / "pyproject.toml").read_text())["project"]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (shipped["name"], shipped["version"]) == ("derivgrade-harness", __version__)
    assert shipped["dependencies"] == pinned(declared["dependencies"])
    assert shipped["dependencies"][:4] == [f"{name}=={metadata.version(name)}"
                                           for name in ("hypothesis", "numpy", "mpmath", "pyyaml")]


def test_setup_installs_the_python_that_built_the_bundle_when_the_image_has_it(bundle, tmp_path):
    setup = (unpack(bundle, tmp_path) / "source" / "setup.sh").read_text()
    assert f"python=python{sys.version_info.major}.{sys.version_info.minor}\n" in setup
    assert '"$python" -m venv "$root/venv"\n' in setup


def test_a_submission_is_graded_with_each_tests_visibility_from_the_spec(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    shutil.copy(FIXTURES / "student" / "q1.py", root / "submission")
    run_autograder(root)
    document = results(root)
    assert document["score"] == 3.0
    assert [(t["name"], t["status"], t["score"], t["max_score"], t.get("visibility")) for t in document["tests"]] == [
        ("1.1 dy_dw", "passed", 2.0, 2.0, "visible"),
        ("1.1 dy_dx", "failed", 0.0, 1.0, "hidden"),
        ("1.1 dy_dx_changes_with_w", "passed", 1.0, 1.0, "visible"),
        ("1.2 dz_dw", "failed", 0.0, 1.0, "visible"),
    ]
    assert "sign error" in document["tests"][1]["output"]
    assert document["output"].startswith("Submission `submission`: **3 / 5** on Tiny: one neuron")


def test_setup_warms_the_cache_so_every_submission_is_graded_warm(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    setup = (root / "source" / "setup.sh").read_text()
    warm = next(line for line in setup.splitlines() if " cache warm " in line)
    assert warm == '"$root/venv/bin/python" -m harness cache warm --cache-dir "$root/cache" specs/tiny.yaml'
    environment = {**os.environ, "root": str(root), "PYTHONPATH": str(root / "source" / "harness-src")}
    command = warm.replace('"$root/venv/bin/python"', shlex.quote(sys.executable))
    subprocess.run(["bash", "-c", command], cwd=root / "source", env=environment, check=True, capture_output=True)
    entries = sorted(path.name for path in (root / "cache").rglob("*") if path.is_file())
    assert len(entries) > 10
    for path in (FIXTURES / "correct").glob("*.py"):
        shutil.copy(path, root / "submission")
    run_autograder(root)
    assert results(root)["score"] == 5.0
    # Graded from the warmed cache: nothing had to be computed (only a failure's shrink would).
    assert sorted(path.name for path in (root / "cache").rglob("*") if path.is_file()) == entries


def test_the_bundle_runs_the_harness_it_ships(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    done = subprocess.run([sys.executable, "-c", "import harness.cli; print(harness.cli.__file__)"],
                          cwd=root / "source", capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(root / "source" / "harness-src")})
    assert done.stdout.strip() == str(root / "source" / "harness-src" / "harness" / "cli.py")


def test_an_empty_submission_gets_results_with_every_item_failed_and_a_note(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    run_autograder(root)
    document = results(root)
    assert document["score"] == 0.0
    assert [t["status"] for t in document["tests"]] == ["failed"] * 4
    assert document["output"].startswith("**Your submission is empty. Upload your files: q1.py, q2.py.**\n\n")
    assert document["tests"][0]["output"].startswith("missing file q1.py")


def test_a_folder_uploaded_instead_of_its_files_is_pointed_out_with_its_name_escaped(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    (root / "submission" / "*hw2*").mkdir()  # the name is the student's: it must not become markup
    shutil.copy(FIXTURES / "student" / "q1.py", root / "submission" / "*hw2*")
    run_autograder(root)
    assert results(root)["output"].startswith(
        "**Your upload has no .py file at its top level, only the folder(s) \\*hw2\\*/. Upload the "
        "files themselves (q1.py, q2.py), not a folder holding them.**\n\n"
    )


def test_a_crash_while_grading_is_one_failed_test_not_a_missing_file(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    (root / "submission").rmdir()  # what grading cannot survive: there is nothing to grade
    done = run_autograder(root)
    document = results(root)
    assert document == crash_results(
        f"The submission could not be graded: submission folder {str(root / 'submission')!r} does not "
        "exist or is not a folder", 5.0,
    )
    assert "Traceback" in done.stderr  # for the instructor, in Gradescope's debug output


def test_when_python_cannot_even_start_the_script_still_writes_a_failed_test(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    done = run_autograder(root, python=str(tmp_path / "no-such-python"))
    assert results(root) == crash_results(
        "The autograder could not start, so this submission was not graded. This is not a problem "
        "with your submission; please tell your instructor.", 5.0,
    )
    assert "run_autograder: the harness exited with status 127 and wrote no results.json" in done.stderr


def test_grading_options_are_fixed_into_run_autograder_and_the_warm_up(tmp_path):
    path = tmp_path / "autograder.zip"
    assert main(["gradescope", str(SPEC), "-o", str(path), "--seed", "3", "--examples", "7", "--require-sandbox"]) == 0
    with zipfile.ZipFile(path) as archive:
        script = archive.read("run_autograder").decode()
        setup = archive.read("setup.sh").decode()
    assert ('"$python" -m harness autograde --root "$root" --cache-dir "$root/cache" --seed 3 --examples 7 '
            "--require-sandbox specs/tiny.yaml\n") in script
    # The warm-up draws the inputs grading will draw: the same seed and examples.
    assert '-m harness cache warm --cache-dir "$root/cache" --seed 3 --examples 7 specs/tiny.yaml\n' in setup


def test_rebuilding_an_unchanged_bundle_gives_identical_bytes(bundle, tmp_path):
    again = tmp_path / "again.zip"
    assert main(["gradescope", str(SPEC), "-o", str(again)]) == 0
    assert again.read_bytes() == bundle.read_bytes()


def test_a_malformed_spec_stops_the_build_with_the_spec_error(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.read_text().replace("points: 2", "points: two"))
    assert main(["gradescope", str(spec), "-o", str(tmp_path / "autograder.zip")]) == 1
    assert capsys.readouterr().err == (
        f"harness: error: {spec}:23: at questions[0].items[0].points: expected a number >= 0; found 'two' (a string)\n"
    )
    assert not (tmp_path / "autograder.zip").exists()


def test_a_lock_beside_a_spec_travels_with_it_into_the_bundle(tmp_path):
    spec = tmp_path / "tiny.yaml"
    shutil.copy(SPEC, spec)
    assert main(["lock", str(spec)]) == 0
    path = tmp_path / "autograder.zip"
    assert main(["gradescope", str(spec), "-o", str(path)]) == 0
    with zipfile.ZipFile(path) as archive:
        assert archive.read("specs/tiny.lock.json") == (tmp_path / "tiny.lock.json").read_bytes()
