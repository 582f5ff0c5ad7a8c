"""Find a write-up's math and its sections: which part of which file answers which question.

``read_document`` splits one ``.md`` or ``.tex`` file into its math (``$$...$$``, ``\\[...\\]``,
``$...$``, ``\\(...\\)`` and the ``equation``/``align``/``gather`` environments, with their place in
the file) and the prose around it; code blocks and TeX comments are left out. ``find_sections``
then finds the question each part answers by its heading, whatever the style: ``## 2.1``,
``### 2.1:``, ``**2.1**``, ``Q2.1``, ``Question 2.1``, ``\\section*{2.1}``, ``\\subsection{Part
2.1}``, a numbered list item (``1.`` or ``\\item``) under a heading for question 2, or
``\\item[2.1]``. A section runs to the next heading for a question, or to a heading without one
at its own level or above.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_FILE_BYTES = 1 << 20
"""Largest write-up file read (1 MiB)."""

_DISPLAY_ENVIRONMENTS = ("equation", "align", "gather", "multline", "eqnarray", "displaymath", "math", "flalign")
_FENCE = re.compile(r" {0,3}```")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_ENV = re.compile(r"\\begin\{(" + "|".join(_DISPLAY_ENVIRONMENTS) + r")(\*?)\}")


@dataclass(frozen=True)
class Math:
    """One piece of math, as written, and where its text starts in its file."""

    text: str
    start: int
    display: bool
    outer: tuple[int, int] = (0, 0)
    """Where it starts and ends in its file, delimiters included."""


@dataclass(frozen=True)
class Document:
    """One write-up file: its text, its math, what could not be read, and line lookup."""

    name: str
    text: str
    math: tuple[Math, ...]
    problems: tuple[tuple[int, str], ...]
    """(offset, message) for what could not be read: an unclosed ``$$``, ..."""
    hidden: tuple[tuple[int, int], ...]
    """(start, end) ranges that are neither prose nor math: code blocks, comments."""

    line_starts: tuple[int, ...] = (0,)
    """The offset where each line starts."""

    def place(self, offset: int) -> tuple[int, int]:
        """The 1-based line and 1-based column of an offset into the text."""
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def line(self, offset: int) -> int:
        return self.place(offset)[0]


def read_document(name: str, text: str) -> Document:
    """Split ``text`` into math and prose; ``.tex`` comments and markdown code are hidden."""
    tex = name.endswith(".tex")
    math: list[Math] = []
    problems: list[tuple[int, str]] = []
    hidden: list[tuple[int, int]] = []
    index, length = 0, len(text)
    at_line_start = True
    while index < length:
        char = text[index]
        if at_line_start and not tex and _FENCE.match(text, index):
            fence = text.find("\n```", index + 3)
            end = length if fence < 0 else text.find("\n", fence + 4)
            end = length if end < 0 else end
            hidden.append((index, end))
            index, at_line_start = end, False
            continue
        at_line_start = char == "\n"
        if tex and char == "%" and (index == 0 or text[index - 1] != "\\"):
            end = text.find("\n", index)
            end = length if end < 0 else end
            hidden.append((index, end))
            index = end
            continue
        if char == "\\" and index + 1 < length:
            following = text[index + 1]
            if following in "[(":
                closing = "\\]" if following == "[" else "\\)"
                end = text.find(closing, index + 2)
                if end < 0:
                    problems.append((index, f"\\{following} is never closed by {closing}"))
                    index += 2
                    continue
                math.append(Math(text[index + 2 : end], index + 2, following == "[", (index, end + 2)))
                index = end + 2
                continue
            match = _ENV.match(text, index)
            if match:
                closing = f"\\end{{{match.group(1)}{match.group(2)}}}"
                end = text.find(closing, match.end())
                if end < 0:
                    problems.append((index, f"\\begin{{{match.group(1)}{match.group(2)}}} is never closed by {closing}"))
                    index = match.end()
                    continue
                math.append(Math(text[match.end() : end], match.end(), True, (index, end + len(closing))))
                index = end + len(closing)
                continue
            index += 2  # an escaped character such as \$ or a command in prose
            continue
        if char == "`" and not tex:
            end = text.find("`", index + 1)
            newline = text.find("\n", index + 1)
            if end > 0 and (newline < 0 or end < newline):
                hidden.append((index, end + 1))
                index = end + 1
                continue
        if char == "$":
            if text.startswith("$$", index):
                end = text.find("$$", index + 2)
                if end < 0:
                    problems.append((index, "$$ is never closed by $$"))
                    index += 2
                    continue
                math.append(Math(text[index + 2 : end], index + 2, True, (index, end + 2)))
                index = end + 2
                continue
            end = _inline_end(text, index + 1)
            if end < 0:
                problems.append((index, "$ is never closed by $ on the same paragraph"))
                index += 1
                continue
            math.append(Math(text[index + 1 : end], index + 1, False, (index, end + 1)))
            index = end + 1
            continue
        index += 1
    starts = (0, *(match.end() for match in re.finditer(r"\n", text)))
    return Document(name, text, tuple(math), tuple(problems), tuple(hidden), starts)


def _inline_end(text: str, start: int) -> int:
    """Where the ``$`` closing inline math from ``start`` is, within its paragraph; -1 if none."""
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "$":
            return index
        if char == "\n" and _BLANK_LINE.match(text, index):
            return -1
        index += 1
    return -1


# -- headings ----------------------------------------------------------------------------------

_MARKDOWN = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_LATEX = re.compile(r"^\s*\\(part|chapter|section|subsection|subsubsection|paragraph|subparagraph)\*?\s*\{(.*)\}")
_LATEX_LEVELS = {"part": 1, "chapter": 1, "section": 1, "subsection": 2, "subsubsection": 3, "paragraph": 4,
                 "subparagraph": 5}
_BOLD = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)")
_LABELLED = re.compile(r"^\s*(?:Q|Question|Problem|Part|Exercise|Ex\.?)\s*\.?\s*(\d+(?:\.\d+)*)", re.IGNORECASE)
_BARE_ID = re.compile(r"^\s*(\d+(?:\.\d+)+)\s*(?:[.:)](?:\s|$)|$)")  # "2.1:", "2.1." or "2.1" alone
_LIST = re.compile(r"^\s*(\d+)[.)]\s")
_ITEM = re.compile(r"^\s*\\item(?:\[([^\]]*)\])?")
_ENUMERATE = re.compile(r"\\begin\{enumerate\}")
_NUMBER = re.compile(r"\d+(?:\.\d+)*[a-z]?")

_BOLD_LEVEL, _LABEL_LEVEL, _LIST_LEVEL = 7, 8, 9


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    offset: int
    question: str | None
    """The question it starts a section for, if any."""
    parent: str | None = None
    """A question number it introduces without being a question itself (``## Question 2``)."""


@dataclass(frozen=True)
class Section:
    """The part of a document answering one question: from its heading to where the next starts."""

    question: str
    document: Document
    heading: Heading
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.document.line(self.heading.offset)

    @property
    def math(self) -> tuple[Math, ...]:
        return tuple(m for m in self.document.math if self.start <= m.start < self.end)

    @property
    def problems(self) -> tuple[tuple[int, str], ...]:
        return tuple(p for p in self.document.problems if self.start <= p[0] < self.end)


def _question_in(text: str, questions: Sequence[str]) -> tuple[str | None, str | None]:
    """(the question ``text`` names, the question number it introduces) among ``questions``."""
    numbers = _NUMBER.findall(text)
    for number in numbers:
        if number in questions:
            return number, None
    for number in numbers:
        if any(question.startswith(number + ".") for question in questions):
            return None, number
    return None, None


def _inside(offset: int, ranges: Sequence[tuple[int, int]]) -> bool:
    """Whether ``offset`` lies in one of ``ranges`` (sorted by start, not overlapping)."""
    index = bisect.bisect_right(ranges, (offset, float("inf"))) - 1
    return index >= 0 and ranges[index][0] <= offset < ranges[index][1]


def headings(document: Document, questions: Sequence[str]) -> list[Heading]:
    """Every heading of ``document`` outside its math and code, with the question it names."""
    covered = sorted([(m.start, m.start + len(m.text)) for m in document.math if m.display] + list(document.hidden))
    found: list[Heading] = []
    parent: str | None = None
    item_number = 0
    offset = 0
    for line in document.text.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        if _inside(start, covered):
            continue
        if _ENUMERATE.search(line):
            item_number = 0
        heading = _heading(line.rstrip("\n"), start, questions, parent)
        if heading is None:
            item = _ITEM.match(line)
            if item:
                item_number += 1
                label = item.group(1)
                if label is not None:
                    question, _ = _question_in(label, questions)
                else:
                    candidate = f"{parent}.{item_number}" if parent else None
                    question = candidate if candidate in questions else None
                if question:
                    heading = Heading(_LIST_LEVEL, line.strip(), start, question)
            else:
                listed = _LIST.match(line)
                if listed and parent and f"{parent}.{listed.group(1)}" in questions:
                    heading = Heading(_LIST_LEVEL, line.strip(), start, f"{parent}.{listed.group(1)}")
        if heading is None:
            continue
        if heading.parent is not None:
            parent, item_number = heading.parent, 0
        elif heading.question is not None and heading.level < _LIST_LEVEL:
            parent = None
        found.append(heading)
    return found


def _heading(line: str, offset: int, questions: Sequence[str], parent: str | None) -> Heading | None:
    for pattern, level in ((_MARKDOWN, None), (_LATEX, None)):
        match = pattern.match(line)
        if match:
            text = match.group(2)
            level = len(match.group(1)) if pattern is _MARKDOWN else _LATEX_LEVELS[match.group(1)]
            question, introduced = _question_in(text, questions)
            return Heading(level, text, offset, question, introduced)
    for pattern, level in ((_BOLD, _BOLD_LEVEL), (_LABELLED, _LABEL_LEVEL), (_BARE_ID, _LABEL_LEVEL)):
        match = pattern.match(line)
        if match:
            question, introduced = _question_in(match.group(1), questions)
            if question or (introduced and pattern is not _BARE_ID):
                return Heading(level, line.strip(), offset, question, introduced)
    return None


def find_sections(document: Document, questions: Sequence[str]) -> list[Section]:
    """The sections of ``document``, one per heading that names a question, in order."""
    found = headings(document, questions)
    sections = []
    for position, heading in enumerate(found):
        if heading.question is None:
            continue
        end = len(document.text)
        for later in found[position + 1 :]:
            if later.question is not None or later.level <= heading.level:
                end = later.offset
                break
        sections.append(Section(heading.question, document, heading, heading.offset, end))
    return sections
