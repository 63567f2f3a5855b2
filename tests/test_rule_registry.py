"""A rule registered from outside the package trains in a HebbianNet; the model honours what the
rule declares (post signal, unit norm, plasticity) instead of its name."""

import numpy as np
import pytest

from sim import ValidationError, tasks
from sim.learning import rules
from sim.models.hebbian import HebbianNet


class Decay(rules.LocalRule):
    """Every weight decays toward 0: ``dW = -W``, so ``W_t = W_0 (1 - lr)^t`` (hand-worked oracle)."""

    name = "test_decay"
    hidden = True

    def __init__(self):
        self.posts = []

    def delta(self, pre, post, W, error=None):
        self.posts.append(post)
        return -np.asarray(W)


class Normalize(Decay):
    """One step at ``lr = 1`` puts every row on the unit sphere: ``dW_i = W_i / ||W_i|| - W_i``."""

    name = "test_normalize"
    unit_norm = 2.0

    def delta(self, pre, post, W, error=None):
        return W / np.linalg.norm(W, axis=1, keepdims=True) - W


class OwnActivity(Decay):
    """Declares that it computes its own activity: the model must not settle for it."""

    name = "test_own_activity"
    post_signal = "none"


@pytest.fixture
def registered():
    for cls in (Decay, Normalize, OwnActivity):
        rules.register(cls)
    yield
    for cls in (Decay, Normalize, OwnActivity):
        rules.unregister(cls.name)


def _moons():
    return tasks.load("moons", seed=0, n_train=50, n_test=20, validation_fraction=0)  # 50 training samples


def test_a_registered_rule_trains_as_its_equation_says(registered):
    assert {"test_decay", "test_normalize", "test_own_activity"} <= set(rules.hidden_names())
    task = _moons()
    kw = dict(hidden=6, w_inh=0.0, hidden_lr=0.1, hidden_lr_schedule="constant", hidden_epochs=3,
              batch_size=50, dtype="float64", seed=4)  # one update per epoch
    model, control = HebbianNet(rule="test_decay", **kw), HebbianNet(rule="none", **kw)
    model.fit(task, epochs=5)
    control.fit(task, epochs=1)
    W0 = control.network_.connections[0].W  # same seed, same initial weights
    np.testing.assert_allclose(model.network_.connections[0].W, W0 * 0.9 ** 3, rtol=1e-12)
    assert [r["phase"] for r in model.history_.records] == ["hidden"] * 3 + ["readout"] * 2
    # the rule got the settled rates (ReLU of the currents, no inhibition) of every batch
    posts = model._rule.posts
    assert len(posts) == 3 and all(p is not None and p.shape == (50, 6) and p.min() >= 0 for p in posts)
    assert model.history_.last("converged_fraction") == 0.0  # no unit norm declared: rows still change


def test_converged_units_are_counted_with_the_declared_unit_norm(registered):
    kw = dict(hidden=6, w_inh=0.0, hidden_lr=1.0, hidden_lr_schedule="constant", hidden_epochs=1,
              batch_size=50, dtype="float64", seed=4)
    model, control = HebbianNet(rule="test_normalize", **kw), HebbianNet(rule="none", **kw)
    model.fit(_moons(), epochs=2)
    control.fit(_moons(), epochs=1)
    W0 = control.network_.connections[0].W
    np.testing.assert_allclose(model.network_.connections[0].W, W0 / np.linalg.norm(W0, axis=1, keepdims=True),
                               rtol=1e-12)
    assert model.history_["converged_fraction"] == [1.0, 1.0]  # every row on the p = 2 unit sphere


def test_the_model_gives_the_rule_what_it_declares(registered):
    task = _moons()
    kw = dict(hidden=6, w_inh=0.0, hidden_epochs=2, batch_size=25, seed=1)
    model = HebbianNet(rule="test_own_activity", **kw)
    model.fit(task, epochs=3)
    assert len(model._rule.posts) == 4 and all(p is None for p in model._rule.posts)  # never settled
    with pytest.raises(ValidationError, match="^invalid current='metric'.*own currents"):
        HebbianNet(rule="test_decay", current="metric", **kw).fit(task, epochs=1)
    with pytest.raises(ValidationError, match="^invalid rule_params="):
        HebbianNet(rule="test_decay", rule_params={"rate": 1.0}, **kw).fit(task, epochs=1)


def test_register_refuses_what_is_not_a_new_rule(registered):
    with pytest.raises(ValidationError, match="^invalid cls=.*subclass"):
        rules.register(dict)
    with pytest.raises(ValidationError, match="^invalid cls.name='hebb'.*already"):
        rules.register(type("Other", (rules.LocalRule,), {"name": "hebb"}))
    assert rules.register(Decay) is Decay  # registering the same class again is harmless
    with pytest.raises(ValidationError, match="^invalid rule='test_gone'.*valid:.*competitive"):
        HebbianNet(rule="test_gone").fit(_moons(), epochs=1)


def test_unregistered_rules_are_gone():
    assert "test_decay" not in rules.hidden_names()
    assert "none" in rules.hidden_names() and not rules.rule_class("none").plastic
    assert rules.rule_class("foldiak").lateral_rule == "antihebbian"
    assert rules.rule_class("competitive").own_currents and not rules.rule_class("oja").own_currents
