"""Learning-direction cosines: the gradient through the settled code against finite differences."""

import numpy as np
import pytest

from sim import ValidationError, tasks
from sim.models.alignment import cosine, feedback_alignment, hebbian_alignment, hebbian_direction, hebbian_gradient
from sim.models.hebbian import HebbianNet
from sim.models.mlp import BackpropMLP


def _loss(model, X, y):
    model._cache = []  # weights were changed in place: drop the cached settled code
    P = model._proba(model._check_X(X))
    return -np.mean(np.log(P[np.arange(len(y)), y]))


@pytest.mark.parametrize("params", [
    {"w_inh": 0.4},                                                       # k-WTA code
    {"w_inh": 0.0, "readout_power": 3.0},                                 # rectified power code
    {"w_inh": 0.3, "current": "metric", "rule_params": {"p": 3.0, "k": 3, "delta": 0.4}},
    {"w_inh": 0.0, "input_bias": 1.0, "rule_params": {"p": 2.0, "k": 2, "delta": 0.1}},
])
def test_gradient_through_the_settled_code_matches_finite_differences(params):
    task = tasks.load("moons", seed=0, n_train=60, n_test=30)
    kw = {"rule_params": {"p": 2.0, "k": 2, "delta": 0.4}, **params}
    model = HebbianNet(hidden=12, dtype="float64", hidden_epochs=2, seed=1, **kw)
    model.fit(task, 4)
    X, y = task.X_train[:20], task.y_train[:20]
    g = hebbian_gradient(model, X, y)
    W = model.network_.connections[0].W
    fd = np.zeros_like(W)
    eps = 1e-6
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            old = W[i, j]
            W[i, j] = old + eps
            up = _loss(model, X, y)
            W[i, j] = old - eps
            down = _loss(model, X, y)
            W[i, j] = old
            fd[i, j] = -(up - down) / (2 * eps)
    assert np.linalg.norm(g - fd) / np.linalg.norm(g + fd) < 1e-5


def test_alignment_values_are_cosines():
    task = tasks.load("digits", seed=0)
    model = HebbianNet(hidden=50, hidden_epochs=3, seed=0)
    model.fit(task, 6)
    X, y = task.X_train[:100], task.y_train[:100]
    c = hebbian_alignment(model, X, y)
    assert -1 <= c <= 1
    assert c == pytest.approx(cosine(hebbian_direction(model, X), hebbian_gradient(model, X, y)))
    assert cosine([1, 0], [0, 2]) == 0 and cosine([1, 1], [2, 2]) == pytest.approx(1)
    assert np.isnan(cosine([0, 0], [1, 2]))
    with pytest.raises(ValidationError, match="model"):
        hebbian_gradient(BackpropMLP(hidden=(4,)).fit(task, 1) and BackpropMLP(), X, y)


def test_feedback_alignment_cosines():
    task = tasks.load("digits", seed=0)
    bp = BackpropMLP(hidden=(32,), seed=0)
    bp.fit(task, 2)
    assert feedback_alignment(bp, task.X_train[:64], task.y_train[:64]) == pytest.approx([1.0])
    fa = BackpropMLP(hidden=(32,), learning="feedback_alignment", seed=0)
    fa.fit(task, 1)
    early = feedback_alignment(fa, task.X_train[:256], task.y_train[:256])[0]
    fa.partial_fit(task, 20)
    late = feedback_alignment(fa, task.X_train[:256], task.y_train[:256])[0]
    assert late > 0.2 and late > early  # the update comes to align with the gradient
