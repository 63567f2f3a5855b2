"""The Hebbian / leaky-integrator network, built from the shared populations and connections.

Input -> a hidden population of leaky integrators (``tau dv/dt = -v + J``, rate ``phi(v)``)
with lateral inhibition, which settles for each input -> a softmax readout trained by the
local delta rule on the settled rates. Hidden weights change only by local rules
(`sim.rules`): what a synapse can see is its pre- and postsynaptic activity and its own
weight (and, for the readout, the error at its own output unit).
"""

from __future__ import annotations

import numpy as np

from sim.substrate import dynamics, neurons
from sim.learning import rules as _rules
from sim.substrate.connections import initializer_names
from sim.errors import ValidationError
from sim.models.estimator import Estimator
from sim.substrate.kwta import inhibited_fixed_point
from sim.substrate.network import Network, Population
from sim.learning.optimizers import get_optimizer, get_schedule
from sim.validation import check_choice, check_int, check_number

__all__ = ["HebbianNet", "HIDDEN_RULES"]

HIDDEN_RULES = ("competitive", "oja", "sanger", "bcm", "hebb", "foldiak", "none")
_NORM_RULES = {"competitive": None, "oja": 2.0, "sanger": 2.0}  # rules whose rows converge to unit norm
SCHEDULES = ("sequential", "concurrent")


class HebbianNet(Estimator):
    """Hebbian hidden layer of leaky integrators with lateral inhibition + delta-rule readout.

    Parameters
    ----------
    hidden : int
        Number of hidden units N (0: no hidden layer, the readout sees the raw input).
    rule : {'competitive', 'oja', 'sanger', 'bcm', 'hebb', 'foldiak', 'none'}
        Hidden plasticity. 'none' keeps the random initial weights: the random-features control.
        'foldiak' learns feed-forward weights by the instar rule and lateral weights by
        Foldiak's anti-Hebbian rule (``lateral`` is then 'learned').
    rule_params : dict, optional
        Keyword arguments of the rule (e.g. ``{"p": 3, "k": 7, "delta": 0.4}`` for 'competitive').
    current : {'dot', 'metric'}
        Input current of a hidden unit: ``J = W x`` ('dot'), or, for the competitive rule, the
        rule's p-metric product ``<W, x>_p = sum_j sign(W_j)|W_j|^(p-1) x_j`` ('metric'; the
        synaptic efficacy is then ``|W|^(p-1)``, the quantity the rule ranks).
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
        units, uniform inhibition; `sim.kwta`), else integrates; 'dynamics' always integrates
        (`sim.dynamics.settle`). Both give the same settled state to the settle tolerance.
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
    dtype : {'float32', 'float64'}
    seed : int
    """

    model_name = "hebbian"

    def __init__(self, hidden=400, rule="competitive", rule_params=None, current="dot", input_bias=0.0,
                 neuron="relu", tau=10.0, dt=None, w_inh=0.3, settle="auto", settle_tol=1e-4,
                 max_steps=500, init="normal", init_scale=1.0, hidden_lr=0.1, hidden_lr_schedule="linear",
                 hidden_epochs=None, schedule="sequential", readout_power=1.0, readout_scaling="rms",
                 readout_optimizer="adam", readout_lr=3e-3, readout_decay=0.0, lr_schedule="constant",
                 batch_size=20, dtype="float32", seed=0):
        params = dict(locals())  # every argument is stored as given (scikit-learn style)
        del params["self"]
        for name, value in params.items():
            setattr(self, name, value)

    # ----- parameters -------------------------------------------------------------------
    def _validate_params(self):
        p = self._hp  # all parameters (LinearReadout shows only its own in get_params)
        self._N = check_int("hidden", p["hidden"], low=0)
        self._rule_name = check_choice("rule", p["rule"], HIDDEN_RULES)
        check_choice("current", p["current"], ("dot", "metric"))
        check_number("input_bias", p["input_bias"], low=0.0)
        if p["current"] == "metric" and self._rule_name != "competitive":
            raise ValidationError("current", p["current"], "'metric' needs rule='competitive' (it defines the metric)")
        if p["rule_params"] is not None and not isinstance(p["rule_params"], dict):
            raise ValidationError("rule_params", p["rule_params"], "must be a dict of rule arguments")
        self._phi = neurons.get(p["neuron"])
        if isinstance(self._phi, neurons.Softmax):
            raise ValidationError("neuron", p["neuron"], "softmax is an output type")
        check_number("tau", p["tau"], low=0.0, low_open=True)
        if p["dt"] is not None:
            check_number("dt", p["dt"], low=0.0, low_open=True)
        check_number("w_inh", p["w_inh"], low=0.0, high=1.0, high_open=True)
        check_choice("settle", p["settle"], ("auto", "dynamics"))
        check_number("settle_tol", p["settle_tol"], low=0.0, low_open=True)
        check_int("max_steps", p["max_steps"], low=1)
        check_choice("init", p["init"], initializer_names())
        check_number("init_scale", p["init_scale"], low=0.0, low_open=True)
        check_number("hidden_lr", p["hidden_lr"], low=0.0, low_open=True)
        get_schedule(p["hidden_lr_schedule"], "hidden_lr_schedule")
        if p["hidden_epochs"] is not None:
            check_int("hidden_epochs", p["hidden_epochs"], low=0)
        check_choice("schedule", p["schedule"], SCHEDULES)
        check_number("readout_power", p["readout_power"], low=1.0)
        check_choice("readout_scaling", p["readout_scaling"], ("rms", "none"))
        get_optimizer(p["readout_optimizer"], "readout_optimizer")
        check_number("readout_lr", p["readout_lr"], low=0.0, low_open=True)
        check_number("readout_decay", p["readout_decay"], low=0.0)
        get_schedule(p["lr_schedule"], "lr_schedule")
        check_int("batch_size", p["batch_size"], low=1)
        self._dtype()
        check_int("seed", p["seed"], low=0)
        self._make_rules()  # validates rule_params

    def _make_rules(self):
        params = dict(self.rule_params or {})
        name = self._rule_name
        self._lateral_rule = None
        try:
            if name == "foldiak":
                lateral_params = {k: params.pop(k) for k in ("p", "alpha", "gamma") if k in params}
                self._rule = _rules.get("instar", **params)
                self._lateral_rule = _rules.get("antihebbian", **lateral_params)
            elif name == "none":
                if params:
                    raise ValidationError("rule_params", self.rule_params, "rule 'none' takes no parameters")
                self._rule = None
            else:
                self._rule = _rules.get(name, **params)
        except TypeError as exc:
            raise ValidationError("rule_params", self.rule_params, f"not accepted by rule {name!r} ({exc})") from None
        except ValidationError as exc:
            if exc.parameter != "params":
                raise
            raise ValidationError("rule_params", self.rule_params, exc.requirement) from None

    def _lr_schedule(self):
        return get_schedule(self.lr_schedule, "lr_schedule")

    # ----- set-up -----------------------------------------------------------------------
    def _initialize(self, n_features, n_classes, rng):
        dtype = self._dtype()
        self._make_rules()
        N = self._N
        n_in = n_features + (1 if self.input_bias else 0)
        pops = [Population(n_in, "linear")]
        if N:
            pops.append(Population(N, self._phi, tau=float(self.tau), w_inh=float(self.w_inh)))
        pops.append(Population(n_classes, "softmax"))
        self.network_ = Network(pops, rng=rng, init="zeros", dtype=dtype)
        self._hidden_conn = self.network_.connections[0] if N else None
        readout = self.network_.connections[-1]
        if N:
            W = self._hidden_conn.W
            W[...] = _init(self.init, W.shape, rng, dtype, self.init_scale)
            if self._rule is not None and hasattr(self._rule, "reset"):
                self._rule.reset(N)
        self.lateral_ = np.zeros((N, N), dtype=dtype) if self._lateral_rule is not None else None
        if self._lateral_rule is not None:
            self._lateral_rule.reset(N)
        n_in = N or n_features
        self._ms = np.zeros(n_in, dtype=np.float64)  # running mean square of readout inputs
        self._ms_count = 0
        self._readout_params = np.zeros(readout.W.size + readout.b.size, dtype=dtype)
        self._readout_grad = np.zeros_like(self._readout_params)
        Wr = self._readout_params[:readout.W.size].reshape(readout.W.shape)
        br = self._readout_params[readout.W.size:]
        readout.share_memory(Wr, br)
        self._Wr, self._br = Wr, br
        self._dWr = self._readout_grad[:readout.W.size].reshape(readout.W.shape)
        self._dbr = self._readout_grad[readout.W.size:]
        self._optimizer = get_optimizer(self.readout_optimizer, "readout_optimizer")
        self._optimizer.reset(self._readout_params)
        self._delta = _rules.Delta()
        self._cache = []  # [(X, settled codes)] while the hidden weights are frozen

    # ----- settling ---------------------------------------------------------------------
    def _settle(self, X):
        """Settled hidden rates for inputs ``X`` (batch, n_in) and the steps (or iterations) used."""
        conn = self._hidden_conn
        X = self._augment(X)
        if self.current == "metric":
            # the rule's p-metric product <W, x>_p (Krotov & Hopfield 2019): efficacy |W|^(p-1)
            J = self._rule.currents(X, conn.W)
        else:
            J = X @ conn.W.T
        J += conn.b
        if not np.all(np.isfinite(J)):  # blown-up weights: let the run be marked diverged
            return np.full_like(J, np.nan), 0
        w = float(self.w_inh)
        if self.lateral_ is not None:
            res = dynamics.settle(J, neuron=self._phi, tau=self.tau, dt=self.dt, w_inh=w, lateral=self.lateral_,
                                  tol=self.settle_tol, max_steps=self.max_steps)
            return res.rate, res.steps
        if w == 0.0:
            return self._phi.rate(J), 0
        if self.settle == "auto" and self._phi.piecewise_linear:
            return inhibited_fixed_point(J, w, self._phi)[1], 0  # closed form: no time steps
        res = dynamics.settle(J, neuron=self._phi, tau=self.tau, dt=self.dt, w_inh=w,
                              tol=self.settle_tol, max_steps=self.max_steps)
        return res.rate, res.steps

    def _augment(self, X):
        """The input with the constant bias unit appended (when ``input_bias > 0``)."""
        if not self.input_bias:
            return X
        return np.hstack([X, np.full((X.shape[0], 1), self.input_bias, dtype=X.dtype)])

    def _code(self, X):
        """Settled hidden rates of ``X`` (the raw input when there is no hidden layer), cached
        while the hidden weights are frozen."""
        if not self._N:
            return X
        for X_cached, R, _ in self._cache:
            if X_cached is X:
                return R
        parts = [self._settle(X[i:i + 1000]) for i in range(0, X.shape[0], 1000)]
        R = np.concatenate([part[0] for part in parts])
        steps = float(np.mean([part[1] for part in parts]))
        self._cache = (self._cache + [(X, R, steps)])[-4:]  # train, test and two evaluation sets
        return R

    def _code_steps(self, X) -> float:
        """Settle steps (or closed-form iterations) behind the cached code of ``X``."""
        self._code(X)
        return next(steps for X_cached, _, steps in self._cache if X_cached is X)

    def _features(self, R):
        """Readout input: ``sign(r) |r|^n`` divided by its running RMS per unit."""
        n = float(self.readout_power)
        F = R if n == 1.0 else np.sign(R) * np.abs(R) ** n
        if self.readout_scaling == "rms" and self._ms_count:
            F = F / (np.sqrt(self._ms) + 1e-12).astype(F.dtype)
        return F

    def _update_scaling(self, R):
        if self.readout_scaling != "rms":
            return
        n = float(self.readout_power)
        F = R if n == 1.0 else np.abs(R) ** n
        rate = max(1.0 / (self._ms_count + 1), 0.01)  # exact mean over the first 100 batches, then EMA
        self._ms += rate * (np.mean(np.square(F, dtype=np.float64), axis=0) - self._ms)
        self._ms_count += 1

    # ----- training ---------------------------------------------------------------------
    def _phase(self):
        """(hidden learns, readout learns) in the current epoch."""
        if not self._N or self._rule is None:
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
        self._W_start = self._hidden_conn.W.copy() if learn_hidden else None
        codes = None if learn_hidden or not self._N else self._code(X)
        # the competitive rule ranks its own currents: settling is needed only for the readout
        need_rates = learn_readout or self._rule_name != "competitive"
        lr = float(self.readout_lr) * lr_factor
        steps = []
        order = rng.permutation(X.shape[0])
        for start in range(0, X.shape[0], int(self.batch_size)):
            idx = order[start:start + int(self.batch_size)]
            if codes is not None:
                R = codes[idx]
            elif self._N and need_rates:
                R, s = self._settle(X[idx])
                steps.append(s)
            elif self._N:
                R = None
            else:
                R = X[idx]
            if learn_hidden and not self._hidden_update(X[idx], R, h_lr):
                break  # weights blew up: stop here, the estimator marks the run diverged
            if learn_readout:
                self._readout_update(R, T[idx], lr)
        self._epoch_steps = steps
        return {"phase": "+".join(p for p, on in (("hidden", learn_hidden), ("readout", learn_readout)) if on)}

    def _epoch_extra(self, X) -> dict:
        """Code statistics of the training set after an epoch (untimed, like the evaluation)."""
        if not self._N:
            return {}
        steps = self._epoch_steps
        extra = {"settle_steps": float(np.mean(steps)) if steps else self._code_steps(X)}
        extra.update(self._code_stats(X, self._W_start))
        return extra

    def _hidden_update(self, X, R, lr) -> bool:
        """One local update of the hidden (and lateral) weights; False if they became non-finite."""
        conn = self._hidden_conn
        if R is not None and not np.all(np.isfinite(R)):
            return False
        dW = self._rule.delta(self._augment(X), R, conn.W)
        conn.W += lr * dW
        conn.constrain()
        if self._lateral_rule is not None:
            L = self.lateral_
            L += lr * self._lateral_rule.delta(R, R, L)
            self._lateral_rule.constrain(L, out=L)
            conn.b[...] = -self._lateral_rule.thresholds
        return bool(np.all(np.isfinite(conn.W)))

    def _readout_update(self, R, T, lr):
        self._update_scaling(R)
        F = self._features(R)
        Z = F @ self._Wr.T
        Z += self._br
        error = T - neurons.Softmax().rate(Z)  # the delta rule's error, t - r, per sample
        error /= T.shape[0]
        self._dWr[...] = self._delta.delta(F, None, self._Wr, error)
        self._dbr[...] = self._delta.delta_bias(None, error)
        if self.readout_decay:
            self._dWr -= float(self.readout_decay) * self._Wr
        self._optimizer.step(self._readout_params, self._readout_grad, lr)

    def _code_stats(self, X, W_start):
        """Sparsity, silent inputs, dead and converged units of the code of the training set."""
        R = self._code(X)
        active = R > (0.5 if isinstance(self._phi, (neurons.Sigmoid,)) else 0.0)
        W = self._hidden_conn.W
        stats = {"active_fraction": float(active.mean()),
                 "silent_inputs": float(np.mean(~active.any(axis=1))),
                 "dead_fraction": float(np.mean(~active.any(axis=0)))}
        if self._rule is None:
            stats["converged_fraction"] = float("nan")
        elif self._rule_name in _NORM_RULES:
            p = float(getattr(self._rule, "p", 2.0)) if self._rule_name == "competitive" else 2.0
            norms = np.sum(np.abs(W.astype(np.float64)) ** p, axis=1) ** (1 / p)
            stats["converged_fraction"] = float(np.mean(np.abs(norms - 1) < 0.05))
        elif W_start is not None:
            change = np.linalg.norm(W - W_start, axis=1) / (np.linalg.norm(W, axis=1) + 1e-12)
            stats["converged_fraction"] = float(np.mean(change < 0.01))
        else:
            stats["converged_fraction"] = self.history_.last("converged_fraction") if self.history_.records else float("nan")
        return stats

    def _loss(self, P, y):
        return float(-np.mean(np.log(np.maximum(P[np.arange(y.shape[0]), y].astype(np.float64), 1e-300))))

    def _weights(self):
        return ([self._hidden_conn.W] if self._N else []) + [self._Wr]

    # ----- prediction -------------------------------------------------------------------
    def _proba(self, X):
        F = self._features(self._code(X))
        Z = F @ self._Wr.T
        Z += self._br
        return neurons.Softmax().rate(Z)

    def hidden(self, X, layer: int = -1) -> np.ndarray:
        """Settled hidden rates, shape (n_samples, hidden); ``layer`` must be -1 or 0."""
        X = self._check_X(X)
        if not self._N:
            raise ValidationError("layer", layer, "this network has no hidden layer")
        check_int("layer", layer, low=-1, high=0)
        return self._code(X)

    # ----- persistence ------------------------------------------------------------------
    def _get_state(self):
        state = {"readout": self._readout_params, "ms": self._ms, "ms_count": np.array(self._ms_count)}
        if self._N:
            state["W"], state["b"] = self._hidden_conn.W, self._hidden_conn.b
        if self.lateral_ is not None:
            state["lateral"] = self.lateral_
        for prefix, obj in (("opt_", self._optimizer), ("rule_", self._rule), ("lat_", self._lateral_rule)):
            if obj is not None and hasattr(obj, "state"):
                state.update({prefix + k: v for k, v in obj.state().items()})
        return state

    def _set_state(self, arrays):
        self._validate_params()
        self._initialize(self.n_features_in_, self.n_classes_, np.random.default_rng(0))
        self._readout_params[...] = arrays["readout"]
        self._ms[...] = arrays["ms"]
        self._ms_count = int(arrays["ms_count"])
        if self._N:
            self._hidden_conn.W[...] = arrays["W"]
            self._hidden_conn.b[...] = arrays["b"]
        if self.lateral_ is not None:
            self.lateral_[...] = arrays["lateral"]
        for prefix, obj in (("opt_", self._optimizer), ("rule_", self._rule), ("lat_", self._lateral_rule)):
            sub = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            if obj is not None and sub:
                obj.set_state(sub)


def _init(name, shape, rng, dtype, scale):
    from sim.substrate.connections import init_weights
    return init_weights(name.lower(), shape, rng, dtype=dtype, scale=scale)
