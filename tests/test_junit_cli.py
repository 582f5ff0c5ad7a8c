"""`harness grade --junit FILE`: the JUnit XML CI test reporters read, parsed back."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "integrations"
SPEC = FIXTURES / "tiny.yaml"


def counts(element: ET.Element) -> dict[str, str]:
    return {key: element.get(key) for key in ("tests", "failures", "errors")}


def test_junit_has_a_suite_per_submission_and_a_case_per_item_with_the_diagnosis(tmp_path):
    junit = tmp_path / "ci" / "junit.xml"
    arguments = [str(SPEC), str(FIXTURES / "correct"), str(FIXTURES / "student")]
    assert main(["grade", *arguments, "--out", str(tmp_path / "reports"), "--junit", str(junit), "-q"]) == 0
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert counts(root) == {"tests": "8", "failures": "1", "errors": "1"}
    correct, student = root.findall("testsuite")
    assert correct.get("name") == "correct (Tiny: one neuron)"
    assert counts(correct) == {"tests": "4", "failures": "0", "errors": "0"}
    assert counts(student) == {"tests": "4", "failures": "1", "errors": "1"}
    cases = {(case.get("classname"), case.get("name")): case for case in student.findall("testcase")}
    assert list(cases) == [("student.1.1", "dy_dw"), ("student.1.1", "dy_dx"),
                           ("student.1.1", "dy_dx_changes_with_w"), ("student.1.2", "dz_dw")]
    failure = cases["student.1.1", "dy_dx"].find("failure")
    assert failure.get("message") == "sign error: the result is the negative of the true derivative"
    assert "Where: q1.py, line 8\n\nThe smallest input on which it fails:" in failure.text
    error = cases["student.1.2", "dz_dw"].find("error")
    assert error.get("message") == "missing file q2.py"
    assert cases["student.1.1", "dy_dw"].find("failure") is None
    properties = {p.get("name"): p.get("value") for p in student.find("properties")}
    assert (properties["spec_file"], properties["seed"], properties["examples"]) == ("tiny.yaml", "0", "5")


def test_the_configuration_can_ask_for_junit_relative_to_its_own_folder(tmp_path, monkeypatch):
    shutil.copy(SPEC, tmp_path)
    shutil.copy(FIXTURES / "student" / "q1.py", tmp_path)
    (tmp_path / "harness.toml").write_text('specs = "tiny.yaml"\nsubmission = "."\njunit = "ci/junit.xml"\n')
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")  # below the configuration's folder: it is found up the tree
    assert main(["grade", "--out", str(tmp_path / "reports"), "-q"]) == 0
    assert counts(ET.parse(tmp_path / "ci" / "junit.xml").getroot()) == {"tests": "4", "failures": "1", "errors": "1"}
