"""Write-ups: grade a submission's markdown or LaTeX answers, and check every step of them.

A submission may hand in its answers as written math (``answers.md``, ``solution.tex``): this
package reads them as data (nothing in them is ever run), with one module per job:

- ``sections``: the files' math and prose, and the section answering each question (by heading);
- ``chains``: the equations of a piece of math, as chains ``S0 = S1 = ...`` with labels;
- ``latex``: the lark grammar of written math, parsed into a tree with columns;
- ``notation``: what each symbol stands for (the spec's ``notation`` over defaults);
- ``translate``: the tree into the formula language, with its derivative symbols;
- ``reading``: all of that for one submission, read once (``load_writeup``);
- ``answers``: each item's answer (the final side of its derivative's chain, or a claim's yes/no);
- ``prose``: yes/no claims from sentences;
- ``steps``: every step checked numerically at the question's inputs (``check_steps``).

``WriteupAnswers`` is what ``harness.answering`` asks, as the third source of answers after a
submission's Python modules and its ``answers.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from harness.writeup.reading import WRITEUP_SUFFIXES, Writeup, load_writeup, writeup_files

__all__ = ["WRITEUP_SUFFIXES", "Writeup", "WriteupAnswers", "load_writeup", "writeup_files"]


class WriteupAnswers:
    """A submission's write-ups as a source of answers, remembering what each answer quoted."""

    def __init__(self, writeup: Writeup, assignment) -> None:
        self.writeup = writeup
        self.assignment = assignment
        self.quotes: dict[tuple[str, str], str] = {}

    @classmethod
    def load(cls, folder: Path, assignment) -> WriteupAnswers | None:
        """The write-ups of ``folder`` for ``assignment``, or ``None`` when it has none."""
        writeup = load_writeup(folder, assignment)
        return None if writeup is None else cls(writeup, assignment)

    @property
    def notes(self) -> tuple[str, ...]:
        return self.writeup.notes

    def answers(self, question_id: str) -> bool:
        """Whether the write-ups have a section for this question."""
        return self.writeup.section(question_id) is not None

    def answer(self, question, item):
        from harness.writeup.answers import writeup_answer

        answer, quote = writeup_answer(self.writeup, self.assignment, question, item)
        self._remember(question, item, quote)
        return answer

    def claim(self, question, item):
        from harness.writeup.answers import writeup_claim

        answer, quote = writeup_claim(self.writeup, question, item)
        self._remember(question, item, quote)
        return answer

    def quote(self, question_id: str, name: str) -> str | None:
        """What the report quotes for an item answered here: its LaTeX or sentence, as written."""
        return self.quotes.get((question_id, name))

    def _remember(self, question, item, quote) -> None:
        if quote is not None:
            self.quotes[(question.id, item.name)] = quote.text
