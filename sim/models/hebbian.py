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

from sim.errors import ValidationError
from sim.learning import rules
from sim.learning.optimizers import get_schedule
from sim.models.estimator import Estimator
from sim.models.hebbian_layer import HebbianLayer, stack_gradient, stack_inputs
from sim.models.hebbian_params import (
    PARAMETER_CONSTRAINTS,
    SCHEDULES,
    check_stages,
    make_rules,
    stage_lr,
    stage_neuron,
    stage_sizes,
    stage_w_inh,
)
from sim.models.input_gradient import input_gradient as model_input_gradient
from sim.models.softmax_readout import SoftmaxReadout
from sim.models.stages import connection_kwargs, stage_populations
from sim.substrate.connections import Connection, init_weights
from sim.substrate.features import FeatureMap
from sim.substrate.network import Network, Population
from sim.validation import check_int, check_labels

__all__ = ["HebbianNet", "SCHEDULES"]


class HebbianNet(Estimator):
    """Hebbian hidden layer of leaky integrators with lateral inhibition + delta-rule readout.

    Parameters
    ----------
    hidden : int or tuple of int
        Number of hidden units N (0: no hidden layer, the readout sees the raw input), or one
        size per hidden stage, e.g. ``(400, 400)``: a layer-wise stack in which every stage
        learns by the rule from the settled rates of the stage below (as in SoftHebb-style
        stacks; Journé et al. 2023).
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
    neuron : str, optional
        Hidden rate function ('relu', 'linear', 'sigmoid', ...); default: the rule's
        ``default_neuron`` ('linear' for Oja and Sanger, whose equations assume ``y = W x``).
    post : {'auto', 'rate'}
        What a rule whose equations need the linear response (``post_signal='linear'``: Oja,
        Sanger) learns from. 'auto' refuses a nonlinear or inhibited stage for such a rule with a
        clear error (there the settled rate is not ``W x``); 'rate' gives it the settled rate anyway.
    tau : float
        Membrane time constant (ms, > 0).
    dt : float, optional
        Integration step (ms); default ``tau``. Only used when time-stepping.
    w_inh : float in [0, 1) or tuple, optional
        Uniform lateral inhibition (one value or one per stage): unit i receives
        ``-w_inh * sum_{j != i} r_j``. Default: the rule's ``default_w_inh`` (0.3 for
        'competitive', else 0). Where the settle is in closed form (ReLU / linear units,
        ``settle='auto'``) ``tau`` and ``dt`` do not change the settled code.
    settle : {'auto', 'dynamics'}
        'auto' uses the closed-form fixed point where it exists (ReLU/linear units, uniform
        inhibition; `sim.substrate.kwta`) or a direct solve where it is the unique attractor
        (learned lateral weights), else integrates; 'dynamics' always integrates in time.
    settle_tol : float
        Stop integrating when no potential changes by more than this over a step.
    max_steps : int
        Step cap of the integration.
    dale, p_connect, bounds, max_norm
        Constraints of the connections into the hidden stages (`sim.models.stages`): Dale's
        law (excitatory fraction of the presynaptic units), a fixed sparsity mask, weight
        bounds, a row-norm ceiling; re-imposed after every hidden update.
    init : str
        Initializer of the hidden weights; ``init_scale`` its scale (e.g. std for 'normal').
    hidden_lr : float, optional
        Learning rate of the hidden rule; default: the rule's ``default_lr``.
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
    early_stopping, validation_fraction, n_iter_no_change, tol, eval_every, epochs, warm_start, verbose
        The training loop, as for `BackpropMLP` (`sim.models.early_stopping`); only epochs in
        which the readout learns count for early stopping.
    dtype : {'float32', 'float64'}
    seed : int
    """

    model_name = "hebbian"

    parameter_constraints = PARAMETER_CONSTRAINTS
    input_gradient = model_input_gradient  # dL_i/dx_i, (n, n_features): sim.models.input_gradient

    def __init__(self, hidden=400, rule="competitive", rule_params=None, current="dot", input_bias=0.0,
                 neuron=None, post="auto", tau=10.0, dt=None, w_inh=None, settle="auto", settle_tol=1e-4,
                 max_steps=500, dale=None, p_connect=1.0, bounds=None, max_norm=None, init="normal",
                 init_scale=1.0, hidden_lr=None, hidden_lr_schedule="linear",
                 hidden_epochs=None, schedule="sequential", readout_power=1.0, readout_scaling="rms",
                 readout_optimizer="adam", readout_lr=3e-3, readout_decay=0.0, lr_schedule="constant",
                 batch_size=20, early_stopping=False, validation_fraction=None, n_iter_no_change=10, tol=1e-4,
                 eval_every=1, epochs=10, warm_start=False, verbose=0, dtype="float32", seed=0):
        self.hidden = hidden
        self.rule = rule
        self.rule_params = rule_params
        self.current = current
        self.input_bias = input_bias
        self.neuron = neuron
        self.post = post
        self.tau = tau
        self.dt = dt
        self.w_inh = w_inh
        self.settle = settle
        self.settle_tol = settle_tol
        self.max_steps = max_steps
        self.dale = dale
        self.p_connect = p_connect
        self.bounds = bounds
        self.max_norm = max_norm
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
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.eval_every = eval_every
        self.epochs, self.warm_start, self.verbose = epochs, warm_start, verbose
        self.dtype = dtype
        self.seed = seed

    # ----- parameters -------------------------------------------------------------------
    def _check_params(self):
        check_stages(self)

    def _lr_schedule(self):
        return get_schedule(self.lr_schedule, "lr_schedule")

    # ----- set-up -----------------------------------------------------------------------
    def _initialize(self, n_features, n_classes, rng):
        dtype = self._dtype()
        self._sizes = sizes = stage_sizes(self.hidden)
        stage_rules = [make_rules(self.rule, self.rule_params) for _ in sizes]
        self._rule = stage_rules[0][0] if sizes else rules.get("none")
        pops = [Population(n_features, "linear")] + stage_populations(self, sizes, stage_neuron(self),
                                                                      stage_w_inh(self, len(sizes)))
        for pop, (_, lateral_rule) in zip(pops[1:], stage_rules):
            if lateral_rule is not None:
                pop.lateral = np.zeros((pop.n, pop.n), dtype=dtype)
        pops.append(Population(n_classes, "softmax"))
        constraints = connection_kwargs(self)
        conns = []
        for i, (pre, post) in enumerate(zip(pops[:-2], pops[1:-1])):
            bias_unit = FeatureMap(constant=float(self.input_bias)) if self.input_bias else None
            p = float(stage_rules[i][0].p) if self.current == "metric" else None
            conns.append(Connection(pre.n + (1 if bias_unit else 0), post.n, rng=rng, init="zeros", dtype=dtype,
                                    pre_map=bias_unit, p_metric=p, **constraints))
        conns.append(Connection(pops[-2].n, n_classes, rng=rng, init="zeros", dtype=dtype,
                                pre_map=FeatureMap(self.readout_power, self.readout_scaling)))
        self.network_ = Network(pops, rng=rng, dtype=dtype, connections=conns)
        for conn in conns[:-1]:
            conn.set_initial(init_weights(self.init.lower(), conn.W.shape, rng, dtype=dtype, scale=self.init_scale))
        self._layers = [HebbianLayer(self.network_, i, rule, lateral) for i, (rule, lateral) in enumerate(stage_rules)]
        self.lateral_ = self._layers[0].lateral if sizes else None
        self._readout = SoftmaxReadout(conns[-1], self.readout_optimizer, self.readout_decay, dtype)
        self._cache = []  # [(X, settled codes of every stage, steps)] while the hidden weights are frozen
        self._caching = False  # only inside fit: afterwards the weights are the user's to change

    def _codes(self, X) -> list:
        """Settled rates of every hidden stage for ``X`` (``[X]`` without a hidden stage), cached
        while the hidden weights are frozen."""
        if not self._sizes:
            return [X]
        for X_cached, codes, _ in self._cache if self._caching else ():
            if X_cached is X:
                return codes
        codes, steps = [], []
        R = X
        for layer in self._layers:
            parts = [layer.settle(R[i:i + 1000]) for i in range(0, R.shape[0], 1000)]
            R = np.concatenate([part[0] for part in parts])
            codes.append(R)
            steps.append(float(np.mean([part[1] for part in parts])))
        if self._caching:  # outside fit, predicting changes nothing of the model
            self._cache = (self._cache + [(X, codes, float(np.sum(steps)))])[-4:]  # train, test, two evaluation sets
        return codes

    def _code(self, X):
        """Settled rates of the last hidden stage (the code the readout sees)."""
        return self._codes(X)[-1]

    def _code_steps(self, X) -> float:
        """Settle steps (or closed-form iterations) behind the cached code of ``X``."""
        self._codes(X)
        return next(steps for X_cached, _, steps in self._cache if X_cached is X)

    # ----- training ---------------------------------------------------------------------
    def _phase(self):
        """(hidden learns, readout learns) in the current epoch."""
        if not self._sizes or not self._rule.plastic:
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
        self._caching = True
        T = np.zeros((y.shape[0], self.n_classes_), dtype=X.dtype)
        T[np.arange(y.shape[0]), y] = 1
        h_lr = 0.0
        if learn_hidden:
            self._cache = []
            h_total = max(self._hidden_epochs(), 1)
            h_lr = stage_lr(self) * get_schedule(self.hidden_lr_schedule).factor(self.epochs_done_, h_total)
        self._W_start = self._layers[-1].W.copy() if learn_hidden else None
        codes = None if learn_hidden or not self._sizes else self._code(X)
        lr = float(self.readout_lr) * lr_factor
        self._epoch_steps = []
        order = rng.permutation(X.shape[0])
        for start in range(0, X.shape[0], int(self.batch_size)):
            idx = order[start:start + int(self.batch_size)]
            if codes is not None:
                R = codes[idx]
            elif self._sizes:
                R = self._stage_pass(X[idx], learn_hidden, learn_readout, h_lr)
                if R is False:
                    break  # weights blew up: stop here, the estimator marks the run diverged
            else:
                R = X[idx]
            if learn_readout:
                self._readout.update(R, T[idx], lr)
        return {"phase": "+".join(p for p, on in (("hidden", learn_hidden), ("readout", learn_readout)) if on)}

    def _stage_pass(self, X, learn_hidden, learn_readout, lr):
        """Settle the stages on batch ``X`` bottom-up, each learning from its input and its
        settled rates when ``learn_hidden``; returns the last stage's rates (None when nothing
        needs them), or False when weights became non-finite."""
        R_in, R, steps = X, None, 0
        last = len(self._layers) - 1
        for i, layer in enumerate(self._layers):
            # a rule that computes its own activity needs no settling of the top stage
            need = i < last or learn_readout or layer.rule.post_signal != "none"
            R, J = None, None
            if need:
                R, s, J = layer.settle_to_learn(R_in) if learn_hidden else (*layer.settle(R_in), None)
                steps += s
            if learn_hidden and not layer.update(R_in, R, lr, currents=J):
                return False
            R_in = R
        self._epoch_steps.append(steps)
        return R

    def _end_fit(self) -> None:
        self._cache, self._caching = [], False

    def _supervised_epoch(self, record) -> bool:
        return "readout" in record["phase"]

    def _epoch_extra(self, X) -> dict:
        """Code statistics of the training set after an epoch (untimed, like the evaluation)."""
        if not self._sizes:
            return {}
        steps = self._epoch_steps
        extra = {"settle_steps": float(np.mean(steps)) if steps else self._code_steps(X)}
        extra.update(self._code_stats(X, self._W_start))
        return extra

    def _code_stats(self, X, W_start):
        """Sparsity, silent inputs, dead and converged units of the top stage's training-set code."""
        stats = self._layers[-1].code_stats(self._code(X), W_start)
        if "converged_fraction" not in stats:  # frozen epoch of a rule without a norm: carry it over
            records = self.history_.records
            stats["converged_fraction"] = self.history_.last("converged_fraction") if records else float("nan")
        return stats

    def _loss(self, P, y):
        return float(-np.mean(np.log(np.maximum(P[np.arange(y.shape[0]), y].astype(np.float64), 1e-300))))

    def _weights(self):
        return [layer.W for layer in self._layers] + [self._readout.W]

    # ----- prediction -------------------------------------------------------------------
    def _proba(self, X):
        return self._readout.proba(self._code(X))

    def _hidden_rates(self, X, layer: int = -1) -> np.ndarray:
        """Settled rates of hidden stage ``layer`` (-1 = last), shape (n_samples, size)."""
        n = len(self._sizes)
        if not n:
            raise ValidationError("layer", layer, "this network has no hidden layer")
        check_int("layer", layer, low=-n, high=n - 1)
        return self._codes(X)[layer]

    def _export_arrays(self) -> dict:
        """The readout of the code (``readout_W``, ``readout_b``, ``readout_scale``), so that the
        code at other times can be read out as the model does."""
        if not self._sizes:
            return {}
        return {"readout_W": np.array(self._readout.W, order="C"), "readout_b": np.array(self._readout.b),
                "readout_scale": self._readout.scale()}

    # ----- learning directions ----------------------------------------------------------
    def hidden_direction(self, X, layer: int = -1) -> np.ndarray:
        """The rule's direction for hidden stage ``layer`` on batch ``X`` (what one local update
        would do, before the learning rate), float64, shape of that stage's weights (N, n_in).
        A stateful rule's state (e.g. BCM's threshold) advances as in a real update."""
        X = self._check_X(X)
        if not self._rule.plastic:
            raise ValidationError("model", self, "rule 'none' has no hidden update")
        i = self._stage_index("hidden_direction", layer)
        return self._layers[i].direction(stack_inputs(self._layers, X)[i])

    def hidden_gradient(self, X, y, layer: int = -1) -> np.ndarray:
        """``-dL/dW`` of hidden stage ``layer``'s weights for the readout's mean cross-entropy on
        batch ``X, y`` (float64, shape (N, n_in)): through the readout (its per-unit scaling held
        fixed, `SoftmaxReadout.input_gradient`) and the settled state of every stage above and
        including it (`HebbianLayer.current_vjp`, the implicit-function Jacobian).

        Raises `ValidationError` without a hidden layer.
        """
        i = self._stage_index("hidden_gradient", layer)
        X = self._check_X(X)
        y = check_labels("y", y, self.n_classes_, n_samples=X.shape[0])
        return stack_gradient(self._layers, lambda R: self._readout.input_gradient(R, y), X)[i]

    def _stage_index(self, what, layer) -> int:
        self.check_fitted()
        if not self._sizes:
            raise ValidationError("model", type(self).__name__, f"has no hidden layer ({what} needs a fitted "
                                  "HebbianNet with a hidden layer)")
        n = len(self._sizes)
        return check_int("layer", layer, low=-n, high=n - 1) % n

    # ----- persistence ------------------------------------------------------------------
    def _get_state(self):
        state = self._readout.state()
        for i, layer in enumerate(self._layers):
            prefix = "" if i == 0 else f"s{i}_"
            state.update({prefix + k: v for k, v in layer.state().items()})
        return state

    def _set_state(self, arrays):
        self._initialize(self.n_features_in_, self.n_classes_, np.random.default_rng(0))
        self._readout.set_state(arrays)
        for i, layer in enumerate(self._layers):
            prefix = f"s{i}_"
            own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            layer.set_state(arrays if i == 0 else own)
