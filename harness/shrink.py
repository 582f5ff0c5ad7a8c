"""Shrink a failing answer to a minimal counterexample, and replay shrinks other submissions did.

Shrinking replays the survey's seeded Hypothesis search with a predicate, "does the answer fail
here?", and lets Hypothesis shrink the first failure. Judgements come from the survey where the
input was surveyed; otherwise the submission is asked, at most ``SHRINK_BUDGET`` new inputs per
shrink (a count, not a time, so the result is deterministic and a slow submission cannot stall the
run). Past the budget, unseen inputs count as passing: the shrinker then keeps its best. A call
that ends its worker (a timeout, a memory kill, a crash) ends the budget at once, since each
further try could cost a time limit.

**Shrink paths.** Every step of a seeded search depends only on the predicate's answers, so a
submission that answers exactly as an earlier one did gets exactly the same minimal
counterexample. The predicate handed to Hypothesis therefore records each call: where its answer
came from (the survey, a new input, or past the budget), whether it passed, and whether it ended
the worker. The path is kept in the store per *place* (item, activation, survey pattern). A later
submission whose survey came out alike is asked about the recorded inputs in a few batches
instead of one round trip and one Hypothesis step each; if it answers every one alike, the
recorded result is its result (with its own value there). At the first difference the real
shrinker runs, reusing the answers already obtained, so the result is always the shrinker's.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

from harness.cache import Key, key_digest
from harness.codecs import decode_examples, encode_examples
from harness.judge import Verdict
from harness.store import Codec, Memory
from harness.model import Model
from harness.example import Example

SHRINK_BUDGET = 200
"""New inputs the shrinker may ask the submission about per failing item."""

SHRINK_PATHS = 16
"""Shrink paths kept per place, the most recent first."""

NOT_SHRUNK = ("timeout", "memory", "crashed", "output_limit")
"""Verdict kinds whose call used up a whole limit: not shrunk, and they end a shrink's budget."""

Judged = tuple[Verdict, str]
"""A judgement and the output the submission printed for it."""

Ask = Callable[[Sequence[Example]], list[Judged]]
"""Judge the submission's answers at some inputs, in one batch (``"skipped"`` after a hang)."""

_FIRST_BATCH = 8  # recorded inputs asked in the first batch of a replay; each next batch doubles


@dataclasses.dataclass(frozen=True)
class Path:
    """One shrink, as the predicate calls it made: ``steps`` of ``(source, index, passed, stopped)``.

    ``source`` is ``"memo"`` (``index`` into the survey's inputs, answered in the survey),
    ``"new"`` (into ``inputs``, asked during the shrink, in order of first use) or ``"budget"`` (an
    input past the shrink budget, counted as passing without being asked). ``stopped`` says that
    a new input's call ended its worker, which ends the budget. ``result`` is where the shrinker
    ended, or ``None``.
    """

    steps: tuple[tuple[str, int, bool | None, bool], ...]
    inputs: tuple[Example, ...]
    result: tuple[str, int] | None

    def fits(self, drawn: Sequence[Example], survey: Mapping[tuple, Judged]) -> bool:
        """Whether every index points where it should: a surveyed input, or ``inputs`` in order."""
        used = 0
        for step in self.steps:
            if not (isinstance(step, tuple) and len(step) == 4):
                return False
            source, index, passed, stopped = step
            if source == "budget":
                continue
            if source not in ("memo", "new") or passed not in (True, False) or stopped not in (True, False):
                return False
            if source == "memo" and not (0 <= index < len(drawn) and drawn[index].key() in survey):
                return False
            if source == "new":
                if not 0 <= index <= used or index >= len(self.inputs):
                    return False
                used = max(used, index + 1)
        if self.result is None:
            return True
        source, index = self.result
        if source == "memo":
            return 0 <= index < len(drawn) and drawn[index].key() in survey
        return source == "new" and 0 <= index < used

    @property
    def digest(self) -> str:
        return key_digest((
            tuple(tuple(step) for step in self.steps),
            tuple(example.key() for example in self.inputs),
            self.result or (),
        ))


def _encode_path(path: Path) -> tuple[dict[str, np.ndarray], object]:
    arrays, inputs = encode_examples(list(path.inputs))
    return arrays, {"steps": [list(step) for step in path.steps], "inputs": inputs,
                    "result": list(path.result) if path.result else None}


def _decode_path(arrays: dict[str, np.ndarray], meta: object) -> Path | None:
    try:
        inputs = decode_examples(arrays, meta["inputs"])
        steps = tuple(
            (str(source), int(index), passed, stopped) for source, index, passed, stopped in meta["steps"]
        )
        result = meta["result"]
        if inputs is None:
            return None
        return Path(steps, tuple(inputs), (str(result[0]), int(result[1])) if result else None)
    except (KeyError, TypeError, ValueError):
        return None


_PATH = Codec(_encode_path, _decode_path)
_LISTING: Codec[list[str]] = Codec(
    lambda digests: ({}, digests),
    lambda arrays, meta: meta if isinstance(meta, list) and all(isinstance(d, str) for d in meta) else None,
)


class _Asked:
    """The submission's judgements during one shrink: each input asked once, however often needed."""

    def __init__(self, ask: Ask) -> None:
        self.ask = ask
        self.known: dict[tuple, Judged] = {}

    def many(self, examples: Sequence[Example]) -> list[Judged]:
        missing = [example for example in examples if example.key() not in self.known]
        fresh = dict(zip([example.key() for example in missing], self.ask(missing) if missing else []))
        # A call skipped because an earlier one hung was not asked: it is not remembered.
        self.known.update((key, judged) for key, judged in fresh.items() if judged[0].kind != "skipped")
        return [self.known.get(example.key()) or fresh[example.key()] for example in examples]


class Shrinker:
    """Shrinks failures, recording each shrink's path in ``memory`` and replaying known ones."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self.counts: Counter[str] = Counter()
        """How shrinks went in this process: ``replayed``, ``diverged``, ``recorded``."""
        self._paths: dict[Key, list[Path]] = {}

    def shrink(
        self,
        place: Key,
        strategy: Callable[[], SearchStrategy[Example]],
        seed: int,
        count: int,
        drawn: Sequence[Example],
        survey: Mapping[tuple, Judged],
        ask: Ask,
    ) -> tuple[Example, Judged] | None:
        """The minimal failing input the seeded search of ``count`` examples finds, with its judgement.

        ``strategy`` makes the search's strategy: it is called (and Hypothesis imported) only when
        no recorded path fits.

        ``drawn`` are the survey's inputs (the search's first ``count`` distinct draws) and
        ``survey`` their judgements (those not run after a hang are missing); ``place`` names the
        item and activation, and the survey's pattern of passes is added to it here.
        """
        pattern = "".join(
            "-" if example.key() not in survey else "1" if survey[example.key()][0].ok else "0" for example in drawn
        )
        place = (*place, len(drawn), pattern)
        asked = _Asked(ask)
        for path in self._candidates(place):
            result = self._replay(path, drawn, survey, asked)
            if result is not _DIVERGED:
                self.counts["replayed"] += 1
                return result
            self.counts["diverged"] += 1
        result, path = self._record(strategy, seed, count, drawn, survey, asked)
        self._keep(place, path)
        self.counts["recorded"] += 1
        return result

    def _record(self, strategy, seed, count, drawn, survey, asked: _Asked) -> tuple[tuple[Example, Judged] | None, Path]:
        """Run the real shrinker; return its result and the path its predicate calls took."""
        surveyed = {example.key(): index for index, example in enumerate(drawn) if example.key() in survey}
        new: dict[tuple, int] = {}
        inputs: list[Example] = []
        judged: dict[tuple, Judged] = {}
        steps: list[tuple[str, int, bool | None, bool]] = []
        budget = SHRINK_BUDGET

        def fails(example: Example) -> bool:
            nonlocal budget
            key = example.key()
            if key in surveyed:
                verdict = survey[key][0]
                steps.append(("memo", surveyed[key], verdict.ok, False))
                return not verdict.ok
            if key not in judged:
                if budget <= 0:
                    steps.append(("budget", -1, None, False))
                    return False
                budget -= 1
                (judged[key],) = asked.many([example])
                new[key] = len(inputs)
                inputs.append(example)
                if judged[key][0].kind in NOT_SHRUNK:
                    budget = 0
            verdict = judged[key][0]
            steps.append(("new", new[key], verdict.ok, verdict.kind in NOT_SHRUNK))
            return not verdict.ok

        from harness.search import find_minimal  # Hypothesis: only when no recorded path fits

        found = find_minimal(strategy(), seed, count, fails)
        if found is None:
            return None, Path(tuple(steps), tuple(inputs), None)
        key = found.key()
        if key in surveyed:
            return (drawn[surveyed[key]], survey[key]), Path(tuple(steps), tuple(inputs), ("memo", surveyed[key]))
        return (found, judged[key]), Path(tuple(steps), tuple(inputs), ("new", new[key]))

    def _replay(self, path: Path, drawn, survey, asked: _Asked):
        """``(example, judged)`` or None as the recorded shrink found, or ``_DIVERGED``."""
        if not path.fits(drawn, survey):
            return _DIVERGED
        answers: list[Judged] = []  # per new input, in order
        batch = _FIRST_BATCH
        for source, index, passed, stopped in path.steps:
            if source == "budget":  # past the budget at the same step: asked nothing then either
                continue
            if source == "memo":
                verdict = survey[drawn[index].key()][0]
            else:
                if index >= len(answers):  # inputs come in order of first use: ask the next batch
                    answers += asked.many(path.inputs[len(answers) : len(answers) + batch])
                    batch *= 2
                verdict = answers[index][0]
                # A call that ends its worker also ends the shrinker's budget: it must match too.
                if verdict.kind == "skipped" or (verdict.kind in NOT_SHRUNK) != stopped:
                    return _DIVERGED
            if verdict.ok != passed:
                return _DIVERGED
        if path.result is None:
            return None
        source, index = path.result
        if source == "memo":
            found = (drawn[index], survey[drawn[index].key()])
        else:
            found = (path.inputs[index], answers[index])
        return found if not found[1][0].ok else _DIVERGED

    def _candidates(self, place: Key) -> Iterator[Path]:
        """The paths known for ``place``; then any the store gained meanwhile (another process)."""
        if place not in self._paths:
            self._paths[place] = []
            self._read(place)
        yield from list(self._paths[place])
        yield from self._read(place)

    def _read(self, place: Key) -> list[Path]:
        """Add the paths the store lists for ``place`` that this process does not know; return them."""
        known = {path.digest for path in self._paths[place]}
        added = []
        for digest in self.memory.read((*place, "index"), _LISTING) or []:
            if digest not in known:
                path = self.memory.read(("shrink path", digest), _PATH)
                if path is not None and path.digest == digest:
                    added.append(path)
        self._paths[place] += added
        return added

    def _keep(self, place: Key, path: Path) -> None:
        paths = self._paths.setdefault(place, [])
        paths.insert(0, path)
        del paths[SHRINK_PATHS:]
        self.memory.write(("shrink path", path.digest), path, _PATH)
        # Read, add, write: two processes recording at once may drop one path from the index,
        # which costs one more real shrink later and never a wrong result.
        index = self.memory.read((*place, "index"), _LISTING) or []
        index = [path.digest] + [digest for digest in index if digest != path.digest]
        self.memory.write((*place, "index"), index[:SHRINK_PATHS], _LISTING)


_DIVERGED = object()


def shrink_locked(
    model: Model, activation: str | None, drawn: Sequence[Example], survey: Mapping[tuple, Judged], ask: Ask
) -> tuple[Example, Judged]:
    """A small failing input found without Hypothesis, for grading on locked inputs (``harness.lock``).

    Starts from the simplest failing surveyed input (fewest and smallest entries), then tries, entry
    by entry in a fixed order, simpler values (0, ±1, the nearest integer, one or two significant
    digits: smaller, or shorter to write) that stay in the variable's domain and gradable, keeping
    each change under which the answer still fails, until none helps or ``SHRINK_BUDGET`` inputs
    have been asked. The same submission
    always gets the same input, whatever library versions are installed.
    """
    from harness.strategies import within_float64_range

    judged_at = {example.key(): survey[example.key()] for example in drawn if example.key() in survey}
    failing = [example for example in drawn if example.key() in judged_at and not judged_at[example.key()][0].ok
               and judged_at[example.key()][0].kind not in NOT_SHRUNK]
    best = min(failing, key=_simplicity)
    judged = survey[best.key()]
    budget = SHRINK_BUDGET
    improved = True
    while improved and budget > 0:
        improved = False
        for candidate in _simpler(model, best):
            if not within_float64_range(model, candidate, activation):
                continue
            (answer,) = ask([candidate])
            budget -= 1
            if answer[0].kind in NOT_SHRUNK:  # each further try could cost a time limit
                budget = 0
            if not answer[0].ok and answer[0].kind not in NOT_SHRUNK:
                best, judged, improved = candidate, answer, True
                break
            if budget <= 0:
                break
    return best, judged


def _simplicity(example: Example) -> tuple:
    values = [float(v) for _, array in example.values for v in np.ravel(array)]
    return (sum(size for _, size in example.sizes), sum(v != 0 for v in values), sum(abs(v) for v in values),
            example.key())


def _simpler(model: Model, example: Example):
    """Inputs one entry simpler than ``example``, in a fixed order."""
    for name, array in example.values:
        low, high = model.variable(name).domain
        flat = np.ravel(array)
        for index, value in enumerate(flat):
            value = float(value)
            for target in (0.0, 1.0, -1.0, float(round(value)), float(f"{value:.1g}"), float(f"{value:.2g}")):
                if target == value or not low <= target <= high:
                    continue
                if abs(target) > abs(value) and _digits(target) >= _digits(value):
                    continue
                changed = flat.astype(np.float64, copy=True)
                changed[index] = target
                yield example.replace(name, changed.reshape(np.shape(array)))


def _digits(value: float) -> int:
    """How many significant digits the shortest text of ``value`` has (``4.5`` has 2)."""
    mantissa = repr(abs(value)).split("e")[0].replace(".", "").strip("0")
    return len(mantissa)
