"""BackpropMLP against oracles: finite differences, a hand-worked step, scikit-learn."""

import json

import numpy as np
import pytest

from sim import ValidationError, models, tasks
from sim.models.mlp import BackpropMLP
from sim.tasks import Task


def _task(X, y, n_classes, X_test=None, y_test=None):
    return Task("t", X, y, X if X_test is None else X_test, y if y_test is None else y_test, n_classes)


def _built(n_features, n_classes, **params):
    """A model with initialized (random) weights, as fit would leave them before training."""
    m = BackpropMLP(dtype="float64", **params)
    m.validate_params()
    m._initialize(n_features, n_classes, np.random.default_rng(3))
    m.n_classes_ = n_classes
    return m


def _loss(m, X, y):
    return m._loss(m._forward(X)[0][-1], y)


@pytest.mark.parametrize("output", ["softmax", "linear", "sigmoid"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softplus", "linear"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_gradient_matches_central_differences(activation, output, depth):
    rng = np.random.default_rng(depth)
    X = rng.normal(size=(7, 5))
    y = rng.integers(0, 3, size=7)
    m = _built(5, 3, hidden=(6,) * depth, activation=activation, output=output)
    m._params += rng.normal(scale=0.3, size=m._params.shape)  # move biases off zero too
    m._gradient(X, m._targets(y))
    analytic = -m._grad.copy()  # the rule's direction is the negative gradient
    numeric = np.empty_like(analytic)
    eps = 1e-6
    for k in range(m._params.size):
        old = m._params[k]
        m._params[k] = old + eps
        up = _loss(m, X, y)
        m._params[k] = old - eps
        down = _loss(m, X, y)
        m._params[k] = old
        numeric[k] = (up - down) / (2 * eps)
    rel = np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric)
    assert rel < 1e-6, rel


def test_feedback_alignment_output_equals_backprop_hidden_uses_B():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(9, 4)), rng.integers(0, 3, size=9)
    bp = _built(4, 3, hidden=(5, 6), learning="backprop")
    fa = _built(4, 3, hidden=(5, 6), learning="feedback_alignment")
    fa._params[...] = bp._params
    bp._gradient(X, bp._targets(y))
    fa._gradient(X, fa._targets(y))
    # output layer: identical
    np.testing.assert_allclose(fa._dWs[-1], bp._dWs[-1], rtol=1e-12)
    np.testing.assert_allclose(fa._dbs[-1], bp._dbs[-1], rtol=1e-12)
    # hidden layers: differ from backprop, and equal the update computed with the fixed B's
    assert not np.allclose(fa._dWs[0], bp._dWs[0])
    rates, currents = fa._forward(X)
    e = (rates[-1] - fa._targets(y)) / len(y)
    for i in (2, 1):
        e = (e @ fa._rule.B[i]) * fa._phi.derivative(currents[i - 1])
        np.testing.assert_allclose(fa._dWs[i - 1], -(e.T @ rates[i - 1]), rtol=1e-12)
    # B is fixed: one training step does not change it
    B0 = [B.copy() for B in fa._rule.B]
    fa._optimizer.step(fa._params, fa._grad, 0.1)
    for B, B_old in zip(fa._rule.B, B0):
        np.testing.assert_array_equal(B, B_old)
    assert [B.shape for B in fa._rule.B] == [W.shape for W in fa._Ws]


def test_hand_worked_sgd_step():
    # 2-2-2 network, ReLU hidden, softmax output, x = (1, 2), label 0, SGD lr = 0.5
    task = _task(np.array([[1.0, 2.0]]), np.array([0]), 2)
    m = BackpropMLP(hidden=(2,), optimizer="sgd", lr=0.5, batch_size=1, dtype="float64")
    m.fit(task, epochs=1)
    c1, c2 = m.network_.connections
    c1.W[...] = [[0.1, 0.2], [0.3, -0.4]]
    c1.b[...] = [0.0, 0.1]
    c2.W[...] = [[0.5, -0.6], [0.7, 0.8]]
    c2.b[...] = [0.0, 0.0]
    m.partial_fit(task, epochs=1)
    # J1 = W1 x + b1 = (0.1 + 0.4 + 0, 0.3 - 0.8 + 0.1) = (0.5, -0.4);  h = relu(J1) = (0.5, 0)
    # J2 = W2 h + b2 = (0.25, 0.35);  p = softmax(J2) = (1, e^0.1) / (1 + e^0.1)
    #    = (0.4750208125, 0.5249791875)
    # e2 = p - t = (-0.5249791875, 0.5249791875)
    # e1 = (e2 W2) * relu'(J1) = (0.5249791875 * (0.7 - 0.5), ...) * (1, 0) = (0.1049958375, 0)
    # W2 <- W2 - 0.5 e2 h^T: row 0: 0.5 + 0.5 * 0.5249791875 * 0.5 = 0.631244797; row 1: 0.7 - 0.131244797
    np.testing.assert_allclose(c2.W, [[0.6312447969, -0.6], [0.5687552031, 0.8]], atol=1e-9)
    # b2 <- b2 - 0.5 e2 = (0.2624895938, -0.2624895938)
    np.testing.assert_allclose(c2.b, [0.2624895938, -0.2624895938], atol=1e-9)
    # W1 <- W1 - 0.5 e1 x^T = ((0.1 - 0.0524979188, 0.2 - 0.1049958375), (0.3, -0.4))
    np.testing.assert_allclose(c1.W, [[0.0475020812, 0.0950041625], [0.3, -0.4]], atol=1e-9)
    # b1 <- b1 - 0.5 e1 = (-0.0524979188, 0.1)
    np.testing.assert_allclose(c1.b, [-0.0524979188, 0.1], atol=1e-9)


def test_digits_accuracy_and_agreement_with_scikit_learn():
    """64-128-10 ReLU, Adam 1e-3, batch 32, 30 epochs, 5 initialization seeds.

    The split is the project's reference digits split (stratified 80/20, split seed 0), checked on
    its validation split (288 images carved from the training split). Splits differ in difficulty
    by several points, so the model seed varies and the split is held fixed, as in the reference.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    ours, peer = [], []
    task = tasks.load("digits", seed=0)
    for seed in range(5):
        model = BackpropMLP(hidden=(128,), lr=1e-3, batch_size=32, seed=seed)
        model.fit(task, 30)
        ours.append(model.history_.last("val_accuracy"))
        sk = MLPClassifier((128,), solver="adam", learning_rate_init=1e-3, batch_size=32, max_iter=30,
                           alpha=0.0, random_state=seed, n_iter_no_change=10**6, tol=0)
        with pytest.warns(ConvergenceWarning):
            sk.fit(task.X_train, task.y_train)
        peer.append(sk.score(task.X_val, task.y_val))
    assert np.mean(ours) >= 0.975, ours
    assert abs(np.mean(ours) - np.mean(peer)) <= 0.01, (ours, peer)


def test_same_seed_same_history_different_seed_differs():
    task = tasks.load("moons", seed=0, n_train=200, n_test=200)
    a = BackpropMLP(hidden=(16,), seed=1).fit(task, 3).history_
    b = BackpropMLP(hidden=(16,), seed=1).fit(task, 3).history_
    c = BackpropMLP(hidden=(16,), seed=2).fit(task, 3).history_
    assert a.without_times() == b.without_times()
    assert a.without_times() != c.without_times()
    json.loads(a.to_json())  # exportable


def test_history_fields_and_partial_fit_continues():
    task = tasks.load("xor", seed=0, n_train=200, n_test=100)
    m = BackpropMLP(hidden=(8,), seed=0)
    m.fit(task, 2)
    h = m.history_
    rec = h.records[-1]
    for key in ("epoch", "samples_seen", "seconds", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                "test_loss", "test_accuracy", "weight_norm", "update_norm"):
        assert key in rec
    assert len(rec["weight_norm"]) == 2 and rec["samples_seen"] == 320  # 2 epochs of 160 (40 validation)
    np.testing.assert_allclose(rec["weight_norm"][0], np.linalg.norm(m.network_.connections[0].W))
    m.partial_fit(task, 1)
    assert h.epochs == 3 and h.records[-1]["samples_seen"] == 480
    # one fit of 3 epochs is the same run as fit 2 + partial_fit 1
    once = BackpropMLP(hidden=(8,), seed=0).fit(task, 3).history_
    assert once.without_times()["records"] == h.without_times()["records"]


def test_hidden_predict_score_are_consistent_with_network_forward():
    task = tasks.load("moons", seed=0, n_train=100, n_test=50)
    m = BackpropMLP(hidden=(7, 5), dtype="float64", seed=0)
    m.fit(task, 2)
    rates = m.network_.forward(task.X_test)
    np.testing.assert_allclose(m.hidden_rates(task.X_test, layer=0), rates[1], rtol=1e-12)
    np.testing.assert_allclose(m.hidden_rates(task.X_test), rates[2], rtol=1e-12)
    np.testing.assert_allclose(m.predict_proba(task.X_test), rates[3], rtol=1e-12)
    assert m.score(task.X_test, task.y_test) == np.mean(m.predict(task.X_test) == task.y_test)


def test_save_load_round_trip(tmp_path):
    task = tasks.load("moons", seed=0, n_train=100, n_test=50)
    for learning in ("backprop", "feedback_alignment"):
        m = BackpropMLP(hidden=(6,), learning=learning, lr_schedule="linear", seed=3)
        m.fit(task, 2)
        path = tmp_path / f"{learning}.npz"
        m.save(path)
        r = models.load(path)
        np.testing.assert_array_equal(r.predict_proba(task.X_test), m.predict_proba(task.X_test))
        assert r.get_params() == m.get_params()
        # continuing training after load is the same as continuing the original
        m.partial_fit(task, 1)
        r.partial_fit(task, 1)
        assert r.history_.without_times() == m.history_.without_times()


def test_damaged_or_foreign_file_is_refused(tmp_path):
    task = tasks.load("moons", seed=0, n_train=100, n_test=50)
    m = BackpropMLP(hidden=(4,))
    m.fit(task, 1)
    path = tmp_path / "m.npz"
    m.save(path)
    data = bytearray(path.read_bytes())
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ValidationError, match="path"):
        models.load(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ValidationError, match="path.*not a neurocompare"):
        models.load(foreign)
    # same size, one weight changed: the checksum catches it
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files}
    arrays["params"] = arrays["params"].copy()
    arrays["params"][0] += 1
    edited = tmp_path / "edited.npz"
    np.savez(edited, **arrays)
    with pytest.raises(ValidationError, match="checksum"):
        models.load(edited)
    with pytest.raises(ValidationError, match="no such file"):
        models.load(tmp_path / "missing.npz")


def test_bad_input_is_refused_naming_the_parameter():
    task = tasks.load("moons", seed=0, n_train=50, n_test=20)
    m = BackpropMLP(hidden=(4,))
    m.fit(task, 1)
    with pytest.raises(ValidationError, match="X.*2 features"):
        m.predict(np.zeros((3, 5)))
    X = np.array(task.X_test)
    X[0, 0] = np.nan
    with pytest.raises(ValidationError, match="X.*NaN"):
        m.predict(X)
    with pytest.raises(ValidationError, match=r"y.*0\.\.1"):
        m.score(task.X_test, np.full(task.n_test, 2))
    with pytest.raises(ValidationError, match="lr=-0.1"):
        BackpropMLP(lr=-0.1).fit(task, 1)
    with pytest.raises(ValidationError, match="optimizer='rmsprop'.*adam"):
        BackpropMLP(optimizer="rmsprop").fit(task, 1)
    for kwargs, name in [({"activation": "softmax"}, "activation"), ({"activation": "nope"}, "activation"),
                         ({"output": "tanh"}, "output"), ({"learning": "hebb"}, "learning"),
                         ({"batch_size": 0}, "batch_size"), ({"weight_decay": -1.0}, "weight_decay"),
                         ({"hidden": (0,)}, "hidden"), ({"hidden": "big"}, "hidden"),
                         ({"init": "ones"}, "init"), ({"dtype": "int32"}, "dtype"),
                         ({"lr_schedule": "cosine"}, "lr_schedule"), ({"seed": -1}, "seed")]:
        with pytest.raises(ValidationError, match=name):
            BackpropMLP(**kwargs).fit(task, 1)
    with pytest.raises(ValidationError, match="epochs=0"):
        BackpropMLP().fit(task, 0)
    with pytest.raises(ValidationError, match="not fitted"):
        BackpropMLP().predict(task.X_test)
    with pytest.raises(ValidationError, match="task"):
        BackpropMLP().fit(np.zeros((3, 2)), 1)
    with pytest.raises(ValidationError, match="bogus"):
        BackpropMLP().set_params(bogus=1)


def test_diverging_run_is_marked_not_raised():
    task = tasks.load("moons", seed=0, n_train=200, n_test=50)
    h = BackpropMLP(hidden=(32,), optimizer="sgd", lr=1e6, output="linear", seed=0).fit(task, 20).history_
    assert h.diverged and h.diverged_reason
    assert h.epochs < 20  # stopped early


@pytest.mark.parametrize("schedule,expected", [("constant", [1, 1, 1, 1]), ("linear", [1, 0.75, 0.5, 0.25])])
def test_lr_schedule_factors_reach_training(schedule, expected):
    from sim.learning.optimizers import get_schedule
    assert [get_schedule(schedule).factor(e, 4) for e in range(4)] == expected


@pytest.mark.parametrize("name", ["xor", "moons", "spirals"])
def test_toy_accuracy(name):
    from sim.models import presets
    task = tasks.load(name, seed=0)
    model, epochs = presets.make("mlp_toy", seed=0)
    model.fit(task, epochs)
    assert model.history_.last("val_accuracy") >= 0.99


def test_mnist1d_tuned_configuration_reaches_the_papers_mlp():
    """MNIST-1D paper: ~68% test accuracy for its MLP trained on 4000 signals. Here the preset trains
    on 3200 and is checked on the 800 validation signals: >= 65% mean over 3 seeds (measured 66.0%;
    the first wave's 67% floor was a test-set figure with all 4000 training signals)."""
    from sim.models import presets
    task = tasks.load("mnist1d")
    acc = []
    for seed in range(3):
        model, epochs = presets.make("mlp_mnist1d", seed=seed)
        model.fit(task, epochs)
        acc.append(model.history_.last("val_accuracy"))
    assert np.mean(acc) >= 0.65, acc
