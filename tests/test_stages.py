"""The dynamics x learning factorial as configurations of one substrate.

Oracles: the network's own forward pass (every corner's ``network_.forward`` is its
``predict_proba``), central finite differences of the loss (backprop through settled,
inhibited stages), the eigenvectors of a covariance drawn here (Sanger through ``fit``), and
the constraint definitions themselves (Dale signs, masks, bounds, norms after training).
"""

import warnings

import numpy as np
import pytest

from sim import tasks
from sim.errors import ValidationError
from sim.models import BackpropMLP, HebbianNet
from sim.substrate import dynamics
from sim.substrate.implicit import settled_vjp
from sim.substrate.kwta import fixed_point_vjp, inhibited_fixed_point


@pytest.fixture(scope="module")
def digits():
    return tasks.load("digits", seed=0)


CORNERS = {
    "mlp, steady": lambda: BackpropMLP(hidden=(48,)),
    "mlp, inhibited": lambda: BackpropMLP(hidden=(48,), w_inh=0.3),
    "fa, inhibited, 2 stages": lambda: BackpropMLP(hidden=(48, 24), w_inh=(0.3, 0.0), learning="feedback_alignment"),
    "mlp, sigmoid inhibited": lambda: BackpropMLP(hidden=(24,), activation="sigmoid", w_inh=0.2, settle_tol=1e-12),
    "hebbian, steady, r^3": lambda: HebbianNet(hidden=48, w_inh=0.0, readout_power=3.0),
    "hebbian, inhibited, metric + bias": lambda: HebbianNet(hidden=48, current="metric", input_bias=1.0),
    "hebbian, 2 stages": lambda: HebbianNet(hidden=(48, 24)),
    "hebbian, time-stepped": lambda: HebbianNet(hidden=24, settle="dynamics", settle_tol=1e-10, max_steps=5000),
    "foldiak, learned lateral": lambda: HebbianNet(hidden=16, rule="foldiak", settle_tol=1e-10, max_steps=5000),
    "random features": lambda: HebbianNet(hidden=48, rule="none"),
}


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_network_forward_is_the_model(digits, name):
    model = CORNERS[name]().set_params(dtype="float64", seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(digits, epochs=2)
        X = digits.X_val[:200]
        np.testing.assert_allclose(model.network_.forward(X)[-1], model.predict_proba(X), rtol=0, atol=1e-6)


def _fd_check(model, X, y, weights, analytic, n=12, h=1e-6):
    """Largest relative error of ``analytic`` (= -dL/dW) against central differences of the
    mean cross-entropy, over ``n`` entries with a non-negligible gradient."""
    def loss():
        P = model.predict_proba(X)
        return -np.mean(np.log(P[np.arange(len(y)), y]))
    rng = np.random.default_rng(0)
    big = np.argwhere(np.abs(analytic) > 1e-3 * np.abs(analytic).max())
    errors = []
    for i, j in big[rng.choice(len(big), size=min(n, len(big)), replace=False)]:
        old = weights[i, j]
        weights[i, j] = old + h
        up = loss()
        weights[i, j] = old - h
        down = loss()
        weights[i, j] = old
        errors.append(abs(-(up - down) / (2 * h) - analytic[i, j]) / abs(analytic[i, j]))
    return max(errors)


def test_backprop_through_leaky_inhibited_stage_matches_finite_differences(digits):
    model = BackpropMLP(hidden=(40,), w_inh=0.3, dtype="float64", seed=2)
    model.fit(digits, epochs=2)
    X, y = digits.X_train[:60], digits.y_train[:60]
    k = (model.hidden_rates(X) > 0).sum(axis=1)
    assert np.all((k > 1) & (k < 40)), "the check needs inputs with 1 < k < N active units"
    for layer, W in enumerate([c.W for c in model.network_.connections]):
        assert _fd_check(model, X, y, W, model.layer_directions(X, y)[layer]) <= 1e-6


def test_hebbian_gradient_through_two_inhibited_stages_matches_finite_differences(digits):
    model = HebbianNet(hidden=(40, 20), readout_power=2.0, dtype="float64", seed=3)
    model.fit(digits, epochs=2)
    X, y = digits.X_train[:60], digits.y_train[:60]
    for layer in (0, 1):
        W = model.network_.connections[layer].W
        assert _fd_check(model, X, y, W, model.hidden_gradient(X, y, layer=layer)) <= 1e-6


def _settle(J, phi, w, L):
    return dynamics.settle(J, neuron=phi, tau=1.0, dt=0.5, w_inh=w, lateral=L, tol=1e-13, max_steps=200000).rate


@pytest.mark.parametrize("phi,w,lateral", [("relu", 0.4, False), ("sigmoid", 0.3, False), ("tanh", 0.2, True),
                                           ("relu", 0.1, True)])
def test_settled_vjp_is_the_jacobian_of_the_settled_state(phi, w, lateral):
    """Oracle: central differences of the integrated fixed point with respect to J."""
    rng = np.random.default_rng(4)
    n = 6
    L = -0.1 * rng.random((n, n)) if lateral else None
    if L is not None:
        np.fill_diagonal(L, 0.0)
    J = rng.normal(0.5, 1.0, size=(3, n))
    g = rng.standard_normal((3, n))
    res = dynamics.settle(J, neuron=phi, tau=1.0, dt=0.5, w_inh=w, lateral=L, tol=1e-13, max_steps=200000)
    analytic = settled_vjp(res.v, g, phi, w, L)
    h = 1e-6
    for j in range(n):
        E = np.zeros_like(J)
        E[:, j] = h
        fd = np.sum((_settle(J + E, phi, w, L) - _settle(J - E, phi, w, L)) * g, axis=1) / (2 * h)
        np.testing.assert_allclose(analytic[:, j], fd, rtol=1e-5, atol=1e-8)


def test_settled_vjp_of_relu_is_the_active_set_jacobian():
    rng = np.random.default_rng(5)
    J = rng.standard_normal((20, 30))
    v, r, _ = inhibited_fixed_point(J, 0.3)
    g = rng.standard_normal(J.shape)
    np.testing.assert_allclose(settled_vjp(v, g, "relu", 0.3), fixed_point_vjp(r, g, 0.3), atol=1e-12)


def test_backprop_through_inhibited_stage_trains_on_digits(digits):
    model = BackpropMLP(hidden=(256,), w_inh=0.3, seed=0)
    model.fit(digits, epochs=30)
    assert model.score(digits.X_val, digits.y_val) >= 0.97


def test_sanger_finds_the_top_eigenvectors_through_fit():
    rng = np.random.default_rng(6)
    d = 10
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    lam = np.array([4.0, 2.5, 1.6, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02])
    C = (Q * lam) @ Q.T
    X = rng.multivariate_normal(np.zeros(d), C, size=4000)
    task = tasks.from_arrays(X, rng.integers(0, 2, size=4000), seed=0, scale="none")
    model = HebbianNet(rule="sanger", hidden=4, dtype="float64")
    model.fit(task, epochs=20)
    W = model.network_.connections[0].W
    E = np.linalg.eigh(C)[1][:, ::-1]
    cos = np.abs(np.sum(W * E[:, :4].T, axis=1)) / np.linalg.norm(W, axis=1)
    assert np.all(cos >= 0.98), cos


@pytest.mark.parametrize("rule", ["oja", "sanger"])
def test_rules_of_the_linear_response_refuse_a_nonlinear_or_inhibited_stage(digits, rule):
    with pytest.raises(ValidationError, match="linear response"):
        HebbianNet(rule=rule, hidden=4, neuron="relu").fit(digits, epochs=1)
    with pytest.raises(ValidationError, match="w_inh"):
        HebbianNet(rule=rule, hidden=4, w_inh=0.3).fit(digits, epochs=1)
    HebbianNet(rule=rule, hidden=4, neuron="relu", post="rate", hidden_lr=1e-3).fit(digits, epochs=1)


@pytest.mark.parametrize("make", [lambda **kw: BackpropMLP(hidden=(32, 16), **kw),
                                  lambda **kw: HebbianNet(hidden=(32, 16), **kw)], ids=["mlp", "hebbian"])
def test_constraints_hold_after_training(digits, make):
    model = make(dale=0.75, p_connect=0.5, bounds=(-0.5, 0.5), max_norm=2.0, seed=7)
    model.fit(digits, epochs=2)
    hidden = model.network_.connections[:-1]
    for conn in hidden:
        W = conn.W
        signs = conn.dale
        assert np.all(W[:, signs > 0] >= 0) and np.all(W[:, signs < 0] <= 0)
        assert np.all(W[~conn.mask] == 0) and 0.4 < conn.mask.mean() < 0.6
        assert np.all(np.abs(W) <= 0.5)
        assert np.all(np.linalg.norm(W.astype(np.float64), axis=1) <= 2.0 * (1 + 1e-6))
    assert model.network_.connections[-1].mask is None  # the readout is unconstrained


def test_two_stage_networks_train_from_python(digits):
    for model in (BackpropMLP(hidden=(64, 32), w_inh=(0.2, 0.0)), HebbianNet(hidden=(100, 50), w_inh=(0.3, 0.1))):
        model.fit(digits, epochs=6)
        assert model.hidden_rates(digits.X_val, layer=0).shape[1] == model.network_.sizes[1]
        assert model.score(digits.X_val, digits.y_val) > 0.6


def test_w_inh_per_stage_must_match_depth():
    with pytest.raises(ValidationError, match="w_inh"):
        BackpropMLP(hidden=(8, 8), w_inh=(0.1, 0.2, 0.3)).validate_params()
    with pytest.raises(ValidationError, match="w_inh"):
        HebbianNet(hidden=(8, 8), w_inh=(0.1,)).fit(tasks.load("xor", seed=0), epochs=1)


DEEP = """
name = "deep"
root_seed = 1
seeds = 1
epochs = 4
[tasks.digits]
[models.mlp2]
model = "backprop"
hidden = [64, 32]
w_inh = [0.3, 0.0]
lr = 0.003
[models.hebbian2]
model = "hebbian"
hidden = [100, 50]
w_inh = 0.2
dale = 0.8
"""


def test_two_stage_networks_train_from_toml(tmp_path):
    from sim.study import store
    from sim.study.backends import run_study
    path = tmp_path / "deep.toml"
    path.write_text(DEEP)
    run_study(path, tmp_path / "out", workers=1, progress=False)
    runs = {r["config"]["model"]: r for r in store.open(tmp_path / "out").runs()}
    assert set(runs) == {"mlp2", "hebbian2"}
    for run in runs.values():
        assert run["status"] == "finished"
        assert run["history"]["records"][-1]["val_accuracy"] > 0.5
    assert runs["hebbian2"]["config"]["params"]["hidden"] == [100, 50]


def test_frozen_hidden_mlp_learns_only_its_readout_after_the_first_phase(digits):
    """The frozen-hidden-layer control: backprop in phase 1, then the hidden stage is fixed."""
    first = tasks.class_subset(digits, [0, 1, 2, 3, 4], relabel=False)
    second = tasks.class_subset(digits, [5, 6, 7, 8, 9], relabel=False)
    model = BackpropMLP(hidden=(32,), freeze_hidden_after=3, seed=0)
    model.fit(first, epochs=3)
    W1, W2 = (c.W.copy() for c in model.network_.connections)
    model.partial_fit(second, epochs=3)
    np.testing.assert_array_equal(model.network_.connections[0].W, W1)
    assert not np.array_equal(model.network_.connections[1].W, W2)
    assert [r["phase"] for r in model.history_.records] == ["all"] * 3 + ["readout"] * 3
