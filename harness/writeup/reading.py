"""Read a submission's write-ups: files, sections, equations translated, and each item's answer.

``load_writeup`` reads every ``*.md``, ``*.markdown`` and ``*.tex`` file at the top of a
submission folder, in name order, finds the section answering each question of the assignment,
and parses and translates every side of every equation once. A file without a section for any
question of the assignment is not a write-up for it (a ``README.md``) and is left out. When two
sections answer the same question, the first (in file-name order, then in the file) is graded
and the report notes the other. Nothing in a file is ever run: math is parsed by the grammar of
``harness.writeup.latex`` and evaluated by the formula language's own evaluator.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.writeup.chains import MAX_SECTION_CHARACTERS, MAX_SIDES, Chain, Side, chains
from harness.writeup.latex import LatexError, parse
from harness.writeup.notation import Notation, notation_for
from harness.writeup.prose import Sentence, sentences
from harness.writeup.sections import MAX_FILE_BYTES, Document, Section, find_sections, read_document
from harness.writeup.translate import DUMMY, Expression, dummy_variable, symbol_key, translate

WRITEUP_SUFFIXES = (".md", ".markdown", ".tex")
MAX_FILES = 20
"""Most write-up files read from one submission."""
PARSE_SECONDS = 10.0
"""Wall-clock budget for reading one submission's write-ups; past it, the rest is left unread
(the grammar is linear-time and every expression is size-limited, so only huge uploads reach it)."""


@dataclass(frozen=True)
class Written:
    """One side of an equation: where it is, as written, and its translation or why there is none."""

    file: str
    line: int
    latex: str
    expression: Expression | None
    error: str | None
    """``"answers.md, line 12, column 5: unknown macro \\foo"``, when it cannot be read."""

    @property
    def place(self) -> str:
        return f"{self.file}, line {self.line}"


@dataclass(frozen=True)
class WrittenChain:
    """``sides[0] = sides[1] = ...`` in the section of ``question``."""

    question: str
    sides: tuple[Written, ...]
    label: str | None
    dummy: str | None = None
    """The bare variable of a definition (``z`` in ``s(z) = \\ln(1 + e^z)``), which stands for any value."""


@dataclass(frozen=True)
class QuestionWriteup:
    """What the write-ups say about one question."""

    question: str
    file: str
    line: int
    """The line of the section's heading."""
    chains: tuple[WrittenChain, ...]
    sentences: tuple[Sentence, ...]
    document: Document
    problems: tuple[str, ...]
    """What could not be read at all in the section (an unclosed ``$$``, too many equations)."""

    def sentence_line(self, sentence: Sentence) -> int:
        return self.document.line(sentence.offset)


@dataclass(frozen=True)
class Writeup:
    """A submission's write-ups, read: one ``QuestionWriteup`` per question they answer."""

    files: tuple[str, ...]
    questions: Mapping[str, QuestionWriteup]
    notes: tuple[str, ...] = ()

    def section(self, question: str) -> QuestionWriteup | None:
        return self.questions.get(question)


def notation_key(latex: str) -> str | None:
    """The key of one symbol written in LaTeX (``\\hat{p}`` -> ``phat``), or ``None`` if it is not one."""
    try:
        return symbol_key(parse(latex))
    except (LatexError, RecursionError):
        return None


def notation_of(assignment, question=None) -> Notation:
    """A question's notation: its model's names and the spec's ``notation`` entries, as keys."""
    entries = {notation_key(latex) or latex: target for latex, target in assignment.notation}
    model = (question.model if question is not None else None) or assignment.model
    return notation_for(model.names, entries)


def writeup_files(folder: Path) -> list[Path]:
    """The write-up files at the top of ``folder``, in name order (regular files only)."""
    if not folder.is_dir():
        return []
    return sorted(
        path for path in folder.iterdir()
        if path.suffix.lower() in WRITEUP_SUFFIXES and path.is_file() and not path.is_symlink()
    )


def load_writeup(folder: Path, assignment) -> Writeup | None:
    """Read the write-ups of a submission folder for ``assignment``; ``None`` when it has none."""
    files = writeup_files(Path(folder))
    if not files:
        return None
    ids = [question.id for question in assignment.questions]
    notations = {question.id: notation_of(assignment, question) for question in assignment.questions}
    notes: list[str] = []
    if len(files) > MAX_FILES:
        notes.append(f"only the first {MAX_FILES} write-up files were read; {len(files) - MAX_FILES} were left out")
        files = files[:MAX_FILES]
    deadline = time.monotonic() + PARSE_SECONDS
    questions: dict[str, QuestionWriteup] = {}
    ignored: dict[str, list[str]] = {}
    used: list[str] = []
    for path in files:
        if path.stat().st_size > MAX_FILE_BYTES:
            notes.append(f"{path.name} was not read: it is larger than {MAX_FILE_BYTES // (1 << 20)} MiB")
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            notes.append(f"{path.name} was not read: it is not UTF-8 text ({error.reason} at byte {error.start})")
            continue
        document = read_document(path.name, text)
        sections = find_sections(document, ids)
        if not sections:
            continue
        used.append(path.name)
        for section in sections:
            if section.question in questions:
                ignored.setdefault(section.question, []).append(f"{path.name}, line {section.line}")
                continue
            questions[section.question] = _read_section(section, notations[section.question], deadline)
    if not used:
        return None
    for question, places in ignored.items():
        first = questions[question]
        shown = "; ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
        notes.append(f"another section for {question} is ignored ({shown}); the one graded is {first.file}, "
                     f"line {first.line}")
    return Writeup(tuple(used), questions, tuple(notes))


def _read_section(section: Section, notation: Notation, deadline: float) -> QuestionWriteup:
    document = section.document
    problems = [f"{document.name}, line {document.line(offset)}: {message}" for offset, message in section.problems]
    read: list[WrittenChain] = []
    sides_read = characters = 0
    for math in section.math:
        for chain in chains(math):
            size = sum(len(side.latex) for side in chain.sides)
            if sides_read + len(chain.sides) > MAX_SIDES or characters + size > MAX_SECTION_CHARACTERS \
                    or time.monotonic() > deadline:
                problems.append(f"{document.name}, line {document.line(chain.sides[0].offset)}: the rest of the "
                                f"section was not read (at most {MAX_SIDES} sides and {MAX_SECTION_CHARACTERS:,} "
                                f"characters of equations are read per section, within {PARSE_SECONDS:g} s)")
                break
            sides_read += len(chain.sides)
            characters += size
            read.append(_read_chain(section.question, document, chain, notation))
        else:
            continue
        break
    return QuestionWriteup(
        section.question, document.name, section.line, tuple(read), tuple(_prose(section)), document, tuple(problems),
    )


def _read_chain(question: str, document: Document, chain: Chain, notation: Notation) -> WrittenChain:
    sides = tuple(_read_side(document, side, notation) for side in chain.sides)
    if all(side.error is None for side in sides):
        return WrittenChain(question, sides, chain.label)
    try:
        dummy = dummy_variable(parse(chain.sides[0].latex), notation)
    except (LatexError, RecursionError):
        dummy = None
    if dummy is None:
        return WrittenChain(question, sides, chain.label)
    # s(z) = \ln(1 + e^z): a definition of the function, for every value of z
    with_dummy = dataclasses.replace(notation, entries={**notation.entries, dummy: DUMMY})
    sides = tuple(_read_side(document, side, with_dummy) for side in chain.sides)
    return WrittenChain(question, sides, chain.label, dummy)


def _read_side(document: Document, side: Side, notation: Notation) -> Written:
    line = document.line(side.offset)
    try:
        expression = translate(parse(side.latex), notation)
    except LatexError as error:
        at_line, column = document.place(side.offset + min(error.column, len(side.latex)))
        return Written(document.name, line, side.latex, None,
                       f"{document.name}, line {at_line}, column {column}: {error.message}")
    except RecursionError:
        return Written(document.name, line, side.latex, None,
                       f"{document.name}, line {line}: the expression is nested too deeply")
    return Written(document.name, line, side.latex, expression, None)


def _prose(section: Section) -> list[Sentence]:
    """The sentences of a section: its text without display math, headings or hidden parts."""
    document = section.document
    text = list(document.text[section.start : section.end])
    for math in document.math:
        if math.display and section.start <= math.start < section.end:
            for index in range(max(math.outer[0], section.start), min(math.outer[1], section.end)):
                text[index - section.start] = " "
    for start, end in document.hidden:
        for index in range(max(start, section.start), min(end, section.end)):
            text[index - section.start] = " "
    heading_end = document.text.find("\n", section.heading.offset)
    for index in range(section.start, min(heading_end if heading_end >= 0 else section.end, section.end)):
        text[index - section.start] = " "
    return sentences("".join(text), section.start)
