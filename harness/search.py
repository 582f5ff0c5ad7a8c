"""Seeded, database-free Hypothesis searches: draw a fixed list of inputs, or shrink a failure.

Every search here is a pure function of its strategy, seed and (for shrinking) the answers of
its predicate, so every submission of a run sees the same inputs and the same predicate answers
give the same minimal counterexample (``harness.shrink`` relies on that to replay shrinks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

from harness.strategies import Example


def derived_seed(base: int, *parts: object) -> int:
    """A stable 64-bit seed for one (question, activation, ...) from the run's seed."""
    text = "\x1f".join([str(base), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


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

    # Hypothesis can draw an input twice; ask for more and keep the first `count` distinct.
    @seed(seed_value)
    @search_settings(count + count // 2 + 10, [Phase.generate])
    @given(strategy)
    def gather(example: Example) -> None:
        if example.key() not in seen:
            seen.add(example.key())
            drawn.append(example)

    gather()
    return drawn[:count]


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
        search()
    except _Failure as failure:
        return failure.example
    return None
