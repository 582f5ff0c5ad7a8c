"""Sections by heading in every common style, equations as chains, and yes/no from prose."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.writeup.chains import chains
from harness.writeup.prose import Sentence, classify, read_claim
from harness.writeup.sections import Math, find_sections, read_document

QUESTIONS = ["2.1", "2.2", "2.3", "2.4"]


@pytest.mark.parametrize("name, text", [
    ("a.md", "## 2.1\n$$x = 1$$\n## 2.2\n$$x = 2$$\n"),
    ("a.md", "### 2.1:\n$$x = 1$$\n### 2.2:\n$$x = 2$$\n"),
    ("a.md", "# Question 2\n**2.1**\n$$x = 1$$\n**2.2** Softplus\n$$x = 2$$\n"),
    ("a.md", "Q2.1\n$$x = 1$$\nQ2.2\n$$x = 2$$\n"),
    ("a.md", "Question 2.1. Output layer\n$$x = 1$$\n\nProblem 2.2\n$$x = 2$$\n"),
    ("a.md", "## Question 2\n1. First\n   $$x = 1$$\n2. Second\n   $$x = 2$$\n"),
    ("a.tex", "\\section*{2.1}\n\\[x = 1\\]\n\\section*{2.2}\n\\[x = 2\\]\n"),
    ("a.tex", "\\section{Question 2}\n\\subsection{Part 2.1}\n\\[x = 1\\]\n\\subsection*{Part 2.2}\n\\[x = 2\\]\n"),
    ("a.tex", "\\section*{Question 2}\n\\begin{enumerate}\n\\item $x = 1$\n\\item $x = 2$\n\\end{enumerate}\n"),
    ("a.tex", "\\begin{enumerate}\n\\item[2.1] $x = 1$\n\\item[2.2] $x = 2$\n\\end{enumerate}\n"),
])
def test_sections_are_found_by_their_headings_in_every_style(name, text):
    document = read_document(name, text)
    sections = find_sections(document, QUESTIONS)
    assert [section.question for section in sections] == ["2.1", "2.2"]
    assert [[m.text for m in section.math] for section in sections] == [["x = 1"], ["x = 2"]]


def test_a_heading_without_a_question_ends_a_section_at_its_level_but_not_below():
    text = "## 2.1\n$$x = 1$$\n### Working\n$$x = 2$$\n## Appendix\n$$x = 3$$\n"
    (section,) = find_sections(read_document("a.md", text), QUESTIONS)
    assert [m.text for m in section.math] == ["x = 1", "x = 2"]


def test_a_prose_line_that_starts_with_a_question_number_is_not_a_heading():
    text = "2.1: Output layer\n$$x = 1$$\n2.2 shows why, and 2.3 too.\n$$x = 2$$\n2.2.\n$$x = 3$$\n"
    sections = find_sections(read_document("a.md", text), QUESTIONS)
    assert [(section.question, [m.text for m in section.math]) for section in sections] == [
        ("2.1", ["x = 1", "x = 2"]), ("2.2", ["x = 3"])]


def test_headings_inside_math_and_code_are_not_headings():
    text = "## 2.1\n```\n## 2.2\n```\n$$\n2.3. x = 1\n$$\n"
    document = read_document("a.md", text)
    assert [section.question for section in find_sections(document, QUESTIONS)] == ["2.1"]


def test_tex_comments_are_left_out_and_an_unclosed_dollar_is_a_problem_with_its_place():
    document = read_document("a.tex", "% \\section*{2.1} $x = 1$\n\\section*{2.2}\n$$x = 2\n")
    assert [section.question for section in find_sections(document, QUESTIONS)] == ["2.2"]
    assert document.math == ()
    assert [(document.line(offset), message) for offset, message in document.problems] == [(3, "$$ is never closed by $$")]


def sides(text: str) -> list[list[str]]:
    return [[side.latex for side in chain.sides] for chain in chains(Math(text, 0, True))]


def test_continuation_rows_join_the_chain_above_and_labels_and_remarks_are_removed():
    text = (r"\begin{aligned} L &= A \quad \text{using (2.1.1)} \\ &= B \quad (2.1.3) \\ M &= C, \end{aligned}"
            r"\tag{2.4.1}")
    assert sides(text) == [["L", "A", "B"], ["M", "C"]]
    assert [chain.label for chain in chains(Math(text, 0, True))] == ["2.1.3", "2.4.1"]


def test_commas_between_equations_split_them_but_not_commas_in_commands_or_brackets():
    assert sides(r"\hat{y} = \sigma(z_2), z_2 = w_2 a_1 + b_2") == [[r"\hat{y}", r"\sigma(z_2)"], ["z_2", "w_2 a_1 + b_2"]]
    assert sides(r"a = b\,c = d") == [["a", r"b\,c", "d"]]
    assert sides(r"f(a, b) = 1") == [["f(a, b)", "1"]]


def test_implications_split_statements_and_inequalities_are_not_equations():
    assert sides(r"a = b \Rightarrow c = d") == [["a", "b"], ["c", "d"]]
    assert sides(r"a \approx b = c") == []


def test_each_side_knows_its_offset_in_the_file():
    math = Math(r"  \hat y = s(z_2)", 100, True)
    assert [(side.latex, side.offset) for side in chains(math)[0].sides] == [(r"\hat y", 102), ("s(z_2)", 111)]


@pytest.mark.parametrize("sentence, kind", [
    (r"No, $\frac{\partial \hat{y}}{\partial \mathbf{x}}$ does not change.", "no"),
    ("Yes — because z2 contains b2", "yes"),
    ("It changes.", "yes"),
    ("Not necessarily.", "hedge"),
    ("It depends on the activation.", "hedge"),
    (r"Hence, $x$ does not change.", "no"),
    ("The derivative is unchanged.", "no"),
    ("Assume the activation function is the softplus function:", None),
])
def test_each_sentence_is_a_yes_a_no_a_hedge_or_neither(sentence, kind):
    assert classify(sentence) == kind


def test_the_first_answer_counts_a_hedge_first_is_unanswered_and_a_contradiction_is_unanswered():
    def read(*texts):
        return read_claim([Sentence(text, i) for i, text in enumerate(texts)])

    assert read("Differentiate.", "No, it does not change.", "Hence it does not change.").value is False
    assert read("Not necessarily.", "It changes.").value is None
    contradiction = read("Yes, it changes.", "No, it does not change.")
    assert contradiction.value is None and contradiction.reason == "the section says both yes and no"
    assert read("Differentiate.").reason == "no sentence of the section says yes or no"


_PIECES = ["## 2.1\n", "**2.2**\n", "Q2.3\n", "\\section*{2.4}\n", "1. ", "$$", "$", "\\[", "\\]", "\\begin{align*}",
           "\\end{align*}", "&=", "=", "\\\\", "\\frac{\\partial \\hat y}{\\partial w_2}", "a_1", "(", ")", "{", "}",
           "\\text{using (2.1.1)}", "\\tag{2.4.1}", " No, it does not change. ", "\n", "\n\n", "```", "%", "x", ","]


@given(st.lists(st.sampled_from(_PIECES), max_size=40), st.sampled_from(["a.md", "a.tex"]))
@settings(max_examples=300, deadline=None)
def test_any_document_is_read_into_sections_and_sides_without_a_crash(pieces, name):
    from harness.writeup.notation import notation_for
    from harness.writeup.reading import _read_side

    document = read_document(name, "".join(pieces))
    notation = notation_for(("x", "w1", "b1", "w2", "b2", "z1", "a1", "z2", "yhat"))
    for section in find_sections(document, QUESTIONS):
        for math in section.math:
            for chain in chains(math):
                for side in chain.sides:
                    written = _read_side(document, side, notation)
                    assert (written.expression is None) != (written.error is None)
