"""The YAML reader behind specs and answers.yaml refuses what could hang or crash the grader."""

from __future__ import annotations

import pytest

from harness._yaml import load
from harness.errors import SpecError


def test_aliases_of_lists_are_refused_with_the_line_so_billion_laughs_cannot_expand():
    text = 'a: &a [1, 2]\nb: [*a, *a]\n'
    with pytest.raises(SpecError) as error:
        load(text, "bomb.yaml")
    assert str(error.value) == (
        "bomb.yaml:2: at b[0]: YAML aliases (*name) of mappings or lists are not supported\n"
        "  hint: write the repeated part out in full"
    )


def test_deep_nesting_is_a_clean_error_not_a_recursion_crash():
    with pytest.raises(SpecError) as error:
        load("x: " + "[" * 2000 + "]" * 2000 + "\n", "deep.yaml")
    assert str(error.value) == (
        "deep.yaml: the YAML is nested too deeply to read\n"
        "  hint: a spec or answers file needs only a few levels of nesting; at most 50 are read"
    )


def test_line_numbers_are_kept_for_every_key():
    document = load("a:\n  b: 1\n  c: [2, 3]\n", "ok.yaml")
    assert document.data == {"a": {"b": 1, "c": [2, 3]}}
    assert (document.line(("a", "b")), document.line(("a", "c", 1))) == (2, 3)
