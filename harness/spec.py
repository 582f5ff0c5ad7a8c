"""Load and validate a YAML assignment spec into frozen dataclasses.

A spec is checked once, at load time, in two passes. The first checks structure and types
against the key tables below (the same tables generate ``spec.schema.json``, so the published
schema cannot drift from the loader). The second checks meaning: names, definition order, symbolic
shapes, activations, answer-key layouts. Every problem raises ``SpecError`` naming the file, the
line, the key path, what was found, what was expected and, where one exists, a fix.

The format is documented in ``docs/spec-format.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import keyword
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union

from harness import _yaml
from harness.errors import FormulaError, SpecError, format_key_path
from harness.formula import DEFAULT_FUNCTIONS, ELEMENTWISE_FUNCTIONS, Formula, infer_shape, parse
from harness.model import Model, Variable

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

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
DEFAULT_DOMAIN = (-5.0, 5.0)


# ---------------------------------------------------------------------------------------------
# The loaded assignment


@dataclass(frozen=True)
class Settings:
    """Assignment-wide settings; each item may override rtol, atol, examples and visibility."""

    examples: int = 100
    """Hypothesis examples per item."""
    rtol: float = 1e-8
    """Relative tolerance: an entry passes when ``|got - true| <= atol + rtol * |true|``."""
    atol: float = 1e-12
    """Absolute tolerance of the same test."""
    seed: int = 0
    """Seed of every random draw, so a run is reproducible."""
    call_timeout: float = 2.0
    """Seconds one call of a student function may take."""
    submission_timeout: float = 120.0
    """Seconds the whole submission may take for one spec."""
    reference_digits: int = 30
    """Significant digits of the mpmath reference derivatives."""
    visibility: str = "visible"
    """Gradescope visibility of each item's test: visible, hidden, after_due_date, after_published."""


@dataclass(frozen=True)
class GivenDerivative:
    """An extra argument the harness hands a student function: the Jacobian d ``of`` / d ``wrt``."""

    name: str
    of: str
    wrt: str


@dataclass(frozen=True)
class DerivativeItem:
    """A function the student writes that must return the Jacobian d ``of`` / d ``wrt``."""

    name: str
    points: float
    of: str
    wrt: str
    expected: Formula | None
    """The answer key in the formula language, or ``None``; its shape is the item's layout."""
    given: tuple[GivenDerivative, ...]
    rtol: float
    atol: float
    examples: int
    visibility: str
    line: int | None


@dataclass(frozen=True)
class ClaimItem:
    """A boolean constant the student sets: does d ``of`` / d ``wrt`` change when ``changes_with`` changes?"""

    name: str
    points: float
    statement: str
    of: str
    wrt: str
    changes_with: str
    truth: bool | None
    """The answer key, verified by ``harness check-spec``; ``None`` leaves it to the numerics."""
    rtol: float
    atol: float
    """The derivative "changes" where two values differ by more than ``atol + rtol * |first|``."""
    examples: int
    visibility: str
    line: int | None


Item = Union[DerivativeItem, ClaimItem]


@dataclass(frozen=True)
class Question:
    """One question: its prompt, the student's module, the activations it covers and its items."""

    id: str
    title: str
    prompt: str
    module: str
    activations: tuple[str, ...]
    """The family the model's placeholder ranges over (one member or several); () without one."""
    items: tuple[Item, ...]
    line: int | None
    model_names: tuple[str, ...] = field(default=(), repr=False)
    """The model's variables then quantities: what every student function may ask for."""

    @property
    def points(self) -> float:
        return sum(item.points for item in self.items)

    def item(self, name: str) -> Item:
        """The item called ``name`` (a function or claim name)."""
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(f"question {self.id} has no item {name!r}; it has {_listing(i.name for i in self.items)}")

    def offered(self, item: Item) -> tuple[str, ...]:
        """Every parameter name a student function for ``item`` may ask for, in a stable order.

        The model's variables and quantities, then the item's given derivatives. A claim is a
        constant, not a function, so it is offered nothing.
        """
        if isinstance(item, ClaimItem):
            return ()
        return self.model_names + tuple(given.name for given in item.given)


@dataclass(frozen=True)
class Assignment:
    """A loaded, validated spec file: the model, its questions and the settings."""

    title: str
    path: str
    model: Model
    questions: tuple[Question, ...]
    settings: Settings
    digest: str
    """SHA-256 (hex) of the spec file's bytes: results record which spec graded them."""
    shapes: tuple[tuple[str, tuple], ...] = ()
    """The symbolic shape of every variable and quantity, in model order."""

    def question(self, id: str) -> Question:
        """The question with this id (``"2.4"``)."""
        for question in self.questions:
            if question.id == id:
                return question
        raise KeyError(f"no question {id!r} in {self.path}; it has {_listing(q.id for q in self.questions)}")

    @property
    def visibility(self) -> dict[str, str]:
        """Each item's Gradescope visibility, by test name (``"2.4 dyhat_dw1"``)."""
        return {f"{q.id} {item.name}": item.visibility for q in self.questions for item in q.items}

    def symbolic_shape(self, name: str) -> tuple:
        """The shape of a variable or quantity in dimension names: ``("H", "D")``; () for a scalar."""
        return dict(self.shapes)[name]

    def item_shape(self, item: Item | GivenDerivative, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The concrete Jacobian layout of an item (or given derivative): shape(of) + shape(wrt)."""
        return _concrete(self.symbolic_shape(item.of) + self.symbolic_shape(item.wrt), sizes)


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


# ---------------------------------------------------------------------------------------------
# Where a value is in the file, and messages about it


@dataclass(frozen=True)
class _At:
    """A key path in a loaded document, able to raise an error pointing at its line."""

    document: _yaml.Document
    file: str
    path: tuple = ()

    def __truediv__(self, key: str | int) -> _At:
        return _At(self.document, self.file, self.path + (key,))

    @property
    def line(self) -> int | None:
        return self.document.line(self.path)

    def error(self, problem: str, hint: str | None = None) -> SpecError:
        return SpecError(problem, file=self.file, line=self.line, key_path=self.path, hint=hint)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    text = repr(value)
    if len(text) > 60:
        text = text[:56] + " ..."
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
    return f"{text} ({kind})"


def _listing(names: Any) -> str:
    return ", ".join(str(name) for name in names) or "(none)"


def _did_you_mean(word: str, known: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _show_shape(shape: tuple) -> str:
    return "[" + ", ".join(str(dim) for dim in shape) + "]"


def _concrete(shape: tuple, sizes: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(sizes[dim] if isinstance(dim, str) else dim for dim in shape)


# ---------------------------------------------------------------------------------------------
# Value kinds: each checks a YAML value (pass 1) and describes itself as JSON Schema


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


class _Kind:
    expected: str = "a value"

    def schema(self) -> dict:
        raise NotImplementedError

    def check(self, value: Any, at: _At) -> Any:
        raise NotImplementedError

    def mismatch(self, value: Any, at: _At, hint: str | None = None) -> SpecError:
        return at.error(f"expected {self.expected}; found {_describe(value)}", hint)


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

    def check(self, value: Any, at: _At) -> int:
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

    def check(self, value: Any, at: _At) -> float:
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

    def check(self, value: Any, at: _At) -> str:
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

    def check(self, value: Any, at: _At) -> str:
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

    def check(self, value: Any, at: _At) -> str:
        if value not in self.choices or not isinstance(value, str):
            hint = _did_you_mean(value, self.choices) if isinstance(value, str) else None
            raise self.mismatch(value, at, hint)
        return value


class _Boolean(_Kind):
    expected = "true or false"

    def schema(self) -> dict:
        return {"type": "boolean"}

    def check(self, value: Any, at: _At) -> bool:
        if not isinstance(value, bool):
            raise self.mismatch(value, at)
        return value


class _FormulaText(_Kind):
    expected = "a formula (text such as 'w1 @ x + b1', or a number)"

    def schema(self) -> dict:
        return {"type": ["string", "number"], "minLength": 1}

    def check(self, value: Any, at: _At) -> str:
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

    def check(self, value: Any, at: _At) -> tuple:
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

    def check(self, value: Any, at: _At) -> tuple:
        if isinstance(value, str) and _NAME.match(value):
            raise self.mismatch(value, at, f"a vector is written as a list: [{value}]")
        if not isinstance(value, list):
            raise self.mismatch(value, at)
        for index, dim in enumerate(value):
            if isinstance(dim, bool) or not (
                (isinstance(dim, int) and dim >= 1) or (isinstance(dim, str) and _NAME.match(dim))
            ):
                raise (at / index).error(
                    f"expected a dimension name or a size >= 1; found {_describe(dim)}"
                )
        return tuple(value)


@dataclass(frozen=True)
class _NameOrNames(_Kind):
    """One name, or a non-empty list of distinct names (an activation family)."""

    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        return f"a function name or a list of them, from: {_listing(self.choices)}"

    def schema(self) -> dict:
        one = {"enum": list(self.choices)}
        return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1, "uniqueItems": True}]}

    def check(self, value: Any, at: _At) -> tuple[str, ...]:
        members = [value] if isinstance(value, str) else value
        if not isinstance(members, list) or not members:
            raise self.mismatch(value, at)
        seen: dict[str, int] = {}
        for index, member in enumerate(members):
            where = at if isinstance(value, str) else at / index
            if member not in self.choices or not isinstance(member, str):
                raise where.error(
                    f"expected an elementwise function, one of {_listing(self.choices)}; found "
                    f"{_describe(member)}",
                    _did_you_mean(member, self.choices) if isinstance(member, str) else None,
                )
            if member in seen:
                raise where.error(f"{member!r} is listed twice (also at index {seen[member]})",
                                  "list each member of the family once")
            seen[member] = index
        return tuple(members)


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
        return result

    def check(self, value: Any, at: _At) -> dict:
        if value is None and self.nullable:
            value = {}
        if not isinstance(value, dict):
            raise self.mismatch(value, at)
        known = [key.name for key in self.keys]
        for name in value:
            if name not in known:
                hint = _did_you_mean(name, known)
                raise (at / name).error(f"unknown key {name!r}; expected one of: {_listing(known)}", hint)
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

    def check(self, value: Any, at: _At) -> dict:
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

    def check(self, value: Any, at: _At) -> list:
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

    def check(self, value: Any, at: _At) -> tuple[str, dict]:
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
         "Closed interval [low, high] for every entry; the default is [-5, 5].", default=DEFAULT_DOMAIN),
)

ACTIVATION_KEYS = (
    _Key("name", _Name(), "The placeholder function name the model calls, such as s; each "
         "question binds it to one elementwise function or a family of them.", required=True),
)

_DERIVATIVE_KEYS = (
    _Key("of", _Name(), "The quantity (or variable) that is differentiated.", required=True),
    _Key("wrt", _Name(), "The variable (or quantity) it is differentiated with respect to.", required=True),
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
    *_DERIVATIVE_KEYS,
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
    _Key("activation", _NameOrNames(tuple(sorted(ELEMENTWISE_FUNCTIONS))),
         "What the model's activation placeholder stands for: one elementwise function or a list "
         "(a family: every member is checked). Required exactly when the model has a placeholder."),
    _Key("items", _ListOf(_Tagged((_Object(DERIVATIVE_ITEM_KEYS), _Object(CLAIM_ITEM_KEYS))),
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
    _Key("variables", _MapOf(_Object(VARIABLE_KEYS, nullable=True), min_entries=1),
         "The model's inputs, in order: name: {shape: [...], domain: [low, high]}.", required=True),
    _Key("activation", _Object(ACTIVATION_KEYS),
         "The activation placeholder: {name: s}. Omit it when the model has none."),
    _Key("model", _MapOf(_FormulaText(), min_entries=1),
         "The quantities, in order: name: formula, each using variables and earlier quantities.",
         required=True),
    _Key("questions", _ListOf(_Object(QUESTION_KEYS), "a list of questions"), "The questions.",
         required=True),
)

_TOP = _Object(TOP_KEYS, "a mapping with the keys title, variables, model and questions")


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of the spec format, generated from the loader's key tables.

    It checks structure and types only; names, order and shapes are checked by the loader.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Derivative homework spec",
        "description": "One assignment for the derivgrade harness. Generated from harness/spec.py "
        "by schema_text(); the format is documented in docs/spec-format.md.",
        **_TOP.schema(),
        "$defs": {"name": _Name.definition()},
    }


def schema_text() -> str:
    """The committed ``harness/spec.schema.json``, byte for byte."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# Pass 2: meaning


def _load(text: str, filename: str, digest: str) -> Assignment:
    document = _yaml.load(text, filename)
    at = _At(document, filename)
    if document.data is None:
        raise at.error("the file is empty", "a spec needs at least title, variables, model and questions")
    raw = _TOP.check(document.data, at)
    settings = Settings(**(raw["settings"] or {}))
    dimensions = raw["dimensions"] or {}
    placeholder = raw["activation"]["name"] if raw["activation"] else None
    if placeholder in DEFAULT_FUNCTIONS:
        raise (at / "activation" / "name").error(
            f"the placeholder {placeholder!r} is already a function of the formula language",
            "choose a name that is not a library function, such as s or g; questions bind it to "
            f"{placeholder!r} with 'activation: {placeholder}'",
        )
    variables = _variables(raw["variables"], dimensions, placeholder, at / "variables")
    shapes = {variable.name: variable.shape for variable in variables}
    quantities = _quantities(raw["model"], shapes, placeholder, at / "model")
    if placeholder is not None and not any(placeholder in formula.calls for _, formula in quantities):
        raise (at / "activation" / "name").error(
            f"the placeholder {placeholder!r} is declared but no formula of the model calls it",
            f"use it in the model, such as 'a1: {placeholder}(z1)', or remove the activation key",
        )
    model = Model(
        variables=variables,
        quantities=quantities,
        dimensions=tuple(dimensions.items()),
        activation=placeholder,
    )
    questions = _questions(raw["questions"], model, shapes, settings, at / "questions")
    return Assignment(
        title=raw["title"],
        path=filename,
        model=model,
        questions=questions,
        settings=settings,
        digest=digest,
        shapes=tuple(shapes.items()),
    )


def _reserved(name: str, taken: Mapping[str, str], placeholder: str | None, at: _At) -> None:
    """Reject a new name that is already a function, the placeholder or another definition."""
    if name in DEFAULT_FUNCTIONS:
        raise at.error(f"{name!r} is the name of a function of the formula language",
                       f"rename it, such as {name}_value")
    if name == placeholder:
        raise at.error(f"{name!r} is the name of the activation placeholder", f"rename it, such as {name}_value")
    if name in taken:
        raise at.error(f"{name!r} is already defined as a {taken[name]}", "give it another name")


def _variables(raw: dict, dimensions: dict, placeholder: str | None, at: _At) -> tuple[Variable, ...]:
    variables = []
    taken: dict[str, str] = {}
    for name, entry in raw.items():
        _reserved(name, taken, placeholder, at / name)
        for index, dim in enumerate(entry["shape"]):
            if isinstance(dim, str) and dim not in dimensions:
                raise (at / name / "shape" / index).error(
                    f"unknown dimension {dim!r}; declared dimensions: {_listing(dimensions)}",
                    _did_you_mean(dim, list(dimensions)) or f"declare it under dimensions, such as {dim}: [1, 4]",
                )
        variables.append(Variable(name=name, shape=entry["shape"], domain=entry["domain"]))
        taken[name] = "variable"
    return tuple(variables)


def _parse(source: str, placeholder: str | None, at: _At) -> Formula:
    try:
        return parse(source, placeholders=(placeholder,) if placeholder else ())
    except FormulaError as error:
        raise at.error(f"invalid formula {source!r}: {error}", _formula_hint(error, placeholder)) from None


_CALLED = re.compile(r"([A-Za-z_]\w*)\s*\(")


def _formula_hint(error: FormulaError, placeholder: str | None) -> str:
    """Point an unknown function at the activation placeholder; otherwise at the language's docs."""
    called = _CALLED.match(error.source, error.column or 0) if error.column is not None else None
    name = called.group(1) if called else None
    if name and name not in DEFAULT_FUNCTIONS and name != placeholder:
        if placeholder is None:
            return (f"if {name!r} stands for an activation each question chooses, declare it at the "
                    f"top level: 'activation: {{name: {name}}}'")
        return f"this spec's activation placeholder is {placeholder!r}"
    return "the formula language is described in docs/spec-format.md"


def _shape_of(formula: Formula, shapes: Mapping[str, tuple], at: _At) -> tuple:
    try:
        return tuple(infer_shape(formula, shapes))
    except FormulaError as error:
        involved = ", ".join(f"{name} {_show_shape(shapes[name])}" for name in shapes if name in formula.names)
        raise at.error(f"shapes do not agree in {formula.source!r}: {error}",
                       f"the shapes involved: {involved}" if involved else None) from None


def _check_names(formula: Formula, known: Sequence[str], at: _At, what: str) -> None:
    for name in sorted(formula.names):
        if name not in known:
            raise at.error(
                f"undefined name {name!r} in {formula.source!r}; expected {what}: {_listing(known)}",
                _did_you_mean(name, known),
            )


def _quantities(raw: dict, shapes: dict, placeholder: str | None, at: _At) -> tuple:
    formulas = {}
    for name, source in raw.items():
        _reserved(name, {n: "variable" for n in shapes}, placeholder, at / name)
        formulas[name] = _parse(source, placeholder, at / name)
    order = list(formulas)
    for position, (name, formula) in enumerate(formulas.items()):
        for used in sorted(formula.names & set(order[position:])):
            cycle = _cycle(name, used, formulas)
            if cycle:
                raise (at / name).error(
                    f"cyclic definition: {' -> '.join(cycle)}",
                    "a quantity may use only variables and the quantities defined above it",
                )
            raise (at / name).error(
                f"{name!r} uses {used!r}, which is defined later (line {(at / used).line})",
                f"move {used!r} above {name!r}: each quantity may use only variables and the "
                "quantities defined above it",
            )
        _check_names(formula, list(shapes), at / name, "a variable or an earlier quantity")
        shapes[name] = _shape_of(formula, shapes, at / name)
    return tuple(formulas.items())


def _cycle(start: str, used: str, formulas: Mapping[str, Formula]) -> list[str] | None:
    """The chain ``start -> used -> ... -> start`` if ``used`` depends on ``start``, else None."""
    path = [start, used]
    seen = set()

    def walk(name: str) -> bool:
        if name == start:
            return True
        if name in seen or name not in formulas:
            return False
        seen.add(name)
        for following in sorted(formulas[name].names):
            path.append(following)
            if walk(following):
                return True
            path.pop()
        return False

    return path if walk(used) else None


def _questions(raw: list, model: Model, shapes: dict, settings: Settings, at: _At) -> tuple:
    questions = []
    ids: dict[str, int] = {}
    item_names: dict[tuple[str, str], _At] = {}
    for index, entry in enumerate(raw):
        here = at / index
        if entry["id"] in ids:
            raise (here / "id").error(
                f"duplicate question id {entry['id']!r} (also at questions[{ids[entry['id']]}], "
                f"line {(at / ids[entry['id']]).line})",
                "give every question its own id",
            )
        ids[entry["id"]] = index
        activations = _activations(entry["activation"], model.activation, here)
        items = []
        for number, (tag, item) in enumerate(entry["items"]):
            where = here / "items" / number
            key = (entry["module"], item[tag])
            if key in item_names:
                first = item_names[key]
                raise (where / tag).error(
                    f"duplicate name {item[tag]!r} in module {entry['module']!r} (also at "
                    f"{format_key_path(first.path)}, line {first.line})",
                    "each function or claim of a module needs its own name",
                )
            item_names[key] = where
            build = _derivative_item if tag == "function" else _claim_item
            items.append(build(item, model, shapes, settings, where))
        questions.append(Question(
            id=entry["id"],
            title=entry["title"],
            prompt=entry["prompt"],
            module=entry["module"],
            activations=activations,
            items=tuple(items),
            line=here.line,
            model_names=model.names,
        ))
    return tuple(questions)


def _activations(value: tuple | None, placeholder: str | None, at: _At) -> tuple[str, ...]:
    if placeholder is None and value is not None:
        raise (at / "activation").error(
            f"found activation {list(value) if len(value) > 1 else value[0]!r}, but the model has no "
            "activation placeholder to bind",
            "remove this key, or declare 'activation: {name: s}' at the top and call s(...) in the model",
        )
    if placeholder is not None and value is None:
        raise at.error(
            f"missing required key 'activation': the model calls the placeholder {placeholder!r}, "
            "so the question must say what it stands for",
            "add 'activation: sigmoid', or a family such as 'activation: [sigmoid, softplus, tanh]'",
        )
    return value or ()


def _known_name(name: str, known: Sequence[str], at: _At, what: str, model: Model) -> str:
    if name in known:
        return name
    if name in model.quantity_names:
        raise at.error(f"{name!r} is a quantity of the model; expected {what}: {_listing(known)}",
                       "a claim changes one input of the model and recomputes the quantities from it")
    raise at.error(f"unknown name {name!r}; expected {what}: {_listing(known)}", _did_you_mean(name, known))


def _derivative_item(raw: dict, model: Model, shapes: dict, settings: Settings, at: _At) -> DerivativeItem:
    names = model.names
    what = "a variable or quantity of the model"
    of = _known_name(raw["of"], names, at / "of", what, model)
    wrt = _known_name(raw["wrt"], names, at / "wrt", what, model)
    given = []
    local_shapes = dict(shapes)
    for name, entry in (raw["given"] or {}).items():
        where = at / "given" / name
        if name in names:
            raise where.error(f"{name!r} is already a variable or quantity of the model",
                              "a given derivative needs a name of its own, such as d" + f"{entry['of']}_d{entry['wrt']}")
        given.append(GivenDerivative(
            name=name,
            of=_known_name(entry["of"], names, where / "of", what, model),
            wrt=_known_name(entry["wrt"], names, where / "wrt", what, model),
        ))
        local_shapes[name] = shapes[entry["of"]] + shapes[entry["wrt"]]
    expected = None
    if raw["expected"] is not None:
        where = at / "expected"
        expected = _parse(raw["expected"], model.activation, where)
        _check_names(expected, list(local_shapes), where, "a variable, quantity or given name")
        got = _shape_of(expected, local_shapes, where)
        layout = shapes[of] + shapes[wrt]
        if got != layout:
            raise where.error(
                f"the answer key {expected.source!r} has shape {_show_shape(got)}, but d {of} / d {wrt} "
                f"has shape {_show_shape(layout)} (the shape of {of}, {_show_shape(shapes[of])}, followed "
                f"by the shape of {wrt}, {_show_shape(shapes[wrt])})",
                "a Jacobian's shape is shape(of) + shape(wrt); outer(u, v) builds a matrix from two vectors",
            )
    return DerivativeItem(
        name=raw["function"],
        points=raw["points"],
        of=of,
        wrt=wrt,
        expected=expected,
        given=tuple(given),
        **_resolved(raw, settings, "rtol", "atol", "examples", "visibility"),
        line=at.line,
    )


def _resolved(raw: dict, settings: Settings, *keys: str) -> dict:
    """The item's own value of each key where it has one, else the assignment's setting."""
    return {key: getattr(settings, key) if raw[key] is None else raw[key] for key in keys}


def _claim_item(raw: dict, model: Model, shapes: dict, settings: Settings, at: _At) -> ClaimItem:
    what = "a variable or quantity of the model"
    return ClaimItem(
        name=raw["claim"],
        points=raw["points"],
        statement=raw["statement"],
        of=_known_name(raw["derivative"]["of"], model.names, at / "derivative" / "of", what, model),
        wrt=_known_name(raw["derivative"]["wrt"], model.names, at / "derivative" / "wrt", what, model),
        changes_with=_known_name(raw["changes_with"], model.variable_names, at / "changes_with", "a variable", model),
        truth=raw["truth"],
        **_resolved(raw, settings, "rtol", "atol", "examples", "visibility"),
        line=at.line,
    )
