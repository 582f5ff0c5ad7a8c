"""One drawn input (``Example``) and the seeds inputs are drawn with: no Hypothesis here.

What the warm path of grading needs of drawn inputs (their values, their identity, the seed of a
search) lives here, apart from ``harness.strategies`` and ``harness.search``, which import
Hypothesis: a run whose inputs, references and shrinks all come from the cache never imports it
(a tenth of a second of a single student's run).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import sys
from dataclasses import dataclass

import numpy as np

__all__ = ["Example", "derived_seed", "hypothesis_version"]


@dataclass(frozen=True)
class Example:
    """One drawn input: sizes of the symbolic dimensions and a float64 value per variable."""

    sizes: tuple[tuple[str, int], ...]
    values: tuple[tuple[str, np.ndarray], ...]

    @property
    def point(self) -> dict:
        """The values by variable name, and the size of every dimension by its name."""
        return {**dict(self.sizes), **dict(self.values)}

    @property
    def size_map(self) -> dict[str, int]:
        return dict(self.sizes)

    def key(self) -> tuple:
        """A hashable identity: exact sizes and the exact bytes of every value."""
        return (self.sizes, tuple((name, value.shape, value.tobytes()) for name, value in self.values))

    def replace(self, name: str, value: np.ndarray) -> Example:
        """The same example with one variable's value replaced."""
        values = tuple((n, value if n == name else v) for n, v in self.values)
        return Example(self.sizes, values)


def derived_seed(base: int, *parts: object) -> int:
    """A stable 64-bit seed for one (question, activation, ...) from the run's seed."""
    text = "\x1f".join([str(base), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@functools.lru_cache(maxsize=None)
def hypothesis_version() -> str:
    """The installed Hypothesis's version (drawn inputs depend on it), without importing it."""
    module = sys.modules.get("hypothesis")
    if module is not None:
        return module.__version__
    try:
        return importlib.metadata.version("hypothesis")
    except importlib.metadata.PackageNotFoundError:  # an unusual install: ask the package itself
        import hypothesis

        return hypothesis.__version__
