"""Write-ups graded end to end: the seed as handed in, and six of our own in other notations and layouts.

Every write-up is graded once per session against the scalar spec (one class-wide checker, so the
references are computed once), and each test pins one write-up's outcome: every item's status,
and exactly which steps are false (by question and line) and which could not be checked.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "q2_neural_networks.yaml"
SEED = ROOT / "submissions" / "seed_writeup"
FIXTURES = ROOT / "tests" / "fixtures" / "writeups"
WRITEUPS = [SEED] + [FIXTURES / name for name in
                     ("bold_headings", "latex_sections", "q_labels", "numbered_list", "tex_inline", "malformed")]
ITEMS = ["2.1 dyhat_dw2", "2.1 dyhat_db2", "2.2 dyhat_dw2", "2.2 dyhat_db2", "2.3 dyhat_dx",
         "2.3 dyhat_dx_changes_with_b2", "2.4 dyhat_dw1"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory, reference_cache) -> dict[str, harness.SubmissionResult]:
    out = tmp_path_factory.mktemp("writeup-reports")
    outcome = harness.grade_all([harness.load_spec(SPEC)], WRITEUPS, out,
                                harness.GradeOptions(cache_dir=reference_cache))
    return {result.submission: result for result in outcome.results[str(SPEC)]} | {"_out": out}


def statuses(result: harness.SubmissionResult) -> dict[str, str]:
    return {item.test_name: item.status for item in result.items}


def false_steps(result: harness.SubmissionResult) -> set[tuple[str, int]]:
    return {(step.question_id, step.line) for step in result.steps if step.holds is False}


def unchecked_steps(result: harness.SubmissionResult) -> set[tuple[str, int]]:
    return {(step.question_id, step.line) for step in result.steps if step.holds is None}


def expect(passed: set[str], failed: set[str] = set(), error: set[str] = set()) -> dict[str, str]:
    assert passed | failed | error == set(ITEMS)
    return {name: "passed" if name in passed else "failed" if name in failed else "error" for name in ITEMS}


# -- the seed ----------------------------------------------------------------------------------


def test_the_seed_is_bundled_unchanged():
    # the sha256 of ../shared/seed/q2_student_answers.md, the write-up as the student handed it in
    digest = hashlib.sha256((SEED / "answers.md").read_bytes()).hexdigest()
    assert digest == "314a2398757a103ae1ac980b366a51d13d4b5663bdb72a37ccfe2f2e409570d7"


def test_the_seed_gets_2_1_2_2_and_2_4_right_and_the_2_3_claim_wrong(graded):
    result = graded["seed_writeup"]
    assert statuses(result) == expect(set(ITEMS) - {"2.3 dyhat_dx_changes_with_b2"}, {"2.3 dyhat_dx_changes_with_b2"})
    assert (result.score, result.max_score) == (9.0, 10.0)
    claim = next(item for item in result.items if item.name == "dyhat_dx_changes_with_b2")
    assert claim.answered is False and claim.mistake == "wrong claim"
    assert claim.quoted == r"No, $\frac{\partial \hat{y}}{\partial \mathbf{x}}$ does not change."
    assert (claim.source, claim.line) == ("answers.md", 51)
    final = next(item for item in result.items if item.test_name == "2.4 dyhat_dw1")
    assert (final.source, final.line) == ("answers.md", 114)
    assert final.quoted == (r"\mathbf{a}_1 \mathbf{w}_2 \mathbf{x} \hat{y}(1 - \mathbf{a}_1)"
                            r"(1 - \hat{y})")


def test_the_seed_has_exactly_its_two_false_steps_flagged_with_diagnoses(graded):
    result = graded["seed_writeup"]
    false = [step for step in result.steps if step.holds is False]
    assert [(s.question_id, s.line, s.label, s.latex) for s in false] == [
        ("2.1", 21, "2.1.2", r"\frac{\partial \hat{y}}{\partial b_2} = 1"),
        ("2.4", 106, "2.4.3c", r"\frac{\partial \mathbf{a}_1}{\partial \mathbf{z}_1} = \sigma(\mathbf{z}_1)"),
    ]
    assert false[0].reason == "1 is ∂z2/∂b2, not ∂ŷ/∂b2: did you mean ∂z2/∂b2?"
    assert false[1].reason.startswith("the value of a1 is used for its derivative")
    assert false[1].left_value == 0.25 and false[1].right_value == 0.5  # at z1 = 0: s'(0) and s(0)
    assert unchecked_steps(result) == set()
    assert len(result.steps) == 52


def test_the_seeds_report_and_results_json_show_the_steps(graded):
    out = graded["_out"]
    report = (out / "seed_writeup" / "report.md").read_text()
    assert "52 steps checked: 50 hold, 2 false, 0 could not be checked." in report
    assert "**False step in 2.4 (2.4.3c)**, answers.md line 106:" in report
    document = json.loads((out / "seed_writeup" / "results.json").read_text())
    steps = document["extra_data"]["steps"]
    assert len(steps) == 52 and set(steps[0]) == {"question", "line", "latex", "holds"}
    assert [s for s in steps if s["holds"] is not True] == [
        {"question": "2.1", "line": 21, "latex": r"\frac{\partial \hat{y}}{\partial b_2} = 1", "holds": False},
        {"question": "2.4", "line": 106,
         "latex": r"\frac{\partial \mathbf{a}_1}{\partial \mathbf{z}_1} = \sigma(\mathbf{z}_1)", "holds": False},
    ]


# -- six write-ups of our own ------------------------------------------------------------------


def test_bold_headings_with_partial_subscripts_and_primes(graded):
    result = graded["bold_headings"]
    assert statuses(result) == expect(set(ITEMS) - {"2.2 dyhat_db2"}, {"2.2 dyhat_db2"})
    assert false_steps(result) == {("2.2", 17), ("2.3", 23)}
    # s(z) = \ln(1 + e^{z}) and s'(z) = ...: definitions in a bare z, checked for z = z1 and z = z2
    definitions = [step for step in result.steps if step.line == 13]
    assert [(step.latex, step.holds, step.examples) for step in definitions] == [
        (r"s(z) = \ln(1 + e^{z})", True, 40), (r"s'(z) = \frac{1}{1+e^{-z}}", True, 40)]
    assert unchecked_steps(result) == set()


def test_latex_sections_with_align_and_d_fractions(graded):
    result = graded["latex_sections"]
    assert statuses(result) == expect(set(ITEMS) - {"2.4 dyhat_dw1"}, {"2.4 dyhat_dw1"})
    item = next(item for item in result.items if item.test_name == "2.4 dyhat_dw1")
    assert item.mistake == "constant factor"
    assert false_steps(result) == {("2.4", 33), ("2.4", 35)}
    assert all(s.reason == "a constant factor: the right side is 2 times the left side"
               for s in result.steps if s.holds is False)
    claim = next(item for item in result.items if item.name == "dyhat_dx_changes_with_b2")
    assert (claim.quoted, claim.source, claim.line) == ("It changes.", "solution.tex", 28)


def test_q_labels_with_layer_superscripts_nabla_and_a_hedge(graded):
    result = graded["q_labels"]
    assert statuses(result) == expect(
        {"2.1 dyhat_dw2", "2.2 dyhat_dw2", "2.2 dyhat_db2", "2.4 dyhat_dw1"},
        {"2.1 dyhat_db2", "2.3 dyhat_dx"}, {"2.3 dyhat_dx_changes_with_b2"},
    )
    sign = next(item for item in result.items if item.test_name == "2.3 dyhat_dx")
    assert sign.mistake == "sign error"
    hedge = next(item for item in result.items if item.name == "dyhat_dx_changes_with_b2")
    assert hedge.summary == "missing: the claim is not answered (the answer is hedged, neither yes nor no)"
    assert (hedge.quoted, hedge.source, hedge.line) == ("Not necessarily.", "answers.md", 13)
    assert false_steps(result) == {("2.1", 5), ("2.3", 12)}
    assert next(s for s in result.steps if s.line == 12).reason == "sign error: the right side is minus the left side"


def test_numbered_list_under_a_question_heading_with_sigma_prime(graded):
    result = graded["numbered_list"]
    assert statuses(result) == expect(
        set(ITEMS) - {"2.3 dyhat_dx_changes_with_b2", "2.4 dyhat_dw1"},
        {"2.3 dyhat_dx_changes_with_b2", "2.4 dyhat_dw1"},
    )
    assert false_steps(result) == {("2.4", 13), ("2.4", 14)}
    activation = next(s for s in result.steps if s.line == 13)
    assert activation.reason == ("the value of a1 is used for its derivative: \\sigma(z_1) is a1 itself, "
                                 "not ∂a1/∂z1")


def test_tex_inline_math_with_mathrm_d_slashes_tags_and_an_answer_in_words(graded):
    result = graded["tex_inline"]
    assert statuses(result) == expect(set(ITEMS) - {"2.1 dyhat_db2", "2.2 dyhat_dw2"}, {"2.1 dyhat_db2"},
                                      {"2.2 dyhat_dw2"})
    words = next(item for item in result.items if item.test_name == "2.2 dyhat_dw2")
    assert words.summary == "missing: no equation for ∂ŷ/∂w2 in section 2.2 (answers.tex, line 6)"
    assert false_steps(result) == {("2.1", 4)}
    assert next(s for s in result.steps if s.line == 4).label == "2.1.2"


def test_a_malformed_writeup_costs_only_its_unreadable_parts(graded):
    result = graded["malformed"]
    assert statuses(result) == expect(
        {"2.1 dyhat_db2", "2.2 dyhat_db2", "2.3 dyhat_dx_changes_with_b2"}, set(),
        {"2.1 dyhat_dw2", "2.2 dyhat_dw2", "2.3 dyhat_dx", "2.4 dyhat_dw1"},
    )
    summaries = {item.test_name: item.summary for item in result.items if item.status == "error"}
    assert summaries == {
        "2.1 dyhat_dw2": "unreadable: answers.md, line 3, column 68: unbalanced '{': it is never closed",
        "2.2 dyhat_dw2": "unreadable: answers.md, line 9, column 42: unknown macro \\sig",
        "2.3 dyhat_dx": "unreadable: answers.md, line 15, column 40: unmapped symbol '\\theta': the notation knows "
                        "a1, b1, b2, w1, w2, x, yhat, z1, z2; the spec's notation section can map it",
        "2.4 dyhat_dw1": "missing: no equation for ∂ŷ/∂w1 in section 2.4 (answers.md, line 19)",
    }
    unclosed = next(item for item in result.items if item.test_name == "2.4 dyhat_dw1")
    assert "answers.md, line 21: $$ is never closed by $$" in unclosed.diagnosis
    assert false_steps(result) == set() and unchecked_steps(result) == {("2.1", 3), ("2.2", 9), ("2.3", 15)}


@pytest.mark.parametrize("name", [path.name for path in WRITEUPS])
def test_no_true_step_is_flagged_in_any_writeup(graded, name):
    """Every step we flag is false by hand, and every other step holds or names its reason."""
    expected_false = {
        "seed_writeup": {("2.1", 21), ("2.4", 106)}, "bold_headings": {("2.2", 17), ("2.3", 23)},
        "latex_sections": {("2.4", 33), ("2.4", 35)}, "q_labels": {("2.1", 5), ("2.3", 12)},
        "numbered_list": {("2.4", 13), ("2.4", 14)}, "tex_inline": {("2.1", 4)}, "malformed": set(),
    }
    result = graded[name]
    assert false_steps(result) == expected_false[name]
    assert all(step.reason for step in result.steps if step.holds is None)


def test_grading_a_writeup_twice_gives_the_same_report(graded, tmp_path, reference_cache):
    result = harness.grade(harness.load_spec(SPEC), FIXTURES / "q_labels", harness.GradeOptions(cache_dir=reference_cache))
    assert harness.render_submission_markdown(result) == harness.render_submission_markdown(graded["q_labels"])


def test_the_specs_notation_section_maps_the_courses_own_symbols(reference_cache):
    spec = harness.load_spec(FIXTURES / "notation" / "spec.yaml")
    assert spec.notation == (("p", "yhat"), ("\\theta_1", "w1"), ("h", "a1"), ("\\rho", "activation"))
    result = harness.grade(spec, FIXTURES / "notation", harness.GradeOptions(cache_dir=reference_cache))
    assert statuses(result) == {"2.4 dyhat_dw1": "passed"}
    assert [(step.line, step.holds) for step in result.steps] == [(3, True), (3, True), (5, True), (5, True)]


@pytest.mark.parametrize("entry, message", [
    ('"p": yy', "at notation.p: unknown name 'yy'; expected a name of the model or 'activation'"),
    ('"p + q": yhat', "at notation.p + q: 'p + q' is not one symbol as LaTeX writes it"),
])
def test_a_bad_notation_entry_is_a_spec_error_at_its_key(entry, message):
    text = (FIXTURES / "notation" / "spec.yaml").read_text().replace('"p": yhat', entry)
    with pytest.raises(harness.SpecError, match=re.escape(message)):
        harness.load_spec_text(text, "spec.yaml")


def test_points_for_steps_are_items_for_the_intermediate_derivatives(reference_cache):
    """docs/writeups.md: an item per intermediate derivative grades that chain of the write-up."""
    spec = harness.load_spec(FIXTURES / "step_points.yaml")
    options = harness.GradeOptions(cache_dir=reference_cache)
    seed = harness.grade(spec, SEED, options)
    assert statuses(seed) == {"2.4 dyhat_dw1": "passed", "2.4 dyhat_dz2": "passed", "2.4 da1_dz1": "passed"}
    factor = harness.grade(spec, FIXTURES / "latex_sections", options)
    assert statuses(factor) == {"2.4 dyhat_dw1": "failed", "2.4 dyhat_dz2": "passed", "2.4 da1_dz1": "failed"}
    assert factor.score == 1.0


def test_a_locked_spec_checks_the_steps_on_the_locked_inputs(tmp_path, reference_cache):
    spec = tmp_path / "q2.yaml"
    shutil.copy(SPEC, spec)
    harness.write_lock(harness.load_spec(spec))
    result = harness.grade(harness.load_spec(spec), SEED, harness.GradeOptions(cache_dir=reference_cache))
    assert result.settings.locked and result.score == 9.0
    assert false_steps(result) == {("2.1", 21), ("2.4", 106)} and unchecked_steps(result) == set()


def test_a_step_that_is_a_number_on_neither_side_is_unchecked_not_false(tmp_path, reference_cache):
    (tmp_path / "answers.md").write_text("## 2.4\n\n$$\\ln(-1 - x^2) = 2 \\ln(-1 - x^2)$$\n\n$$x^2 = x \\cdot x$$\n")
    result = harness.grade(harness.load_spec(SPEC), tmp_path, harness.GradeOptions(cache_dir=reference_cache))
    assert [(step.latex, step.holds, step.reason) for step in result.steps] == [
        ("\\ln(-1 - x^2) = 2 \\ln(-1 - x^2)", None, "neither side is a finite number at any of the inputs"),
        ("x^2 = x \\cdot x", True, None),
    ]
