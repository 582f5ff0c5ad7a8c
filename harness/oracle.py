"""What the harness knows to be true at an example: quantities and derivatives, memoised.

The oracle wraps ``reference`` for grading: it rounds the exact mpmath values to float64 once,
and remembers them per (activation, example) so every submission of a run, every item of a
question and every shrinking step reuse the same computation. It never sees submission code.

Given a ``ReferenceCache``, it also remembers them on disk, for later runs and for the other
processes of a parallel run. A disk key holds everything the value depends on: the spec's content
digest, the reference digits, the activation, what is computed (values, or the Jacobian of
``of`` with respect to ``wrt``), the example's exact bytes, the versions of the harness and
mpmath, and a digest of the source of the modules that compute the value (a development checkout
changes code without changing its version). Change any of them and the old entry is not found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import mpmath
import numpy as np

from harness._version import __version__
from harness.cache import Key, ReferenceCache
from harness.model import Model
from harness.reference import reference_jacobian, reference_values
from harness.strategies import Example

REFERENCE_SOURCES = ("_version", "assignment", "backends", "cache", "formula", "model", "oracle", "reference",
                     "spec", "spec_keys", "spec_meaning")
"""The modules whose code determines a reference value (their source is part of its disk key)."""


def source_digest(modules: Sequence[str]) -> str:
    """SHA-256 (hex) of the source files of these harness modules, in the order given."""
    digest = hashlib.sha256()
    folder = Path(__file__).parent
    for module in modules:
        try:
            source = (folder / f"{module}.py").read_bytes()
        except OSError:  # no source shipped: the version alone must then tell releases apart
            source = b"<no source>"
        digest.update(module.encode() + b"\0" + hashlib.sha256(source).digest())
    return digest.hexdigest()


_REFERENCE_CODE = source_digest(REFERENCE_SOURCES)


def to_float64(values: np.ndarray) -> np.ndarray:
    """Round an object array of mpf (or a 0-d one) to float64, entry by entry (correctly rounded)."""
    array = np.asarray(values, dtype=object)
    return np.array([float(v) for v in array.ravel()], dtype=np.float64).reshape(array.shape)


class Oracle:
    """Memoised reference values of one model, rounded to float64; optionally cached on disk.

    ``spec`` is the content digest of the spec the model comes from (``Assignment.digest``): with
    a ``cache``, it keeps the entries of different specs apart.
    """

    def __init__(
        self, model: Model, *, digits: int = 30, cache: ReferenceCache | None = None, spec: str | None = None
    ) -> None:
        if cache is not None and not spec:
            raise ValueError("an Oracle with a cache needs spec=, the spec's content digest, to key its entries")
        self.model = model
        self.digits = digits
        self.cache = cache
        self._scope: Key = ("harness oracle", __version__, _REFERENCE_CODE, mpmath.__version__, spec or "", digits)
        self._memo: dict[tuple, object] = {}
        self._keys: dict[int, tuple[Example, tuple]] = {}
        self.computed = 0
        """How many values this oracle computed itself: neither memoised nor read from the cache."""

    def remember(
        self,
        key: Key,
        compute: Callable[[], object],
        *,
        store: Callable[[object], tuple[Mapping[str, np.ndarray], object]],
        load: Callable[[dict[str, np.ndarray], object], object | None],
        code: str = "",
    ):
        """The value memoised under ``key``; else the one cached on disk; else ``compute()``'s.

        ``store(value)`` gives the float64 arrays and JSON metadata to write, ``load(arrays,
        meta)`` rebuilds the value from them (``None`` when they do not fit: a miss). ``key``
        names what the value depends on besides the spec, the precision and the reference code;
        ``code`` is a digest of any further code it depends on.
        """
        try:
            return self._memo[key]
        except KeyError:
            pass
        value = self.read(key, load, code=code)
        if value is None:
            value = compute()
            self.computed += 1
            self.write(key, *store(value), code=code)
        self._memo[key] = value
        return value

    def read(self, key: Key, load: Callable[[dict[str, np.ndarray], object], object | None], *, code: str = ""):
        """The value on disk under ``key`` (see ``remember``), or ``None``; never memoised."""
        entry = self.cache.get((*self._scope, code, *key)) if self.cache is not None else None
        return None if entry is None else load(*entry)

    def write(self, key: Key, arrays: Mapping[str, np.ndarray], meta: object = None, *, code: str = "") -> None:
        """Store arrays and metadata on disk under ``key`` (nothing without a cache)."""
        if self.cache is not None:
            self.cache.put((*self._scope, code, *key), arrays, meta)

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
            exact = reference_values(self.model, example.point, activation=activation, digits=self.digits)
            return {name: _frozen(to_float64(value)) for name, value in exact.items()}

        def load(arrays: dict[str, np.ndarray], meta: object) -> dict[str, np.ndarray] | None:
            return arrays if list(arrays) == list(self.model.names) else None

        return self.remember(
            ("values", activation, self._key(example)), compute, store=lambda value: (value, None), load=load
        )

    def jacobian(self, example: Example, activation: str | None, of: str, wrt: str) -> np.ndarray:
        """d ``of`` / d ``wrt`` at ``example``, shape ``shape(of) + shape(wrt)``, rounded to float64."""

        def compute() -> np.ndarray:
            exact = reference_jacobian(
                self.model, of, wrt, example.point, activation=activation, digits=self.digits
            )
            return _frozen(to_float64(exact))

        def load(arrays: dict[str, np.ndarray], meta: object) -> np.ndarray | None:
            return arrays.get("jacobian") if len(arrays) == 1 else None

        return self.remember(
            ("jacobian", activation, of, wrt, self._key(example)),
            compute,
            store=lambda value: ({"jacobian": value}, None),
            load=load,
        )


def _frozen(array: np.ndarray) -> np.ndarray:
    # Memoised arrays are shared by every caller; read-only, as the ones read from disk are.
    array.setflags(write=False)
    return array
