"""The formula language's values in two numeric backends, with the kernels of ``harness.functions``.

Both backends hold values as numpy arrays (0-d for a scalar), so broadcasting and ``@`` follow
numpy's rules identically: ``FLOAT64`` uses float64 arrays, ``MpmathBackend(dps)`` uses
``dtype=object`` arrays of ``mpf`` numbers from its own ``mpmath.MPContext``.

Every operation goes through ``Backend.apply(name, *args, **statics)`` (or the function
``Backend.operation`` makes of it, for running one operation many times), with the kernel its
record in ``harness.functions`` gives for the backend. Both backends agree on the special cases:
division by zero gives ``±inf`` (``nan`` for ``0/0``), the log or square root of a negative
number gives ``nan``, and nothing raises. Overflow gives ``inf`` silently: float64 overflows near
``1.8e308``; mpmath numbers are capped at ``2**MAX_MAGNITUDE_BITS`` (beyond it a value becomes
``±inf``, below its inverse ``0``), so hostile input such as ``10**10**10**10`` cannot make mpmath
build a number with billions of digits.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import mpmath
import numpy as np
from mpmath import libmp

from harness.errors import FormulaError, InternalError
from harness.functions import LIBRARY, OPERATORS, Constant, Function

MAX_MAGNITUDE_BITS = 2**20
"""An mpmath value with ``|x| >= 2**MAX_MAGNITUDE_BITS`` (about 10**315652) becomes ``±inf``."""


class Backend:
    """A numeric representation for formula values, with every operator and library function on it."""

    name: str

    def __init__(self) -> None:
        self._kernels: dict[str, Callable[..., Any]] = {
            record.name: _with_defaults(record, self._kernel(record))
            for record in (*OPERATORS.values(), *LIBRARY.values())
        }

    def __repr__(self) -> str:
        return f"<{self.name} backend>"

    def apply(self, name: str, *args: np.ndarray, **statics: int | None) -> np.ndarray:
        """Apply an operator (``"+"``, ``"@"``, ``"neg"``, ...) or library function to arrays.

        ``statics`` are the function's static arguments (``axis=0``); left out, they take their
        defaults.
        """
        # numpy checks the floating-point flags after a whole loop, also for object arrays.
        with np.errstate(all="ignore"):
            return self.operation(name, **statics)(*args)

    def operation(self, name: str, **statics: int | None) -> Callable[..., np.ndarray]:
        """``apply(name, ..., **statics)`` as a function of the arrays, without the ``np.errstate``.

        For running one operation many times (``harness.formula.plan``): the caller holds
        ``np.errstate(all="ignore")``; results are checked as ``apply`` checks them.
        """
        kernel, finish = self._kernels[name], self._finish
        if statics:
            return lambda *args: finish(kernel(*args, **statics), name)
        return lambda *args: finish(kernel(*args), name)

    def _kernel(self, record: Function) -> Callable[..., Any]:
        raise NotImplementedError

    def _finish(self, result: Any, what: str) -> np.ndarray:
        raise NotImplementedError

    def asarray(self, value: Any) -> np.ndarray:
        """Convert an input value (float, nested list, float64 array) to this representation, exactly."""
        raise NotImplementedError

    def literal(self, value: int | float, text: str) -> np.ndarray:
        """The 0-d array for a number written ``text`` in a formula (``value`` is Python's reading)."""
        raise NotImplementedError

    def constant(self, constant: Constant) -> np.ndarray:
        """The 0-d array of a named number (``pi``)."""
        raise NotImplementedError


def _with_defaults(record: Function, kernel: Callable[..., Any]) -> Callable[..., Any]:
    if not record.statics:
        return kernel
    defaults = {static.name: static.default for static in record.statics}
    return lambda *arrays, **statics: kernel(*arrays, **{**defaults, **statics})


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

    def _kernel(self, record: Function) -> Callable[..., Any]:
        return record.float64

    def _finish(self, result: Any, what: str) -> np.ndarray:
        return np.asarray(result, dtype=np.float64)

    def asarray(self, value: Any) -> np.ndarray:
        return _real_float64(value)

    def literal(self, value: int | float, text: str) -> np.ndarray:
        try:
            return np.asarray(float(value))
        except OverflowError:  # an int literal beyond the float range
            return np.asarray(math.inf)

    def constant(self, constant: Constant) -> np.ndarray:
        return np.asarray(constant.float64)


FLOAT64 = Float64Backend()
"""The float64 backend (stateless, safe to share between threads)."""


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


def to_float64(array: Any) -> np.ndarray:
    """Round ``mpf`` values (of any context) to the nearest float64, ties to even.

    The one conversion from mpmath to float64 (``float(mpf)`` rounds subnormals twice).
    """
    return np.asarray(_TO_FLOAT64(np.asarray(array, dtype=object)), dtype=np.float64)


class MpmathBackend(Backend):
    """Object arrays of ``mpf`` numbers from a private ``MPContext`` working at ``dps`` digits.

    The context's precision is set once here and never changed afterwards (mpmath's global
    context is shared state; this one is not). Kernels that would need a temporary change of
    precision (``log1p``, ``expm1``) call ``libmp`` with an explicit precision instead, so an
    instance never mutates its context while evaluating.

    The kernels of ``harness.functions`` get the backend and use its context ``ctx``, its
    numbers ``zero``, ``one``, ``inf``, ``nan``, the magnitude cap ``fit`` (and ``exp_limit``,
    beyond which ``exp`` exceeds it), and the conversions ``exact`` and ``to_float``.

    The float-leak guard: every result of ``apply`` must consist of this context's ``mpf`` only.
    A Python or numpy float in an mpmath computation is silently converted and the result is
    silently wrong, so finding one raises ``InternalError``.
    """

    name = "mpmath"

    exp_limit = MAX_MAGNITUDE_BITS * math.log(2)
    """``exp(x)`` of an ``x`` beyond this exceeds the magnitude cap."""

    def __init__(self, dps: int) -> None:
        if not isinstance(dps, int) or isinstance(dps, bool) or dps < 1:
            raise ValueError(f"dps must be a positive int, got {dps!r}")
        self.ctx = mpmath.MPContext()
        self.ctx.dps = dps
        self.dps = dps
        self._mpf = self.ctx.mpf
        self.one = self.ctx.mpf(1)
        self.zero = self.ctx.mpf(0)
        self.inf = self.ctx.mpf("inf")
        self.nan = self.ctx.mpf("nan")
        self._adopt = np.frompyfunc(self._adopt_one, 1, 1)
        self._fit_all = np.frompyfunc(self.fit, 1, 1)
        self._literals: dict[str, np.ndarray] = {}
        super().__init__()

    def __repr__(self) -> str:
        return f"<mpmath backend, {self.dps} digits>"

    _per_thread = threading.local()

    @classmethod
    def at(cls, dps: int) -> MpmathBackend:
        """A backend of this class at ``dps`` digits, made once per thread and then reused.

        Building one (a fresh ``MPContext`` and every kernel) costs about a millisecond, which
        dominated the reference; a backend holds no state but its literal cache, and the linear
        algebra kernels raise and restore its context's precision only within one call, so one
        thread may reuse it. Threads get their own.
        """
        cache = cls._per_thread.__dict__.setdefault("backends", {})
        # The records themselves are part of the key: a backend holds the kernels it was built with.
        key = (cls, dps, tuple(map(id, OPERATORS.values())), tuple(map(id, LIBRARY.values())))
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = cls(dps)
        return cache[key]

    def _kernel(self, record: Function) -> Callable[..., Any]:
        if record.elementwise:
            return np.frompyfunc(partial(record.mpmath, self), len(record.arrays), 1)
        fit = self._fit_all
        if record.bilinear:
            return lambda a, b: fit(record.mpmath(self._product, a, b))
        return lambda *arrays, **statics: fit(record.mpmath(self, *arrays, **statics))

    def _product(self, a: np.ndarray, b: np.ndarray) -> Any:
        """The entrywise product the bilinear kernels are built with (a subclass may change it)."""
        return np.multiply(a, b)

    def _finish(self, result: Any, what: str) -> np.ndarray:
        array = np.asarray(result, dtype=object)
        mpf = self._mpf
        for entry in array.flat:
            if type(entry) is not mpf:
                raise InternalError(
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
            return self.exact(float(entry))
        raise FormulaError(f"expected a real number, got {entry!r} of type {type(entry).__name__}")

    def from_float64(self, array: Any) -> np.ndarray:
        """The exact ``mpf`` values of a float64 array (no rounding, whatever the precision)."""
        convert = np.frompyfunc(self.exact, 1, 1)
        with np.errstate(invalid="ignore"):  # numpy would warn about the flag a nan's conversion raises
            return np.asarray(convert(np.asarray(array, dtype=np.float64)), dtype=object)

    def literal(self, value: int | float, text: str) -> np.ndarray:
        if text not in self._literals:
            self._literals[text] = self._finish(self.fit(self._number(value, text)), f"the literal {text}")
        return self._literals[text]

    def constant(self, constant: Constant) -> np.ndarray:
        key = "constant " + constant.name
        if key not in self._literals:
            self._literals[key] = self._finish(constant.mpmath(self.ctx), f"the constant {constant.name}")
        return self._literals[key]

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
        return self.exact(value)

    # -- for the kernels ---------------------------------------------------------------------

    def fit(self, x: Any) -> Any:
        """``x`` within the magnitude cap: ``±inf`` beyond ``2**MAX_MAGNITUDE_BITS``, 0 below its inverse."""
        _, man, exp, bc = x._mpf_
        if man and not -MAX_MAGNITUDE_BITS < exp + bc <= MAX_MAGNITUDE_BITS:
            return self.zero if exp + bc <= 0 else (self.inf if x > 0 else -self.inf)
        return x

    def exact(self, value: float) -> Any:
        """The ``mpf`` equal to a float (no rounding, whatever the precision)."""
        return self.ctx.make_mpf(libmp.from_float(float(value)))

    to_float = staticmethod(_to_float)
