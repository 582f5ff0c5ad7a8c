"""Load YAML into plain Python data and remember the line of every key path.

PyYAML's constructors forget where a value came from, so a spec error could not point at its
line. This loader composes the node tree (which keeps marks) and builds the data itself, recording
``key path -> line`` for every mapping entry and sequence element. It also rejects what PyYAML
silently accepts: duplicate keys (the later one would win) and keys that are not strings.

Floats are read as YAML 1.2 does: ``1e-8`` is a number, not the string PyYAML 1.1 makes of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from harness.errors import SpecError

KeyPath = tuple  # tuple[str | int, ...]

MAX_DEPTH = 50
"""Deepest nesting of mappings and lists read."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads exponent floats without a dot (``1e-8``) as floats."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


@dataclass(frozen=True)
class Document:
    """A loaded YAML document: its data and the 1-based line of every key path in it."""

    data: Any
    lines: dict[KeyPath, int]

    def line(self, key_path: KeyPath) -> int | None:
        """The line of ``key_path``, or of its nearest ancestor that has one."""
        key_path = tuple(key_path)
        while key_path not in self.lines and key_path:
            key_path = key_path[:-1]
        return self.lines.get(key_path)


def load(text: str, filename: str) -> Document:
    """Parse one YAML document, raising ``SpecError`` with the line on any syntax problem."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, {(): 1})
        lines: dict[KeyPath, int] = {(): node.start_mark.line + 1}
        return Document(_build(loader, node, (), lines, filename, set()), lines)
    except RecursionError:
        raise SpecError(
            "the YAML is nested too deeply to read",
            file=filename,
            hint=f"a spec or answers file needs only a few levels of nesting; at most {MAX_DEPTH} are read",
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or "cannot parse this YAML"
        if error.context:
            problem = f"{error.context}, {problem}"
        raise SpecError(
            f"YAML syntax error: {problem}",
            file=filename,
            line=mark.line + 1 if mark is not None else None,
            hint="check the indentation and the quoting on this line and the one before; quote a "
            "value that starts with one of * & ! | > % @ ` [ { or contains ': '",
        ) from None
    except yaml.YAMLError as error:
        raise SpecError(f"YAML syntax error: {error}", file=filename) from None
    finally:
        loader.dispose()


def _build(loader: _Loader, node: yaml.Node, path: KeyPath, lines: dict, filename: str, seen: set) -> Any:
    if len(path) > MAX_DEPTH:
        raise RecursionError
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        # An alias (*name) makes one node appear twice: a few hundred bytes of aliases to aliases
        # would expand to billions of entries ("billion laughs"), so aliases are refused.
        if id(node) in seen:
            raise SpecError(
                "YAML aliases (*name) of mappings or lists are not supported",
                file=filename,
                # An alias's own position is lost (it shares the anchored node's); a list item's
                # alias is reported at its list's line.
                line=lines.get(path[:-1] if path and isinstance(path[-1], int) else path),
                key_path=path,
                hint="write the repeated part out in full",
            )
        seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise SpecError(
                    f"a key must be a string; found {key!r} ({type(key).__name__})",
                    file=filename,
                    line=line,
                    key_path=path,
                    hint=f"quote it: '\"{key_node.value}\": ...'",
                )
            if key in result:
                raise SpecError(
                    f"duplicate key {key!r} (first defined on line {lines[path + (key,)]})",
                    file=filename,
                    line=line,
                    key_path=path,
                    hint="YAML would silently keep only the last one; remove or rename one of them",
                )
            lines[path + (key,)] = line
            result[key] = _build(loader, value_node, path + (key,), lines, filename, seen)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, child in enumerate(node.value):
            lines[path + (index,)] = child.start_mark.line + 1
            items.append(_build(loader, child, path + (index,), lines, filename, seen))
        return items
    return loader.construct_object(node, deep=True)
