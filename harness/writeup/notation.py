"""What the symbols of a write-up stand for: the spec's ``notation`` section over sensible defaults.

A symbol is named by a *key* built from how it is written: the letters or Greek command, its
accent, and its index (``\\hat{y}`` and ``y_{hat}`` are ``yhat``; ``w_2``, ``\\mathbf{w}_2``,
``W^{(2)}`` and ``w^{[2]}`` are ``w2``; ``\\sigma`` is ``sigma``). ``Notation.meaning`` says what
a key means: a name of the model, the activation, a library function, Euler's ``e`` or the
differential ``d``. The defaults map every key that spells a model name (in any case) to it, the
usual activation names (``\\sigma s f g h \\phi \\varphi``) to the activation, and the usual
function names (``\\exp``, ``\\log``, ``\\ln``, ``\\tanh``, ``softplus``, ...) to the library.
The spec's ``notation`` section maps more symbols, written in LaTeX, and wins over the defaults::

    notation:
      "\\theta": w1          # a model name
      "p": yhat
      "\\rho": activation    # the activation
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ACTIVATION = "activation"
"""The value of a notation entry that maps a symbol to the question's activation."""

ACTIVATION_NAMES = ("sigma", "s", "f", "g", "h", "phi", "varphi")

FUNCTION_NAMES: Mapping[str, str] = {
    "exp": "exp", "log": "log", "ln": "log", "tanh": "tanh", "sin": "sin", "cos": "cos",
    "sqrt": "sqrt", "sigmoid": "sigmoid", "softplus": "softplus", "logistic": "sigmoid",
}  # fmt: skip
"""Words and commands that name a library function of the formula language."""

GREEK = frozenset({
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
})  # fmt: skip
"""Greek letters: commands that are symbols (mapped or not), not unknown macros."""

CONSTANTS: Mapping[str, str] = {"pi": "3.141592653589793"}


@dataclass(frozen=True)
class Meaning:
    """What a symbol stands for: ``kind`` is name, activation, function, e or d."""

    kind: str
    target: str = ""


@dataclass(frozen=True)
class Notation:
    """The symbols of one assignment: model names, the activation, and the spec's own entries."""

    names: tuple[str, ...]
    """The model's variables and quantities."""
    entries: Mapping[str, str] = field(default_factory=dict)
    """The spec's notation, by key: a model name or ``ACTIVATION``."""

    def meaning(self, key: str) -> Meaning | None:
        """What ``key`` stands for, or ``None`` when nothing maps it."""
        if key in self.entries:
            target = self.entries[key]
            return Meaning("activation") if target == ACTIVATION else Meaning("name", target)
        for candidate in (key, key.lower()):
            if candidate in self.names:
                return Meaning("name", candidate)
        if key in ACTIVATION_NAMES:
            return Meaning("activation")
        if key in FUNCTION_NAMES:
            return Meaning("function", FUNCTION_NAMES[key])
        if key == "e":
            return Meaning("e")
        if key == "d":
            return Meaning("d")
        return None

    def known(self) -> list[str]:
        """Every symbol key the notation maps explicitly or by a model name, for messages."""
        return sorted({*self.entries, *self.names})


def notation_for(names: Iterable[str], entries: Mapping[str, str] = {}) -> Notation:
    """The notation of a model with these names, with the spec's entries (keys already made)."""
    return Notation(tuple(names), dict(entries))
