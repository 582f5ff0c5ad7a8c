"""Pass 2 of loading a spec: check what its structurally valid values mean, build the Assignment.

Names must be defined before they are used and must not shadow a function of the formula
language or the activation placeholder; formulas must parse and their symbolic shapes agree;
each question binds the placeholder exactly when the model has one; an answer key must have its
Jacobian's layout. Every problem raises ``SpecError`` at its line and key path.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from harness.assignment import (
    Assignment, ClaimItem, DerivativeItem, GivenDerivative, Question, Settings, item_layout,
)
from harness.errors import FormulaError, format_key_path
from harness.formula import DEFAULT_FUNCTIONS, Formula, infer_shape, parse
from harness.functions import CONSTANTS
from harness.messages import did_you_mean, listing
from harness.model import Model, Variable
from harness.spec_keys import DEFAULT_DOMAIN, At

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
    variables = _variables(raw["variables"] or {}, dimensions, placeholder, at / "variables", {})
    shapes = {variable.name: variable.shape for variable in variables}
    quantities = _quantities(raw["model"] or {}, shapes, placeholder, at / "model", dimensions)
    model = Model(
        variables=variables,
        quantities=quantities,
        dimensions=tuple(dimensions.items()),
        activation=placeholder,
    )
    own_formulas = [
        _parse(source, placeholder, at / "questions" / index / "model" / name)
        for index, question in enumerate(raw["questions"]) for name, source in (question["model"] or {}).items()
    ]
    every_formula = [formula for _, formula in quantities] + own_formulas
    if placeholder is not None and not any(placeholder in formula.calls for formula in every_formula):
        raise (at / "activation" / "name").error(
            f"the placeholder {placeholder!r} is declared but no formula of the model calls it",
            f"use it in the model, such as 'a1: {placeholder}(z1)', or remove the activation key",
        )
    questions = _questions(raw["questions"], model, shapes, settings, at / "questions", dimensions)
    return Assignment(
        title=raw["title"],
        path=filename,
        model=model,
        questions=questions,
        settings=settings,
        digest=digest,
        shapes=tuple(shapes.items()),
        notation=_notation(raw["notation"] or {}, model, at / "notation"),
    )


def _notation(raw: dict, model: Model, at: At) -> tuple[tuple[str, str], ...]:
    """The spec's notation for write-ups: each LaTeX symbol checked, each target a model name."""
    from harness.writeup.notation import ACTIVATION
    from harness.writeup.reading import notation_key

    targets = list(model.names) + ([ACTIVATION] if model.activation else [])
    for latex, target in raw.items():
        if notation_key(latex) is None:
            raise (at / latex).error(f"{latex!r} is not one symbol as LaTeX writes it",
                                     "write one symbol, such as \\theta, \\hat{p} or W^{(2)}")
        if target not in targets:
            raise (at / latex).error(f"unknown name {target!r}; expected a name of the model or "
                                     f"{ACTIVATION!r}: {listing(targets)}", did_you_mean(target, targets))
    return tuple(raw.items())


def _reserved(name: str, taken: Mapping[str, str], placeholder: str | None, at: At) -> None:
    """Reject a new name that is already a function, a constant, the placeholder or another definition."""
    if name in DEFAULT_FUNCTIONS:
        raise at.error(f"{name!r} is the name of a function of the formula language",
                       f"rename it, such as {name}_value")
    if name in CONSTANTS:
        raise at.error(f"{name!r} is the name of a constant of the formula language ({CONSTANTS[name].doc})",
                       f"rename it, such as {name}_value")
    if name == placeholder:
        raise at.error(f"{name!r} is the name of the activation placeholder", f"rename it, such as {name}_value")
    if name in taken:
        raise at.error(f"{name!r} is already defined as a {taken[name]}", "give it another name")


def _variables(
    raw: dict, dimensions: dict, placeholder: str | None, at: At, taken: Mapping[str, str]
) -> tuple[Variable, ...]:
    """The variables declared under ``at``; ``taken`` names what is already defined there."""
    variables = []
    taken = {**{dimension: "dimension" for dimension in dimensions}, **taken}
    for name, entry in raw.items():
        _reserved(name, taken, placeholder, at / name)
        for index, dim in enumerate(entry["shape"]):
            if isinstance(dim, str) and dim not in dimensions:
                raise (at / name / "shape" / index).error(
                    f"unknown dimension {dim!r}; declared dimensions: {listing(dimensions)}",
                    did_you_mean(dim, list(dimensions)) or f"declare it under dimensions, such as {dim}: [1, 4]",
                )
        discrete = [key for key in ("labels", "integers") if entry[key] is not None]
        if len(discrete) == 2 or (discrete and entry["domain"] is not None):
            keys = discrete + (["domain"] if entry["domain"] is not None else [])
            raise (at / name).error(
                f"{name!r} has both {' and '.join(map(repr, keys))}; a variable has one of them",
                "labels: C for class labels 0..C-1, integers: [low, high] for other integers, domain: [low, high] "
                "for real numbers",
            )
        labels = entry["labels"]
        if isinstance(labels, str) and labels not in dimensions:
            raise (at / name / "labels").error(
                f"unknown dimension {labels!r}; declared dimensions: {listing(dimensions)}",
                did_you_mean(labels, list(dimensions)) or f"declare it under dimensions, such as {labels}: [2, 4]",
            )
        if isinstance(labels, str) and dimensions[labels][0] < 2:
            raise (at / name / "labels").error(
                f"labels range over {labels} classes, and {labels} may be {dimensions[labels][0]}",
                f"classification needs at least two classes: declare {labels}: [2, ...]",
            )
        domain = entry["domain"] if entry["domain"] is not None else DEFAULT_DOMAIN
        if discrete:
            low, high = entry["integers"] or (0, 1)
            domain = (float(low), float(high)) if entry["integers"] else (0.0, 1.0)
        variables.append(Variable(name=name, shape=entry["shape"], domain=domain, labels=labels,
                                  integers=entry["integers"]))
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


def _quantities(raw: dict, shapes: dict, placeholder: str | None, at: At, dimensions: Mapping) -> tuple:
    """The quantities declared under ``at``, after those already in ``shapes`` (which gains theirs)."""
    formulas = {}
    taken = {**{dimension: "dimension" for dimension in dimensions}, **{n: "variable or quantity" for n in shapes}}
    for name, source in raw.items():
        _reserved(name, taken, placeholder, at / name)
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
        known = {**shapes, **{dimension: () for dimension in dimensions}}
        _check_names(formula, list(known), at / name, "a variable or an earlier quantity")
        _check_sizes(formula, dimensions, at / name)
        shapes[name] = _shape_of(formula, known, at / name)
    return tuple(formulas.items())


def _check_sizes(formula: Formula, dimensions: Mapping, at: At) -> None:
    """A name passed as a size (``eye(N)``) must be a dimension."""
    for name in sorted(formula.sizes - set(dimensions)):
        raise at.error(
            f"{name!r} is passed as a size in {formula.source!r}, but it is not a dimension; declared dimensions: "
            f"{listing(dimensions)}",
            did_you_mean(name, list(dimensions)) or "a size is a dimension name (eye(N)) or a number (eye(3))",
        )


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


def _questions(raw: list, model: Model, shapes: dict, settings: Settings, at: At, dimensions: Mapping) -> tuple:
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
        question_model, question_shapes = _question_model(entry, model, shapes, here, dimensions)
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
            items.append(build(item, question_model, question_shapes, settings, where))
        questions.append(Question(
            id=entry["id"],
            title=entry["title"],
            prompt=entry["prompt"],
            module=entry["module"],
            activations=activations,
            items=tuple(items),
            line=here.line,
            model_names=question_model.names,
            model=question_model,
            own_model=question_model is not model,
        ))
    return tuple(questions)


def _question_model(entry: dict, model: Model, shapes: dict, at: At, dimensions: Mapping) -> tuple[Model, dict]:
    """The question's model: the top-level one, or it with the question's variables, quantities and
    the upstream gradients of its backward passes; and the symbolic shapes of its names."""
    own_variables = entry["variables"] or {}
    built, question_shapes = model, shapes
    if own_variables or entry["model"]:
        redeclared = {name for name in own_variables if name in model.variable_names}
        kept = tuple(variable for variable in model.variables if variable.name not in redeclared)
        taken = {variable.name: "variable" for variable in kept}
        taken.update({name: "quantity" for name in model.quantity_names})
        added = _variables(own_variables, dimensions, model.activation, at / "variables", taken)
        replaced = {variable.name: variable for variable in added if variable.name in redeclared}
        variables = tuple(replaced.get(variable.name, variable) for variable in model.variables)
        variables += tuple(variable for variable in added if variable.name not in redeclared)
        question_shapes = {variable.name: variable.shape for variable in variables}
        question_shapes.update({name: shapes[name] for name in model.quantity_names})
        quantities = _quantities(entry["model"] or {}, question_shapes, model.activation, at / "model", dimensions)
        built = Model(variables=variables, quantities=model.quantities + quantities,
                      dimensions=model.dimensions, activation=model.activation)
    if not built.quantities:
        raise at.error("this question has no model: the spec's model is empty and the question adds none",
                       "give the question its own 'model:' (and 'variables:'), or fill the top-level model")
    upstreams = _upstreams(entry, built, question_shapes, at)
    if upstreams:
        built = Model(variables=built.variables + upstreams, quantities=built.quantities,
                      dimensions=built.dimensions, activation=built.activation)
        question_shapes = {**question_shapes, **{variable.name: variable.shape for variable in upstreams}}
    return built, question_shapes


def _upstreams(entry: dict, model: Model, shapes: Mapping, at: At) -> tuple[Variable, ...]:
    """The upstream gradients the question's backward passes receive: variables shaped like their ``of``."""
    found: dict[str, tuple[Variable, At]] = {}
    for number, (tag, item) in enumerate(entry["items"]):
        if tag != "function" or item["upstream"] is None or item["of"] not in shapes:
            continue  # the item's own check reports a missing or unknown of
        where = at / "items" / number / "upstream"
        name, of = item["upstream"], item["of"]
        if name in shapes or name in model.dimension_names or name in DEFAULT_FUNCTIONS or name in CONSTANTS:
            raise where.error(f"the upstream gradient {name!r} needs a name of its own: {name!r} is already taken",
                              f"call it d{of}, or dout")
        variable = Variable(name=name, shape=tuple(shapes[of]), domain=DEFAULT_DOMAIN)
        if name in found and found[name][0].shape != variable.shape:
            raise where.error(
                f"the upstream gradient {name!r} is shaped like {of!r} here, {_show_shape(variable.shape)}, but "
                f"{_show_shape(found[name][0].shape)} at line {found[name][1].line}",
                "give each backward pass of a different quantity its own upstream name",
            )
        found[name] = (variable, where)
    return tuple(variable for variable, _ in found.values())


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


_OF_HINT = "the quantity (or variable) that is differentiated."
_WRT_HINT = "the variable (or quantity) it is differentiated with respect to."


def _derivative_item(raw: dict, model: Model, shapes: dict, settings: Settings, at: At) -> DerivativeItem:
    names = model.names
    what = "a variable or quantity of the model"
    kind, of, wrt, wrt2 = _kind_of(raw, model, at)
    given = []
    local_shapes = {**shapes, **{dimension: () for dimension in model.dimension_names}}
    for name, entry in (raw["given"] or {}).items():
        where = at / "given" / name
        if name in names:
            raise where.error(f"{name!r} is already a variable or quantity of the model",
                              "a given derivative needs a name of its own, such as d" + f"{entry['of']}_d{entry['wrt']}")
        given.append(GivenDerivative(
            name=name,
            of=_known_name(entry["of"], names, where / "of", what, model),
            wrt=_differentiable(_known_name(entry["wrt"], names, where / "wrt", what, model), model, where / "wrt"),
        ))
        local_shapes[name] = shapes[entry["of"]] + shapes[entry["wrt"]]
    item = DerivativeItem(
        name=raw["function"],
        points=raw["points"],
        of=of,
        wrt=wrt,
        expected=None,
        given=tuple(given),
        **_resolved(raw, settings, "rtol", "atol", "examples", "visibility"),
        line=at.line,
        kind=kind,
        wrt2=wrt2,
        upstream=raw["upstream"],
    )
    if raw["expected"] is None:
        return item
    where = at / "expected"
    expected = _parse(raw["expected"], model.activation, where)
    _check_names(expected, list(local_shapes), where, "a variable, quantity or given name")
    _check_sizes(expected, dict(model.dimensions), where)
    got = _shape_of(expected, local_shapes, where)
    layout = item_layout(model, item)
    if got != layout:
        raise where.error(
            f"the answer key {expected.source!r} has shape {_show_shape(got)}, but {item.describe} "
            f"has shape {_show_shape(layout)} ({_layout_reason(item, shapes)})",
            _LAYOUT_HINTS[kind],
        )
    return dataclasses.replace(item, expected=expected)


_LAYOUT_HINTS = {
    "jacobian": "a Jacobian's shape is shape(of) + shape(wrt); outer(u, v) builds a matrix from two vectors",
    "backward": "a backward pass returns a gradient shaped like wrt: the upstream gradient contracted with the Jacobian",
    "second": "a second derivative's shape is shape(of) + shape(wrt) + shape(the second wrt)",
    "value": "a value item returns the quantity itself, with its shape",
}


def _layout_reason(item: DerivativeItem, shapes: Mapping[str, tuple]) -> str:
    if item.kind == "value":
        return f"the shape of {item.of}"
    if item.kind == "backward":
        return f"the shape of {item.wrt}"
    of, wrt = f"the shape of {item.of}, {_show_shape(shapes[item.of])}", f"the shape of {item.wrt}, {_show_shape(shapes[item.wrt])}"
    if item.kind == "second":
        return f"{of}, followed by {wrt} twice" if item.wrt == item.wrt2 else (
            f"{of}, followed by {wrt} and the shape of {item.wrt2}, {_show_shape(shapes[item.wrt2])}")
    return f"{of}, followed by {wrt}"


def _kind_of(raw: dict, model: Model, at: At) -> tuple[str, str, str, str | None]:
    """What the item asks for: (kind, of, wrt, second wrt), each name checked."""
    names, what = model.names, "a variable or quantity of the model"
    if raw["value"] is not None:
        extra = [key for key in ("of", "wrt", "upstream") if raw[key] is not None]
        if extra:
            raise (at / extra[0]).error(
                f"a value item (value: {raw['value']}) has no {extra[0]!r}: it returns a quantity, not a derivative",
                "remove the key, or remove 'value:' to ask for a derivative",
            )
        return "value", _known_name(raw["value"], names, at / "value", what, model), "", None
    for key, hint in (("of", _OF_HINT), ("wrt", _WRT_HINT)):
        if raw[key] is None:
            raise at.error(f"missing required key {key!r}", f"add '{key}: ...': {hint}")
    of = _known_name(raw["of"], names, at / "of", what, model)
    if isinstance(raw["wrt"], tuple):
        if raw["upstream"] is not None:
            raise (at / "upstream").error("a second derivative has no upstream gradient",
                                          "ask for the backward pass and the second derivative in two items")
        first, second = (
            _differentiable(_known_name(name, names, at / "wrt" / index, what, model), model, at / "wrt" / index)
            for index, name in enumerate(raw["wrt"])
        )
        for index, name in enumerate((first, second)):
            if name not in model.variable_names:
                raise (at / "wrt" / index).error(
                    f"{name!r} is a quantity; a second derivative is taken with respect to variables: "
                    f"{listing(v.name for v in model.variables if not v.discrete)}",
                    "differentiate twice with respect to a variable of the model",
                )
        return "second", of, first, second
    wrt = _differentiable(_known_name(raw["wrt"], names, at / "wrt", what, model), model, at / "wrt")
    return ("backward" if raw["upstream"] is not None else "jacobian"), of, wrt, None


def _differentiable(name: str, model: Model, at: At) -> str:
    """Refuse differentiating with respect to a label or another integer variable."""
    if name in model.variable_names and model.variable(name).discrete:
        raise at.error(
            f"{name!r} takes integer values (labels or integers): nothing can be differentiated with respect to it",
            "differentiate with respect to a real variable; integer variables are inputs only",
        )
    return name


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
