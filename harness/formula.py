"""The safe formula language: parse, check against a whitelist, infer shapes, evaluate.

A formula is a Python-syntax expression such as ``sigmoid(w1 @ x + b1)``. It is parsed with
``ast.parse(mode="eval")`` and every node is checked against a whitelist: int and float numbers,
names, ``+ - * / ** @``, unary ``-`` and ``+``, parentheses, ``.T`` and calls of library functions
(``DEFAULT_FUNCTIONS``, plus the activation placeholders a model declares) with the signature
their record in ``harness.functions`` gives: array arguments by position, then static integer
arguments (``axis``) as integer literals, by position or keyword. Nothing is ever passed to
``eval``, ``exec`` or ``compile``: the checked tree is turned into a few private node classes and
interpreted by ``evaluate`` in a backend (or made by ``plan`` into closures, for evaluating it
many times at inputs of the same shapes).

Every problem is a ``FormulaError`` with the column (0-based, in characters) where it starts.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Union

import numpy as np

from harness.backends import Backend
from harness.errors import FormulaError, HarnessError
from harness.functions import CONSTANTS, LIBRARY, OPERATORS, Function, ShapeError, Static

DEFAULT_FUNCTIONS: frozenset[str] = frozenset(LIBRARY)
"""Every function a formula may call."""

ELEMENTWISE_FUNCTIONS: frozenset[str] = frozenset(name for name, record in LIBRARY.items() if record.activation)
"""The elementwise functions an activation placeholder may stand for: the legal members of an
activation family (each record says whether it is one)."""

MAX_LENGTH = 2000
"""Longest formula accepted, in characters."""

MAX_DEPTH = 100
"""Deepest nesting of sub-expressions accepted."""

_BINARY = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@",
}  # fmt: skip
_UNSUPPORTED_BINARY = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
}  # fmt: skip
_UNSUPPORTED_NODES = {
    ast.Lambda: "lambda expressions",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Compare: "comparisons", ast.BoolOp: "'and' and 'or'",
    ast.IfExp: "conditional expressions ('a if c else b')",
    ast.Tuple: "tuples", ast.List: "lists", ast.Dict: "dicts", ast.Set: "sets",
    ast.JoinedStr: "f-strings", ast.NamedExpr: "assignment expressions (':=')",
    ast.Starred: "starred expressions", ast.Slice: "slices",
    ast.Await: "'await'", ast.Yield: "'yield'", ast.YieldFrom: "'yield'",
}  # fmt: skip


# -- the checked tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Number:
    value: int | float
    text: str
    column: int


@dataclass(frozen=True)
class _Name:
    id: str
    column: int


@dataclass(frozen=True)
class _Constant:
    name: str  # pi or e
    column: int


@dataclass(frozen=True)
class _Negate:
    operand: _Node
    column: int


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node
    column: int


@dataclass(frozen=True)
class _Call:
    function: str  # a library function or an activation placeholder; ".T" is "transpose"
    args: tuple[_Node, ...]
    column: int
    statics: tuple[tuple[str, int | str | None], ...] = ()  # every static argument, defaults filled in
    # a dimension static may be a dimension's name (str), resolved to its size when evaluated


_Node = Union[_Number, _Constant, _Name, _Negate, _Binary, _Call]


@dataclass(frozen=True)
class Formula:
    """A parsed formula that passed the whitelist: safe to evaluate in any backend."""

    source: str
    names: frozenset[str]
    """The free names it uses (variables and quantities)."""
    calls: frozenset[str]
    """The functions it calls (``.T`` counts as ``transpose``), placeholders included."""
    _tree: _Node = field(repr=False, compare=False)
    sizes: frozenset[str] = frozenset()
    """The names it passes as sizes (``N`` in ``eye(N)``): they must be dimensions."""


# -- parsing ---------------------------------------------------------------------------------


def parse(source: str, *, placeholders: Collection[str] = ()) -> Formula:
    """Parse ``source`` and check it against the whitelist.

    ``placeholders`` are extra names that may be called like unary elementwise functions (an
    activation ``s`` that a question binds to a family member at evaluation time).
    """
    if not isinstance(source, str):
        raise FormulaError(f"a formula must be a string, got {source!r} of type {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        raise FormulaError(
            f"formula is too long ({len(source)} characters; at most {MAX_LENGTH} are allowed)",
            source=source[:80] + "...",
        )
    if not source.strip():
        raise FormulaError("empty formula: write an expression such as 'w1 @ x + b1'", source=source)
    for placeholder in placeholders:
        if not (isinstance(placeholder, str) and placeholder.isidentifier()) or placeholder in LIBRARY:
            raise FormulaError(
                f"cannot use {placeholder!r} as an activation placeholder: it must be a name "
                "that is not a library function",
                source=source,
            )
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        column = None if error.offset is None or error.lineno != 1 else max(0, min(error.offset - 1, len(source)))
        raise FormulaError(f"invalid syntax: {error.msg}", source=source, column=column) from None
    except (RecursionError, MemoryError):
        raise FormulaError("formula is nested too deeply for the parser", source=source) from None
    except ValueError as error:  # e.g. a null byte
        raise FormulaError(f"invalid formula: {error}", source=source) from None
    checker = _Checker(source, frozenset(placeholders))
    node = checker.check(tree.body, depth=0)
    return Formula(source, frozenset(checker.names), frozenset(checker.calls), node, frozenset(checker.sizes))


class _Checker:
    """Turn a Python ``ast`` into the private node classes, rejecting anything off the whitelist."""

    def __init__(self, source: str, placeholders: frozenset[str]) -> None:
        self.source = source
        self.placeholders = placeholders
        self.names: set[str] = set()
        self.calls: set[str] = set()
        self.sizes: set[str] = set()
        self._line_starts = [0]
        for line in source.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))

    def column(self, node: ast.AST) -> int:
        """Character offset into the source (``ast`` counts UTF-8 bytes within a line)."""
        start = self._line_starts[node.lineno - 1]
        line = self.source[start:]
        return start + len(line.encode("utf-8")[: node.col_offset].decode("utf-8", errors="ignore"))

    def fail(self, message: str, node: ast.AST) -> FormulaError:
        return FormulaError(message, source=self.source, column=self.column(node))

    def check(self, node: ast.AST, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise self.fail(f"formula is nested too deeply (more than {MAX_DEPTH} levels)", node)
        column = self.column(node)
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                raise self.fail(f"{node.value!r} is not allowed in formulas: only real numbers are", node)
            text = ast.get_source_segment(self.source, node) or repr(node.value)
            return _Number(node.value, text, column)
        if isinstance(node, ast.Name):
            self.check_name(node.id, node)
            if node.id in CONSTANTS:
                return _Constant(node.id, column)
            self.names.add(node.id)
            return _Name(node.id, column)
        if isinstance(node, ast.BinOp):
            op = _BINARY.get(type(node.op))
            if op is None:
                symbol = _UNSUPPORTED_BINARY.get(type(node.op), type(node.op).__name__)
                raise self.fail(f"operator {symbol!r} is not supported; the operators are + - * / ** @", node)
            return _Binary(op, self.check(node.left, depth + 1), self.check(node.right, depth + 1), column)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.check(node.operand, depth + 1)
            if isinstance(node.op, ast.USub):
                return _Negate(self.check(node.operand, depth + 1), column)
            symbol = "not" if isinstance(node.op, ast.Not) else "~"
            raise self.fail(f"operator {symbol!r} is not supported; the operators are + - * / ** @", node)
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.fail(
                    f"attribute access '.{node.attr}' is not allowed: the only attribute is '.T' (transpose)",
                    node,
                )
            self.calls.add("transpose")
            return _Call("transpose", (self.check(node.value, depth + 1),), column)
        if isinstance(node, ast.Call):
            return self.check_call(node, depth)
        if isinstance(node, ast.Subscript):
            raise self.fail(
                f"subscripts such as {ast.get_source_segment(self.source, node)!r} are not supported: "
                "formulas work on whole arrays (use sum, dot, outer or .T)",
                node,
            )
        description = _UNSUPPORTED_NODES.get(type(node), f"{type(node).__name__} expressions")
        raise self.fail(f"{description} are not allowed in formulas", node)

    def check_name(self, name: str, node: ast.AST) -> None:
        if name.startswith("__"):
            raise self.fail(f"the name {name!r} is not allowed: names starting with '__' are reserved", node)

    def check_call(self, node: ast.Call, depth: int) -> _Call:
        if not isinstance(node.func, ast.Name):
            raise self.fail(
                f"only library functions can be called, by name: cannot call "
                f"{ast.get_source_segment(self.source, node.func)!r}",
                node,
            )
        name = node.func.id
        self.check_name(name, node.func)
        allowed = LIBRARY.keys() | self.placeholders
        if name not in allowed:
            raise self.fail(f"unknown function {name!r}; {_suggest_function(name, allowed)}", node)
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.fail("starred arguments ('*args') are not allowed", argument)
        record = LIBRARY.get(name)  # None for a placeholder: a unary elementwise function
        arrays = record.arrays if record else ("a",)
        statics = record.statics if record else ()
        if node.keywords and not statics:
            raise self.fail(f"{name}() takes positional arguments only, not keyword arguments", node)
        if not statics and len(node.args) != len(arrays):
            plural = "argument" if len(arrays) == 1 else "arguments"
            raise self.fail(f"{name}() takes {len(arrays)} {plural}, got {len(node.args)}", node)
        if len(node.args) < len(arrays):
            missing = ", ".join(arrays[len(node.args) :])
            raise self.fail(f"{name}() is missing its array argument {missing}: call it as {record.call}", node)
        if len(node.args) > len(arrays) + len(statics):
            raise self.fail(
                f"{name}() takes at most {len(arrays) + len(statics)} arguments ({record.call}), got {len(node.args)}",
                node,
            )
        self.calls.add(name)
        args = tuple(self.check(argument, depth + 1) for argument in node.args[: len(arrays)])
        given = self.check_statics(name, record, node) if statics else ()
        return _Call(name, args, self.column(node), given)

    def check_statics(self, name: str, record: Function, node: ast.Call) -> tuple[tuple[str, int | None], ...]:
        """The value of every static argument of a call: its integer literal, or its default."""
        names = [static.name for static in record.statics]
        written = dict(zip(names, node.args[len(record.arrays) :]))
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.fail("'**' arguments are not allowed", keyword)
            if keyword.arg not in names:
                hint = _suggest(keyword.arg, names, "its keyword arguments are")
                raise self.fail(f"{name}() has no keyword argument {keyword.arg!r}; {hint}", keyword)
            if keyword.arg in written:
                raise self.fail(f"{name}() got {keyword.arg} twice, by position and by keyword", keyword)
            written[keyword.arg] = keyword.value
        return tuple(
            (static.name, self.static_value(name, static, written[static.name]))
            if static.name in written
            else (static.name, static.default)
            for static in record.statics
        )

    def static_value(self, function: str, static: Static, node: ast.AST) -> int | str | None:
        """An integer literal (``0``, ``-1``), ``None`` where that is the default, or a size's dimension name."""
        if static.dimension and isinstance(node, ast.Name) and node.id not in CONSTANTS:
            self.check_name(node.id, node)
            self.sizes.add(node.id)
            return node.id
        negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        literal = node.operand if negative else node
        if isinstance(literal, ast.Constant) and type(literal.value) is int:
            return -literal.value if negative else literal.value
        if isinstance(node, ast.Constant) and node.value is None and static.default is None:
            return None
        name = static.name
        if static.dimension:
            raise self.fail(
                f"{name} of {function}() must be a dimension name or a size, such as {function}(N) or "
                f"{function}(3), got {ast.get_source_segment(self.source, node)!r}: it fixes the shape of the result",
                node,
            )
        raise self.fail(
            f"{name} of {function}() must be an integer literal such as {name}=0 or {name}=-1, got "
            f"{ast.get_source_segment(self.source, node)!r}: it fixes the shape of the result",
            node,
        )


_ALIASES = {
    "atan": "arctan", "asin": "arcsin", "acos": "arccos", "arctg": "arctan", "ln": "log",
    "logistic": "sigmoid", "expit": "sigmoid", "inverse": "inv", "identity": "eye", "one_hot": "onehot",
    "matmul": "@ (as in a @ b)", "multiply": "* (as in a * b)", "power": "** (as in a ** b)",
    "amax": "max", "amin": "min", "slogdet": "logdet", "frobenius": "norm", "average": "mean",
}  # fmt: skip
"""Names users write for functions the language has under another name."""


def _suggest_function(name: str, candidates: Collection[str]) -> str:
    """A hint for an unknown function: its name here, else a close name, else the listing.

    Closeness is strict (``det`` is not offered ``dot``): a wrong hint costs more than none.
    """
    if name in _ALIASES:
        return f"did you mean {_ALIASES[name]}?" if "(" in _ALIASES[name] else f"did you mean {_ALIASES[name]!r}?"
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"the functions are: {', '.join(sorted(candidates))}"


def _suggest(name: str, candidates: Collection[str], listing: str) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{listing}: {', '.join(sorted(candidates)) or '(none)'}"


# -- shapes ----------------------------------------------------------------------------------


def _record(operation: str) -> Function:
    """The record of an operator or a library function (a bound placeholder is its function)."""
    return OPERATORS[operation] if operation in OPERATORS else LIBRARY[operation]


def _unknown_name(name: str, known: Collection[str], formula: Formula, column: int) -> FormulaError:
    if name in LIBRARY:
        hint = f"{name} is a function: call it, as in {name}(x)"
    else:
        hint = _suggest(name, known, "the known names are")
    return FormulaError(f"unknown name {name!r}; {hint}", source=formula.source, column=column)


def infer_shape(formula: Formula, shapes: Mapping[str, tuple]) -> tuple:
    """The symbolic shape of ``formula`` given the shapes of the names it uses.

    Shapes are tuples of dimension names or ints (``()`` for a scalar); broadcasting and ``@``
    follow numpy, with ``@`` and ``dot`` defined for 1-D and 2-D operands.
    """
    def shape_of(node: _Node) -> tuple:
        if isinstance(node, (_Number, _Constant)):
            return ()
        if isinstance(node, _Name):
            if node.id not in shapes:
                raise _unknown_name(node.id, shapes.keys(), formula, node.column)
            return tuple(shapes[node.id])
        if isinstance(node, _Negate):
            return shape_of(node.operand)
        if isinstance(node, _Binary):
            operation, operands, statics = node.op, (shape_of(node.left), shape_of(node.right)), {}
        elif node.function in LIBRARY:
            operation, statics = node.function, dict(node.statics)
            operands = tuple(shape_of(argument) for argument in node.args)
        else:  # an activation placeholder: elementwise
            return shape_of(node.args[0])
        try:
            return _record(operation).result_shape(*operands, **statics)
        except ShapeError as error:
            raise FormulaError(str(error), source=formula.source, column=node.column) from None

    return shape_of(formula._tree)


# -- evaluation ------------------------------------------------------------------------------


Observer = Callable[[Function, tuple, dict], None]
"""``observe(record, operands, statics)``: called before each operation with its arguments."""


def evaluate(
    formula: Formula, env: Mapping[str, Any], backend: Backend, *, bind: Mapping[str, str] = {},
    observe: Observer | None = None,
) -> np.ndarray:
    """Evaluate ``formula`` in ``backend`` with the values of ``env`` (converted exactly).

    ``bind`` maps each activation placeholder the formula calls (``"s"``) to the library function
    it stands for (``"softplus"``). Shapes are checked before every operation, so a mismatch is a
    ``FormulaError`` naming the operation and both shapes, never a numpy exception. A dimension
    name (``N``) is a number of ``env`` like any other; passed as a size (``eye(N)``) it is that
    number as an int. ``observe`` sees every operation's arguments (the input filter of
    ``harness.strategies`` looks for kinks and overflow with it).
    """
    return _plan(formula, env, backend, bind, observe, convert=True)(env)


def plan(
    formula: Formula, env: Mapping[str, Any], backend: Backend, *, bind: Mapping[str, str] = {}
) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    """``formula`` made once into a function of environments shaped like ``env``, for evaluating it often.

    Shapes, sizes, literals and bindings are checked and resolved now, as ``evaluate`` does; the
    function returned then only runs the backend's operations (each result still passes the
    backend's checks, the float-leak guard included). It takes values already in ``backend``'s
    representation, with the shapes (and the dimension sizes) of ``env``, and must be called
    within ``np.errstate(all="ignore")``. For these ``evaluate(formula, env, backend, bind=bind)``
    equals ``plan(formula, env, backend, bind=bind)(env)``, bit for bit.
    """
    return _plan(formula, env, backend, bind, None, convert=False)


def _plan(
    formula: Formula, env: Mapping[str, Any], backend: Backend, bind: Mapping[str, str],
    observe: Observer | None, *, convert: bool,
) -> Callable[[Mapping[str, Any]], np.ndarray]:
    """The formula as nested closures over environments.

    ``convert``: names are converted with ``backend.asarray`` and each operation is a
    ``backend.apply`` (``evaluate``); otherwise values are taken as they are and operations run
    without ``apply``'s ``np.errstate``, which the caller holds (``plan``).
    """
    for placeholder, function in bind.items():
        if function not in LIBRARY or not LIBRARY[function].activation:
            activations = sorted(name for name, record in LIBRARY.items() if record.activation)
            raise FormulaError(
                f"cannot bind {placeholder!r} to {function!r}: an activation must be one of {', '.join(activations)}",
                source=formula.source,
            )

    def planned(node: _Node) -> tuple[Callable[[Mapping[str, Any]], np.ndarray], tuple]:
        if isinstance(node, (_Number, _Constant)):
            number = backend.literal(node.value, node.text) if isinstance(node, _Number) else (
                backend.constant(CONSTANTS[node.name]))
            return (lambda values: number), ()
        if isinstance(node, _Name):
            if node.id not in env:
                raise _unknown_name(node.id, env.keys(), formula, node.column)
            name = node.id
            if convert:
                return (lambda values: backend.asarray(values[name])), np.shape(env[name])
            return (lambda values: values[name]), np.shape(env[name])
        statics: dict[str, int | None] = {}
        if isinstance(node, _Negate):
            operation, operands = "neg", (planned(node.operand),)
        elif isinstance(node, _Binary):
            operation, operands = node.op, (planned(node.left), planned(node.right))
        else:
            operation, statics = node.function, {
                name: _size(value, env, formula, node) if isinstance(value, str) else value
                for name, value in node.statics
            }
            if operation not in LIBRARY:
                if operation not in bind:
                    raise FormulaError(
                        f"the activation placeholder {operation!r} is not bound to a function",
                        source=formula.source,
                        column=node.column,
                    )
                operation = bind[operation]
            operands = tuple(planned(argument) for argument in node.args)
        record = _record(operation)
        try:
            shape = record.result_shape(*(operand_shape for _, operand_shape in operands), **statics)
        except ShapeError as error:
            raise FormulaError(str(error), source=formula.source, column=node.column) from None
        run = partial(backend.apply, operation, **statics) if convert else backend.operation(operation, **statics)
        arguments = tuple(value for value, _ in operands)
        watch = observe if operation != "neg" else None  # a negation is not observed

        def value(values: Mapping[str, Any]) -> np.ndarray:
            arrays = tuple(argument(values) for argument in arguments)
            if watch is not None:
                watch(record, arrays, statics)
            try:
                return run(*arrays)
            except HarnessError:
                raise
            except (ArithmeticError, ValueError, TypeError) as error:
                raise FormulaError(
                    f"cannot evaluate {operation}: {type(error).__name__}: {error}",
                    source=formula.source,
                    column=node.column,
                ) from error

        return value, shape

    return planned(formula._tree)[0]


def _size(name: str, env: Mapping[str, Any], formula: Formula, node: _Call) -> int:
    """The size a dimension name stands for in ``env`` (``N`` in ``eye(N)``)."""
    if name not in env:
        raise _unknown_name(name, env.keys(), formula, node.column)
    value = np.asarray(env[name]).reshape(-1)
    size = float(value[0]) if value.size == 1 else math.nan
    if not (size >= 1 and size == int(size)):
        raise FormulaError(
            f"{name!r} is passed as a size to {node.function}(), but its value is not a size >= 1",
            source=formula.source, column=node.column,
        )
    return int(size)
