"""A hidden stage of the Hebbian network: a population of leaky integrators with a local rule.

Stage ``l`` of the model's `Network`: the connection into population ``l + 1`` (its feature map
appends the constant bias unit; with ``current='metric'`` its efficacy is the rule's p-metric
``sign(W)|W|^(p-1)``) and that population (uniform inhibition ``w_inh``, learned lateral
weights for a rule with a lateral partner). The stage settles through the network
(`sim.substrate.network.Network.steady_state`: the closed-form k-WTA fixed point where it
exists, else integration), so the model's forward pass is the network's. Its weights change by
the hidden rule; a rule with a lateral partner (Foldiak's) also learns the population's lateral
weights and thresholds. The stage gives what the rule declares it needs
(`sim.learning.rules.Rule`) and never tests a rule's name.
"""

from __future__ import annotations

import math

import numpy as np

from sim.models.divergence import MAX_GROWTH
from sim.substrate import neurons
from sim.substrate.implicit import settled_vjp

__all__ = ["HebbianLayer", "stack_inputs", "stack_gradient"]


class HebbianLayer:
    """Hidden stage ``index`` of a `HebbianNet`'s network.

    Parameters
    ----------
    network : sim.substrate.network.Network
        The model's network; the stage is its connection ``index`` and population ``index + 1``.
    index : int
        Stage number (0: the first hidden stage).
    rule : sim.learning.rules.Rule
        The hidden rule; ``lateral_rule`` its lateral partner or None (the population's
        ``lateral`` array is then the one it learns).
    """

    def __init__(self, network, index, rule, lateral_rule):
        self.network, self.index = network, index
        self.connection = network.connections[index]
        self.population = network.populations[index + 1]
        self.rule, self.lateral_rule, self.phi = rule, lateral_rule, self.population.neuron
        self.lateral = self.population.lateral
        self.initial_norm = float(np.linalg.norm(self.connection.W))  # for the blow-up check
        N = self.connection.W.shape[0]
        if hasattr(rule, "reset"):
            rule.reset(N)
        if lateral_rule is not None:
            lateral_rule.reset(N)

    @property
    def W(self) -> np.ndarray:
        """Feed-forward weights, shape (N, n_in) (``n_in`` includes the bias unit)."""
        return self.connection.W

    # ----- activity ---------------------------------------------------------------------
    def augment(self, X):
        """What the synapses see of the input ``X``: with the constant bias unit appended."""
        return self.connection.features(X)

    def currents(self, X):
        """Input currents ``J`` (batch, N) for inputs ``X`` (batch, n_features)."""
        return self.connection.current(X)

    def settle(self, X):
        """Settled rates (batch, N) for inputs ``X`` and the steps (or closed-form iterations) used."""
        v, r, steps = self.steady(X)
        return r, steps

    def steady(self, X):
        """Settled potentials and rates (batch, N) for inputs ``X``, and the steps used."""
        return self._steady(self.currents(X))

    def settle_to_learn(self, X):
        """Settled rates (batch, N), the steps used and what :meth:`update` may reuse of this
        settling: the currents ``J`` when they are the rule's own (:attr:`shares_currents`),
        else None."""
        J = self.currents(X)
        v, r, steps = self._steady(J)
        return r, steps, (J if self.shares_currents else None)

    @property
    def shares_currents(self) -> bool:
        """Whether the stage's currents are the ones its rule ranks (a rule with its own
        currents, the connection's efficacy its p-metric, no bias): then the rule need not
        recompute them."""
        conn, rule = self.connection, self.rule
        metric = 2.0 if conn.p_metric is None else conn.p_metric
        return bool(rule.own_currents and not conn.has_bias and metric == getattr(rule, "p", None))

    def _steady(self, J):
        if not np.all(np.isfinite(J)):  # blown-up weights: let the run be marked diverged
            nan = np.full_like(J, np.nan)
            return nan, nan, 0
        return self.network.steady_state(self.index, J)

    # ----- learning ---------------------------------------------------------------------
    def update(self, X, R, lr, currents=None) -> bool:
        """One local update of the hidden (and lateral) weights from inputs ``X`` and settled
        rates ``R`` (None for a rule with ``post_signal='none'``); False if they became non-finite
        or grew more than ``MAX_GROWTH`` times their initial norm (`sim.models.divergence`).
        ``currents``: what :meth:`settle_to_learn` returned for these ``X`` and the present
        weights (None: the rule computes what it needs)."""
        conn = self.connection
        if R is not None and not np.all(np.isfinite(R)):
            return False
        given = {} if currents is None else {"currents": currents}
        conn.W += lr * self.rule.delta(self.augment(X), R, conn.W, **given)
        conn.constrain()
        if self.lateral_rule is not None:
            L = self.lateral
            L += lr * self.lateral_rule.delta(R, R, L)
            self.lateral_rule.constrain(L, out=L)
            conn.b[...] = -self.lateral_rule.thresholds
        norm = float(np.linalg.norm(conn.W))  # NaN or inf when any weight is
        return math.isfinite(norm) and not (self.initial_norm > 0 and norm > MAX_GROWTH * self.initial_norm)

    def direction(self, X) -> np.ndarray:
        """The rule's direction on inputs ``X`` (before the learning rate), float64, shape of ``W``."""
        R = self.settle(X)[0]
        return np.asarray(self.rule.delta(self.augment(X), R, self.W), dtype=np.float64)

    def current_vjp(self, X, g_R):
        """Through the settled state: ``(-dL/dW, dL/dX)`` (float64) given ``g_R = dL/dR`` at the
        settled rates for inputs ``X``. The settled state's Jacobian is the implicit one
        (`sim.substrate.implicit.settled_vjp`: the active-set Jacobian of the k-WTA code for
        ReLU units); with ``p_metric`` ``dJ/dW = (p - 1) |W|^(p-2) x``."""
        conn = self.connection
        W = conn.W.astype(np.float64)
        v = self.steady(X)[0]
        g_J = settled_vjp(v, g_R, self.phi, self.population.w_inh, self.lateral)
        Xa = self.augment(X).astype(np.float64)
        g_M = g_J.T @ Xa                                                  # dL/dM
        p = conn.p_metric
        M = W if p is None else np.sign(W) * np.abs(W) ** (p - 1)
        g_X = (g_J @ M)[:, :conn.n_source]                                # the bias unit is constant
        g_W = g_M if p is None else g_M * (p - 1) * np.abs(W) ** (p - 2)
        return -g_W, g_X

    def gradient(self, X, rate_gradient) -> np.ndarray:
        """``-dL/dW`` (float64, shape of ``W``) given ``rate_gradient(R) -> dL/dR`` of the
        downstream loss at the settled rates ``R`` (float64), through the settled code."""
        R = self.settle(X)[0].astype(np.float64)
        return self.current_vjp(X, rate_gradient(R))[0]

    # ----- statistics -------------------------------------------------------------------
    def code_stats(self, R, W_start) -> dict:
        """Sparsity, silent inputs, dead and (if decidable) converged units of the code ``R``.

        A unit has converged when its row reached the rule's unit norm (``unit_norm``) to 5%,
        or, for a rule without one, when the row changed by less than 1% since ``W_start``
        (None: not decidable here, the key is left out).
        """
        active = R > (0.5 if isinstance(self.phi, neurons.Sigmoid) else 0.0)
        W = self.W
        stats = {"active_fraction": float(active.mean()),
                 "silent_inputs": float(np.mean(~active.any(axis=1))),
                 "dead_fraction": float(np.mean(~active.any(axis=0)))}
        if not self.rule.plastic:
            stats["converged_fraction"] = float("nan")
        elif self.rule.unit_norm is not None:
            p = float(self.rule.unit_norm)
            norms = np.sum(np.abs(W.astype(np.float64)) ** p, axis=1) ** (1 / p)
            stats["converged_fraction"] = float(np.mean(np.abs(norms - 1) < 0.05))
        elif W_start is not None:
            change = np.linalg.norm(W - W_start, axis=1) / (np.linalg.norm(W, axis=1) + 1e-12)
            stats["converged_fraction"] = float(np.mean(change < 0.01))
        return stats

    # ----- persistence ------------------------------------------------------------------
    def state(self) -> dict:
        """Arrays of the stage: ``W``, ``b``, ``lateral`` and the rules' state (``rule_*``, ``lat_*``)."""
        state = {"W": self.connection.W, "b": self.connection.b}
        if self.lateral is not None:
            state["lateral"] = self.lateral
        for prefix, obj in (("rule_", self.rule), ("lat_", self.lateral_rule)):
            if obj is not None and hasattr(obj, "state"):
                state.update({prefix + k: v for k, v in obj.state().items()})
        return state

    def set_state(self, arrays: dict) -> None:
        """Restore what :meth:`state` returned."""
        self.connection.W[...] = arrays["W"]
        self.connection.b[...] = arrays["b"]
        if self.lateral is not None:
            self.lateral[...] = arrays["lateral"]
        for prefix, obj in (("rule_", self.rule), ("lat_", self.lateral_rule)):
            sub = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            if obj is not None and sub:
                obj.set_state(sub)


def stack_inputs(layers, X) -> list:
    """The input of every stage of ``layers`` for batch ``X``: ``X``, then each stage's settled
    rates (the last stage's own rates are not included)."""
    inputs = [X]
    for layer in layers[:-1]:
        inputs.append(layer.settle(inputs[-1])[0])
    return inputs


def stack_gradient(layers, rate_gradient, X) -> list:
    """``-dL/dW`` (float64) of every stage of ``layers`` for batch ``X``, by backpropagation
    through the settled states, given ``rate_gradient(R) -> dL/dR`` at the top stage's rates."""
    inputs = stack_inputs(layers, X)
    g_R = rate_gradient(layers[-1].settle(inputs[-1])[0].astype(np.float64))
    grads = [None] * len(layers)
    for j in range(len(layers) - 1, -1, -1):
        grads[j], g_R = layers[j].current_vjp(inputs[j], g_R)
    return grads
