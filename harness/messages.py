"""Small helpers that word error messages: a found value, a list of names, a did-you-mean.

The spec loader and the configuration reader both use them, so their messages read alike. This
module imports only the standard library: the configuration is read in every pytest run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["describe", "did_you_mean", "listing"]


def describe(value: Any, kinds: Mapping[type, str]) -> str:
    """``'abc' (a string)``: a found value, cut to 60 characters, and its kind in ``kinds``'s words.

    ``kinds`` names each type in the words of the file's format (YAML's "a mapping" is TOML's
    "a table"); a type it does not name is shown by its Python name.
    """
    if value is None:
        return "nothing (null)"
    text = repr(value)
    if len(text) > 60:
        text = text[:56] + " ..."
    return f"{text} ({kinds.get(type(value), type(value).__name__)})"


def listing(names: Iterable[Any]) -> str:
    """``a, b, c``, or ``(none)`` when there are no names."""
    return ", ".join(str(name) for name in names) or "(none)"


def did_you_mean(word: str, known: Sequence[str]) -> str | None:
    """``did you mean 'rtol'?`` when one of ``known`` is close to ``word``, else ``None``."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
