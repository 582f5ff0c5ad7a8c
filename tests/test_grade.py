"""End to end: the bundled submissions get the grades and diagnoses they deserve, in both editions."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import harness.runner_transport
import harness.sandbox
from harness.grading import GradeOptions, grade_all
from harness.spec import load_spec

pytestmark = pytest.mark.slow  # the bundled class graded end to end, both editions

ROOT = Path(__file__).resolve().parent.parent
SPECS = {
    "scalar": ROOT / "specs" / "q2_neural_networks.yaml",
    "vector": ROOT / "specs" / "q2_neural_networks_vector.yaml",
}
SUBMISSIONS = ["broken_modules", "reference_solution", "sample_student", "sign_and_factor_errors", "unstable_and_clipped"]


@pytest.fixture(scope="module", params=["scalar", "vector"])
def graded(request, tmp_path_factory, reference_cache):
    """Every bundled submission graded with the spec's own settings (100 examples per item)."""
    out = tmp_path_factory.mktemp(f"reports-{request.param}")
    assignment = load_spec(SPECS[request.param])
    submissions = [ROOT / "submissions" / name for name in SUBMISSIONS]
    outcome = grade_all([assignment], submissions, out, GradeOptions(cache_dir=reference_cache))
    results = {r.submission: r for r in outcome.results[assignment.path]}
    return request.param, results, out


def verdicts(result):
    return {item.test_name: (item.status, item.summary) for item in result.items}


def test_the_reference_solution_gets_full_marks(graded):
    _, results, _ = graded
    result = results["reference_solution"]
    assert result.score == result.max_score == 10
    assert all(item.status == "passed" for item in result.items)


def test_the_seed_student_loses_only_the_b2_claim_in_the_scalar_edition(graded):
    edition, results, _ = graded
    found = verdicts(results["sample_student"])
    assert found["2.3 dyhat_dx_changes_with_b2"] == ("failed", "wrong: you answered False, but the claim is true")
    passing = {"2.1 dyhat_dw2", "2.1 dyhat_db2", "2.2 dyhat_dw2", "2.2 dyhat_db2"}
    if edition == "scalar":
        passing |= {"2.3 dyhat_dx", "2.4 dyhat_dw1"}
    assert {name for name, (status, _) in found.items() if status == "passed"} == passing
    if edition == "vector":
        assert found["2.3 dyhat_dx"][1].startswith("wrong shape: returned shape")
        assert found["2.4 dyhat_dw1"][1].startswith("wrong shape: returned shape")


def test_the_claim_failure_explains_that_b2_enters_through_z2(graded):
    _, results, _ = graded
    claim = next(i for i in results["sample_student"].items if i.name == "dyhat_dx_changes_with_b2")
    assert "b2 enters the model in z2 = " in claim.diagnosis
    first = dict(claim.evidence.first_inputs)
    second = dict(claim.evidence.second_inputs)
    assert [name for name in first if first[name] != second[name]] == ["b2"]
    assert claim.evidence.first_value != claim.evidence.second_value


def test_typical_mistakes_are_diagnosed_as_such(graded):
    edition, results, _ = graded
    found = verdicts(results["sign_and_factor_errors"])
    assert found["2.1 dyhat_dw2"] == (
        "failed", "sign error: the result is the negative of the true derivative (with activation sigmoid)"
    )
    assert found["2.2 dyhat_dw2"] == ("failed", "off by a constant factor: the result is 2 times the true derivative")
    if edition == "scalar":
        assert found["2.4 dyhat_dw1"][0] == "passed"
    else:
        assert found["2.4 dyhat_dw1"][1].startswith("transposed")


def test_correct_but_unstable_formulas_pass_and_clipped_or_linearised_ones_fail(graded):
    _, results, _ = graded
    found = verdicts(results["unstable_and_clipped"])
    assert found["2.2 dyhat_dw2"][0] == "passed"  # a1 * exp(z2) / (1 + exp(z2))
    assert found["2.3 dyhat_dx"][0] == "passed"  # 1 - exp(-yhat), 1 - 1/(1 + exp(z1))
    assert found["2.2 dyhat_db2"][0] == "failed" and found["2.2 dyhat_db2"][1].startswith("wrong on ")
    assert found["2.4 dyhat_dw1"][0] == "failed"
    assert found["2.3 dyhat_dx_changes_with_b2"] == (
        "error", "q2_3.py does not define dyhat_dx_changes_with_b2"
    )


def test_broken_modules_cost_only_their_own_items_with_readable_reasons(graded):
    _, results, _ = graded
    result = results["broken_modules"]
    found = verdicts(result)
    assert found["2.1 dyhat_dw2"][1].startswith("q2_1.py could not be loaded: SyntaxError")
    assert found["2.2 dyhat_dw2"] == ("error", "parameter 'y_hat' is not a quantity of 2.2")
    assert "did you mean 'yhat'?" in next(i for i in result.items if i.test_name == "2.2 dyhat_dw2").diagnosis
    assert found["2.2 dyhat_db2"] == ("error", "dyhat_db2 uses *args or **kwargs")
    assert found["2.3 dyhat_dx"] == ("error", "missing file q2_3.py")
    assert found["2.4 dyhat_dw1"][0] == "failed"
    assert result.score == 0


def test_every_failure_shows_a_whole_counterexample(graded):
    _, results, _ = graded
    for result in results.values():
        for item in result.items:
            if item.status == "failed" and item.kind == "derivative":
                example = item.counterexample
                assert example is not None, item.test_name
                assert [name for name, _ in example.inputs] == ["x", "w1", "b1", "w2", "b2"]
                assert example.expected is not None
                assert example.received is not None or example.error


def test_the_output_folder_holds_every_report(graded):
    _, results, out = graded
    for name in SUBMISSIONS:
        assert (out / name / "report.md").read_text().startswith("# Grading report")
        payload = json.loads((out / name / "results.json").read_text())
        assert payload["score"] == results[name].score
        assert [t["name"] for t in payload["tests"]] == [i.test_name for i in results[name].items]
    assert (out / "summary.md").exists()
    assert (out / "grades.csv").read_text().splitlines()[0].startswith("submission,2.1 dyhat_dw2,")


def test_several_specs_write_one_folder_per_spec(tmp_path, reference_cache):
    assignments = [load_spec(path) for path in SPECS.values()]
    grade_all(assignments, [ROOT / "submissions" / "reference_solution"], tmp_path,
              GradeOptions(examples=3, cache_dir=reference_cache))
    for path in SPECS.values():
        assert (tmp_path / path.stem / "reference_solution" / "report.md").exists()
        assert (tmp_path / path.stem / "summary.md").exists()


def test_a_submission_folder_may_be_given_by_any_path(tmp_path, reference_cache):
    copy = tmp_path / "copied" / "student_7"
    shutil.copytree(ROOT / "submissions" / "reference_solution", copy)
    outcome = grade_all([load_spec(SPECS["scalar"])], [copy], tmp_path / "out",
                        GradeOptions(examples=3, cache_dir=reference_cache))
    (result,) = next(iter(outcome.results.values()))
    assert result.submission == "student_7"
    assert result.score == result.max_score


def test_a_worker_that_cannot_start_costs_each_item_as_an_internal_error_not_the_run(tmp_path, monkeypatch, capsys):
    # Both ways a worker starts: a fresh process (bubblewrap) and a fork of the worker template.
    monkeypatch.setattr(harness.sandbox.Sandbox, "command", lambda self, place, arguments: ["/nonexistent/worker"])
    monkeypatch.setattr(harness.runner_transport, "python_executable", lambda: "/nonexistent/worker")
    submissions = [ROOT / "submissions" / name for name in ("reference_solution", "sample_student")]
    outcome = grade_all([load_spec(SPECS["scalar"])], submissions, tmp_path, GradeOptions(examples=3))
    results = [result for results in outcome.results.values() for result in results]
    assert [result.submission for result in results] == ["reference_solution", "sample_student"]
    items = [item for result in results for item in result.items]
    assert outcome.internal_errors == len(items) == 14
    assert {item.summary for item in items} == {"internal error of the grader: InternalError"}
    assert re.search(r"could not start the (submission worker|worker template) '/nonexistent/worker'", items[0].diagnosis)
    assert (tmp_path / "summary.md").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_an_empty_upload_is_reported_as_not_gradable_rather_than_as_a_zero(tmp_path, reference_cache):
    (tmp_path / "class" / "empty").mkdir(parents=True)
    shutil.copytree(ROOT / "submissions" / "reference_solution", tmp_path / "class" / "full")
    submissions = sorted((tmp_path / "class").iterdir())
    outcome = grade_all([load_spec(SPECS["scalar"])], submissions, tmp_path / "out",
                        GradeOptions(examples=3, cache_dir=reference_cache))
    empty, full = (result for results in outcome.results.values() for result in results)
    assert (empty.not_gradable, empty.status, full.status) == ("the submission is empty",
                                                              "not gradable: the submission is empty", "graded")
    assert (tmp_path / "out" / "grades.csv").read_text().splitlines()[1].endswith(
        ",0,10,0.00,not gradable: the submission is empty")
