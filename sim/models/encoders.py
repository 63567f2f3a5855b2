"""Unsupervised encoders in scikit-learn's transformer API: the Hebbian hidden stage alone and a
backprop autoencoder, for learning receptive fields from unlabelled inputs (natural-image
patches, `sim.tasks.patches`).

Both are `sklearn.base.BaseEstimator` + `TransformerMixin`: hyperparameters set in ``__init__``,
``fit(X)`` (a `Task` is also accepted: its training split), ``transform(X)`` (the hidden code),
``components_`` (the hidden units' input weights, (n_components, n_features)), ``history_``
(one dict of lists per epoch) and ``score(X)``, the negative reconstruction error of ``X``,
usable for model selection on held-out inputs (`reconstruction_error`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from sim.errors import ValidationError
from sim.learning import rules
from sim.learning.optimizers import get_optimizer, get_schedule
from sim.models.hebbian_layer import HebbianLayer
from sim.models.hebbian_params import make_rules
from sim.seeds import model_streams
from sim.substrate import neurons
from sim.substrate.connections import Connection
from sim.substrate.network import Network, Population
from sim.tasks.task import Task
from sim.validation import check_array, check_int, check_number

__all__ = ["HebbianEncoder", "BackpropAutoencoder", "reconstruction_error", "MAX_COMPONENTS"]

MAX_COMPONENTS = 100_000
_CHUNK = 2000  # rows settled at once in transform


def _inputs(X, n_features=None) -> np.ndarray:
    if isinstance(X, Task):
        X = X.X_train
    return check_array("X", X, dtype=np.float64, n_features=n_features)


def reconstruction_error(code, X, decoder) -> float:
    """Mean squared reconstruction error per input feature, ``mean((code @ D[:-1] + D[-1] - X)^2)``.

    Parameters
    ----------
    code : ndarray, shape (n, n_components)
    X : ndarray, shape (n, n_features)
    decoder : ndarray, shape (n_components + 1, n_features)
        Linear decoder; the last row is its bias.
    """
    return float(np.mean((code @ decoder[:-1] + decoder[-1] - X) ** 2))


def _fit_decoder(code, X, ridge=1e-6) -> np.ndarray:
    """Least-squares linear decoder (with bias) from ``code`` to ``X``, ridge ``ridge`` x the
    mean diagonal of the code's second moment (for a code with dead units)."""
    C = np.hstack([code, np.ones((code.shape[0], 1))])
    G = C.T @ C
    G[np.diag_indices_from(G)] += ridge * max(float(np.trace(G)) / G.shape[0], 1e-12)
    return np.linalg.solve(G, C.T @ X)


def _common_checks(est):
    check_int("n_components", est.n_components, low=1, high=MAX_COMPONENTS)
    check_int("epochs", est.epochs, low=0, high=10**6)
    check_int("batch_size", est.batch_size, low=1)
    check_int("seed", est.seed, low=0)


class HebbianEncoder(TransformerMixin, BaseEstimator):
    """The hidden stage of a `HebbianNet` alone, learning from unlabelled inputs by a local rule.

    The stage is built from the same substrate as `HebbianNet`'s first hidden stage (a
    `Network` of a linear input population and ``n_components`` units, one `Connection`, run as
    a `HebbianLayer`), so the code (`transform`) is the population's settled rates and the
    weights change by the rule's direction, ``W <- W + lr(t) * delta``.

    Parameters
    ----------
    n_components : int
        Hidden units ``N``.
    rule : str
        A hidden rule of `sim.learning.rules` (``rules.hidden_names()``): 'competitive'
        (Krotov & Hopfield), 'oja', 'sanger', 'bcm', 'hebb', 'foldiak', 'none' (random weights).
    rule_params : dict, optional
        Keyword arguments of the rule (e.g. ``{"p": 2.0, "k": 2, "delta": 0.1}``).
    neuron : str, optional
        Rate function of the units; default: the rule's ``default_neuron``.
    w_inh : float, optional
        Uniform lateral inhibition; default: the rule's ``default_w_inh``.
    hidden_lr : float, optional
        Learning rate; default: the rule's ``default_lr``. Annealed linearly to zero over the
        epochs (``lr_schedule='linear'``) or kept (``'constant'``).
    lr_schedule : {'linear', 'constant', 'step'}
    epochs : int
        Passes over the training inputs (the ``fit(X, epochs=N)`` keyword overrides it).
    batch_size : int
    seed : int
        Model seed: ``sim.seeds.model_streams(seed)`` gives the initial weights (``init``) and
        the presentation order (``order``).

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
        Input weights of the units (float64 copy).
    decoder_ : ndarray, shape (n_components + 1, n_features)
        Least-squares linear decoder from the code of the training inputs back to them (last
        row: bias), used by :meth:`score`.
    history_ : dict
        ``epoch``, ``lr``, ``train_reconstruction`` (after the epoch's updates, on at most 2000
        training inputs, with a decoder refitted on them).
    diverged_ : bool
        Weights became non-finite or grew beyond the divergence bound; fitting stopped there.

    Notes
    -----
    Initial rows are standard normal, scaled to unit norm in the order the rule converges to
    (``unit_norm``: ``p`` for 'competitive'), or the Euclidean norm for a rule without one. A rule
    whose equations assume the linear response (``post_signal='linear'``: Oja, Sanger) learns
    from ``y = W x`` and needs ``neuron='linear'`` and ``w_inh=0`` (their defaults).
    """

    def __init__(self, n_components=100, rule="competitive", rule_params=None, neuron=None, w_inh=None,
                 hidden_lr=None, lr_schedule="linear", epochs=20, batch_size=100, seed=0):
        self.n_components = n_components
        self.rule = rule
        self.rule_params = rule_params
        self.neuron = neuron
        self.w_inh = w_inh
        self.hidden_lr = hidden_lr
        self.lr_schedule = lr_schedule
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    # ----- set-up -------------------------------------------------------------------------
    def _settings(self):
        _common_checks(self)
        cls = rules.rule_class(self.rule)
        if not cls.hidden:
            raise ValidationError("rule", self.rule, f"is not a hidden rule; valid: {', '.join(rules.hidden_names())}")
        if self.rule_params is not None and not isinstance(self.rule_params, dict):
            raise ValidationError("rule_params", self.rule_params, "must be a dict of rule arguments")
        neuron = neurons.get(self.neuron if self.neuron is not None else cls.default_neuron)
        if isinstance(neuron, neurons.Softmax):
            raise ValidationError("neuron", self.neuron, "softmax is an output type")
        w_inh = check_number("w_inh", self.w_inh if self.w_inh is not None else cls.default_w_inh,
                             low=0.0, high=1.0, high_open=True)
        lr = check_number("hidden_lr", self.hidden_lr if self.hidden_lr is not None else cls.default_lr,
                          low=0.0, low_open=True)
        if cls.post_signal == "linear" and (not isinstance(neuron, neurons.Linear) or w_inh):
            raise ValidationError("neuron" if not isinstance(neuron, neurons.Linear) else "w_inh",
                                  self.neuron if not isinstance(neuron, neurons.Linear) else self.w_inh,
                                  f"rule {cls.name!r} learns from the linear response y = W x: use "
                                  "neuron='linear' and w_inh=0 (its defaults)")
        rule, lateral = make_rules(self.rule, self.rule_params)
        k = getattr(rule, "k", None)
        if k is not None and k > int(self.n_components):
            raise ValidationError("rule_params", self.rule_params,
                                  f"k={k} ranked units, more than n_components={self.n_components}")
        return rule, lateral, neuron, w_inh, lr, get_schedule(self.lr_schedule, "lr_schedule")

    def _build(self, n_features, rule, lateral, neuron, w_inh, rng):
        N = int(self.n_components)
        pops = [Population(n_features, "linear"), Population(N, neuron, w_inh=float(w_inh))]
        if lateral is not None:
            pops[1].lateral = np.zeros((N, N))
        conn = Connection(n_features, N, rng=rng, init="zeros", dtype="float64")
        network = Network(pops, rng=rng, dtype="float64", connections=[conn])
        W0 = rng.standard_normal((N, n_features))
        p = float(rule.unit_norm) if rule.plastic and rule.unit_norm is not None else 2.0
        W0 /= np.maximum(np.sum(np.abs(W0) ** p, axis=1, keepdims=True) ** (1 / p), 1e-12)
        conn.set_initial(W0)
        self.layer_ = HebbianLayer(network, 0, rule, lateral)

    def validate_params(self) -> None:
        """Check the hyperparameters (as `fit` does), raising `ValidationError` naming one."""
        self._settings()

    # ----- fitting ------------------------------------------------------------------------
    def fit(self, X, y=None, *, epochs=None):
        """Learn the weights from the inputs ``X`` (n, n_features) (or a `Task`'s training
        split); ``y`` is ignored. Returns ``self``."""
        rule, lateral, neuron, w_inh, lr, schedule = self._settings()
        X = _inputs(X)
        epochs = check_int("epochs", self.epochs if epochs is None else epochs, low=0, high=10**6)
        streams = model_streams(int(self.seed))
        self._build(X.shape[1], rule, lateral, neuron, w_inh, streams["init"])
        self.n_features_in_ = X.shape[1]
        self.history_ = {"epoch": [], "lr": [], "train_reconstruction": []}
        self.diverged_ = False
        layer, bs = self.layer_, int(self.batch_size)
        monitor = X[:_CHUNK]
        for epoch in range(epochs):
            rate = lr * schedule.factor(epoch, epochs)
            order = streams["order"].permutation(X.shape[0])
            for start in range(0, X.shape[0], bs):
                Xb = X[order[start:start + bs]]
                if not layer.update(Xb, self._post(Xb, rule), rate):
                    self.diverged_ = True
                    break
            if self.diverged_:
                break
            code = self._code(monitor)
            self.history_["epoch"].append(epoch + 1)
            self.history_["lr"].append(rate)
            error = reconstruction_error(code, monitor, _fit_decoder(code, monitor))
            self.history_["train_reconstruction"].append(error)
        self.decoder_ = _fit_decoder(self._code(X), X) if not self.diverged_ else None
        return self

    def _post(self, Xb, rule):
        if rule.post_signal == "none":
            return None
        if rule.post_signal == "linear":
            return Xb @ self.layer_.W.T
        return self.layer_.settle(Xb)[0]

    def _code(self, X):
        if self.layer_.rule.post_signal == "linear":
            return X @ self.layer_.W.T
        return np.concatenate([self.layer_.settle(X[i:i + _CHUNK])[0] for i in range(0, X.shape[0], _CHUNK)])

    def _check_fitted(self):
        if not hasattr(self, "layer_"):
            raise ValidationError("model", type(self).__name__, "is not fitted: call fit(X) first")

    @property
    def components_(self) -> np.ndarray:
        self._check_fitted()
        return np.array(self.layer_.W, dtype=np.float64)

    def transform(self, X) -> np.ndarray:
        """The code of ``X`` (n, n_features): settled rates (linear response for Oja / Sanger),
        shape (n, n_components)."""
        self._check_fitted()
        return self._code(_inputs(X, self.n_features_in_))

    def score(self, X, y=None) -> float:
        """Negative mean squared reconstruction error of ``X`` through the code and the decoder
        fitted on the training inputs (higher is better; -inf for a diverged fit)."""
        self._check_fitted()
        X = _inputs(X, self.n_features_in_)
        if self.decoder_ is None:
            return float("-inf")
        return -reconstruction_error(self._code(X), X, self.decoder_)


class BackpropAutoencoder(TransformerMixin, BaseEstimator):
    """One hidden stage trained by backpropagation to reconstruct its input (MSE).

    ``h = phi(X W^T + b)``, ``X_hat = h V^T + c``; loss per batch of ``n`` inputs of ``d``
    features::

        L = sum((X_hat - X)^2) / (2 n d) + alpha / 2 (||W||^2 + ||V||^2)

    minimized with the project's optimizers (`sim.learning.optimizers`), the gradient computed
    in closed form (:meth:`gradient`; checked against finite differences in the tests).

    Parameters
    ----------
    n_components : int
        Hidden units.
    activation : str
        Hidden rate function (`sim.substrate.neurons`: 'relu', 'linear', 'sigmoid', 'tanh', ...).
    alpha : float >= 0
        L2 penalty on both weight matrices.
    optimizer : {'adam', 'sgd', 'momentum', 'nesterov'}
    lr : float > 0
    epochs : int
        Passes over the inputs (the ``fit(X, epochs=N)`` keyword overrides it).
    batch_size : int
    seed : int
        ``sim.seeds.model_streams(seed)``: Glorot-uniform initial weights (``init``) and order.

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
        Encoder weights ``W``.
    decoder_weights_ : ndarray, shape (n_features, n_components)
        Decoder weights ``V``.
    history_ : dict
        ``epoch``, ``loss`` (mean batch loss of the epoch).
    """

    def __init__(self, n_components=100, activation="relu", alpha=0.0, optimizer="adam", lr=1e-3, epochs=20,
                 batch_size=100, seed=0):
        self.n_components = n_components
        self.activation = activation
        self.alpha = alpha
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def _phi(self):
        phi = neurons.get(self.activation)
        if isinstance(phi, neurons.Softmax):
            raise ValidationError("activation", self.activation, "softmax is an output type")
        return phi

    def _unpack(self, theta, d):
        N = int(self.n_components)
        W = theta[:N * d].reshape(N, d)
        b = theta[N * d:N * d + N]
        V = theta[N * d + N:2 * N * d + N].reshape(d, N)
        return W, b, V, theta[2 * N * d + N:]

    def loss(self, X, theta=None) -> float:
        """The loss ``L`` of the batch ``X`` at the flat parameters ``theta`` (default: fitted)."""
        theta = self.params_ if theta is None else theta
        W, b, V, c = self._unpack(theta, X.shape[1])
        Xh = self._phi().rate(X @ W.T + b) @ V.T + c
        return float(np.sum((Xh - X) ** 2) / (2 * X.size) + self.alpha / 2 * (np.sum(W ** 2) + np.sum(V ** 2)))

    def gradient(self, X, theta=None) -> np.ndarray:
        """``dL/dtheta`` of the batch ``X`` (flat, in the order W, b, V, c), float64."""
        theta = self.params_ if theta is None else theta
        W, b, V, c = self._unpack(theta, X.shape[1])
        phi = self._phi()
        J = X @ W.T + b
        H = phi.rate(J)
        E = (H @ V.T + c - X) / X.size                      # dL/dX_hat
        gV = E.T @ H + self.alpha * V
        gJ = (E @ V) * phi.derivative(J)
        gW = gJ.T @ X + self.alpha * W
        return np.concatenate([gW.ravel(), gJ.sum(axis=0), gV.ravel(), E.sum(axis=0)])

    def validate_params(self) -> float:
        """Check the hyperparameters (as `fit` does), raising `ValidationError` naming one;
        returns the learning rate."""
        _common_checks(self)
        check_number("alpha", self.alpha, low=0.0)
        self._phi()
        get_optimizer(self.optimizer, "optimizer")
        return check_number("lr", self.lr, low=0.0, low_open=True)

    def fit(self, X, y=None, *, epochs=None):
        """Train on the inputs ``X`` (n, n_features) (or a `Task`'s training split); returns ``self``."""
        lr = self.validate_params()
        X = _inputs(X)
        epochs = check_int("epochs", self.epochs if epochs is None else epochs, low=0, high=10**6)
        streams = model_streams(int(self.seed))
        N, d = int(self.n_components), X.shape[1]
        limit = np.sqrt(6.0 / (N + d))
        W = streams["init"].uniform(-limit, limit, (N, d))
        V = streams["init"].uniform(-limit, limit, (d, N))
        self.params_ = np.concatenate([W.ravel(), np.zeros(N), V.ravel(), np.zeros(d)])
        self.n_features_in_ = d
        opt = get_optimizer(self.optimizer, "optimizer")
        opt.reset(self.params_)
        self.history_ = {"epoch": [], "loss": []}
        bs = int(self.batch_size)
        for epoch in range(epochs):
            order = streams["order"].permutation(X.shape[0])
            losses = []
            for start in range(0, X.shape[0], bs):
                Xb = X[order[start:start + bs]]
                losses.append(self.loss(Xb))
                opt.step(self.params_, -self.gradient(Xb), lr)
            self.history_["epoch"].append(epoch + 1)
            self.history_["loss"].append(float(np.mean(losses)))
        return self

    def _check_fitted(self):
        if not hasattr(self, "params_"):
            raise ValidationError("model", type(self).__name__, "is not fitted: call fit(X) first")

    @property
    def components_(self) -> np.ndarray:
        self._check_fitted()
        return self._unpack(self.params_, self.n_features_in_)[0].copy()

    @property
    def decoder_weights_(self) -> np.ndarray:
        self._check_fitted()
        return self._unpack(self.params_, self.n_features_in_)[2].copy()

    def transform(self, X) -> np.ndarray:
        """Hidden rates ``phi(X W^T + b)``, shape (n, n_components)."""
        self._check_fitted()
        X = _inputs(X, self.n_features_in_)
        W, b, _, _ = self._unpack(self.params_, X.shape[1])
        return self._phi().rate(X @ W.T + b)

    def score(self, X, y=None) -> float:
        """Negative mean squared reconstruction error per feature of ``X`` (higher is better)."""
        self._check_fitted()
        X = _inputs(X, self.n_features_in_)
        _, _, V, c = self._unpack(self.params_, X.shape[1])
        return -reconstruction_error(self.transform(X), X, np.vstack([V.T, c]))
