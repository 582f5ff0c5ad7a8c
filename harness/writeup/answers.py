"""Each item's answer in a write-up: the final right-hand side of a derivative, or a claim's yes/no.

For a derivative item, the answer is the last side of the last chain in the question's section
whose first side is the item's derivative (``\\frac{\\partial \\hat y}{\\partial w_2} = ... =
a_1 \\sigma'(z_2)``). It is graded exactly like a Python function computing the same formula: it
is an ``Answer`` whose ``call_many`` evaluates the translated formula in float64 with the safe
evaluator of ``harness.formula``, in-process. Derivative symbols in it must be ones the question
gives (2.1's ``\\partial \\hat y / \\partial z_2``); any other is a derivative still to be worked
out, and the item cannot be graded. A claim is read from the section's prose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.answers import WrittenOutcome
from harness.backends import FLOAT64
from harness.check import ClaimAnswer, Problem
from harness.errors import FormulaError
from harness.formula import Formula, evaluate, parse
from harness.spec import Assignment, ClaimItem, DerivativeItem, Question
from harness.writeup.prose import read_claim
from harness.writeup.reading import Writeup, Written
from harness.writeup.translate import derivative_name

_SAME = 1e-9
"""Relative agreement that tells which activation produced the values a call receives."""


def pretty(name: str) -> str:
    """A model name as a reader writes it: ``yhat`` -> ``ŷ``, others unchanged."""
    return {"yhat": "ŷ"}.get(name, name)


def derivative_text(of: str, wrt: str) -> str:
    return f"∂{pretty(of)}/∂{pretty(wrt)}"


@dataclass(frozen=True)
class Quote:
    """What a report quotes of a write-up for an item: the LaTeX or sentence, and where."""

    text: str
    file: str
    line: int



class WriteupAnswer:
    """An item answered by the final side of a chain in a write-up, evaluated by the safe evaluator."""

    def __init__(self, assignment: Assignment, question: Question, item: DerivativeItem, final: Written) -> None:
        self.source, self.line = final.file, final.line
        self.model = question.model or assignment.model
        self.question = question
        rename = {derivative_name(g.of, g.wrt): g.name for g in item.given}
        expression = final.expression
        activations = question.activations or (None,)
        self.formulas: dict[str | None, Formula] = {
            activation: parse(expression.render(activation, rename)) for activation in activations
        }
        names = set().union(*(formula.names for formula in self.formulas.values()))
        self.recognise = expression.uses_activation and len(activations) > 1
        if self.recognise:  # the values tell which family member this call is checked with
            names |= set(self.model.names)
        self.parameters = tuple(sorted(names))

    def call_many(self, batch: Sequence[Mapping[str, np.ndarray]]) -> list[WrittenOutcome]:
        return [self._call(arguments) for arguments in batch]

    def _activation(self, arguments: Mapping[str, np.ndarray]) -> str | None:
        if not self.recognise:
            return next(iter(self.formulas))
        placeholder = self.model.activation
        for activation in self.question.activations:
            if all(
                np.allclose(evaluate(formula, arguments, FLOAT64, bind={placeholder: activation}), arguments[name],
                            rtol=_SAME, atol=1e-300)
                for name, formula in self.model.quantities if placeholder in formula.calls
            ):
                return activation
        return None

    def _call(self, arguments: Mapping[str, np.ndarray]) -> WrittenOutcome:
        try:
            with np.errstate(all="ignore"):
                activation = self._activation(arguments)
                if activation is None and self.recognise:
                    return WrittenOutcome("exception", message="cannot tell which activation these values come from")
                value = evaluate(self.formulas[activation], arguments, FLOAT64)
        except FormulaError as error:
            return WrittenOutcome("exception", message=f"the written answer cannot be evaluated: {error.message}")
        return WrittenOutcome("ok", value=np.array(value, dtype=np.float64))


def final_side(writeup: Writeup, question: Question, item: DerivativeItem) -> Written | Problem:
    """The side that answers ``item``: the last side of the last chain starting with its derivative."""
    section = writeup.section(question.id)
    symbol = derivative_text(item.of, item.wrt)
    if section is None:
        found = ", ".join(writeup.questions) or "none"
        return Problem(
            f"missing: no section for {question.id} in {', '.join(writeup.files)}",
            f"The write-up has no heading for question {question.id} (sections found: {found}). Start its "
            f"answer with a heading such as '## {question.id}' or '\\subsection*{{{question.id}}}'.",
            writeup.files[0],
        )
    candidates = [c for c in section.chains if c.sides[0].expression is not None
                  and c.sides[0].expression.symbol == (item.of, item.wrt)]
    if not candidates:
        unreadable = [side for c in section.chains for side in c.sides[:1] if side.error]
        detail = ""
        if unreadable:
            detail = " Some equations could not be read: " + "; ".join(side.error for side in unreadable[:3]) + "."
        if section.problems:
            detail += " " + " ".join(section.problems)
        return Problem(
            f"missing: no equation for {symbol} in section {question.id} ({section.file}, line {section.line})",
            f"No equation of section {question.id} has {symbol} on its left-hand side, so {item.name} has no "
            f"answer. Write it as an equation, such as $$\\frac{{\\partial {item.of}}}{{\\partial {item.wrt}}} = "
            f"...$$, with the final form last.{detail}",
            section.file, section.line,
        )
    final = candidates[-1].sides[-1]
    if final.error is not None:
        return Problem(f"unreadable: {final.error}",
                       f"The final answer for {symbol} cannot be read: {final.error}. As written: {final.latex}",
                       final.file, final.line)
    expression = final.expression
    given = {(g.of, g.wrt) for g in item.given}
    left = sorted(pair for pair in expression.derivatives if pair not in given)
    if left or expression.operators:
        what = ", ".join(derivative_text(*pair) for pair in left) or "a derivative still to be taken"
        return Problem(
            f"unreadable: the final answer for {symbol} ({final.place}) still contains {what}",
            f"The last form of {symbol} in section {question.id} is {final.latex}, which still contains {what}; "
            f"question {question.id} gives no value for it. End the chain with the derivative worked out.",
            final.file, final.line,
        )
    return final


def writeup_answer(writeup: Writeup, assignment: Assignment, question: Question, item: DerivativeItem):
    """The Answer (or Problem) a write-up gives for a derivative item, and its quote."""
    final = final_side(writeup, question, item)
    if isinstance(final, Problem):
        return final, None
    try:
        answer = WriteupAnswer(assignment, question, item, final)
    except FormulaError as error:  # our translation made something the formula language refuses
        return Problem(f"unreadable: {final.place}: {error.message}", f"{final.latex} cannot be evaluated: {error}",
                       final.file, final.line), None
    return answer, Quote(final.latex, final.file, final.line)


def writeup_claim(writeup: Writeup, question: Question, item: ClaimItem):
    """The ClaimAnswer (or Problem) a write-up's prose gives for a claim, and its quote."""
    section = writeup.section(question.id)
    if section is None:
        return Problem(
            f"missing: no section for {question.id} in {', '.join(writeup.files)}",
            f"The write-up has no heading for question {question.id}, so the claim '{item.statement}' has no answer.",
            writeup.files[0],
        ), None
    reading = read_claim(list(section.sentences))
    if reading.value is None:
        quote, line = None, section.line
        if reading.sentence is not None:
            line = section.sentence_line(reading.sentence)
            quote = Quote(reading.sentence.text, section.file, line)
        return Problem(
            f"missing: the claim is not answered ({reading.reason})",
            f"Section {question.id} must say yes or no to '{item.statement}' in a sentence (\"Yes, ... "
            f"changes\" or \"No, ... does not change\"); {reading.reason} ({section.file}, line {line}).",
            section.file, line,
        ), quote
    line = section.sentence_line(reading.sentence)
    return ClaimAnswer(reading.value, section.file, line), Quote(reading.sentence.text, section.file, line)
