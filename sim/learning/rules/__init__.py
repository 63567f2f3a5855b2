"""Learning rules as small objects: ``delta(pre, post, W, error) -> dW``; none writes weights."""

from __future__ import annotations

import inspect

from sim.errors import ValidationError
from sim.validation import check_choice
from sim.learning.rules.base import Rule
from sim.learning.rules.competitive import AntiHebbian, Competitive, Instar
from sim.learning.rules.error_driven import Backprop, Delta, FeedbackAlignment
from sim.learning.rules.hebbian import BCM, Hebb, LocalRule, Oja, Sanger

__all__ = ["Rule", "Delta", "Backprop", "FeedbackAlignment", "LocalRule", "Hebb", "Oja", "Sanger",
           "BCM", "Competitive", "AntiHebbian", "Instar", "get", "names"]

_RULES = {cls.name: cls for cls in (Hebb, Oja, Sanger, BCM, Competitive, AntiHebbian, Instar,
                                    Delta, Backprop, FeedbackAlignment)}


def names() -> list[str]:
    """Sorted lower-case names accepted by :func:`get`."""
    return sorted(_RULES)


def get(name: str, **params) -> Rule:
    """A new rule by lower-case name, e.g. ``get("oja")`` or ``get("competitive", p=2.0, k=2)``.

    Raises
    ------
    ValidationError
        Unknown ``name`` (the message lists the valid ones), or parameters the rule does not take.
    """
    key = check_choice("name", name, _RULES)
    cls = _RULES[key]
    try:
        inspect.signature(cls).bind(**params)
    except TypeError:
        accepted = ", ".join(inspect.signature(cls).parameters) or "none"
        raise ValidationError("params", params, f"{key} accepts: {accepted}") from None
    return cls(**params)
