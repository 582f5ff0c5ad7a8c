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

__all__ = ["KINDS", "Assignment", "ClaimItem", "DerivativeItem", "GivenDerivative", "Item", "Question", "Settings",
           "item_layout"]


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


KINDS = ("jacobian", "backward", "second", "value")
"""What a function item returns: a Jacobian, a backward pass (vector-Jacobian product), a second
derivative, or a quantity's value."""


@dataclass(frozen=True)
class DerivativeItem:
    """A function the student writes: by ``kind``, the Jacobian d ``of`` / d ``wrt`` (``"jacobian"``),
    ``upstream`` contracted with it (``"backward"``), d2 ``of`` / d ``wrt`` d ``wrt2`` (``"second"``),
    or the value of ``of`` (``"value"``, ``wrt`` empty)."""

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
    kind: str = "jacobian"
    wrt2: str | None = None
    """The second variable of a second derivative."""
    upstream: str | None = None
    """A backward pass's upstream gradient: a variable of the question shaped like ``of``."""

    @property
    def describe(self) -> str:
        """The item in words: ``d yhat / d w1``, ``dout · d out / d x``, ``d2 f / d x d x``, ``the value of step``."""
        if self.kind == "value":
            return f"the value of {self.of}"
        if self.kind == "second":
            return f"d2 {self.of} / d {self.wrt} d {self.wrt2}"
        if self.kind == "backward":
            return f"{self.upstream} contracted with d {self.of} / d {self.wrt}"
        return f"d {self.of} / d {self.wrt}"


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
    model: Model | None = field(default=None, repr=False, compare=False)
    """This question's model: the top-level one, or that with the question's own variables and
    quantities (then also ``own_model``)."""
    own_model: bool = False

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
        constant, not a function, so it is offered nothing. A function may also ask for a
        dimension's size by its name (``N``), an int.
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
    notation: tuple[tuple[str, str], ...] = ()
    """The spec's ``notation`` for write-ups: (LaTeX symbol, model name or ``activation``)."""

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
        """The concrete layout of an item (or given derivative): shape(of) + shape(wrt) for a Jacobian."""
        return _concrete(self.symbolic_shape(item.of) + self.symbolic_shape(item.wrt), sizes)


def item_layout(model: Model, item: DerivativeItem) -> tuple:
    """The symbolic shape of what a function item returns, by its kind."""
    of = model.symbolic_shape(item.of)
    if item.kind == "value":
        return of
    wrt = model.symbolic_shape(item.wrt)
    if item.kind == "backward":
        return wrt
    if item.kind == "second":
        return of + wrt + model.symbolic_shape(item.wrt2)
    return of + wrt


def _concrete(shape: tuple, sizes: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(sizes[dim] if isinstance(dim, str) else dim for dim in shape)
