"""Shrinking, and what a class shares: inputs, claims and shrink paths computed once, same verdicts."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from harness import shrink
from harness.cache import ReferenceCache
from harness.check import Checker
from harness.cli import main
from harness.grading import GradeOptions, _grade
from harness.spec import load_spec, load_spec_text
from harness.store import MemoryStore

pytestmark = pytest.mark.slow  # classes graded to compare real and replayed shrinks

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


def warmed(cache, text=SMALL, seed=None) -> Checker:
    checker = Checker(load_spec_text(text, "small.yaml"), store=cache, seed=seed)
    for piece in checker.warm_up_tasks():
        checker.warm_up(piece)
    return checker


@pytest.fixture
def cache(tmp_path: Path) -> ReferenceCache:
    return ReferenceCache(tmp_path / "cache")


def test_inputs_and_claims_are_read_back_identically(cache):
    first = warmed(cache)
    second = warmed(cache)
    question = first.assignment.questions[0]
    claim = question.items[1]
    assert first.oracle.computed > 0 and first.memory.computed > 0
    assert second.oracle.computed == 0 and second.memory.computed == 0
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
    checker = Checker(load_spec(spec), store=ReferenceCache(folder))
    for piece in checker.warm_up_tasks():
        checker.warm_up(piece)
    assert checker.oracle.computed == 0 and checker.memory.computed == 0


# -- shrink paths ---------------------------------------------------------------------------------
def graded(checker, submission: Path):
    return dataclasses.replace(_grade(checker, submission, GradeOptions()), execution_time=0.0)


class ReferencesOnly:
    """A store sharing only reference values with the session's cache; the rest starts empty.

    The shrinks these tests compare must be real or replayed as each test says, while the
    references (the slow part) are the same for every checker of the spec.
    """

    def __init__(self, references: ReferenceCache) -> None:
        self.references, self.rest = references, MemoryStore()

    def _store(self, key):
        return self.references if key[0] == "harness oracle" else self.rest

    def get(self, key):
        return self._store(key).get(key)

    def put(self, key, arrays, meta=None):
        self._store(key).put(key, arrays, meta)


@pytest.fixture(scope="module")
def session_references(reference_cache) -> ReferenceCache:
    return ReferenceCache(reference_cache)


def fresh_checker(session_references) -> Checker:
    return Checker(load_spec(SCALAR), examples=15, store=ReferencesOnly(session_references))


@pytest.fixture(scope="module")
def plain_results(session_references):
    """The bundled wrong submissions, each graded by a checker of its own: every shrink is real."""
    results = {}
    for submission in WRONG:
        alone = fresh_checker(session_references)
        results[submission.name] = graded(alone, submission)
        assert alone.shrinker.counts.keys() <= {"recorded"}
    return results


def test_a_replayed_shrink_gives_exactly_the_shrinkers_result(plain_results, session_references):
    checker = fresh_checker(session_references)
    first = {submission.name: graded(checker, submission) for submission in WRONG}
    recorded = checker.shrinker.counts["recorded"]
    again = {submission.name: graded(checker, submission) for submission in WRONG}
    assert recorded > 0 and checker.shrinker.counts == {"recorded": recorded, "replayed": recorded}
    assert first == again == plain_results


def test_a_path_the_submission_does_not_follow_falls_back_to_the_shrinker(plain_results, session_references):
    checker = fresh_checker(session_references)
    submission = WRONG[1]
    graded(checker, submission)
    recorded = checker.shrinker.counts["recorded"]
    for place, paths in checker.shrinker._paths.items():  # pretend it answered otherwise at one input
        steps = list(paths[0].steps)
        at = next(i for i, step in enumerate(steps) if step[0] != "budget")
        source, index, passed, stopped = steps[at]
        steps[at] = (source, index, not passed, stopped)
        paths[0] = dataclasses.replace(paths[0], steps=tuple(steps))
        # The store then knows only the altered path too.
        checker.memory.write(("shrink path", paths[0].digest), paths[0], shrink._PATH)
        checker.memory.write((*place, "index"), [paths[0].digest], shrink._LISTING)
    assert graded(checker, submission) == plain_results[submission.name]
    assert recorded > 0 and checker.shrinker.counts == {"recorded": 2 * recorded, "diverged": recorded}


@pytest.mark.parametrize("store", ["memory", "disk"])
def test_paths_are_shared_through_the_store(plain_results, cache, tmp_path, store):
    shared = MemoryStore() if store == "memory" else cache
    copy = tmp_path / "sign_and_factor_errors"  # another student who made the same mistakes
    shutil.copytree(WRONG[1], copy)
    recorder = Checker(load_spec(SCALAR), examples=15, store=shared)
    graded(recorder, WRONG[1])
    reader = Checker(load_spec(SCALAR), examples=15, store=shared)
    assert graded(reader, copy).questions == plain_results[WRONG[1].name].questions
    assert reader.shrinker.counts == {"replayed": recorder.shrinker.counts["recorded"]}
