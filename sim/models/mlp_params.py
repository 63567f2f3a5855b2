"""The parameters of `BackpropMLP`: its constraint table and the checks it uses (as
`sim.models.hebbian_params` is for `HebbianNet`)."""

from __future__ import annotations

import numpy as np

from sim.constraints import Choice, Int, Optional, Real, Satisfies
from sim.errors import ValidationError
from sim.learning.optimizers import get_optimizer, get_schedule
from sim.learning.rules import Backprop, FeedbackAlignment
from sim.models.early_stopping import EARLY_STOPPING_CONSTRAINTS
from sim.models.estimator import MAX_UNITS
from sim.models.stages import STAGE_CONSTRAINTS, check_w_inh
from sim.substrate import neurons
from sim.substrate.connections import initializer_names
from sim.validation import check_dtype, check_int

__all__ = ["OUTPUTS", "LEARNING", "PARAMETER_CONSTRAINTS", "layer_sizes", "hidden_neuron"]

OUTPUTS = {"softmax": "cross_entropy", "linear": "mse", "sigmoid": "mse"}
LEARNING = {"backprop": Backprop, "feedback_alignment": FeedbackAlignment}


def layer_sizes(hidden) -> tuple:
    """Hidden layer sizes as a tuple of ints >= 1 (an int ``n`` means ``(n,)``)."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = (int(hidden),)
    if not isinstance(hidden, (tuple, list)):
        raise ValidationError("hidden", hidden, "must be a tuple of layer sizes, e.g. (128,)")
    return tuple(check_int("hidden", h, low=1, high=MAX_UNITS) for h in hidden)


def hidden_neuron(name):
    """The hidden neuron type named ``name`` (or given as an object); `ValidationError` on
    ``activation`` otherwise (softmax is an output type, not a hidden one)."""
    if not isinstance(name, str):
        try:
            return neurons.get(name)
        except ValidationError as exc:  # named by this model's parameter, not neurons.get's
            raise ValidationError("activation", name, exc.requirement) from None
    valid = [n for n in neurons.names() if n != "softmax"] + ["relu^n"]
    if name.lower().strip() == "softmax":
        raise ValidationError("activation", name, f"softmax is an output type; valid: {', '.join(valid)}")
    try:
        return neurons.get(name)
    except ValidationError:
        raise ValidationError("activation", name, f"unknown; valid: {', '.join(valid)}") from None


PARAMETER_CONSTRAINTS = {
    "hidden": Satisfies(lambda name, value: layer_sizes(value)),
    "activation": Satisfies(lambda name, value: hidden_neuron(value)),
    "output": Choice(OUTPUTS),
    "learning": Choice(LEARNING),
    "optimizer": Satisfies(lambda name, value: get_optimizer(value)),
    "lr_schedule": Satisfies(lambda name, value: get_schedule(value, name)),
    "lr": Real(low=0.0, low_open=True),
    "batch_size": Int(low=1),
    "weight_decay": Real(low=0.0),
    "init": Choice(initializer_names()),
    "w_inh": check_w_inh,
    **STAGE_CONSTRAINTS,
    "freeze_hidden_after": Optional(Int(low=0)),
    **EARLY_STOPPING_CONSTRAINTS,
    "dtype": Satisfies(check_dtype),
    "seed": Int(low=0),
}
