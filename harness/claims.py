"""Establish a yes/no claim numerically: does d of / d wrt change when one variable changes?

A claim is true when a seeded Hypothesis search finds two gradable inputs that differ only in the
claim's variable and give derivatives that differ beyond the item's tolerance; the search shrinks
that pair so the report shows a small one. When no pair differs, the claim is false on the
evidence of every pair compared, and the report shows one pair with the variable moved to the
other end of its domain.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from harness.oracle import Oracle
from harness.results import ClaimEvidence, as_value
from harness.spec import ClaimItem, Question
from harness.example import Example

_PAIR_SEED = 0xC1A1  # the pair search's seed differs from the survey's for the same question
MIN_PAIRS = 100
"""Pairs compared at least, whatever the examples per item: Hypothesis's first draws are the
simplest inputs (zeros), where a derivative often depends on nothing at all, so five pairs can
all miss a dependence that exists. A true claim stops at its first differing pair; only a
false one costs every pair."""


def establish(
    oracle: Oracle, question: Question, item: ClaimItem, count: int, seed_for: Callable[[str | None], int],
    first_drawn: Callable[[str | None], Example],
) -> ClaimEvidence:
    """The evidence for ``item``: the first differing pair over the question's activations, else none.

    ``seed_for(activation)`` is the question's survey seed; ``first_drawn(activation)`` its first
    surveyed input (the pair shown when the claim is false).
    """
    from hypothesis import Phase, find  # only when the evidence is not remembered
    from hypothesis.errors import NoSuchExample

    from harness.search import no_local_constants, search_settings
    from harness.strategies import examples, values_at, within_float64_range

    model = oracle.model
    activations = question.activations or (None,)
    count = max(count, MIN_PAIRS)

    def pairs(activation):
        """Two gradable inputs that differ only in the claim's variable."""
        return examples(model, activation).flatmap(
            lambda example: values_at(model, example.size_map, only=item.changes_with).map(
                lambda new: (example, example.replace(item.changes_with, new[item.changes_with]))
            )
        ).filter(lambda pair: within_float64_range(model, pair[1], activation))

    def differs(pair, activation) -> bool:
        first, second = (oracle.jacobian(e, activation, item.of, item.wrt) for e in pair)
        return not bool(np.all(np.abs(first - second) <= item.atol + item.rtol * np.abs(first)))

    def evidence(first, second, activation, *, truth, compared) -> ClaimEvidence:
        return ClaimEvidence(
            statement=item.statement,
            truth=truth,
            changed_variable=item.changes_with,
            first_inputs=tuple((n, as_value(v)) for n, v in first.values),
            second_inputs=tuple((n, as_value(v)) for n, v in second.values),
            first_value=as_value(oracle.jacobian(first, activation, item.of, item.wrt)),
            second_value=as_value(oracle.jacobian(second, activation, item.of, item.wrt)),
            activation=activation,
            examples=compared,
        )

    for activation in activations:
        rng = random.Random(seed_for(activation) ^ _PAIR_SEED)
        search = search_settings(count, [Phase.generate, Phase.shrink])
        try:
            with no_local_constants():
                pair = find(pairs(activation), lambda p, a=activation: differs(p, a), settings=search, random=rng)
        except NoSuchExample:
            continue
        return evidence(pair[0], pair[1], activation, truth=True, compared=count)
    # The claim held on every pair: show one pair with the other end of the domain.
    activation = activations[0]
    first = first_drawn(activation)
    low, high = model.variable(item.changes_with).domain
    value = first.point[item.changes_with]
    other = np.where(value == high, low, high).astype(np.float64)
    return evidence(first, first.replace(item.changes_with, other), activation, truth=False,
                    compared=count * len(activations))


def explanation(question_model, item: ClaimItem, evidence: ClaimEvidence) -> str:
    """Why the claim holds or not, pointing at where the variable enters the model."""
    of, wrt, var = item.of, item.wrt, item.changes_with
    if not evidence.truth:
        return (
            f"On {evidence.examples} pairs of inputs that differ only in {var}, d {of} / d {wrt} "
            f"never changed: it does not depend on {var}."
        )
    uses = [f"{name} = {formula.source}" for name, formula in question_model.quantities if var in formula.names]
    where = f" {var} enters the model in {', '.join(uses)}." if uses else ""
    return (
        f"Changing only {var} changes d {of} / d {wrt} (see the two inputs below).{where} "
        "The chain rule for the derivative contains factors evaluated at those quantities (for "
        "example the activation's derivative at them), so the derivative changes with "
        f"{var} even where {var} does not appear as a factor of the formula."
    )
