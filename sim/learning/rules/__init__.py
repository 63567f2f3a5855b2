"""Learning rules as small objects: ``delta(pre, post, W, error) -> dW``; none writes weights.

The registry maps a rule's ``name`` to its class. Each rule class declares what it needs from the
model that hosts it (see `Rule`: ``hidden``, ``plastic``, ``post_signal``, ``own_currents``,
``unit_norm``, ``lateral_rule``), so adding a rule is one class and one :func:`register` call:

>>> from sim.learning import rules
>>> class Decay(rules.LocalRule):
...     name, hidden = "decay", True
...     def delta(self, pre, post, W, error=None):
...         return -W
>>> rules.register(Decay)          # now HebbianNet(rule="decay") trains with it
"""

from __future__ import annotations

import inspect

from sim.errors import ValidationError
from sim.learning.rules.base import Rule
from sim.learning.rules.competitive import AntiHebbian, Competitive, Foldiak, Instar
from sim.learning.rules.error_driven import Backprop, Delta, FeedbackAlignment
from sim.learning.rules.hebbian import BCM, Fixed, Hebb, LocalRule, Oja, Sanger
from sim.validation import check_choice

__all__ = ["Rule", "Delta", "Backprop", "FeedbackAlignment", "LocalRule", "Fixed", "Hebb", "Oja",
           "Sanger", "BCM", "Competitive", "AntiHebbian", "Instar", "Foldiak", "get", "names",
           "hidden_names", "rule_class", "register", "unregister"]

_RULES: dict[str, type] = {}


def register(cls: type) -> type:
    """Add rule class ``cls`` to the registry under ``cls.name`` (returns ``cls``, so it can
    decorate the class). A name already taken by another class is refused."""
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise ValidationError("cls", cls, "must be a subclass of sim.learning.rules.Rule")
    name = cls.name
    if not isinstance(name, str) or not name or name != name.lower() or name == Rule.name:
        raise ValidationError("cls.name", name, "must be a new lower-case name")
    if _RULES.get(name, cls) is not cls:
        raise ValidationError("cls.name", name, f"is already the name of {_RULES[name].__name__}")
    _RULES[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove the rule called ``name`` from the registry (e.g. after a test)."""
    _RULES.pop(check_choice("name", name, _RULES))


for _cls in (Hebb, Oja, Sanger, BCM, Competitive, AntiHebbian, Instar, Foldiak, Fixed, Delta, Backprop,
             FeedbackAlignment):
    register(_cls)
del _cls


def names() -> list[str]:
    """Sorted lower-case names accepted by :func:`get`."""
    return sorted(_RULES)


def hidden_names() -> list[str]:
    """Names of the rules that can be a `HebbianNet`'s hidden rule (those declaring ``hidden``)."""
    return sorted(name for name, cls in _RULES.items() if cls.hidden)


def rule_class(name: str) -> type:
    """The registered class called ``name`` (its declarations, without building a rule)."""
    return _RULES[check_choice("name", name, _RULES)]


def get(name: str, **params) -> Rule:
    """A new rule by lower-case name, e.g. ``get("oja")`` or ``get("competitive", p=2.0, k=2)``.

    Raises
    ------
    ValidationError
        Unknown ``name`` (the message lists the valid ones), or parameters the rule does not take.
    """
    cls = rule_class(name)
    try:
        inspect.signature(cls).bind(**params)
    except TypeError:
        accepted = ", ".join(inspect.signature(cls).parameters) or "none"
        raise ValidationError("params", params, f"{cls.name} accepts: {accepted}") from None
    return cls(**params)
