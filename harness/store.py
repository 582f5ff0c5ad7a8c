"""Where a run remembers what every submission shares: a store of float64 arrays plus JSON metadata.

References, survey inputs, claims' evidence and shrink paths are computed once and then read
back. A ``Store`` keeps their encoded form (float64 arrays and a little JSON, never pickles) under
a key: ``MemoryStore`` for one process, ``ReferenceCache`` (``harness.cache``) on disk for later
runs and for the other processes of a parallel run; a shared store (a server) would be a third
class with the same two methods, as Hypothesis's example database is pluggable.

``Memory`` sits in front of a store and keeps what it decoded, so each value is decoded once per
process. It scopes every key with what all values depend on (the spec's content digest, the
reference precision, the versions of the harness and mpmath, and a digest of the source of the
modules that compute them), so a store shared by several specs, precisions or versions never
mixes them up. Failures are remembered too: a reference that cannot be computed at an input is
recorded as such, so every submission meets the same ``InternalError`` at once instead of
recomputing it, whatever process it is graded in.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import mpmath
import numpy as np

from harness._version import __version__
from harness.cache import Key, ReferenceCache, key_digest
from harness.errors import InternalError, UsageError

T = TypeVar("T")

Entry = tuple[dict[str, np.ndarray], object]
"""An encoded value: named float64 arrays and JSON-compatible metadata."""


class Store(Protocol):
    """Keeps encoded entries under keys (tuples of str, int, bytes, bool, None)."""

    def get(self, key: Key) -> Entry | None:
        """The entry stored under ``key``, or ``None`` (a miss, also for a damaged entry)."""

    def put(self, key: Key, arrays: Mapping[str, np.ndarray], meta: object = None) -> None:
        """Store an entry under ``key``, replacing any other."""


class MemoryStore:
    """A ``Store`` in this process's memory: what one run (or one test session) shares."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key_digest(key))
        if entry is None:
            return None
        arrays, meta = entry
        return dict(arrays), meta

    def put(self, key: Key, arrays: Mapping[str, np.ndarray], meta: object = None) -> None:
        frozen = {}
        for name, array in arrays.items():
            copy = np.array(array, dtype=np.float64, copy=True)
            copy.setflags(write=False)
            frozen[name] = copy
        self._entries[key_digest(key)] = (frozen, meta)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a value is written to a store and read back (``decode`` gives ``None`` for a misfit)."""

    encode: Callable[[T], tuple[Mapping[str, np.ndarray], object]]
    decode: Callable[[dict[str, np.ndarray], object], T | None]


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


_FAILED = "harness: failed"  # the metadata of a remembered failure: [_FAILED, message]


class Memory:
    """Values remembered in this process and, through ``store``, wherever the store keeps them.

    ``scope`` is prefixed to every key (see the module docstring); ``code`` is a digest of the
    source of the modules whose code determines the values.
    """

    def __init__(self, store: Store | None, scope: Key, code: str) -> None:
        self.store = store if store is not None else MemoryStore()
        self.scope = (*scope, __version__, mpmath.__version__, code)
        self._decoded: dict[Key, object] = {}
        self.computed = 0
        """How many values this memory computed itself: neither remembered nor read from the store."""

    def remember(self, key: Key, compute: Callable[[], T], codec: Codec[T]) -> T:
        """The value remembered under ``key``; else the store's; else ``compute()``'s, kept in both.

        An ``InternalError`` from ``compute`` is remembered like a value and raised again each time.
        """
        try:
            found = self._decoded[key]
        except KeyError:
            found = self._load(key, codec)
            if found is None:
                found = self._compute(key, compute, codec)
            self._decoded[key] = found
        if isinstance(found, InternalError):
            raise found
        return found  # type: ignore[return-value]

    def _load(self, key: Key, codec: Codec[T]) -> T | InternalError | None:
        entry = self.store.get((*self.scope, *key))
        if entry is None:
            return None
        arrays, meta = entry
        if isinstance(meta, list) and len(meta) == 2 and meta[0] == _FAILED and isinstance(meta[1], str):
            return InternalError(meta[1])
        return codec.decode(arrays, meta)

    def _compute(self, key: Key, compute: Callable[[], T], codec: Codec[T]) -> T | InternalError:
        self.computed += 1
        try:
            value = compute()
        except InternalError as error:
            self.store.put((*self.scope, *key), {}, [_FAILED, str(error)])
            return error
        self.store.put((*self.scope, *key), *codec.encode(value))
        return value

    def read(self, key: Key, codec: Codec[T]) -> T | None:
        """What the store holds under ``key`` now (``None`` for nothing or a failure); not kept."""
        found = self._load(key, codec)
        return None if isinstance(found, InternalError) else found

    def write(self, key: Key, value: T, codec: Codec[T]) -> None:
        """Put ``value`` in the store under ``key`` (not kept in this process's memory)."""
        self.store.put((*self.scope, *key), *codec.encode(value))


def open_cache(directory: str | Path) -> ReferenceCache:
    """The on-disk cache in ``directory``, unless the sandbox shows that folder to submissions."""
    from harness.sandbox import python_mounts  # the sandbox binds the Python installation

    resolved = Path(directory).expanduser().resolve()
    for visible in (source for kind, source, _ in python_mounts() if kind == "bind"):
        if resolved == Path(visible) or Path(visible) in resolved.parents:
            raise UsageError(
                f"the reference cache folder {str(directory)!r} is inside {visible!r}, which the sandbox "
                "shows to submissions: they could read the true values. Choose a folder outside the "
                "Python installation with --cache-dir"
            )
    return ReferenceCache(Path(directory).expanduser())


@contextlib.contextmanager
def run_store(directory: str | Path | None, processes: int) -> Iterator[Store]:
    """The store of one run: the on-disk cache in ``directory``; without one, memory for a single
    process, or a private temporary cache shared by the run's processes (removed at the end)."""
    if directory is not None:
        yield open_cache(directory)
    elif processes <= 1:
        yield MemoryStore()
    else:
        temporary = tempfile.mkdtemp(prefix="harness-cache-")
        try:
            yield open_cache(temporary)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
