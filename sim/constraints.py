"""Declarative parameter constraints: each model class states what its parameters must satisfy.

A model's ``parameter_constraints`` maps a constructor parameter to a constraint; a constraint
is a callable ``constraint(name, value)`` that raises a `ValidationError` naming the parameter
and the value, or returns nothing. :func:`check_params` applies a table to an object's
attributes, in table order, without changing the object (scikit-learn keeps the same
discipline: ``__init__`` only stores, ``fit`` validates).

Example::

    parameter_constraints = {"lr": Real(low=0.0, low_open=True), "batch_size": Int(low=1),
                             "schedule": Choice(("sequential", "concurrent")),
                             "dt": Optional(Real(low=0.0, low_open=True))}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sim.validation import check_choice, check_int, check_number

__all__ = ["Real", "Int", "Choice", "Optional", "Satisfies", "check_params"]


class Real:
    """A finite real number in ``[low, high]`` (ends open if asked), as `sim.validation.check_number`."""

    def __init__(self, low=None, high=None, *, low_open=False, high_open=False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def __call__(self, name, value) -> None:
        check_number(name, value, low=self.low, high=self.high, low_open=self.low_open,
                     high_open=self.high_open)


class Int:
    """An integer (not a bool) in ``[low, high]``, as `sim.validation.check_int`."""

    def __init__(self, low=None, high=None):
        self.low, self.high = low, high

    def __call__(self, name, value) -> None:
        check_int(name, value, low=self.low, high=self.high)


class Choice:
    """One of ``options`` (case-insensitive); ``options`` may be a callable returning them, for
    registries that grow (e.g. the hidden rules of `sim.learning.rules`)."""

    def __init__(self, options: Iterable[str] | Callable[[], Iterable[str]]):
        self.options = options

    def __call__(self, name, value) -> None:
        check_choice(name, value, self.options() if callable(self.options) else self.options)


class Optional:
    """``None`` or a value satisfying ``inner``."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, name, value) -> None:
        if value is not None:
            self.inner(name, value)


class Satisfies:
    """A value accepted by ``check(name, value)``, a function that raises `ValidationError`."""

    def __init__(self, check: Callable):
        self.check = check

    def __call__(self, name, value) -> None:
        self.check(name, value)


def check_params(obj, table: dict) -> None:
    """Check ``getattr(obj, name)`` against every constraint of ``table``, in order."""
    for name, constraint in table.items():
        constraint(name, getattr(obj, name))
