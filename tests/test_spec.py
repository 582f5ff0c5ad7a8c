"""Tests of harness.spec: the bundled specs load as intended, malformed specs get precise errors."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.errors import SpecError
from harness.formula import DEFAULT_FUNCTIONS
from harness.spec import (
    Assignment,
    ClaimItem,
    DerivativeItem,
    GivenDerivative,
    Settings,
    load_spec,
    load_spec_text,
    schema,
    schema_text,
)

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
SCALAR = ROOT / "specs" / "q2_neural_networks.yaml"
VECTOR = ROOT / "specs" / "q2_neural_networks_vector.yaml"
WRONG_KEY = ROOT / "tests" / "fixtures" / "q2_wrong_key.yaml"
MALFORMED = Path("tests/fixtures/specs")

MINIMAL = """\
title: Minimal
variables:
  x: {}
  w: {}
model:
  y: sigmoid(w * x)
questions:
  - id: "1"
    title: One item
    module: q1
    items:
      - {function: dy_dw, points: 1, of: y, wrt: w}
"""


@pytest.fixture(scope="module")
def scalar() -> Assignment:
    return load_spec(SCALAR)


@pytest.fixture(scope="module")
def vector() -> Assignment:
    return load_spec(VECTOR)


# --- The Q2 specs -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SCALAR, VECTOR], ids=["scalar", "vector"])
def test_q2_specs_have_the_parts_points_and_activations_of_the_seed(path):
    assignment = load_spec(path)
    table = [
        (q.id, q.module, q.activations, [(item.name, item.points) for item in q.items])
        for q in assignment.questions
    ]
    assert table == [
        ("2.1", "q2_1", ("sigmoid", "softplus", "tanh"), [("dyhat_dw2", 1), ("dyhat_db2", 1)]),
        ("2.2", "q2_2", ("softplus",), [("dyhat_dw2", 1), ("dyhat_db2", 1)]),
        ("2.3", "q2_3", ("softplus",), [("dyhat_dx", 2), ("dyhat_dx_changes_with_b2", 1)]),
        ("2.4", "q2_4", ("sigmoid",), [("dyhat_dw1", 3)]),
    ]
    assert assignment.model.activation == "s"
    assert [(name, formula.source) for name, formula in assignment.model.quantities][1:] == [
        ("a1", "s(z1)"),
        ("z2", assignment.model.quantities[2][1].source),
        ("yhat", "s(z2)"),
    ]
    assert all(v.domain == (-5.0, 5.0) for v in assignment.model.variables)
    assert assignment.model.variable_names == ("x", "w1", "b1", "w2", "b2")


@pytest.mark.parametrize("path", [SCALAR, VECTOR], ids=["scalar", "vector"])
def test_every_derivative_item_of_the_q2_specs_has_an_answer_key(path):
    assignment = load_spec(path)
    derivatives = [i for q in assignment.questions for i in q.items if isinstance(i, DerivativeItem)]
    assert len(derivatives) == 6
    assert all(item.expected is not None for item in derivatives)


def test_q2_claim_is_that_dyhat_dx_changes_with_b2(scalar):
    claim = scalar.question("2.3").item("dyhat_dx_changes_with_b2")
    assert claim == ClaimItem(
        name="dyhat_dx_changes_with_b2",
        points=1,
        statement="d yhat / d x changes when b2 changes",
        of="yhat",
        wrt="x",
        changes_with="b2",
        truth=True,
        rtol=1e-8,
        atol=1e-12,
        examples=100,
        visibility="visible",
        line=claim.line,
    )
    assert SCALAR.read_text().splitlines()[claim.line - 1].strip() == "- claim: dyhat_dx_changes_with_b2"


def test_question_2_1_hands_its_functions_dyhat_dz2(vector):
    question = vector.question("2.1")
    item = question.item("dyhat_dw2")
    assert item.given == (GivenDerivative("dyhat_dz2", of="yhat", wrt="z2"),)
    assert question.offered(item) == ("x", "w1", "b1", "w2", "b2", "z1", "a1", "z2", "yhat", "dyhat_dz2")
    assert vector.question("2.2").offered(vector.question("2.2").item("dyhat_dw2"))[-1] == "yhat"
    assert question.offered(vector.question("2.3").item("dyhat_dx_changes_with_b2")) == ()


def test_vector_item_shapes_are_the_output_shape_followed_by_the_variable_shape(vector):
    sizes = {"H": 3, "D": 2}
    shapes = {
        (q.id, item.name): vector.item_shape(item, sizes) for q in vector.questions for item in q.items
    }
    assert shapes == {
        ("2.1", "dyhat_dw2"): (3,),
        ("2.1", "dyhat_db2"): (),
        ("2.2", "dyhat_dw2"): (3,),
        ("2.2", "dyhat_db2"): (),
        ("2.3", "dyhat_dx"): (2,),
        ("2.3", "dyhat_dx_changes_with_b2"): (2,),
        ("2.4", "dyhat_dw1"): (3, 2),
    }
    given = vector.question("2.1").item("dyhat_dw2").given[0]
    assert vector.item_shape(given, sizes) == ()
    assert vector.symbolic_shape("w1") == ("H", "D")
    assert vector.model.dimensions == (("D", (1, 4)), ("H", (1, 4)))


def test_scalar_edition_is_all_scalars(scalar):
    assert {shape for _, shape in scalar.shapes} == {()}
    assert scalar.model.dimensions == ()


def test_items_take_the_settings_unless_they_override_them():
    text = MINIMAL.replace(
        "      - {function: dy_dw, points: 1, of: y, wrt: w}",
        "      - {function: dy_dw, points: 1, of: y, wrt: w, rtol: 1e-6, visibility: hidden}\n"
        "      - {function: dy_dx, points: 2.5, of: y, wrt: x}",
    ).replace("variables:", "settings: {examples: 7, atol: 0, seed: 3}\nvariables:")
    assignment = load_spec_text(text, "inline.yaml")
    first, second = assignment.questions[0].items
    assert (first.rtol, first.atol, first.examples, first.visibility) == (1e-6, 0.0, 7, "hidden")
    assert (second.rtol, second.atol, second.examples, second.visibility) == (1e-8, 0.0, 7, "visible")
    assert second.points == 2.5
    assert assignment.settings == Settings(examples=7, atol=0.0, seed=3)


def test_defaults_are_a_scalar_in_minus_5_to_5_and_the_documented_settings():
    assignment = load_spec_text(MINIMAL, "minimal.yaml")
    assert assignment.model.variables[0].shape == ()
    assert assignment.model.variables[0].domain == (-5.0, 5.0)
    assert assignment.settings == Settings(
        examples=100, rtol=1e-8, atol=1e-12, seed=0, call_timeout=2.0,
        submission_timeout=120.0, reference_digits=30, visibility="visible",
    )
    assert assignment.questions[0].activations == ()
    assert assignment.questions[0].prompt == ""


def test_digest_is_the_sha256_of_the_file_bytes(scalar):
    assert scalar.digest == hashlib.sha256(SCALAR.read_bytes()).hexdigest()
    assert scalar.path == str(SCALAR)


def test_unknown_question_lookup_names_the_known_ids(scalar):
    with pytest.raises(KeyError, match=re.escape("no question '9.9'")) as info:
        scalar.question("9.9")
    assert "2.1, 2.2, 2.3, 2.4" in str(info.value)


def test_wrong_key_fixture_is_the_scalar_spec_with_one_answer_key_changed(scalar):
    wrong = load_spec(WRONG_KEY)
    keys = {
        (q.id, i.name): i.expected.source
        for q in scalar.questions for i in q.items if isinstance(i, DerivativeItem)
    }
    wrong_keys = {
        (q.id, i.name): i.expected.source
        for q in wrong.questions for i in q.items if isinstance(i, DerivativeItem)
    }
    changed = {key for key in keys if keys[key] != wrong_keys[key]}
    assert changed == {("2.4", "dyhat_dw1")}
    assert wrong.model.variables == scalar.model.variables
    assert [(n, f.source) for n, f in wrong.model.quantities] == [(n, f.source) for n, f in scalar.model.quantities]


def test_yaml_1_2_exponent_floats_are_numbers():
    text = MINIMAL.replace("variables:", "settings: {rtol: 1e-6, atol: 2E-9}\nvariables:")
    assert load_spec_text(text, "floats.yaml").settings.rtol == 1e-6


# --- Malformed specs: each gets the whole precise message ---------------------------------------

MESSAGES = {
    "yaml_syntax_error.yaml": """\
{path}:3: YAML syntax error: while parsing a flow sequence, expected ',' or ']', but got '}}'
  hint: check the indentation and the quoting on this line and the one before; quote a value \
that starts with one of * & ! | > % @ ` [ {{ or contains ': '""",
    "unknown_key.yaml": """\
{path}:16: at questions[0].items[0].wtr: unknown key 'wtr'; expected one of: function, points, \
of, wrt, upstream, value, given, expected, rtol, atol, examples, visibility
  hint: did you mean 'wrt'?""",
    "points_not_a_number.yaml": """\
{path}:13: at questions[0].items[0].points: expected a number >= 0; found 'two' (a string)""",
    "negative_points.yaml": """\
{path}:13: at questions[0].items[0].points: expected a number >= 0; found -1 (an integer)""",
    "missing_required_key.yaml": """\
{path}:12: at questions[0].items[0]: missing required key 'wrt'
  hint: add 'wrt: ...': the variable (or quantity) it is differentiated with respect to.""",
    "undefined_name.yaml": """\
{path}:9: at model.yhat: undefined name 'a' in 'sigmoid(w2 * a)'; expected a variable or an \
earlier quantity: x, w1, w2, z1, a1
  hint: did you mean 'a1'?""",
    "unknown_of_name.yaml": """\
{path}:15: at questions[0].items[0].of: unknown name 'yht'; expected a variable or quantity of \
the model: x, w, z, yhat
  hint: did you mean 'yhat'?""",
    "formula_outside_whitelist.yaml": """\
{path}:6: at model.z: invalid formula 'w * x.__class__': attribute access '.__class__' is not \
allowed: the only attribute is '.T' (transpose) (column 5)
    w * x.__class__
        ^
  hint: the formula language is described in docs/spec-format.md""",
    "cyclic_model.yaml": """\
{path}:10: at model.a1: cyclic definition: a1 -> z2 -> a1
  hint: a quantity may use only variables and the quantities defined above it""",
    "forward_reference.yaml": """\
{path}:7: at model.z2: 'z2' uses 'a1', which is defined later (line 9)
  hint: move 'a1' above 'z2': each quantity may use only variables and the quantities defined \
above it""",
    "shapes_disagree.yaml": """\
{path}:10: at model.z1: shapes do not agree in 'w1 @ x + b1': cannot apply @ to shapes [H, D] and \
[H]: the inner dimensions D and H differ (column 1)
    w1 @ x + b1
    ^
  hint: the shapes involved: x [H], w1 [H, D], b1 [H]""",
    "reversed_domain.yaml": """\
{path}:3: at variables.x.domain: expected a domain [low, high] of finite numbers, low < high; \
found [5, -5], which is empty: the low end is above the high end
  hint: write [-5, 5]""",
    "reversed_dimension_range.yaml": """\
{path}:3: at dimensions.D: expected a range [low, high] of sizes >= 1, low <= high; found [4, 1], \
which is empty: the low end is above the high end
  hint: write [1, 4]""",
    "unknown_dimension.yaml": """\
{path}:7: at variables.w1.shape[1]: unknown dimension 'DD'; declared dimensions: D, H
  hint: did you mean 'D'?""",
    "activation_not_elementwise.yaml": """\
{path}:13: at questions[0].activation[1]: expected an elementwise function, one of abs, arctan, cos, \
exp, expm1, log, log1p, relu, sigmoid, sin, softplus, sqrt, tanh; found 'sofplus' (a string)
  hint: did you mean 'softplus'?""",
    "activation_without_placeholder.yaml": """\
{path}:11: at questions[0].activation: found activation 'softplus', but the model has no \
activation placeholder to bind
  hint: remove this key, or declare 'activation: {{name: s}}' at the top and call s(...) in the model""",
    "missing_activation.yaml": """\
{path}:10: at questions[0]: missing required key 'activation': the model calls the placeholder \
's', so the question must say what it stands for
  hint: add 'activation: sigmoid', or a family such as 'activation: [sigmoid, softplus, tanh]'""",
    "duplicate_question_id.yaml": """\
{path}:13: at questions[1].id: duplicate question id '1' (also at questions[0], line 8)
  hint: give every question its own id""",
    "duplicate_item_name.yaml": """\
{path}:13: at questions[0].items[1].function: duplicate name 'dy_dw' in module 'q1' (also at \
questions[0].items[0], line 12)
  hint: each function or claim of a module needs its own name""",
    "expected_wrong_shape.yaml": """\
{path}:21: at questions[0].items[0].expected: the answer key 'yhat * (1 - yhat) * w2 * a1 * \
(1 - a1)' has shape [H], but d yhat / d w1 has shape [H, D] (the shape of yhat, [], followed by \
the shape of w1, [H, D])
  hint: a Jacobian's shape is shape(of) + shape(wrt); outer(u, v) builds a matrix from two vectors""",
    "bad_setting.yaml": """\
{path}:4: at settings.visibility: expected one of visible, hidden, after_due_date, \
after_published; found 'after_due' (a string)
  hint: did you mean 'after_due_date'?""",
    "unquoted_question_id.yaml": """\
{path}:8: at questions[0].id: expected non-empty text; found 2.1 (a number)
  hint: quote it so that YAML keeps it as text: "2.1\"""",
    "claim_changes_with_quantity.yaml": """\
{path}:18: at questions[0].items[0].changes_with: 'z' is a quantity of the model; expected a \
variable: x, w, b
  hint: a claim changes one input of the model and recomputes the quantities from it""",
    "duplicate_yaml_key.yaml": """\
{path}:7: at model: duplicate key 'y' (first defined on line 6)
  hint: YAML would silently keep only the last one; remove or rename one of them""",
}


def test_every_malformed_fixture_has_its_message_asserted():
    assert sorted(p.name for p in (ROOT / MALFORMED).glob("*.yaml")) == sorted(MESSAGES)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_malformed_spec_is_rejected_with_the_whole_precise_message(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    path = MALFORMED / name
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == MESSAGES[name].format(path=path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty.yaml:1: the file is empty\n  hint: a spec needs at least title, variables, "
             "model and questions"),
        ("- just\n- a list\n", "empty.yaml:1: expected a mapping with the keys title, variables, "
                               "model and questions; found ['just', 'a list'] (a list)"),
        (MINIMAL.replace("  y: sigmoid", "  exp: sigmoid"),
         "empty.yaml:6: at model.exp: 'exp' is the name of a function of the formula language\n"
         "  hint: rename it, such as exp_value"),
        (MINIMAL.replace("  w: {}", "  x: {}"),
         "empty.yaml:4: at variables: duplicate key 'x' (first defined on line 3)\n  hint: YAML would "
         "silently keep only the last one; remove or rename one of them"),
        (MINIMAL.replace("      - {function", "      - {claim: c, function"),
         "empty.yaml:12: at questions[0].items[0]: an item has exactly one of the keys 'function' or "
         "'claim'; found both 'function' and 'claim'\n  hint: use 'function: <name>' for a derivative "
         "the student computes, 'claim: <name>' for a true/false constant the student sets"),
        (MINIMAL.replace("title: Minimal", "title: Minimal\nsettings: {examples: 0}"),
         "empty.yaml:2: at settings.examples: expected an integer >= 1; found 0 (an integer)"),
        (MINIMAL.replace("title: Minimal", "title: Minimal\nsettings: {rtol: '1e-8'}"),
         "empty.yaml:2: at settings.rtol: expected a number >= 0; found '1e-8' (a string)\n"
         "  hint: remove the quotes: 1e-8"),
        (MINIMAL.replace("  x: {}", "  x: {shape: D}"),
         "empty.yaml:3: at variables.x.shape: expected a shape: a list of dimension names or "
         "positive sizes, [] for a scalar; found 'D' (a string)\n  hint: a vector is written as a list: [D]"),
        (MINIMAL.replace("  x: {}", "  x: {domain: [1, 1]}"),
         "empty.yaml:3: at variables.x.domain: expected a domain [low, high] of finite numbers, "
         "low < high; found [1, 1], which is a single point\n  hint: give it room, e.g. [low, low + 1]"),
        (MINIMAL.replace("module: q1", "module: q1.py"),
         "empty.yaml:10: at questions[0].module: expected a name (a letter, then letters, digits or "
         "underscores); found 'q1.py' (a string)"),
        (MINIMAL.replace("dy_dw,", "lambda,"),
         "empty.yaml:12: at questions[0].items[0].function: expected a name (a letter, then letters, "
         "digits or underscores); found 'lambda', a Python keyword\n  hint: choose another name: a "
         "keyword cannot be a parameter or module name"),
        (MINIMAL.replace("title: Minimal", "title: Minimal\nactivation: {name: s}"),
         "empty.yaml:2: at activation.name: the placeholder 's' is declared but no formula of the "
         "model calls it\n  hint: use it in the model, such as 'a1: s(z1)', or remove the activation key"),
        (MINIMAL.replace("title: Minimal", "title: Minimal\nactivation: {name: tanh}"),
         "empty.yaml:2: at activation.name: the placeholder 'tanh' is already a function of the "
         "formula language\n  hint: choose a name that is not a library function, such as s or g; "
         "questions bind it to 'tanh' with 'activation: tanh'"),
        (MINIMAL.replace("wrt: w}", "wrt: w, given: {y: {of: y, wrt: x}}}"),
         "empty.yaml:12: at questions[0].items[0].given.y: 'y' is already a variable or quantity of "
         "the model\n  hint: a given derivative needs a name of its own, such as dy_dx"),
        (MINIMAL.replace("sigmoid(w * x)", "s(w * x)"),
         "empty.yaml:6: at model.y: invalid formula 's(w * x)': unknown function 's'; the functions "
         "are: abs, arccos, arcsin, arctan, clip, cos, cosh, det, diag, dot, exp, expm1, eye, heaviside, inv, log, log1p, "
         "log_softmax, logdet, logsumexp, max, maximum, mean, min, minimum, norm, onehot, ones, outer, relu, "
         "sigmoid, sin, sinh, softmax, softplus, solve, sqrt, sum, tan, tanh, trace, transpose (column 1)\n    s(w * x)\n    ^\n  hint: if 's' stands for an activation each "
         "question chooses, declare it at the top level: 'activation: {name: s}'"),
    ],
)
def test_more_mistakes_are_rejected_with_precise_messages(text, message):
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "empty.yaml")
    assert str(info.value) == message


def test_spec_error_is_also_a_value_error():
    with pytest.raises(ValueError):
        load_spec_text("title: [", "broken.yaml")


def test_an_unreadable_spec_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match=re.escape("missing.yaml: cannot read the spec: No such file")):
        load_spec(tmp_path / "missing.yaml")


# --- The JSON Schema ---------------------------------------------------------------------------


def test_committed_schema_is_the_one_the_loader_generates():
    committed = (ROOT / "harness" / "spec.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "harness/spec.schema.json is out of date; regenerate it with\n"
        "  python -c 'from harness.spec import schema_text; print(schema_text(), end=\"\")' "
        "> harness/spec.schema.json"
    )


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("path", SPECS + [WRONG_KEY], ids=lambda p: p.name)
def test_bundled_specs_are_valid_under_the_schema(path):
    jsonschema.Draft202012Validator(schema()).validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize(
    "name",
    ["unknown_key.yaml", "points_not_a_number.yaml", "negative_points.yaml", "missing_required_key.yaml",
     "activation_not_elementwise.yaml", "bad_setting.yaml",
     "unquoted_question_id.yaml"],
)
def test_schema_also_rejects_the_structural_mistakes(name):
    data = yaml.safe_load((ROOT / MALFORMED / name).read_text())
    assert list(jsonschema.Draft202012Validator(schema()).iter_errors(data))


def test_schema_is_shipped_as_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'\[tool\.setuptools\.package-data\]\s*harness = \[[^\]]*"\*\.json"', pyproject)


def test_every_key_of_the_format_is_documented():
    documented = (ROOT / "docs" / "spec-format.md").read_text()

    def keys(node: dict):
        for name, child in node.get("properties", {}).items():
            yield name
            yield from keys(child)
        for child in node.get("oneOf", []):
            yield from keys(child)
        for part in ("items", "additionalProperties"):
            if isinstance(node.get(part), dict):
                yield from keys(node[part])

    missing = sorted({key for key in keys(schema()) if f"`{key}`" not in documented})
    assert missing == []


def test_every_function_of_the_formula_language_is_documented():
    documented = (ROOT / "docs" / "spec-format.md").read_text()
    assert sorted(f for f in DEFAULT_FUNCTIONS if not re.search(rf"`{f}[`(]", documented)) == []


def test_schema_defaults_match_the_settings_dataclass():
    properties = schema()["properties"]["settings"]["properties"]
    assert {name: entry["default"] for name, entry in properties.items()} == json.loads(
        json.dumps(Settings().__dict__)
    )


# --- Issue 10: per-question models, labels, item kinds ----------------------------------------

SHEET = """\
title: Sheet
variables:
  x: {}
model:
  f: x ** 2
questions:
  - id: "1"
    title: Top-level model
    module: sheet
    items:
      - {function: df, points: 1, of: f, wrt: x}
  - id: "2"
    title: Its own x and function
    module: sheet
    variables:
      x: {domain: [-0.9, 5]}
      c: {integers: [1, 3]}
    model:
      g: log(x ** 3 + 1) * c
    items:
      - {function: dg, points: 1, of: g, wrt: x}
      - {function: g_value, points: 1, value: g}
      - {function: d2g, points: 1, of: g, wrt: [x, x]}
"""


def test_a_question_may_declare_its_own_variables_domains_and_quantities():
    assignment = load_spec_text(SHEET, "sheet.yaml")
    first, second = assignment.questions
    assert first.model is assignment.model and not first.own_model
    assert second.own_model and second.model.variable_names == ("x", "c")
    assert second.model.variable("x").domain == (-0.9, 5.0)
    assert second.model.variable("c").discrete and second.model.variable("c").integer_range({}) == (1, 3)
    assert second.model.quantity_names == ("f", "g")
    assert [(item.kind, item.of, item.wrt, item.wrt2) for item in second.items] == [
        ("jacobian", "g", "x", None), ("value", "g", "", None), ("second", "g", "x", "x")]


def test_a_backward_pass_adds_its_upstream_gradient_shaped_like_of():
    text = """\
title: Layers
dimensions: {N: [1, 3], D: [1, 2]}
questions:
  - id: "1"
    title: Affine
    module: layers
    variables:
      x: {shape: [N, D]}
      W: {shape: [D, D]}
    model:
      out: x @ W
    items:
      - {function: dx, points: 1, of: out, wrt: x, upstream: dout, expected: dout @ W.T}
"""
    question = load_spec_text(text, "layers.yaml").questions[0]
    assert question.model.variable("dout").shape == ("N", "D")
    assert question.items[0].kind == "backward"
    with pytest.raises(SpecError) as caught:
        load_spec_text(text.replace("expected: dout @ W.T", "expected: W"), "layers.yaml")
    assert str(caught.value) == (
        "layers.yaml:13: at questions[0].items[0].expected: the answer key 'W' has shape [D, D], but dout "
        "contracted with d out / d x has shape [N, D] (the shape of x)\n  hint: a backward pass returns a "
        "gradient shaped like wrt: the upstream gradient contracted with the Jacobian"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("wrt: [x, x]", "wrt: [x, g]", "at questions[1].items[2].wrt[1]: 'g' is a quantity; a second derivative is "
         "taken with respect to variables: x"),
        ("wrt: [x, x]", "wrt: [x, c]", "at questions[1].items[2].wrt[1]: 'c' takes integer values"),
        ("g: log(x ** 3 + 1) * c", "pi: log(x ** 3 + 1) * c", "at questions[1].model.pi: 'pi' is the name of a "
         "constant of the formula language"),
        ("{function: g_value, points: 1, value: g}", "{function: g_value, points: 1}",
         "at questions[1].items[1]: missing required key 'of'"),
    ],
)
def test_mistakes_in_per_question_models_and_item_kinds_name_the_key(old, new, message):
    with pytest.raises(SpecError) as caught:
        load_spec_text(SHEET.replace(old, new), "sheet.yaml")
    assert message in str(caught.value)
