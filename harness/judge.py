"""Judge one answer at one input, and diagnose a set of judgements: pure numerics, no I/O.

The tolerance model (documented in docs/grading.md): an answer ``got`` matches the true value
``want`` (the mpmath reference rounded to float64) when, entry by entry,

    |got - want| <= atol + rtol * |want|

with the spec's ``rtol`` (default 1e-8) and ``atol`` (default 1e-12). A result's shape must equal
the expected shape, except that any size-1 result is accepted where a size-1 value is expected.
A non-finite entry where the true value is finite never matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np



@dataclass(frozen=True)
class Verdict:
    """The judgement of one answer at one input."""

    ok: bool
    kind: str
    """``"ok"``, ``"mismatch"``, ``"shape"``, ``"nonfinite"``, or a runner status (``"timeout"``...)."""
    message: str = ""
    received: np.ndarray | None = None
    max_abs_error: float | None = None
    tolerance: float | None = None


def judge(want: np.ndarray, status: str, got: np.ndarray | None, message: str, *, rtol: float, atol: float) -> Verdict:
    """Compare one returned value (or failed call) with the true value."""
    if status != "ok" or got is None:
        return Verdict(False, status if status != "ok" else "bad_value", message or "returned no value")
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        if got.size == 1 and want.size == 1:
            got = got.reshape(want.shape)
        else:
            return Verdict(
                False, "shape", f"returned shape {_shape(got.shape)}, expected {_shape(want.shape)}", got
            )
    bad_finite = ~np.isfinite(got) & np.isfinite(want)
    if bad_finite.any():
        return Verdict(False, "nonfinite", "returned nan or inf where the true value is finite", got)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.where(np.isfinite(want), np.abs(got - want), np.where(got == want, 0.0, np.inf))
        allowed = atol + rtol * np.abs(np.where(np.isfinite(want), want, 0.0))
    worst = int(np.argmax(error - allowed)) if error.size else 0
    max_error = float(error.flat[worst]) if error.size else 0.0
    tolerance = float(allowed.flat[worst]) if error.size else atol
    if error.size and bool((error > allowed).any()):
        return Verdict(False, "mismatch", "wrong value", got, max_error, tolerance)
    return Verdict(True, "ok", "", got, max_error, tolerance)


def judge_many(wants: Sequence[np.ndarray], outcomes: Sequence, *, rtol: float, atol: float,
               stacked: np.ndarray | None = None) -> list[Verdict]:
    """``judge`` of each outcome (``status``, ``value``, ``message``) against its true value, at once.

    The answers that came back with the expected shape are compared in one numpy operation per
    shape, with the same formulas as ``judge``, so every verdict is the one ``judge`` gives.
    ``stacked`` is ``wants`` as one float64 array, one row per entry, when they share a shape.
    """
    verdicts: list[Verdict | None] = [None] * len(outcomes)
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, (want, outcome) in enumerate(zip(wants, outcomes)):
        got = outcome.value
        if (outcome.status == "ok" and isinstance(got, np.ndarray) and got.dtype == np.float64
                and got.shape == np.shape(want) and got.size):
            groups.setdefault(got.shape, []).append(index)
        else:
            verdicts[index] = judge(want, outcome.status, got, outcome.message, rtol=rtol, atol=atol)
    for indices in groups.values():
        if stacked is not None and len(indices) == len(wants):
            want = stacked.reshape(len(indices), -1)
        else:
            want = np.array([wants[i] for i in indices], dtype=np.float64).reshape(len(indices), -1)
        got = np.array([outcomes[i].value for i in indices], dtype=np.float64).reshape(len(indices), -1)
        finite = np.isfinite(want)
        bad_finite = (~np.isfinite(got) & finite).any(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            error = np.where(finite, np.abs(got - want), np.where(got == want, 0.0, np.inf))
            allowed = atol + rtol * np.abs(np.where(finite, want, 0.0))
            worst = np.argmax(error - allowed, axis=1)
        rows = np.arange(len(indices))
        max_errors, tolerances = error[rows, worst].tolist(), allowed[rows, worst].tolist()
        failed = (error > allowed).any(axis=1).tolist()
        for row, index in enumerate(indices):
            received = outcomes[index].value
            if bad_finite[row]:
                verdicts[index] = Verdict(False, "nonfinite", "returned nan or inf where the true value is finite",
                                          received)
            elif failed[row]:
                verdicts[index] = Verdict(False, "mismatch", "wrong value", received, max_errors[row], tolerances[row])
            else:
                verdicts[index] = Verdict(True, "ok", "", received, max_errors[row], tolerances[row])
    return verdicts  # type: ignore[return-value]


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")" if len(shape) != 1 else f"({shape[0]},)"


@dataclass(frozen=True)
class Record:
    """One judged example, as the diagnosis sees it."""

    sizes: tuple[tuple[str, int], ...]
    want: np.ndarray
    verdict: Verdict


@dataclass(frozen=True)
class Diagnosis:
    """What is wrong, in one line and in a paragraph for a student, and its kind for class statistics."""

    summary: str
    explanation: str
    kind: str = "wrong value"
    """A short name of the mistake, the same for every student who makes it (``"sign error"``)."""


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    """Entrywise agreement within the tolerance; arrays of different shapes never agree."""
    if a is None or a.shape != b.shape:
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _factor(records: Sequence[Record], rtol: float, atol: float) -> float | None:
    """The constant c with got == c * want on every failing example, if there is one."""
    ratios = []
    for record in records:
        got, want = record.verdict.received, record.want
        mask = np.abs(want) > max(atol * 1e3, 1e-300)
        if got.shape != want.shape or not mask.any():
            continue
        ratios.extend((got[mask] / want[mask]).ravel().tolist())
    if len(ratios) < 2:
        return None
    c = ratios[0]
    if all(abs(r - c) <= 1e-6 * max(1.0, abs(c)) for r in ratios):
        return c
    return None


def diagnose(
    records: Sequence[Record], *, rtol: float, atol: float, name: str, shown: Record | None = None,
    kind: str = "jacobian", symmetric_from: int | None = None,
) -> Diagnosis:
    """Explain the failures among ``records`` (every judged example of one item).

    ``shown`` is the failure the report displays (the shrunk counterexample); details that depend
    on one input (a message, shapes) are taken from it so the text and the example agree.
    ``kind`` is what the item returns (``"jacobian"``, ``"backward"``, ``"second"``, ``"value"``);
    for a second derivative with respect to one variable twice, ``symmetric_from`` is the number
    of leading dimensions (those of ``of``) after which the answer must be symmetric.
    """
    failures = [r for r in records if not r.verdict.ok]
    if not failures:
        return Diagnosis("correct", "", "correct")
    special = _diagnose_kind(records, failures, shown, rtol, atol, name, kind, symmetric_from)
    if special is not None:
        return special
    total, failed = len(records), len(failures)
    kinds = {r.verdict.kind for r in failures}
    if shown is None or shown.verdict.ok:
        shown = failures[0]
    first = shown.verdict

    for kind, what, mistake in (
        ("timeout", "did not finish in time", "timeout"),
        ("memory", "ran out of memory", "out of memory"),
        ("crashed", "crashed the Python process", "crashed"),
        ("output_limit", "printed too much output", "too much output"),
    ):
        if kind in kinds:
            message = next(r.verdict.message for r in failures if r.verdict.kind == kind)
            return Diagnosis(
                f"{what}: {message}",
                f"{name} {what} on at least one input ({message}). A derivative formula runs in "
                "microseconds: look for an endless loop, a huge allocation or a call that never returns.",
                mistake,
            )
    if kinds == {"exception"}:
        return Diagnosis(
            f"raised an exception: {first.message}",
            f"{name} raised an exception on {failed} of {total} inputs: {first.message}. "
            "The counterexample below shows the first minimal input where it happens.",
            "exception",
        )
    if "bad_value" in kinds:
        message = next(r.verdict.message for r in failures if r.verdict.kind == "bad_value")
        return Diagnosis(message, f"{name} must return a number or an array of numbers: it {message}.", "not a number")
    if "shape" in kinds:
        return _diagnose_shape(records, failures, shown, rtol, atol, name)
    if kinds == {"nonfinite"}:
        return Diagnosis(
            "returned nan or inf where the true value is finite",
            f"{name} returned nan or inf on {failed} of {total} inputs where the true derivative is "
            "an ordinary number. This is usually overflow (exp of a large number) or 0/0: rewrite the "
            "formula in a numerically stable form, e.g. 1/(1+exp(-z)) instead of exp(z)/(1+exp(z)).",
            "nan or inf",
        )
    return _diagnose_values(records, failures, rtol, atol, name)


def _only_scalar_sizes_pass(records: Sequence[Record], failures: Sequence[Record]) -> bool:
    def scalar(record: Record) -> bool:
        return all(size == 1 for _, size in record.sizes)

    has_dims = any(record.sizes for record in records)
    passed_scalar = [r for r in records if scalar(r) and r.verdict.ok]
    larger = [r for r in records if not scalar(r)]
    # Wrong for larger sizes means wrong on (nearly) all of them: a formula wrong only where a
    # sum grows large (a clipped z) fails on some larger inputs only, which is part of the domain.
    mostly = len(failures) >= 0.8 * len(larger)
    return has_dims and bool(passed_scalar) and all(not scalar(r) for r in failures) and mostly


def _diagnose_shape(records, failures, shown, rtol, atol, name) -> Diagnosis:
    record = shown if shown.verdict.kind == "shape" else next(r for r in failures if r.verdict.kind == "shape")
    got = record.verdict.received
    want = record.want
    sizes = ", ".join(f"{dim} = {n}" for dim, n in record.sizes)
    where = f" (with {sizes})" if sizes else ""
    if got is not None and got.ndim == 2 and got.shape == want.shape[::-1] and _close(got.T, want, rtol, atol):
        return Diagnosis(
            f"transposed: returned shape {_shape(got.shape)}, expected {_shape(want.shape)}",
            f"{name} returns the transpose of the derivative{where}. The layout is the output's shape "
            "followed by the variable's shape: for a scalar output, the gradient has exactly the shape "
            "of the variable you differentiate with respect to.",
            "transposed",
        )
    only_scalar = _only_scalar_sizes_pass(records, failures)
    tail = (
        " It is right when every dimension is 1, so the formula treats vectors and matrices like "
        "scalars: check where you need a matrix product (@), an outer product or a sum instead of "
        "elementwise *."
        if only_scalar
        else ""
    )
    return Diagnosis(
        f"wrong shape: {record.verdict.message}",
        f"{name} {record.verdict.message}{where}. The derivative of an output with respect to a "
        "variable has the output's shape followed by the variable's shape." + tail,
        "scalar only" if only_scalar else "wrong shape",
    )


def _diagnose_values(records, failures, rtol, atol, name) -> Diagnosis:
    total, failed = len(records), len(failures)
    mismatches = [r for r in failures if r.verdict.kind == "mismatch"]
    if mismatches and len(mismatches) == failed:
        # A pattern must hold on every answer, right ones included: a sign error or a factor that
        # shows only on some inputs is a coincidence, not the cause.
        answered = [r for r in records if r.verdict.received is not None]
        if all(_close(r.verdict.received, -r.want, rtol, atol) for r in answered):
            return Diagnosis(
                "sign error: the result is the negative of the true derivative",
                f"{name} returns exactly the negative of the true derivative on every input where it "
                "is wrong. Check the sign of each factor of your chain rule (for example "
                "d/dz of 1/(1+e^-z) is +e^-z/(1+e^-z)^2).",
                "sign error",
            )
        if all(not np.any(r.verdict.received) for r in answered):
            return Diagnosis(
                "always returns 0",
                f"{name} returns 0 on every input, but the true derivative is not 0 everywhere: "
                "a placeholder left in, or a factor that is always 0.",
                "always 0",
            )
        factor = _factor(answered, rtol, atol)
        if factor is not None:
            return Diagnosis(
                f"off by a constant factor: the result is {factor:.6g} times the true derivative",
                f"{name} returns {factor:.6g} times the true derivative on every input: a constant "
                "factor is missing or extra (a 2 from a square, a 1/2, a repeated term).",
                "constant factor",
            )
        if all(
            r.want.ndim == 2 and _close(r.verdict.received.T, r.want, rtol, atol) for r in answered
        ):
            return Diagnosis(
                "transposed: the result's rows and columns are swapped",
                f"{name} returns the transpose of the derivative. It has the right shape only because "
                "the matrix happens to be square here; with other sizes it would be wrong.",
                "transposed",
            )
    if _only_scalar_sizes_pass(records, failures):
        return Diagnosis(
            "right only when every dimension is 1",
            f"{name} is right when every dimension is 1 (the scalar case) but wrong for larger sizes: "
            "the formula treats vectors and matrices like scalars somewhere. Check where you need a "
            "matrix product (@), an outer product or a sum instead of elementwise *.",
            "scalar only",
        )
    if failed < total:
        return Diagnosis(
            f"wrong on {failed} of {total} inputs",
            f"{name} agrees with the true derivative on {total - failed} of {total} inputs but not on "
            "the others: it is right only in part of the domain (a clipped value, a linearisation, a "
            "special case). The minimal counterexample below is one input where it is wrong.",
            "wrong in part of the domain",
        )
    return Diagnosis(
        "wrong value",
        f"{name} disagrees with the true derivative on every input tried. Compare your formula with "
        "the chain rule term by term at the counterexample below.",
        "wrong value",
    )


def _diagnose_kind(records, failures, shown, rtol, atol, name, kind, symmetric_from) -> Diagnosis | None:
    """The mistakes particular to backward passes, second derivatives and batch sizes, or None."""
    answered = [r for r in failures if r.verdict.received is not None and r.verdict.kind in ("mismatch", "shape")]
    if not answered or len(answered) != len(failures):
        return None
    if kind == "backward" and all(
        r.verdict.received.ndim == r.want.ndim + 1 and _close(np.sum(r.verdict.received, axis=0), r.want, rtol, atol)
        for r in answered
    ):
        return Diagnosis(
            "not summed over the batch: the result summed over its first dimension is the true gradient",
            f"{name} returns one gradient per row of the batch; the gradient of a parameter shared by every "
            "row is their sum. Sum over the batch dimension (sum(..., axis=0)), and the shape will be the "
            "parameter's.",
            "not summed over the batch",
        )
    if symmetric_from is not None:
        lopsided = [r for r in answered if r.verdict.kind == "mismatch" and not _symmetric(r.verdict.received, symmetric_from, rtol, atol)]
        if lopsided and len(lopsided) == len(answered):
            return Diagnosis(
                "not symmetric: a second derivative must be",
                f"{name} returns a matrix that is not symmetric, but d2 f / dx_i dx_j equals d2 f / dx_j dx_i for "
                "every smooth f: some term is missing its transpose (for x^T B x the Hessian is B + B^T, not 2 B).",
                "not symmetric",
            )
    batch = _batch_factor(answered, rtol)
    if batch is not None:
        dimension, inverse = batch
        what = f"1/{dimension}" if inverse else dimension
        return Diagnosis(
            f"off by a factor {what}: the result times {dimension if inverse else '1/' + dimension} is the true value",
            f"{name} is {what} times the true value on every input tried, for every size of {dimension}: "
            f"a {'missing' if not inverse else 'extra'} division by {dimension} (a mean over the batch is the sum "
            f"divided by {dimension}; its derivative keeps that 1/{dimension}).",
            "missing 1/N" if not inverse else "extra 1/N",
        )
    return None


def _symmetric(received: np.ndarray, leading: int, rtol: float, atol: float) -> bool:
    block = received.shape[leading:]
    half = len(block) // 2
    if len(block) != 2 * half or block[:half] != block[half:]:
        return True  # not a square layout: nothing to say
    size = int(np.prod(block[:half], dtype=int))
    matrices = received.reshape(received.shape[:leading] + (size, size))
    return _close(matrices, np.swapaxes(matrices, -1, -2), rtol, atol)


def _batch_factor(records, rtol: float) -> tuple[str, bool] | None:
    """(dimension, inverse): every answer is size (or 1/size) of one dimension times the truth, sizes varying."""
    ratios = []
    for record in records:
        got, want = record.verdict.received, record.want
        mask = np.abs(want) > 1e-300
        if got.shape != want.shape or not mask.any():
            return None
        values = (got[mask] / want[mask]).ravel()
        if not np.all(np.abs(values - values[0]) <= 1e-6 * max(1.0, abs(values[0]))):
            return None
        ratios.append((dict(record.sizes), float(values[0])))
    dimensions = set.intersection(*(set(sizes) for sizes, _ in ratios)) if ratios else set()
    for dimension in sorted(dimensions):
        if len({sizes[dimension] for sizes, _ in ratios}) < 2 and len(ratios) > 1:
            continue  # a fixed size is an ordinary constant factor
        for inverse in (False, True):
            if all(abs(ratio - (1 / sizes[dimension] if inverse else sizes[dimension])) <= 1e-6 * abs(ratio)
                   for sizes, ratio in ratios):
                if all(sizes[dimension] == 1 for sizes, _ in ratios):
                    continue
                return dimension, inverse
    return None
