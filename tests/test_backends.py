"""The two numeric backends: conversions, special values, the float-leak guard."""

from __future__ import annotations

import math
import threading
import warnings
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath import libmp

from harness.backends import FLOAT64, MpmathBackend, to_float64
from harness.errors import InternalError
from harness.functions import LIBRARY, OPERATORS


def test_float64_sigmoid_and_softplus_are_stable_and_silent_at_extreme_inputs():
    x = np.array([-1e308, -1000.0, -40.0, 0.0, 40.0, 1000.0, 1e308, np.inf, -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sigmoid = FLOAT64.apply("sigmoid", x)
        softplus = FLOAT64.apply("softplus", x)
    np.testing.assert_allclose(sigmoid, [0, 0, 1 / (1 + math.exp(40)), 0.5, 1 / (1 + math.exp(-40)), 1, 1, 1, 0])
    np.testing.assert_allclose(softplus, [0, 0, math.log1p(math.exp(-40)), math.log(2), 40, 1000, 1e308, np.inf, 0])


@pytest.mark.parametrize("backend", [FLOAT64, MpmathBackend(20)], ids=["float64", "mpmath"])
def test_both_backends_apply_every_operator_and_library_function(backend):
    one = backend.asarray(np.array([[0.5, 1.0], [1.5, 2.0]]))
    for record in (*OPERATORS.values(), *LIBRARY.values()):
        value = backend.apply(record.name, *[one] * len(record.arrays), **_defaults(record))
        assert value.shape == record.result_shape(*[one.shape] * len(record.arrays), **_defaults(record))


def _defaults(record):
    """Each static argument's default; a size (``eye(n)``) gets 2, as the 2x2 operands have."""
    return {static.name: 2 if static.dimension and index == 0 else static.default
            for index, static in enumerate(record.statics)}


def test_mpmath_values_are_object_arrays_of_the_backends_own_mpf():
    backend = MpmathBackend(25)
    value = backend.apply("exp", backend.asarray([0.5, 1.0]))
    assert value.dtype == object and value.shape == (2,)
    assert all(type(entry) is backend.ctx.mpf for entry in value)
    assert backend.ctx.mpf is not mpmath.mp.mpf
    scalar = backend.apply("@", value, value)
    assert scalar.shape == () and type(scalar[()]) is backend.ctx.mpf


def test_evaluating_in_mpmath_never_touches_the_global_precision():
    before = mpmath.mp.prec
    backend = MpmathBackend(200)
    backend.apply("log1p", backend.asarray([1e-30, 0.5]))
    backend.apply("expm1", backend.asarray([1e-30, 0.5]))
    assert mpmath.mp.prec == before
    assert backend.ctx.dps == 200


def test_backends_for_different_precisions_can_run_in_threads_at_once():
    results = {}

    def run(dps):
        backend = MpmathBackend(dps)
        for _ in range(50):
            value = backend.apply("log1p", backend.asarray(1e-20))
        results[dps] = (backend.ctx.prec, value[()])

    threads = [threading.Thread(target=run, args=(dps,)) for dps in (20, 60, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for dps in (20, 60, 100):
        prec, value = results[dps]
        assert prec == MpmathBackend(dps).ctx.prec
        assert abs(value - mpmath.mpf("1e-20")) < mpmath.mpf("1e-39")


_FLOATS = st.floats(allow_nan=False, allow_infinity=True)


@given(st.lists(_FLOATS, min_size=1, max_size=5))
def test_from_float64_is_exact_and_to_float64_gives_the_same_floats_back(values):
    backend = MpmathBackend(16)  # below float64's 17 digits: the conversion must not round
    converted = backend.from_float64(np.array(values))
    for entry, value in zip(converted, values):
        assert entry._mpf_ == libmp.from_float(value)
    np.testing.assert_array_equal(to_float64(converted), np.array(values))


@given(st.integers(1, 2**200), st.integers(-1200, 1100), st.booleans())
def test_to_float64_rounds_to_nearest_with_ties_to_even_subnormals_included(mantissa, exponent, negative):
    exact = Fraction(mantissa) * Fraction(2) ** exponent
    try:
        expected = float(exact)  # CPython rounds a Fraction correctly
    except OverflowError:
        expected = math.inf
    number = MpmathBackend(20).ctx.make_mpf(libmp.from_man_exp(-mantissa if negative else mantissa, exponent))
    got = to_float64(np.array([number], dtype=object))[0]
    assert got == (-expected if negative else expected)


def test_to_float64_accepts_numbers_of_any_context_and_special_values():
    values = np.array([mpmath.mpf("inf"), -mpmath.mpf("inf"), mpmath.mpf("nan"), mpmath.mpf(0), mpmath.mpf(2) ** 3000],
                      dtype=object)
    np.testing.assert_array_equal(to_float64(values), [np.inf, -np.inf, np.nan, 0.0, np.inf])


def test_numbers_from_another_context_are_adopted_without_rounding():
    wide = mpmath.MPContext()
    wide.dps = 100
    third = wide.mpf(1) / 3
    backend = MpmathBackend(20)
    adopted = backend.asarray(np.array([third], dtype=object))[0]
    assert type(adopted) is backend.ctx.mpf and adopted._mpf_ == third._mpf_


def test_an_mpmath_backend_value_that_overflows_the_magnitude_cap_becomes_inf():
    backend = MpmathBackend(30)
    huge = backend.apply("**", backend.asarray(2.0), backend.asarray(1e6))
    assert backend.ctx.isfinite(huge[()])  # 2**1e6 is below the cap
    assert backend.apply("*", huge, huge)[()] == backend.ctx.inf
    assert backend.apply("/", backend.asarray(1.0), backend.apply("*", huge, huge))[()] == 0
    assert backend.apply("exp", backend.asarray(1e300))[()] == backend.ctx.inf


def test_the_float_leak_guard_rejects_a_kernel_that_computes_in_float(replace_record):
    replace_record("sigmoid", mpmath=lambda b, x: 1 / (1 + math.exp(-float(x))))
    backend = MpmathBackend(30)
    with pytest.raises(InternalError) as caught:
        backend.apply("sigmoid", backend.asarray([0.5]))
    assert str(caught.value) == (
        "float leak in the mpmath backend: sigmoid produced 0.6224593312018546 of type float, expected an mpf "
        "of the backend's own context; a float in an mpmath computation makes the result silently wrong"
    )


def test_the_float_leak_guard_rejects_numbers_of_another_context_produced_by_a_kernel(replace_record):
    replace_record("exp", mpmath=lambda b, x: mpmath.exp(x))
    backend = MpmathBackend(30)
    with pytest.raises(InternalError, match="float leak in the mpmath backend: exp produced"):
        backend.apply("exp", backend.asarray(1.0))


@settings(max_examples=50)
@given(st.sampled_from(sorted(name for name, record in LIBRARY.items() if record.elementwise and len(record.arrays) == 1)),
       st.floats(-30, 30))
def test_every_elementwise_function_agrees_between_the_backends(name, x):
    backend = MpmathBackend(30)
    via_float = FLOAT64.apply(name, np.asarray(x))
    via_mpmath = to_float64(backend.apply(name, backend.asarray(x)))
    np.testing.assert_allclose(via_float, via_mpmath, rtol=4e-16, atol=1e-300)
