"""Equations in written math: rows, ``=`` chains, their labels, and each side's place in the file.

A piece of math is split into rows at ``\\\\``; a row into statements at ``\\Rightarrow``,
``\\implies``, ``;`` and at commas between equations (``\\hat{y} = \\sigma(z_2), z_2 = w_2 a_1 +
b_2``); a statement into sides at every ``=`` outside braces. A row that starts with ``=`` (or
``&=``) continues the chain above it, so an ``aligned`` block of ``L &= A \\\\ &= B`` is the
chain ``L = A = B``. ``\\text{...}`` remarks, ``\\tag{...}``, ``\\label``, ``\\nonumber`` and
equation labels such as ``(2.1.1)`` are removed first (replaced by spaces, so every column
still points into the file), and a label is kept with its chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.writeup.sections import Math

MAX_SIDES = 400
"""Most sides of equations read from one section; more are left unread, and the report says so."""

MAX_SECTION_CHARACTERS = 50_000
"""Most characters of equations read from one section (the seed's longest has about 3,000)."""

_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{(?:aligned|alignedat|align|gathered|split|array|cases|equation|"
                          r"gather|multline|eqnarray|flalign)\*?\}(?:\{[^}]*\})?")
_REMARK = re.compile(r"\\(?:text|textrm|textit|textbf|mbox|intertext|mathrm|operatorname)\s*\{")
_TAG = re.compile(r"\\tag\*?\s*\{([^{}]*)\}")
_LABEL = re.compile(r"\\label\s*\{[^{}]*\}|\\nonumber(?![A-Za-z])|\\notag(?![A-Za-z])")
_NUMBERED = re.compile(r"\(\s*(\d+(?:\.\d+)+[a-z]?)\s*\)")
_FUNCTION_WORDS = ("softplus", "sigmoid", "tanh", "exp", "log", "ln", "d")
_STATEMENT_BREAK = re.compile(r"\\(?:Rightarrow|implies|iff|therefore|Longrightarrow|quad\s*\\Rightarrow)(?![A-Za-z])|;")
_NOT_EQUATION = re.compile(r"\\(?:approx|neq|ne|leq|geq|le|ge|lt|gt|sim|propto|to|mapsto|in)(?![A-Za-z])|[<>]")


@dataclass(frozen=True)
class Side:
    """One side of an equation as written, and where it starts in its file."""

    latex: str
    offset: int


@dataclass(frozen=True)
class Chain:
    """``sides[0] = sides[1] = ...``: one equation, or a chain of steps, with its label."""

    sides: tuple[Side, ...]
    label: str | None


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _closing_brace(text: str, opening: int) -> int:
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "\\":
            continue
        if text[index] == "{" and (index == 0 or text[index - 1] != "\\"):
            depth += 1
        elif text[index] == "}" and (index == 0 or text[index - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return index
    return -1


def clean(text: str) -> tuple[str, list[tuple[int, str]], str | None]:
    """``text`` with remarks, tags and labels blanked out; the row labels (offset, label) and the tag."""
    labels: list[tuple[int, str]] = []
    tag = None
    for match in _TAG.finditer(text):
        tag = match.group(1).strip()
        text = _blank(text, match.start(), match.end())
    text = text.replace("&", " ")
    text = _LABEL.sub(lambda match: " " * len(match.group()), text)
    text = _ENVIRONMENT.sub(lambda match: " " * len(match.group()), text)
    position = 0
    while True:
        match = _REMARK.search(text, position)
        if match is None:
            break
        close = _closing_brace(text, match.end() - 1)
        if close < 0:
            break
        word = text[match.end() : close].strip()
        following = text[close + 1 :].lstrip()
        if word in _FUNCTION_WORDS and (following.startswith("(") or word == "d"):
            position = close + 1  # \text{softplus}(z) or \mathrm{d}: math, not a remark
            continue
        if match.group().startswith(("\\mathrm", "\\operatorname")):
            position = close + 1
            continue
        text = _blank(text, match.start(), close + 1)
        position = close + 1
    for match in _NUMBERED.finditer(text):
        labels.append((match.start(), match.group(1)))
        text = _blank(text, match.start(), match.end())
    return text, labels, tag


def _split_top(text: str, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of the parts of ``text`` between matches of ``separator`` outside brackets."""
    parts, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if depth <= 0:
            match = separator.match(text, index)
            if match and match.end() > index:
                parts.append((start, index))
                start = index = match.end()
                continue
        if char == "\\":  # a command or an escaped character (\, \{): never a separator itself
            index += 2
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        index += 1
    parts.append((start, len(text)))
    return parts


_ROW = re.compile(r"\\\\(?:\[[^\]]*\])?|\\cr(?![A-Za-z])")
_EQUALS = re.compile(r":=|=")
_COMMA = re.compile(r",")
_TRAILING = re.compile(r"(?:\\q?quad|\\[,;:! ]|[.,\s])+$")


def chains(math: Math) -> list[Chain]:
    """Every equation of a piece of math, continuation rows joined to the chain above them."""
    text, labels, tag = clean(math.text)
    found: list[list[Side]] = []
    chain_labels: list[str | None] = []
    for row_start, row_end in _split_top(text, _ROW):
        row_labels = [label for offset, label in labels if row_start <= offset < row_end]
        for start, end in _split_top(text[row_start:row_end], _STATEMENT_BREAK):
            statement = text[row_start + start : row_start + end]
            base = row_start + start
            pieces = _split_top(statement, _COMMA)
            if len(pieces) > 1 and sum("=" in statement[a:b] for a, b in pieces) == len(pieces):
                statements = [(base + a, statement[a:b]) for a, b in pieces]
            else:
                statements = [(base, statement)]
            for offset, body in statements:
                if "=" not in body or _NOT_EQUATION.search(body):
                    continue
                sides = []
                for a, b in _split_top(body, _EQUALS):
                    latex = body[a:b]
                    stripped = _TRAILING.sub("", latex.strip())
                    lead = len(latex) - len(latex.lstrip())
                    sides.append(Side(stripped, math.start + offset + a + lead))
                if not sides[0].latex and found:  # "&= B": continues the chain above
                    found[-1].extend(side for side in sides[1:])
                    if row_labels:
                        chain_labels[-1] = row_labels[-1]
                    continue
                if not sides[0].latex:
                    sides = sides[1:]
                    if len(sides) < 2:
                        continue
                found.append(sides)
                chain_labels.append(row_labels[-1] if row_labels else None)
    return [Chain(tuple(sides), label or tag) for sides, label in zip(found, chain_labels)]
