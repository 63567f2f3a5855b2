"""The Hebbian / leaky-integrator network, built from the shared populations and connections.

Input -> a hidden population of leaky integrators (``tau dv/dt = -v + J``, rate ``phi(v)``)
with lateral inhibition, which settles for each input -> a softmax readout trained by the
local delta rule on the settled rates (`sim.models.softmax_readout`). Hidden weights change
only by local rules (`sim.learning.rules`): what a synapse can see is its pre- and
postsynaptic activity and its own weight (and, for the readout, the error at its own output
unit). The model asks the rule what it needs (`sim.learning.rules.Rule`'s declarations) and
never tests a rule's name.
"""

from __future__ import annotations

import numpy as np

from sim.constraints import Choice, Int, Optional, Real, Satisfies
from sim.errors import ValidationError
from sim.learning import rules
from sim.learning.optimizers import get_optimizer, get_schedule
from sim.models.early_stopping import EARLY_STOPPING_CONSTRAINTS
from sim.models.estimator import MAX_UNITS, Estimator
from sim.models.hebbian_layer import HebbianLayer
from sim.models.softmax_readout import SoftmaxReadout
from sim.substrate import neurons
from sim.substrate.connections import init_weights, initializer_names
from sim.substrate.network import Network, Population
from sim.validation import check_dtype, check_int, check_labels

__all__ = ["HebbianNet", "SCHEDULES"]

SCHEDULES = ("sequential", "concurrent")


def _hidden_neuron(name, value):
    if isinstance(neurons.get(value), neurons.Softmax):
        raise ValidationError(name, value, "softmax is an output type")


def _rule_params(name, value):
    if value is not None and not isinstance(value, dict):
        raise ValidationError(name, value, "must be a dict of rule arguments")


class HebbianNet(Estimator):
    """Hebbian hidden layer of leaky integrators with lateral inhibition + delta-rule readout.

    Parameters
    ----------
    hidden : int
        Number of hidden units N (0: no hidden layer, the readout sees the raw input).
    rule : str
        Hidden plasticity, a rule of `sim.learning.rules.hidden_names()`: 'competitive', 'oja',
        'sanger', 'bcm', 'hebb', 'foldiak', 'none', or one registered by the user. 'none' keeps
        the random initial weights: the random-features control. 'foldiak' learns feed-forward
        weights by the instar rule and lateral weights by Foldiak's anti-Hebbian rule.
    rule_params : dict, optional
        Keyword arguments of the rule (e.g. ``{"p": 3, "k": 7, "delta": 0.4}`` for 'competitive').
    current : {'dot', 'metric'}
        Input current of a hidden unit: ``J = W x`` ('dot'), or, for a rule that defines its
        own currents (the competitive rule), the rule's p-metric product
        ``<W, x>_p = sum_j sign(W_j)|W_j|^(p-1) x_j`` ('metric'; the synaptic efficacy is then
        ``|W|^(p-1)``, the quantity the rule ranks).
    input_bias : float
        When > 0, the hidden layer sees the input with one constant unit of this rate appended
        (its learned weight acts as each unit's bias; needed when inputs are few, e.g. 2-D).
    neuron : str
        Hidden rate function ('relu', 'linear', 'sigmoid', ...).
    tau : float
        Membrane time constant (ms, > 0).
    dt : float, optional
        Integration step (ms); default ``tau``. Only used when time-stepping.
    w_inh : float in [0, 1)
        Uniform lateral inhibition: unit i receives ``-w_inh * sum_{j != i} r_j``.
    settle : {'auto', 'dynamics'}
        'auto' uses the closed-form fixed point of the dynamics where it exists (ReLU/linear
        units, uniform inhibition; `sim.substrate.kwta`), else integrates; 'dynamics' always integrates
        (`sim.substrate.dynamics.settle`). Both give the same settled state to the settle tolerance.
    settle_tol : float
        Stop integrating when no potential changes by more than this over a step.
    max_steps : int
        Step cap of the integration.
    init : str
        Initializer of the hidden weights; ``init_scale`` its scale (e.g. std for 'normal').
    hidden_lr : float
        Learning rate of the hidden rule.
    hidden_lr_schedule : {'linear', 'constant', 'step'}
        Schedule of ``hidden_lr`` over the hidden-learning epochs ('linear' anneals to zero,
        as Krotov & Hopfield 2019 do).
    hidden_epochs : int, optional
        With ``schedule='sequential'``: epochs in which the hidden layer learns, after which the
        readout learns; default half of the epochs of ``fit``.
    schedule : {'sequential', 'concurrent'}
        'concurrent': every presentation updates hidden and readout weights.
    readout_power : float
        The readout sees ``r^n`` (n >= 1) of each settled rate ``r`` (sign kept).
    readout_scaling : {'rms', 'none'}
        'rms' divides each readout input by its running root-mean-square over presentations
        (a per-unit gain, like homeostatic scaling).
    readout_optimizer, readout_lr, lr_schedule
        Optimizer, learning rate and schedule of the delta-rule readout.
    readout_decay : float
        L2 decay of the readout weights (each synapse decays toward 0: still local).
    batch_size : int
        Presentations per minibatch: they settle in parallel with weights fixed.
    early_stopping : bool
        Stop when the validation accuracy has not improved by more than ``tol`` for
        ``n_iter_no_change`` epochs, and keep the weights of the best validation epoch
        (scikit-learn's rule; `sim.models.early_stopping`). Needs a validation split.
    n_iter_no_change : int >= 1
    tol : float >= 0
        Improvement of the validation accuracy (a fraction) that counts.
        Only epochs in which the readout learns count (with ``schedule='sequential'``, the
        readout phase).
    dtype : {'float32', 'float64'}
    seed : int
    """

    model_name = "hebbian"

    parameter_constraints = {
        "hidden": Int(low=0, high=MAX_UNITS),
        "rule": Choice(rules.hidden_names),
        "current": Choice(("dot", "metric")),
        "input_bias": Real(low=0.0),
        "rule_params": Satisfies(_rule_params),
        "neuron": Satisfies(_hidden_neuron),
        "tau": Real(low=0.0, low_open=True),
        "dt": Optional(Real(low=0.0, low_open=True)),
        "w_inh": Real(low=0.0, high=1.0, high_open=True),
        "settle": Choice(("auto", "dynamics")),
        "settle_tol": Real(low=0.0, low_open=True),
        "max_steps": Int(low=1),
        "init": Choice(initializer_names()),
        "init_scale": Real(low=0.0, low_open=True),
        "hidden_lr": Real(low=0.0, low_open=True),
        "hidden_lr_schedule": Satisfies(lambda name, value: get_schedule(value, name)),
        "hidden_epochs": Optional(Int(low=0)),
        "schedule": Choice(SCHEDULES),
        "readout_power": Real(low=1.0),
        "readout_scaling": Choice(("rms", "none")),
        "readout_optimizer": Satisfies(lambda name, value: get_optimizer(value, name)),
        "readout_lr": Real(low=0.0, low_open=True),
        "readout_decay": Real(low=0.0),
        "lr_schedule": Satisfies(lambda name, value: get_schedule(value, name)),
        "batch_size": Int(low=1),
        **EARLY_STOPPING_CONSTRAINTS,
        "dtype": Satisfies(check_dtype),
        "seed": Int(low=0),
    }

    def __init__(self, hidden=400, rule="competitive", rule_params=None, current="dot", input_bias=0.0,
                 neuron="relu", tau=10.0, dt=None, w_inh=0.3, settle="auto", settle_tol=1e-4,
                 max_steps=500, init="normal", init_scale=1.0, hidden_lr=0.1, hidden_lr_schedule="linear",
                 hidden_epochs=None, schedule="sequential", readout_power=1.0, readout_scaling="rms",
                 readout_optimizer="adam", readout_lr=3e-3, readout_decay=0.0, lr_schedule="constant",
                 batch_size=20, early_stopping=False, n_iter_no_change=10, tol=1e-4, dtype="float32", seed=0):
        self.hidden = hidden
        self.rule = rule
        self.rule_params = rule_params
        self.current = current
        self.input_bias = input_bias
        self.neuron = neuron
        self.tau = tau
        self.dt = dt
        self.w_inh = w_inh
        self.settle = settle
        self.settle_tol = settle_tol
        self.max_steps = max_steps
        self.init = init
        self.init_scale = init_scale
        self.hidden_lr = hidden_lr
        self.hidden_lr_schedule = hidden_lr_schedule
        self.hidden_epochs = hidden_epochs
        self.schedule = schedule
        self.readout_power = readout_power
        self.readout_scaling = readout_scaling
        self.readout_optimizer = readout_optimizer
        self.readout_lr = readout_lr
        self.readout_decay = readout_decay
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.seed = seed

    # ----- parameters -------------------------------------------------------------------
    def _check_params(self):
        if self.current == "metric" and not rules.rule_class(self.rule).own_currents:
            raise ValidationError("current", self.current, "'metric' needs a rule that defines its own "
                                  "currents (e.g. rule='competitive')")
        self._make_rules()  # the rule parameters are valid (the rules are discarded)

    def _make_rules(self):
        """The hidden rule and its lateral partner (or None), built from ``rule_params``."""
        params = dict(self.rule_params or {})
        cls = rules.rule_class(self.rule)
        try:
            lateral_params = {k: params.pop(k) for k in cls.lateral_params if k in params}
            rule = rules.get(cls.name, **params)
            lateral = rules.get(cls.lateral_rule, **lateral_params) if cls.lateral_rule else None
        except TypeError as exc:
            raise ValidationError("rule_params", self.rule_params,
                                  f"not accepted by rule {cls.name!r} ({exc})") from None
        except ValidationError as exc:
            if exc.parameter != "params":
                raise
            raise ValidationError("rule_params", self.rule_params, exc.requirement) from None
        return rule, lateral

    def _lr_schedule(self):
        return get_schedule(self.lr_schedule, "lr_schedule")

    # ----- set-up -----------------------------------------------------------------------
    def _initialize(self, n_features, n_classes, rng):
        dtype = self._dtype()
        rule, lateral_rule = self._make_rules()
        self._rule = rule
        self._N = N = int(self.hidden)
        phi = neurons.get(self.neuron)
        n_in = n_features + (1 if self.input_bias else 0)
        pops = [Population(n_in, "linear")]
        if N:
            pops.append(Population(N, phi, tau=float(self.tau), w_inh=float(self.w_inh)))
        pops.append(Population(n_classes, "softmax"))
        self.network_ = Network(pops, rng=rng, init="zeros", dtype=dtype)
        self._layer = None
        if N:
            W = self.network_.connections[0].W
            W[...] = init_weights(self.init.lower(), W.shape, rng, dtype=dtype, scale=self.init_scale)
            self._layer = HebbianLayer(self.network_.connections[0], rule, lateral_rule, phi,
                                       current=self.current, input_bias=self.input_bias, w_inh=self.w_inh,
                                       tau=self.tau, dt=self.dt, settle=self.settle, settle_tol=self.settle_tol,
                                       max_steps=self.max_steps)
        self.lateral_ = self._layer.lateral if self._layer is not None else None
        self._readout = SoftmaxReadout(self.network_.connections[-1], self.readout_power, self.readout_scaling,
                                       self.readout_optimizer, self.readout_decay, dtype)
        self._cache = []  # [(X, settled codes, steps)] while the hidden weights are frozen

    def _code(self, X):
        """Settled hidden rates of ``X`` (the raw input when there is no hidden layer), cached
        while the hidden weights are frozen."""
        if not self._N:
            return X
        for X_cached, R, _ in self._cache:
            if X_cached is X:
                return R
        parts = [self._layer.settle(X[i:i + 1000]) for i in range(0, X.shape[0], 1000)]
        R = np.concatenate([part[0] for part in parts])
        steps = float(np.mean([part[1] for part in parts]))
        self._cache = (self._cache + [(X, R, steps)])[-4:]  # train, test and two evaluation sets
        return R

    def _code_steps(self, X) -> float:
        """Settle steps (or closed-form iterations) behind the cached code of ``X``."""
        self._code(X)
        return next(steps for X_cached, _, steps in self._cache if X_cached is X)

    # ----- training ---------------------------------------------------------------------
    def _phase(self):
        """(hidden learns, readout learns) in the current epoch."""
        if not self._N or not self._rule.plastic:
            return False, True
        if self.schedule == "concurrent":
            return True, True
        return self.epochs_done_ < self._hidden_epochs(), self.epochs_done_ >= self._hidden_epochs()

    def _hidden_epochs(self):
        if self.schedule == "concurrent":
            return self._total_epochs
        he = self.hidden_epochs
        return self._total_epochs // 2 if he is None else min(he, self._total_epochs)

    def _train_epoch(self, X, y, rng, lr_factor):
        learn_hidden, learn_readout = self._phase()
        T = np.zeros((y.shape[0], self.n_classes_), dtype=X.dtype)
        T[np.arange(y.shape[0]), y] = 1
        if learn_hidden:
            self._cache = []
            h_total = max(self._hidden_epochs(), 1)
            h_lr = float(self.hidden_lr) * get_schedule(self.hidden_lr_schedule).factor(self.epochs_done_, h_total)
        self._W_start = self._layer.W.copy() if learn_hidden else None
        codes = None if learn_hidden or not self._N else self._code(X)
        # a rule that computes its own activity needs no settling: only the readout does
        need_rates = learn_readout or self._rule.post_signal != "none"
        lr = float(self.readout_lr) * lr_factor
        steps = []
        order = rng.permutation(X.shape[0])
        for start in range(0, X.shape[0], int(self.batch_size)):
            idx = order[start:start + int(self.batch_size)]
            if codes is not None:
                R = codes[idx]
            elif self._N and need_rates:
                R, s = self._layer.settle(X[idx])
                steps.append(s)
            elif self._N:
                R = None
            else:
                R = X[idx]
            if learn_hidden and not self._layer.update(X[idx], R, h_lr):
                break  # weights blew up: stop here, the estimator marks the run diverged
            if learn_readout:
                self._readout.update(R, T[idx], lr)
        self._epoch_steps = steps
        return {"phase": "+".join(p for p, on in (("hidden", learn_hidden), ("readout", learn_readout)) if on)}

    def _supervised_epoch(self, record) -> bool:
        return "readout" in record["phase"]

    def _epoch_extra(self, X) -> dict:
        """Code statistics of the training set after an epoch (untimed, like the evaluation)."""
        if not self._N:
            return {}
        steps = self._epoch_steps
        extra = {"settle_steps": float(np.mean(steps)) if steps else self._code_steps(X)}
        extra.update(self._code_stats(X, self._W_start))
        return extra

    def _code_stats(self, X, W_start):
        """Sparsity, silent inputs, dead and converged units of the code of the training set."""
        stats = self._layer.code_stats(self._code(X), W_start)
        if "converged_fraction" not in stats:  # frozen epoch of a rule without a norm: carry it over
            records = self.history_.records
            stats["converged_fraction"] = self.history_.last("converged_fraction") if records else float("nan")
        return stats

    def _loss(self, P, y):
        return float(-np.mean(np.log(np.maximum(P[np.arange(y.shape[0]), y].astype(np.float64), 1e-300))))

    def _weights(self):
        return ([self._layer.W] if self._N else []) + [self._readout.W]

    # ----- prediction -------------------------------------------------------------------
    def _proba(self, X):
        return self._readout.proba(self._code(X))

    def _hidden_rates(self, X, layer: int = -1) -> np.ndarray:
        """Settled hidden rates, shape (n_samples, hidden); ``layer`` must be -1 or 0."""
        if not self._N:
            raise ValidationError("layer", layer, "this network has no hidden layer")
        check_int("layer", layer, low=-1, high=0)
        return self._code(X)

    def _export_arrays(self) -> dict:
        """The readout of the code (``readout_W``, ``readout_b``, ``readout_scale``), so that the
        code at other times can be read out as the model does."""
        if not self._N:
            return {}
        return {"readout_W": np.array(self._readout.W, order="C"), "readout_b": np.array(self._readout.b),
                "readout_scale": self._readout.scale()}

    # ----- learning directions ----------------------------------------------------------
    def hidden_direction(self, X) -> np.ndarray:
        """The hidden rule's direction on batch ``X`` (what one local update would do, before the
        learning rate), float64, shape of the hidden weights (N, n_in). A stateful rule's state
        (e.g. BCM's threshold) advances as in a real update."""
        X = self._check_X(X)
        if not self._rule.plastic:
            raise ValidationError("model", self, "rule 'none' has no hidden update")
        return self._hidden_layer("hidden_direction").direction(X)

    def hidden_gradient(self, X, y) -> np.ndarray:
        """``-dL/dW`` of the hidden weights for the readout's mean cross-entropy on batch ``X, y``
        (float64, shape (N, n_in)), through the readout (its per-unit scaling held fixed,
        `SoftmaxReadout.input_gradient`) and the settled code (`HebbianLayer.gradient`).

        Raises `ValidationError` without a hidden layer, or for configurations without this
        gradient (learned lateral weights, inhibition of non-ReLU units).
        """
        layer = self._hidden_layer("hidden_gradient")
        X = self._check_X(X)
        y = check_labels("y", y, self.n_classes_, n_samples=X.shape[0])
        return layer.gradient(X, lambda R: self._readout.input_gradient(R, y))

    def _hidden_layer(self, what):
        self.check_fitted()
        if self._layer is None:
            raise ValidationError("model", type(self).__name__, f"has no hidden layer ({what} needs a fitted "
                                  "HebbianNet with a hidden layer)")
        return self._layer

    # ----- persistence ------------------------------------------------------------------
    def _get_state(self):
        state = self._readout.state()
        if self._N:
            state.update(self._layer.state())
        return state

    def _set_state(self, arrays):
        self._initialize(self.n_features_in_, self.n_classes_, np.random.default_rng(0))
        self._readout.set_state(arrays)
        if self._N:
            self._layer.set_state(arrays)
