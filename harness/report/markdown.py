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
    StepResult,
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
    header = BulletList(
        (
            ("Submission: ", Code(result.submission)),
            ("Total score: ", Strong(_fraction(result.score, result.max_score))),
            (f"Items passed: {_passed(result)} of {len(result.items)}",),
        )
    )
    parts = [f"# Grading report: {escape_text(result.assignment)}", render_markdown_blocks([header])]
    if result.notes:
        parts += ["## Notes", render_markdown_blocks([_notes(result)])]
    for question in result.questions:
        parts += _question_parts(question)
    if result.steps:
        parts += ["## Steps of the write-up", render_markdown_blocks(step_blocks(result.steps))]
    parts += ["## How to reproduce", reproduction_markdown(result.settings, result.spec_file)]
    return "\n\n".join(parts) + "\n"


def render_item_markdown(item: ItemResult) -> str:
    """Render the details of one item as markdown (a Gradescope test's ``output``), no heading."""
    return render_markdown_blocks(_item_blocks(item, output=True))


def render_item_text(item: ItemResult, *, output: bool = True) -> str:
    """Render the details of one item as plain text (JUnit failures, terminal reports)."""
    return render_text_blocks(_item_blocks(item, output=output))


def render_overview_markdown(result: SubmissionResult) -> str:
    """Render a short markdown overview of a submission: score, notes, reproduction command."""
    blocks: list[Block] = [
        Paragraph(
            (
                "Submission ",
                Code(result.submission),
                ": ",
                Strong(_fraction(result.score, result.max_score)),
                f" on {result.assignment} ({_passed(result)} of {len(result.items)} items passed).",
            )
        )
    ]
    if result.notes:
        blocks.append(_notes(result))
    if result.steps:
        blocks += step_blocks(result.steps)
    blocks += [
        Paragraph(
            (
                "Reproduce with (seed ",
                Code(str(result.settings.seed)),
                f", {result.settings.examples} examples per item",
                *((", inputs ", Code(result.settings.inputs)) if result.settings.locked else ()),
                "):",
            )
        ),
        Preformatted(result.settings.command, "sh"),
    ]
    return render_markdown_blocks(blocks)


def step_blocks(steps: Sequence[StepResult]) -> list[Block]:
    """The steps of a write-up: how many hold, then each false step and each unchecked one."""
    false = [step for step in steps if step.holds is False]
    unchecked = [step for step in steps if step.holds is None]
    blocks: list[Block] = [Paragraph((
        f"{len(steps)} steps checked: {len(steps) - len(false) - len(unchecked)} hold, {len(false)} false, "
        f"{len(unchecked)} could not be checked. Steps do not change the score.",
    ))]
    for step in false:
        label = f" ({step.label})" if step.label else ""
        blocks += [
            Paragraph((Strong(f"False step in {step.question_id}{label}"), f", {step.file} line {step.line}:")),
            Preformatted(step.latex, "latex"),
        ]
        if step.reason:
            blocks.append(Paragraph((step.reason,)))
        context = _context_items((), step.activation)
        blocks.append(Paragraph((f"It fails on {step.failed} of {step.examples} inputs; the first:",)))
        blocks.append(Preformatted(_assignments(step.inputs)))
        if context:
            blocks.append(BulletList(context))
        blocks += _value_blocks("Left side", step.left_value) + _value_blocks("Right side", step.right_value)
    if unchecked:
        blocks.append(Paragraph(("Not checked:",)))
        blocks.append(BulletList(tuple(
            (f"{step.question_id}, {step.file} line {step.line}: ", Code(step.latex), f": {step.reason}",)
            for step in unchecked
        )))
    return blocks


def _passed(result: SubmissionResult) -> int:
    return sum(item.status == "passed" for item in result.items)


def _notes(result: SubmissionResult) -> BulletList:
    return BulletList(tuple((note,) for note in result.notes))


# --- the blocks an item's details are made of -------------------------------------------------


@dataclass(frozen=True)
class Code:
    """Literal text: a name, a value, a command (a code span in markdown)."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Plain text shown in bold in markdown."""

    text: str


Inline = Union[str, Code, Strong]  # a str is plain text


@dataclass(frozen=True)
class Paragraph:
    segments: tuple[Inline, ...]


@dataclass(frozen=True)
class Preformatted:
    """Preformatted text (a fenced code block in markdown)."""

    text: str
    info: str = "text"


@dataclass(frozen=True)
class BulletList:
    items: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


Cell = Union[Inline, tuple]
"""A table cell: one inline segment, or a tuple of them."""


@dataclass(frozen=True)
class Table:
    header: tuple[Cell, ...]
    right_aligned: tuple[bool, ...]
    rows: tuple[tuple[Cell, ...], ...]


Block = Union[Paragraph, Preformatted, BulletList, Heading, Table]
"""The blocks reports are made of: ``render_markdown_blocks`` draws them all,
``render_text_blocks`` the paragraphs, preformatted text and lists of an item's text, and the
class summary's HTML page the same blocks (``harness.report.summary``)."""


def cell_segments(cell: Cell) -> tuple[Inline, ...]:
    """A cell's inline segments."""
    return cell if isinstance(cell, tuple) else (cell,)


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


def _item_blocks(item: ItemResult, *, output: bool) -> list[Block]:
    blocks: list[Block] = [Paragraph((item.summary,))] if item.summary else []
    if item.quoted:
        where = f" ({item.source}, line {item.line})" if item.source and item.line else ""
        blocks += [Paragraph((f"Your write-up{where}:",)), Preformatted(item.quoted, "latex")]
    if item.kind == "claim":
        blocks += _answer_blocks(item)
    if item.status != "passed":
        if item.diagnosis:
            blocks += [Paragraph((paragraph,)) for paragraph in _paragraphs(item.diagnosis)]
        if item.source:
            where: tuple[Inline, ...] = ("Where: ", Code(item.source))
            if item.line is not None:
                where += (f", line {item.line}",)
            blocks.append(Paragraph(where))
        if item.counterexample is not None:
            blocks += _counterexample_blocks(item.counterexample)
        if item.evidence is not None:
            blocks += _evidence_blocks(item.evidence)
    if output and item.output:
        blocks += [Paragraph(("Output printed by your code:",)), Preformatted(item.output)]
    return blocks


def _answer_blocks(item: ItemResult) -> list[Block]:
    if item.evidence is None:
        return [Paragraph(("Your answer: ", Code(_answer_text(item.answered)), "."))]
    return [
        Paragraph(("Claim: ", item.evidence.statement)),
        Paragraph(
            (
                "Your answer: ",
                Code(_answer_text(item.answered)),
                "; correct answer: ",
                Code(repr(item.evidence.truth)),
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


def _counterexample_blocks(example: Counterexample) -> list[Block]:
    blocks: list[Block] = []
    if example.inputs:
        blocks.append(Paragraph(("The smallest input on which it fails:",)))
    context = _context_items(example.dimensions, example.activation)
    if context:
        blocks.append(BulletList(context))
    if example.inputs:
        blocks.append(Preformatted(_assignments(example.inputs)))
    if example.arguments:
        blocks += [Paragraph(("Your function received:",)), Preformatted(_assignments(example.arguments))]
    if example.expected is not None:
        blocks += _value_blocks(_shaped("Expected", example.expected_shape), example.expected)
    if example.received is not None:
        label = _shaped("Your function returned", example.received_shape)
        blocks += _value_blocks(label, example.received)
    elif example.received_shape is not None:
        shape = Code(repr(example.received_shape))
        blocks.append(Paragraph(("Your function returned a result of shape ", shape, ".")))
    if example.error is not None:
        blocks += [Paragraph(("Error:",)), Preformatted(example.error)]
    if example.max_abs_error is not None:
        segments: tuple[Inline, ...] = (
            "Largest absolute difference: ",
            Code(format_number(example.max_abs_error)),
        )
        if example.tolerance is not None:
            segments += (" (allowed there: ", Code(format_number(example.tolerance)), ")")
        blocks.append(Paragraph(segments + (".",)))
    return blocks


def _evidence_blocks(evidence: ClaimEvidence) -> list[Block]:
    intro: tuple[Inline, ...] = (
        "Evidence: two inputs that differ only in ",
        Code(evidence.changed_variable),
    )
    if evidence.examples:
        intro += (f" (one of {evidence.examples} pairs compared)",)
    blocks: list[Block] = [Paragraph(intro + (":",))]
    context = _context_items((), evidence.activation)
    if context:
        blocks.append(BulletList(context))
    for ordinal, inputs, value in (
        ("First", evidence.first_inputs, evidence.first_value),
        ("Second", evidence.second_inputs, evidence.second_value),
    ):
        blocks += [Paragraph((f"{ordinal} input:",)), Preformatted(_assignments(inputs))]
        blocks += _value_blocks(f"Derivative at the {ordinal.lower()} input", value)
    return blocks


def _context_items(
    dimensions: tuple[tuple[str, int], ...], activation: str | None
) -> tuple[tuple[Inline, ...], ...]:
    items: list[tuple[Inline, ...]] = []
    if dimensions:
        segments: list[Inline] = ["Dimensions: "]
        for index, (name, size) in enumerate(dimensions):
            segments += [", "] if index else []
            segments.append(Code(f"{name} = {size}"))
        items.append(tuple(segments))
    if activation is not None:
        items.append(("Activation: ", Code(activation)))
    return tuple(items)


def _value_blocks(label: str, value: Value) -> list[Block]:
    """A labelled value: inline when it fits on one line, else a preformatted block."""
    lines = _value_lines(value)
    if len(lines) == 1:
        return [Paragraph((f"{label}: ", Code(lines[0]), "."))]
    return [Paragraph((f"{label}:",)), Preformatted("\n".join(lines))]


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


def render_markdown_blocks(blocks: Sequence[Block]) -> str:
    rendered = []
    for block in blocks:
        if isinstance(block, Paragraph):
            rendered.append(inline_markdown(block.segments))
        elif isinstance(block, Preformatted):
            rendered.append(fenced(block.text, block.info))
        elif isinstance(block, Heading):
            rendered.append("#" * block.level + " " + escape_text(block.text))
        elif isinstance(block, Table):
            lines = [
                [inline_markdown(cell_segments(cell), in_table=True) for cell in block.header],
                ["---:" if right else "---" for right in block.right_aligned],
                *([inline_markdown(cell_segments(cell), in_table=True) for cell in row] for row in block.rows),
            ]
            rendered.append("\n".join(f"| {' | '.join(cells)} |" for cells in lines))
        else:
            rendered.append("\n".join(f"- {inline_markdown(item)}" for item in block.items))
    return "\n\n".join(rendered)


def render_text_blocks(blocks: Sequence[Block]) -> str:
    rendered = []
    for block in blocks:
        if isinstance(block, Paragraph):
            rendered.append(_inline_text(block.segments))
        elif isinstance(block, Preformatted):
            text = visible(block.text, keep="\n\t").rstrip("\n")
            rendered.append("\n".join(f"    {line}".rstrip() for line in text.split("\n")))
        elif isinstance(block, BulletList):
            rendered.append("\n".join(f"- {_inline_text(item)}" for item in block.items))
        else:
            raise TypeError(f"the text renderer draws no {type(block).__name__}")
    return "\n\n".join(rendered)


def inline_markdown(segments: Sequence[Inline], *, in_table: bool = False) -> str:
    """Inline segments as markdown; ``in_table``: on one line, safe inside a table cell."""
    text = ""
    for segment in segments:
        if isinstance(segment, Code):
            text += inline_code(segment.text, in_table=in_table)
        elif isinstance(segment, Strong):
            text += f"**{escape_text(segment.text)}**"
        else:
            text += _escape_inline(segment, multiline=not in_table)
    return text if in_table else _escape_line_starts(text)


def _inline_text(segments: Sequence[Inline]) -> str:
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
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""Every character ``visible`` may replace: the controls (Cc), surrogates (Cs), two non-characters."""


def visible(text: str, *, keep: str = "") -> str:
    """Replace control characters (except those in ``keep``), lone surrogates and the XML
    non-characters by Python-style escapes, so the text is safe in any file format we write."""
    if not _INVISIBLE.search(text):
        return text  # nearly every text: nothing to replace

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
    items: list[tuple[Inline, ...]] = []
    if spec_file is not None:
        items.append(("Spec file: ", Code(spec_file)))
    items += [
        ("Seed: ", Code(str(settings.seed))),
        ("Examples per item: ", Code(str(settings.examples))),
        (
            "Tolerance: ",
            Code(f"rtol = {format_number(settings.rtol)}"),
            ", ",
            Code(f"atol = {format_number(settings.atol)}"),
        ),
        ("Reference precision: ", Code(str(settings.reference_digits)), " digits"),
        ("Inputs: ", Code(settings.inputs)),
        ("Isolation: ", Code(settings.isolation)),
        (
            "Versions: harness ",
            Code(settings.harness_version),
            ", Hypothesis ",
            Code(settings.hypothesis_version),
            ", numpy ",
            Code(settings.numpy_version),
            ", mpmath ",
            Code(settings.mpmath_version),
            ", Python ",
            Code(settings.python_version),
        ),
    ]
    blocks: list[Block] = [BulletList(tuple(items))]
    if command:
        blocks += [Paragraph(("Command:",)), Preformatted(settings.command, "sh")]
    return render_markdown_blocks(blocks)
