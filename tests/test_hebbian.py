"""HebbianNet: accuracy against the acceptance figures, controls, failure modes, API."""

import numpy as np
import pytest

from sim import ValidationError, models, tasks
from sim.models import presets
from sim.models.hebbian import HebbianNet
from sim.models.readout import LinearReadout
from sim.substrate import dynamics
from sim.substrate.kwta import inhibited_fixed_point


def _fit(name, task, seed, random_control=False):
    model, epochs = presets.make(name, seed=seed, random_control=random_control)
    model.fit(task, epochs)
    return model, model.history_


@pytest.fixture(scope="module")
def digits():
    return tasks.load("digits", seed=0)


@pytest.mark.slow
def test_digits_1000_units_reaches_98_percent_with_a_sparse_code(digits):
    acc = []
    for seed in range(5):
        model, h = _fit("hebbian_digits", digits, seed)
        acc.append(h.last("val_accuracy"))
        # inhibition makes the settled code sparse, and no input is left without an active unit
        assert h.last("active_fraction") < 0.1
        assert h.last("silent_inputs") == 0.0
        R = model.hidden_rates(digits.X_test)
        assert (R > 0).any(axis=1).all()
    assert np.mean(acc) >= 0.98, acc


def test_digits_32_units_beat_random_features_by_5_points(digits):
    ours = [_fit("hebbian_digits_small", digits, s)[1].last("val_accuracy") for s in range(3)]
    ctrl = [_fit("hebbian_digits_small", digits, s, True)[1].last("val_accuracy") for s in range(3)]
    assert np.mean(ours) - np.mean(ctrl) >= 0.05, (ours, ctrl)
    # and against the random layer's most favourable readout input (no inhibition) too
    best = [HebbianNet(hidden=32, rule="none", w_inh=0.0, seed=s).fit(digits, 100).history_.last("val_accuracy")
            for s in range(3)]
    assert np.mean(ours) > np.mean(best), (ours, best)


@pytest.mark.slow
def test_mnist1d_1000_units_reach_62_percent_and_beat_random_by_6_points():
    """Validation accuracy (3200 training signals, 800 validation). The first wave's floors, 64% and
    +8 points over the random control on test with all 4000 training signals, were chosen on test;
    measured on validation: 63.4% and +7.0 points (3 seeds)."""
    task = tasks.load("mnist1d")
    ours = [_fit("hebbian_mnist1d", task, s)[1].last("val_accuracy") for s in range(3)]
    ctrl = [_fit("hebbian_mnist1d", task, s, True)[1].last("val_accuracy") for s in range(3)]
    assert np.mean(ours) >= 0.62, ours
    assert np.mean(ours) - np.mean(ctrl) >= 0.06, (ours, ctrl)


@pytest.mark.parametrize("name", ["xor", "moons", "spirals"])
def test_toys_reach_99_percent_at_400_units(name):
    task = tasks.load(name, seed=0)
    assert _fit("hebbian_toy", task, 0)[1].last("val_accuracy") >= 0.99


def test_spirals_reach_95_percent_at_100_units():
    task = tasks.load("spirals", seed=0)
    model, epochs = presets.make("hebbian_toy", seed=0, hidden=100)
    model.fit(task, epochs)
    assert model.history_.last("val_accuracy") >= 0.95


def _bars_learned(W, templates):
    C = np.corrcoef(np.vstack([W, templates]))[: len(W), len(W):]  # units x bars
    return int(np.sum(C.max(axis=0) >= 0.8))


def test_bars_each_bar_becomes_a_receptive_field():
    task = tasks.load("bars", seed=0)
    model, _ = _fit("hebbian_bars", task, 0)
    assert _bars_learned(model.network_.connections[0].W, task.meta["templates"]) >= 14
    control, _ = _fit("hebbian_bars", task, 0, True)
    assert _bars_learned(control.network_.connections[0].W, task.meta["templates"]) < 14


def test_small_population_collapse_is_visible_and_the_default_avoids_it(digits):
    """Non-negative inputs, k = 7, delta = 0.4, N = 32: most units collapse onto one inverted
    mean digit (the anti-Hebbian push of the k-th unit dominates a small population)."""
    common = dict(hidden=32, w_inh=0.3, hidden_epochs=100, batch_size=20, seed=0)
    bad = HebbianNet(rule_params={"p": 2.0, "k": 7, "delta": 0.4}, **common).fit(digits, 120).history_
    good = HebbianNet(rule_params={"p": 2.0, "k": 2, "delta": 0.4}, **common).fit(digits, 120).history_
    assert bad.last("dead_fraction") > good.last("dead_fraction") + 0.2
    assert good.last("val_accuracy") > bad.last("val_accuracy") + 0.05


def test_closed_form_settle_equals_the_dynamics(digits):
    closed = HebbianNet(hidden=64, seed=0)
    closed.fit(digits, 4)
    stepped = HebbianNet(hidden=64, seed=0, settle="dynamics", settle_tol=1e-6, max_steps=5000)
    stepped.fit(digits, 4)
    h = stepped.history_
    # same weights (settling does not enter the competitive rule), same settled code
    np.testing.assert_array_equal(stepped.network_.connections[0].W, closed.network_.connections[0].W)
    np.testing.assert_allclose(stepped.hidden_rates(digits.X_test), closed.hidden_rates(digits.X_test), atol=1e-4)
    assert h.last("settle_steps") > 5 and closed.history_.last("settle_steps") == 0


def test_kwta_fixed_point_matches_dynamics_settle():
    rng = np.random.default_rng(0)
    J = rng.normal(0.3, 1.0, size=(20, 300))
    for w in (0.2, 0.6, 0.95):
        v, r, _ = inhibited_fixed_point(J, w)
        res = dynamics.settle(J, neuron="relu", w_inh=w, tau=1.0, dt=2.0, tol=1e-13, max_steps=20000)
        np.testing.assert_allclose(v, res.v, atol=1e-9)
        np.testing.assert_allclose(r, res.rate, atol=1e-9)
        np.testing.assert_allclose(dynamics.fixed_point_residual(v, J, neuron="relu", w_inh=w), 0, atol=1e-12)
    v, r, _ = inhibited_fixed_point(J, 0.5, neuron="linear")
    np.testing.assert_allclose(dynamics.fixed_point_residual(v, J, neuron="linear", w_inh=0.5), 0, atol=1e-12)
    with pytest.raises(ValidationError, match="neuron"):
        inhibited_fixed_point(J, 0.5, neuron="sigmoid")
    with pytest.raises(ValidationError, match="w_inh=1"):
        inhibited_fixed_point(J, 1.0)


@pytest.mark.parametrize("rule,params", [
    ("sanger", {"neuron": "linear", "w_inh": 0.0, "init_scale": 0.1, "hidden_lr": 0.01}),
    ("bcm", {"init_scale": 0.1, "hidden_lr": 0.001, "rule_params": {"tau_theta": 5.0}}),
    ("foldiak", {"neuron": "sigmoid", "w_inh": 0.0, "init_scale": 0.1})])
def test_every_hidden_rule_trains_in_the_network(rule, params, digits):
    small = tasks.subsample(digits, 30, np.random.default_rng(0))
    h = HebbianNet(hidden=16, rule=rule, hidden_epochs=10, seed=0, **params).fit(small, 30).history_
    assert not h.diverged, h.diverged_reason
    assert h.last("val_accuracy") > 0.5  # chance is 0.1
    for key in ("active_fraction", "dead_fraction", "converged_fraction", "silent_inputs", "settle_steps"):
        assert key in h.records[-1]


def test_concurrent_schedule_learns_hidden_and_readout_together(digits):
    h = HebbianNet(hidden=100, schedule="concurrent", seed=0).fit(digits, 5).history_
    assert all(r["phase"] == "hidden+readout" for r in h.records)
    assert h.last("val_accuracy") > 0.85
    assert h.records[-1]["update_norm"][0] > 0  # hidden weights moved in the last epoch


def test_sequential_schedule_phases(digits):
    h = HebbianNet(hidden=50, hidden_epochs=3, seed=0).fit(digits, 5).history_
    assert [r["phase"] for r in h.records] == ["hidden"] * 3 + ["readout"] * 2
    assert h.records[-1]["update_norm"][0] == 0  # hidden frozen while the readout learns


def test_readout_only_control_is_close_to_logistic_regression(digits):
    from sklearn.linear_model import LogisticRegression
    ours = LinearReadout(readout_lr=1e-2, batch_size=20).fit(digits, 100).history_.last("val_accuracy")
    # the same model: multinomial logistic regression without a penalty (the readout has no decay)
    peer = LogisticRegression(C=np.inf, max_iter=5000).fit(digits.X_train, digits.y_train)
    peer = peer.score(digits.X_val, digits.y_val)
    assert abs(ours - peer) <= 0.015, (ours, peer)
    assert set(LinearReadout().get_params()) == {"readout_scaling", "readout_optimizer", "readout_lr",
                                                 "readout_decay", "lr_schedule", "batch_size", "early_stopping",
                                                 "validation_fraction", "n_iter_no_change", "tol", "eval_every",
                                                 "epochs", "warm_start", "verbose", "dtype", "seed"}


def test_same_seed_same_history_and_save_load(tmp_path, digits):
    a = HebbianNet(hidden=40, seed=3, hidden_epochs=2).fit(digits, 3).history_
    model = HebbianNet(hidden=40, seed=3, hidden_epochs=2)
    model.fit(digits, 3)
    b = model.history_
    c = HebbianNet(hidden=40, seed=4, hidden_epochs=2).fit(digits, 3).history_
    assert a.without_times() == b.without_times() != c.without_times()
    path = tmp_path / "h.npz"
    model.save(path)
    loaded = models.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(digits.X_test), model.predict_proba(digits.X_test))
    np.testing.assert_array_equal(loaded.hidden_rates(digits.X_test), model.hidden_rates(digits.X_test))


def test_blow_up_is_marked_diverged(digits):
    h = HebbianNet(hidden=20, rule="hebb", w_inh=0.0, hidden_lr=50.0, schedule="concurrent",
                   init_scale=1.0, seed=0).fit(digits, 30).history_
    assert h.diverged and "epoch" in h.diverged_reason


def test_bad_input_is_refused(digits):
    with pytest.raises(ValidationError, match="rule='stdp'.*competitive"):
        HebbianNet(rule="stdp").fit(digits, 1)
    for kwargs, name in [({"w_inh": 1.0}, "w_inh"), ({"tau": 0.0}, "tau"), ({"dt": -1.0}, "dt"),
                         ({"hidden": -1}, "hidden"), ({"schedule": "later"}, "schedule"),
                         ({"readout_power": 0.5}, "readout_power"), ({"current": "metric", "rule": "oja"}, "current"),
                         ({"rule_params": {"q": 1}}, "rule_params"), ({"rule_params": 3}, "rule_params"),
                         ({"neuron": "softmax"}, "neuron"), ({"settle": "never"}, "settle"),
                         ({"hidden_lr": 0.0}, "hidden_lr"), ({"input_bias": -1.0}, "input_bias"),
                         ({"readout_decay": -1.0}, "readout_decay"), ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(ValidationError, match=name):
            HebbianNet(**kwargs).fit(digits, 1)
    model = HebbianNet(hidden=10)
    model.fit(digits, 1)
    with pytest.raises(ValidationError, match="X.*64 features"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ValidationError, match="layer"):
        model.hidden_rates(digits.X_test, layer=1)
