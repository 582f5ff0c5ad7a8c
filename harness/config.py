"""Read the harness's settings from ``[tool.harness]`` in pyproject.toml, or from harness.toml.

One place configures every way of running the harness: ``harness grade``, the pytest plugin and
the workflow ``harness init-ci`` writes all read it, and their command-line options override it.
The file is found by walking up from a start folder (the working directory, or pytest's rootdir);
in each folder ``harness.toml`` wins over ``pyproject.toml``, and a pyproject.toml without a
``[tool.harness]`` table is passed over, as ruff does with ``[tool.ruff]``. In harness.toml the
keys stand at the top level. Paths are relative to the folder holding the file.

A wrong key or value raises ``SpecError`` naming the file, the line, the key path and, for a
misspelt key, the key that was probably meant. The keys are documented in docs/integrations.md.

This module imports only the standard library, ``harness.errors`` and ``harness.messages``,
because the pytest plugin reads the configuration in every pytest run, enabled or not.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import SpecError
from harness.messages import describe, did_you_mean, listing
from harness.sandbox import ISOLATION_CHOICES

__all__ = ["CONFIG_FILES", "KEYS", "Config", "find_config", "parse_toml", "read_config"]

CONFIG_FILES = ("harness.toml", "pyproject.toml")
"""The files looked for in each folder, the first found winning."""

_TABLE = ("tool", "harness")


@dataclass(frozen=True)
class Config:
    """The settings of one configuration file, paths resolved; ``None`` where the file is silent."""

    specs: tuple[Path, ...] = ()
    submission: Path | None = None
    out: Path | None = None
    seed: int | None = None
    examples: int | None = None
    fail_under: float | None = None
    require_sandbox: bool | None = None
    junit: Path | None = None
    isolation: str | None = None
    trusted_code: bool | None = None
    file: Path | None = None
    """The file the settings were read from; ``None`` when no file was found."""

    @property
    def root(self) -> Path | None:
        """The folder the file's paths are relative to (the repository's root, usually)."""
        return None if self.file is None else self.file.parent

    def override(self, **values: Any) -> Config:
        """These settings with each given value that is not ``None`` (a command-line option) winning."""
        return replace(self, **{name: value for name, value in values.items() if value is not None})


# ---------------------------------------------------------------------------------------------
# Where a value is, and messages about it


@dataclass(frozen=True)
class _Where:
    """A key of the configuration table, able to raise an error pointing at its line."""

    file: Path
    text: str
    table: tuple[str, ...]
    key: str

    @property
    def root(self) -> Path:
        return self.file.parent

    def error(self, problem: str, hint: str | None = None) -> SpecError:
        return SpecError(problem, file=str(self.file), line=_line_of(self.text, self.table, self.key),
                         key_path=self.table + (self.key,), hint=hint)


_HEADER = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")


def _line_of(text: str, table: tuple[str, ...], key: str | None) -> int | None:
    """The line of ``key`` in ``table`` (or of the table's header when ``key`` is None).

    tomllib keeps no positions, so this scans the text for the usual way of writing the key
    (``key = ...`` under the table's header); an unusual spelling just gets no line number.
    """
    current: tuple[str, ...] | None = ()
    assignment = None if key is None else re.compile(rf"\s*([\"']?){re.escape(key)}\1\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("[["):
            current = None  # an array of tables: never the table looked for
            continue
        header = _HEADER.match(line)
        if header:
            current = tuple(part.strip().strip("\"'") for part in header.group(1).split("."))
            if key is None and current == table:
                return number
        elif current == table and assignment is not None and assignment.match(line):
            return number
    return None


_TOML_KINDS = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
               list: "an array", dict: "a table"}
"""How a found value's type is named in messages: in TOML's words."""


def _describe(value: Any) -> str:
    return describe(value, _TOML_KINDS)


# ---------------------------------------------------------------------------------------------
# Value kinds: each checks a TOML value and returns what Config holds


def _integer(minimum: int) -> Callable[[Any, _Where], int]:
    def read(value: Any, where: _Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise where.error(f"expected an integer >= {minimum}; found {_describe(value)}")
        return value

    return read


def _percent(value: Any, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise where.error(f"expected a percentage from 0 to 100; found {_describe(value)}",
                          "write a number without the % sign, such as 80")
    return float(value)


def _boolean(value: Any, where: _Where) -> bool:
    if not isinstance(value, bool):
        raise where.error(f"expected true or false; found {_describe(value)}")
    return value


def _isolation(value: Any, where: _Where) -> str:
    if value not in ISOLATION_CHOICES:
        raise where.error(f"expected one of {', '.join(map(repr, ISOLATION_CHOICES))}; found {_describe(value)}")
    return value


def _text(value: Any, where: _Where, what: str = "a path") -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"expected {what} in quotes; found {_describe(value)}")
    return value


def _path(value: Any, where: _Where) -> Path:
    return where.root / _text(value, where)


def _folder(value: Any, where: _Where) -> Path:
    path = _path(value, where)
    if not path.is_dir():
        raise where.error(f"no folder {value!r} (looked for {path})")
    return path


def _spec_paths(value: Any, where: _Where) -> tuple[Path, ...]:
    """Spec files, folders of them (their *.yaml) or glob patterns, in the order given."""
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not entries:
        raise where.error(f"expected a spec path or an array of them; found {_describe(value)}",
                          'for example: specs = ["specs/q2.yaml"]')
    found: list[Path] = []
    for entry in entries:
        _text(entry, where, "spec paths")
        path = where.root / entry
        if glob.has_magic(entry):
            matches = sorted(Path(match) for match in glob.glob(str(path)) if Path(match).is_file())
            if not matches:
                raise where.error(f"the pattern {entry!r} matches no file (looked in {where.root})")
            found += matches
        elif path.is_dir():
            matches = sorted(path.glob("*.yaml"))
            if not matches:
                raise where.error(f"the folder {entry!r} holds no .yaml spec")
            found += matches
        elif path.is_file():
            found.append(path)
        else:
            raise where.error(f"no spec file {entry!r} (looked for {path})")
    return tuple(found)


KEYS: dict[str, Callable[[Any, _Where], Any]] = {
    "specs": _spec_paths,
    "submission": _folder,
    "out": _path,
    "seed": _integer(0),
    "examples": _integer(1),
    "fail_under": _percent,
    "require_sandbox": _boolean,
    "junit": _path,
    "isolation": _isolation,
    "trusted_code": _boolean,
}
"""Every configuration key and how its value is read; docs/integrations.md says what each means."""


# ---------------------------------------------------------------------------------------------
# Finding and reading the file


def find_config(start: Path) -> Config:
    """The configuration that applies in ``start``: the nearest file with one, else an empty Config."""
    start = start.resolve()
    for folder in (start, *start.parents):
        for name in CONFIG_FILES:
            path = folder / name
            if path.is_file() and _trusted_owner(path):
                config = read_config(path)
                if config is not None:
                    return config
    return Config()


def _trusted_owner(path: Path) -> bool:
    """Whether a configuration found on the way up belongs to this user or to root.

    Anyone may write to ``/tmp`` (a submission graded as a uid of its own among them): a
    ``harness.toml`` another user left in a folder above the working directory must not set the
    seed, the examples or the specs of this run. It is passed over, as git passes over a
    repository another user owns.
    """
    try:
        owner = path.stat().st_uid
    except OSError:
        return False
    return owner in (os.geteuid(), 0)


def read_config(path: Path) -> Config | None:
    """Read harness.toml or a pyproject.toml's ``[tool.harness]``; ``None`` for a pyproject without one."""
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"cannot read the configuration: {error}", file=str(path)) from None
    in_pyproject = path.name == "pyproject.toml"
    if in_pyproject and "harness" not in text:
        return None  # no [tool.harness] table: no need to parse (nor a TOML parser, on 3.10)
    data = parse_toml(text, path)
    table: tuple[str, ...] = _TABLE if in_pyproject else ()
    values: Any = data
    for part in table:
        values = values.get(part) if isinstance(values, dict) else None
    if values is None:
        return None
    if not isinstance(values, dict):
        raise SpecError(f"expected a table; found {_describe(values)}", file=str(path),
                        line=_line_of(text, table[:-1], table[-1]), key_path=table,
                        hint="write the settings under a [tool.harness] header")
    return _config(values, path, text, table)


def _config(values: dict, path: Path, text: str, table: tuple[str, ...]) -> Config:
    settings: dict[str, Any] = {}
    for name, value in values.items():
        where = _Where(path, text, table, name)
        if name not in KEYS:
            raise where.error(f"unknown key {name!r}; expected one of: {listing(KEYS)}",
                              _unknown_key_hint(name, list(KEYS), table))
        settings[name] = KEYS[name](value, where)
    return Config(**settings, file=path)


def _unknown_key_hint(name: str, known: list[str], table: tuple[str, ...]) -> str | None:
    close = did_you_mean(name.replace("-", "_"), known)
    if close:
        return close
    if name == "tool" and not table:
        return "in harness.toml the keys stand at the top level, without a [tool.harness] header"
    return None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$")


def parse_toml(text: str, path: Path) -> dict:
    """Parse TOML text, a syntax error becoming a ``SpecError`` at the file and line."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the backport tomllib was made from
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        line = int(position.group(1)) if position else None
        problem = _TOML_POSITION.sub("", message) if position else message
        raise SpecError(f"not valid TOML: {problem}", file=str(path), line=line) from None
