"""The delta-rule softmax readout of a code: the Hebbian network's output stage.

The readout sees features ``f = sign(r) |r|^n`` of each rate ``r`` of the code, divided per unit by
their running root-mean-square when ``scaling='rms'`` (a per-unit gain, like homeostatic
scaling). Output rates are ``softmax(W f + b)``; weights move by the local delta rule
``dW = e^T f``, ``db = sum_batch e`` with ``e = (t - softmax(W f + b)) / batch``, through an
optimizer, with an optional L2 decay of each synapse toward 0 (still local).
"""

from __future__ import annotations

import numpy as np

from sim.learning.optimizers import get_optimizer
from sim.learning.rules import Delta
from sim.substrate import neurons

__all__ = ["SoftmaxReadout"]


class SoftmaxReadout:
    """Delta-rule readout on the features of a code, sharing memory with a network connection.

    Parameters
    ----------
    connection : sim.substrate.connections.Connection
        The network's readout connection (``W`` of shape (n_classes, n_in)); its ``W`` and ``b``
        become views of one flat buffer, so an optimizer step is one call. Its feature map
        (`sim.substrate.features.FeatureMap`: power ``n`` and RMS scaling) gives the features.
    optimizer : str or optimizer instance
        See `sim.learning.optimizers`.
    decay : float >= 0
        L2 decay coefficient of the weights (not the biases).
    dtype : numpy dtype
    """

    def __init__(self, connection, optimizer, decay, dtype):
        self.connection = connection
        self.features_map = connection.pre_map
        self.decay = float(decay)
        self.features_map.reset(connection.n_source)
        self.params = np.zeros(connection.W.size + connection.b.size, dtype=dtype)
        self.grad = np.zeros_like(self.params)
        self.W = self.params[:connection.W.size].reshape(connection.W.shape)
        self.b = self.params[connection.W.size:]
        connection.share_memory(self.W, self.b)
        self._dW = self.grad[:connection.W.size].reshape(connection.W.shape)
        self._db = self.grad[connection.W.size:]
        self.optimizer = get_optimizer(optimizer, "readout_optimizer")
        self.optimizer.reset(self.params)
        self._delta = Delta()

    def __setstate__(self, state):
        # unpickling copies the flat buffers and their views (W, b and their directions) apart,
        # possibly read-only: own writable buffers, with the views bound again
        self.__dict__.update(state)
        self.params, self.grad = np.array(self.params), np.array(self.grad)
        n, shape = self.connection.W.size, self.connection.W.shape
        self.W, self.b = self.params[:n].reshape(shape), self.params[n:]
        self.connection.share_memory(self.W, self.b)
        self._dW, self._db = self.grad[:n].reshape(shape), self.grad[n:]

    # ----- features ---------------------------------------------------------------------
    def scale(self) -> np.ndarray:
        """Per-unit divisor of the features, shape (n_in,), float64 (ones without scaling)."""
        return self.features_map.scale()

    def features(self, R: np.ndarray) -> np.ndarray:
        """Readout input ``sign(r) |r|^n / RMS`` of rates ``R`` (batch, n_in), dtype of ``R``."""
        return self.features_map(R)

    def update_scaling(self, R: np.ndarray) -> None:
        """Fold the batch ``R`` into the running mean square (`FeatureMap.observe`)."""
        self.features_map.observe(R)

    # ----- forward, learning, gradient --------------------------------------------------
    def proba(self, R: np.ndarray) -> np.ndarray:
        """Output rates ``softmax(W f(R) + b)``, shape (batch, n_classes)."""
        Z = self.features(R) @ self.W.T
        Z += self.b
        return neurons.Softmax().rate(Z)

    def update(self, R: np.ndarray, T: np.ndarray, lr: float) -> None:
        """One delta-rule step on rates ``R`` (batch, n_in) with one-hot targets ``T``."""
        self.update_scaling(R)
        F = self.features(R)
        Z = F @ self.W.T
        Z += self.b
        error = T - neurons.Softmax().rate(Z)  # the delta rule's error, t - r, per sample
        error /= T.shape[0]
        self._delta.delta(F, None, self.W, error, out=self._dW)  # written into the gradient buffer
        self._delta.delta_bias(None, error, out=self._db)
        if self.decay:
            self._dW -= self.decay * self.W
        self.optimizer.step(self.params, self.grad, lr)

    def input_gradient(self, R: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``dL/dR`` of the mean cross-entropy of labels ``y`` for rates ``R`` (batch, n_in),
        float64, with the per-unit scaling held fixed:
        ``dL/dr = ((P - onehot(y)) / batch) W * n |r|^(n-1) / RMS``."""
        R = np.asarray(R, dtype=np.float64)
        P = neurons.Softmax().rate(self.features_map(R) @ self.W.T.astype(np.float64) + self.b)
        P[np.arange(len(y)), y] -= 1
        g_F = (P / len(y)) @ self.W.astype(np.float64)
        return self.features_map.input_gradient(R, g_F)

    # ----- persistence ------------------------------------------------------------------
    def state(self) -> dict:
        """Arrays of the readout: ``readout`` (flat W and b), ``ms``, ``ms_count``, ``opt_*``."""
        state = {"readout": self.params, **self.features_map.state()}
        state.update({"opt_" + k: v for k, v in self.optimizer.state().items()})
        return state

    def set_state(self, arrays: dict) -> None:
        """Restore what :meth:`state` returned."""
        self.params[...] = arrays["readout"]
        self.features_map.set_state(arrays)
        sub = {k[4:]: v for k, v in arrays.items() if k.startswith("opt_")}
        if sub:
            self.optimizer.set_state(sub)
