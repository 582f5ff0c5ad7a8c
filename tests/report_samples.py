"""Hand-built grading results shared by the report tests (vector edition of Question 2)."""

from __future__ import annotations

from dataclasses import replace

from harness.results import (
    ClaimEvidence,
    Counterexample,
    ItemResult,
    QuestionResult,
    RunSettings,
    SubmissionResult,
)

HOSTILE_NAME = '=cmd|"`x`"<b>&amp;</b>,*_[a](u)_*\n# h'
"""A submission folder name full of markdown, HTML, CSV and XML syntax (and a newline)."""

HOSTILE_OUTPUT = "```\n</testcase>]]>\n````python\n<script>alert(1)</script> &amp; \x1b[31mred\n"
"""Captured output that tries to close fences and XML elements."""


def settings(submission: str) -> RunSettings:
    return RunSettings(
        seed=20240917,
        examples=100,
        rtol=1e-07,
        atol=1e-12,
        reference_digits=30,
        harness_version="0.1.0",
        hypothesis_version="6.100.0",
        numpy_version="1.26.4",
        mpmath_version="1.3.0",
        python_version="3.11.9",
        isolation="process+rlimits",
        command=f"harness grade specs/q2_vector.yaml submissions/{submission} --seed 20240917",
    )


def _passed(question_id: str, name: str, source: str, max_score: float = 1.0) -> ItemResult:
    return ItemResult(
        question_id=question_id,
        name=name,
        kind="derivative",
        max_score=max_score,
        score=max_score,
        status="passed",
        summary="correct on 100 examples",
        examples=100,
        source=source,
        line=4,
    )


CLAIM_EVIDENCE = ClaimEvidence(
    statement="d yhat/dx is unchanged when b2 changes",
    truth=False,
    changed_variable="b2",
    first_inputs=(("x", 0.5), ("w1", 1.0), ("b1", 0.0), ("w2", 0.25), ("b2", 0.0)),
    second_inputs=(("x", 0.5), ("w1", 1.0), ("b1", 0.0), ("w2", 0.25), ("b2", 1.0)),
    first_value=0.014599170221653197,
    second_value=0.010699808129570177,
    activation="logistic",
    examples=100,
)


def _claim(answered: object) -> ItemResult:
    correct = answered is CLAIM_EVIDENCE.truth
    return ItemResult(
        question_id="2.3",
        name="dyhat_dx_unchanged_by_b2",
        kind="claim",
        max_score=1.0,
        score=1.0 if correct else 0.0,
        status="passed" if correct else "failed",
        summary="correct" if correct else "wrong answer",
        diagnosis=None
        if correct
        else "b2 shifts z2, and the slope of the activation at z2 scales every derivative of yhat.",
        evidence=CLAIM_EVIDENCE,
        answered=answered,
        examples=100,
        source="answers.yaml",
        line=2,
        mistake=None if correct else "wrong claim",
    )


def _result(submission: str, *, dw1: ItemResult, claim: ItemResult, notes: tuple[str, ...] = ()) -> SubmissionResult:
    return SubmissionResult(
        submission=submission,
        assignment="Question 2: Neural Networks (vector edition)",
        spec_file="specs/q2_vector.yaml",
        questions=(
            QuestionResult(
                id="2.1",
                title="Output layer",
                prompt="Differentiate $\\hat{y}$ with respect to $\\mathbf{w}_2$ and $b_2$.",
                items=(_passed("2.1", "dyhat_dw2", "q2_1.py"), _passed("2.1", "dyhat_db2", "q2_1.py")),
            ),
            QuestionResult(
                id="2.3",
                title="Does the input gradient depend on b2?",
                prompt="",
                items=(claim,),
            ),
            QuestionResult(
                id="2.4",
                title="Logistic activation",
                prompt="With $\\sigma$ the logistic function, find\n$\\partial \\hat{y} / \\partial \\mathbf{w}_1$.",
                items=(dw1,),
            ),
        ),
        settings=settings(submission),
        execution_time=3.62,
        notes=notes,
    )


def passing() -> SubmissionResult:
    """Full marks."""
    return _result(
        "reference_solution", dw1=_passed("2.4", "dyhat_dw1", "q2_4.py", max_score=2.0), claim=_claim(False)
    )


SIGN_ERROR_EXAMPLE = Counterexample(
    inputs=(
        ("x", (0.5,)),
        ("w1", ((1.0,), (-0.5,))),
        ("b1", (0.0, 0.0)),
        ("w2", (0.25, -1.0)),
        ("b2", 0.0),
    ),
    dimensions=(("H", 2), ("D", 1)),
    activation="logistic",
    arguments=(
        ("x", (0.5,)),
        ("w2", (0.25, -1.0)),
        ("a1", (0.6224593312018546, 0.43782349911420193)),
        ("yhat", 0.42991237547008293),
    ),
    expected=((0.007199565645458146,), (-0.03016222117774602,)),
    received=((-0.007199565645458146,), (0.03016222117774602,)),
    expected_shape=(2, 1),
    received_shape=(2, 1),
    max_abs_error=0.06032444235549204,
    tolerance=3.016222117774602e-09,
)


def sign_error() -> SubmissionResult:
    """2.4 returns the negative of the derivative; the 2.3 claim is answered wrongly."""
    dw1 = ItemResult(
        question_id="2.4",
        name="dyhat_dw1",
        kind="derivative",
        max_score=2.0,
        score=0.0,
        status="failed",
        summary="sign error",
        diagnosis=(
            "Your result is the exact negative of the true derivative at every failing input.\n"
            "Check the sign of the derivative of the logistic function: it is a1 * (1 - a1), "
            "never a1 * (a1 - 1)."
        ),
        counterexample=SIGN_ERROR_EXAMPLE,
        examples=1,
        source="q2_4.py",
        line=12,
        output="a1 = [0.62245933 0.4378235 ]\n",
        mistake="sign error",
    )
    return _result(
        "sign_error",
        dw1=dw1,
        claim=_claim(True),
        notes=("answers.yaml ignored for 2.4 dyhat_dw1: q2_4.py defines it",),
    )


def module_error() -> SubmissionResult:
    """q2_4.py does not import: only the 2.4 item is lost."""
    dw1 = ItemResult(
        question_id="2.4",
        name="dyhat_dw1",
        kind="derivative",
        max_score=2.0,
        score=0.0,
        status="error",
        summary="q2_4.py could not be imported",
        diagnosis="Python stopped at a syntax error in q2_4.py, so none of its functions could be checked.",
        counterexample=Counterexample(
            inputs=(),
            error="SyntaxError: '(' was never closed (q2_4.py, line 7)",
        ),
        source="q2_4.py",
        line=7,
        mistake="not checked",
    )
    return _result("broken_module", dw1=dw1, claim=_claim(False))


def hostile() -> SubmissionResult:
    """Every string a student can influence, made as hostile as possible."""
    base = sign_error()
    questions = list(base.questions)
    dw1 = replace(
        questions[2].items[0],
        summary="wrong <b>value</b> & *more* | `x`",
        diagnosis="Use `yhat * (1 - yhat)`;\n    indented\n# not a heading\n1. not a list <i>x</i> &amp;\n\nnext",
        output=HOSTILE_OUTPUT,
        counterexample=replace(SIGN_ERROR_EXAMPLE, error="ValueError: </failure>\x00 ``` & <"),
    )
    questions[2] = replace(questions[2], items=(dw1,))
    return replace(base, submission=HOSTILE_NAME, questions=tuple(questions), notes=("note with <b>html</b>",))
