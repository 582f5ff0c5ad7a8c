"""The grammar of written math: LaTeX expressions parsed with lark into a small tree with columns.

Only the syntax lives here: ``parse`` turns one side of an equation (``\\frac{\\partial \\hat{y}}
{\\partial z_2} (1 - \\hat{y})``) into ``Node`` objects that keep the column where each starts.
What a symbol means (``\\hat{y}`` is ``yhat``, ``\\sigma`` the activation, ``d`` a differential)
is decided later, by ``harness.writeup.translate`` with a ``Notation``. Juxtaposition is parsed as
a plain sequence (``Seq``), so that ``\\hat{y}(1 - \\hat{y})`` is read as a product and
``\\sigma(z)`` as a call only once the notation says which symbols are functions.

The parser is lark's LALR(1) with its contextual lexer: linear time, no backtracking, and
sizes are bounded (``MAX_CHARACTERS``, ``MAX_DEPTH``) before anything is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Union


MAX_CHARACTERS = 4000
"""Longest side of an equation accepted, in characters."""

MAX_DEPTH = 60
"""Deepest nesting of braces and brackets accepted (the grammar is recursive)."""

FONTS = frozenset({
    "mathbf", "boldsymbol", "bm", "mathrm", "mathit", "mathsf", "mathbfit", "vec", "operatorname",
    "mathnormal", "pmb", "text", "textrm", "textit", "textbf", "mathtt",
})  # fmt: skip
"""Commands that only change how their argument looks: ``\\mathbf{w}`` is ``w``."""

ACCENTS = frozenset({"hat", "widehat", "bar", "overline", "tilde", "widetilde", "dot", "check"})
"""Commands that make a new symbol from their argument: ``\\hat{y}`` is the symbol ``yhat``."""

GRAMMAR = r"""
?start: sum

?sum: signed
    | sum PLUS signed        -> add
    | sum MINUS signed       -> sub

?signed: product
    | MINUS signed           -> neg
    | PLUS signed            -> pos

?product: seq
    | product MULOP seq      -> mul
    | product SLASH seq      -> div

seq: postfix+

postfix: atom script*

script: UNDERSCORE arg       -> sub_script
      | CARET arg            -> sup_script
      | PRIME                -> prime

?arg: LBRACE sum RBRACE      -> group
    | LBRACE RBRACE          -> empty
    | LETTERS                -> letters
    | NUMBER                 -> number
    | CMD                    -> command
    | FONT arg               -> font
    | ACCENT arg             -> accent

?atom: arg
    | LPAR sum RPAR          -> paren
    | LSQB sum RSQB          -> paren
    | LCURLY sum RCURLY      -> paren
    | FRAC arg arg           -> frac
    | SQRT arg               -> sqrt
    | SQRT LSQB sum RSQB arg -> root

PLUS: "+"
MINUS: "-"
MULOP.3: /\\(cdot|times|ast)(?![A-Za-z])/ | "*"
SLASH: "/"
UNDERSCORE: "_"
CARET: "^"
PRIME: "'" | /\\prime(?![A-Za-z])/
LBRACE: "{"
RBRACE: "}"
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
LCURLY.3: "\\{"
RCURLY.3: "\\}"
FRAC.3: /\\[dt]?frac(?![A-Za-z])/
SQRT.3: /\\sqrt(?![A-Za-z])/
FONT.3: /\\(mathbf|boldsymbol|bm|mathrm|mathit|mathsf|mathbfit|vec|operatorname|mathnormal|pmb|text|textrm|textit|textbf|mathtt)(?![A-Za-z])/
ACCENT.3: /\\(hat|widehat|bar|overline|tilde|widetilde|dot|check)(?![A-Za-z])/
CMD: /\\[A-Za-z]+/
LETTERS: /[A-Za-z]+/
NUMBER: /[0-9]+(\.[0-9]+)?|\.[0-9]+/

SIZING.4: /\\(left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg|displaystyle|textstyle|limits)(?![A-Za-z])/
SPACE.4: /\\[,;:! ]/ | /\\q?quad(?![A-Za-z])/ | "~"
%ignore SIZING
%ignore SPACE
%ignore /[ \t\r\n]+/
%ignore "&"
"""


class LatexError(Exception):
    """Written math that cannot be parsed: the message and the 0-based column where it starts."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    text: str
    column: int


@dataclass(frozen=True)
class Letters:
    """A run of letters (``dz``, ``softplus``, ``e``): one symbol or several, the notation decides."""

    text: str
    column: int


@dataclass(frozen=True)
class Command:
    """A bare command: ``\\sigma``, ``\\partial``, ``\\nabla``, ``\\exp``, or an unknown one."""

    name: str
    column: int


@dataclass(frozen=True)
class Styled:
    """``\\mathbf{w}`` (a font: ``accent`` is ``None``) or ``\\hat{y}`` (``accent`` is ``"hat"``)."""

    accent: str | None
    command: str
    body: Node
    column: int


@dataclass(frozen=True)
class Group:
    """Braces ``{...}`` (``bracket`` is ``"{"``) or parentheses and brackets (``"("``, ``"["``)."""

    body: Node | None
    bracket: str
    column: int


@dataclass(frozen=True)
class Scripted:
    """``base`` with its subscript, superscript and primes, as written: ``w_2``, ``e^{-z}``, ``s'``."""

    base: Node
    sub: Node | None
    sup: Node | None
    primes: int
    column: int


@dataclass(frozen=True)
class Seq:
    """Juxtaposed factors: a product, a call, or a differential, read by the notation."""

    items: tuple[Node, ...]
    column: int


@dataclass(frozen=True)
class Binary:
    op: str  # "+", "-", "*", "/"
    left: Node
    right: Node
    column: int


@dataclass(frozen=True)
class Negate:
    operand: Node
    column: int


@dataclass(frozen=True)
class Frac:
    numerator: Node
    denominator: Node
    column: int


@dataclass(frozen=True)
class Root:
    """``\\sqrt{body}`` (``degree`` is ``None``) or ``\\sqrt[degree]{body}``."""

    body: Node
    degree: Node | None
    column: int


Node = Union[Number, Letters, Command, Styled, Group, Scripted, Seq, Binary, Negate, Frac, Root]


# -- parsing -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    import lark  # imported when a write-up is read: grading a class of Python files never loads it

    return lark.Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=True,
                     maybe_placeholders=False)


def _column(item: lark.Tree | lark.Token) -> int:
    import lark

    if isinstance(item, lark.Token):
        return item.start_pos or 0
    return item.meta.start_pos if not item.meta.empty else 0


def _check_size(text: str) -> None:
    if len(text) > MAX_CHARACTERS:
        raise LatexError(f"the expression is too long ({len(text)} characters; at most {MAX_CHARACTERS})", 0)
    depth = 0
    opened: list[tuple[str, int]] = []
    closing = {"}": "{", ")": "(", "]": "["}
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in "{}":
            index += 2
            continue
        if char in "{([":
            opened.append((char, index))
            depth = max(depth, len(opened))
        elif char in "})]":
            if not opened:
                raise LatexError(f"unbalanced {char!r}: nothing was opened before it", index)
            bracket, start = opened.pop()
            if char == "}" and bracket != "{":
                raise LatexError(f"unbalanced {bracket!r}: it is closed by {char!r}", start)
            if bracket == "{" and char != "}":
                raise LatexError(f"unbalanced '{{': it is closed by {char!r}", start)
        index += 1
    if depth > MAX_DEPTH:
        raise LatexError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)", 0)
    braces = [(bracket, start) for bracket, start in opened if bracket == "{"]
    if braces:
        raise LatexError("unbalanced '{': it is never closed", braces[-1][1])
    if opened:
        raise LatexError(f"unbalanced {opened[-1][0]!r}: it is never closed", opened[-1][1])


def parse(text: str) -> Node:
    """Parse one LaTeX expression (no ``=``) into a ``Node``; a ``LatexError`` says where it fails."""
    import lark

    _check_size(text)
    if not text.strip():
        raise LatexError("empty expression", 0)
    try:
        tree = _parser().parse(text)
    except lark.UnexpectedCharacters as error:
        raise LatexError(f"unexpected character {text[error.pos_in_stream]!r}", error.pos_in_stream) from None
    except lark.UnexpectedToken as error:
        token = error.token
        expected = _expected(error.expected)
        if token.type == "$END":
            raise LatexError(f"the expression ends too early{expected}", len(text)) from None
        raise LatexError(f"unexpected {str(token)!r}{expected}", token.start_pos or 0) from None
    except lark.UnexpectedInput as error:  # any other parse failure
        raise LatexError("cannot parse the expression", getattr(error, "pos_in_stream", 0) or 0) from None
    return _Build().build(tree)


_SHOWN = {"RBRACE": "'}'", "RPAR": "')'", "RSQB": "']'", "RCURLY": "'\\}'", "LBRACE": "'{'", "LPAR": "'('",
          "LETTERS": "a symbol", "NUMBER": "a number", "CMD": "a command", "FRAC": "\\frac", "PLUS": "'+'",
          "MINUS": "'-'"}


def _expected(terminals) -> str:
    """``"; expected ')' or '+'"``: what the grammar would have accepted, for the message."""
    shown = sorted({_SHOWN[name] for name in terminals if name in _SHOWN})
    if not shown or len(shown) > 4:
        return "; expected a value" if {"LETTERS", "NUMBER"} <= set(terminals) else ""
    return "; expected " + " or ".join(shown)


def _is_prime(node: Node) -> bool:
    if isinstance(node, Group) and node.bracket == "{" and node.body is not None:
        return _is_prime(node.body)
    return isinstance(node, Command) and node.name == "prime"


class _Build:
    """lark's parse tree into the frozen ``Node`` classes."""

    def build(self, item: lark.Tree | lark.Token) -> Node:
        import lark

        if isinstance(item, lark.Token):
            raise LatexError(f"unexpected {str(item)!r}", item.start_pos or 0)
        kind, children, column = item.data, item.children, _column(item)
        if kind in ("add", "sub", "mul", "div"):
            left, operator, right = children
            op = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[kind]
            return Binary(op, self.build(left), self.build(right), column)
        if kind == "neg":
            return Negate(self.build(children[1]), column)
        if kind == "pos":
            return self.build(children[1])
        if kind == "seq":
            items = tuple(self.build(child) for child in children)
            return items[0] if len(items) == 1 else Seq(items, column)
        if kind == "postfix":
            base = self.build(children[0])
            if len(children) == 1:
                return base
            sub = sup = None
            primes = 0
            for script in children[1:]:
                if script.data == "prime":
                    primes += 1
                    continue
                value = self.build(script.children[1])
                if script.data == "sup_script" and _is_prime(value):  # s^\prime, s^{\prime}
                    primes += 1
                    continue
                if script.data == "sub_script":
                    if sub is not None:
                        raise LatexError("double subscript", _column(script))
                    sub = value
                else:
                    if sup is not None:
                        raise LatexError("double superscript: write a^{b c} or (a^b)^c", _column(script))
                    sup = value
            return Scripted(base, sub, sup, primes, column)
        if kind == "group":
            return Group(self.build(children[1]), "{", column)
        if kind == "empty":
            return Group(None, "{", column)
        if kind == "paren":
            return Group(self.build(children[1]), str(children[0]).lstrip("\\"), column)
        if kind == "letters":
            return Letters(str(children[0]), column)
        if kind == "number":
            return Number(str(children[0]), column)
        if kind == "command":
            return Command(str(children[0])[1:], column)
        if kind == "font":
            return Styled(None, str(children[0])[1:], self.build(children[1]), column)
        if kind == "accent":
            return Styled(str(children[0])[1:], str(children[0])[1:], self.build(children[1]), column)
        if kind == "frac":
            return Frac(self.build(children[1]), self.build(children[2]), column)
        if kind == "sqrt":
            return Root(self.build(children[1]), None, column)
        if kind == "root":
            return Root(self.build(children[4]), self.build(children[2]), column)
        raise LatexError(f"unexpected {kind}", column)
