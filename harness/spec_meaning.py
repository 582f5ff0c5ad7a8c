"""Pass 2 of loading a spec: check what its structurally valid values mean, build the Assignment.

Names must be defined before they are used and must not shadow a function of the formula
language or the activation placeholder; formulas must parse and their symbolic shapes agree;
each question binds the placeholder exactly when the model has one; an answer key must have its
Jacobian's layout. Every problem raises ``SpecError`` at its line and key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from harness.assignment import Assignment, ClaimItem, DerivativeItem, GivenDerivative, Question, Settings
from harness.errors import FormulaError, format_key_path
from harness.formula import DEFAULT_FUNCTIONS, Formula, infer_shape, parse
from harness.messages import did_you_mean, listing
from harness.model import Model, Variable
from harness.spec_keys import At

__all__ = ["check_meaning"]


def check_meaning(raw: dict, at: At, filename: str, digest: str) -> Assignment:
    """The Assignment that ``raw``, a spec checked by pass 1 (``TOP.check``), describes."""
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


def _reserved(name: str, taken: Mapping[str, str], placeholder: str | None, at: At) -> None:
    """Reject a new name that is already a function, the placeholder or another definition."""
    if name in DEFAULT_FUNCTIONS:
        raise at.error(f"{name!r} is the name of a function of the formula language",
                       f"rename it, such as {name}_value")
    if name == placeholder:
        raise at.error(f"{name!r} is the name of the activation placeholder", f"rename it, such as {name}_value")
    if name in taken:
        raise at.error(f"{name!r} is already defined as a {taken[name]}", "give it another name")


def _variables(raw: dict, dimensions: dict, placeholder: str | None, at: At) -> tuple[Variable, ...]:
    variables = []
    taken: dict[str, str] = {}
    for name, entry in raw.items():
        _reserved(name, taken, placeholder, at / name)
        for index, dim in enumerate(entry["shape"]):
            if isinstance(dim, str) and dim not in dimensions:
                raise (at / name / "shape" / index).error(
                    f"unknown dimension {dim!r}; declared dimensions: {listing(dimensions)}",
                    did_you_mean(dim, list(dimensions)) or f"declare it under dimensions, such as {dim}: [1, 4]",
                )
        variables.append(Variable(name=name, shape=entry["shape"], domain=entry["domain"]))
        taken[name] = "variable"
    return tuple(variables)


def _parse(source: str, placeholder: str | None, at: At) -> Formula:
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


def _shape_of(formula: Formula, shapes: Mapping[str, tuple], at: At) -> tuple:
    try:
        return tuple(infer_shape(formula, shapes))
    except FormulaError as error:
        involved = ", ".join(f"{name} {_show_shape(shapes[name])}" for name in shapes if name in formula.names)
        raise at.error(f"shapes do not agree in {formula.source!r}: {error}",
                       f"the shapes involved: {involved}" if involved else None) from None


def _check_names(formula: Formula, known: Sequence[str], at: At, what: str) -> None:
    for name in sorted(formula.names):
        if name not in known:
            raise at.error(
                f"undefined name {name!r} in {formula.source!r}; expected {what}: {listing(known)}",
                did_you_mean(name, known),
            )


def _quantities(raw: dict, shapes: dict, placeholder: str | None, at: At) -> tuple:
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


def _questions(raw: list, model: Model, shapes: dict, settings: Settings, at: At) -> tuple:
    questions = []
    ids: dict[str, int] = {}
    item_names: dict[tuple[str, str], At] = {}
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


def _activations(value: tuple | None, placeholder: str | None, at: At) -> tuple[str, ...]:
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


def _known_name(name: str, known: Sequence[str], at: At, what: str, model: Model) -> str:
    if name in known:
        return name
    if name in model.quantity_names:
        raise at.error(f"{name!r} is a quantity of the model; expected {what}: {listing(known)}",
                       "a claim changes one input of the model and recomputes the quantities from it")
    raise at.error(f"unknown name {name!r}; expected {what}: {listing(known)}", did_you_mean(name, known))


def _derivative_item(raw: dict, model: Model, shapes: dict, settings: Settings, at: At) -> DerivativeItem:
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


def _claim_item(raw: dict, model: Model, shapes: dict, settings: Settings, at: At) -> ClaimItem:
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


def _show_shape(shape: tuple) -> str:
    return "[" + ", ".join(str(dim) for dim in shape) + "]"
