"""Error-driven rules: backpropagation, feedback alignment and the local delta rule.

All three share the same weight direction at a layer, ``dW = error^T pre``, where ``error`` is
Rumelhart's delta: minus the derivative of the mean batch loss with respect to the layer's
input current, ``error = -dL/dJ`` (shape ``(batch, n_post)``, already divided by the batch
size; ``(t - r) / batch`` at a softmax/cross-entropy or linear/squared-error output). They
differ only in where that error comes from: the delta rule has it at the output unit itself;
backprop sends it down through ``W^T``; feedback alignment through fixed random matrices ``B``.
"""

from __future__ import annotations

import numpy as np

from sim.learning.rules.base import Rule
from sim.validation import as_generator

__all__ = ["Delta", "Backprop", "FeedbackAlignment"]


class Delta(Rule):
    """The delta rule (Widrow & Hoff 1960; LMS, and its softmax/logistic form).

    Notes
    -----
    ``dW = error^T pre`` and ``db = sum_batch error``, with ``error = (t - r) / batch`` at the
    output unit itself (``-dL/dJ`` for a linear unit with squared error or a softmax unit with
    cross-entropy). The batch *sums* per-sample terms of an error that is already divided by the
    batch size, i.e. the direction is the batch mean, so the step size does not depend on the
    batch size. Local: synapse ``(i, j)`` uses ``pre_j`` and the error at its own unit ``i``.
    """

    local = True
    needs_error = True
    name = "delta"

    def delta(self, pre, post, W, error=None, *, out=None):
        """``error^T pre``, shape (n_post, n_pre); written into ``out`` when given."""
        if out is not None and out.flags.f_contiguous and not out.flags.c_contiguous:
            np.matmul(pre.T, error, out=out.T)  # same numbers into the C-contiguous transpose
            return out
        return np.matmul(error.T, pre, out=out)

    def delta_bias(self, post, error=None, *, out=None):
        """``sum_batch error``, shape (n_post,); written into ``out`` when given."""
        return np.add.reduce(error, axis=0, out=out)


class Backprop(Delta):
    """Backpropagation of error (Rumelhart, Hinton & Williams 1986).

    Notes
    -----
    The layer direction is the negative gradient, as for :class:`Delta`; the error of a hidden
    layer is ``e_l = (e_{l+1} W_{l+1}) * phi'(J_l)`` (:meth:`propagate`), which needs the
    downstream weights: non-local.
    """

    local = False
    name = "backprop"

    def reset(self, weights, rng) -> None:
        """Prepare for a network with these weight shapes (nothing for backprop)."""

    def propagate(self, error: np.ndarray, W: np.ndarray, index: int) -> np.ndarray:
        """Send ``error`` (batch, n_post) of connection ``index`` to its presynaptic side.

        Returns ``error @ W``, shape (batch, n_pre); the caller multiplies by ``phi'(J_pre)``.
        """
        return error @ W


class FeedbackAlignment(Backprop):
    """Feedback alignment (Lillicrap, Cownden, Tweed & Akerman 2016, Nat. Commun. 7:13276).

    The error travels down through fixed random matrices ``B_l`` (same shape as ``W_l``) instead
    of ``W_l``: ``e_l = (e_{l+1} B_{l+1}) * phi'(J_l)``. The output layer's update equals
    backprop's; the hidden updates do not need the downstream weights.

    Parameters
    ----------
    scale : str or float
        Entries of ``B`` are uniform in ``[-a, a]``; ``"glorot"`` uses the Glorot bound of the
        matching weight matrix, a number uses that ``a``.
    """

    name = "feedback_alignment"

    def __init__(self, scale="glorot"):
        self.scale = scale
        self.B: list[np.ndarray] = []

    def reset(self, weights, rng):
        rng = as_generator(rng, "rng")
        self.B = []
        for W in weights:
            n_post, n_pre = W.shape
            a = np.sqrt(6.0 / (n_pre + n_post)) if self.scale == "glorot" else float(self.scale)
            self.B.append(rng.uniform(-a, a, size=W.shape).astype(W.dtype))

    def propagate(self, error, W, index):
        return error @ self.B[index]
