"""Load and validate a YAML assignment spec into frozen dataclasses.

A spec is checked once, at load time, in two passes. The first checks structure and types
against the key tables of ``harness.spec_keys`` (the same tables generate ``spec.schema.json``,
so the published schema cannot drift from the loader). The second, ``harness.spec_meaning``,
checks meaning: names, definition order, symbolic shapes, activations, answer-key layouts. Every
problem raises ``SpecError`` naming the file, the line, the key path, what was found, what was
expected and, where one exists, a fix. The loaded classes live in ``harness.assignment``; import
them from here.

The format is documented in ``docs/spec-format.md``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness import _yaml
from harness.assignment import Assignment, ClaimItem, DerivativeItem, GivenDerivative, Item, Question, Settings
from harness.errors import SpecError
from harness.spec_keys import TOP, At, schema, schema_text
from harness.spec_meaning import check_meaning

__all__ = [
    "Assignment",
    "ClaimItem",
    "DerivativeItem",
    "GivenDerivative",
    "Item",
    "Question",
    "Settings",
    "load_spec",
    "load_spec_text",
    "schema",
    "schema_text",
]


def load_spec(path: str | Path) -> Assignment:
    """Load and validate the spec file at ``path``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SpecError(f"cannot read the spec: {error.strerror}", file=str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            f"the file is not UTF-8 (byte {error.start})", file=str(path), hint="save it as UTF-8"
        ) from None
    return _load(text, str(path), hashlib.sha256(data).hexdigest())


def load_spec_text(text: str, filename: str) -> Assignment:
    """Load and validate a spec given as text; ``filename`` is used in messages and as ``path``."""
    return _load(text, filename, hashlib.sha256(text.encode("utf-8")).hexdigest())


def _load(text: str, filename: str, digest: str) -> Assignment:
    document = _yaml.load(text, filename)
    at = At(document, filename)
    if document.data is None:
        raise at.error("the file is empty", "a spec needs at least title, variables, model and questions")
    return check_meaning(TOP.check(document.data, at), at, filename, digest)
