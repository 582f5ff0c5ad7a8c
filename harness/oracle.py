"""What the harness knows to be true at an example: quantities and derivatives, remembered.

The oracle wraps ``reference`` for grading: it rounds the exact mpmath values to float64 once
(correctly rounded), and remembers them per (activation, example) through a ``Memory``, so every
submission of a run, every item of a question and every shrinking step reuse one computation,
and a persistent store keeps them for later runs and the other processes of a parallel run. It
never sees submission code.

A stored value's key holds everything it depends on: the spec's content digest, the reference
digits, the activation, what is computed (values, or the Jacobian of ``of`` with respect to
``wrt``), the example's exact bytes, the versions of the harness and mpmath, and a digest of the
source of the modules that compute the value (a development checkout changes code without
changing its version). Change any of them and the old entry is not found.

A reference that cannot be computed at an input is the harness's fault, never the
submission's: any failure of the computation there becomes an ``InternalError`` naming what was
computed and the input, remembered like a value (see ``harness.store``).
"""

from __future__ import annotations

import numpy as np

from harness.backends import to_float64
from harness.errors import FormulaError, InternalError
from harness.model import Model
from harness.reference import reference_answer, reference_jacobian, reference_values
from harness.store import Codec, Memory, Store, source_digest
from harness.example import Example

REFERENCE_SOURCES = ("_version", "array_kernels", "assignment", "backends", "cache", "example", "formula", "functions", "model", "oracle",
                     "reference", "spec", "spec_keys", "spec_meaning", "store")
"""The modules whose code determines a reference value (their source is part of its key)."""

REFERENCE_CODE = source_digest(REFERENCE_SOURCES)


class Oracle:
    """Remembered reference values of one model, rounded to float64.

    ``spec`` is the content digest of the spec the model comes from (``Assignment.digest``): it
    keeps the entries of different specs apart in a shared ``store``.
    """

    def __init__(self, model: Model, *, spec: str, digits: int = 30, store: Store | None = None) -> None:
        self.model = model
        self.digits = digits
        self.memory = Memory(store, ("harness oracle", spec, digits), REFERENCE_CODE)
        self._keys: dict[int, tuple[Example, tuple]] = {}

    @property
    def computed(self) -> int:
        """How many values this oracle computed itself: neither remembered nor read from the store."""
        return self.memory.computed

    def _key(self, example: Example) -> tuple:
        """``example.key()``, computed once per example object (every submission asks about each)."""
        # Holding the example keeps its id from being reused while it is in the table.
        known = self._keys.get(id(example))
        if known is None or known[0] is not example:
            known = self._keys[id(example)] = (example, example.key())
        return known[1]

    def quantities(self, example: Example, activation: str | None) -> dict[str, np.ndarray]:
        """Every variable and quantity of the model at ``example``, correctly rounded to float64."""

        def compute() -> dict[str, np.ndarray]:
            with as_internal("the model's values", example, activation):
                exact = reference_values(self.model, example.point, activation=activation, digits=self.digits)
            return {name: _frozen(to_float64(value)) for name, value in exact.items()}

        names = list(self.model.names)
        codec = Codec(lambda value: (value, None), lambda arrays, meta: arrays if list(arrays) == names else None)
        return self.memory.remember(("values", activation, self._key(example)), compute, codec)

    def jacobian(self, example: Example, activation: str | None, of: str, wrt: str) -> np.ndarray:
        """d ``of`` / d ``wrt`` at ``example``, shape ``shape(of) + shape(wrt)``, rounded to float64."""

        def compute() -> np.ndarray:
            with as_internal(f"d {of} / d {wrt}", example, activation):
                exact = reference_jacobian(
                    self.model, of, wrt, example.point, activation=activation, digits=self.digits
                )
            return _frozen(to_float64(exact))

        return self.memory.remember(("jacobian", activation, of, wrt, self._key(example)), compute, _JACOBIAN)


    def answer(self, example: Example, activation: str | None, item) -> np.ndarray:
        """What a function item (``harness.assignment.DerivativeItem``) must return at ``example``, rounded.

        A Jacobian is ``jacobian``; a backward pass, a second derivative and a value are computed
        by ``reference.reference_answer`` and remembered under their own keys.
        """
        if item.kind == "jacobian":
            return self.jacobian(example, activation, item.of, item.wrt)
        if item.kind == "value":
            return self.quantities(example, activation)[item.of]

        def compute() -> np.ndarray:
            with as_internal(item.describe, example, activation):
                exact = reference_answer(
                    self.model, item.kind, item.of, item.wrt, example.point, wrt2=item.wrt2,
                    upstream=item.upstream, activation=activation, digits=self.digits,
                )
            return _frozen(to_float64(exact))

        place = (item.kind, activation, item.of, item.wrt, item.wrt2, item.upstream, self._key(example))
        return self.memory.remember(place, compute, _JACOBIAN)


_JACOBIAN: Codec[np.ndarray] = Codec(
    lambda value: ({"jacobian": value}, None),
    lambda arrays, meta: arrays.get("jacobian") if len(arrays) == 1 else None,
)


class as_internal:
    """Turn any failure of a reference computation into an ``InternalError`` naming the input."""

    def __init__(self, what: str, example: Example, activation: str | None) -> None:
        self.what, self.example, self.activation = what, example, activation

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None or not isinstance(error, Exception):
            return False
        point = ", ".join(f"{name} = {_shown(value)}" for name, value in self.example.values)
        point = point or "(no variables)"
        if self.example.sizes:
            point += " (" + ", ".join(f"{name} = {size}" for name, size in self.example.sizes) + ")"
        if self.activation is not None:
            point += f", activation {self.activation}"
        problem = str(error) if isinstance(error, (InternalError, FormulaError)) else f"{type(error).__name__}: {error}"
        raise InternalError(f"the reference for {self.what} cannot be computed at {point}: {problem}") from error


def _shown(value: np.ndarray) -> str:
    return repr(float(value)) if np.ndim(value) == 0 else np.array2string(np.asarray(value), separator=", ")


def _frozen(array: np.ndarray) -> np.ndarray:
    # Remembered arrays are shared by every caller; read-only, as the ones read from a store are.
    array.setflags(write=False)
    return array
