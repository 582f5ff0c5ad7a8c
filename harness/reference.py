"""True values and Jacobians of model quantities, to 30+ significant digits, in mpmath.

Jacobians are central finite differences evaluated in the mpmath backend. For entry ``i`` of
``of`` and entry ``j`` of ``wrt``, with ``x±`` the point moved by ``±s`` in entry ``j``::

    D(s) = (f_i(x+) - f_i(x-)) / (x+_j - x-_j)

where the denominator is computed exactly. Its error has two parts:

- truncation: ``D(s) - f' = f''' s**2 / 6 + O(s**4)``, a relative error ``(R / 6) s**2`` with
  ``R = |f''' / f'|``, the squared inverse length scale of ``f``;
- rounding: ``f`` is evaluated with an absolute error of about ``c 10**-dps |f|`` (``c`` gathers
  the growth of rounding errors through the formulas), giving a relative error of about
  ``c 10**-dps |f| / (s |f'|)``. The ratio ``|f| / |f'|`` is the cancellation: it is large where
  an output saturates (``sigmoid(z)`` at ``z = 60`` differs from 1 in the 27th digit).

Aiming at ``T = digits + 3`` correct digits, the first try uses ``s = 10**-h * max(1, |x_j|)``
with ``h = ceil(T / 2) + 10`` and a working precision of ``T + h + 15`` digits (75 digits for 30
wanted): truncation is below ``10**-T`` while ``R < 10**20``, rounding while ``c |f| / |f'| <
10**15``. Both assumptions are then *checked*, not trusted: every Jacobian is computed twice, with
the step above and with a step ``10**5`` larger at 15 fewer digits. The second one's truncation
error is ``10**10`` times larger, its rounding error ``10**15 / 10**5 = 10**10`` times larger, so
the difference of the two estimates bounds the error of the first one times ``10**10``; an entry is
accepted when they agree to ``T - 10`` digits, which leaves the accepted entry with an error of
about ``10**-T``. Entries that disagree get a step ``10**-k`` smaller and ``2k`` more digits, with
``k`` the digits missing (plus 2), which reduces truncation by ``10**2k`` and rounding by
``10**k``; only their columns are recomputed. After ``MAX_ROUNDS`` rounds (or at ``MAX_DPS``
digits) an entry that still disagrees raises ``InternalError``: the model is too ill-conditioned
at that point for a trustworthy reference.

Against the closed forms of Question 2 (vector edition, H = D = 4, entries in [-5, 5]; see
``tests/test_reference.py``) the worst entry is correct to about 32 digits and the median to 45.

An entry that comes out exactly 0 twice is accepted when the output moved at all (a function
even around the point, such as ``x**2`` at 0), or when it does not depend on ``wrt[j]`` at this
point (found by setting ``wrt[j]`` to nan and seeing whether the nan reaches it, with ``0 * nan =
0``: ``w1 @ x`` does not depend on ``w1[i, j]`` when ``x[j] = 0``). Otherwise the difference was
absorbed by rounding (``sigmoid(2000)`` is ``1`` to 868 digits) and precision grows until the
entry resolves (tripling the precision each round, the step unchanged), up to ``MAX_DPS``
digits; past that it is taken as 0. With the default 30 digits this resolves derivatives down to
about ``10**-5900`` times the output, e.g. ``tanh(z)`` at ``z = 2000`` (where ``1 - tanh(z)`` is
below ``10**-1737``).

At the highest precision, an entry whose two estimates are both below ``10**-(digits + 3)`` in
size is accepted as it is (0 to that absolute precision): a derivative that is exactly 0 at a
degenerate point, such as d (a @ inv(X) @ b) / d X where ``a`` is a row of ``X``, shows rounding
noise at every precision.

An entry below ``10**-(digits + 3)`` in size whose check estimate is at least ``10**5`` times
larger (it shrinks with the step: truncation error of a zero derivative, ``x**3`` at 0 gives
``s**2``) is accepted as it is once it has been refined one round (a smaller step, more digits)
and still looks so; such estimates would otherwise never agree relatively. The entry is then
correct to that absolute precision. The round first is for tiny derivatives that are not 0:
``softplus(3e-47 * exp(x))`` at 0 looks alike at the first precision, where cancellation leaves
its estimate 3 correct digits, and agrees to 35 after that round.

Only the quantities that ``of`` and ``wrt`` need are evaluated, once per precision; for each
perturbation only those downstream of ``wrt`` that ``of`` needs are recomputed, by a plan made once
per precision (``harness.model.plan_recompute``: shapes, sizes and literals resolved beforehand,
then only the backend's operations, each result still checked by the float-leak guard), which
gives what evaluating the formulas again gives, bit for bit.
Non-finite entries (overflow beyond ``2**(2**20)``, the log of a negative number) are returned as
they come. Values returned are object arrays of ``mpf`` from the backend's private context.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import mpmath
import numpy as np

from harness.backends import MpmathBackend, _to_float
from harness.errors import HarnessError, InternalError
from harness.formula import parse
from harness.functions import LIBRARY
from harness.model import Model, Variable, evaluate_model, plan_recompute

DEFAULT_DIGITS = 30

MAX_DPS = 6000
"""The highest working precision tried before an unresolved entry gives up."""

MAX_ROUNDS = 8
"""How many times precision (and step) may be refined before an unresolved entry gives up."""

_GUARD_DIGITS = 3  # aim this many digits beyond those promised
_CHECK_STEP_DIGITS = 5  # the checking pass's step is 10**5 larger ...
_CHECK_PRECISION_GAP = 15  # ... and its precision 15 digits lower
_CHECK_RATIO_DIGITS = 2 * _CHECK_STEP_DIGITS  # so its error is 10**10 times larger


def reference_values(
    model: Model, point: Mapping[str, Any], *, activation: str | None = None, digits: int = DEFAULT_DIGITS
) -> dict[str, np.ndarray]:
    """Every variable (exactly) and quantity of ``model`` at ``point``, to ``digits`` significant digits.

    The model is evaluated at ``digits + 20`` and at ``digits + 35`` digits; entries on which the
    two disagree beyond ``digits + 3`` digits are evaluated again with more precision.
    """
    _check_digits(digits)
    _ensure_self_tested()
    dps = digits + 20
    for _ in range(MAX_ROUNDS):
        low = evaluate_model(model, point, MpmathBackend.at(dps), activation=activation)
        high_backend = MpmathBackend.at(dps + _CHECK_PRECISION_GAP)
        high = evaluate_model(model, point, high_backend, activation=activation)
        missing = {}
        for name in model.quantity_names:
            for approximate, better in zip(high_backend.asarray(low[name]).flat, high[name].flat):
                missing[name] = max(missing.get(name, 0), _missing_digits(approximate, better, digits + _GUARD_DIGITS))
        if not any(missing.values()):
            return {name: _rounded(high_backend, high[name]) for name in model.names}
        dps = min(max(dps + max(missing.values()) + 10, 2 * dps), MAX_DPS)
    unsettled = ", ".join(name for name, digits_missing in missing.items() if digits_missing)
    raise InternalError(
        f"the reference values of {unsettled} do not settle at this point even at {dps} digits; "
        "the model is too ill-conditioned here"
    )


def reference_jacobian(
    model: Model,
    of: str,
    wrt: str,
    point: Mapping[str, Any],
    *,
    activation: str | None = None,
    digits: int = DEFAULT_DIGITS,
) -> np.ndarray:
    """The Jacobian of quantity ``of`` with respect to ``wrt`` at ``point``, to ``digits`` digits.

    ``wrt`` is a variable or an intermediate quantity (then everything upstream of it is held
    fixed). The result has shape ``shape(of) + shape(wrt)``. See the module docstring for how
    the step and the precision are chosen and checked.
    """
    _check_digits(digits)
    for role, name in (("of", of), ("wrt", wrt)):
        if name not in model.names:
            raise HarnessError(f"{role}={name!r} is not a variable or quantity of the model ({', '.join(model.names)})")
    _ensure_self_tested()
    return _Jacobian(model, of, wrt, point, activation, digits).compute()


def _check_digits(digits: int) -> None:
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 1000:
        raise HarnessError(f"digits must be an int from 1 to 1000, got {digits!r}")


def _missing_digits(approximate: Any, better: Any, wanted: int) -> int:
    """How many digits short of ``wanted`` the agreement of two estimates of a number is."""
    if approximate == better or not (_finite(approximate) and _finite(better)):
        return 0
    if not better:
        return wanted
    relative = min(max(float(abs((approximate - better) / better)), 1e-300), 1e300)
    return max(0, math.ceil(wanted + math.log10(relative)))


def _finite(x: Any) -> bool:
    return bool(x._mpf_[1]) or x._mpf_ == (0, 0, 0, 0)  # nonzero mantissa, or zero


class _Jacobian:
    """One reference Jacobian: the rounds of paired finite-difference passes until all agree."""

    def __init__(
        self, model: Model, of: str, wrt: str, point: Mapping[str, Any], activation: str | None, digits: int
    ) -> None:
        self.model = _needed_by(model, (of, wrt))
        self.of = of
        self.wrt = wrt
        self.point = point
        self.activation = activation
        self.wanted = digits + _GUARD_DIGITS
        self.negligible = mpmath.mpf(10) ** -self.wanted
        """An entry below this that shrinks with the step is accepted: it is this close to 0."""
        self.recomputed = [
            name for name in model.downstream([wrt]) if name == of or name in model.upstream(of)
        ]
        self._bases: dict[MpmathBackend, dict[str, np.ndarray]] = {}
        self._plans: dict[MpmathBackend, Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]] = {}
        self._dependence: dict[int, np.ndarray] = {}

    def _base(self, backend: MpmathBackend) -> dict[str, np.ndarray]:
        """The model at the point in ``backend``: the same for every pass at its precision."""
        if backend not in self._bases:
            self._bases[backend] = evaluate_model(self.model, self.point, backend, activation=self.activation)
        return self._bases[backend]

    def _recompute(self, backend: MpmathBackend, changed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The quantities between ``wrt`` and ``of`` recomputed from ``changed`` (planned once per backend)."""
        if backend not in self._plans:
            self._plans[backend] = plan_recompute(
                self.model, self._base(backend), backend, self.recomputed, activation=self.activation
            )
        return self._plans[backend](changed)

    def compute(self) -> np.ndarray:
        step_digits = math.ceil(self.wanted / 2) + 10
        dps = self.wanted + step_digits + 15
        result_backend = MpmathBackend.at(dps)
        base = self._base(result_backend)
        of_shape, wrt_shape = base[self.of].shape, base[self.wrt].shape
        rows, columns = base[self.of].size, base[self.wrt].size
        if self.of == self.wrt:
            return _identity(result_backend, of_shape)
        if not self.recomputed:  # of does not depend on wrt
            return result_backend.asarray(np.zeros(of_shape + wrt_shape))
        jacobian = np.empty((rows, columns), dtype=object)
        pending = list(range(columns))
        for round_number in range(1, MAX_ROUNDS + 1):
            self._round = round_number
            estimate, flat, backend = self._pass(pending, dps, step_digits)
            check, _, _ = self._pass(pending, dps - _CHECK_PRECISION_GAP, step_digits - _CHECK_STEP_DIGITS)
            check = backend.asarray(check)
            missing_most, absorbed, failing = 0, False, []
            for position, column in enumerate(pending):
                jacobian[:, column] = estimate[:, position]
                missing = [self._missing(estimate, check, flat, row, position, column) for row in range(rows)]
                if any(entry is None or entry > 0 for entry in missing):
                    failing.append(column)
                    absorbed = absorbed or None in missing
                    missing_most = max([missing_most] + [entry for entry in missing if entry is not None])
            if not failing:
                break
            if dps >= MAX_DPS or round_number == MAX_ROUNDS:
                self._give_up(failing, estimate, check, pending, dps)
                break
            pending = failing
            if missing_most:  # a smaller step and more digits, see the module docstring
                step_digits += missing_most + 2
                dps += 2 * (missing_most + 2)
            if absorbed:  # only precision helps
                dps *= 3
            dps = min(dps, MAX_DPS)
        return _rounded(result_backend, jacobian).reshape(of_shape + wrt_shape)

    def _missing(
        self, estimate: np.ndarray, check: np.ndarray, flat: np.ndarray, row: int, position: int, column: int
    ) -> int | None:
        """Digits still missing from one entry: 0 when it is accepted, None when it was absorbed."""
        value, other = estimate[row, position], check[row, position]
        if value == 0 and other == 0:
            if not flat[row, position] or not self._depends(column)[row]:
                return 0
            return None
        if (value == 0) != (other == 0):  # one pass resolved a difference the other lost
            return None
        if abs(value) <= self.negligible and abs(other) >= abs(value) * 10**_CHECK_STEP_DIGITS:
            # A derivative that is 0 (x**3 at 0) gives estimates as large as the truncation error,
            # shrinking with the step, which never agree relatively; tiny and shrinking, the
            # estimate is 0 to within 10**-wanted. A tiny derivative that is not 0 looks alike at
            # the first precision, when cancellation leaves it few digits (softplus(3e-47 exp(x))
            # at 0 came out with 3 correct digits): every such entry is refined once first, and
            # accepted only if it still looks so.
            if self._round > 1:
                return 0
            return max(1, _missing_digits(other, value, self.wanted - _CHECK_RATIO_DIGITS))
        return _missing_digits(other, value, self.wanted - _CHECK_RATIO_DIGITS)

    def _give_up(
        self, failing: list[int], estimate: np.ndarray, check: np.ndarray, pending: list[int], dps: int
    ) -> None:
        """Accept entries absorbed beyond reach as 0; raise for entries whose estimates still disagree."""
        for column in failing:
            position = pending.index(column)
            for row in range(estimate.shape[0]):
                if estimate[row, position] == 0 and check[row, position] == 0:
                    continue  # absorbed beyond reach: 0 is as close as we can tell
                if abs(estimate[row, position]) <= self.negligible and abs(check[row, position]) <= self.negligible:
                    # Rounding noise at the highest precision: a derivative that is exactly 0 at a
                    # degenerate point (a @ inv(X) @ b where a is a row of X) never comes out as
                    # exactly 0 twice. It is 0 to within 10**-wanted, absolutely.
                    continue
                if _missing_digits(check[row, position], estimate[row, position], self.wanted - _CHECK_RATIO_DIGITS):
                    raise InternalError(
                        f"the reference derivative of {self.of!r} with respect to {self.wrt!r} does not "
                        f"converge at this point (entry {row} of {self.of}, entry {column} of {self.wrt}: "
                        f"{_to_float(estimate[row, position])!r} versus {_to_float(check[row, position])!r} "
                        f"at {dps} digits); the model is too ill-conditioned here"
                    )

    def _pass(self, columns: list[int], dps: int, step_digits: int) -> tuple[np.ndarray, np.ndarray, MpmathBackend]:
        """Central differences for ``columns``; also whether each output stayed exactly unchanged."""
        backend = MpmathBackend.at(dps)
        ctx = backend.ctx
        base = self._base(backend)
        center = base[self.wrt]
        start = base[self.of].reshape(-1)
        step = ctx.mpf(10) ** -step_digits
        estimate = np.empty((start.size, len(columns)), dtype=object)
        flat = np.empty((start.size, len(columns)), dtype=bool)
        for position, column in enumerate(columns):
            x = center.reshape(-1)[column]
            scaled = step * max(1, abs(x)) if ctx.isfinite(x) else step
            sides = []
            for moved in (x + scaled, x - scaled):
                perturbed = center.copy()
                perturbed.reshape(-1)[column] = moved
                sides.append(self._recompute(backend, {**base, self.wrt: perturbed})[self.of].reshape(-1))
            width = ctx.fsub(x + scaled, x - scaled, exact=True)
            plus, minus = sides
            estimate[:, position] = backend.apply("/", backend.apply("-", plus, minus), width)
            for row in range(start.size):
                flat[row, position] = plus[row] == minus[row] == start[row]
        return estimate, flat, backend

    def _depends(self, column: int) -> np.ndarray:
        """Which entries of ``of`` a nan in entry ``column`` of ``wrt`` reaches (with 0 * nan = 0)."""
        if column not in self._dependence:
            backend = _DependenceBackend.at(15)
            base = self._base(backend)
            poisoned = base[self.wrt].copy()
            poisoned.reshape(-1)[column] = backend.ctx.nan
            values = self._recompute(backend, {**base, self.wrt: poisoned})
            self._dependence[column] = np.array([backend.ctx.isnan(entry) for entry in values[self.of].flat])
        return self._dependence[column]


def _needed_by(model: Model, names: tuple[str, ...]) -> Model:
    """``model`` with only the quantities that ``names`` are or depend on: a Jacobian evaluates no others."""
    needed = set(names).union(*(model.upstream(name) for name in names))
    return dataclasses.replace(model, quantities=tuple(q for q in model.quantities if q[0] in needed))


def _rounded(backend: MpmathBackend, array: np.ndarray) -> np.ndarray:
    """The entries rounded to ``backend``'s precision, as numbers of its context."""
    return np.asarray(np.frompyfunc(backend.ctx.mpf, 1, 1)(array), dtype=object)


def _identity(backend: MpmathBackend, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape, dtype=int))
    return backend.asarray(np.eye(size).reshape(shape + shape))


class _DependenceBackend(MpmathBackend):
    """Low precision, with products that are exactly 0 when a factor is 0, even if the other is nan.

    Used only to follow where a nan travels: ``w1 @ x`` with ``x[j] == 0`` does not depend on
    ``w1[:, j]``, although IEEE arithmetic says ``0 * nan = nan``. Every function whose record is
    bilinear (``*``, ``@``, ``dot``, ``outer``) is built with this product.
    """

    def __init__(self, dps: int = 15) -> None:
        super().__init__(dps)
        self._zero_aware = np.frompyfunc(lambda x, y: self.zero if not x or not y else x * y, 2, 1)

    def _product(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._zero_aware(a, b)


# -- the self-test ---------------------------------------------------------------------------

_SELF_TEST_POINT = 0.625  # inside every function's domain, and not special for any of them

_lock = threading.Lock()
_self_tested = False


def _ensure_self_tested() -> None:
    global _self_tested
    if _self_tested:
        return
    with _lock:
        if not _self_tested:
            self_test()
            _self_tested = True


def self_test() -> None:
    """Check finite-difference derivatives of every elementwise function, and of formulas using each
    array function (logsumexp, det, inv, solve, softmax, ...), against closed forms.

    The closed forms are the ``derivative`` of each record in ``harness.functions``; one formula
    more covers the arithmetic operators. Raises ``InternalError`` when one disagrees in its
    first 25 digits: the mpmath evaluation is then not exact enough, typically because some
    function computes in float. Runs automatically before the first reference is computed.
    """
    ctx = mpmath.MPContext()
    ctx.dps = 60
    x = ctx.mpf(_SELF_TEST_POINT)
    formulas = _self_test_formulas(ctx, x)
    model = Model(
        variables=(Variable("x", (), (-1.0, 1.0)),),
        quantities=tuple((f"q{index}", parse(source)) for index, source in enumerate(formulas)),
    )
    for (name, _), (source, expected) in zip(model.quantities, formulas.items()):
        got = _Jacobian(model, name, "x", {"x": _SELF_TEST_POINT}, None, DEFAULT_DIGITS).compute()[()]
        error = abs(got - expected) / max(abs(expected), 1)  # heaviside's derivative is 0
        if not error < ctx.mpf(10) ** -25:
            raise InternalError(
                f"reference self-test failed: the derivative of {source} at x = {_SELF_TEST_POINT} is "
                f"{ctx.nstr(got, 30)} by finite differences but {ctx.nstr(expected, 30)} in closed form "
                f"(relative error {ctx.nstr(error, 3)}); the mpmath evaluation is not exact enough, "
                "probably because a function computes in float"
            )


def _self_test_formulas(ctx: Any, x: Any) -> dict[str, Any]:
    """Each formula of the self-test and its derivative at ``x``, computed directly."""
    formulas = {f"{name}(x)": record.derivative(ctx, x) for name, record in LIBRARY.items() if record.derivative}
    formulas["x ** 3 / (1 - x) * 2"] = 6 * x**2 / (1 - x) + 2 * x**3 / (1 - x) ** 2
    # The array functions, on arrays built from x (A = x I + 1 1^T has det x^2 + 2x).
    formulas["logsumexp(x * ones(3)) + mean(x * ones(2)) + norm(x * ones(4))"] = ctx.mpf(4)
    formulas["det(x * eye(2) + ones(2, 2)) + logdet(x * eye(2) + ones(2, 2))"] = (2 * x + 2) * (1 + 1 / (x**2 + 2 * x))
    formulas["sum(inv(x * eye(2) + ones(2, 2))) + trace(solve(x * eye(2) + ones(2, 2), eye(2)))"] = (
        -2 / (x + 2) ** 2 + 2 * (x**2 + 2 * x - 2 * (x + 1) ** 2) / (x**2 + 2 * x) ** 2
    )
    p = 1 / (1 + ctx.exp(-x))  # softmax(x I, axis=0) is [[p, 1 - p], [1 - p, p]]
    formulas["sum((softmax(x * eye(2), axis=0) + log_softmax(x * eye(2), axis=1)) * eye(2))"] = (
        2 * p * (1 - p) + 2 * (1 - p)
    )
    return formulas



# -- what an item asks for -------------------------------------------------------------------


def reference_answer(
    model: Model,
    kind: str,
    of: str,
    wrt: str,
    point: Mapping[str, Any],
    *,
    wrt2: str | None = None,
    upstream: str | None = None,
    activation: str | None = None,
    digits: int = DEFAULT_DIGITS,
) -> np.ndarray:
    """The exact answer to an item of ``kind`` (see ``harness.assignment.KINDS``) at ``point``.

    ``"jacobian"``: d ``of`` / d ``wrt``; ``"backward"``: the variable ``upstream`` (shaped like
    ``of``) contracted with that Jacobian over the dimensions of ``of``, shaped like ``wrt``;
    ``"second"``: d2 ``of`` / d ``wrt`` d ``wrt2``, shape ``shape(of) + shape(wrt) + shape(wrt2)``;
    ``"value"``: the value of ``of``.
    """
    if kind == "value":
        return reference_values(model, point, activation=activation, digits=digits)[of]
    if kind == "second":
        return reference_second(model, of, wrt, wrt2, point, activation=activation, digits=digits)
    jacobian = reference_jacobian(model, of, wrt, point, activation=activation, digits=digits)
    if kind == "jacobian":
        return jacobian
    if kind != "backward":
        raise HarnessError(f"unknown kind of item {kind!r}")
    backend = MpmathBackend.at(digits + 2 * _GUARD_DIGITS + 10)
    gradient = backend.asarray(point[upstream])
    wrt_shape = jacobian.shape[gradient.ndim:]
    flat = backend.asarray(jacobian).reshape(gradient.size, -1)
    return backend.apply("@", gradient.reshape(-1), flat).reshape(wrt_shape)


def reference_second(
    model: Model,
    of: str,
    wrt: str,
    wrt2: str,
    point: Mapping[str, Any],
    *,
    activation: str | None = None,
    digits: int = DEFAULT_DIGITS,
) -> np.ndarray:
    """d2 ``of`` / d ``wrt`` d ``wrt2`` at ``point`` (both variables), by central differences of Jacobians.

    The Jacobian d ``of`` / d ``wrt`` is computed (by ``reference_jacobian``, with as many more
    digits as the step takes away) at ``wrt2`` moved by ``±s`` in each entry, with two steps, ``s``
    and ``1000 s``; the second's truncation error is ``10**6`` times the first's, so an entry is
    accepted when the two agree to ``wanted - 6`` digits (relative, or absolute below 1). Otherwise
    the step shrinks once; then the point is reported as ill-conditioned (``InternalError``).
    """
    _check_digits(digits)
    for role, name in (("wrt", wrt), ("wrt2", wrt2)):
        if name not in model.variable_names:
            raise HarnessError(f"{role}={name!r}: a second derivative is taken with respect to variables of the model")
    _ensure_self_tested()
    wanted = digits + _GUARD_DIGITS
    step_digits = math.ceil(wanted / 2) + 5
    for attempt in range(2):
        inner = wanted + step_digits + 10
        ctx = mpmath.MPContext()
        ctx.dps = inner + 20
        fine, shape = _second_pass(model, of, wrt, wrt2, point, activation, inner, ctx, step_digits)
        coarse, _ = _second_pass(model, of, wrt, wrt2, point, activation, inner, ctx, step_digits - 3)
        tolerance = ctx.mpf(10) ** -(wanted - 6)
        worst = max((abs(a - b) / max(abs(a), 1) for a, b in zip(fine.flat, coarse.flat)), default=ctx.zero)
        if worst <= tolerance:
            backend = MpmathBackend.at(digits + 2 * _GUARD_DIGITS)
            return _rounded(backend, fine).reshape(shape)
        step_digits += 5
    raise InternalError(
        f"the reference second derivative of {of!r} with respect to {wrt!r} and {wrt2!r} does not converge at "
        f"this point (two steps disagree by {_to_float(worst):.3g} relative); the model is too ill-conditioned here"
    )


def _second_pass(model, of, wrt, wrt2, point, activation, inner, ctx, step_digits) -> tuple[np.ndarray, tuple]:
    """Central differences of d ``of`` / d ``wrt`` along each entry of ``wrt2``: (entries, the result's shape)."""
    center = np.asarray(point[wrt2], dtype=np.float64)
    columns = []
    for column in range(center.size):
        x = ctx.mpf(float(center.reshape(-1)[column]))
        step = ctx.mpf(10) ** -step_digits * max(1, abs(x))
        sides, shape = [], ()
        for moved in (ctx.fadd(x, step, exact=True), ctx.fsub(x, step, exact=True)):
            values = np.array([ctx.mpf(float(v)) for v in center.reshape(-1)], dtype=object)
            values[column] = moved
            shifted = {**point, wrt2: values.reshape(center.shape)}
            jacobian = reference_jacobian(model, of, wrt, shifted, activation=activation, digits=inner)
            shape = jacobian.shape + center.shape
            sides.append(jacobian.reshape(-1))
        width = ctx.fsub(ctx.fadd(x, step, exact=True), ctx.fsub(x, step, exact=True), exact=True)
        columns.append([(ctx.mpf(plus) - ctx.mpf(minus)) / width for plus, minus in zip(*sides)])
    return np.array(columns, dtype=object).T.reshape(-1), shape
