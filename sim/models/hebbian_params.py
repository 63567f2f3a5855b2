"""The parameters of `sim.models.HebbianNet`: their constraint table and the checks across them.

Unset stage parameters come from what the hidden rule declares (`sim.learning.rules.Rule`:
``default_neuron``, ``default_w_inh``, ``default_lr``), so a rule gets the stage its equations
need; the dynamics and constraint parameters are the shared ones of `sim.models.stages`.
"""

from __future__ import annotations

import numpy as np

from sim.constraints import Choice, Int, Optional, Real, Satisfies
from sim.errors import ValidationError
from sim.learning import rules
from sim.learning.optimizers import get_optimizer, get_schedule
from sim.models.early_stopping import EARLY_STOPPING_CONSTRAINTS
from sim.models.estimator import MAX_UNITS
from sim.models.stages import STAGE_CONSTRAINTS, check_w_inh, check_weight_count, per_stage
from sim.substrate import neurons
from sim.substrate.connections import initializer_names
from sim.validation import check_dtype, check_int

__all__ = ["PARAMETER_CONSTRAINTS", "SCHEDULES", "make_rules", "stage_lr", "stage_neuron", "stage_w_inh",
           "check_stages",
           "stage_sizes"]

SCHEDULES = ("sequential", "concurrent")


def _hidden_neuron(name, value):
    if isinstance(neurons.get(value), neurons.Softmax):
        raise ValidationError(name, value, "softmax is an output type")


def _rule_params(name, value):
    if value is not None and not isinstance(value, dict):
        raise ValidationError(name, value, "must be a dict of rule arguments")


def make_rules(rule: str, rule_params):
    """The hidden rule ``rule`` and its lateral partner (or None), built from ``rule_params``
    (the partner gets the keywords the rule names in ``lateral_params``)."""
    params = dict(rule_params or {})
    cls = rules.rule_class(rule)
    try:
        lateral_params = {k: params.pop(k) for k in cls.lateral_params if k in params}
        hidden = rules.get(cls.name, **params)
        lateral = rules.get(cls.lateral_rule, **lateral_params) if cls.lateral_rule else None
    except TypeError as exc:
        raise ValidationError("rule_params", rule_params, f"not accepted by rule {cls.name!r} ({exc})") from None
    except ValidationError as exc:
        if exc.parameter != "params":
            raise
        raise ValidationError("rule_params", rule_params, exc.requirement) from None
    return hidden, lateral


def stage_neuron(model):
    """Rate function of ``model``'s hidden stages: ``neuron``, or the rule's ``default_neuron``."""
    name = model.neuron if model.neuron is not None else rules.rule_class(model.rule).default_neuron
    return neurons.get(name)


def stage_lr(model) -> float:
    """Learning rate of the hidden rule: ``hidden_lr``, or the rule's ``default_lr``."""
    return float(model.hidden_lr if model.hidden_lr is not None else rules.rule_class(model.rule).default_lr)


def stage_w_inh(model, n_stages: int) -> tuple:
    """Inhibition of each hidden stage: ``w_inh``, or the rule's ``default_w_inh``."""
    value = model.w_inh if model.w_inh is not None else rules.rule_class(model.rule).default_w_inh
    return per_stage("w_inh", value, n_stages)


def check_stages(model) -> None:
    """Checks across parameters: the p-metric current needs a rule with its own currents; a
    rule that learns from the linear response gets a linear, uninhibited stage unless
    ``post='rate'``; the rule parameters are accepted."""
    cls = rules.rule_class(model.rule)
    if model.current == "metric" and not cls.own_currents:
        raise ValidationError("current", model.current, "'metric' needs a rule that defines its own "
                              "currents (e.g. rule='competitive')")
    sizes = stage_sizes(model.hidden)
    w_inh = stage_w_inh(model, len(sizes))
    phi = stage_neuron(model)
    if cls.post_signal == "linear" and model.post == "auto" and sizes:
        linear = isinstance(phi, neurons.Linear)
        if not linear or any(w_inh) or cls.lateral_rule:
            param, value = ("neuron", model.neuron) if not linear else ("w_inh", model.w_inh)
            raise ValidationError(param, value, f"rule {cls.name!r} learns from the linear response y = W x, "
                                  "which a nonlinear or inhibited stage does not give; use neuron='linear' and "
                                  "w_inh=0 (its defaults), or post='rate' to give it the settled rate")
    check_weight_count("hidden", sizes)
    rule, _ = make_rules(model.rule, model.rule_params)
    k = getattr(rule, "k", None)  # a rule that ranks the k most driven units of its stage
    if k is not None and sizes and k > min(sizes):
        raise ValidationError("rule_params", model.rule_params, f"k={k} ranked units per input, more than the "
                              f"{min(sizes)} units of a hidden stage")


def stage_sizes(hidden) -> tuple:
    """Hidden stage sizes as a tuple of ints >= 1 (an int ``n`` means ``(n,)``, 0 means ``()``)."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        return () if hidden == 0 else (check_int("hidden", hidden, low=0, high=MAX_UNITS),)
    if not isinstance(hidden, (tuple, list)):
        raise ValidationError("hidden", hidden, "must be a number of units or a tuple of stage sizes")
    return tuple(check_int("hidden", h, low=1, high=MAX_UNITS) for h in hidden)


PARAMETER_CONSTRAINTS = {
    "hidden": Satisfies(lambda name, value: stage_sizes(value)),
    "rule": Choice(rules.hidden_names),
    "current": Choice(("dot", "metric")),
    "input_bias": Real(low=0.0),
    "rule_params": Satisfies(_rule_params),
    "neuron": Optional(Satisfies(_hidden_neuron)),
    "post": Choice(("auto", "rate")),
    "w_inh": Optional(check_w_inh),
    **STAGE_CONSTRAINTS,
    "init": Choice(initializer_names()),
    "init_scale": Real(low=0.0, low_open=True),
    "hidden_lr": Optional(Real(low=0.0, low_open=True)),
    "hidden_lr_schedule": Satisfies(lambda name, value: get_schedule(value, name)),
    "hidden_epochs": Optional(Int(low=0)),
    "schedule": Choice(SCHEDULES),
    "readout_power": Real(low=1.0),
    "readout_scaling": Choice(("rms", "none")),
    "readout_optimizer": Satisfies(lambda name, value: get_optimizer(value, name)),
    "readout_lr": Real(low=0.0, low_open=True),
    "readout_decay": Real(low=0.0),
    "lr_schedule": Satisfies(lambda name, value: get_schedule(value, name)),
    "batch_size": Int(low=1),
    **EARLY_STOPPING_CONSTRAINTS,
    "dtype": Satisfies(check_dtype),
    "seed": Int(low=0),
}
