"""Check a whole class: what its submissions share is computed once and kept in the reference cache.

Every submission of a run is checked on the same inputs, against the same true values, with the
same claims, so ``CachedChecker`` keeps all of them (through its ``Oracle``) in memory and, given a
``ReferenceCache``, on disk, where the other processes of a parallel run and every later run
find them: the survey's inputs per (question, activation), the claims' evidence, and references.

It also keeps **shrink paths**. Shrinking a failure replays a seeded Hypothesis search whose every
step depends only on whether the answer passed or failed at the inputs it asked about (and on
whether a call ended its worker, which ends the shrink budget); a submission that answers exactly
as an earlier one did gets exactly the same minimal counterexample. So each shrink is recorded as
the sequence of (input, passed?, ended the worker?) it asked for, kept per (item, activation,
pattern of passes in the survey); a later submission with the same pattern is asked about the
recorded inputs in a few batches instead of one round trip and one Hypothesis step each. If it answers every one alike, the recorded result is its result (with its own value
at that input); at the first difference the real shrinker runs, reusing the answers already
obtained. The result is what the shrinker gives, either way, for a submission whose functions
are deterministic.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator, Sequence

import hypothesis
import numpy as np

from harness.cache import ReferenceCache, key_digest
from harness.check import NOT_SHRUNK, AssignmentChecker, Answer, as_value
from harness.oracle import REFERENCE_SOURCES, Oracle, source_digest
from harness.results import ClaimEvidence
from harness.spec import Assignment, ClaimItem, DerivativeItem, Question
from harness.strategies import Example

CHECK_SOURCES = REFERENCE_SOURCES + ("cached_check", "check", "judge", "results", "strategies")
"""The modules whose code determines survey inputs, claims' evidence and shrink paths."""

SHRINK_PATHS = 16
"""Shrink paths kept per (item, activation, survey pattern), the most recent first."""

_CHECK_CODE = source_digest(CHECK_SOURCES)
_FIRST_BATCH = 8  # recorded inputs asked in the first batch of a replay; each next batch doubles


class CachedChecker(AssignmentChecker):
    """An ``AssignmentChecker`` that computes what submissions share once, and can keep it on disk."""

    def __init__(
        self,
        assignment: Assignment,
        *,
        seed: int | None = None,
        examples: int | None = None,
        cache: ReferenceCache | None = None,
    ) -> None:
        super().__init__(assignment, seed=seed, examples=examples)
        self.oracle = Oracle(
            assignment.model, digits=assignment.settings.reference_digits, cache=cache, spec=assignment.digest
        )
        self.shrinks: Counter[str] = Counter()
        """How shrinks went in this process: ``replayed``, ``diverged``, ``recorded``."""
        self._paths: dict[tuple, list[_Path]] = {}
        self._asked: dict[tuple, Example] | None = None  # inputs the shrinker asks about, while recording

    def _versions(self) -> tuple[str, str, int]:
        return (hypothesis.__version__, np.__version__, self.seed)

    def draw(self, question: Question, activation: str | None, count: int) -> list[Example]:
        """The survey's inputs for one question and activation: the same for every submission."""
        return self.oracle.remember(
            ("draw", *self._versions(), question.id, activation, count),
            lambda: AssignmentChecker.draw(self, question, activation, count),
            store=_store_examples,
            load=_load_examples,
            code=_CHECK_CODE,
        )

    def claim_evidence(self, question: Question, item: ClaimItem) -> ClaimEvidence:
        """Establish a claim numerically (once per run, and once for every later run)."""
        if not EVIDENCE_CACHED:
            return AssignmentChecker.claim_evidence(self, question, item)
        return self.oracle.remember(
            ("claim", *self._versions(), question.id, item.name, self.example_count(item)),
            lambda: AssignmentChecker.claim_evidence(self, question, item),
            store=_store_evidence,
            load=_load_evidence,
            code=_CHECK_CODE,
        )

    def arguments(self, item, example, activation, parameters):
        """What a function receives at ``example`` (noting the input while a shrink is recorded)."""
        if self._asked is not None:
            self._asked.setdefault(example.key(), example)
        return AssignmentChecker.arguments(self, item, example, activation, parameters)

    # -- shrinking ------------------------------------------------------------------------------
    def _shrink(self, question, item, answer, activation, memo):
        """The shrinker's result: replayed from a recorded path when this submission answers alike."""
        drawn = self.draw(question, activation, self.example_count(item))
        # What the survey found at each input: passed, failed, or not asked (after a hang).
        pattern = "".join(
            "-" if example.key() not in memo else "1" if memo[example.key()][0].ok else "0" for example in drawn
        )
        place = ("shrink", *self._versions(), question.id, item.name, activation, len(drawn), pattern)
        asking = _Remembering(answer)
        for path in self._candidates(place):
            result = self._replay(path, drawn, item, asking, activation, memo)
            if result is not _DIVERGED:
                self.shrinks["replayed"] += 1
                return result
            self.shrinks["diverged"] += 1
        recording = _Recording(memo)
        self._asked = {}
        try:
            result = AssignmentChecker._shrink(self, question, item, asking, activation, recording)
            path = _Path.recorded(recording, memo, self._asked, drawn, result)
        finally:
            self._asked = None
        self._keep_path(place, path)
        self.shrinks["recorded"] += 1
        return result

    def _replay(self, path: _Path, drawn, item, answer: Answer, activation, memo):
        """``(example, verdict, output)`` or None as the recorded shrink found, or ``_DIVERGED``."""
        if not path.fits(drawn, memo):
            return _DIVERGED
        verdicts: list[tuple | None] = []  # per new input; None: not run (after a call that hung)
        batch = _FIRST_BATCH
        for source, index, passed, stopped in path.steps:
            if source == "budget":  # past the budget at the same step: asked nothing then either
                continue
            if source == "memo":
                verdict = memo[drawn[index].key()][0]
            else:
                if index >= len(verdicts):  # inputs come in order of first use: ask the next batch
                    asked = path.inputs[len(verdicts) : len(verdicts) + batch]
                    calls = [self.arguments(item, example, activation, answer.parameters) for example in asked]
                    for example, outcome in zip(asked, answer.call_many(calls)):
                        judged = self._judge(item, example, activation, outcome)
                        verdicts.append(None if outcome.status == "skipped" else (judged, outcome.output))
                    batch *= 2
                if verdicts[index] is None:
                    return _DIVERGED
                verdict = verdicts[index][0]
                # A call that ends its worker also ends the shrinker's budget: it must match too.
                if (verdict.kind in NOT_SHRUNK) != stopped:
                    return _DIVERGED
            if verdict.ok != passed:
                return _DIVERGED
        if path.result is None:
            return None
        source, index = path.result
        if source == "memo":
            found = (drawn[index], *memo[drawn[index].key()])
        else:
            found = (path.inputs[index], *verdicts[index])
        return found if not found[1].ok else _DIVERGED

    def _candidates(self, place: tuple) -> Iterator[_Path]:
        """The paths known for ``place``; then any other process recorded meanwhile."""
        if place not in self._paths:
            self._paths[place] = []
            self._read_paths(place)
        yield from list(self._paths[place])
        yield from self._read_paths(place)

    def _read_paths(self, place: tuple) -> list[_Path]:
        """Add the paths the disk lists for ``place`` that this process does not know; return them."""
        known = {path.digest for path in self._paths[place]}
        added = []
        for digest in self.oracle.read((*place, "index"), _listing, code=_CHECK_CODE) or []:
            if digest not in known:
                path = self.oracle.read(("shrink path", digest), _Path.load, code=_CHECK_CODE)
                if path is not None and path.digest == digest:
                    added.append(path)
        self._paths[place] += added
        return added

    def _keep_path(self, place: tuple, path: _Path) -> None:
        paths = self._paths.setdefault(place, [])
        paths.insert(0, path)
        del paths[SHRINK_PATHS:]
        self.oracle.write(("shrink path", path.digest), *path.store(), code=_CHECK_CODE)
        # Read, add, write: two processes recording at once may drop one path from the index,
        # which costs one more real shrink later and never a wrong result.
        index = self.oracle.read((*place, "index"), _listing, code=_CHECK_CODE) or []
        index = [path.digest] + [digest for digest in index if digest != path.digest]
        self.oracle.write((*place, "index"), {}, index[:SHRINK_PATHS], code=_CHECK_CODE)


_DIVERGED = object()


def _listing(arrays: dict, meta: object) -> list[str] | None:
    return meta if isinstance(meta, list) and all(isinstance(digest, str) for digest in meta) else None


class _Recording(dict):
    """The shrinker's memo of verdicts, noting every input it looks up, in order."""

    def __init__(self, memo: dict) -> None:
        super().__init__(memo)
        self.looked_up: list[tuple] = []

    def __contains__(self, key: object) -> bool:
        self.looked_up.append(key)
        return super().__contains__(key)


class _Remembering:
    """An answer that asks the submission about each input once, however often it is asked."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.source, self.line, self.parameters = answer.source, answer.line, answer.parameters
        self.known: dict[tuple, object] = {}

    def call_many(self, batch):
        keys = [tuple((name, value.shape, value.tobytes()) for name, value in call.items()) for call in batch]
        missing = {key: call for key, call in zip(keys, batch) if key not in self.known}
        answered = dict(zip(missing, self.answer.call_many(list(missing.values()))))
        # A call skipped because an earlier one hung was not asked: it is not remembered.
        self.known.update((key, outcome) for key, outcome in answered.items() if outcome.status != "skipped")
        return [self.known[key] if key in self.known else answered[key] for key in keys]


@dataclasses.dataclass(frozen=True)
class _Path:
    """One shrink, as the verdicts it asked for: ``steps`` of ``(source, index, passed, stopped)``.

    ``source`` is ``"memo"`` (``index`` into the survey's inputs, answered in the survey),
    ``"new"`` (into ``inputs``, asked during the shrink, in order of first use) or ``"budget"`` (an
    input past the shrink budget, counted as passing without being asked). ``stopped`` says that
    a new input's call ended its worker (a timeout, ...), which ends the budget. ``result`` is
    where the shrinker ended, or ``None``.
    """

    steps: tuple[tuple[str, int, bool | None, bool], ...]
    inputs: tuple[Example, ...]
    result: tuple[str, int] | None

    def fits(self, drawn: Sequence[Example], memo: dict) -> bool:
        """Whether every index points where it should: a surveyed input, or ``inputs`` in order."""
        if not all(isinstance(step, tuple) and len(step) == 4 for step in self.steps):
            return False
        used = 0
        for source, index, passed, stopped in self.steps:
            if source == "budget":
                continue
            if source == "memo" and not (0 <= index < len(drawn) and drawn[index].key() in memo):
                return False
            if source == "new":
                if not 0 <= index <= used or index >= len(self.inputs):
                    return False
                used = max(used, index + 1)
            if source not in ("memo", "new") or passed not in (True, False) or stopped not in (True, False):
                return False
        if self.result is None:
            return True
        source, index = self.result
        if source == "memo":
            return 0 <= index < len(drawn) and drawn[index].key() in memo
        return source == "new" and 0 <= index < used

    @property
    def digest(self) -> str:
        return key_digest((
            tuple(tuple(step) for step in self.steps),
            tuple(example.key() for example in self.inputs),
            self.result or (),
        ))

    @classmethod
    def recorded(
        cls, recording: _Recording, memo: dict, asked: dict[tuple, Example], drawn: Sequence[Example], result
    ) -> _Path:
        """The path of a shrink that ran with ``recording`` as its memo (``memo``: the survey's)."""
        surveyed = {example.key(): index for index, example in enumerate(drawn) if example.key() in memo}
        verdicts = dict(recording)  # a plain dict: looking up in the recording would record more
        inputs: dict[tuple, int] = {}
        steps = []
        for key in recording.looked_up:
            if key in surveyed:
                steps.append(("memo", surveyed[key], verdicts[key][0].ok, False))
            elif key in verdicts:
                verdict = verdicts[key][0]
                steps.append(("new", inputs.setdefault(key, len(inputs)), verdict.ok, verdict.kind in NOT_SHRUNK))
            else:
                steps.append(("budget", -1, None, False))
        where = None
        if result is not None:
            key = result[0].key()
            where = ("memo", surveyed[key]) if key in surveyed else ("new", inputs[key])
        return cls(tuple(steps), tuple(asked[key] for key in inputs), where)

    def store(self) -> tuple[dict[str, np.ndarray], object]:
        arrays, inputs = _store_examples(list(self.inputs))
        return arrays, {"steps": [list(step) for step in self.steps], "inputs": inputs,
                        "result": list(self.result) if self.result else None}

    @classmethod
    def load(cls, arrays: dict[str, np.ndarray], meta: object) -> _Path | None:
        try:
            inputs = _load_examples(arrays, meta["inputs"])
            steps = tuple(
                (str(source), int(index), passed, stopped) for source, index, passed, stopped in meta["steps"]
            )
            result = meta["result"]
            if inputs is None:
                return None
            return cls(steps, tuple(inputs), (str(result[0]), int(result[1])) if result else None)
        except (KeyError, TypeError, ValueError):
            return None


# -- what is stored -------------------------------------------------------------------------------
def _store_examples(drawn: list[Example]) -> tuple[dict[str, np.ndarray], object]:
    arrays = {f"{index}/{name}": value for index, example in enumerate(drawn) for name, value in example.values}
    meta = [{"sizes": [[name, size] for name, size in e.sizes], "names": [n for n, _ in e.values]} for e in drawn]
    return arrays, meta


def _load_examples(arrays: dict[str, np.ndarray], meta: object) -> list[Example] | None:
    try:
        return [
            Example(
                sizes=tuple((str(name), int(size)) for name, size in described["sizes"]),
                values=tuple((name, arrays[f"{index}/{name}"]) for name in described["names"]),
            )
            for index, described in enumerate(meta)
        ]
    except (KeyError, TypeError, ValueError):
        return None


def _store_evidence(evidence: ClaimEvidence) -> tuple[dict[str, np.ndarray], object]:
    # Numbers as float64 arrays (exact), text and flags as JSON.
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, object] = {name: getattr(evidence, name) for name in _EVIDENCE_TEXT}
    for name in _EVIDENCE_INPUTS:
        meta[name] = [variable for variable, _ in getattr(evidence, name)]
        for variable, value in getattr(evidence, name):
            arrays[f"{name}/{variable}"] = np.asarray(value, dtype=np.float64)
    for name in _EVIDENCE_VALUES:
        arrays[name] = np.asarray(getattr(evidence, name), dtype=np.float64)
    return arrays, meta


def _load_evidence(arrays: dict[str, np.ndarray], meta: object) -> ClaimEvidence | None:
    try:
        fields = {name: meta[name] for name in _EVIDENCE_TEXT}
        for name in _EVIDENCE_INPUTS:
            fields[name] = tuple((variable, as_value(arrays[f"{name}/{variable}"])) for variable in meta[name])
        for name in _EVIDENCE_VALUES:
            fields[name] = as_value(arrays[name])
        return ClaimEvidence(**fields)
    except (KeyError, TypeError, ValueError):
        return None


_EVIDENCE_TEXT = ("statement", "truth", "changed_variable", "activation", "examples")
_EVIDENCE_INPUTS = ("first_inputs", "second_inputs")
_EVIDENCE_VALUES = ("first_value", "second_value")
EVIDENCE_CACHED = {field.name for field in dataclasses.fields(ClaimEvidence)} == {
    *_EVIDENCE_TEXT, *_EVIDENCE_INPUTS, *_EVIDENCE_VALUES
}
"""Whether the encoding above knows every field of ClaimEvidence (if not, claims are not cached)."""


# -- warming up -----------------------------------------------------------------------------------
def warm_up_tasks(assignment: Assignment) -> list[tuple[str, str | None, str | None]]:
    """The independent pieces of an assignment's warm-up: (question id, activation, claim name)."""
    tasks: list[tuple[str, str | None, str | None]] = []
    for question in assignment.questions:
        for activation in question.activations or (None,):
            tasks.append((question.id, activation, None))
        tasks += [(question.id, None, item.name) for item in question.items if isinstance(item, ClaimItem)]
    return tasks


def warm_up(checker: AssignmentChecker, question_id: str, activation: str | None, claim: str | None) -> None:
    """Compute (or read back) one warm-up piece: a claim's evidence, or one activation's survey references."""
    question = checker.assignment.question(question_id)
    if claim is not None:
        checker.claim_evidence(question, next(item for item in question.items if item.name == claim))
        return
    for item in question.items:
        if not isinstance(item, DerivativeItem):
            continue
        for example in checker.draw(question, activation, checker.example_count(item)):
            checker.arguments(item, example, activation, question.offered(item))
            checker.want(item, example, activation)
