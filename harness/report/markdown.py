"""Render one submission's result as a markdown report a student can read without the harness.

The text fields of the results (summary, diagnosis, notes, titles, error messages, names) are
plain text: they are escaped here so that nothing in them, not even a hostile submission folder
name or a student's exception message, can turn into markup. The one exception is a question's
``prompt``, which is the spec author's own markdown (often with math) and is quoted as written.

An item's details are built once as a few neutral blocks (paragraphs, preformatted blocks, lists)
and rendered either as markdown (report.md, Gradescope) or as plain text (JUnit, terminals), so
every output shows the same diagnosis and counterexample. The helpers at the end of this module
(number and score formatting, escaping, the reproduction settings) serve the other renderers too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from harness.results import (
    ClaimEvidence,
    Counterexample,
    ItemResult,
    QuestionResult,
    RunSettings,
    SubmissionResult,
    Value,
)

VERDICTS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}
"""The word each status is shown as: plain ASCII, so the report reads well as plain text too."""


def render_submission_markdown(result: SubmissionResult) -> str:
    """Render ``<out>/<student>/report.md``: scores, verdicts, counterexamples, how to reproduce.

    Deterministic: the same result gives the same text byte for byte. Nothing time-dependent is
    shown (``execution_time`` goes to ``results.json`` only).
    """
    header = _List(
        (
            ("Submission: ", _Code(result.submission)),
            ("Total score: ", _Strong(_fraction(result.score, result.max_score))),
            (f"Items passed: {_passed(result)} of {len(result.items)}",),
        )
    )
    parts = [f"# Grading report: {escape_text(result.assignment)}", _render_markdown([header])]
    if result.notes:
        parts += ["## Notes", _render_markdown([_notes(result)])]
    for question in result.questions:
        parts += _question_parts(question)
    parts += ["## How to reproduce", reproduction_markdown(result.settings, result.spec_file)]
    return "\n\n".join(parts) + "\n"


def render_item_markdown(item: ItemResult) -> str:
    """Render the details of one item as markdown (a Gradescope test's ``output``), no heading."""
    return _render_markdown(_item_blocks(item, output=True))


def render_item_text(item: ItemResult, *, output: bool = True) -> str:
    """Render the details of one item as plain text (JUnit failures, terminal reports)."""
    return _render_text(_item_blocks(item, output=output))


def render_overview_markdown(result: SubmissionResult) -> str:
    """Render a short markdown overview of a submission: score, notes, reproduction command."""
    blocks: list[_Block] = [
        _Para(
            (
                "Submission ",
                _Code(result.submission),
                ": ",
                _Strong(_fraction(result.score, result.max_score)),
                f" on {result.assignment} ({_passed(result)} of {len(result.items)} items passed).",
            )
        )
    ]
    if result.notes:
        blocks.append(_notes(result))
    blocks += [
        _Para(
            (
                "Reproduce with (seed ",
                _Code(str(result.settings.seed)),
                f", {result.settings.examples} examples per item):",
            )
        ),
        _Pre(result.settings.command, "sh"),
    ]
    return _render_markdown(blocks)


def _passed(result: SubmissionResult) -> int:
    return sum(item.status == "passed" for item in result.items)


def _notes(result: SubmissionResult) -> _List:
    return _List(tuple((note,) for note in result.notes))


# --- the blocks an item's details are made of -------------------------------------------------


@dataclass(frozen=True)
class _Code:
    """Literal text: a name, a value, a command (a code span in markdown)."""

    text: str


@dataclass(frozen=True)
class _Strong:
    """Plain text shown in bold in markdown."""

    text: str


_Inline = Union[str, _Code, _Strong]  # a str is plain text


@dataclass(frozen=True)
class _Para:
    segments: tuple[_Inline, ...]


@dataclass(frozen=True)
class _Pre:
    """Preformatted text (a fenced code block in markdown)."""

    text: str
    info: str = "text"


@dataclass(frozen=True)
class _List:
    items: tuple[tuple[_Inline, ...], ...]


_Block = Union[_Para, _Pre, _List]


def _question_parts(question: QuestionResult) -> list[str]:
    heading = f"## Question {escape_text(question.id)}"
    if question.title:
        heading += f": {escape_text(question.title)}"
    parts = [f"{heading} ({_fraction(question.score, question.max_score)})"]
    if question.prompt.strip():
        parts.append(_blockquote(question.prompt))
    for item in question.items:
        heading = (
            f"### {VERDICTS[item.status]}: {escape_text(item.question_id)} "
            f"{inline_code(item.name)} ({_fraction(item.score, item.max_score)})"
        )
        parts += [heading, render_item_markdown(item)]
    return parts


def _item_blocks(item: ItemResult, *, output: bool) -> list[_Block]:
    blocks: list[_Block] = [_Para((item.summary,))] if item.summary else []
    if item.kind == "claim":
        blocks += _answer_blocks(item)
    if item.status != "passed":
        if item.diagnosis:
            blocks += [_Para((paragraph,)) for paragraph in _paragraphs(item.diagnosis)]
        if item.source:
            where: tuple[_Inline, ...] = ("Where: ", _Code(item.source))
            if item.line is not None:
                where += (f", line {item.line}",)
            blocks.append(_Para(where))
        if item.counterexample is not None:
            blocks += _counterexample_blocks(item.counterexample)
        if item.evidence is not None:
            blocks += _evidence_blocks(item.evidence)
    if output and item.output:
        blocks += [_Para(("Output printed by your code:",)), _Pre(item.output)]
    return blocks


def _answer_blocks(item: ItemResult) -> list[_Block]:
    if item.evidence is None:
        return [_Para(("Your answer: ", _Code(_answer_text(item.answered)), "."))]
    return [
        _Para(("Claim: ", item.evidence.statement)),
        _Para(
            (
                "Your answer: ",
                _Code(_answer_text(item.answered)),
                "; correct answer: ",
                _Code(repr(item.evidence.truth)),
                ".",
            )
        ),
    ]


def _answer_text(answered: Value | bool | None) -> str:
    if answered is None:
        return "(no answer)"
    if isinstance(answered, (bool, int, float, tuple)):
        return format_value(answered)
    return repr(answered)


def _counterexample_blocks(example: Counterexample) -> list[_Block]:
    blocks: list[_Block] = []
    if example.inputs:
        blocks.append(_Para(("The smallest input on which it fails:",)))
    context = _context_items(example.dimensions, example.activation)
    if context:
        blocks.append(_List(context))
    if example.inputs:
        blocks.append(_Pre(_assignments(example.inputs)))
    if example.arguments:
        blocks += [_Para(("Your function received:",)), _Pre(_assignments(example.arguments))]
    if example.expected is not None:
        blocks += _value_blocks(_shaped("Expected", example.expected_shape), example.expected)
    if example.received is not None:
        label = _shaped("Your function returned", example.received_shape)
        blocks += _value_blocks(label, example.received)
    elif example.received_shape is not None:
        shape = _Code(repr(example.received_shape))
        blocks.append(_Para(("Your function returned a result of shape ", shape, ".")))
    if example.error is not None:
        blocks += [_Para(("Error:",)), _Pre(example.error)]
    if example.max_abs_error is not None:
        segments: tuple[_Inline, ...] = (
            "Largest absolute difference: ",
            _Code(format_number(example.max_abs_error)),
        )
        if example.tolerance is not None:
            segments += (" (allowed there: ", _Code(format_number(example.tolerance)), ")")
        blocks.append(_Para(segments + (".",)))
    return blocks


def _evidence_blocks(evidence: ClaimEvidence) -> list[_Block]:
    intro: tuple[_Inline, ...] = (
        "Evidence: two inputs that differ only in ",
        _Code(evidence.changed_variable),
    )
    if evidence.examples:
        intro += (f" (one of {evidence.examples} pairs compared)",)
    blocks: list[_Block] = [_Para(intro + (":",))]
    context = _context_items((), evidence.activation)
    if context:
        blocks.append(_List(context))
    for ordinal, inputs, value in (
        ("First", evidence.first_inputs, evidence.first_value),
        ("Second", evidence.second_inputs, evidence.second_value),
    ):
        blocks += [_Para((f"{ordinal} input:",)), _Pre(_assignments(inputs))]
        blocks += _value_blocks(f"Derivative at the {ordinal.lower()} input", value)
    return blocks


def _context_items(
    dimensions: tuple[tuple[str, int], ...], activation: str | None
) -> tuple[tuple[_Inline, ...], ...]:
    items: list[tuple[_Inline, ...]] = []
    if dimensions:
        segments: list[_Inline] = ["Dimensions: "]
        for index, (name, size) in enumerate(dimensions):
            segments += [", "] if index else []
            segments.append(_Code(f"{name} = {size}"))
        items.append(tuple(segments))
    if activation is not None:
        items.append(("Activation: ", _Code(activation)))
    return tuple(items)


def _value_blocks(label: str, value: Value) -> list[_Block]:
    """A labelled value: inline when it fits on one line, else a preformatted block."""
    lines = _value_lines(value)
    if len(lines) == 1:
        return [_Para((f"{label}: ", _Code(lines[0]), "."))]
    return [_Para((f"{label}:",)), _Pre("\n".join(lines))]


def _shaped(label: str, shape: tuple[int, ...] | None) -> str:
    return label if shape is None else f"{label} (shape {shape!r})"


def _assignments(pairs: tuple[tuple[str, Value], ...]) -> str:
    """``name = value`` lines, continuation lines of a matrix aligned under its first row."""
    lines = []
    for name, value in pairs:
        prefix = f"{name} = "
        value_lines = _value_lines(value)
        lines.append(prefix + value_lines[0])
        lines += [" " * len(prefix) + line for line in value_lines[1:]]
    return "\n".join(lines)


def _paragraphs(text: str) -> list[str]:
    return [paragraph.strip() for paragraph in re.split(r"\n\s*\n", text) if paragraph.strip()]


def _blockquote(markdown: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in markdown.strip().splitlines())


# --- rendering the blocks ---------------------------------------------------------------------


def _render_markdown(blocks: Sequence[_Block]) -> str:
    rendered = []
    for block in blocks:
        if isinstance(block, _Para):
            rendered.append(_inline_markdown(block.segments))
        elif isinstance(block, _Pre):
            rendered.append(fenced(block.text, block.info))
        else:
            rendered.append("\n".join(f"- {_inline_markdown(item)}" for item in block.items))
    return "\n\n".join(rendered)


def _render_text(blocks: Sequence[_Block]) -> str:
    rendered = []
    for block in blocks:
        if isinstance(block, _Para):
            rendered.append(_inline_text(block.segments))
        elif isinstance(block, _Pre):
            text = visible(block.text, keep="\n\t").rstrip("\n")
            rendered.append("\n".join(f"    {line}".rstrip() for line in text.split("\n")))
        else:
            rendered.append("\n".join(f"- {_inline_text(item)}" for item in block.items))
    return "\n\n".join(rendered)


def _inline_markdown(segments: Sequence[_Inline]) -> str:
    text = ""
    for segment in segments:
        if isinstance(segment, _Code):
            text += inline_code(segment.text)
        elif isinstance(segment, _Strong):
            text += f"**{escape_text(segment.text)}**"
        else:
            text += _escape_inline(segment, multiline=True)
    return _escape_line_starts(text)


def _inline_text(segments: Sequence[_Inline]) -> str:
    text = "".join(
        visible(segment, keep="\n\t") if isinstance(segment, str) else visible(segment.text)
        for segment in segments
    )
    return "\n".join(line.strip() for line in text.split("\n"))


# --- shared by the other renderers ------------------------------------------------------------


def format_number(x: float) -> str:
    """Shortest text that reads back as the same float: ``0.1``, ``1`` (not ``1.0``), ``1e-08``."""
    if isinstance(x, bool):
        return repr(x)
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def format_value(value: Value | bool) -> str:
    """A value on one line: a number, or an array as nested lists."""
    return " ".join(line.strip() for line in _value_lines(value, pad=False))


def format_score(x: float) -> str:
    """A score without float noise: ``1``, ``0.5``, ``0.3`` (not ``0.30000000000000004``)."""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _fraction(score: float, max_score: float) -> str:
    return f"{format_score(score)} / {format_score(max_score)}"


def _depth(value: object) -> int:
    if isinstance(value, (tuple, list)):
        return 1 + (_depth(value[0]) if value else 0)
    return 0


def _flat(value: object) -> list[str]:
    if isinstance(value, (tuple, list)):
        return [text for entry in value for text in _flat(entry)]
    return [format_number(value)]  # type: ignore[arg-type]


def _value_lines(value: object, *, pad: bool = True) -> list[str]:
    """An array as nested lists, one matrix row per line, entries padded to a common width."""
    depth = _depth(value)
    if depth == 0:
        return [format_number(value)]  # type: ignore[arg-type]
    width = max((len(text) for text in _flat(value)), default=0) if pad and depth > 1 else 0
    return _nested_lines(value, width)


def _nested_lines(value: object, width: int) -> list[str]:
    assert isinstance(value, (tuple, list))
    if _depth(value) == 1:
        return ["[" + ", ".join(format_number(entry).rjust(width) for entry in value) + "]"]
    lines: list[str] = []
    for index, entry in enumerate(value):
        block = _nested_lines(entry, width)
        if index < len(value) - 1:
            block[-1] += ","
        lines += block
    lines = ["[" + lines[0]] + [" " + line for line in lines[1:]]
    lines[-1] += "]"
    return lines


_NAMED_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def visible(text: str, *, keep: str = "") -> str:
    """Replace control characters (except those in ``keep``), lone surrogates and the XML
    non-characters by Python-style escapes, so the text is safe in any file format we write."""

    def escape(char: str) -> str:
        if char in keep:
            return char
        if char in _NAMED_ESCAPES:
            return _NAMED_ESCAPES[char]
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\ufffe\uffff":
            return char.encode("unicode_escape", "backslashreplace").decode("ascii")
        return char

    return "".join(escape(char) for char in text)


# Characters that can start markup anywhere; `_` only at a word edge, `\` only before
# punctuation or a line end (elsewhere both are literal and escaping them would only add noise).
_INLINE_SPECIAL = re.compile(
    r"[`*#\[\]<>|~]|&(?=#?\w+;)|(?<![^\W_])_|_(?![^\W_])|\\(?=[!-/:-@\[-`{-~]|$)",
    re.MULTILINE,
)
# Block markup recognised at the start of a line: quotes, lists, thematic breaks, setext underlines.
_LINE_START_SPECIAL = re.compile(r"^(?:[>+=-]|\d+(?=[.)]))")


def escape_text(text: str) -> str:
    """Escape one line of plain text for markdown: it shows literally, never as markup."""
    return _escape_inline(text, multiline=False)


def _escape_inline(text: str, *, multiline: bool) -> str:
    text = visible(text, keep="\n" if multiline else "")
    return _INLINE_SPECIAL.sub(lambda match: "\\" + match.group(), text)


def _escape_line_starts(markdown: str) -> str:
    """Strip the indentation that would make a code block and escape block markers."""
    lines = []
    for line in markdown.split("\n"):
        line = line.strip()
        match = _LINE_START_SPECIAL.match(line)
        if match and match.group()[0].isdigit():
            line = line[: match.end()] + "\\" + line[match.end() :]
        elif match:
            line = "\\" + line
        lines.append(line)
    return "\n".join(lines)


def inline_code(text: str, *, in_table: bool = False) -> str:
    """A code span showing ``text`` literally, whatever backticks or pipes it holds."""
    text = visible(text)
    if in_table:
        # GFM splits table cells on `|` even inside code spans; `\|` shows a literal pipe.
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end when both have one, and a backtick at an end
    # would merge with the fence: padding keeps the content exact.
    if not text.strip(" ") or "`" in (text[0], text[-1]) or text[0] == text[-1] == " ":
        text = f" {text} "
    return f"{fence}{text}{fence}"


def fenced(text: str, info: str = "text") -> str:
    """A fenced code block that ``text`` cannot close early: the fence outruns its backticks."""
    text = visible(text, keep="\n\t").rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def reproduction_markdown(
    settings: RunSettings, spec_file: str | None, *, command: bool = True
) -> str:
    """The settings that reproduce a run, as markdown (report.md, summary.md)."""
    items: list[tuple[_Inline, ...]] = []
    if spec_file is not None:
        items.append(("Spec file: ", _Code(spec_file)))
    items += [
        ("Seed: ", _Code(str(settings.seed))),
        ("Examples per item: ", _Code(str(settings.examples))),
        (
            "Tolerance: ",
            _Code(f"rtol = {format_number(settings.rtol)}"),
            ", ",
            _Code(f"atol = {format_number(settings.atol)}"),
        ),
        ("Reference precision: ", _Code(str(settings.reference_digits)), " digits"),
        ("Isolation: ", _Code(settings.isolation)),
        (
            "Versions: harness ",
            _Code(settings.harness_version),
            ", Hypothesis ",
            _Code(settings.hypothesis_version),
            ", numpy ",
            _Code(settings.numpy_version),
            ", mpmath ",
            _Code(settings.mpmath_version),
            ", Python ",
            _Code(settings.python_version),
        ),
    ]
    blocks: list[_Block] = [_List(tuple(items))]
    if command:
        blocks += [_Para(("Command:",)), _Pre(settings.command, "sh")]
    return _render_markdown(blocks)
