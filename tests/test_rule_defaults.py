"""The stage a hidden rule declares (``default_neuron``, ``default_w_inh``, ``default_lr``) and
its constructor defaults train: a `HebbianNet` built from exactly those declarations, every other
parameter at the model's default, learns digits to >= 50% validation accuracy (chance: 10%)
without diverging. Only the validation split is looked at."""

import numpy as np
import pytest

from sim import tasks
from sim.learning import rules
from sim.models import HebbianNet
from sim.substrate import neurons, schemes

TRAINED = ("bcm", "hebb", "foldiak")


@pytest.fixture(scope="module")
def digits():
    return tasks.load("digits", seed=0)


def declared(name):
    """HebbianNet keyword arguments from the rule's declarations (what the model will use when
    ``neuron``, ``w_inh`` and ``hidden_lr`` are left unset)."""
    cls = rules.rule_class(name)
    return {"rule": name, "neuron": cls.default_neuron, "w_inh": cls.default_w_inh, "hidden_lr": cls.default_lr}


@pytest.mark.parametrize("name", rules.hidden_names())
def test_declared_defaults_exist_and_satisfy_the_model_constraints(name):
    kwargs = declared(name)
    constraints = HebbianNet.parameter_constraints
    for key in ("neuron", "w_inh", "hidden_lr"):
        constraints[key](key, kwargs[key])  # raises on an invalid value
    assert isinstance(kwargs["hidden_lr"], float) and 0 < kwargs["hidden_lr"] <= 1
    assert 0 <= kwargs["w_inh"] < 1
    assert not isinstance(neurons.get(kwargs["neuron"]), neurons.Softmax)
    rules.get(name)  # the constructor defaults are valid


def test_the_chosen_defaults():
    assert (rules.rule_class("bcm").default_lr, rules.BCM().tau_theta) == (1e-3, 10.0)
    assert rules.BCM().tau_theta * rules.BCM.default_lr <= 0.01  # far below the divergence edge (~0.3)
    assert (rules.rule_class("hebb").default_lr, rules.Hebb().normalize) == (1e-3, "l2")
    assert rules.Hebb(normalize=None).normalize is None  # plain Hebb stays available
    foldiak = rules.rule_class("foldiak")
    assert (foldiak.default_lr, foldiak.default_neuron, foldiak.default_w_inh) == (0.01, "relu", 0.0)


@pytest.mark.parametrize("name", TRAINED)
def test_declared_defaults_train_on_digits(name, digits):
    model = HebbianNet(**declared(name), seed=0)
    model.fit(digits, 10)
    h = model.history_  # fit's default number of epochs: 5 hidden, then 5 readout
    assert not h.diverged, h.diverged_reason
    assert h.last("val_accuracy") >= 0.5, h["val_accuracy"]
    assert all(r["update_norm"][0] > 0 for r in h.records if r["phase"] == "hidden")  # the rule learned
    if name == "foldiak":
        # the learned inhibition leaves the population one settled state per input: I - L keeps
        # a positive definite symmetric part, the regime the direct settle certifies
        L = model.lateral_.astype(np.float64)
        assert L.min() < 0  # it did learn lateral inhibition
        M = schemes.interaction_matrix(0.0, L, L.shape[0])
        assert schemes.attractor_certificate(M)[0]
        assert h.last("settle_steps") == 0  # settled directly, no time steps
