"""What the harness knows to be true at an example: quantities and derivatives, memoised.

The oracle wraps ``reference`` for grading: it rounds the exact mpmath values to float64 once,
and remembers them per (activation, example) so every submission of a run, every item of a
question and every shrinking step reuse the same computation. It never sees submission code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.model import Model
from harness.reference import reference_jacobian, reference_values
from harness.strategies import Example


def to_float64(values: np.ndarray) -> np.ndarray:
    """Round an object array of mpf (or a 0-d one) to float64, entry by entry (correctly rounded)."""
    array = np.asarray(values, dtype=object)
    return np.array([float(v) for v in array.ravel()], dtype=np.float64).reshape(array.shape)


class Oracle:
    """Memoised reference values of one model, rounded to float64."""

    def __init__(self, model: Model, *, digits: int = 30) -> None:
        self.model = model
        self.digits = digits
        self._memo: dict[tuple, object] = {}

    def _remember(self, key: tuple, compute: Callable[[], object]):
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

    def quantities(self, example: Example, activation: str | None) -> dict[str, np.ndarray]:
        """Every variable and quantity of the model at ``example``, correctly rounded to float64."""

        def compute() -> dict[str, np.ndarray]:
            exact = reference_values(self.model, example.point, activation=activation, digits=self.digits)
            return {name: to_float64(value) for name, value in exact.items()}

        return self._remember(("values", activation, example.key()), compute)

    def jacobian(self, example: Example, activation: str | None, of: str, wrt: str) -> np.ndarray:
        """d ``of`` / d ``wrt`` at ``example``, shape ``shape(of) + shape(wrt)``, rounded to float64."""

        def compute() -> np.ndarray:
            exact = reference_jacobian(
                self.model, of, wrt, example.point, activation=activation, digits=self.digits
            )
            return to_float64(exact)

        return self._remember(("jacobian", activation, of, wrt, example.key()), compute)
