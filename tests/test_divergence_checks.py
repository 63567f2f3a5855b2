"""Diverged runs are flagged from training signals only, early, and reported once."""

import warnings

import numpy as np
import pytest

from sim import tasks
from sim.models import BackpropMLP, HebbianNet
from sim.models.divergence import MAX_GROWTH, divergence_reason


def _record(norms, loss=0.5, evaluated=True):
    return {"epoch": 3, "train_loss": loss, "weight_norm": norms, "evaluated": evaluated}


def test_divergence_reasons_by_hand():
    assert divergence_reason(_record([10.0, 2.0]), [8.0, 0.0]) == ""
    assert "non-finite training loss" in divergence_reason(_record([10.0], loss=float("nan")), [8.0])
    assert divergence_reason(_record([10.0], loss=float("nan"), evaluated=False), [8.0]) == ""
    assert "blew up" in divergence_reason(_record([2e6]), [1e5])
    assert "grew" in divergence_reason(_record([8.0 * MAX_GROWTH * 1.01]), [8.0])
    assert divergence_reason(_record([8.0 * MAX_GROWTH * 0.99]), [8.0]) == ""
    assert divergence_reason(_record([5e5]), [0.0]) == ""  # zero-initialized readouts: absolute bound only


@pytest.fixture(scope="module")
def digits():
    return tasks.load("digits", seed=0)


def test_a_blown_up_hebbian_rule_is_flagged_in_its_first_epoch(digits):
    model = HebbianNet(hidden=100, hidden_lr=1e6, seed=0)
    model.fit(digits, epochs=5)
    history = model.history_
    assert history.diverged and len(history.records) == 1


def test_predict_on_a_diverged_model_warns_once(digits):
    model = HebbianNet(hidden=30, rule="hebb", hidden_lr=10.0, neuron="relu", w_inh=0.0, seed=0)
    model.fit(digits, epochs=2)
    assert model.history_.diverged
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict(digits.X_val)
    assert len(caught) == 1 and "diverged during training" in str(caught[0].message)


def test_inputs_of_extreme_scale_are_warned_about(digits):
    X = np.vstack([digits.X_train, digits.X_test]) * 1e20
    y = np.concatenate([digits.y_train, digits.y_test])
    task = tasks.from_arrays(X, y, scale="none", seed=0)
    with pytest.warns(UserWarning, match="standardize"):
        BackpropMLP(hidden=(8,)).fit(task, epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        BackpropMLP(hidden=(8,)).fit(digits, epochs=1)  # ordinary scales: no warning
