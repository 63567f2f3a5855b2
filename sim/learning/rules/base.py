"""The learning-rule interface shared by error-driven and Hebbian rules."""

from __future__ import annotations

import numpy as np

__all__ = ["Rule"]


class Rule:
    """A learning rule: maps activity to a weight *direction*; it never writes weights.

    Subclasses implement :meth:`delta`. The caller (a model, through an optimizer) moves the
    weights: ``W <- W + lr * delta(pre, post, W, error)``.

    Attributes
    ----------
    local : bool
        True when the direction for ``W[i, j]`` uses only what synapse ``(i, j)`` can see: its
        pre- and postsynaptic activity, its own weight (and its row, as a neuron-wide
        normalization), and an error available at the postsynaptic unit itself.
    needs_error : bool
        True when :meth:`delta` requires the ``error`` argument.
    """

    local = True
    needs_error = False
    name = "rule"

    def delta(self, pre: np.ndarray, post: np.ndarray, W: np.ndarray, error: np.ndarray | None = None) -> np.ndarray:
        """Weight direction.

        Parameters
        ----------
        pre : ndarray, shape (batch, n_pre)
            Presynaptic rates.
        post : ndarray, shape (batch, n_post)
            Postsynaptic rates.
        W : ndarray, shape (n_post, n_pre)
            Current weights (read only).
        error : ndarray, shape (batch, n_post), optional
            Error signal at the postsynaptic units, for rules with ``needs_error``.

        Returns
        -------
        ndarray, shape (n_post, n_pre)
        """
        raise NotImplementedError

    def delta_bias(self, post: np.ndarray, error: np.ndarray | None = None) -> np.ndarray | None:
        """Bias direction, shape (n_post,), or None when the rule leaves biases alone."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"
