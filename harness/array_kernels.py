"""Kernels of the formula language's array functions: reductions, softmax, linear algebra, constructors.

The records in ``harness.functions`` name these kernels; this module only computes. Each function
comes as a float64 kernel (numpy arrays in, a numpy array out; a singular matrix gives ``nan``,
never an exception) and an mpmath kernel ``(backend, *arrays, **statics)`` working on object
arrays of the backend's ``mpf`` (see the contracts in ``harness.functions``). The mpmath linear
algebra of matrices up to 3x3 uses cofactors (exact products and sums, the determinant's sign
and zero exactly as the arithmetic gives them); larger ones go through the backend's own context
(``ctx.det``, ``ctx.inverse``, ``ctx.lu_solve``): mpmath raises that context's precision inside
those calls and restores it, and a backend is used by one thread at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from harness.backends import MpmathBackend


# -- along an axis ---------------------------------------------------------------------------


def _rows(a: np.ndarray, axis: int | None) -> tuple[np.ndarray, tuple, int | None]:
    """``a`` as rows along ``axis`` (every entry for ``None``), with the shape to restore."""
    if axis is None:
        return a.reshape(1, -1), a.shape, None
    moved = np.moveaxis(a, axis, -1)
    return moved.reshape(-1, moved.shape[-1]), moved.shape, axis


def reduce_along(a: np.ndarray, axis: int | None, reduce: Callable[[list], Any]) -> np.ndarray:
    """``reduce`` applied to each row of entries along ``axis``: the axis disappears."""
    rows, shape, axis = _rows(np.asarray(a, dtype=object), axis)
    result = np.empty(rows.shape[0], dtype=object)
    for index, row in enumerate(rows):
        result[index] = reduce(list(row))
    return result.reshape(()) if axis is None else result.reshape(shape[:-1])


def map_along(a: np.ndarray, axis: int | None, transform: Callable[[list], list]) -> np.ndarray:
    """``transform`` applied to each row of entries along ``axis``: the shape is kept."""
    rows, shape, axis = _rows(np.asarray(a, dtype=object), axis)
    result = np.empty(rows.shape, dtype=object)
    for index, row in enumerate(rows):
        result[index] = transform(list(row))
    if axis is None:
        return result.reshape(shape)
    return np.moveaxis(result.reshape(shape), -1, axis)


def _nan_in(b: MpmathBackend, entries: list) -> bool:
    return any(b.ctx.isnan(entry) for entry in entries)


def mp_max(b: MpmathBackend, a: np.ndarray, axis: int | None) -> np.ndarray:
    return reduce_along(a, axis, lambda row: b.nan if _nan_in(b, row) else max(row))


def mp_min(b: MpmathBackend, a: np.ndarray, axis: int | None) -> np.ndarray:
    return reduce_along(a, axis, lambda row: b.nan if _nan_in(b, row) else min(row))


def mp_mean(b: MpmathBackend, a: np.ndarray, axis: int | None) -> np.ndarray:
    count = a.size if axis is None else a.shape[axis]
    return reduce_along(a, axis, lambda row: b.ctx.fsum(row) / count)


def _logsumexp_row(b: MpmathBackend, row: list) -> Any:
    from harness.functions import exp_entry

    if _nan_in(b, row):
        return b.nan
    top = max(row)
    if not b.ctx.isfinite(top):
        return top
    return b.fit(top + b.ctx.ln(b.ctx.fsum(exp_entry(b, entry - top) for entry in row)))


def mp_logsumexp(b: MpmathBackend, a: np.ndarray, axis: int | None) -> np.ndarray:
    return reduce_along(a, axis, lambda row: _logsumexp_row(b, row))


def _softmax_row(b: MpmathBackend, row: list) -> list:
    from harness.functions import exp_entry

    top = max(row) if not _nan_in(b, row) else b.nan
    if not b.ctx.isfinite(top):
        return [b.nan] * len(row)
    exps = [exp_entry(b, entry - top) for entry in row]
    total = b.ctx.fsum(exps)
    return [entry / total for entry in exps]


def mp_softmax(b: MpmathBackend, a: np.ndarray, axis: int | None) -> np.ndarray:
    return map_along(a, axis, lambda row: _softmax_row(b, row))


def mp_log_softmax(b: MpmathBackend, a: np.ndarray, axis: int | None) -> np.ndarray:
    def row_of(row: list) -> list:
        total = _logsumexp_row(b, row)
        return [b.fit(entry - total) if b.ctx.isfinite(total) else b.nan for entry in row]

    return map_along(a, axis, row_of)


def logsumexp64(a: np.ndarray, axis: int | None) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    result = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return result.reshape(()) if axis is None else np.squeeze(result, axis=axis)


def softmax64(a: np.ndarray, axis: int | None) -> np.ndarray:
    exps = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return exps / np.sum(exps, axis=axis, keepdims=True)


def log_softmax64(a: np.ndarray, axis: int | None) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    shifted = a - top
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def norm64(a: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.norm(np.ravel(a)))


def mp_norm(b: MpmathBackend, a: np.ndarray) -> Any:
    return b.ctx.sqrt(b.ctx.fsum(entry * entry for entry in np.ravel(a)))


def gap_max(a: np.ndarray, axis: int | None) -> float:
    """How far a max (or min) along ``axis`` is from a tie, where it is not differentiable."""
    rows, _, _ = _rows(np.asarray(a, dtype=np.float64), axis)
    if rows.shape[1] < 2:
        return np.inf
    ordered = np.sort(rows, axis=1)
    return float(min(np.min(ordered[:, -1] - ordered[:, -2]), np.min(ordered[:, 1] - ordered[:, 0])))


# -- linear algebra --------------------------------------------------------------------------


def _matrix(b: MpmathBackend, a: np.ndarray) -> Any:
    return b.ctx.matrix([list(row) for row in a])


def _array(b: MpmathBackend, matrix: Any, shape: tuple) -> np.ndarray:
    result = np.empty(shape, dtype=object)
    flat = result.reshape(-1)
    rows, columns = matrix.rows, matrix.cols
    for i in range(rows):
        for j in range(columns):
            flat[i * columns + j] = b.ctx.mpf(matrix[i, j])  # mpmath may give an int 0
    return result


def _all_finite(b: MpmathBackend, *arrays: np.ndarray) -> bool:
    return all(b.ctx.isfinite(entry) for array in arrays for entry in np.ravel(array))


def _nan_array(b: MpmathBackend, shape: tuple) -> np.ndarray:
    result = np.empty(shape, dtype=object)
    result.fill(b.nan)
    return result


def _cofactors(a: np.ndarray) -> tuple[Any, np.ndarray] | None:
    """(det, adjugate) of a 1x1, 2x2 or 3x3 matrix by cofactors: exact products and sums, no pivoting."""
    n = a.shape[0]
    if n == 1:
        return a[0, 0], np.array([[a[0, 0] ** 0]], dtype=object)
    if n == 2:
        return a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0], np.array([[a[1, 1], -a[0, 1]], [-a[1, 0], a[0, 0]]], dtype=object)
    if n == 3:
        adjugate = np.empty((3, 3), dtype=object)
        for i in range(3):
            for j in range(3):
                rows = [r for r in range(3) if r != j]
                columns = [c for c in range(3) if c != i]
                minor = a[rows[0], columns[0]] * a[rows[1], columns[1]] - a[rows[0], columns[1]] * a[rows[1], columns[0]]
                adjugate[i, j] = minor if (i + j) % 2 == 0 else -minor
        return a[0, 0] * adjugate[0, 0] + a[0, 1] * adjugate[1, 0] + a[0, 2] * adjugate[2, 0], adjugate
    return None


def mp_det(b: MpmathBackend, a: np.ndarray) -> Any:
    if not _all_finite(b, a):
        return b.nan
    small = _cofactors(a)
    if small is not None:
        return small[0]
    return b.ctx.mpf(b.ctx.det(_matrix(b, a)))  # mpmath gives the int 0 for a singular matrix


def mp_logdet(b: MpmathBackend, a: np.ndarray) -> Any:
    from harness.functions import log_entry

    return log_entry(b, mp_det(b, a))


def mp_inv(b: MpmathBackend, a: np.ndarray) -> np.ndarray:
    if not _all_finite(b, a):
        return _nan_array(b, a.shape)
    small = _cofactors(a)
    if small is not None:
        det, adjugate = small
        if not det:
            return _nan_array(b, a.shape)
        if a.shape == (1, 1):
            return np.array([[b.one / det]], dtype=object)
        return np.asarray(np.frompyfunc(lambda entry: entry / det, 1, 1)(adjugate), dtype=object)
    try:
        return _array(b, b.ctx.inverse(_matrix(b, a)), a.shape)
    except ZeroDivisionError:  # exactly singular
        return _nan_array(b, a.shape)


def mp_solve(b: MpmathBackend, a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    if not _all_finite(b, a, rhs):
        return _nan_array(b, rhs.shape)
    if a.shape[0] <= 3:
        inverse = mp_inv(b, a)
        columns = rhs.reshape(rhs.shape[0], -1)
        result = np.empty(columns.shape, dtype=object)
        for i in range(columns.shape[0]):
            for j in range(columns.shape[1]):
                result[i, j] = b.ctx.fsum(inverse[i, k] * columns[k, j] for k in range(columns.shape[0]))
        return result.reshape(rhs.shape)
    columns = rhs.reshape(rhs.shape[0], -1)
    result = np.empty(columns.shape, dtype=object)
    try:
        for j in range(columns.shape[1]):
            solved = b.ctx.lu_solve(_matrix(b, a), b.ctx.matrix(list(columns[:, j])))
            result[:, j] = [b.ctx.mpf(solved[i]) for i in range(columns.shape[0])]
    except ZeroDivisionError:
        return _nan_array(b, rhs.shape)
    return result.reshape(rhs.shape)


def det64(a: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.det(a)) if np.all(np.isfinite(a)) else np.asarray(np.nan)


def logdet64(a: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        return np.asarray(np.nan)
    sign, log_magnitude = np.linalg.slogdet(a)
    if sign == 0:
        return np.asarray(-np.inf)
    return np.asarray(log_magnitude if sign > 0 else np.nan)


def inv64(a: np.ndarray) -> np.ndarray:
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError("inv needs a square matrix")
    try:
        return np.linalg.inv(a) if np.all(np.isfinite(a)) else np.full(a.shape, np.nan)
    except np.linalg.LinAlgError:
        return np.full(a.shape, np.nan)


def solve64(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    if a.ndim != 2 or a.shape[0] != a.shape[1] or rhs.ndim not in (1, 2) or rhs.shape[0] != a.shape[0]:
        raise ValueError("solve needs a square matrix and a right-hand side with as many rows")
    try:
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(rhs))):
            return np.full(rhs.shape, np.nan)
        return np.linalg.solve(a, rhs)
    except np.linalg.LinAlgError:
        return np.full(rhs.shape, np.nan)


def gap_det(a: np.ndarray) -> float:
    """How far a matrix is from singular (relative to its size): where det's log, inv, solve break."""
    try:
        singular = np.linalg.svd(np.asarray(a, dtype=np.float64), compute_uv=False)
    except np.linalg.LinAlgError:
        return 0.0
    return float(singular[-1] / max(1.0, singular[0]))


def mp_trace(b: MpmathBackend, a: np.ndarray) -> Any:
    return b.ctx.fsum(a[i, i] for i in range(a.shape[0]))


def diag64(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2 and a.shape[0] != a.shape[1]:
        raise ValueError("diag of a matrix needs a square one")
    return np.diag(a)


def mp_diag(b: MpmathBackend, a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        return np.array([a[i, i] for i in range(a.shape[0])], dtype=object)
    result = np.empty((a.shape[0], a.shape[0]), dtype=object)
    result.fill(b.zero)
    for i in range(a.shape[0]):
        result[i, i] = a[i]
    return result


def _size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} needs a size >= 1, got {value!r}")
    return int(value)


def eye64(n: int | None) -> np.ndarray:
    return np.eye(_size(n, "eye"))


def mp_eye(b: MpmathBackend, n: int) -> np.ndarray:
    size = _size(n, "eye")
    result = np.empty((size, size), dtype=object)
    result.fill(b.zero)
    for i in range(size):
        result[i, i] = b.one
    return result


def _ones_shape(rows: Any, columns: Any) -> tuple[int, ...]:
    return (_size(rows, "ones"),) if columns is None else (_size(rows, "ones"), _size(columns, "ones"))


def ones64(rows: int | None, columns: int | None) -> np.ndarray:
    return np.ones(_ones_shape(rows, columns))


def mp_ones(b: MpmathBackend, rows: int, columns: int | None) -> np.ndarray:
    result = np.empty(_ones_shape(rows, columns), dtype=object)
    result.fill(b.one)
    return result


def onehot64(y: np.ndarray, classes: int | None) -> np.ndarray:
    return (np.asarray(y)[..., np.newaxis] == np.arange(_size(classes, "onehot"))).astype(np.float64)


def mp_onehot(b: MpmathBackend, y: np.ndarray, classes: int) -> np.ndarray:
    count = _size(classes, "onehot")
    result = np.empty(y.shape + (count,), dtype=object)
    for index in np.ndindex(y.shape):
        for k in range(count):
            result[index + (k,)] = b.one if y[index] == k else b.zero
    return result
