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


# ----------------------------------------------------------------------------- permutation null

def test_permutation_null_on_constructed_updates():
    from sim.models.alignment import permutation_null
    rng = np.random.default_rng(0)
    G = rng.standard_normal((100, 64))
    # an update equal to the gradient: cosine 1, far in the tail of the unit-permutation null
    same = permutation_null(G, G, np.random.default_rng(1))
    assert same["observed"] == pytest.approx(1.0)
    assert same["null"].shape == (200,) and same["percentile"] == 100.0
    assert same["z"] > 20 and same["p"] == pytest.approx(1 / 201)
    # the null of independent Gaussian rows (n = 100 units, d = 64 inputs), hand-worked: a permuted
    # pairing sums n row products <G_a, G_b> of SD sqrt(d) over |G|^2 ~ n d, plus a fixed point
    # (a = b, ~Poisson(1) of them) adding d / (n d) = 1/n each: mean 1/n = 0.010,
    # SD sqrt(1/(n d) + 1/n^2) = 0.016
    assert abs(same["null_mean"] - 0.010) < 0.005 and 0.012 < same["null_sd"] < 0.021
    # a random update: inside the null
    z = [permutation_null(rng.standard_normal(G.shape), G, np.random.default_rng(k))["z"] for k in range(20)]
    assert np.all(np.abs(z) < 4) and abs(np.mean(z)) < 1.0
    # a weak but unit-specific alignment (cos ~ 0.1) is detected although the cosine is small
    weak = permutation_null(G + 10 * rng.standard_normal(G.shape), G, np.random.default_rng(2))
    assert 0.03 < weak["observed"] < 0.2 and weak["z"] > 2.5
    # ...but the same cosine from a rank-one update (every unit the same row) is no alignment:
    # permuting identical rows changes nothing, so the null is the observed value itself
    common = np.tile(G.mean(axis=0), (100, 1))
    flat = permutation_null(common, G, np.random.default_rng(3))
    np.testing.assert_allclose(flat["null"], flat["observed"])
    assert flat["percentile"] == pytest.approx(50.0) and flat["p"] == 1.0
    # the null is the cosine of the permuted update, computed directly
    r = np.random.default_rng(4)
    direct = [cosine(G[np.random.default_rng(4).permutation(100)], G)]
    assert permutation_null(G, G, r, n_permutations=2)["null"][0] == pytest.approx(direct[0])
    nan = permutation_null(np.zeros_like(G), G, rng)
    assert np.isnan(nan["z"]) and np.isnan(nan["observed"])
    with pytest.raises(ValidationError, match="update"):
        permutation_null(G[:5], G, rng)
    with pytest.raises(ValidationError, match="rng"):
        permutation_null(G, G, 0)


def test_alignment_during_hidden_learning_concurrent_schedule():
    from sim.models.alignment import alignment_record
    task = tasks.load("digits", seed=0)
    X, y = task.X_train[:200], task.y_train[:200]
    recorded = []
    model = HebbianNet(hidden=50, schedule="concurrent", seed=0)
    model.fit(task, epochs=3, callback=lambda m, rec: recorded.append(
        (rec["phase"], alignment_record(m, X, y, np.random.default_rng(0)))))
    # the readout and the hidden layer learn in the same epochs, so the gradient is defined while
    # the hidden layer learns
    assert [p for p, _ in recorded] == ["hidden+readout"] * 3
    for _, rec in recorded:
        assert np.isfinite(rec["alignment"]) and np.isfinite(rec["alignment_z"]) and rec["alignment_null_sd"] > 0
    final = alignment_record(model, X, y, np.random.default_rng(0))
    assert final["alignment"] == pytest.approx(hebbian_alignment(model, X, y))
    # with the sequential schedule the readout has not learned yet while the hidden layer does
    seq = HebbianNet(hidden=50, hidden_epochs=2, seed=0)
    phases = []
    seq.fit(task, epochs=3, callback=lambda m, rec: phases.append(rec["phase"]))
    assert phases == ["hidden", "hidden", "readout"]
