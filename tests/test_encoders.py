"""The unsupervised encoders: sklearn API, seeding, the autoencoder's gradient, PCA oracles."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA

from sim.errors import ValidationError
from sim.models.encoders import BackpropAutoencoder, HebbianEncoder, reconstruction_error


def _data(n=600, d=8, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.array([3.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05])[:d]
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * scales) @ Q.T


def test_sklearn_api_and_clone():
    enc = HebbianEncoder(n_components=4, rule="oja", epochs=2)
    assert clone(enc).get_params() == enc.get_params()
    X = _data()
    assert enc.fit(X) is enc
    assert enc.transform(X).shape == (600, 4) and enc.components_.shape == (4, 8)
    assert enc.fit_transform(X).shape == (600, 4)
    assert enc.history_["epoch"] == [1, 2]


def test_seeded_and_deterministic():
    X = _data()
    kw = dict(n_components=6, rule="competitive", rule_params={"p": 2.0, "k": 2, "delta": 0.1}, w_inh=0.0, epochs=3)
    a, b, c = HebbianEncoder(seed=1, **kw), HebbianEncoder(seed=1, **kw), HebbianEncoder(seed=2, **kw)
    for m in (a, b, c):
        m.fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert not np.allclose(a.components_, c.components_)


def test_epochs_keyword_overrides_constructor():
    enc = HebbianEncoder(n_components=3, rule="oja", epochs=5)
    enc.fit(_data(), epochs=2)
    assert len(enc.history_["epoch"]) == 2


def test_sanger_encoder_finds_the_principal_subspace():
    X = _data(n=3000)
    X = X - X.mean(axis=0)
    enc = HebbianEncoder(n_components=3, rule="sanger", hidden_lr=0.01, epochs=60, batch_size=50)
    enc.fit(X)
    pca = PCA(3).fit(X)
    cos = np.abs(np.sum(enc.components_ / np.linalg.norm(enc.components_, axis=1, keepdims=True)
                        * pca.components_, axis=1))
    assert np.all(cos > 0.99)
    # the reconstruction score of a linear code spanning the top-3 subspace equals PCA's error
    pca_err = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    assert -enc.score(X) == pytest.approx(pca_err, rel=0.02)


def test_random_encoder_keeps_its_weights():
    enc = HebbianEncoder(n_components=5, rule="none", epochs=2).fit(_data())
    w0 = HebbianEncoder(n_components=5, rule="none", epochs=0).fit(_data()).components_
    np.testing.assert_array_equal(enc.components_, w0)
    np.testing.assert_allclose(np.linalg.norm(w0, axis=1), 1.0)


def test_competitive_rows_reach_the_unit_sphere():
    X = _data(n=2000)
    enc = HebbianEncoder(n_components=4, rule="competitive", rule_params={"p": 3.0, "k": 2, "delta": 0.0},
                         w_inh=0.0, hidden_lr=0.02, epochs=30).fit(X)
    norms = np.sum(np.abs(enc.components_) ** 3, axis=1) ** (1 / 3)
    np.testing.assert_allclose(norms, 1.0, atol=0.05)


def test_reconstruction_error_by_hand():
    code = np.array([[1.0, 0.0], [0.0, 2.0]])
    D = np.array([[1.0, 1.0], [0.0, 1.0], [0.5, 0.0]])  # last row: bias
    X = np.array([[1.5, 1.0], [0.5, 2.0]])
    # predictions [[1.5, 1], [0.5, 2]]: exact
    assert reconstruction_error(code, X, D) == 0.0
    assert reconstruction_error(code, X + 1.0, D) == 1.0


def test_autoencoder_gradient_matches_finite_differences():
    X = _data(n=20, d=5, seed=3)
    for activation in ("relu", "tanh", "linear"):
        ae = BackpropAutoencoder(n_components=3, activation=activation, alpha=0.01, epochs=1, batch_size=10).fit(X)
        theta = ae.params_.copy()
        g = ae.gradient(X, theta)
        h = 1e-6
        num = np.array([(ae.loss(X, theta + h * e) - ae.loss(X, theta - h * e)) / (2 * h)
                        for e in np.eye(theta.size)])
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_linear_autoencoder_reaches_pca_error():
    X = _data(n=2000)
    X = X - X.mean(axis=0)
    ae = BackpropAutoencoder(n_components=3, activation="linear", lr=0.01, epochs=150, batch_size=100).fit(X)
    pca = PCA(3).fit(X)
    pca_err = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    assert -ae.score(X) == pytest.approx(pca_err, rel=0.05)
    assert ae.history_["loss"][-1] < ae.history_["loss"][0]


@pytest.mark.parametrize("cls, bad", [
    (HebbianEncoder, {"n_components": 0}), (HebbianEncoder, {"rule": "delta"}),
    (HebbianEncoder, {"rule": "oja", "neuron": "relu"}), (HebbianEncoder, {"hidden_lr": -1.0}),
    (HebbianEncoder, {"rule_params": {"k": 9}, "n_components": 4}), (BackpropAutoencoder, {"lr": 0.0}),
    (BackpropAutoencoder, {"activation": "softmax"}), (BackpropAutoencoder, {"alpha": -1.0})])
def test_bad_parameters_name_themselves(cls, bad):
    with pytest.raises(ValidationError) as info:
        cls(**bad).fit(_data())
    assert info.value.parameter in {*bad, "name", "rule_params"}


def test_bad_input_and_unfitted():
    with pytest.raises(ValidationError, match="X"):
        HebbianEncoder(n_components=2, rule="oja").fit(np.full((5, 3), np.nan))
    with pytest.raises(ValidationError, match="fitted"):
        HebbianEncoder().transform(np.zeros((2, 3)))
    enc = HebbianEncoder(n_components=2, rule="oja", epochs=1).fit(_data())
    with pytest.raises(ValidationError, match="X"):
        enc.transform(np.zeros((2, 3)))
