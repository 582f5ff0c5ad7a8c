"""The frozen dataclasses of a loaded spec: the assignment, its questions, items and settings.

``harness.spec`` builds them from a YAML file (and re-exports them, the names to import); they
hold only checked values, so whoever receives one need not validate it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

from harness.formula import Formula
from harness.messages import listing
from harness.model import Model

__all__ = ["Assignment", "ClaimItem", "DerivativeItem", "GivenDerivative", "Item", "Question", "Settings"]


@dataclass(frozen=True)
class Settings:
    """Assignment-wide settings; each item may override rtol, atol, examples and visibility."""

    examples: int = 100
    """Hypothesis examples per item."""
    rtol: float = 1e-8
    """Relative tolerance: an entry passes when ``|got - true| <= atol + rtol * |true|``."""
    atol: float = 1e-12
    """Absolute tolerance of the same test."""
    seed: int = 0
    """Seed of every random draw, so a run is reproducible."""
    call_timeout: float = 2.0
    """Seconds one call of a student function may take."""
    submission_timeout: float = 120.0
    """Seconds the whole submission may take for one spec."""
    reference_digits: int = 30
    """Significant digits of the mpmath reference derivatives."""
    visibility: str = "visible"
    """Gradescope visibility of each item's test: visible, hidden, after_due_date, after_published."""


@dataclass(frozen=True)
class GivenDerivative:
    """An extra argument the harness hands a student function: the Jacobian d ``of`` / d ``wrt``."""

    name: str
    of: str
    wrt: str


@dataclass(frozen=True)
class DerivativeItem:
    """A function the student writes that must return the Jacobian d ``of`` / d ``wrt``."""

    name: str
    points: float
    of: str
    wrt: str
    expected: Formula | None
    """The answer key in the formula language, or ``None``; its shape is the item's layout."""
    given: tuple[GivenDerivative, ...]
    rtol: float
    atol: float
    examples: int
    visibility: str
    line: int | None


@dataclass(frozen=True)
class ClaimItem:
    """A boolean constant the student sets: does d ``of`` / d ``wrt`` change when ``changes_with`` changes?"""

    name: str
    points: float
    statement: str
    of: str
    wrt: str
    changes_with: str
    truth: bool | None
    """The answer key, verified by ``harness check-spec``; ``None`` leaves it to the numerics."""
    rtol: float
    atol: float
    """The derivative "changes" where two values differ by more than ``atol + rtol * |first|``."""
    examples: int
    visibility: str
    line: int | None


Item = Union[DerivativeItem, ClaimItem]


@dataclass(frozen=True)
class Question:
    """One question: its prompt, the student's module, the activations it covers and its items."""

    id: str
    title: str
    prompt: str
    module: str
    activations: tuple[str, ...]
    """The family the model's placeholder ranges over (one member or several); () without one."""
    items: tuple[Item, ...]
    line: int | None
    model_names: tuple[str, ...] = field(default=(), repr=False)
    """The model's variables then quantities: what every student function may ask for."""

    @property
    def points(self) -> float:
        return sum(item.points for item in self.items)

    def item(self, name: str) -> Item:
        """The item called ``name`` (a function or claim name)."""
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(f"question {self.id} has no item {name!r}; it has {listing(i.name for i in self.items)}")

    def offered(self, item: Item) -> tuple[str, ...]:
        """Every parameter name a student function for ``item`` may ask for, in a stable order.

        The model's variables and quantities, then the item's given derivatives. A claim is a
        constant, not a function, so it is offered nothing.
        """
        if isinstance(item, ClaimItem):
            return ()
        return self.model_names + tuple(given.name for given in item.given)


@dataclass(frozen=True)
class Assignment:
    """A loaded, validated spec file: the model, its questions and the settings."""

    title: str
    path: str
    model: Model
    questions: tuple[Question, ...]
    settings: Settings
    digest: str
    """SHA-256 (hex) of the spec file's bytes: results record which spec graded them."""
    shapes: tuple[tuple[str, tuple], ...] = ()
    """The symbolic shape of every variable and quantity, in model order."""

    def question(self, id: str) -> Question:
        """The question with this id (``"2.4"``)."""
        for question in self.questions:
            if question.id == id:
                return question
        raise KeyError(f"no question {id!r} in {self.path}; it has {listing(q.id for q in self.questions)}")

    @property
    def visibility(self) -> dict[str, str]:
        """Each item's Gradescope visibility, by test name (``"2.4 dyhat_dw1"``)."""
        return {f"{q.id} {item.name}": item.visibility for q in self.questions for item in q.items}

    def symbolic_shape(self, name: str) -> tuple:
        """The shape of a variable or quantity in dimension names: ``("H", "D")``; () for a scalar."""
        return dict(self.shapes)[name]

    def item_shape(self, item: Item | GivenDerivative, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The concrete Jacobian layout of an item (or given derivative): shape(of) + shape(wrt)."""
        return _concrete(self.symbolic_shape(item.of) + self.symbolic_shape(item.wrt), sizes)


def _concrete(shape: tuple, sizes: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(sizes[dim] if isinstance(dim, str) else dim for dim in shape)
