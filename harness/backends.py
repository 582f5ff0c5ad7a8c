"""The formula language's operations and function library, in two numeric backends.

Both backends hold values as numpy arrays (0-d for a scalar), so broadcasting and ``@`` follow
numpy's rules identically: ``FLOAT64`` uses float64 arrays, ``MpmathBackend(dps)`` uses
``dtype=object`` arrays of ``mpf`` numbers from its own ``mpmath.MPContext``.

Every operation goes through ``Backend.apply(name, *args)``. Both backends agree on the special
cases: division by zero gives ``±inf`` (``nan`` for ``0/0``), the log or square root of a negative
number gives ``nan``, and nothing raises. Overflow gives ``inf`` silently: float64 overflows near
``1.8e308``; mpmath numbers are capped at ``2**MAX_MAGNITUDE_BITS`` (beyond it a value becomes
``±inf``, below its inverse ``0``), so hostile input such as ``10**10**10**10`` cannot make mpmath
build a number with billions of digits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import mpmath
import numpy as np
from mpmath import libmp

from harness.errors import FormulaError, HarnessError

ELEMENTWISE = ("exp", "log", "log1p", "expm1", "sqrt", "tanh", "sigmoid", "softplus", "abs", "sin", "cos")
"""Unary functions applied entry by entry: the members an activation placeholder may stand for."""

ARITY: Mapping[str, int] = MappingProxyType(
    {**{name: 1 for name in ELEMENTWISE}, "sum": 1, "transpose": 1, "dot": 2, "outer": 2}
)
"""Every library function and how many positional arguments it takes."""

OPERATORS = ("+", "-", "*", "/", "**", "@", "neg")
"""The operations ``apply`` accepts besides the library functions (``neg`` is unary minus)."""

MAX_MAGNITUDE_BITS = 2**20
"""An mpmath value with ``|x| >= 2**MAX_MAGNITUDE_BITS`` (about 10**315652) becomes ``±inf``."""

_EXP_LIMIT = MAX_MAGNITUDE_BITS * math.log(2)  # exp(x) beyond this overflows the cap
_TRIG_LIMIT_BITS = 1024  # sin/cos of |x| >= 2**1024 (beyond float64) is nan, as sin(inf) is


class Backend:
    """A numeric representation for formula values, with the operations and library on it.

    ``functions`` maps each library function name to a callable taking and returning arrays.
    """

    name: str

    def __init__(self) -> None:
        self._kernels: dict[str, Callable[..., Any]] = self._make_kernels()
        self.functions: Mapping[str, Callable[..., np.ndarray]] = MappingProxyType(
            {name: self._bound(name) for name in ARITY}
        )

    def __repr__(self) -> str:
        return f"<{self.name} backend>"

    def _bound(self, name: str) -> Callable[..., np.ndarray]:
        def function(*args: np.ndarray) -> np.ndarray:
            return self.apply(name, *args)

        function.__name__ = name
        return function

    def apply(self, name: str, *args: np.ndarray) -> np.ndarray:
        """Apply an operator (``"+"``, ``"@"``, ``"neg"``, ...) or library function to arrays."""
        # numpy checks the floating-point flags after a whole loop, also for object arrays.
        with np.errstate(all="ignore"):
            return self._finish(self._kernels[name](*args), name)

    def _finish(self, result: Any, what: str) -> np.ndarray:
        raise NotImplementedError

    def asarray(self, value: Any) -> np.ndarray:
        """Convert an input value (float, nested list, float64 array) to this representation, exactly."""
        raise NotImplementedError

    def literal(self, value: int | float, text: str) -> np.ndarray:
        """The 0-d array for a number written ``text`` in a formula (``value`` is Python's reading)."""
        raise NotImplementedError

    def _make_kernels(self) -> dict[str, Callable[..., Any]]:
        raise NotImplementedError


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) never overflows; the two branches are the same function rearranged.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus64(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _real_float64(value: Any) -> np.ndarray:
    if np.iscomplexobj(value):
        raise FormulaError(f"expected real numbers, got the complex value {value!r}")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise FormulaError(f"expected a real number or an array of real numbers, got {value!r}") from error


class Float64Backend(Backend):
    """numpy float64 arrays; warnings are silenced, overflow is inf and invalid results are nan."""

    name = "float64"

    def _make_kernels(self) -> dict[str, Callable[..., Any]]:
        return {
            "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power,
            "@": np.matmul, "neg": np.negative,
            "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
            "tanh": np.tanh, "sigmoid": _sigmoid64, "softplus": _softplus64, "abs": np.abs,
            "sin": np.sin, "cos": np.cos,
            "sum": np.sum, "transpose": np.transpose, "dot": np.dot, "outer": np.multiply.outer,
        }  # fmt: skip

    def _finish(self, result: Any, what: str) -> np.ndarray:
        return np.asarray(result, dtype=np.float64)

    def asarray(self, value: Any) -> np.ndarray:
        return _real_float64(value)

    def literal(self, value: int | float, text: str) -> np.ndarray:
        try:
            return np.asarray(float(value))
        except OverflowError:  # an int literal beyond the float range
            return np.asarray(math.inf)


FLOAT64 = Float64Backend()
"""The float64 backend (stateless, safe to share between threads)."""


class MpmathBackend(Backend):
    """Object arrays of ``mpf`` numbers from a private ``MPContext`` working at ``dps`` digits.

    The context's precision is set once here and never changed afterwards (mpmath's global
    context is shared state; this one is not). Functions that would need a temporary change of
    precision (``log1p``, ``expm1``) call ``libmp`` with an explicit precision instead, so an
    instance never mutates its context while evaluating.

    The float-leak guard: every result of ``apply`` must consist of this context's ``mpf`` only.
    A Python or numpy float in an mpmath computation is silently converted and the result is
    silently wrong, so finding one raises ``HarnessError``.
    """

    name = "mpmath"

    def __init__(self, dps: int) -> None:
        if not isinstance(dps, int) or isinstance(dps, bool) or dps < 1:
            raise ValueError(f"dps must be a positive int, got {dps!r}")
        self.ctx = mpmath.MPContext()
        self.ctx.dps = dps
        self.dps = dps
        self._mpf = self.ctx.mpf
        self._one = self.ctx.mpf(1)
        self._zero = self.ctx.mpf(0)
        self._inf = self.ctx.mpf("inf")
        self._nan = self.ctx.mpf("nan")
        self._adopt = np.frompyfunc(self._adopt_one, 1, 1)
        self._literals: dict[str, np.ndarray] = {}
        super().__init__()

    def __repr__(self) -> str:
        return f"<mpmath backend, {self.dps} digits>"

    def _make_kernels(self) -> dict[str, Callable[..., Any]]:
        unary = {name: getattr(self, "_" + name) for name in ELEMENTWISE}
        binary = {
            "+": lambda x, y: self._fit(x + y),
            "-": lambda x, y: self._fit(x - y),
            "*": lambda x, y: self._fit(x * y),
            "/": self._divide,
            "**": self._power,
        }
        kernels: dict[str, Callable[..., Any]] = {
            name: np.frompyfunc(function, 1, 1) for name, function in unary.items()
        }
        kernels.update({name: np.frompyfunc(function, 2, 1) for name, function in binary.items()})
        kernels["neg"] = np.negative
        fit = np.frompyfunc(self._fit, 1, 1)
        kernels["@"] = lambda a, b: fit(np.matmul(a, b))
        kernels["dot"] = lambda a, b: fit(np.dot(a, b))
        kernels["outer"] = kernels["*"].outer
        kernels["sum"] = lambda a: fit(np.sum(a))
        kernels["transpose"] = np.transpose
        return kernels

    def _finish(self, result: Any, what: str) -> np.ndarray:
        array = np.asarray(result, dtype=object)
        mpf = self._mpf
        for entry in array.flat:
            if type(entry) is not mpf:
                raise HarnessError(
                    f"float leak in the mpmath backend: {what} produced {entry!r} of type "
                    f"{type(entry).__name__}, expected an mpf of the backend's own context; a float "
                    "in an mpmath computation makes the result silently wrong"
                )
        return array

    # -- conversions -------------------------------------------------------------------------

    def asarray(self, value: Any) -> np.ndarray:
        """Convert exactly: floats and ints by value, ``mpf`` of any context without rounding."""
        array = np.asarray(value)
        if array.dtype == object:
            return np.asarray(self._adopt(array), dtype=object)
        return self.from_float64(_real_float64(array))

    def _adopt_one(self, entry: Any) -> Any:
        if type(entry) is self._mpf:
            return entry
        if isinstance(entry, mpmath.ctx_mp_python._mpf):
            return self.ctx.make_mpf(entry._mpf_)
        if isinstance(entry, (float, int, np.floating, np.integer)) and not isinstance(entry, bool):
            return self.ctx.make_mpf(libmp.from_float(float(entry)))
        raise FormulaError(f"expected a real number, got {entry!r} of type {type(entry).__name__}")

    def from_float64(self, array: Any) -> np.ndarray:
        """The exact ``mpf`` values of a float64 array (no rounding, whatever the precision)."""
        convert = np.frompyfunc(lambda v: self.ctx.make_mpf(libmp.from_float(v)), 1, 1)
        return np.asarray(convert(np.asarray(array, dtype=np.float64)), dtype=object)

    def to_float64(self, array: Any) -> np.ndarray:
        """Round ``mpf`` values (of any context) to the nearest float64, ties to even."""
        return np.asarray(_TO_FLOAT64(np.asarray(array, dtype=object)), dtype=np.float64)

    def literal(self, value: int | float, text: str) -> np.ndarray:
        if text not in self._literals:
            self._literals[text] = self._finish(self._fit(self._number(value, text)), f"the literal {text}")
        return self._literals[text]

    def _number(self, value: int | float, text: str) -> Any:
        # A decimal literal means its decimal value ("0.1" is 1/10 rounded at this precision,
        # not the float 0.1). Literals that float reads as 0 or inf stay so: parsing an exponent
        # like 1e-99999999 exactly would be slow.
        if isinstance(value, int):
            return self.ctx.mpf(value)
        if math.isfinite(value) and value != 0.0:
            try:
                return self.ctx.mpf(text.replace("_", ""))
            except (ValueError, TypeError):
                pass
        return self._from_float(value)

    # -- elementwise kernels on single mpf numbers ------------------------------------------

    def _fit(self, x: Any) -> Any:
        _, man, exp, bc = x._mpf_
        if man and not -MAX_MAGNITUDE_BITS < exp + bc <= MAX_MAGNITUDE_BITS:
            return self._zero if exp + bc <= 0 else (self._inf if x > 0 else -self._inf)
        return x

    def _from_float(self, value: float) -> Any:
        return self.ctx.make_mpf(libmp.from_float(float(value)))

    def _divide(self, x: Any, y: Any) -> Any:
        if not y:  # mpmath raises ZeroDivisionError; give IEEE's answer (±inf, or nan for 0/0)
            return self._from_float(np.divide(_to_float(x), 0.0))
        return self._fit(x / y)

    def _power(self, x: Any, y: Any) -> Any:
        ctx = self.ctx
        if y == 0 or x == 1:  # IEEE: x**0 == 1 and 1**y == 1 even for nan
            return self._one
        if not (ctx.isfinite(x) and ctx.isfinite(y)) or x == 0:
            # The answer is 0, 1, ±inf or nan: float64 has it exactly.
            return self._from_float(np.power(_to_float(x), _to_float(y)))
        if x < 0 and not ctx.isint(y):
            return self._nan
        if ctx.isint(y) and abs(y) <= 64:
            return self._fit(x ** int(y))
        # Decide overflow before mpmath tries to build an enormous number.
        log_magnitude = y * ctx.ln(abs(x))
        if log_magnitude > _EXP_LIMIT:
            odd = x < 0 and y._mpf_[2] == 0  # an integer mpf is odd iff its exponent is 0
            return -self._inf if odd else self._inf
        if log_magnitude < -_EXP_LIMIT:
            return self._zero
        return self._fit(x**y)

    def _exp(self, x: Any) -> Any:
        if x > _EXP_LIMIT:
            return self._inf
        if x < -_EXP_LIMIT:
            return self._zero
        return self._fit(self.ctx.exp(x))

    def _log(self, x: Any) -> Any:
        if x < 0:
            return self._nan
        if x == 0:
            return -self._inf
        return self.ctx.ln(x)

    def _log1p(self, x: Any) -> Any:
        if x < -1:
            return self._nan
        if x == -1:
            return -self._inf
        if not self.ctx.isfinite(x):
            return x
        prec = self.ctx.prec
        magnitude = self.ctx.mag(x)
        if magnitude < -prec - 10:  # log1p(x) = x - x**2/2 + ..., and x**2 is below the last bit
            return x
        # 1 + x to enough bits that no digit of x is lost, then one correctly rounded log.
        wide = libmp.mpf_add(libmp.fone, x._mpf_, prec + max(0, -magnitude) + 10)
        return self.ctx.make_mpf(libmp.mpf_log(wide, prec, libmp.round_nearest))

    def _expm1(self, x: Any) -> Any:
        if not -1 <= x <= 1:  # no cancellation (and nan, inf go through exp)
            return self._fit(self._exp(x) - 1)
        prec = self.ctx.prec
        magnitude = self.ctx.mag(x)
        if magnitude < -prec - 10:
            return x
        # exp(x) - 1 cancels about -mag(x) bits: compute exp with that many extra.
        wide = libmp.mpf_exp(x._mpf_, prec + max(0, -magnitude) + 10)
        return self.ctx.make_mpf(libmp.mpf_sub(wide, libmp.fone, prec, libmp.round_nearest))

    def _sqrt(self, x: Any) -> Any:
        return self._nan if x < 0 else self.ctx.sqrt(x)

    def _tanh(self, x: Any) -> Any:
        return self.ctx.tanh(x)

    def _sigmoid(self, x: Any) -> Any:
        e = self._exp(-abs(x))
        return 1 / (1 + e) if x >= 0 else e / (1 + e)

    def _softplus(self, x: Any) -> Any:
        if x > 0:
            return x + self._log1p(self._exp(-x))
        return self._log1p(self._exp(x))

    def _abs(self, x: Any) -> Any:
        return abs(x)

    def _sin(self, x: Any) -> Any:
        if not self.ctx.isfinite(x) or (x and self.ctx.mag(x) > _TRIG_LIMIT_BITS):
            return self._nan
        return self.ctx.sin(x)

    def _cos(self, x: Any) -> Any:
        if not self.ctx.isfinite(x) or (x and self.ctx.mag(x) > _TRIG_LIMIT_BITS):
            return self._nan
        return self.ctx.cos(x)


def _to_float(x: Any) -> float:
    """The float64 nearest to an ``mpf`` of any context (ties to even, subnormals included)."""
    sign, man, exp, bc = x._mpf_
    if not man:
        if x._mpf_ == libmp.fzero:
            return 0.0
        return {libmp.finf: math.inf, libmp.fninf: -math.inf}.get(x._mpf_, math.nan)
    top = exp + bc  # 2**(top-1) <= |x| < 2**top
    if top > 1025:
        value = math.inf
    elif top < -1076:  # below half the smallest subnormal
        value = 0.0
    else:
        # CPython rounds int -> float and int / int correctly: no double rounding.
        try:
            value = float(man << exp) if exp >= 0 else man / (1 << -exp)
        except OverflowError:
            value = math.inf
    return -value if sign else value


_TO_FLOAT64 = np.frompyfunc(_to_float, 1, 1)
