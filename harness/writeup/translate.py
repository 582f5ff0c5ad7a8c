"""Translate a parsed LaTeX expression into the formula language, with its derivative symbols.

``translate`` reads a ``harness.writeup.latex`` tree with a ``Notation`` and gives an
``Expression``: a small tree that renders to a formula-language source (``render``) for a given
activation, plus what it needs beyond the model's values: the derivative symbols it contains
(``\\frac{\\partial \\hat y}{\\partial z_2}`` is the name ``dyhat_dz2``, whose value is the true
derivative) and the derivatives of whole expressions still to be taken
(``\\frac{\\partial}{\\partial z_2}\\left(\\log(1 + e^{z_2})\\right)``, an ``Operator``).

Juxtaposition is read here: a function symbol (the activation, ``\\exp``, ``\\log``) applies to
the factor after it, a derivative operator (``\\partial_{z_2}``, ``\\nabla_{w_2}``,
``\\frac{d}{dz}``) to the factor after it, and anything else multiplies, so
``\\hat{y}(1 - \\hat{y})`` is a product. A problem is a ``LatexError`` at the symbol's column.
"""

from __future__ import annotations

from dataclasses import dataclass
from harness.writeup.latex import (
    Binary, Command, Frac, Group, LatexError, Letters, Negate, Node, Number, Root, Scripted, Seq, Styled,
)  # fmt: skip
from harness.writeup.notation import CONSTANTS, FUNCTION_NAMES, GREEK, Meaning, Notation

_ACCENT_SUFFIX = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
                  "widetilde": "tilde", "dot": "dot", "check": "check"}

_DERIVATIVE_OF = {
    "sigmoid": "(sigmoid({0}) * (1 - sigmoid({0})))",
    "softplus": "sigmoid({0})",
    "tanh": "(1 - tanh({0}) ** 2)",
    "exp": "exp({0})",
    "log": "(1 / ({0}))",
    "sqrt": "(1 / (2 * sqrt({0})))",
    "sin": "cos({0})",
    "cos": "(-sin({0}))",
}
"""The derivative of each function a write-up may prime (``\\sigma'(z)``), in the formula language."""

# -- the translated tree -----------------------------------------------------------------------

# A translated expression is a tree of tuples, rendered to formula source by ``_render``:
# ("num", text) | ("name", id) | ("bin", op, tree, tree) | ("neg", tree) | ("pow", tree, tree)
# | ("T", tree) | ("call", library function or "ACTIVATION", primes, tree).


@dataclass(frozen=True)
class Operator:
    """A derivative still to be taken: d ``body`` / d ``wrt``, standing in the formula as ``name``."""

    name: str
    body: Expression
    wrt: str


@dataclass(frozen=True)
class Expression:
    """One translated side of an equation."""

    tree: tuple
    derivatives: frozenset[tuple[str, str]]
    """Every derivative symbol (of, wrt) it contains; each is the name ``derivative_name(of, wrt)``."""
    operators: tuple[Operator, ...]
    uses_activation: bool

    @property
    def symbol(self) -> tuple[str, str] | None:
        """(of, wrt) when the whole expression is one derivative symbol, else ``None``."""
        if self.tree[0] == "name" and not self.operators:
            for pair in self.derivatives:
                if derivative_name(*pair) == self.tree[1]:
                    return pair
        return None

    def render(self, activation: str | None, rename: dict[str, str] | None = None) -> str:
        """The formula-language source, the activation bound to ``activation`` (default sigmoid)."""
        return _render(self.tree, activation or "sigmoid", rename or {})


def derivative_name(of: str, wrt: str) -> str:
    """The formula name of the derivative symbol d ``of`` / d ``wrt``: ``dyhat_dz2``."""
    return f"d{of}_d{wrt}"


def _render(tree: tuple, activation: str, rename: dict[str, str]) -> str:
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "name":
        return rename.get(tree[1], tree[1])
    if kind == "neg":
        return f"(-{_render(tree[1], activation, rename)})"
    if kind == "bin":
        return f"({_render(tree[2], activation, rename)} {tree[1]} {_render(tree[3], activation, rename)})"
    if kind == "pow":
        return f"({_render(tree[1], activation, rename)} ** {_render(tree[2], activation, rename)})"
    if kind == "T":
        return f"({_render(tree[1], activation, rename)}).T"
    function, primes, argument = tree[1], tree[2], _render(tree[3], activation, rename)
    if function == "ACTIVATION":
        function = activation
    if primes == 0:
        return f"{function}({argument})"
    return _DERIVATIVE_OF[function].format(argument)


# -- symbols -----------------------------------------------------------------------------------


def symbol_key(node: Node) -> str | None:
    """The key of a node that writes one symbol (``\\hat{y}`` -> ``yhat``, ``W^{(2)}`` -> ``W2``)."""
    if isinstance(node, Letters):
        return node.text
    if isinstance(node, Command) and (node.name in GREEK or node.name in FUNCTION_NAMES):
        return node.name
    if isinstance(node, Styled):
        inner = symbol_key(node.body)
        if inner is None:
            return None
        return inner + _ACCENT_SUFFIX[node.accent] if node.accent else inner
    if isinstance(node, Group) and node.bracket == "{" and node.body is not None:
        return symbol_key(node.body)
    if isinstance(node, Scripted) and node.primes == 0:
        base = symbol_key(node.base)
        if base is None:
            return None
        index = ""
        if node.sub is not None:
            sub = _index(node.sub)
            if sub is None:
                return None
            index += sub
        if node.sup is not None:
            sup = _layer(node.sup)
            if sup is None:
                return None
            index += sup
        return base + index
    return None


def _index(node: Node) -> str | None:
    """A subscript's text when it is an index (``2``, ``{hat}``, ``{12}``)."""
    if isinstance(node, Number):
        return node.text if node.text.isdigit() else None
    if isinstance(node, Letters):
        return node.text
    if isinstance(node, Group) and node.bracket == "{" and node.body is not None:
        return _index(node.body)
    if isinstance(node, Seq) and all(isinstance(item, (Number, Letters)) for item in node.items):
        parts = [_index(item) for item in node.items]
        return None if None in parts else "".join(parts)
    return None


def _layer(node: Node) -> str | None:
    """A superscript's layer index: ``^{(2)}`` or ``^{[2]}``; ``None`` for a power."""
    if isinstance(node, Group) and node.bracket == "{" and node.body is not None:
        return _layer(node.body)
    if isinstance(node, Group) and node.bracket in "([" and node.body is not None:
        return _index(node.body)
    return None


# -- translation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    """One factor of a juxtaposition, before it is read: a value, a function, d, or an operator."""

    kind: str  # "value", "function", "d", "operator"
    node: Node
    meaning: Meaning | None = None
    primes: int = 0
    wrt: str = ""


class _Translator:
    def __init__(self, notation: Notation) -> None:
        self.notation = notation
        self.derivatives: set[tuple[str, str]] = set()
        self.operators: list[Operator] = []
        self.uses_activation = False

    def expression(self, node: Node) -> Expression:
        tree = self.value(node)
        return Expression(tree, frozenset(self.derivatives), tuple(self.operators), self.uses_activation)

    def fail(self, message: str, node: Node) -> LatexError:
        return LatexError(message, node.column)

    # the value of a node
    def value(self, node: Node) -> tuple:
        if isinstance(node, Number):
            return ("num", node.text)
        if isinstance(node, Binary):
            if node.op == "/":
                derivative = self.slash_derivative(node)
                if derivative is not None:
                    return derivative
            return ("bin", node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, Negate):
            return ("neg", self.value(node.operand))
        if isinstance(node, Frac):
            return self.fraction(node)
        if isinstance(node, Root):
            body = self.value(node.body)
            if node.degree is None:
                return ("call", "sqrt", 0, body)
            return ("pow", body, ("bin", "/", ("num", "1"), self.value(node.degree)))
        if isinstance(node, Group):
            if node.body is None:
                raise self.fail("empty braces '{}' where a value was expected", node)
            return self.value(node.body)
        return self.sequence(self.pieces(node), node)

    def fraction(self, node: Frac) -> tuple:
        numerator = self.pieces(node.numerator)
        denominator = self.pieces(node.denominator)
        wrt = self.differential(denominator, node.denominator)
        if wrt is not None and numerator and numerator[0].kind == "d":
            if len(numerator) == 1:  # \frac{d}{dz} is an operator; a bare one has nothing to act on
                raise self.fail("the derivative operator is applied to nothing: write \\frac{d}{dz} f", node)
            return self.derivative_of(self.sequence(numerator[1:], node.numerator), numerator[1:], wrt, node)
        return ("bin", "/", self.value(node.numerator), self.value(node.denominator))

    def slash_derivative(self, node: Binary) -> tuple | None:
        """``d\\hat y/dz_2`` (with factors before the ``d`` multiplying it), else ``None``."""
        left, right = self.pieces(node.left), self.pieces(node.right)
        marks = [i for i, piece in enumerate(left) if piece.kind == "d"]
        if not marks or len(right) < 2 or right[0].kind != "d":
            return None
        wrt = self.differential(right[:2], node.right)
        if wrt is None:
            return None
        at = marks[-1]
        body = left[at + 1 :]
        if not body:
            return None
        result = self.derivative_of(self.sequence(body, node.left), body, wrt, node)
        factors = [self.sequence(left[:at], node.left)] if at else []
        if len(right) > 2:
            factors.append(self.sequence(right[2:], node.right))
        for factor in factors:
            result = ("bin", "*", factor, result)
        return result

    def differential(self, pieces: list[_Piece], node: Node) -> str | None:
        """The model name of ``d z`` / ``\\partial z`` written as ``pieces``, else ``None``."""
        if len(pieces) != 2 or pieces[0].kind != "d":
            return None
        return self.model_name(pieces[1], node, "the variable of a derivative")

    def model_name(self, piece: _Piece, node: Node, what: str) -> str:
        if piece.kind != "value" or piece.meaning is None or piece.meaning.kind != "name":
            key = symbol_key(piece.node)
            raise self.fail(f"{what} must be a variable or quantity of the model, not '{key or 'this'}'", piece.node)
        return piece.meaning.target

    def derivative_of(self, value: tuple, pieces: list[_Piece], wrt: str, node: Node) -> tuple:
        """d ``value`` / d ``wrt``: a derivative symbol when ``value`` is one model name."""
        if value[0] == "name" and len(pieces) == 1 and pieces[0].meaning is not None:
            self.derivatives.add((value[1], wrt))
            return ("name", derivative_name(value[1], wrt))
        name = f"_op{len(self.operators)}"
        self.operators.append(Operator(name, Expression(value, frozenset(), (), self.uses_activation), wrt))
        return ("name", name)

    # juxtaposition
    def pieces(self, node: Node) -> list[_Piece]:
        """The factors of ``node`` read as a juxtaposition (a run of letters may be several)."""
        if isinstance(node, Group) and node.bracket == "{" and node.body is not None:
            return self.pieces(node.body)
        if isinstance(node, Seq):
            return [piece for item in node.items for piece in self.pieces(item)]
        return self.piece(node)

    def piece(self, node: Node) -> list[_Piece]:
        notation = self.notation
        if isinstance(node, Frac):
            numerator = self.pieces(node.numerator)
            if len(numerator) == 1 and numerator[0].kind == "d":  # \frac{\partial}{\partial z}: an operator
                wrt = self.differential(self.pieces(node.denominator), node.denominator)
                if wrt is not None:
                    return [_Piece("operator", node, wrt=wrt)]
        key = symbol_key(node)
        if key is not None:
            meaning = notation.meaning(key)
            if meaning is not None:
                return [self.classify(node, meaning, 0)]
        if isinstance(node, Letters) and len(node.text) > 1:
            return [piece for i, char in enumerate(node.text)
                    for piece in self.piece(Letters(char, node.column + i))]
        if isinstance(node, Scripted):
            return self.scripted(node)
        if isinstance(node, Command):
            if node.name == "partial":
                return [_Piece("d", node)]
            if node.name in CONSTANTS:
                return [_Piece("value", Number(CONSTANTS[node.name], node.column))]
            if node.name in GREEK:
                raise self.unmapped("\\" + node.name, node)
            raise self.fail(f"unknown macro \\{node.name}", node)
        if isinstance(node, Styled):
            if node.command in ("mathrm", "operatorname", "text") and isinstance(node.body, (Letters, Group)):
                inner = symbol_key(node.body)
                if inner == "d":
                    return [_Piece("d", node)]
            inner_pieces = self.pieces(node.body)
            if node.accent is None:
                return inner_pieces
            raise self.unmapped(key or node.command, node)
        if key is not None:
            raise self.unmapped(key, node)
        return [_Piece("value", node)]

    def classify(self, node: Node, meaning: Meaning, primes: int) -> _Piece:
        if meaning.kind in ("activation", "function"):
            return _Piece("function", node, meaning, primes)
        if meaning.kind == "d":
            return _Piece("d", node, meaning)
        if primes:
            raise self.fail("a prime (') marks the derivative of a function; this symbol is a value", node)
        return _Piece("value", node, meaning)

    def scripted(self, node: Scripted) -> list[_Piece]:
        base = node.base
        if isinstance(base, Command) and base.name in ("partial", "nabla") and node.sub is not None and node.sup is None:
            wrt_pieces = self.pieces(node.sub)
            if len(wrt_pieces) != 1:
                raise self.fail("the variable of a derivative must be one symbol", node.sub)
            return [_Piece("operator", node, wrt=self.model_name(wrt_pieces[0], node.sub, "the variable of a derivative"))]
        if isinstance(base, Letters) and len(base.text) > 1 and symbol_key(base) is not None \
                and self.notation.meaning(base.text) is None:
            # dz_2: the scripts belong to the last letter of the run
            head = [piece for i, char in enumerate(base.text[:-1]) for piece in self.piece(Letters(char, base.column + i))]
            last = Scripted(Letters(base.text[-1], base.column + len(base.text) - 1), node.sub, node.sup, node.primes,
                            base.column + len(base.text) - 1)
            return head + self.piece(last)
        if node.primes and node.sub is None and node.sup is None:
            key = symbol_key(base)
            meaning = self.notation.meaning(key) if key else None
            if meaning is None or meaning.kind not in ("activation", "function"):
                raise self.fail(f"a prime (') marks the derivative of a function; {key or 'this'!r} is not one", node)
            if meaning.kind == "function" and meaning.target not in _DERIVATIVE_OF:
                raise self.fail(f"the derivative of {meaning.target} is not known", node)
            return [self.classify(node, meaning, node.primes)]
        if node.sub is not None and node.sup is not None and _layer(node.sup) is None:
            return [_Piece("value", node)]  # a_1^2: a power, read by power()
        if node.sub is not None:
            key = symbol_key(node)
            raise self.unmapped(key, node) if key else self.fail("a subscript here must be an index such as w_2", node.sub)
        return [_Piece("value", node)]

    def unmapped(self, key: str, node: Node) -> LatexError:
        known = ", ".join(self.notation.known())
        return self.fail(
            f"unmapped symbol '{key}': the notation knows {known}; the spec's notation section can map it", node
        )

    def sequence(self, pieces: list[_Piece], node: Node) -> tuple:
        """Read a juxtaposition: functions and operators take the factor after them; the rest multiply."""
        if not pieces:
            raise self.fail("a value was expected here", node)
        factors: list[tuple] = []
        index = 0
        while index < len(pieces):
            piece = pieces[index]
            if piece.kind == "value":
                factors.append(self.single(piece))
                index += 1
                continue
            if piece.kind == "d":
                raise self.fail("a differential (d or \\partial) outside a derivative such as \\frac{dy}{dx}", piece.node)
            if index + 1 >= len(pieces):
                what = "the function" if piece.kind == "function" else "the derivative operator"
                raise self.fail(f"{what} is applied to nothing", piece.node)
            argument_piece = pieces[index + 1]
            if argument_piece.kind != "value":
                raise self.fail("a function or derivative must be applied to a value, such as f(z)", argument_piece.node)
            power = None
            node = argument_piece.node
            if piece.kind == "function" and isinstance(node, Scripted) and isinstance(node.base, Group) \
                    and node.base.bracket == "(" and node.sup is not None and node.sub is None and not node.primes:
                power = self.value(node.sup)  # \sigma(z)^2 is (\sigma(z))^2, as LaTeX writes it
                argument = self.value(node.base)
            else:
                argument = self.single(argument_piece)
            if piece.kind == "function":
                function = "ACTIVATION" if piece.meaning.kind == "activation" else piece.meaning.target
                if piece.meaning.kind == "activation":
                    self.uses_activation = True
                call = ("call", function, piece.primes, argument)
                factors.append(call if power is None else ("pow", call, power))
            else:
                factors.append(self.derivative_of(argument, [argument_piece], piece.wrt, piece.node))
            index += 2
        result = factors[0]
        for factor in factors[1:]:
            result = ("bin", "*", result, factor)
        return result

    def single(self, piece: _Piece) -> tuple:
        """The value of one factor."""
        node = piece.node
        if piece.meaning is not None:
            if piece.meaning.kind == "e":
                return ("call", "exp", 0, ("num", "1"))
            return ("name", piece.meaning.target)
        if isinstance(node, Scripted):
            return self.power(node)
        return self.value(node)

    def power(self, node: Scripted) -> tuple:
        if node.primes:
            raise self.fail("a prime (') marks the derivative of a function, such as \\sigma'(z)", node)
        sup = node.sup
        base = node.base if node.sub is None else Scripted(node.base, node.sub, None, 0, node.column)  # a_1^2
        if (isinstance(sup, Letters) and sup.text == "T") or (isinstance(sup, Command) and sup.name in ("top", "intercal")):
            return ("T", self.value(base))
        if node.sub is not None:
            return ("pow", self.value(base), self.value(sup))
        base_key = symbol_key(node.base)
        if base_key is not None and self.notation.meaning(base_key) == Meaning("e"):
            return ("call", "exp", 0, self.value(sup))
        pieces = self.pieces(node.base)
        if len(pieces) == 1 and pieces[0].kind == "function":
            raise self.fail("a power of a function, such as \\sigma^2(z), is ambiguous: write (\\sigma(z))^2", node)
        return ("pow", self.value(node.base), self.value(sup))


def translate(node: Node, notation: Notation) -> Expression:
    """Translate a parsed LaTeX expression with ``notation``; a ``LatexError`` says where it fails."""
    return _Translator(notation).expression(node)


DUMMY = "_t"
"""The formula name of a definition's bare variable (the ``z`` of ``s(z) = \\ln(1 + e^z)``)."""


def dummy_variable(node: Node, notation: Notation) -> str | None:
    """The key of the bare symbol a definition ``s(z) = ...`` or ``s'(z) = ...`` is written in, or ``None``.

    Only a function of the notation applied to one symbol the notation does not know qualifies:
    then the whole chain is a statement about that function, for every value of the symbol.
    """
    if not isinstance(node, Seq) or len(node.items) != 2:
        return None
    head, argument = node.items
    if isinstance(head, Scripted) and head.primes and head.sub is None and head.sup is None:
        head = head.base
    key = symbol_key(head)
    meaning = notation.meaning(key) if key else None
    if meaning is None or meaning.kind not in ("activation", "function"):
        return None
    if not (isinstance(argument, Group) and argument.bracket == "(" and argument.body is not None):
        return None
    inner = symbol_key(argument.body)
    return inner if inner is not None and notation.meaning(inner) is None else None

