"""Model labels and factorial axes from parameters (`sim.models.labels`), against labels written
by hand for every case the figures meet."""

from __future__ import annotations

import pytest

from sim.learning import rules
from sim.models import presets
from sim.models.labels import axes, describe, describe_all, parts, settings

# (model_name, params, label, dynamics axis, learning axis)
CASES = [
    ("backprop", {"hidden": [128], "learning": "backprop", "w_inh": 0.0},
     "Backprop MLP, steady", "steady", "backprop"),
    ("backprop", {"hidden": [128], "w_inh": 0.3, "settle": "auto", "tau": 10.0, "dt": None},
     "Backprop MLP, inhibition 0.3", "inhibited", "backprop"),
    ("backprop", {"hidden": [64], "learning": "feedback_alignment", "w_inh": 0.0},
     "Feedback alignment, steady", "steady", "feedback_alignment"),
    ("backprop", {"hidden": [64], "learning": "feedback_alignment", "w_inh": 0.3},
     "Feedback alignment, inhibition 0.3", "inhibited", "feedback_alignment"),
    ("backprop", {"hidden": [100, 100]},
     "Backprop MLP, 2 hidden layers, steady", "steady", "backprop"),
    ("backprop", {"hidden": [100, 100], "w_inh": [0.3, 0.0]},
     "Backprop MLP, 2 hidden layers, inhibition 0.3 / 0", "inhibited", "backprop"),
    ("backprop", {"hidden": [64, 64], "w_inh": [0.2, 0.2]},
     "Backprop MLP, 2 hidden layers, inhibition 0.2", "inhibited", "backprop"),
    ("backprop", {"hidden": [128], "w_inh": 0.3, "settle": "dynamics", "tau": 10.0, "dt": 1.0},
     "Backprop MLP, inhibition 0.3, leaky (tau 10 ms, dt 1 ms), time-stepped", "leaky", "backprop"),
    ("backprop", {"hidden": [128], "w_inh": 0.0, "settle": "dynamics", "tau": 10.0, "dt": 1.0},
     "Backprop MLP, steady", "steady", "backprop"),  # nothing to settle without inhibition
    ("backprop", {"hidden": [], "learning": "backprop"},
     "Linear readout (backprop)", "steady", "backprop"),
    ("hebbian", {"hidden": 400, "rule": "competitive", "w_inh": 0.0},
     "Hebbian (competitive), steady", "steady", "competitive"),
    ("hebbian", {"hidden": 400, "rule": "competitive", "w_inh": 0.3, "tau": 10.0, "dt": None},
     "Hebbian (competitive), inhibition 0.3", "inhibited", "competitive"),
    ("hebbian", {"hidden": 400, "rule": "competitive", "w_inh": 0.3, "tau": 20.0, "dt": 0.5},
     "Hebbian (competitive), inhibition 0.3", "inhibited", "competitive"),  # closed form: no tau
    ("hebbian", {"hidden": 400, "rule": "competitive", "w_inh": None},
     "Hebbian (competitive), inhibition 0.3", "inhibited", "competitive"),  # the rule's default
    ("hebbian", {"hidden": 400, "rule": "competitive", "w_inh": 0.3, "settle": "dynamics", "tau": 10.0,
                 "dt": 1.0},
     "Hebbian (competitive), inhibition 0.3, leaky (tau 10 ms, dt 1 ms), time-stepped", "leaky", "competitive"),
    ("hebbian", {"hidden": 400, "rule": "competitive", "w_inh": 0.3, "neuron": "sigmoid", "tau": 10.0,
                 "dt": None},
     "Hebbian (competitive), inhibition 0.3, leaky (tau 10 ms, dt 10 ms), time-stepped", "leaky",
     "competitive"),  # no closed form for sigmoid units: integrated, dt defaults to tau
    ("hebbian", {"hidden": 400, "rule": "none", "w_inh": 0.3},
     "Random features, inhibition 0.3", "inhibited", "none"),
    ("hebbian", {"hidden": 400, "rule": "none", "w_inh": 0.0},
     "Random features, steady", "steady", "none"),
    ("hebbian", {"hidden": 64, "rule": "foldiak", "w_inh": None},
     "Hebbian (Foldiak), learned lateral inhibition", "leaky", "foldiak"),
    ("hebbian", {"hidden": 64, "rule": "foldiak", "w_inh": 0.2},
     "Hebbian (Foldiak), learned lateral + uniform 0.2", "leaky", "foldiak"),
    ("hebbian", {"hidden": 64, "rule": "oja", "w_inh": None, "neuron": None},
     "Hebbian (Oja), steady", "steady", "oja"),
    ("hebbian", {"hidden": 64, "rule": "sanger", "w_inh": 0.3, "neuron": None},
     "Hebbian (Sanger), inhibition 0.3", "inhibited", "sanger"),  # linear units: closed form
    ("hebbian", {"hidden": 64, "rule": "bcm", "w_inh": 0.0}, "Hebbian (BCM), steady", "steady", "bcm"),
    ("hebbian", {"hidden": 64, "rule": "hebb", "w_inh": 0.0}, "Hebbian (Hebb), steady", "steady", "hebb"),
    ("hebbian", {"hidden": [100, 100], "rule": "competitive", "w_inh": 0.3},
     "Hebbian (competitive), 2 stages, inhibition 0.3", "inhibited", "competitive"),
    ("hebbian", {"hidden": 0, "rule": "none"}, "Readout on raw input", "steady", "none"),
    ("readout", {"readout_lr": 1e-3}, "Readout on raw input", "steady", "none"),
]


@pytest.mark.parametrize("model_name, params, label, dynamics, learning", CASES,
                         ids=[c[2] for c in CASES])
def test_label_and_axes(model_name, params, label, dynamics, learning):
    assert describe(model_name, params) == label
    assert axes(model_name, params) == {"dynamics": dynamics, "learning": learning}


def test_missing_keys_take_the_defaults():
    # stores written before BackpropMLP had w_inh / settle: steady MLPs
    assert describe("backprop", {"hidden": [64], "lr": 0.01}) == "Backprop MLP, steady"
    assert describe("backprop", {}) == "Backprop MLP, steady"
    assert settings("backprop", {})["w_inh"] == (0.0,)
    # a Hebbian network without w_inh / neuron takes its rule's declarations
    assert describe("hebbian", {"rule": "competitive"}) == "Hebbian (competitive), inhibition 0.3"
    assert describe("hebbian", {}) == "Hebbian (competitive), inhibition 0.3"
    assert describe("hebbian", {"rule": "oja"}) == "Hebbian (Oja), steady"
    assert settings("hebbian", {"rule": "oja", "w_inh": 0.3})["closed_form"]  # linear by default
    assert settings("hebbian", {"tau": 5.0})["dt"] == 5.0


def test_presets_and_the_random_control():
    """The study's models: presets as they are, and ``random_control = true`` on them."""
    expected = {"mlp_digits": "Backprop MLP, steady", "mlp_toy": "Backprop MLP, 2 hidden layers, steady",
                "hebbian_digits": "Hebbian (competitive), inhibition 0.3",
                "hebbian_mnist1d": "Hebbian (competitive), steady",
                "hebbian_toy": "Hebbian (competitive), steady"}
    for name, label in expected.items():
        p = presets.get(name)
        assert describe(p["model"], p["params"]) == label, name
    for name, label in {"hebbian_digits": "Random features, inhibition 0.3",
                        "hebbian_toy": "Random features, steady"}.items():
        p = presets.control(name)
        assert describe(p["model"], p["params"]) == label
        params = presets.random_control_params(presets.get(name)["params"], "hebbian")
        assert describe("hebbian", params) == label and axes("hebbian", params)["learning"] == "none"


def test_user_registered_rules():
    class Decay(rules.LocalRule):
        name, hidden, default_w_inh = "decay_for_labels", True, 0.25

        def delta(self, pre, post, W, error=None):
            return -W

    rules.register(Decay)
    try:
        assert describe("hebbian", {"rule": "decay_for_labels", "w_inh": None}) == (
            "Hebbian (decay_for_labels), inhibition 0.25")
        assert axes("hebbian", {"rule": "decay_for_labels"})["learning"] == "decay_for_labels"
    finally:
        rules.unregister("decay_for_labels")
    # a rule this process does not know (registered in the study's process only): named as is
    assert describe("hebbian", {"rule": "elsewhere", "w_inh": 0.1}) == "Hebbian (elsewhere), inhibition 0.1"


def test_describe_all_is_true_for_every_variant():
    heb = [("hebbian", {"rule": "competitive", "w_inh": w}) for w in (0.0, 0.3, 0.0)]
    assert describe_all(heb) == "Hebbian (competitive), steady or inhibition 0.3"
    assert describe_all(heb[:1]) == describe(*heb[0])
    assert describe_all([("hebbian", {"rule": "none", "w_inh": w}) for w in (0.0, 0.3)]) == (
        "Random features, steady or inhibition 0.3")
    mlp = [("backprop", {"hidden": h}) for h in ([128], [64, 64], [100, 100])]
    assert describe_all(mlp) == "Backprop MLP, 1 or 2 hidden layers, steady"
    many = [("hebbian", {"rule": "competitive", "w_inh": w}) for w in (0.0, 0.1, 0.2, 0.3)]
    assert describe_all(many) == "Hebbian (competitive), dynamics per task"
    assert describe_all([]) == ""


def test_parts():
    assert parts("hebbian", {"rule": "competitive", "hidden": [50, 50], "w_inh": 0.0}) == {
        "model": "Hebbian (competitive)", "stages": 2, "unit": "stage", "dynamics": "steady"}


def _run(task, model, model_name, params):
    return {"config": {"task": task, "model": model, "model_name": model_name, "params": params}}


def test_analyses_name_each_study_key_by_its_runs():
    from analyses.common import ModelLabels
    runs = [_run(t, "hebbian", "hebbian", {"rule": "competitive", "w_inh": w})
            for t, w in (("digits", 0.3), ("moons", 0.0), ("xor", 0.0))]
    runs += [_run(t, k, "backprop", {"hidden": [64]}) for t in ("digits", "moons") for k in ("mlp", "mlp2")]
    names = ModelLabels(runs, ["xor", "moons", "digits"])
    assert names("hebbian", "digits") == "Hebbian (competitive), inhibition 0.3"
    assert names("hebbian") == "Hebbian (competitive), steady or inhibition 0.3"  # true on every task
    assert names("hebbian", named=True, width=None) == (
        "Hebbian (competitive), steady (xor, moons) or inhibition 0.3 (digits)")
    assert names("hebbian", named=True) == names("hebbian")  # longer than a legend line: no names
    assert names("hebbian", ["xor", "moons"]) == "Hebbian (competitive), steady"
    assert names.per_task("hebbian") == [("Hebbian (competitive), steady", ["xor", "moons"]),
                                         ("Hebbian (competitive), inhibition 0.3", ["digits"])]
    # two keys that are the same model keep apart in a legend; keys without runs fall back
    assert names.mapping(["mlp", "mlp2", "input"], "digits") == {
        "mlp": "Backprop MLP, steady [mlp]", "mlp2": "Backprop MLP, steady [mlp2]", "input": "Input"}
    assert names.model_part("hebbian") == "Hebbian (competitive)"


def test_describe_all_orders_dynamics_and_names_variants():
    heb = [("hebbian", {"rule": "competitive", "w_inh": w}) for w in (0.3, 0.0)]
    assert describe_all(heb) == "Hebbian (competitive), steady or inhibition 0.3"
    assert describe_all(heb, ["digits", "moons"]) == "Hebbian (competitive), steady (moons) or inhibition 0.3 (digits)"
    assert describe_all(heb, ["digits", "moons"], width=40) == "Hebbian (competitive), steady or inhibition 0.3"
    two = heb + [("hebbian", {"rule": "oja", "w_inh": 0.0})]  # two parts vary: no names
    assert describe_all(two, ["a", "b", "c"]) == "Hebbian (competitive) or Hebbian (Oja), steady or inhibition 0.3"


def test_frozen_hidden_mlp_is_named_as_such():
    label = describe("backprop", {"freeze_hidden_after": 30})
    assert label == "Backprop MLP (hidden frozen after 30 epochs), steady"
