"""Pass 1 of loading a spec: the format's key tables and the value kinds that check them.

Each kind checks a YAML value's structure and type, raising ``SpecError`` at its line and key
path, and describes itself as JSON Schema; ``schema()`` builds the published
``spec.schema.json`` from the same tables, so the schema cannot drift from the loader. The
meaning of the checked values (names, order, shapes) is pass 2, in ``harness.spec_meaning``.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from dataclasses import dataclass, fields
from typing import Any

from harness import _yaml
from harness.assignment import Settings
from harness.errors import SpecError
from harness.formula import ELEMENTWISE_FUNCTIONS
from harness.messages import describe, did_you_mean, listing

__all__ = ["At", "TOP", "TOP_KEYS", "schema", "schema_text"]

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
DEFAULT_DOMAIN = (-5.0, 5.0)


# ---------------------------------------------------------------------------------------------
# Where a value is in the file


@dataclass(frozen=True)
class At:
    """A key path in a loaded document, able to raise an error pointing at its line."""

    document: _yaml.Document
    file: str
    path: tuple = ()

    def __truediv__(self, key: str | int) -> At:
        return At(self.document, self.file, self.path + (key,))

    @property
    def line(self) -> int | None:
        return self.document.line(self.path)

    def error(self, problem: str, hint: str | None = None) -> SpecError:
        return SpecError(problem, file=self.file, line=self.line, key_path=self.path, hint=hint)


_YAML_KINDS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "a mapping"}
"""How a found value's type is named in messages: in YAML's words."""


# ---------------------------------------------------------------------------------------------
# Value kinds: each checks a YAML value (pass 1) and describes itself as JSON Schema


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


class _Kind:
    expected: str = "a value"

    def schema(self) -> dict:
        raise NotImplementedError

    def check(self, value: Any, at: At) -> Any:
        raise NotImplementedError

    def mismatch(self, value: Any, at: At, hint: str | None = None) -> SpecError:
        return at.error(f"expected {self.expected}; found {describe(value, _YAML_KINDS)}", hint)


@dataclass(frozen=True)
class _Integer(_Kind):
    minimum: int | None = None
    maximum: int | None = None

    @property
    def expected(self) -> str:
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum}")
        return "an integer" + (" " + " and ".join(bounds) if bounds else "")

    def schema(self) -> dict:
        result: dict = {"type": "integer"}
        if self.minimum is not None:
            result["minimum"] = self.minimum
        if self.maximum is not None:
            result["maximum"] = self.maximum
        return result

    def check(self, value: Any, at: At) -> int:
        if isinstance(value, float) and value.is_integer():
            raise self.mismatch(value, at, f"write it without a decimal point: {int(value)}")
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.mismatch(value, at)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise self.mismatch(value, at)
        return value


@dataclass(frozen=True)
class _Number(_Kind):
    minimum: float | None = None
    exclusive: bool = False
    """When true the minimum itself is not allowed."""

    @property
    def expected(self) -> str:
        if self.minimum is None:
            return "a finite number"
        return f"a number {'>' if self.exclusive else '>='} {self.minimum:g}"

    def schema(self) -> dict:
        result: dict = {"type": "number"}
        if self.minimum is not None:
            result["exclusiveMinimum" if self.exclusive else "minimum"] = self.minimum
        return result

    def check(self, value: Any, at: At) -> float:
        if isinstance(value, str) and _is_number(value):
            raise self.mismatch(value, at, f"remove the quotes: {value.strip()}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise self.mismatch(value, at)
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive and value == self.minimum)
        ):
            raise self.mismatch(value, at)
        return float(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Text(_Kind):
    allow_empty: bool = False

    @property
    def expected(self) -> str:
        return "text" if self.allow_empty else "non-empty text"

    def schema(self) -> dict:
        return {"type": "string"} if self.allow_empty else {"type": "string", "minLength": 1}

    def check(self, value: Any, at: At) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise self.mismatch(value, at, f"quote it so that YAML keeps it as text: \"{value}\"")
        if not isinstance(value, str) or (not value.strip() and not self.allow_empty):
            raise self.mismatch(value, at)
        return value


@dataclass(frozen=True)
class _Name(_Kind):
    """A name usable as a Python parameter or module name: a letter, then letters, digits, _."""

    expected = "a name (a letter, then letters, digits or underscores)"

    def schema(self) -> dict:
        return {"$ref": "#/$defs/name"}

    @staticmethod
    def definition() -> dict:
        return {"description": _Name.expected + ", not a Python keyword", "type": "string",
                "pattern": _NAME.pattern[:-2].join("^$"), "not": {"enum": sorted(keyword.kwlist)}}

    def check(self, value: Any, at: At) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.mismatch(value, at)
        if keyword.iskeyword(value):
            raise at.error(f"expected {self.expected}; found {value!r}, a Python keyword",
                           "choose another name: a keyword cannot be a parameter or module name")
        return value


@dataclass(frozen=True)
class _Choice(_Kind):
    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(self.choices)

    def schema(self) -> dict:
        return {"enum": list(self.choices)}

    def check(self, value: Any, at: At) -> str:
        if value not in self.choices or not isinstance(value, str):
            hint = did_you_mean(value, self.choices) if isinstance(value, str) else None
            raise self.mismatch(value, at, hint)
        return value


class _Boolean(_Kind):
    expected = "true or false"

    def schema(self) -> dict:
        return {"type": "boolean"}

    def check(self, value: Any, at: At) -> bool:
        if not isinstance(value, bool):
            raise self.mismatch(value, at)
        return value


class _FormulaText(_Kind):
    expected = "a formula (text such as 'w1 @ x + b1', or a number)"

    def schema(self) -> dict:
        return {"type": ["string", "number"], "minLength": 1}

    def check(self, value: Any, at: At) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(value)
        if not isinstance(value, str) or not value.strip():
            raise self.mismatch(value, at)
        return value.strip()


@dataclass(frozen=True)
class _Interval(_Kind):
    """``[low, high]``: a domain of reals (low < high) or a range of sizes (low <= high)."""

    bound: _Kind
    strict: bool
    expected: str

    def schema(self) -> dict:
        return {"type": "array", "items": self.bound.schema(), "minItems": 2, "maxItems": 2}

    def check(self, value: Any, at: At) -> tuple:
        if not isinstance(value, list) or len(value) != 2:
            raise self.mismatch(value, at)
        low, high = (self.bound.check(bound, at / index) for index, bound in enumerate(value))
        if low > high or (self.strict and low == high):
            what = "a single point" if low == high else "empty: the low end is above the high end"
            hint = "give it room, e.g. [low, low + 1]" if low == high else f"write [{value[1]}, {value[0]}]"
            raise at.error(f"expected {self.expected}; found {value!r}, which is {what}", hint)
        return low, high


class _Shape(_Kind):
    expected = "a shape: a list of dimension names or positive sizes, [] for a scalar"

    def schema(self) -> dict:
        return {"type": "array",
                "items": {"anyOf": [_Name().schema(), {"type": "integer", "minimum": 1}]}}

    def check(self, value: Any, at: At) -> tuple:
        if isinstance(value, str) and _NAME.match(value):
            raise self.mismatch(value, at, f"a vector is written as a list: [{value}]")
        if not isinstance(value, list):
            raise self.mismatch(value, at)
        for index, dim in enumerate(value):
            if isinstance(dim, bool) or not (
                (isinstance(dim, int) and dim >= 1) or (isinstance(dim, str) and _NAME.match(dim))
            ):
                raise (at / index).error(
                    f"expected a dimension name or a size >= 1; found {describe(dim, _YAML_KINDS)}"
                )
        return tuple(value)


@dataclass(frozen=True)
class _NameOrNames(_Kind):
    """One name, or a non-empty list of distinct names (an activation family)."""

    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        return f"a function name or a list of them, from: {listing(self.choices)}"

    def schema(self) -> dict:
        one = {"enum": list(self.choices)}
        return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1, "uniqueItems": True}]}

    def check(self, value: Any, at: At) -> tuple[str, ...]:
        members = [value] if isinstance(value, str) else value
        if not isinstance(members, list) or not members:
            raise self.mismatch(value, at)
        seen: dict[str, int] = {}
        for index, member in enumerate(members):
            where = at if isinstance(value, str) else at / index
            if member not in self.choices or not isinstance(member, str):
                raise where.error(
                    f"expected an elementwise function, one of {listing(self.choices)}; found "
                    f"{describe(member, _YAML_KINDS)}",
                    did_you_mean(member, self.choices) if isinstance(member, str) else None,
                )
            if member in seen:
                raise where.error(f"{member!r} is listed twice (also at index {seen[member]})",
                                  "list each member of the family once")
            seen[member] = index
        return tuple(members)


@dataclass(frozen=True)
class _Notation(_Kind):
    """LaTeX symbols, as a write-up writes them, each mapped to a model name or ``activation``."""

    expected = "a mapping from LaTeX symbols (\"\\\\hat{p}\") to names of the model or 'activation'"

    def schema(self) -> dict:
        return {"type": ["object", "null"], "additionalProperties": _Name().schema()}

    def check(self, value: Any, at: At) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(key, str) and key.strip() for key in value):
            raise self.mismatch(value, at)
        return {key: _Name().check(target, at / key) for key, target in value.items()}


@dataclass(frozen=True)
class _NameOrPair(_Kind):
    """A name, or a list of two names (a second derivative: ``wrt: [x, x]``)."""

    expected = "a name, or a list of two names for a second derivative ([x, x])"

    def schema(self) -> dict:
        return {"anyOf": [_Name().schema(), {"type": "array", "items": _Name().schema(), "minItems": 2, "maxItems": 2}]}

    def check(self, value: Any, at: At) -> str | tuple[str, str]:
        if isinstance(value, list):
            if len(value) != 2:
                raise self.mismatch(value, at, "a second derivative lists two variables: [x, x] or [x, y]")
            return tuple(_Name().check(name, at / index) for index, name in enumerate(value))
        return _Name().check(value, at)


@dataclass(frozen=True)
class _Size(_Kind):
    """A dimension name or a fixed size >= 1 (how many classes labels range over)."""

    expected = "a dimension name or a size >= 1"

    def schema(self) -> dict:
        return {"anyOf": [_Name().schema(), {"type": "integer", "minimum": 1}]}

    def check(self, value: Any, at: At) -> str | int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, str) and _NAME.match(value):
            return value
        raise self.mismatch(value, at)


_MISSING = object()


@dataclass(frozen=True)
class _Key:
    """One key of a mapping in the format: its kind, whether required, its default, what it means."""

    name: str
    kind: _Kind
    doc: str
    required: bool = False
    default: Any = _MISSING


@dataclass(frozen=True)
class _Object(_Kind):
    """A mapping with a fixed set of keys."""

    keys: tuple[_Key, ...]
    expected: str = "a mapping"
    nullable: bool = False
    """Whether an empty entry (``x:`` with nothing after it) means ``{}``."""
    alternatives: tuple[tuple[str, ...], ...] = ()
    """Sets of keys of which one must be present in full (pass 2 says which is missing)."""

    def schema(self) -> dict:
        properties = {}
        for key in self.keys:
            properties[key.name] = {"description": key.doc, **key.kind.schema()}
            if key.default is not _MISSING:
                default = key.default
                properties[key.name]["default"] = list(default) if isinstance(default, tuple) else default
        result: dict = {"type": ["object", "null"] if self.nullable else "object",
                        "properties": properties, "additionalProperties": False}
        required = [key.name for key in self.keys if key.required]
        if required:
            result["required"] = required
        if self.alternatives:
            result["anyOf"] = [{"required": list(keys)} for keys in self.alternatives]
        return result

    def check(self, value: Any, at: At) -> dict:
        if value is None and self.nullable:
            value = {}
        if not isinstance(value, dict):
            raise self.mismatch(value, at)
        known = [key.name for key in self.keys]
        for name in value:
            if name not in known:
                hint = did_you_mean(name, known)
                raise (at / name).error(f"unknown key {name!r}; expected one of: {listing(known)}", hint)
        result = {}
        for key in self.keys:
            if key.name in value:
                result[key.name] = key.kind.check(value[key.name], at / key.name)
            elif key.required:
                raise at.error(f"missing required key {key.name!r}",
                               f"add '{key.name}: ...': {key.doc[0].lower()}{key.doc[1:]}")
            else:
                result[key.name] = None if key.default is _MISSING else key.default
        return result


@dataclass(frozen=True)
class _MapOf(_Kind):
    """A mapping from names the author chooses to values of one kind, in the file's order."""

    value: _Kind
    expected: str = "a mapping of names"
    min_entries: int = 0

    def schema(self) -> dict:
        result = {"type": "object", "propertyNames": _Name().schema(),
                  "additionalProperties": self.value.schema()}
        if self.min_entries:
            result["minProperties"] = self.min_entries
        return result

    def check(self, value: Any, at: At) -> dict:
        if value is None and not self.min_entries:
            value = {}
        if not isinstance(value, dict) or len(value) < self.min_entries:
            raise self.mismatch(value, at)
        return {_Name().check(name, at / name): self.value.check(entry, at / name)
                for name, entry in value.items()}


@dataclass(frozen=True)
class _ListOf(_Kind):
    item: _Kind
    expected: str = "a list"

    def schema(self) -> dict:
        return {"type": "array", "items": self.item.schema(), "minItems": 1}

    def check(self, value: Any, at: At) -> list:
        if not isinstance(value, list) or not value:
            raise self.mismatch(value, at)
        return [self.item.check(entry, at / index) for index, entry in enumerate(value)]


@dataclass(frozen=True)
class _Tagged(_Kind):
    """One of several mappings, told apart by which tag key it has (``function`` or ``claim``)."""

    variants: tuple[_Object, ...]
    expected: str = "a mapping"

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(variant.keys[0].name for variant in self.variants)

    def schema(self) -> dict:
        return {"oneOf": [variant.schema() for variant in self.variants]}

    def check(self, value: Any, at: At) -> tuple[str, dict]:
        if not isinstance(value, dict):
            raise self.mismatch(value, at)
        present = [tag for tag in self.tags if tag in value]
        if len(present) != 1:
            found = "both " + " and ".join(map(repr, present)) if present else "neither"
            raise at.error(
                f"an item has exactly one of the keys {' or '.join(map(repr, self.tags))}; found {found}",
                "use 'function: <name>' for a derivative the student computes, 'claim: <name>' "
                "for a true/false constant the student sets",
            )
        variant = self.variants[self.tags.index(present[0])]
        return present[0], variant.check(value, at)


# ---------------------------------------------------------------------------------------------
# The key tables: the whole format in one place (pass 1 and the JSON Schema both come from here)


def _setting(name: str, kind: _Kind, what: str) -> _Key:
    return _Key(name, kind, what, default=next(f.default for f in fields(Settings) if f.name == name))


_EXAMPLES = _Integer(minimum=1)
_TOLERANCE = _Number(minimum=0)
_VISIBILITY = _Choice(VISIBILITIES)

SETTINGS_KEYS = (
    _setting("examples", _EXAMPLES, "Hypothesis examples per item."),
    _setting("rtol", _TOLERANCE, "Relative tolerance: |got - true| <= atol + rtol * |true|, entrywise."),
    _setting("atol", _TOLERANCE, "Absolute tolerance of the same test."),
    _setting("seed", _Integer(minimum=0), "Seed of every random draw: the same seed gives the same run."),
    _setting("call_timeout", _Number(minimum=0, exclusive=True), "Seconds one call of a student function may take."),
    _setting("submission_timeout", _Number(minimum=0, exclusive=True),
             "Seconds the whole submission may take for this spec."),
    _setting("reference_digits", _Integer(minimum=20, maximum=1000),
             "Significant digits of the reference derivatives."),
    _setting("visibility", _VISIBILITY, "Gradescope visibility of every item's test."),
)

VARIABLE_KEYS = (
    _Key("shape", _Shape(), "Dimension names or sizes; [] (the default) is a scalar.", default=()),
    _Key("domain", _Interval(_Number(), strict=True, expected="a domain [low, high] of finite numbers, low < high"),
         "Closed interval [low, high] for every entry; the default is [-5, 5]."),
    _Key("labels", _Size(), "Integer class labels: every entry is drawn from 0 to this size - 1 (a dimension "
         "name such as C, or a number). Labels are passed to students as integers and never differentiated."),
    _Key("integers", _Interval(_Integer(), strict=False, expected="a range [low, high] of integers, low <= high"),
         "Integer entries drawn from the inclusive range [low, high]; never differentiated."),
)

ACTIVATION_KEYS = (
    _Key("name", _Name(), "The placeholder function name the model calls, such as s; each "
         "question binds it to one elementwise function or a family of them.", required=True),
)

_DERIVATIVE_KEYS = (
    _Key("of", _Name(), "The quantity (or variable) that is differentiated.", required=True),
    _Key("wrt", _Name(), "The variable (or quantity) it is differentiated with respect to.", required=True),
)

_ITEM_DERIVATIVE_KEYS = (
    _Key("of", _Name(), "The quantity (or variable) that is differentiated."),
    _Key("wrt", _NameOrPair(), "The variable (or quantity) it is differentiated with respect to; two variables "
         "[x, y] ask for the second derivative d2 of / dx dy (a Hessian for [x, x])."),
    _Key("upstream", _Name(), "A backward pass: the function also receives an upstream gradient under this name, "
         "shaped like `of`, and returns it contracted with the Jacobian (shaped like `wrt`)."),
    _Key("value", _Name(), "Instead of of and wrt: the function returns this quantity's value (a value item)."),
)

_OVERRIDES = (
    _Key("rtol", _TOLERANCE, "Overrides settings.rtol for this item."),
    _Key("atol", _TOLERANCE, "Overrides settings.atol for this item."),
    _Key("examples", _EXAMPLES, "Overrides settings.examples for this item."),
    _Key("visibility", _VISIBILITY, "Overrides settings.visibility for this item."),
)

DERIVATIVE_ITEM_KEYS = (
    _Key("function", _Name(), "The function the student defines in the question's module.", required=True),
    _Key("points", _Number(minimum=0), "Points for this item.", required=True),
    *_ITEM_DERIVATIVE_KEYS,
    _Key("given", _MapOf(_Object(_DERIVATIVE_KEYS, "a mapping with keys of and wrt")),
         "Extra Jacobians handed to the function, by parameter name: name: {of: ..., wrt: ...}."),
    _Key("expected", _FormulaText(), "The answer key: a formula whose shape is the Jacobian layout; "
         "it may use variables, quantities and given names."),
    *_OVERRIDES,
)

CLAIM_ITEM_KEYS = (
    _Key("claim", _Name(), "The module-level boolean constant the student defines.", required=True),
    _Key("points", _Number(minimum=0), "Points for this item.", required=True),
    _Key("statement", _Text(), "The claim in words, shown in reports.", required=True),
    _Key("derivative", _Object(_DERIVATIVE_KEYS, "a mapping with keys of and wrt"),
         "The derivative the claim is about: {of: ..., wrt: ...}.", required=True),
    _Key("changes_with", _Name(), "The variable whose change may change the derivative.", required=True),
    _Key("truth", _Boolean(), "The answer key (true: it changes), verified by harness check-spec."),
    *_OVERRIDES,
)

QUESTION_KEYS = (
    _Key("id", _Text(), "The question's id, such as \"2.4\" (quoted, so YAML keeps it as text).",
         required=True),
    _Key("title", _Text(), "A short title shown in reports.", required=True),
    _Key("prompt", _Text(allow_empty=True), "The question in markdown, shown in reports.", default=""),
    _Key("module", _Name(), "The student's module for this question: q2_1 means q2_1.py.", required=True),
    _Key("variables", _MapOf(_Object(VARIABLE_KEYS, nullable=True)),
         "This question's own variables, added to the top-level ones (a name declared again here replaces "
         "the top-level variable for this question: another domain)."),
    _Key("model", _MapOf(_FormulaText()), "This question's own quantities, after the top-level ones."),
    _Key("activation", _NameOrNames(tuple(sorted(ELEMENTWISE_FUNCTIONS))),
         "What the model's activation placeholder stands for: one elementwise function or a list "
         "(a family: every member is checked). Required exactly when the model has a placeholder."),
    _Key("items", _ListOf(_Tagged((_Object(DERIVATIVE_ITEM_KEYS, alternatives=(("of", "wrt"), ("value",))),
                                   _Object(CLAIM_ITEM_KEYS))),
                          "a list of items"),
         "What the student's module must define: derivative items (function:) and claims (claim:).",
         required=True),
)

TOP_KEYS = (
    _Key("title", _Text(), "The assignment's title.", required=True),
    _Key("settings", _Object(SETTINGS_KEYS), "Assignment-wide settings, all optional.", default=None),
    _Key("dimensions", _MapOf(_Interval(_Integer(minimum=1), strict=False,
                                     expected="a range [low, high] of sizes >= 1, low <= high")),
         "Symbolic sizes and their inclusive ranges: H: [1, 4].", default=None),
    _Key("variables", _MapOf(_Object(VARIABLE_KEYS, nullable=True)),
         "The model's inputs, in order: name: {shape: [...], domain: [low, high]}; questions may add their own."),
    _Key("activation", _Object(ACTIVATION_KEYS),
         "The activation placeholder: {name: s}. Omit it when the model has none."),
    _Key("model", _MapOf(_FormulaText()),
         "The quantities, in order: name: formula, each using variables and earlier quantities; questions "
         "may add their own."),
    _Key("questions", _ListOf(_Object(QUESTION_KEYS), "a list of questions"), "The questions.",
         required=True),
    _Key("notation", _Notation(),
         "How write-ups (*.md, *.tex) write the model's symbols: LaTeX symbol: model name or activation, "
         "such as \"\\\\theta\": w1; added to the defaults (docs/writeups.md).", default=None),
)

TOP = _Object(TOP_KEYS, "a mapping with the keys title, variables, model and questions")
"""A whole spec file: ``TOP.check`` is pass 1."""


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of the spec format, generated from the loader's key tables.

    It checks structure and types only; names, order and shapes are checked by the loader.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Derivative homework spec",
        "description": "One assignment for the derivgrade harness. Generated from harness/spec.py "
        "by schema_text(); the format is documented in docs/spec-format.md.",
        **TOP.schema(),
        "$defs": {"name": _Name.definition()},
    }


def schema_text() -> str:
    """The committed ``harness/spec.schema.json``, byte for byte."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"

