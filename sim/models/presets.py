"""Named configurations that reach the accuracies quoted in the docs and checked by the tests.

Each preset names a model, its constructor parameters and the number of epochs; ``task`` is
the task it was tuned on (None: any of the 2-D toys). Use :func:`make` to build one. Presets
ending in ``_tuned`` were chosen on the validation split by a committed tuning study with the
same trial budget for every model; their ``tuned`` entry records the study, the budget, the
tuning seeds and the best validation value. The others are the first wave's, chosen by hand
(some by test accuracy, before validation splits existed).
"""

from __future__ import annotations

import copy

from sim.errors import ValidationError
from sim.validation import check_choice

__all__ = ["PRESETS", "names", "get", "make", "control", "random_control_params"]

PRESETS = {
    # 64-128-10 ReLU, Adam 1e-3, batch 32: the MLP issue's reference configuration
    "mlp_digits": {"model": "backprop", "task": "digits", "epochs": 30,
                   "params": {"hidden": (128,), "lr": 1e-3, "batch_size": 32}},
    # 2-D toys (xor, moons, circles, spirals, blobs)
    "mlp_toy": {"model": "backprop", "task": None, "epochs": 100,
                "params": {"hidden": (64, 64), "lr": 1e-2, "batch_size": 32}},
    # the MNIST-1D paper's MLP recipe: 100-100 ReLU, Adam 1e-2, batch 100, no L2
    "mlp_mnist1d": {"model": "backprop", "task": "mnist1d", "epochs": 150,
                    "params": {"hidden": (100, 100), "lr": 1e-2, "batch_size": 100}},
    # Hebbian presets: competitive (Krotov & Hopfield 2019) hidden layer, delta-rule readout.
    # digits, N = 1000: k-WTA code of leaky units with uniform inhibition 0.3 on learned weights
    "hebbian_digits": {"model": "hebbian", "task": "digits", "epochs": 150,
                       "params": {"hidden": 1000, "rule": "competitive",
                                  "rule_params": {"p": 3.0, "k": 7, "delta": 0.4}, "w_inh": 0.3,
                                  "hidden_epochs": 100, "batch_size": 20, "hidden_lr": 0.1,
                                  "readout_lr": 3e-3}},
    # digits, N = 32: k = 2 avoids the anti-Hebbian collapse of small populations (k = 7 puts
    # most of 32 units on one inverted mean digit; tests/test_hebbian.py shows it)
    "hebbian_digits_small": {"model": "hebbian", "task": "digits", "epochs": 200,
                             "params": {"hidden": 32, "rule": "competitive",
                                        "rule_params": {"p": 2.0, "k": 2, "delta": 0.4}, "w_inh": 0.3,
                                        "hidden_epochs": 100, "batch_size": 20, "hidden_lr": 0.1,
                                        "readout_lr": 3e-3}},
    # mnist1d, N = 1000: p-metric currents, no inhibition (the k-WTA code overfits here),
    # readout on r^3 with a little L2
    "hebbian_mnist1d": {"model": "hebbian", "task": "mnist1d", "epochs": 100,
                        "params": {"hidden": 1000, "rule": "competitive",
                                   "rule_params": {"p": 3.0, "k": 7, "delta": 0.4}, "current": "metric",
                                   "w_inh": 0.0, "readout_power": 3.0, "readout_decay": 1e-3,
                                   "hidden_epochs": 50, "batch_size": 50, "hidden_lr": 0.2,
                                   "readout_lr": 1e-3}},
    # 2-D toys: a constant input unit gives the units a learned bias; delta = 0.1 because
    # delta = 0.4 collapsed 99 of 100 units onto one (spirals, moons at N = 100); r^2 readout
    "hebbian_toy": {"model": "hebbian", "task": None, "epochs": 150,
                    "params": {"hidden": 400, "rule": "competitive",
                               "rule_params": {"p": 2.0, "k": 2, "delta": 0.1}, "input_bias": 1.0,
                               "w_inh": 0.0, "readout_power": 2.0, "hidden_epochs": 50, "batch_size": 20,
                               "hidden_lr": 0.1, "readout_lr": 1e-2}},
    # Foldiak's bars: a small competitive population learns one bar per unit
    "hebbian_bars": {"model": "hebbian", "task": "bars", "epochs": 100,
                     "params": {"hidden": 24, "rule": "competitive",
                                "rule_params": {"p": 2.0, "k": 2, "delta": 0.4}, "w_inh": 0.3,
                                "hidden_epochs": 50, "batch_size": 20, "hidden_lr": 0.1,
                                "readout_lr": 3e-3}},
    # ---- tuned on validation (studies/tuning_digits.toml): 24 TPE trials per model, each the mean
    # validation accuracy over seed indices 0-2; "tuned" records the study, budget and best value
    "mlp_digits_tuned": {"model": "backprop", "task": "digits", "epochs": 100,
                         "params": {"hidden": (512,), "lr": 0.01956468645908071, "batch_size": 16,
                                    "weight_decay": 2.950753311747999e-05,
                                    "early_stopping": True},
                         "tuned": {"study": "tuning_digits", "trials": 24, "seeds": [0, 1, 2],
                                   "metric": "val_accuracy", "value": 0.9814814814814814}},
    "mlp_frozen_digits_tuned": {"model": "backprop", "task": "digits", "epochs": 30,
                                "params": {"hidden": (512,), "lr": 0.01902171386902668, "batch_size": 32,
                                           "weight_decay": 1.3577232247821954e-05, "freeze_hidden_after": 30},
                                "tuned": {"study": "tuning_digits", "trials": 24, "seeds": [0, 1, 2],
                                          "metric": "val_accuracy", "value": 0.9756944444444445}},
    "hebbian_digits_tuned": {"model": "hebbian", "task": "digits", "epochs": 100,
                             "params": {"hidden": 1000, "rule": "competitive",
                                        "rule_params": {"p": 3.0, "k": 8, "delta": 0.40561165169145164}, "w_inh": 0.0,
                                        "hidden_epochs": 50, "batch_size": 20, "hidden_lr": 0.04243890983705921,
                                        "readout_lr": 0.0022275417903826725, "readout_power": 3.0},
                             "tuned": {"study": "tuning_digits", "trials": 24, "seeds": [0, 1, 2],
                                       "metric": "val_accuracy", "value": 0.9791666666666666}},
    # the strong random-features control: the same 1000 units, tuned with the same budget (it chose
    # no inhibition and the plain rates)
    "random_digits_tuned": {"model": "hebbian", "task": "digits", "epochs": 100,
                            "params": {"hidden": 1000, "rule": "none", "rule_params": None, "current": "dot",
                                       "w_inh": 0.0, "neuron": "relu", "batch_size": 20,
                                       "init_scale": 0.7948308029746758, "readout_lr": 0.0005899832375014742,
                                       "readout_power": 1.0},
                            "tuned": {"study": "tuning_digits", "trials": 24, "seeds": [0, 1, 2],
                                      "metric": "val_accuracy", "value": 0.9803240740740741}},
    "readout_digits_tuned": {"model": "readout", "task": "digits", "epochs": 100,
                             "params": {"readout_lr": 0.04323708524535239},
                             "tuned": {"study": "tuning_digits", "trials": 24, "seeds": [0, 1, 2],
                                       "metric": "val_accuracy", "value": 0.9664351851851851}},
}


def random_control_params(params: dict, model_name: str) -> dict:
    """The random-features control of constructor parameters ``params`` of model ``model_name``.

    The hidden weights stay random: ``rule='none'`` and ``rule_params=None``; a model with a
    ``current`` parameter gets the plain ``'dot'`` current (the p-metric current needs a learned
    metric); a stage left to the hidden rule's defaults (``w_inh`` or ``neuron`` None) gets those
    defaults explicitly, so the control keeps the model's circuit. Used by :func:`control` and by
    studies (``random_control = true``).

    Returns
    -------
    dict
        A new dict: ``params`` with those entries set (``params`` itself is not modified).
    """
    from sim import models
    from sim.learning import rules
    out = {**params, "rule": "none", "rule_params": None}
    cls = models.REGISTRY[model_name]
    if "current" in cls.param_names():
        out["current"] = "dot"
    if model_name == "hebbian":  # the same stage as the model's: its rule's defaults made explicit
        rule = rules.rule_class(params.get("rule", cls().rule))
        if params.get("w_inh") is None:
            out["w_inh"] = rule.default_w_inh
        if params.get("neuron") is None:
            out["neuron"] = rule.default_neuron
    return out


def control(name: str) -> dict:
    """The random-features control of Hebbian preset ``name``: same network and readout, fixed
    random hidden weights (:func:`random_control_params`); returns the preset dict as :func:`get`."""
    preset = get(name)
    if preset["model"] != "hebbian":
        raise ValidationError("preset", name, "only Hebbian presets have a random-features control")
    preset["params"] = random_control_params(preset["params"], preset["model"])
    return preset


def names() -> list[str]:
    return sorted(PRESETS)


def get(name: str) -> dict:
    """A deep copy of preset ``name`` (``model``, ``task``, ``epochs``, ``params``)."""
    return copy.deepcopy(PRESETS[check_choice("preset", name, PRESETS)])


def make(name: str, seed: int = 0, *, random_control: bool = False, **overrides):
    """Build preset ``name`` (or its random-features control) with ``seed``; returns ``(model, epochs)``."""
    from sim import models
    preset = control(name) if random_control else get(name)
    params = dict(preset["params"], seed=seed, **overrides)
    return models.make(preset["model"], **params), preset["epochs"]
