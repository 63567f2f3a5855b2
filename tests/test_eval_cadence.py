"""Evaluation cadence: ``eval_every`` changes which epochs are measured, never the training."""

import math

import numpy as np
import pytest

from sim import tasks
from sim.models import BackpropMLP, HebbianNet, LinearReadout

MODELS = {"mlp": lambda **kw: BackpropMLP(hidden=(16,), **kw),
          "hebbian": lambda **kw: HebbianNet(hidden=24, hidden_epochs=3, **kw),
          "readout": lambda **kw: LinearReadout(**kw)}


@pytest.fixture(scope="module")
def digits():
    return tasks.load("digits", seed=0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_is_identical_whatever_the_cadence(digits, name):
    every = MODELS[name](eval_every=1, seed=4)
    end = MODELS[name](eval_every=0, seed=4)
    every.fit(digits, epochs=7)
    end.fit(digits, epochs=7)
    for W_a, W_b in zip(every.network_.connections, end.network_.connections):
        np.testing.assert_array_equal(W_a.W, W_b.W)
    assert [r["evaluated"] for r in end.history_.records] == [False] * 6 + [True]
    assert all(math.isnan(r["val_accuracy"]) and math.isnan(r["test_accuracy"]) for r in end.history_.records[:-1])
    assert end.history_.records[-1]["val_accuracy"] == every.history_.records[-1]["val_accuracy"]


def test_every_third_epoch_and_the_last(digits):
    model = BackpropMLP(hidden=(16,), eval_every=3, seed=0)
    model.fit(digits, epochs=7)
    model.partial_fit(digits, epochs=2)
    evaluated = [r["epoch"] for r in model.history_.records if r["evaluated"]]
    assert evaluated == [3, 6, 7, 9]  # every third epoch, and the last of each fit call


def test_early_stopping_counts_evaluations(digits):
    model = BackpropMLP(hidden=(16,), lr=0.05, eval_every=2, early_stopping=True, n_iter_no_change=2, seed=0)
    model.fit(digits, epochs=200)
    records = model.history_.records
    assert model.history_.stopped_early and records[-1]["evaluated"]
    assert model.history_.best_epoch % 2 == 0  # the best is an evaluated epoch
    assert len(records) - model.history_.best_epoch == 4  # two evaluations without improvement


def test_divergence_is_caught_between_evaluations(digits):
    model = BackpropMLP(hidden=(16,), optimizer="sgd", lr=1e6, eval_every=0, seed=0)
    model.fit(digits, epochs=20)
    assert model.history_.diverged and len(model.history_.records) < 20


def test_early_stopping_restarts_with_each_partial_fit(digits):
    """Sequential learning with early stopping: the second call keeps the best weights of its own
    data's validation split, never the first call's (which would undo the second phase)."""
    first = tasks.class_subset(digits, [0, 1, 2, 3, 4], relabel=False)
    second = tasks.class_subset(digits, [5, 6, 7, 8, 9], relabel=False)
    model = BackpropMLP(hidden=(32,), early_stopping=True, n_iter_no_change=3, seed=0)
    model.fit(first, epochs=30)
    phase1 = len(model.history_.records)
    model.partial_fit(second, epochs=30)
    assert model.history_.best_epoch > phase1  # the best epoch of the second call
    assert model.score(second.X_test, second.y_test) > 0.9
