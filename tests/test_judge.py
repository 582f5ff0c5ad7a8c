"""Judging one answer, and diagnosing a set of judged answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from harness.judge import Record, diagnose, judge

RTOL, ATOL = 1e-8, 1e-12
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)


def verdict(want, got, status="ok", message=""):
    return judge(np.asarray(want, dtype=float), status, None if got is None else np.asarray(got, dtype=float),
                 message, rtol=RTOL, atol=ATOL)


@given(finite)
def test_the_true_value_rounded_to_float64_always_matches(want):
    assert verdict(want, want).ok


@given(finite, st.floats(1e-6, 1e3))
def test_a_relative_error_above_one_in_a_million_never_matches(want, relative):
    if abs(want) < 1e-3:
        want = 1.0
    got = want * (1 + relative)
    assert verdict(want, got).kind == "mismatch"


def test_a_size_one_result_matches_a_scalar_and_the_reverse():
    assert verdict(0.5, [[0.5]]).ok
    assert verdict([0.5], 0.5).ok


def test_a_wrong_shape_names_both_shapes():
    result = verdict(np.zeros((2, 3)), np.zeros((3, 2)))
    assert (result.kind, result.message) == ("shape", "returned shape (3, 2), expected (2, 3)")


def test_nan_where_the_true_value_is_finite_is_reported_as_non_finite():
    assert verdict([1.0, 2.0], [1.0, np.nan]).kind == "nonfinite"


def test_a_failed_call_keeps_the_runner_status_and_message():
    result = verdict(1.0, None, status="timeout", message="timed out after 2 s")
    assert (result.ok, result.kind, result.message) == (False, "timeout", "timed out after 2 s")


def test_cancellation_in_a_correct_formula_is_within_the_absolute_tolerance():
    yhat = 1 / (1 + np.exp(-25.0))  # float64 yhat within 1.4e-11 of 1
    exact = np.exp(-25.0) / (1 + np.exp(-25.0)) ** 2
    assert verdict(exact, yhat * (1 - yhat)).ok


def records(pairs, sizes=()):
    return [Record(sizes, np.asarray(w, float), verdict(w, g)) for w, g in pairs]


def test_a_negated_answer_is_diagnosed_as_a_sign_error():
    found = diagnose(records([(1.5, -1.5), (-0.25, 0.25), (0.0, 0.0)]), rtol=RTOL, atol=ATOL, name="f")
    assert (found.summary, found.kind) == ("sign error: the result is the negative of the true derivative", 'sign error')


def test_a_consistent_ratio_is_diagnosed_as_a_constant_factor():
    found = diagnose(records([(1.5, 3.0), ([1.0, -2.0], [2.0, -4.0])]), rtol=RTOL, atol=ATOL, name="f")
    assert (found.summary, found.kind) == ("off by a constant factor: the result is 2 times the true derivative", 'constant factor')


def test_a_transposed_square_matrix_is_diagnosed_as_transposed():
    want = np.array([[1.0, 2.0], [3.0, 4.0]])
    found = diagnose(records([(want, want.T)]), rtol=RTOL, atol=ATOL, name="f")
    assert (found.summary, found.kind) == ("transposed: the result's rows and columns are swapped", 'transposed')


def test_a_transposed_rectangular_result_is_diagnosed_from_its_shape():
    want = np.arange(6.0).reshape(2, 3)
    found = diagnose(records([(want, want.T)]), rtol=RTOL, atol=ATOL, name="f")
    assert (found.summary, found.kind) == ("transposed: returned shape (3, 2), expected (2, 3)", 'transposed')


def test_an_answer_right_only_when_every_dimension_is_one_is_diagnosed_as_such():
    scalar = Record((("H", 1),), np.array([2.0]), verdict([2.0], [2.0]))
    vector = Record((("H", 2),), np.array([1.0, 2.0]), verdict([1.0, 2.0], [1.0, 3.0]))
    found = diagnose([scalar, vector], rtol=RTOL, atol=ATOL, name="f")
    assert (found.summary, found.kind) == ("right only when every dimension is 1", 'scalar only')


def test_an_answer_wrong_on_some_inputs_only_says_how_many():
    found = diagnose(records([(1.0, 1.0), (2.0, 2.0), (3.0, 3.5)]), rtol=RTOL, atol=ATOL, name="f")
    assert (found.summary, found.kind) == ("wrong on 1 of 3 inputs", 'wrong in part of the domain')


@pytest.mark.parametrize("status", ["timeout", "memory", "crashed"])
def test_resource_failures_take_precedence_in_the_diagnosis(status):
    failed = Record((), np.asarray(1.0), verdict(1.0, None, status=status, message="limit"))
    found = diagnose([failed] + records([(1.0, -1.0)]), rtol=RTOL, atol=ATOL, name="f")
    assert found.summary.endswith(": limit")


def test_an_answer_that_is_always_zero_is_diagnosed_as_such():
    found = diagnose(records([(1.5, 0.0), (0.0, 0.0), ([1.0, 2.0], [0.0, 0.0])]), rtol=RTOL, atol=ATOL, name="f")
    assert (found.summary, found.kind) == ("always returns 0", 'always 0')


# -- the new kinds of item (issue 10) ---------------------------------------------------------


def judged(want, got, sizes=()):
    want, got = np.asarray(want, dtype=float), np.asarray(got, dtype=float)
    return Record(tuple(sizes), want, judge(want, "ok", got, "", rtol=1e-8, atol=1e-12))


def test_a_backward_pass_returning_per_row_gradients_is_not_summed_over_the_batch():
    rows = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    record = judged(rows.sum(axis=0), rows, (("N", 3),))
    diagnosis = diagnose([record], rtol=1e-8, atol=1e-12, name="db", kind="backward")
    assert diagnosis.kind == "not summed over the batch"
    assert diagnosis.summary.startswith("not summed over the batch")


def test_a_factor_that_follows_the_batch_size_is_a_missing_one_over_n():
    records_ = [judged([1.0, -2.0], [n * 1.0, n * -2.0], (("N", n),)) for n in (2, 3, 2, 3)]
    diagnosis = diagnose(records_, rtol=1e-8, atol=1e-12, name="dscores")
    assert (diagnosis.kind, diagnosis.summary) == ("missing 1/N", "off by a factor N: the result times 1/N is the true value")
    extra = [judged([1.0, -2.0], [1.0 / n, -2.0 / n], (("N", n),)) for n in (2, 3)]
    assert diagnose(extra, rtol=1e-8, atol=1e-12, name="dscores").kind == "extra 1/N"
    fixed = [judged([1.0, -2.0], [2.0, -4.0], (("N", 2),)) for _ in range(3)]
    assert diagnose(fixed, rtol=1e-8, atol=1e-12, name="d").kind == "constant factor"


def test_a_hessian_that_is_not_symmetric_is_said_to_be_so():
    b = np.array([[1.0, 2.0], [0.0, 3.0]])
    record = judged(b + b.T, 2 * b, (("D", 2),))
    diagnosis = diagnose([record], rtol=1e-8, atol=1e-12, name="hessian", kind="second", symmetric_from=0)
    assert diagnosis.kind == "not symmetric"
    symmetric_but_wrong = judged(b + b.T, 3 * (b + b.T), (("D", 2),))
    assert diagnose([symmetric_but_wrong], rtol=1e-8, atol=1e-12, name="h", kind="second",
                    symmetric_from=0).kind != "not symmetric"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_judging_a_batch_gives_the_verdicts_judging_each_answer_gives(data):
    from harness.judge import judge_many
    from harness.runner_codec import Outcome

    shape = data.draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    numbers = st.floats(allow_nan=True, allow_infinity=True, width=64)
    wants, outcomes = [], []
    for _ in range(data.draw(st.integers(1, 6))):
        want = np.array(data.draw(st.lists(numbers, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                        dtype=np.float64).reshape(shape)
        kind = data.draw(st.sampled_from(["same", "perturbed", "other", "failed", "other shape"]))
        if kind == "failed":
            outcomes.append(Outcome("exception", message="ZeroDivisionError"))
        else:
            with np.errstate(over="ignore"):  # the largest floats overflow when perturbed: inf, judged as such
                perturbed = want * (1 + 1e-7)
            got = {"same": want, "perturbed": perturbed, "other shape": np.zeros((5,)),
                   "other": np.array(data.draw(st.lists(numbers, min_size=want.size, max_size=want.size)),
                                     dtype=np.float64).reshape(shape)}[kind]
            outcomes.append(Outcome("ok", value=np.array(got, dtype=np.float64)))
        wants.append(want)
    expected = [judge(w, o.status, o.value, o.message, rtol=1e-8, atol=1e-12) for w, o in zip(wants, outcomes)]
    found = judge_many(wants, outcomes, rtol=1e-8, atol=1e-12)
    for one, many in zip(expected, found):
        assert (one.ok, one.kind, one.message) == (many.ok, many.kind, many.message)
        assert (one.max_abs_error, one.tolerance) == (many.max_abs_error, many.tolerance)
