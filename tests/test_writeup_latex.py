"""The grammar of written math and its translation into the formula language."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.backends import FLOAT64
from harness.formula import evaluate, parse as parse_formula
from harness.writeup.latex import MAX_CHARACTERS, LatexError, parse
from harness.writeup.notation import notation_for
from harness.writeup.translate import translate

NAMES = ("x", "w1", "b1", "w2", "b2", "z1", "a1", "z2", "yhat")
NOTATION = notation_for(NAMES)


def formula(latex: str, activation: str | None = "sigmoid") -> str:
    return translate(parse(latex), NOTATION).render(activation)


@pytest.mark.parametrize("latex, expected", [
    (r"\hat{y}(1 - \hat{y})", "(yhat * (1 - yhat))"),  # a product, not a call
    (r"\sigma(z_2)", "sigmoid(z2)"),
    (r"\sigma'(z_2) a_1", "((sigmoid(z2) * (1 - sigmoid(z2))) * a1)"),
    (r"s'(z_1)", "(sigmoid(z1) * (1 - sigmoid(z1)))"),
    (r"\varphi(z_1) + g(z_2)", "(sigmoid(z1) + sigmoid(z2))"),
    (r"W^{(2)} \cdot w^{[2]} \times \mathbf{w}_2 w_{2}", "((w2 * w2) * (w2 * w2))"),
    (r"\widehat{y} + y_{hat} + \hat y + \hat{\mathbf{y}}", "(((yhat + yhat) + yhat) + yhat)"),
    (r"\left( \frac{1}{1 + e^{-z_2}} \right)^{-1}", "((1 / (1 + exp((-z2)))) ** (-1))"),
    (r"\sqrt{x} + \sqrt[3]{x} + \exp(x) + \ln x + \log(x)",
     "((((sqrt(x) + (x ** (1 / 3))) + exp(x)) + log(x)) + log(x))"),
    (r"\frac{\partial \hat y}{\partial z_2}", "dyhat_dz2"),
    (r"\partial_{z_2}\hat y", "dyhat_dz2"),
    (r"d\hat y/dz_2", "dyhat_dz2"),
    (r"\frac{d\hat y}{dw_2}", "dyhat_dw2"),
    (r"\frac{\mathrm{d}\hat y}{\mathrm{d}w_2}", "dyhat_dw2"),
    (r"\nabla_{w_2} \hat y", "dyhat_dw2"),
    (r"a_1 \frac{\partial \hat y}{\partial z_2}", "(a1 * dyhat_dz2)"),
    (r"e", "exp(1)"),
    (r"a_1^2", "(a1 ** 2)"),
    (r"w_1^T x + x^\top", "(((w1).T * x) + (x).T)"),
    (r"s^\prime(z_1) + s^{\prime}(z_1)", "((sigmoid(z1) * (1 - sigmoid(z1))) + (sigmoid(z1) * (1 - sigmoid(z1))))"),
    (r"\sigma(z_2)^2 \exp(x)^{-1}", "((sigmoid(z2) ** 2) * (exp(x) ** (-1)))"),
    (r"\operatorname{softplus}(z_1) + \tanh(z_2) + \sin x", "((softplus(z1) + tanh(z2)) + sin(x))"),
    (r"W_2 \boldsymbol{w}_2 \{1 - x\}", "((w2 * w2) * (1 - x))"),
    (r"\frac{\partial}{\partial z_2}\hat y", "dyhat_dz2"),
])
def test_latex_translates_to_the_formula_language(latex, expected):
    assert formula(latex) == expected
    parse_formula(expected)  # and the formula language accepts it


def test_the_activation_is_rendered_for_each_member_of_the_family():
    expression = translate(parse(r"\sigma'(z_2)"), NOTATION)
    assert [expression.render(a) for a in ("sigmoid", "softplus", "tanh")] == [
        "(sigmoid(z2) * (1 - sigmoid(z2)))", "sigmoid(z2)", "(1 - tanh(z2) ** 2)"]
    assert expression.uses_activation


def test_a_derivative_of_an_expression_is_an_operator_to_evaluate():
    expression = translate(parse(r"\frac{\partial}{\partial z_2} \left( \log(1 + e^{z_2}) \right)"), NOTATION)
    assert expression.render(None) == "_op0"
    (operator,) = expression.operators
    assert (operator.body.render(None), operator.wrt) == ("log((1 + exp(z2)))", "z2")


@pytest.mark.parametrize("latex, message, column", [
    (r"a_1 + {b_2", "unbalanced '{': it is never closed", 6),
    (r"a_1 + b_2}", "unbalanced '}': nothing was opened before it", 9),
    (r"\foo(x)", "unknown macro \\foo", 0),
    (r"q + x", "unmapped symbol 'q'", 0),
    (r"x + \theta", "unmapped symbol '\\theta'", 4),
    (r"\frac{\partial \hat y}{\partial q}", "unmapped symbol 'q'", 32),
    (r"\frac{\partial \hat y}{\partial \sigma}", "the variable of a derivative must be a variable or quantity of "
                                                 "the model, not 'sigma'", 32),
    (r"a_1 +", "the expression ends too early", 5),
    (r"x \# y", "unexpected character '\\\\'", 2),
    (r"\sigma", "the function is applied to nothing", 0),
])
def test_bad_latex_is_a_latex_error_at_its_column(latex, message, column):
    with pytest.raises(LatexError) as caught:
        translate(parse(latex), NOTATION)
    assert caught.value.message.startswith(message)
    assert caught.value.column == column


def test_the_size_of_an_expression_is_limited_before_parsing():
    with pytest.raises(LatexError, match="too long"):
        parse("x+" * MAX_CHARACTERS)
    with pytest.raises(LatexError, match="nested too deeply"):
        parse("(" * 100 + "x" + ")" * 100)


def test_the_notation_section_maps_symbols_and_wins_over_defaults():
    notation = notation_for(NAMES, {"theta": "w1", "p": "yhat", "rho": "activation", "s": "x"})
    assert translate(parse(r"\theta p \rho(z_1) s"), notation).render("tanh") == "(((w1 * yhat) * tanh(z1)) * x)"


# -- properties --------------------------------------------------------------------------------

STYLES = {
    "yhat": [r"\hat{y}", r"\hat y", r"\widehat{y}", r"y_{hat}", r"\hat{\mathbf{y}}"],
    "a1": [r"a_1", r"\mathbf{a}_1", r"a^{(1)}", r"a^{[1]}", r"a_{1}", r"\boldsymbol{a}_1"],
    "w2": [r"w_2", r"\mathbf{w}_2", r"W^{(2)}", r"w^{[2]}", r"W_2"],
    "x": [r"x", r"\mathbf{x}", r"\mathbf x"],
}
TIMES = [" ", r" \cdot ", r" \times ", r"\,"]
OPEN_CLOSE = [("(", ")"), (r"\left(", r"\right)"), ("[", "]"), (r"\left[", r"\right]")]
FACTORS = ["yhat", "1-yhat", "w2", "a1", "1-a1", "x"]


@st.composite
def written_product(draw, factors=FACTORS):
    """The 2.4 answer yhat (1 - yhat) w2 a1 (1 - a1) x, in random order and notation."""
    order = draw(st.permutations(factors))
    parts = []
    for factor in order:
        name = factor.removeprefix("1-")
        symbol = draw(st.sampled_from(STYLES[name]))
        if factor.startswith("1-"):
            opening, closing = draw(st.sampled_from(OPEN_CLOSE))
            symbol = f"{opening}1 - {symbol}{closing}"
        parts.append(symbol)
    text = parts[0]
    for part in parts[1:]:
        text += draw(st.sampled_from(TIMES)) + part
    return text


VALUES = st.floats(0.05, 0.95)


@given(written_product(), st.fixed_dictionaries({name: VALUES for name in STYLES}))
@settings(max_examples=200, deadline=None)
def test_a_correct_formula_in_any_notation_has_the_value_of_the_formula(latex, values):
    env = {name: np.float64(value) for name, value in values.items()}
    got = evaluate(parse_formula(formula(latex)), env, FLOAT64)
    want = env["yhat"] * (1 - env["yhat"]) * env["w2"] * env["a1"] * (1 - env["a1"]) * env["x"]
    assert np.isclose(got, want, rtol=1e-12)


@given(written_product(FACTORS[:-1]), st.sampled_from(STYLES["x"]), st.sampled_from([r"2", r"-1", r"\frac{1}{2}"]),
       st.fixed_dictionaries({name: VALUES for name in STYLES}))
@settings(max_examples=100, deadline=None)
def test_a_perturbed_formula_in_any_notation_has_another_value(latex, x, factor, values):
    env = {name: np.float64(value) for name, value in values.items()}
    perturbed = f"{factor} {latex} {x}"
    got = evaluate(parse_formula(formula(perturbed)), env, FLOAT64)
    want = env["yhat"] * (1 - env["yhat"]) * env["w2"] * env["a1"] * (1 - env["a1"]) * env["x"]
    assert not np.isclose(got, want, rtol=1e-6)


DERIVATIVES = [r"\frac{\partial OF}{\partial WRT}", r"\partial_{WRT} OF", r"\nabla_{WRT} OF", r"dOF/dWRT",
               r"\frac{dOF}{dWRT}", r"\frac{\mathrm{d} OF}{\mathrm{d} WRT}", r"\frac{\partial}{\partial WRT} OF"]


@given(st.sampled_from(DERIVATIVES), st.sampled_from(STYLES["yhat"]), st.sampled_from(STYLES["w2"]))
def test_every_common_derivative_notation_is_the_same_derivative_symbol(template, of, wrt):
    latex = template.replace("OF", of).replace("WRT", wrt)
    assert translate(parse(latex), NOTATION).symbol == ("yhat", "w2")


@given(st.text(alphabet=st.sampled_from(list("\\{}()[]^_'+-*/=&$ xyzabe12frachatsigmaleftright")), max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_fails_with_a_latex_error_never_a_crash(text):
    try:
        translate(parse(text), NOTATION).render("sigmoid")
    except LatexError as error:
        assert 0 <= error.column <= len(text)
