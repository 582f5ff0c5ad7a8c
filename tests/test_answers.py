"""Written answers in answers.yaml: graded like code, never executed, module wins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.grading import GradeOptions, grade_all
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SCALAR = ROOT / "specs" / "q2_neural_networks.yaml"

CORRECT = {
    "2.1 dyhat_dw2": "dyhat_dz2 * a1",
    "2.1 dyhat_db2": "dyhat_dz2",
    "2.2 dyhat_dw2": "a1 * sigmoid(z2)",
    "2.2 dyhat_db2": "sigmoid(z2)",
    "2.3 dyhat_dx": "sigmoid(z2) * w2 * sigmoid(z1) * w1",
    "2.4 dyhat_dw1": "a1*(1-a1)*w2*x*yhat*(1-yhat)",
}


def write_answers(folder: Path, entries: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f'"{name}": {value!r}' if isinstance(value, str) else f'"{name}": {str(value).lower()}'
             for name, value in entries.items()]
    (folder / "answers.yaml").write_text("\n".join(lines) + "\n")
    return folder


def grade(*folders: Path, examples: int = 20):
    options = GradeOptions(examples=examples, cache_dir=Path(os.environ["HARNESS_CACHE_DIR"]))  # the session's
    outcome = grade_all([load_spec(SCALAR)], list(folders), folders[0].parent / "out", options)
    return {r.submission: r for results in outcome.results.values() for r in results}


def test_correct_written_answers_get_full_marks(tmp_path):
    folder = write_answers(tmp_path / "written", {**CORRECT, "2.3 dyhat_dx_changes_with_b2": True})
    result = grade(folder)["written"]
    assert result.score == result.max_score
    assert {item.source for item in result.items if item.kind == "derivative"} == {"answers.yaml"}


def test_a_written_formula_gets_the_same_verdict_as_the_same_python_function(tmp_path):
    wrong = "-a1*(1-a1)*w2*x*yhat*(1-yhat)"
    written = write_answers(tmp_path / "written", {"2.4 dyhat_dw1": wrong})
    coded = tmp_path / "coded"
    coded.mkdir()
    (coded / "q2_4.py").write_text(f"def dyhat_dw1(a1, w2, x, yhat):\n    return {wrong}\n")
    results = grade(written, coded)
    by_source = {name: next(i for i in r.items if i.name == "dyhat_dw1") for name, r in results.items()}
    assert by_source["written"].summary == by_source["coded"].summary == (
        "sign error: the result is the negative of the true derivative"
    )
    assert by_source["written"].counterexample == by_source["coded"].counterexample


def test_a_module_defining_the_item_wins_and_the_report_says_so(tmp_path):
    folder = write_answers(tmp_path / "both", {"2.4 dyhat_dw1": CORRECT["2.4 dyhat_dw1"]})
    (folder / "q2_4.py").write_text("def dyhat_dw1(x):\n    return 0.0\n")
    result = grade(folder)["both"]
    item = next(i for i in result.items if i.name == "dyhat_dw1")
    assert (item.status, item.source) == ("failed", "q2_4.py")
    assert result.notes == ("answers.yaml: the entry for 2.4 dyhat_dw1 is ignored because q2_4.py defines dyhat_dw1",)


@pytest.mark.parametrize(
    "formula, summary",
    [
        ("__import__('os').system('touch /tmp/pwned')", "answers.yaml: the answer to 2.4 dyhat_dw1 cannot be read"),
        ("().__class__.__bases__", "answers.yaml: the answer to 2.4 dyhat_dw1 cannot be read"),
        ("x.__dict__", "answers.yaml: the answer to 2.4 dyhat_dw1 cannot be read"),
        ("(" * 5000 + "x" + ")" * 5000, "answers.yaml: the answer to 2.4 dyhat_dw1 cannot be read"),
        ("x" + " + x" * 100_000, "answers.yaml: the answer to 2.4 dyhat_dw1 cannot be read"),
    ],
    ids=["import", "class", "dunder", "nesting", "huge"],
)
def test_hostile_written_answers_are_clean_item_errors(tmp_path, formula, summary):
    folder = write_answers(tmp_path / "hostile", {"2.4 dyhat_dw1": formula, "2.1 dyhat_db2": "dyhat_dz2"})
    result = grade(folder, examples=5)["hostile"]
    items = {i.test_name: i for i in result.items}
    assert (items["2.4 dyhat_dw1"].status, items["2.4 dyhat_dw1"].summary) == ("error", summary)
    assert items["2.1 dyhat_db2"].status == "passed"
    assert not Path("/tmp/pwned").exists()


def test_a_formula_that_overflows_is_judged_not_crashed(tmp_path):
    folder = write_answers(tmp_path / "big", {"2.4 dyhat_dw1": "9**9**9**9 * x"})
    item = next(i for i in grade(folder, examples=5)["big"].items if i.name == "dyhat_dw1")
    assert item.status == "failed"


def test_a_claim_answered_in_writing_must_be_a_bool(tmp_path):
    folder = write_answers(tmp_path / "claim", {"2.3 dyhat_dx_changes_with_b2": "yes"})
    item = next(i for i in grade(folder, examples=5)["claim"].items if i.kind == "claim")
    assert (item.status, item.summary) == ("failed", "not a bool: dyhat_dx_changes_with_b2 is 'yes' (a str)")
