"""Input gradients of every model configuration against central finite differences (float64).

The oracle is the model's own ``predict_proba`` (not the gradient module's forward pass): the
per-sample loss is ``-log P_y`` for a softmax output and ``0.5 ||P - onehot(y)||^2`` for a linear or
sigmoid MLP output, differentiated by central differences of step 1e-6 in every input feature.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import tasks
from sim.errors import ValidationError
from sim.models import BackpropMLP, HebbianNet, LinearReadout
from sim.models.input_gradient import input_gradient, network_forward, output_margin


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 5))
    y = (X[:, 0] + X[:, 1] ** 2 - X[:, 2] > 0.5).astype(int) + (X[:, 3] > 0.8)
    return tasks.from_arrays(X, y, seed=0)


def per_sample_loss(model, X, y):
    P = model.predict_proba(X)
    if model.get_params().get("output", "softmax") == "softmax":
        return -np.log(P[np.arange(len(y)), y])
    T = np.eye(P.shape[1])[y]
    return 0.5 * np.sum((P - T) ** 2, axis=1)


def finite_differences(model, X, y, h=1e-6):
    G = np.zeros_like(X)
    for j in range(X.shape[1]):
        E = np.zeros_like(X)
        E[:, j] = h
        G[:, j] = (per_sample_loss(model, X + E, y) - per_sample_loss(model, X - E, y)) / (2 * h)
    return G


CONFIGS = {
    "mlp linear classifier": (BackpropMLP, dict(hidden=())),
    "mlp relu": (BackpropMLP, dict(hidden=(8,))),
    "mlp two tanh stages": (BackpropMLP, dict(hidden=(6, 5), activation="tanh")),
    "mlp sigmoid output (mse)": (BackpropMLP, dict(hidden=(7,), output="sigmoid")),
    "mlp linear output (mse)": (BackpropMLP, dict(hidden=(7,), output="linear", lr=1e-3)),
    "mlp k-WTA stage": (BackpropMLP, dict(hidden=(12,), w_inh=0.3)),
    "mlp inhibited sigmoid stage (integrated)": (BackpropMLP, dict(hidden=(6,), activation="sigmoid", w_inh=0.4,
                                                                   settle_tol=1e-13, max_steps=20000)),
    "mlp feedback alignment": (BackpropMLP, dict(hidden=(8,), learning="feedback_alignment")),
    "mlp sparse mask + Dale's law": (BackpropMLP, dict(hidden=(9,), p_connect=0.5, dale=0.8)),
    "hebbian competitive k-WTA": (HebbianNet, dict(hidden=12, rule="competitive", w_inh=0.3)),
    "hebbian r^3 readout, rms": (HebbianNet, dict(hidden=12, rule="competitive", w_inh=0.0, readout_power=3.0)),
    "hebbian p-metric current + bias unit": (HebbianNet, dict(hidden=10, rule="competitive", current="metric",
                                                              input_bias=1.0, w_inh=0.2)),
    "hebbian random features": (HebbianNet, dict(hidden=10, rule="none", w_inh=0.0)),
    "hebbian oja linear": (HebbianNet, dict(hidden=3, rule="oja")),
    "hebbian foldiak lateral": (HebbianNet, dict(hidden=6, rule="foldiak", settle_tol=1e-13, max_steps=20000)),
    "hebbian two stages": (HebbianNet, dict(hidden=(10, 8), rule="competitive", w_inh=0.3)),
    "hebbian sigmoid, time-stepped": (HebbianNet, dict(hidden=6, rule="hebb", neuron="sigmoid", w_inh=0.3,
                                                       hidden_lr=1e-3, settle="dynamics", dt=1.0,
                                                       settle_tol=1e-13, max_steps=20000)),
    "readout only": (LinearReadout, dict(readout_scaling="rms")),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_input_gradient_matches_finite_differences(task, name):
    cls, params = CONFIGS[name]
    model = cls(**params, dtype="float64", seed=1)
    model.fit(task, epochs=4)
    X, y = np.asarray(task.X_test[:25], dtype=np.float64), task.y_test[:25]
    G = model.input_gradient(X, y)
    assert G.shape == X.shape and G.dtype == np.float64
    FD = finite_differences(model, X, y)
    scale = np.max(np.abs(FD))
    assert scale > 1e-6  # a zero gradient would pass trivially
    np.testing.assert_allclose(G, FD, rtol=1e-4, atol=1e-6 * max(scale, 1.0))


def test_gradient_is_per_sample_not_averaged(task):
    model = BackpropMLP(hidden=(8,), dtype="float64", seed=0)
    model.fit(task, epochs=2)
    X, y = task.X_test[:10], task.y_test[:10]
    one = model.input_gradient(X[3:4], y[3:4])
    np.testing.assert_allclose(model.input_gradient(X, y)[3:4], one, rtol=1e-12)


def test_linear_classifier_gradient_is_closed_form(task):
    """Linear softmax: dL/dx = W^T (softmax(Wx + b) - onehot(y)), by hand."""
    model = BackpropMLP(hidden=(), dtype="float64", seed=0)
    model.fit(task, epochs=3)
    conn = model.network_.connections[0]
    X, y = task.X_test[:7], task.y_test[:7]
    Z = X @ conn.W.T + conn.b
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    expected = (P - np.eye(P.shape[1])[y]) @ conn.W
    np.testing.assert_allclose(model.input_gradient(X, y), expected, rtol=1e-10, atol=1e-14)
    margin_grad = input_gradient(model, X, y, loss="margin")
    Jm = Z.copy()
    Jm[np.arange(7), y] = -np.inf
    other = Jm.argmax(1)
    np.testing.assert_allclose(margin_grad, conn.W[other] - conn.W[y], rtol=1e-12)


def test_margin_is_positive_exactly_when_misclassified(task):
    model = HebbianNet(hidden=10, rule="competitive", dtype="float64", seed=0)
    model.fit(task, epochs=4)
    J = network_forward(model.network_, task.X_test)["potentials"][-1]
    wrong = model.predict(task.X_test) != task.y_test
    assert wrong.any() and (~wrong).any()
    np.testing.assert_array_equal(output_margin(J, task.y_test) > 0, wrong)


def test_forward_equals_predict_proba_for_float32_models(task):
    model = HebbianNet(hidden=12, rule="competitive", readout_power=3.0, seed=0)
    model.fit(task, epochs=4)
    fwd = network_forward(model.network_, task.X_test)
    np.testing.assert_allclose(fwd["rates"][-1], model.predict_proba(task.X_test), atol=1e-5)
    assert model.input_gradient(task.X_test[:5], task.y_test[:5]).dtype == np.float64


def test_bad_input_is_refused(task):
    model = BackpropMLP(hidden=(4,), seed=0)
    with pytest.raises(ValidationError, match="not fitted"):
        model.input_gradient(task.X_test[:3], task.y_test[:3])
    model.fit(task, epochs=1)
    with pytest.raises(ValidationError) as err:
        model.input_gradient(task.X_test[:3, :2], task.y_test[:3])
    assert err.value.parameter == "X"
    with pytest.raises(ValidationError) as err:
        model.input_gradient(task.X_test[:3], [0, 1, 7])
    assert err.value.parameter == "y"
    with pytest.raises(ValidationError) as err:
        input_gradient(model, task.X_test[:3], task.y_test[:3], loss="hinge")
    assert err.value.parameter == "loss"
