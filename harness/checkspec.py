"""``harness check-spec``: verify an assignment's answer keys and claims before anyone is graded.

For every derivative item with an ``expected:`` closed form, the key is evaluated in mpmath (from
exact quantities) and compared with the finite-difference reference on Hypothesis-drawn inputs; a
disagreement is shrunk to a minimal counterexample. Every claim's ``truth:`` is compared with the
numerical evidence. The drawn inputs are also scanned for points inside the declared domains where
the model overflows or is undefined in float64 (students would receive inf or nan there), and for
answer keys that overflow in float64 although the true value is finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.backends import FLOAT64, MpmathBackend, to_float64
from harness.model import evaluate_model
from harness.check import Checker, item_variables
from harness.errors import InternalError
from harness.oracle import as_internal
from harness.formula import evaluate
from harness.reference import reference_answer, reference_jacobian, reference_values
from harness.results import Value, as_value
from harness.search import find_minimal
from harness.store import run_store
from harness.spec import Assignment, ClaimItem, DerivativeItem, Question
from harness.strategies import Example, examples, not_gradable, scattered

KEY_DIGITS = 25
"""An answer key must agree with the reference to this many significant digits."""


@dataclass(frozen=True)
class Finding:
    """One line of a check-spec report: an item's key, a claim, or the domain scan."""

    subject: str
    ok: bool
    message: str
    details: tuple[tuple[str, Value | str], ...] = ()
    warning: bool = False


@dataclass(frozen=True)
class SpecReport:
    """Everything check-spec found about one spec file."""

    path: str
    title: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)


def _exact_environment(model, item: DerivativeItem, example: Example, activation, digits):
    key = (id(model), activation, digits, example.key())
    if key not in _VALUES:
        if len(_VALUES) > 4096:
            _VALUES.clear()
        _VALUES[key] = (model, reference_values(model, example.point, activation=activation, digits=digits))
    env = dict(_VALUES[key][1])
    env.update({name: np.asarray(float(size)) for name, size in example.sizes})
    for given_item in item.given:  # the same given derivative serves every key of the question
        given_key = (*key, given_item.of, given_item.wrt)
        if given_key not in _VALUES:
            _VALUES[given_key] = (model, reference_jacobian(
                model, given_item.of, given_item.wrt, example.point, activation=activation, digits=digits
            ))
        env[given_item.name] = _VALUES[given_key][1]
    return env


_VALUES: dict[tuple, tuple] = {}
"""Exact model values by (model, activation, digits, example), and the given derivatives by the
same key plus (of, wrt): every key of a question needs them at the same inputs. The model is held
with its values so that its id is not reused."""


def _key_error(model, digits, item, example, activation, backend) -> tuple[bool, object, np.ndarray]:
    """(agrees, key value, reference) for one example, both exact."""
    env = _exact_environment(model, item, example, activation, digits)
    bind = {model.activation: activation} if model.activation and activation else {}
    key = evaluate(item.expected, env, backend, bind=bind)
    want = reference_answer(model, item.kind, item.of, item.wrt, example.point, wrt2=item.wrt2,
                            upstream=item.upstream, activation=activation, digits=digits)
    key = np.asarray(key, dtype=object)
    if key.shape != want.shape:
        return False, key, want
    tolerance = backend.ctx.mpf(10) ** (-KEY_DIGITS)
    for k, w in zip(key.ravel(), want.ravel()):
        if not (abs(k - w) <= tolerance * max(abs(w), 1)):
            return False, key, want
    return True, key, want


def _exact_value(array) -> Value:
    return as_value(to_float64(np.asarray(array, dtype=object)))


def check_key(assignment: Assignment, checker: Checker, question: Question, item: DerivativeItem) -> Finding:
    subject = f"{question.id} {item.name}"
    digits = assignment.settings.reference_digits
    backend = MpmathBackend(digits + 10)
    model = question.model
    activations = question.activations or (None,)
    total = 0
    for activation in activations:
        drawn = checker.draw(question, activation, checker.example_count(item))
        known: dict[tuple, bool] = {}

        def fails(example: Example) -> bool:
            if example.key() not in known:
                with as_internal(f"{item.describe} or the answer key", example, activation):
                    known[example.key()] = not _key_error(model, digits, item, example, activation, backend)[0]
            return known[example.key()]

        failing = next((e for e in drawn if fails(e)), None)
        total += len(drawn)
        if failing is None:
            continue
        strategy = examples(model, activation)
        example = find_minimal(
            strategy, checker.seed_for(question, activation), checker.example_count(item), fails,
        ) or failing
        _, key, want = _key_error(model, digits, item, example, activation, backend)
        details = list(_point_details(example, activation, item_variables(question, item)))
        details += [("answer key", _exact_value(key)), ("reference", _exact_value(want))]
        return Finding(
            subject, False,
            f"WRONG KEY: `{item.expected.source}` disagrees with the reference "
            f"{'derivative ' if item.kind == 'jacobian' else ''}{item.describe}",
            tuple(details),
        )
    if not total:
        return Finding(subject, False, "no gradable input in the domains: the answer key cannot be checked "
                       "(the domain scan below says why inputs are left out)")
    return Finding(subject, True, f"answer key agrees with the reference to {KEY_DIGITS} digits on {total} examples")


def check_claim(checker: Checker, question: Question, item: ClaimItem) -> Finding:
    subject = f"{question.id} {item.name}"
    evidence = checker.claim_evidence(question, item)
    found = "true" if evidence.truth else "false"
    details = (
        ("first", ", ".join(f"{n} = {v}" for n, v in evidence.first_inputs if n == item.changes_with)),
        ("second", ", ".join(f"{n} = {v}" for n, v in evidence.second_inputs if n == item.changes_with)),
        (f"d {item.of} / d {item.wrt} at first", evidence.first_value),
        (f"d {item.of} / d {item.wrt} at second", evidence.second_value),
    )
    if item.truth is None:
        return Finding(subject, True, f"no truth given; the evidence says the claim is {found}", details, warning=True)
    if item.truth == evidence.truth:
        return Finding(subject, True, f"truth {str(item.truth).lower()} confirmed by the evidence", details)
    return Finding(
        subject, False, f"WRONG TRUTH: the spec says {str(item.truth).lower()}, the evidence says {found}", details
    )


def scan_domain(assignment: Assignment, checker: Checker) -> list[Finding]:
    """Where, inside the declared domains, the model is undefined, or inputs are not drawn (and why)."""
    findings: list[Finding] = []
    scanned = skipped = 0
    for question in assignment.questions:
        model = question.model
        count = max((checker.example_count(i) for i in question.items), default=0)
        for activation in question.activations or (None,):
            seed_value = checker.seed_for(question, activation) ^ 0x5CA1
            points = scattered(model, seed_value, count)
            reasons = [(p, not_gradable(model, p, activation)) for p in points]
            outside = [(p, reason) for p, reason in reasons if reason is not None]
            scanned, skipped = scanned + len(points), skipped + len(outside)
            label = f"{question.id} domain" + (f" ({activation})" if len(question.activations) > 1 else "")
            for point, reason in reasons:
                if reason is not None or _finite_in_float64(model, point, activation):
                    continue  # finite in float64 (every gradable point is): finite exactly
                exact = reference_values(model, point.point, activation=activation,
                                         digits=assignment.settings.reference_digits)
                bad = [name for name, value in exact.items() if not all(_finite(v) for v in value.ravel())]
                if bad:
                    findings.append(Finding(
                        label, False,
                        f"the model is undefined (nan or infinite) at a point inside the domains: {', '.join(bad)}",
                        _point_details(point, activation),
                    ))
                    break
            if outside and len(outside) == len(points):
                findings.append(Finding(
                    label, False,
                    f"none of {len(points)} drawn inputs can be graded (the first: {outside[0][1]}); change the domains",
                    _point_details(outside[0][0], activation),
                ))
            elif outside:
                counts: dict[str, int] = {}
                for _, reason in outside:
                    counts[reason] = counts.get(reason, 0) + 1
                why = "; ".join(f"{n}: {reason}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
                findings.append(Finding(
                    label, True,
                    f"{len(outside)} of {len(points)} drawn inputs are not used for grading ({why})",
                    _point_details(outside[0][0], activation), warning=True,
                ))
            findings.extend(_overflowing_keys(assignment, checker, question, activation))
    if all(f.ok for f in findings):
        findings.append(Finding(
            "domain", True,
            f"the model is defined on all {scanned} scanned inputs; {skipped} are not used for grading "
            "(an exponential's overflow or a kink)",
        ))
    return findings


def _finite_in_float64(model, point: Example, activation: str | None) -> bool:
    with np.errstate(all="ignore"):
        values = evaluate_model(model, point.point, FLOAT64, activation=activation)
    return all(bool(np.all(np.isfinite(values[name]))) for name in model.quantity_names)


def _finite(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (OverflowError, ValueError):
        return False


def _point_details(
    example: Example, activation: str | None, shown: tuple[str, ...] | None = None
) -> tuple[tuple[str, Value | str], ...]:
    details: list[tuple[str, Value | str]] = [
        (name, as_value(value)) for name, value in example.values if shown is None or name in shown
    ]
    if example.sizes:
        details.append(("dimensions", ", ".join(f"{d} = {n}" for d, n in example.sizes)))
    if activation is not None:
        details.append(("activation", activation))
    return tuple(details)


def _overflowing_keys(assignment, checker, question, activation) -> list[Finding]:
    """Answer keys that give nan/inf in float64 on gradable inputs where the truth is finite."""
    findings = []
    model = question.model
    oracle = checker.oracle_for(question)
    bind = {model.activation: activation} if model.activation and activation else {}
    for item in question.items:
        if not isinstance(item, DerivativeItem) or item.expected is None:
            continue
        for example in checker.draw(question, activation, checker.example_count(item)):
            with np.errstate(all="ignore"):  # the quantities as a student's float64 code has them
                env = evaluate_model(model, example.point, FLOAT64, activation=activation)
            for given_item in item.given:
                env[given_item.name] = oracle.jacobian(example, activation, given_item.of, given_item.wrt)
            with np.errstate(all="ignore"):
                key = np.asarray(evaluate(item.expected, env, FLOAT64, bind=bind), dtype=np.float64)
            if np.all(np.isfinite(key)):
                continue  # the reference is needed only where the key overflows
            exact = oracle.answer(example, activation, item)
            if key.shape == exact.shape and np.any(~np.isfinite(key) & np.isfinite(exact)):
                findings.append(Finding(
                    f"{question.id} {item.name}", True,
                    f"the answer key {item.expected.source!r} gives nan or inf in float64 where the true "
                    "value is finite: a student who writes it this way fails there",
                    _point_details(example, activation), warning=True,
                ))
                break
    return findings


def check_spec(
    assignment: Assignment, *, seed: int | None = None, examples: int | None = None, cache_dir: Path | None = None
) -> SpecReport:
    """Check every key and claim of an assignment, and scan its domains.

    With ``cache_dir``, the inputs, references and claims it computes are kept in that reference
    cache, where grading finds them. A reference that cannot be computed fails its item's
    finding (naming the input), never the whole check.
    """
    with run_store(cache_dir, 1) as store:
        checker = Checker(assignment, seed=seed, examples=examples, store=store)
        findings: list[Finding] = []
        for question in assignment.questions:
            for item in question.items:
                subject = f"{question.id} {item.name}"
                try:
                    if isinstance(item, ClaimItem):
                        findings.append(check_claim(checker, question, item))
                    elif item.expected is not None:
                        findings.append(check_key(assignment, checker, question, item))
                    else:
                        findings.append(Finding(subject, True, "no answer key to check", warning=True))
                except InternalError as error:
                    findings.append(Finding(subject, False, f"reference undefined at this input: {error}"))
                except Exception as error:  # noqa: BLE001 - one item's problem, never the whole check
                    findings.append(Finding(subject, False, f"the check failed: {type(error).__name__}: {error}"))
        try:
            findings.extend(scan_domain(assignment, checker))
        except InternalError as error:
            findings.append(Finding("domain", False, f"reference undefined at this input: {error}"))
        except Exception as error:  # noqa: BLE001
            findings.append(Finding("domain", False, f"the scan failed: {type(error).__name__}: {error}"))
    return SpecReport(assignment.path, assignment.title, tuple(findings))


def render_spec_report(report: SpecReport) -> str:
    """Plain text for the terminal."""
    lines = [f"{report.path}: {report.title}"]
    width = max((len(f.subject) for f in report.findings), default=0)
    for finding in report.findings:
        mark = "ok  " if finding.ok and not finding.warning else ("warn" if finding.ok else "FAIL")
        lines.append(f"  {mark} {finding.subject.ljust(width)}  {finding.message}")
        if not finding.ok or finding.warning:
            for name, value in finding.details:
                lines.append(f"         {name}: {value}")
    lines.append("OK" if report.ok else "FAILED")
    return "\n".join(lines) + "\n"
