"""The Hebbian network's hidden stage: leaky integrators with lateral inhibition and a local rule.

A population of ``N`` units with input currents ``J = W x + b`` (or, for a rule that defines its
own currents, the rule's p-metric product), settled for each input: in closed form where one
exists (ReLU or linear units with uniform inhibition ``w_inh``: the k-WTA fixed point of
`sim.substrate.kwta`), otherwise integrated by `sim.substrate.dynamics.settle`. Its weights
change by the hidden rule; a rule with a lateral partner (Foldiak's) also learns the
population's lateral weights and thresholds. The stage gives what the rule declares it needs
(`sim.learning.rules.Rule`) and never tests a rule's name.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.substrate import dynamics, neurons
from sim.substrate.kwta import fixed_point_vjp, inhibited_fixed_point

__all__ = ["HebbianLayer"]


class HebbianLayer:
    """Hidden stage of a `HebbianNet`, sharing the network's first connection.

    Parameters
    ----------
    connection : sim.substrate.connections.Connection
        Input -> hidden connection, ``W`` of shape (N, n_in) (``n_in`` includes the bias unit).
    rule : sim.learning.rules.Rule
        The hidden rule; ``lateral_rule`` its lateral partner or None.
    phi : sim.substrate.neurons.Neuron
        Rate function of the units.
    current : {'dot', 'metric'}
    input_bias : float
        Rate of the constant input unit appended to ``x`` (0: none).
    w_inh, tau, dt, settle, settle_tol, max_steps
        Inhibition and settling, as the `HebbianNet` parameters of the same names.
    """

    def __init__(self, connection, rule, lateral_rule, phi, *, current, input_bias, w_inh, tau, dt, settle,
                 settle_tol, max_steps):
        self.connection = connection
        self.rule, self.lateral_rule, self.phi = rule, lateral_rule, phi
        self.current, self.input_bias, self.w_inh = current, input_bias, float(w_inh)
        self.tau, self.dt, self.settle_mode = tau, dt, settle
        self.settle_tol, self.max_steps = settle_tol, max_steps
        N = connection.W.shape[0]
        self.lateral = np.zeros((N, N), dtype=connection.W.dtype) if lateral_rule is not None else None
        if hasattr(rule, "reset"):
            rule.reset(N)
        if lateral_rule is not None:
            lateral_rule.reset(N)

    @property
    def W(self) -> np.ndarray:
        """Feed-forward weights, shape (N, n_in)."""
        return self.connection.W

    # ----- activity ---------------------------------------------------------------------
    def augment(self, X):
        """The input with the constant bias unit appended (when ``input_bias > 0``)."""
        if not self.input_bias:
            return X
        return np.hstack([X, np.full((X.shape[0], 1), self.input_bias, dtype=X.dtype)])

    def currents(self, X):
        """Input currents ``J`` (batch, N) for inputs ``X`` (batch, n_features)."""
        conn = self.connection
        X = self.augment(X)
        if self.current == "metric":
            # the rule's p-metric product <W, x>_p (Krotov & Hopfield 2019): efficacy |W|^(p-1)
            J = self.rule.currents(X, conn.W)
        else:
            J = X @ conn.W.T
        J += conn.b
        return J

    def settle(self, X):
        """Settled rates (batch, N) for inputs ``X`` and the steps (or closed-form iterations) used."""
        J = self.currents(X)
        if not np.all(np.isfinite(J)):  # blown-up weights: let the run be marked diverged
            return np.full_like(J, np.nan), 0
        w = self.w_inh
        if self.lateral is not None:
            res = dynamics.settle(J, neuron=self.phi, tau=self.tau, dt=self.dt, w_inh=w, lateral=self.lateral,
                                  tol=self.settle_tol, max_steps=self.max_steps)
            return res.rate, res.steps
        if w == 0.0:
            return self.phi.rate(J), 0
        if self.settle_mode == "auto" and self.phi.piecewise_linear:
            return inhibited_fixed_point(J, w, self.phi)[1], 0  # closed form: no time steps
        res = dynamics.settle(J, neuron=self.phi, tau=self.tau, dt=self.dt, w_inh=w,
                              tol=self.settle_tol, max_steps=self.max_steps)
        return res.rate, res.steps

    # ----- learning ---------------------------------------------------------------------
    def update(self, X, R, lr) -> bool:
        """One local update of the hidden (and lateral) weights from inputs ``X`` and settled
        rates ``R`` (None for a rule with ``post_signal='none'``); False if they became non-finite."""
        conn = self.connection
        if R is not None and not np.all(np.isfinite(R)):
            return False
        conn.W += lr * self.rule.delta(self.augment(X), R, conn.W)
        conn.constrain()
        if self.lateral_rule is not None:
            L = self.lateral
            L += lr * self.lateral_rule.delta(R, R, L)
            self.lateral_rule.constrain(L, out=L)
            conn.b[...] = -self.lateral_rule.thresholds
        return bool(np.all(np.isfinite(conn.W)))

    def direction(self, X) -> np.ndarray:
        """The rule's direction on inputs ``X`` (before the learning rate), float64, shape of ``W``."""
        R = self.settle(X)[0]
        return np.asarray(self.rule.delta(self.augment(X), R, self.W), dtype=np.float64)

    def gradient(self, X, rate_gradient) -> np.ndarray:
        """``-dL/dW`` (float64, shape of ``W``) given ``rate_gradient(R) -> dL/dR`` of the
        downstream loss at the settled rates ``R`` (float64): through the settled code (the
        closed-form fixed point's Jacobian for uniform inhibition) and, for the p-metric
        current, ``dJ/dW = (p - 1) |W|^(p-2) x``."""
        W = self.W.astype(np.float64)
        Xa = self.augment(X).astype(np.float64)
        metric = self.current == "metric"
        p = float(self.rule.p) if metric else 2.0
        M = np.sign(W) * np.abs(W) ** (p - 1) if metric else W
        J = Xa @ M.T + self.connection.b
        R = self.settle(X)[0].astype(np.float64)
        g_R = rate_gradient(R)                                            # dL/dR
        w = self.w_inh
        if isinstance(self.phi, neurons.ReLU) and w > 0:
            g_J = fixed_point_vjp(R, g_R, w)
        elif w == 0 and self.lateral is None:
            g_J = g_R * self.phi.derivative(J)
        else:
            raise ValidationError("model", self, "the gradient is implemented for ReLU units with uniform "
                                                 "inhibition or for uninhibited units")
        g_M = g_J.T @ Xa                                                  # dL/dM
        g_W = g_M * (p - 1) * np.abs(W) ** (p - 2) if metric else g_M
        return -g_W

    # ----- statistics -------------------------------------------------------------------
    def code_stats(self, R, W_start) -> dict:
        """Sparsity, silent inputs, dead and (if decidable) converged units of the code ``R``.

        A unit has converged when its row reached the rule's unit norm (``unit_norm``) to 5%,
        or, for a rule without one, when the row changed by less than 1% since ``W_start``
        (None: not decidable here, the key is left out).
        """
        active = R > (0.5 if isinstance(self.phi, (neurons.Sigmoid,)) else 0.0)
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
