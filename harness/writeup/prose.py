"""Read a yes/no answer from the prose of a section: "No, ... does not change", "It changes."

The sentences of a section (its text outside display math, inline math kept as written) are read
in order; each is a *yes*, a *no*, a *hedge* ("not necessarily", "it depends", "maybe") or says
nothing either way. The first sentence that says yes or no answers the claim, unless a hedge comes
first (then the claim is unanswered) or a later sentence says the opposite (then it is
contradictory, and unanswered too). The sentence used is quoted in the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEDGE = re.compile(
    r"\b(not necessarily|it depends|depends on whether|maybe|perhaps|possibly|might|may or may not|"
    r"not sure|unclear|could be either|sometimes)\b", re.IGNORECASE)
_NO = re.compile(
    r"^\s*no\b|\b(does not|doesn't|do not|don't|will not|won't|would not|wouldn't|cannot|can't|is not|isn't|"
    r"never)\s+(change|changes|be affected|affect|depend|vary)\b|\b(unchanged|unaffected|stays the same|"
    r"remains the same|remain the same|stay the same|independent of|not affected|no effect|not change|nothing changes|does not depend)\b",
    re.IGNORECASE)
_YES = re.compile(
    r"^\s*yes\b|\b(changes|will change|does change|do change|would change|is affected|depends on|varies|"
    r"it changes|change as well|also changes)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


@dataclass(frozen=True)
class Sentence:
    text: str
    offset: int


@dataclass(frozen=True)
class Reading:
    """What the prose answered: ``value`` True/False, or None with ``reason``; the sentence used."""

    value: bool | None
    sentence: Sentence | None
    reason: str = ""


def sentences(text: str, offset: int) -> list[Sentence]:
    """The sentences of ``text`` (prose starting at ``offset`` of its file), with their offsets."""
    found, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        _append(found, text, start, match.start(), offset)
        start = match.end()
    _append(found, text, start, len(text), offset)
    return found


def _append(found: list[Sentence], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        found.append(Sentence(" ".join(stripped.split()), offset + start + piece.index(stripped[0])))


def classify(sentence: str) -> str | None:
    """``"yes"``, ``"no"``, ``"hedge"`` or ``None`` for one sentence."""
    if _HEDGE.search(sentence):
        return "hedge"
    if _NO.search(sentence):
        return "no"
    if _YES.search(sentence):
        return "yes"
    return None


def read_claim(found: list[Sentence]) -> Reading:
    """The yes/no answer the sentences give, with the sentence it rests on."""
    answer: Reading | None = None
    for sentence in found:
        kind = classify(sentence.text)
        if kind is None:
            continue
        if kind == "hedge" and answer is None:
            return Reading(None, sentence, "the answer is hedged, neither yes nor no")
        if kind == "hedge":
            continue
        value = kind == "yes"
        if answer is None:
            answer = Reading(value, sentence)
        elif answer.value != value:
            return Reading(None, sentence, "the section says both yes and no")
    if answer is None:
        return Reading(None, None, "no sentence of the section says yes or no")
    return answer
