"""The formula language's operations: one record per operator and library function.

A ``Function`` record holds everything the harness knows about one operation: its signature
(array arguments, then static integer arguments such as ``axis``), its shape rule, its float64
and mpmath kernels, for an elementwise function its closed-form derivative and whether an
activation placeholder may stand for it, where it is not differentiable, how the dependence
analysis of the reference treats it, and its line in the docs. Everything else is derived from
the records: the formula checker's whitelist and shape inference (``formula``), both backends'
kernels (``backends``), the reference's dependence analysis and self-test (``reference``) and the
table of functions in ``docs/spec-format.md`` (``docs_table``; a test keeps the two equal).
Adding an elementwise function is adding one record to ``_LIBRARY``.

The kernels' contracts:

- ``float64(*arrays, **statics)`` gets float64 arrays and returns one (numpy's warnings are
  silenced by the backend; overflow is ``inf``, an invalid result ``nan``).
- ``mpmath`` of an *elementwise* function gets the backend and one entry of each argument, and
  returns one ``mpf`` of the backend's context; it keeps the result within the backend's
  magnitude cap itself (``backend.fit``) and never computes in float, except to pick an IEEE
  special value (``0``, ``±inf``, ``nan``) that float64 holds exactly.
- ``mpmath`` of a *bilinear* function gets a ``product`` (entry by entry, broadcasting like
  numpy) and the two arrays, and builds its result from products of one entry of each argument
  and sums of those: the mpmath backend passes an ordinary product, the dependence analysis one
  that is exactly 0 when a factor is 0, even if the other is ``nan``.
- ``mpmath`` of any other function gets the backend, the arrays and the static arguments.

The backend caps every entry of a bilinear or other array kernel's result.

To regenerate the docs table after changing a record::

    python -c 'from harness.functions import docs_table; print(docs_table())'

and paste it between the markers in ``docs/spec-format.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from mpmath import libmp

from harness import array_kernels
from harness.errors import InternalError

if TYPE_CHECKING:
    from harness.backends import MpmathBackend

_TRIG_LIMIT_BITS = 1024  # sin/cos/tan of |x| >= 2**1024 (beyond float64) is nan, as sin(inf) is


class ShapeError(Exception):
    """A shape rule failed; the formula checker adds the formula and the column."""


def format_shape(shape: tuple) -> str:
    """Render a shape as a spec writes it: ``[H, D]``, ``[3]``, ``[]`` for a scalar."""
    return "[" + ", ".join(str(dimension) for dimension in shape) + "]"


# -- the record ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Static:
    """A static integer argument, such as ``axis``: written in the formula as an integer literal."""

    name: str
    default: int | None
    """Its value when the formula leaves it out (``None``: "not given", as numpy's ``axis=None``)."""
    dimension: bool = False
    """A size rather than an axis: an integer literal or a dimension name of the spec (``eye(N)``)."""


@dataclass(frozen=True)
class Kinks:
    """The points ``at + k * period`` (every integer ``k``; only ``at`` without a period)."""

    at: float
    period: float | None
    text: str
    """How the docs write them: ``0``, ``π/2 + kπ``."""
    also: tuple[float, ...] = ()
    """More isolated points (``arcsin``'s domain ends at -1 and 1)."""

    def within(self, low: float, high: float) -> tuple[float, ...]:
        """The points in the closed interval ``[low, high]``, in increasing order."""
        isolated = tuple(point for point in self.also if low <= point <= high)
        if self.period is None:
            return tuple(sorted(((self.at,) if low <= self.at <= high else ()) + isolated))
        first = math.ceil((low - self.at) / self.period)
        last = math.floor((high - self.at) / self.period)
        points = (self.at + k * self.period for k in range(first, last + 1))
        return tuple(sorted(tuple(point for point in points if low <= point <= high) + isolated))

    def distance(self, x: np.ndarray) -> float:
        """The smallest distance of an entry of ``x`` from one of the points (inf when ``x`` is empty)."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if not x.size:
            return math.inf
        points = np.array((self.at, *self.also))
        if self.period is None:
            return float(np.min(np.abs(x[:, np.newaxis] - points)))
        offsets = np.mod(x[:, np.newaxis] - points, self.period)
        return float(np.min(np.minimum(offsets, self.period - offsets)))


ShapeRule = Callable[..., tuple]
"""``rule(name, *shapes, **statics)``: the result's shape, or ``ShapeError`` naming ``name``."""


@dataclass(frozen=True)
class Function:
    """One operation of the formula language: a library function or an operator."""

    name: str
    """How formulas call it (``exp``), or an operator's symbol (``+``; ``neg`` is unary minus)."""
    arrays: tuple[str, ...]
    """The names of its array arguments, in order (``("a", "b")``)."""
    float64: Callable[..., Any]
    mpmath: Callable[..., Any]
    """See the module docstring for the three kinds of mpmath kernel."""
    doc: str
    """Its line in the docs table (markdown)."""
    shape: ShapeRule
    statics: tuple[Static, ...] = ()
    """Static integer arguments, after the arrays, by position or keyword: ``sum(W, axis=0)``."""
    elementwise: bool = False
    """Applied entry by entry: the mpmath kernel takes one entry of each argument."""
    bilinear: bool = False
    """Built from products of one entry of each of its two arguments (``*``, ``@``, ``dot``)."""
    derivative: Callable[[Any, Any], Any] | None = None
    """An elementwise library function's derivative ``(ctx, x) -> mpf`` in closed form, for the self-test."""
    activation: bool = False
    """An activation placeholder may stand for it (elementwise library functions only)."""
    kinks: Kinks | None = None
    """Where an elementwise function is not differentiable: a kink (``abs`` at 0), a pole, or
    the edge of its domain (``sqrt`` at 0)."""
    operator: str | None = None
    """How an operator is written (``a + b``); ``None`` for a library function called by name."""
    gap: Callable[..., float] | None = None
    """For a function with kinks that are not fixed points (``maximum`` where its arguments tie, ``det``
    where the matrix is singular): ``gap(*float64_arrays, **statics)``, how far these arguments are
    from one (0 on it). Inputs closer than ``KINK_DISTANCE`` are not drawn."""
    kink_text: str = ""
    """The docs' "not differentiable at" for a function with a ``gap``."""
    exponential: bool = False
    """It computes ``exp`` of its argument (or a student writing it would): inputs where an argument
    of it exceeds ``EXP_SAFE`` in size are not drawn, since float64's exp overflows there."""

    def __post_init__(self) -> None:
        unary_function = self.elementwise and len(self.arrays) == 1 and self.operator is None
        problems = [
            problem
            for problem, wrong in (
                ("elementwise and bilinear exclude each other", self.elementwise and self.bilinear),
                ("a bilinear function has two arrays", self.bilinear and len(self.arrays) != 2),
                ("an elementwise function has no static arguments", self.elementwise and bool(self.statics)),
                ("a unary elementwise function needs its derivative", unary_function and self.derivative is None),
                ("only a unary elementwise function has a derivative", not unary_function and self.derivative is not None),
                ("only a unary elementwise function can be an activation", self.activation and not unary_function),
                ("only a unary elementwise function has kinks", self.kinks is not None and not unary_function),
            )
            if wrong
        ]
        if problems:
            raise InternalError(f"the record of {self.name!r} is inconsistent: {'; '.join(problems)}")

    @property
    def call(self) -> str:
        """How a formula writes it: ``a + b``, ``sum(a, axis=None)``."""
        if self.operator is not None:
            return self.operator
        arguments = [
            *self.arrays,
            *(static.name if static.dimension and index == 0 else f"{static.name}={static.default}"
              for index, static in enumerate(self.statics)),
        ]
        return f"{self.name}({', '.join(arguments)})"

    def result_shape(self, *shapes: tuple, **statics: int | None) -> tuple:
        """The shape of the result for arguments of these (symbolic or concrete) shapes."""
        return self.shape(self.name, *shapes, **statics)

    def kink_distance(self, *arrays: np.ndarray, **statics: int | None) -> float:
        """How far float64 arguments are from where this function is not differentiable (inf: nowhere)."""
        if self.kinks is not None:
            return self.kinks.distance(arrays[0])
        if self.gap is not None:
            with np.errstate(all="ignore"):
                return self.gap(*arrays, **statics)
        return math.inf


KINK_DISTANCE = 1e-6
"""Inputs that bring an argument of a function within this distance of a kink are not drawn: the
reference is a finite difference, and at a kink no derivative exists."""

EXP_SAFE = 700.0
"""Largest |argument| of an exponential function drawn: exp(700) ~ 1e304 still fits in float64."""


@dataclass(frozen=True)
class Constant:
    """A named number of the formula language (``pi``, ``e``)."""

    name: str
    float64: float
    mpmath: Callable[[Any], Any]
    """``ctx -> mpf`` at the context's precision."""
    doc: str


# -- shape rules -----------------------------------------------------------------------------


def _same(name: str, shape: tuple) -> tuple:
    return shape


def _broadcast(name: str, left: tuple, right: tuple) -> tuple:
    result = []
    for index in range(1, max(len(left), len(right)) + 1):
        a = left[-index] if index <= len(left) else 1
        b = right[-index] if index <= len(right) else 1
        if a == b or b == 1:
            result.append(a)
        elif a == 1:
            result.append(b)
        else:
            raise ShapeError(
                f"cannot apply {name} to shapes {format_shape(left)} and {format_shape(right)}: "
                f"the dimensions {a} and {b} differ"
            )
    return tuple(reversed(result))


def _matmul_shape(name: str, left: tuple, right: tuple) -> tuple:
    shapes = f"cannot apply {name} to shapes {format_shape(left)} and {format_shape(right)}"
    if not left or not right:
        raise ShapeError(f"{shapes}: {name} needs arrays with 1 or 2 dimensions (use * to multiply by a scalar)")
    if len(left) > 2 or len(right) > 2:
        raise ShapeError(f"{shapes}: {name} supports arrays with 1 or 2 dimensions only")
    inner_left = left[-1]
    inner_right = right[0] if len(right) == 1 else right[-2]
    if inner_left != inner_right:
        raise ShapeError(f"{shapes}: the inner dimensions {inner_left} and {inner_right} differ")
    return left[:-1] + right[1:]


def _dot_shape(name: str, left: tuple, right: tuple) -> tuple:
    if not left or not right:
        return _broadcast(name, left, right)
    return _matmul_shape(name, left, right)


def _outer_shape(name: str, left: tuple, right: tuple) -> tuple:
    return left + right


def _transpose_shape(name: str, shape: tuple) -> tuple:
    return tuple(reversed(shape))


def _sum_shape(name: str, shape: tuple, *, axis: int | None) -> tuple:
    if axis is None:
        return ()
    if not -len(shape) <= axis < len(shape):
        allowed = "a scalar has no axis" if not shape else f"the axis must be from {-len(shape)} to {len(shape) - 1}"
        raise ShapeError(f"cannot apply {name} with axis={axis} to shape {format_shape(shape)}: {allowed}")
    axis %= len(shape)
    return shape[:axis] + shape[axis + 1 :]


def _keep_axis_shape(name: str, shape: tuple, *, axis: int | None) -> tuple:
    _sum_shape(name, shape, axis=axis)  # the same axis rule; the shape is kept
    return shape


def _scalar_shape(name: str, shape: tuple) -> tuple:
    return ()


def _square(name: str, shape: tuple) -> None:
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeError(f"cannot apply {name} to shape {format_shape(shape)}: it needs a square matrix, such as [N, N]")


def _square_to_scalar(name: str, shape: tuple) -> tuple:
    _square(name, shape)
    return ()


def _square_same(name: str, shape: tuple) -> tuple:
    _square(name, shape)
    return shape


def _solve_shape(name: str, matrix: tuple, rhs: tuple) -> tuple:
    _square(name, matrix)
    if len(rhs) not in (1, 2) or rhs[0] != matrix[0]:
        raise ShapeError(
            f"cannot apply {name} to shapes {format_shape(matrix)} and {format_shape(rhs)}: the right-hand "
            f"side needs {matrix[0]} rows (a vector [{matrix[0]}] or a matrix [{matrix[0]}, K])"
        )
    return rhs


def _diag_shape(name: str, shape: tuple) -> tuple:
    if len(shape) == 1:
        return shape + shape
    if len(shape) == 2 and shape[0] == shape[1]:
        return shape[:1]
    raise ShapeError(f"cannot apply {name} to shape {format_shape(shape)}: it takes a vector or a square matrix")


def _size_of(name: str, size: Any, what: str) -> Any:
    if size is None:
        raise ShapeError(f"{name} needs {what}: a dimension name or a size, as in {name}(N)")
    if isinstance(size, int) and size < 1:
        raise ShapeError(f"{name} needs a size >= 1, got {size}")
    return size


def _eye_shape(name: str, *, n: Any) -> tuple:
    size = _size_of(name, n, "its size")
    return (size, size)


def _ones_shape(name: str, *, rows: Any, columns: Any) -> tuple:
    return (_size_of(name, rows, "its size"),) + (() if columns is None else (_size_of(name, columns, "a size"),))


def _onehot_shape(name: str, shape: tuple, *, classes: Any) -> tuple:
    return shape + (_size_of(name, classes, "the number of classes"),)


def _clip_shape(name: str, a: tuple, low: tuple, high: tuple) -> tuple:
    return _broadcast(name, _broadcast(name, a, low), high)


# -- mpmath kernels: one entry ---------------------------------------------------------------


def _divide(b: MpmathBackend, x: Any, y: Any) -> Any:
    if not y:  # mpmath raises ZeroDivisionError; give IEEE's answer (±inf, or nan for 0/0)
        return b.exact(np.divide(b.to_float(x), 0.0))
    return b.fit(x / y)


def _power(b: MpmathBackend, x: Any, y: Any) -> Any:
    ctx = b.ctx
    if y == 0 or x == 1:  # IEEE: x**0 == 1 and 1**y == 1 even for nan
        return b.one
    if not (ctx.isfinite(x) and ctx.isfinite(y)) or x == 0:
        # The answer is 0, 1, ±inf or nan: float64 has it exactly.
        return b.exact(np.power(b.to_float(x), b.to_float(y)))
    if x < 0 and not ctx.isint(y):
        return b.nan
    if ctx.isint(y) and abs(y) <= 64:
        return b.fit(x ** int(y))
    # Decide overflow before mpmath tries to build an enormous number.
    log_magnitude = y * ctx.ln(abs(x))
    if log_magnitude > b.exp_limit:
        odd = x < 0 and y._mpf_[2] == 0  # an integer mpf is odd iff its exponent is 0
        return -b.inf if odd else b.inf
    if log_magnitude < -b.exp_limit:
        return b.zero
    return b.fit(x**y)


def _exp(b: MpmathBackend, x: Any) -> Any:
    if x > b.exp_limit:
        return b.inf
    if x < -b.exp_limit:
        return b.zero
    return b.fit(b.ctx.exp(x))


def _log(b: MpmathBackend, x: Any) -> Any:
    if x < 0:
        return b.nan
    if x == 0:
        return -b.inf
    return b.ctx.ln(x)


def _log1p(b: MpmathBackend, x: Any) -> Any:
    if x < -1:
        return b.nan
    if x == -1:
        return -b.inf
    if not b.ctx.isfinite(x):
        return x
    prec = b.ctx.prec
    magnitude = b.ctx.mag(x)
    if magnitude < -prec - 10:  # log1p(x) = x - x**2/2 + ..., and x**2 is below the last bit
        return x
    # 1 + x to enough bits that no digit of x is lost, then one correctly rounded log; with an
    # explicit precision, so the backend's context is never changed.
    wide = libmp.mpf_add(libmp.fone, x._mpf_, prec + max(0, -magnitude) + 10)
    return b.ctx.make_mpf(libmp.mpf_log(wide, prec, libmp.round_nearest))


def _expm1(b: MpmathBackend, x: Any) -> Any:
    if not -1 <= x <= 1:  # no cancellation (and nan, inf go through exp)
        return b.fit(_exp(b, x) - 1)
    prec = b.ctx.prec
    magnitude = b.ctx.mag(x)
    if magnitude < -prec - 10:
        return x
    # exp(x) - 1 cancels about -mag(x) bits: compute exp with that many extra.
    wide = libmp.mpf_exp(x._mpf_, prec + max(0, -magnitude) + 10)
    return b.ctx.make_mpf(libmp.mpf_sub(wide, libmp.fone, prec, libmp.round_nearest))


exp_entry = _exp
"""The mpmath ``exp`` of one entry, capped (for the array kernels)."""

log_entry = _log
"""The mpmath ``log`` of one entry, with IEEE's answers at 0 and below (for the array kernels)."""


def _hyperbolic(name: str) -> Callable[[MpmathBackend, Any], Any]:
    """The mpmath kernel of ``sinh`` or ``cosh``: beyond the magnitude cap it is ``±inf``."""

    def kernel(b: MpmathBackend, x: Any) -> Any:
        if abs(x) > b.exp_limit:
            return b.inf if (x > 0 or name == "cosh") else -b.inf
        return b.fit(getattr(b.ctx, name)(x))

    return kernel


def _inverse_trigonometric(name: str) -> Callable[[MpmathBackend, Any], Any]:
    """The mpmath kernel of ``arcsin`` or ``arccos``: ``nan`` outside [-1, 1], as in numpy."""

    def kernel(b: MpmathBackend, x: Any) -> Any:
        if not -1 <= x <= 1:
            return b.nan
        return getattr(b.ctx, name)(x)

    return kernel


def _relu(b: MpmathBackend, x: Any) -> Any:
    return b.zero if x <= 0 else x  # nan stays nan


def _heaviside(b: MpmathBackend, x: Any) -> Any:
    if b.ctx.isnan(x):
        return b.nan
    return b.one if x > 0 else b.zero


def _maximum(b: MpmathBackend, x: Any, y: Any) -> Any:
    if b.ctx.isnan(x) or b.ctx.isnan(y):
        return b.nan
    return x if x >= y else y


def _minimum(b: MpmathBackend, x: Any, y: Any) -> Any:
    if b.ctx.isnan(x) or b.ctx.isnan(y):
        return b.nan
    return x if x <= y else y


def _clip(b: MpmathBackend, x: Any, low: Any, high: Any) -> Any:
    return _minimum(b, _maximum(b, x, low), high)


def _sqrt(b: MpmathBackend, x: Any) -> Any:
    return b.nan if x < 0 else b.ctx.sqrt(x)


def _sigmoid(b: MpmathBackend, x: Any) -> Any:
    e = _exp(b, -abs(x))
    return 1 / (1 + e) if x >= 0 else e / (1 + e)


def _softplus(b: MpmathBackend, x: Any) -> Any:
    if x > 0:
        return x + _log1p(b, _exp(b, -x))
    return _log1p(b, _exp(b, x))


def _trigonometric(name: str) -> Callable[[MpmathBackend, Any], Any]:
    """The mpmath kernel of ``sin``, ``cos`` or ``tan``: nan beyond float64's range, as of inf."""

    def kernel(b: MpmathBackend, x: Any) -> Any:
        if not b.ctx.isfinite(x) or (x and b.ctx.mag(x) > _TRIG_LIMIT_BITS):
            return b.nan
        return getattr(b.ctx, name)(x)

    return kernel


# -- float64 kernels -------------------------------------------------------------------------


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) never overflows; the two branches are the same function rearranged.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus64(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


# -- bilinear kernels, written with a given product --------------------------------------------


def _matmul(product: Callable, a: np.ndarray, b: np.ndarray) -> Any:
    left = a if a.ndim == 2 else a[np.newaxis, :]
    right = b if b.ndim == 2 else b[:, np.newaxis]
    result = np.sum(product(left[:, :, np.newaxis], right[np.newaxis, :, :]), axis=1)
    if b.ndim == 1:
        result = result[:, 0]
    return result[0] if a.ndim == 1 else result


def _dot(product: Callable, a: np.ndarray, b: np.ndarray) -> Any:
    return product(a, b) if not a.ndim or not b.ndim else _matmul(product, a, b)


def _outer(product: Callable, a: np.ndarray, b: np.ndarray) -> Any:
    return product(a.reshape(a.shape + (1,) * b.ndim), b)


def _product(product: Callable, a: np.ndarray, b: np.ndarray) -> Any:
    return product(a, b)


# -- the records -----------------------------------------------------------------------------


def _elementwise(
    name: str,
    float64: Callable[[np.ndarray], np.ndarray],
    mpmath: Callable[[MpmathBackend, Any], Any],
    derivative: Callable[[Any, Any], Any],
    doc: str,
    *,
    activation: bool = True,
    kinks: Kinks | None = None,
    exponential: bool = False,
) -> Function:
    """The record of a unary elementwise library function."""
    return Function(
        name, ("a",), float64, mpmath, doc, _same,
        elementwise=True, derivative=derivative, activation=activation, kinks=kinks, exponential=exponential,
    )  # fmt: skip


def _binary(name: str, float64: Callable, mpmath: Callable, doc: str) -> Function:
    """The record of an elementwise binary operator, broadcasting like numpy."""
    return Function(name, ("a", "b"), float64, mpmath, doc, _broadcast, elementwise=True, operator=f"a {name} b")


_BROADCASTING = "shapes broadcast as in numpy (a scalar with anything)"

_OPERATORS: dict[str, Function] = {
    record.name: record
    for record in (
        _binary("+", np.add, lambda b, x, y: b.fit(x + y), f"Sum, entry by entry; {_BROADCASTING}."),
        _binary("-", np.subtract, lambda b, x, y: b.fit(x - y), "Difference, entry by entry, broadcasting."),
        Function(
            "*", ("a", "b"), np.multiply, _product, "Product, entry by entry, broadcasting.", _broadcast,
            bilinear=True, operator="a * b",
        ),
        _binary("/", np.divide, _divide, "Quotient, entry by entry, broadcasting; `x / 0` is `±inf`, `0 / 0` is `nan`."),
        _binary("**", np.power, _power,
                "Power, entry by entry, broadcasting; a negative number to a non-integer power is `nan`."),
        Function(
            "@", ("a", "b"), np.matmul, _matmul, "Matrix product as in numpy, of 1-D and 2-D arrays.",
            _matmul_shape, bilinear=True, operator="a @ b",
        ),
        Function("neg", ("a",), np.negative, lambda b, x: -x, "Negation.", _same, elementwise=True, operator="-a"),
    )
}  # fmt: skip

_LIBRARY: dict[str, Function] = {
    record.name: record
    for record in (
        _elementwise("exp", np.exp, _exp, lambda ctx, x: ctx.exp(x), "`e` to the power of each entry.",
                     exponential=True),
        _elementwise(
            "log", np.log, _log, lambda ctx, x: 1 / x,
            "Natural logarithm; `log(0)` is `-inf`, a negative entry gives `nan`.", kinks=Kinks(0.0, None, "0"),
        ),
        _elementwise(
            "log1p", np.log1p, _log1p, lambda ctx, x: 1 / (1 + x),
            "`log(1 + a)`, accurate for small entries.", kinks=Kinks(-1.0, None, "-1"),
        ),
        _elementwise("expm1", np.expm1, _expm1, lambda ctx, x: ctx.exp(x), "`exp(a) - 1`, accurate for small entries.",
                     exponential=True),
        _elementwise(
            "sqrt", np.sqrt, _sqrt, lambda ctx, x: 1 / (2 * ctx.sqrt(x)),
            "Square root; a negative entry gives `nan`.", kinks=Kinks(0.0, None, "0"),
        ),
        _elementwise("tanh", np.tanh, lambda b, x: b.ctx.tanh(x), lambda ctx, x: ctx.sech(x) ** 2,
                     "Hyperbolic tangent.", exponential=True),
        _elementwise("sigmoid", _sigmoid64, _sigmoid, lambda ctx, x: 1 / (4 * ctx.cosh(x / 2) ** 2),
                     "The logistic function `1 / (1 + exp(-a))`.", exponential=True),
        _elementwise("softplus", _softplus64, _softplus, lambda ctx, x: 1 / (1 + ctx.exp(-x)), "`log(1 + exp(a))`.",
                     exponential=True),
        _elementwise("abs", np.abs, lambda b, x: abs(x), lambda ctx, x: ctx.sign(x), "Absolute value.",
                     kinks=Kinks(0.0, None, "0")),
        _elementwise("sin", np.sin, _trigonometric("sin"), lambda ctx, x: ctx.cos(x), "Sine (of radians)."),
        _elementwise("cos", np.cos, _trigonometric("cos"), lambda ctx, x: -ctx.sin(x), "Cosine (of radians)."),
        _elementwise(
            "tan", np.tan, _trigonometric("tan"), lambda ctx, x: 1 / ctx.cos(x) ** 2,
            "Tangent (of radians). Not an activation: a layer's inputs would reach its poles.",
            activation=False, kinks=Kinks(math.pi / 2, math.pi, "π/2 + kπ"),
        ),
        _elementwise(
            "arcsin", np.arcsin, _inverse_trigonometric("asin"), lambda ctx, x: 1 / ctx.sqrt(1 - x**2),
            "Inverse sine, in [-π/2, π/2]; an entry outside [-1, 1] gives `nan`.",
            activation=False, kinks=Kinks(-1.0, None, "-1, 1", also=(1.0,)),
        ),
        _elementwise(
            "arccos", np.arccos, _inverse_trigonometric("acos"), lambda ctx, x: -1 / ctx.sqrt(1 - x**2),
            "Inverse cosine, in [0, π]; an entry outside [-1, 1] gives `nan`.",
            activation=False, kinks=Kinks(-1.0, None, "-1, 1", also=(1.0,)),
        ),
        _elementwise("arctan", np.arctan, lambda b, x: b.ctx.atan(x), lambda ctx, x: 1 / (1 + x**2),
                     "Inverse tangent, in (-π/2, π/2)."),
        _elementwise("sinh", np.sinh, _hyperbolic("sinh"), lambda ctx, x: ctx.cosh(x), "Hyperbolic sine.",
                     activation=False, exponential=True),
        _elementwise("cosh", np.cosh, _hyperbolic("cosh"), lambda ctx, x: ctx.sinh(x), "Hyperbolic cosine.",
                     activation=False, exponential=True),
        _elementwise("relu", lambda a: np.maximum(a, 0.0), _relu, lambda ctx, x: ctx.mpf(1 if x > 0 else 0),
                     "`maximum(a, 0)`, the rectifier.", kinks=Kinks(0.0, None, "0")),
        _elementwise("heaviside", lambda a: np.where(np.isnan(a), np.nan, (a > 0).astype(np.float64)), _heaviside,
                     lambda ctx, x: ctx.zero, "1 where `a > 0`, else 0: the derivative of `relu`.",
                     activation=False, kinks=Kinks(0.0, None, "0")),
        Function(
            "maximum", ("a", "b"), np.maximum, _maximum, "The larger of `a` and `b`, entry by entry, broadcasting.",
            _broadcast, elementwise=True, gap=lambda a, b: float(np.min(np.abs(a - b), initial=np.inf)),
            kink_text="`a = b`",
        ),
        Function(
            "minimum", ("a", "b"), np.minimum, _minimum, "The smaller of `a` and `b`, entry by entry, broadcasting.",
            _broadcast, elementwise=True, gap=lambda a, b: float(np.min(np.abs(a - b), initial=np.inf)),
            kink_text="`a = b`",
        ),
        Function(
            "clip", ("a", "low", "high"), lambda a, low, high: np.minimum(np.maximum(a, low), high), _clip,
            "`a` limited to `[low, high]`, entry by entry, broadcasting.", _clip_shape, elementwise=True,
            gap=lambda a, low, high: float(np.min(np.minimum(np.abs(a - low), np.abs(a - high)), initial=np.inf)),
            kink_text="`a = low`, `a = high`",
        ),
        Function(
            "sum", ("a",), lambda a, axis: np.sum(a, axis=axis), lambda b, a, axis: np.sum(a, axis=axis),
            "The sum of all entries, a scalar; with `axis=k` the sums along dimension `k` "
            "(`sum(W, axis=0)` of a `[H, D]` matrix is `[D]`).",
            _sum_shape, statics=(Static("axis", None),),
        ),
        Function(
            "mean", ("a",), lambda a, axis: np.mean(a, axis=axis), array_kernels.mp_mean,
            "The mean of all entries; with `axis=k` the means along dimension `k`.",
            _sum_shape, statics=(Static("axis", None),),
        ),
        Function(
            "max", ("a",), lambda a, axis: np.max(a, axis=axis), array_kernels.mp_max,
            "The largest entry; with `axis=k` the largest along dimension `k`.",
            _sum_shape, statics=(Static("axis", None),), gap=array_kernels.gap_max, kink_text="a tie",
        ),
        Function(
            "min", ("a",), lambda a, axis: np.min(a, axis=axis), array_kernels.mp_min,
            "The smallest entry; with `axis=k` the smallest along dimension `k`.",
            _sum_shape, statics=(Static("axis", None),), gap=array_kernels.gap_max, kink_text="a tie",
        ),
        Function(
            "logsumexp", ("a",), array_kernels.logsumexp64, array_kernels.mp_logsumexp,
            "`log(sum(exp(a)))`, computed without overflow; with `axis=k` along dimension `k`.",
            _sum_shape, statics=(Static("axis", None),), exponential=True,
        ),
        Function(
            "softmax", ("a",), array_kernels.softmax64, array_kernels.mp_softmax,
            "`exp(a) / sum(exp(a))` along the last dimension (`axis=k`: along dimension `k`; "
            "`axis=None`: over every entry); the shape is kept.",
            _keep_axis_shape, statics=(Static("axis", -1),), exponential=True,
        ),
        Function(
            "log_softmax", ("a",), array_kernels.log_softmax64, array_kernels.mp_log_softmax,
            "`log(softmax(a, axis))`, computed without overflow; the shape is kept.",
            _keep_axis_shape, statics=(Static("axis", -1),), exponential=True,
        ),
        Function(
            "norm", ("a",), array_kernels.norm64, array_kernels.mp_norm,
            "The Euclidean norm of all entries (for a matrix, the Frobenius norm), a scalar.",
            _scalar_shape, gap=lambda a: float(np.linalg.norm(np.ravel(a))), kink_text="`a = 0`",
        ),
        Function(
            "trace", ("a",), np.trace, array_kernels.mp_trace, "The sum of the diagonal of a square matrix.",
            _square_to_scalar,
        ),
        Function(
            "det", ("a",), array_kernels.det64, array_kernels.mp_det, "The determinant of a square matrix.",
            _square_to_scalar,
        ),
        Function(
            "logdet", ("a",), array_kernels.logdet64, array_kernels.mp_logdet,
            "`log(det(a))`; `nan` where the determinant is negative, `-inf` where it is 0.",
            _square_to_scalar, gap=array_kernels.gap_det, kink_text="a singular `a`",
        ),
        Function(
            "inv", ("a",), array_kernels.inv64, array_kernels.mp_inv,
            "The inverse of a square matrix; all `nan` for a singular one.",
            _square_same, gap=array_kernels.gap_det, kink_text="a singular `a`",
        ),
        Function(
            "solve", ("a", "b"), array_kernels.solve64, array_kernels.mp_solve,
            "`inv(a) @ b` for a square `a` and a vector or matrix `b`, computed without the inverse.",
            _solve_shape, gap=lambda a, b: array_kernels.gap_det(a), kink_text="a singular `a`",
        ),
        Function(
            "diag", ("a",), array_kernels.diag64, array_kernels.mp_diag,
            "As numpy's `diag`: of a vector, the diagonal matrix; of a square matrix, its diagonal.",
            _diag_shape,
        ),
        Function(
            "eye", (), array_kernels.eye64, array_kernels.mp_eye,
            "The `n`×`n` identity matrix; `n` is a dimension name or a size: `eye(N)`.",
            _eye_shape, statics=(Static("n", None, dimension=True),),
        ),
        Function(
            "ones", (), array_kernels.ones64, array_kernels.mp_ones,
            "A vector of `rows` ones, or a `rows`×`columns` matrix: `ones(N)`, `ones(N, D)`.",
            _ones_shape, statics=(Static("rows", None, dimension=True), Static("columns", None, dimension=True)),
        ),
        Function(
            "onehot", ("y",), array_kernels.onehot64, array_kernels.mp_onehot,
            "For integer labels `y`, 1 where the last index equals the label, else 0; shape "
            "`shape(y) + [classes]`: `onehot(y, C)`.",
            _onehot_shape, statics=(Static("classes", None, dimension=True),),
        ),
        Function(
            "transpose", ("a",), np.transpose, lambda b, a: np.transpose(a),
            "The dimensions in reverse order, the same as `a.T`.", _transpose_shape,
        ),
        Function(
            "dot", ("a", "b"), np.dot, _dot, "As numpy's `dot`: `a * b` when one is a scalar, else `a @ b`.",
            _dot_shape, bilinear=True,
        ),
        Function(
            "outer", ("a", "b"), np.multiply.outer, _outer,
            "Every product of an entry of `a` and one of `b`, of shape `shape(a) + shape(b)`.",
            _outer_shape, bilinear=True,
        ),
    )
}  # fmt: skip

OPERATORS: Mapping[str, Function] = MappingProxyType(_OPERATORS)
"""The operators by name: ``+ - * / ** @`` and ``neg`` (unary minus)."""

LIBRARY: Mapping[str, Function] = MappingProxyType(_LIBRARY)
"""The library functions a formula may call, by name."""

CONSTANTS: Mapping[str, Constant] = MappingProxyType({
    "pi": Constant("pi", math.pi, lambda ctx: +ctx.pi, "π = 3.14159..., to the working precision."),
    "e": Constant("e", math.e, lambda ctx: +ctx.e, "Euler's number e = 2.71828..., to the working precision."),
})  # fmt: skip
"""The named numbers a formula may use; no variable, quantity or dimension may take their names."""


# -- the docs table --------------------------------------------------------------------------

DOCS_BEGIN = "<!-- functions table: generated by harness.functions.docs_table(); edit the records, not this -->"
DOCS_END = "<!-- end of the functions table -->"


def docs_table() -> str:
    """The markdown table of every operator and library function, between its two markers."""
    lines = [
        DOCS_BEGIN,
        "| written | meaning | activation | not differentiable at |",
        "|---|---|---|---|",
    ]
    for record in (*OPERATORS.values(), *LIBRARY.values()):
        activation = ("yes" if record.activation else "no") if record.derivative else ""
        kinks = record.kinks.text if record.kinks else record.kink_text
        lines.append(f"| `{record.call}` | {record.doc} | {activation} | {kinks} |")
    for constant in CONSTANTS.values():
        lines.append(f"| `{constant.name}` | {constant.doc} |  |  |")
    lines.append(DOCS_END)
    return "\n".join(lines)
