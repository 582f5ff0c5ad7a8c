"""Seeded, database-free Hypothesis searches: draw a fixed list of inputs, or shrink a failure.

Every search here is a pure function of its strategy, seed and (for shrinking) the answers of
its predicate, so every submission of a run sees the same inputs and the same predicate answers
give the same minimal counterexample (``harness.shrink`` relies on that to replay shrinks).

Hypothesis 6.131 and later also draw, now and then, numbers written in the source of the
"local" modules that are loaded (those outside site-packages), and cache them in
``.hypothesis/constants`` under the working directory. Which modules are local depends on how the
harness was installed (editable or not) and on what else the process imported (a student's own
modules under the pytest plugin), so the same seed would draw different inputs in different
entry points and write into a student's repository. ``no_local_constants`` empties that pool
for the duration of each search (the pool of Hypothesis's own constants stays, so draws still
reach the edges of a domain).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.errors import Unsatisfiable
from hypothesis import strategies as st

from harness.example import Example, derived_seed


def search_settings(max_examples: int, phases: Sequence[Phase]) -> settings:
    """Hypothesis settings for a quiet, deterministic search that writes no example database."""
    return settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=tuple(phases),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


def collect(strategy: st.SearchStrategy[Example], seed_value: int, count: int) -> list[Example]:
    """The first ``count`` distinct examples a seeded, database-free Hypothesis run draws."""
    drawn: list[Example] = []
    seen: set[tuple] = set()

    # Hypothesis can draw an input twice; ask for more and keep the first `count` distinct. Once
    # there are that many, stop the run (drawing the rest costs as much as the search itself on
    # arrays): the list is the same, the first `count` distinct draws of the same seeded run.
    @seed(seed_value)
    @search_settings(count + count // 2 + 10, [Phase.generate])
    @given(strategy)
    def gather(example: Example) -> None:
        if len(drawn) >= count:  # Hypothesis replays the example that stopped the run: ignore it
            raise _Enough
        if example.key() not in seen:
            seen.add(example.key())
            drawn.append(example)
        if len(drawn) >= count:
            raise _Enough

    with no_local_constants():
        try:
            gather()
        except Unsatisfiable:  # no input passes the filter: the caller reports that, with its reasons
            pass
        except _Enough:
            pass
    return drawn[:count]


class _Enough(Exception):
    """Raised in a collecting run once it has drawn enough inputs."""


class _Failure(Exception):
    def __init__(self, example: Example) -> None:
        super().__init__("failing example")
        self.example = example


def find_minimal(
    strategy: st.SearchStrategy[Example], seed_value: int, count: int, fails: Callable[[Example], bool]
) -> Example | None:
    """Replay a seeded search of ``count`` examples and shrink its first failure; None if none fails.

    ``fails`` must answer the same for the same input every time it is asked (memoise it):
    Hypothesis replays the minimal example once more at the end.
    """

    @seed(seed_value)
    @search_settings(count, [Phase.generate, Phase.shrink])
    @given(strategy)
    def search(example: Example) -> None:
        if fails(example):
            raise _Failure(example)

    try:
        with no_local_constants():
            search()
    except _Failure as failure:
        return failure.example
    return None


@contextlib.contextmanager
def no_local_constants() -> Iterator[None]:
    """Hypothesis draws no constant from the loaded modules' source, and caches none on disk."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the module has no such pool
        yield
        return
    found = getattr(providers, "_get_local_constants", None)
    empty = getattr(providers, "Constants", None)
    if found is None or empty is None:  # a version before (or after) local constants
        yield
        return
    providers._get_local_constants = lambda: empty()
    providers.CONSTANTS_CACHE.cache.clear()  # built from the pools: forget the local part
    try:
        yield
    finally:
        providers._get_local_constants = found
        providers.CONSTANTS_CACHE.cache.clear()
