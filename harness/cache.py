"""A persistent cache of reference values on disk: float64 arrays, one checksummed file per entry.

What the harness computes once and trusts afterwards (true derivatives at 30 digits, the seeded
inputs of a search) is stored here so later runs, and the other processes of a parallel run,
read it back instead of recomputing it. An entry's key names everything its value depends on
(the caller passes the spec's digest, the precision, the harness version, the example's bytes,
...), and its file name is the SHA-256 of that key, so a changed spec, precision or version simply
looks up another file: a stale entry can be left behind but never read back as valid.

Why one file per entry, written to a temporary file and renamed over its name with
``os.replace``: a rename is atomic on POSIX file systems, so several processes can read and write
at once without any lock, a reader sees a whole entry or none, and an interrupted writer leaves
only a ``.tmp-*`` file (which ``clear`` removes). Two writers of one key write identical bytes, so
the last rename winning loses nothing. Nothing is fsynced: after a power failure an entry may be
empty or garbage, which its checksum catches, and it is recomputed. (SQLite in WAL mode would
also be safe, but needs locking that misbehaves on network file systems and serialises writers.)

The cache folder may be writable by someone else (a shared machine, a planted folder), so reading
an entry must not be able to run code: entries are never pickled. Each file is::

    b"HRNC" | format (u16) | header length (u32) | JSON header | float64 payload | SHA-256

The header lists the arrays' names and shapes, the key's digest and a little JSON metadata; the
payload is the arrays' little-endian bytes, rebuilt with ``np.frombuffer`` after every size is
checked; the trailing SHA-256 covers everything before it, so a truncated or corrupted entry is
detected and reported as missing. A checksum does not stop someone who can write the folder from
writing a wrong but well-formed entry, so the cache refuses a folder that another user owns or
that is group- or world-writable.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import stat
import struct
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import UsageError

CACHE_DIR_ENV = "HARNESS_CACHE_DIR"
"""Environment variable naming the cache folder (``--cache-dir`` overrides it)."""

FORMAT = 1
"""Version of the entry format; part of every file's prefix and of the folder's name."""

_MAGIC = b"HRNC"
_PREFIX = struct.Struct(">4sHI")  # magic, format, header length
_CHECKSUM_BYTES = 32
_MAX_HEADER = 1 << 20
_MAX_ENTRY = 64 << 20
_MAX_DIMENSIONS = 32
_TEMPORARY_PREFIX = ".tmp-"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is a cache of the derivative-grading harness (reference values).\n"
    "# It can be deleted at any time, or cleared with `harness cache clear`.\n"
)

Key = tuple
"""A cache key: nested tuples of ``str``, ``int``, ``bytes``, ``bool`` and ``None``."""


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$HARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``."""
    environ = os.environ if environ is None else environ
    if environ.get(CACHE_DIR_ENV):
        return Path(environ[CACHE_DIR_ENV]).expanduser()
    xdg = environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "harness"


def key_digest(key: Key) -> str:
    """The SHA-256 (hex) of a key's canonical encoding: equal keys, and only they, share it."""
    encoded = bytearray()
    _encode(key, encoded)
    return hashlib.sha256(encoded).hexdigest()


def _encode(part: object, out: bytearray) -> None:
    # Type-tagged and length-prefixed, so no two different keys encode alike.
    if part is None:
        out += b"N"
    elif isinstance(part, bool):
        out += b"B1" if part else b"B0"
    elif isinstance(part, int):
        text = str(part).encode()
        out += b"I" + struct.pack(">I", len(text)) + text
    elif isinstance(part, str):
        data = part.encode("utf-8", "surrogatepass")
        out += b"S" + struct.pack(">I", len(data)) + data
    elif isinstance(part, bytes):
        out += b"Y" + struct.pack(">I", len(part)) + part
    elif isinstance(part, (tuple, list)):
        out += b"T" + struct.pack(">I", len(part))
        for item in part:
            _encode(item, out)
    else:
        raise TypeError(f"a cache key holds str, int, bytes, bool, None and tuples, not {part!r}")


@dataclass(frozen=True)
class CacheInfo:
    """What a cache folder holds."""

    directory: Path
    entries: int
    bytes: int  # the entries' sizes
    disk: int  # what they occupy on disk (whole blocks)
    temporary: int  # files left by interrupted writers


@dataclass
class CacheStats:
    """What one process did with the cache (for tests, benchmarks and ``--verbose`` output)."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    corrupt: int = 0  # entries that failed their checks and were treated as missing


class ReferenceCache:
    """Entries of float64 arrays (plus a little JSON) on disk, keyed by tuples; see the module doc.

    >>> cache = ReferenceCache(folder)
    >>> cache.put(("answer", 42), {"x": np.zeros(3)})
    >>> cache.get(("answer", 42))
    ({'x': array([0., 0., 0.])}, None)
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser().absolute()
        self.entries_dir = self.directory / f"v{FORMAT}"
        self.stats = CacheStats()
        self._prepare()

    def _prepare(self) -> None:
        """Create the folder (private to this user), or check that an existing one is safe to trust."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.directory.stat()
        except OSError as error:
            raise UsageError(
                f"cannot use the reference cache folder {str(self.directory)!r}: {error.strerror}; "
                "choose another with --cache-dir (or $HARNESS_CACHE_DIR), or grade with --no-cache"
            ) from None
        if not stat.S_ISDIR(info.st_mode):
            raise UsageError(
                f"the reference cache {str(self.directory)!r} is not a folder; choose another with --cache-dir"
            )
        if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise UsageError(
                f"the reference cache folder {str(self.directory)!r} is writable by other users "
                f"(owner uid {info.st_uid}, mode {stat.filemode(info.st_mode)}): whoever can write "
                "there could change grades. Make it yours and private (chmod 700), choose another "
                "folder with --cache-dir, or grade with --no-cache"
            )
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Ours but open to others: a submission running as a uid of its own could read the true
            # values there. Close it (the files inside are reachable only through this folder).
            try:
                os.chmod(self.directory, 0o700)
            except OSError as error:
                raise UsageError(
                    f"the reference cache folder {str(self.directory)!r} is readable by other users and "
                    f"cannot be made private ({error.strerror}); chmod 700 it or choose another with --cache-dir"
                ) from None
        tag = self.directory / "CACHEDIR.TAG"  # tells backup tools to skip the folder
        if not tag.exists():
            try:
                _write_atomically(tag, _TAG.encode())
            except OSError:
                pass

    def _path(self, digest: str) -> Path:
        return self.entries_dir / digest[:2] / digest[2:]

    # ------------------------------------------------------------------------ entries
    def get(self, key: Key) -> tuple[dict[str, np.ndarray], object] | None:
        """The arrays and metadata stored under ``key``, or ``None`` if absent or damaged."""
        digest = key_digest(key)
        try:
            with open(self._path(digest), "rb") as stream:
                data = stream.read(_MAX_ENTRY + 1)
        except OSError:
            self.stats.misses += 1
            return None
        entry = _decode(data, digest)
        if entry is None:
            self.stats.corrupt += 1
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return entry

    def put(self, key: Key, arrays: Mapping[str, np.ndarray], meta: object = None) -> None:
        """Store ``arrays`` (converted to float64) and JSON-able ``meta`` under ``key``.

        A cache that cannot be written (a full disk, a read-only folder, a concurrent ``clear``)
        is not an error: the value is simply not remembered.
        """
        digest = key_digest(key)
        data = _encode_entry(digest, arrays, meta)
        path = self._path(digest)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_atomically(path, data)
        except OSError:
            return
        self.stats.writes += 1

    # ------------------------------------------------------------------------ the folder
    def info(self) -> CacheInfo:
        """How many entries (and bytes) the folder holds."""
        entries = size = disk = temporary = 0
        for path in self._files():
            if path.name.startswith(_TEMPORARY_PREFIX):
                temporary += 1
                continue
            try:
                found = path.stat()
            except OSError:
                continue
            entries += 1
            size += found.st_size
            disk += found.st_blocks * 512
        return CacheInfo(self.directory, entries, size, disk, temporary)

    def clear(self) -> CacheInfo:
        """Delete every entry (of every format version) and leftover temporary file; return what was there."""
        before = self.info()
        for child in self.directory.iterdir():
            if child.is_dir() and not child.is_symlink() and child.name.startswith("v"):
                shutil.rmtree(child, ignore_errors=True)
        return before

    def _files(self) -> Iterator[Path]:
        if not self.entries_dir.is_dir():
            return
        for shard in self.entries_dir.iterdir():
            if shard.is_dir() and not shard.is_symlink():
                yield from shard.iterdir()


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _encode_entry(digest: str, arrays: Mapping[str, np.ndarray], meta: object) -> bytes:
    described, chunks = [], []
    for name, value in arrays.items():
        array = np.asarray(value, dtype="<f8")  # not ascontiguousarray: it makes 0-d arrays 1-d
        described.append([name, list(array.shape)])
        chunks.append(array.tobytes(order="C"))
    header = json.dumps({"key": digest, "arrays": described, "meta": meta}, allow_nan=False).encode()
    body = _PREFIX.pack(_MAGIC, FORMAT, len(header)) + header + b"".join(chunks)
    return body + hashlib.sha256(body).digest()


def _decode(data: bytes, digest: str) -> tuple[dict[str, np.ndarray], object] | None:
    """An entry's arrays and metadata, or ``None`` if any check fails (never raises on bad bytes)."""
    if len(data) > _MAX_ENTRY or len(data) < _PREFIX.size + _CHECKSUM_BYTES:
        return None
    body, checksum = data[:-_CHECKSUM_BYTES], data[-_CHECKSUM_BYTES:]
    if hashlib.sha256(body).digest() != checksum:
        return None
    magic, version, header_size = _PREFIX.unpack_from(body)
    if magic != _MAGIC or version != FORMAT or header_size > min(_MAX_HEADER, len(body) - _PREFIX.size):
        return None
    try:
        header = json.loads(body[_PREFIX.size : _PREFIX.size + header_size])
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or header.get("key") != digest or not isinstance(header.get("arrays"), list):
        return None
    arrays: dict[str, np.ndarray] = {}
    offset = _PREFIX.size + header_size
    for described in header["arrays"]:
        shape = _shape(described)
        if shape is None:
            return None
        size = 8 * math.prod(shape)
        if offset + size > len(body):
            return None
        arrays[described[0]] = np.frombuffer(body, dtype="<f8", count=size // 8, offset=offset).reshape(shape)
        offset += size
    if offset != len(body):
        return None
    return arrays, header.get("meta")


def _shape(described: object) -> tuple[int, ...] | None:
    if not (isinstance(described, list) and len(described) == 2 and isinstance(described[0], str)):
        return None
    shape = described[1]
    if not isinstance(shape, list) or len(shape) > _MAX_DIMENSIONS:
        return None
    if not all(type(size) is int and 0 <= size <= _MAX_ENTRY for size in shape):
        return None
    return tuple(shape)
