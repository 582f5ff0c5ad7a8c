"""The exception family: each class keeps its class, message and fields across processes."""

from __future__ import annotations

import pickle

import pytest

from harness.errors import FormulaError, HarnessError, InternalError, SandboxUnavailable, SpecError, UsageError

ERRORS = [
    SpecError("unknown key 'pionts'", file="q2.yaml", line=7, key_path=("questions", 0, "pionts"), hint="points"),
    FormulaError("unknown function 'arctn'", source="arctn(x)", column=0),
    InternalError("the reference for d r / d x cannot be computed at x = 0.0"),
    UsageError("--jobs must be at least 1"),
    SandboxUnavailable("bubblewrap cannot start here"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_an_error_survives_pickling_with_its_class_message_and_fields(error):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and isinstance(again, HarnessError)
    assert str(again) == str(error) and again.__dict__ == error.__dict__


def test_a_spec_error_names_file_line_key_and_fix():
    assert str(ERRORS[0]) == "q2.yaml:7: at questions[0].pionts: unknown key 'pionts'\n  hint: points"
