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

    What a rule declares to the model that hosts it (the model asks these instead of testing
    the rule's name, so a new rule is one class registered with `sim.learning.rules.register`):

    hidden : bool
        It can be the hidden rule of a `HebbianNet` (``HebbianNet(rule=name)``).
    plastic : bool
        It changes weights; False for the fixed random-features control (rule 'none').
    post_signal : {'rate', 'linear', 'none'}
        What it receives as ``post``: the settled rates of the hidden units ('rate'), the
        stage's linear response ``y = W x`` that its equations assume ('linear': Oja, Sanger), or
        nothing ('none': the rule computes the activity it learns from out of ``pre`` and ``W``,
        so the model need not settle the population while only this rule learns).
    default_neuron : str
        Rate function of the stage when the model leaves ``neuron`` unset ('linear' for a rule
        whose equations assume a linear unit).
    default_w_inh : float
        Uniform lateral inhibition of the stage when the model leaves ``w_inh`` unset.
    default_lr : float
        Learning rate at which the rule trains stably on inputs of unit scale (pixel values in
        [0, 1]), used when the model leaves ``hidden_lr`` unset.
    own_currents : bool
        It defines ``currents(pre, W)``, a current the hidden layer may use
        (``HebbianNet(current='metric')``).
    unit_norm : float or None
        The order ``p`` of the norm a learning unit's weight row converges to (``||W_i||_p = 1``),
        by which the model counts converged units; None when the rule has no such fixed point
        (the model then counts rows that stopped changing).
    lateral_rule : str or None
        Name of a rule that learns the population's lateral weights alongside this one; the
        keyword arguments named in ``lateral_params`` go to it, the rest to this rule.
    """

    local = True
    needs_error = False
    name = "rule"
    hidden = False
    plastic = True
    post_signal = "rate"
    default_neuron = "relu"
    default_w_inh = 0.0
    default_lr = 0.1
    own_currents = False
    unit_norm: float | None = None
    lateral_rule: str | None = None
    lateral_params: tuple = ()

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
