"""The class-wide checker: inputs, claims and shrink paths computed once, with the same verdicts."""

from __future__ import annotations

import dataclasses
import inspect
import shutil
from pathlib import Path

import pytest

from harness.cache import ReferenceCache
from harness.cached_check import EVIDENCE_CACHED, CachedChecker, warm_up, warm_up_tasks
from harness.check import AssignmentChecker
from harness.cli import main
from harness.grade import grade_submission
from harness.spec import load_spec, load_spec_text

ROOT = Path(__file__).resolve().parent.parent
SCALAR = ROOT / "specs" / "q2_neural_networks.yaml"
WRONG = [ROOT / "submissions" / name for name in ("sample_student", "sign_and_factor_errors", "unstable_and_clipped")]

SMALL = """\
title: small
settings: {examples: 4, seed: 3}
variables:
  x: {domain: [-2, 2]}
  w: {domain: [-2, 2]}
  b: {domain: [-2, 2]}
model:
  z: w * x + b
  y: tanh(z)
questions:
  - id: "1"
    title: one
    prompt: p
    module: q1
    items:
      - function: dy_dw
        points: 1
        of: y
        wrt: w
      - claim: dy_dw_changes_with_b
        points: 1
        statement: "d y / d w changes when b changes"
        derivative: {of: y, wrt: w}
        changes_with: b
"""


def warmed(cache, text=SMALL, seed=None) -> CachedChecker:
    checker = CachedChecker(load_spec_text(text, "small.yaml"), cache=cache, seed=seed)
    for piece in warm_up_tasks(checker.assignment):
        warm_up(checker, *piece)
    return checker


@pytest.fixture
def cache(tmp_path: Path) -> ReferenceCache:
    return ReferenceCache(tmp_path / "cache")


def test_inputs_and_claims_are_read_back_identically(cache):
    assert EVIDENCE_CACHED  # the encoding knows every field of ClaimEvidence
    first = warmed(cache)
    second = warmed(cache)
    question = first.assignment.questions[0]
    claim = question.items[1]
    assert first.oracle.computed > 0 and second.oracle.computed == 0
    assert [e.key() for e in second.draw(question, None, 4)] == [e.key() for e in first.draw(question, None, 4)]
    assert second.claim_evidence(question, claim) == first.claim_evidence(question, claim)


def test_another_seed_or_spec_text_draws_afresh(cache):
    warmed(cache)
    assert warmed(cache, seed=4).oracle.computed > 0
    assert warmed(cache, text=SMALL.replace("title: small", "title: small, edited")).oracle.computed > 0


def test_check_spec_warms_the_cache_for_grading(tmp_path, capsys):
    folder, spec = tmp_path / "cache", tmp_path / "small.yaml"
    spec.write_text(SMALL.replace("      - claim:", "        expected: x * (1 - tanh(z) ** 2)\n      - claim:"))
    assert main(["check-spec", str(spec), "--cache-dir", str(folder), "--jobs", "1"]) == 0, capsys.readouterr()
    checker = CachedChecker(load_spec(spec), cache=ReferenceCache(folder))
    for piece in warm_up_tasks(checker.assignment):
        warm_up(checker, *piece)
    assert checker.oracle.computed == 0


# -- shrink paths ---------------------------------------------------------------------------------
def graded(checker, submission: Path):
    return dataclasses.replace(grade_submission(checker, submission), execution_time=0.0)


@pytest.fixture(scope="module")
def plain_results():
    """The bundled wrong submissions graded by the plain checker: what a replay must reproduce."""
    checker = AssignmentChecker(load_spec(SCALAR), examples=15)
    return {submission.name: graded(checker, submission) for submission in WRONG}


def test_a_replayed_shrink_gives_exactly_the_shrinkers_result(plain_results):
    checker = CachedChecker(load_spec(SCALAR), examples=15)
    first = {submission.name: graded(checker, submission) for submission in WRONG}
    recorded = checker.shrinks["recorded"]
    again = {submission.name: graded(checker, submission) for submission in WRONG}
    assert recorded > 0 and checker.shrinks == {"recorded": recorded, "replayed": recorded}
    assert first == again == plain_results


def test_a_path_the_submission_does_not_follow_falls_back_to_the_shrinker(plain_results):
    checker = CachedChecker(load_spec(SCALAR), examples=15)
    submission = WRONG[1]
    graded(checker, submission)
    recorded = checker.shrinks["recorded"]
    for paths in checker._paths.values():  # pretend it answered otherwise at one input
        steps = list(paths[0].steps)
        at = next(i for i, step in enumerate(steps) if step[0] != "budget")
        source, index, passed, stopped = steps[at]
        steps[at] = (source, index, not passed, stopped)
        paths[0] = dataclasses.replace(paths[0], steps=tuple(steps))
    assert graded(checker, submission) == plain_results[submission.name]
    assert recorded > 0 and checker.shrinks == {"recorded": 2 * recorded, "diverged": recorded}


def test_paths_are_shared_through_the_disk(plain_results, cache, tmp_path):
    copy = tmp_path / "sign_and_factor_errors"  # another student who made the same mistakes
    shutil.copytree(WRONG[1], copy)
    recorder = CachedChecker(load_spec(SCALAR), examples=15, cache=cache)
    graded(recorder, WRONG[1])
    reader = CachedChecker(load_spec(SCALAR), examples=15, cache=cache)
    assert graded(reader, copy).questions == plain_results[WRONG[1].name].questions
    assert reader.shrinks == {"replayed": recorder.shrinks["recorded"]}


def test_the_checker_overrides_what_check_still_calls():
    """CachedChecker replaces AssignmentChecker._shrink and uses _judge: fail loudly if they change."""
    def parameters(function):
        return list(inspect.signature(function).parameters)

    assert parameters(AssignmentChecker._shrink) == ["self", "question", "item", "answer", "activation", "memo"]
    assert parameters(AssignmentChecker._judge) == ["self", "item", "example", "activation", "outcome"]
    assert parameters(AssignmentChecker.arguments) == parameters(CachedChecker.arguments)
    assert "self._shrink(" in inspect.getsource(AssignmentChecker._check_one)
    assert "self.arguments(" in inspect.getsource(AssignmentChecker._shrink)
