"""A lock of the drawn inputs: the instructor's run, a student's CI and Gradescope grade alike.

Hypothesis draws the survey's inputs and the claims' evidence from a seed, but which inputs a seed
gives depends on the Hypothesis (and numpy) version. ``harness lock SPEC`` writes them, float64
exact, to ``SPEC.lock.json`` beside the spec; whenever that file is present and made for the same
spec file and settings, grading uses it instead of drawing, and shrinks a failure with a
deterministic shrinker of its own (``harness.shrink.shrink_locked``) instead of Hypothesis's, so
the same spec, lock and submission give byte-identical reports whatever Hypothesis version is
installed. Every report says whether a lock was used.

The file holds the spec's content digest, the seed and example count it was made with, each
survey's inputs and each claim's evidence (numbers as ``float.hex``), and the SHA-256 of all of
that: a lock for another version of the spec, or a damaged one, is refused with the fix.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.codecs import EVIDENCE, EXAMPLES
from harness.errors import UsageError
from harness.outputs import write_atomically
from harness.results import ClaimEvidence
from harness.spec import Assignment, ClaimItem, DerivativeItem
from harness.example import Example

FORMAT = 1


def lock_path(assignment: Assignment) -> Path:
    """``specs/q2.yaml`` → ``specs/q2.lock.json``."""
    path = Path(assignment.path)
    return path.with_name(f"{path.stem}.lock.json")


@dataclass(frozen=True)
class Lock:
    """The locked inputs of one spec, for one seed and example count."""

    path: Path
    digest: str
    draws: Mapping[tuple, list[Example]]
    """Per (question id, activation, count)."""
    claims: Mapping[tuple, ClaimEvidence]
    """Per (question id, item name, count)."""

    @property
    def description(self) -> str:
        """What reports say: ``locked by q2.lock.json (sha256 1a2b3c4d5e6f)``."""
        return f"locked by {self.path.name} (sha256 {self.digest[:12]})"

    def draw(self, question_id: str, activation: str | None, count: int) -> list[Example]:
        try:
            return self.draws[(question_id, activation, count)]
        except KeyError:
            raise self._missing(f"no inputs for question {question_id}") from None

    def claim(self, question_id: str, name: str, count: int) -> ClaimEvidence:
        try:
            return self.claims[(question_id, name, count)]
        except KeyError:
            raise self._missing(f"no evidence for the claim {question_id} {name}") from None

    def _missing(self, what: str) -> UsageError:
        return UsageError(f"{self.path}: the lock has {what}; make it again with `harness lock`")


def make_lock(checker) -> dict:
    """The lock document of a ``Checker``'s assignment, drawn by Hypothesis with its settings."""
    assignment = checker.assignment
    draws, claims = [], []
    for question in assignment.questions:
        counts = sorted({checker.example_count(item) for item in question.items if isinstance(item, DerivativeItem)})
        for activation in question.activations or (None,):
            for count in [*counts, 1]:  # 1: the first input, shown for a claim that holds on every pair
                arrays, meta = EXAMPLES.encode(checker.draw(question, activation, count))
                draws.append({"question": question.id, "activation": activation, "count": count,
                              "arrays": _encode_arrays(arrays), "meta": meta})
        for item in question.items:
            if isinstance(item, ClaimItem):
                count = checker.example_count(item)
                arrays, meta = EVIDENCE.encode(checker.claim_evidence(question, item))
                claims.append({"question": question.id, "item": item.name, "count": count,
                               "arrays": _encode_arrays(arrays), "meta": meta})
    document = {"format": FORMAT, "spec": assignment.digest, "seed": checker.seed,
                "examples": checker.examples_override, "draws": draws, "claims": claims}
    return {**document, "sha256": _digest(document)}


def save_lock(checker) -> Path:
    """Write the lock of a ``Checker``'s assignment beside its spec; return its path."""
    path = lock_path(checker.assignment)
    write_atomically(path, json.dumps(make_lock(checker), sort_keys=True, separators=(",", ":")) + "\n")
    return path


def read_lock(assignment: Assignment, seed: int, examples: int | None) -> Lock | None:
    """The lock beside the spec when there is one made for this seed and example count.

    ``None`` without a lock file, or for a lock of other settings (grading then draws, and says
    so). A lock of another version of the spec, or a damaged one, is refused.
    """
    path = lock_path(assignment)
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        stated = document.pop("sha256")
    except (OSError, ValueError, KeyError, AttributeError) as error:
        raise UsageError(f"{path}: not a lock of drawn inputs ({error}); delete it or make it again with "
                         f"`harness lock {assignment.path}`") from None
    if document.get("format") != FORMAT or stated != _digest(document):
        raise UsageError(f"{path}: the lock is damaged or of another format; make it again with "
                         f"`harness lock {assignment.path}`")
    if document["spec"] != assignment.digest:
        raise UsageError(f"{path}: the lock was made for another version of {Path(assignment.path).name}; "
                         f"make it again with `harness lock {assignment.path}`")
    if document["seed"] != seed or document["examples"] != examples:
        return None
    draws, claims = {}, {}
    for entry in document["draws"]:
        drawn = EXAMPLES.decode(_decode_arrays(entry["arrays"]), entry["meta"])
        draws[(entry["question"], entry["activation"], entry["count"])] = drawn
    for entry in document["claims"]:
        claims[(entry["question"], entry["item"], entry["count"])] = EVIDENCE.decode(
            _decode_arrays(entry["arrays"]), entry["meta"])
    if any(value is None for value in (*draws.values(), *claims.values())):
        raise UsageError(f"{path}: the lock does not fit {Path(assignment.path).name}; make it again with "
                         f"`harness lock {assignment.path}`")
    return Lock(path, stated, draws, claims)


def _encode_arrays(arrays: Mapping[str, np.ndarray]) -> dict:
    return {name: {"shape": list(np.shape(array)), "hex": [float(v).hex() for v in np.ravel(array)]}
            for name, array in sorted(arrays.items())}


def _decode_arrays(encoded: Mapping[str, dict]) -> dict[str, np.ndarray]:
    arrays = {}
    for name, entry in encoded.items():
        values = np.array([float.fromhex(text) for text in entry["hex"]], dtype=np.float64)
        array = values.reshape(entry["shape"])
        array.setflags(write=False)
        arrays[name] = array
    return arrays


def _digest(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
