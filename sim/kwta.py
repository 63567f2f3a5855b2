"""Closed-form fixed point of a rectified population with uniform lateral inhibition.

For ReLU units with ``tau dv_i/dt = -v_i + J_i - w sum_{j != i} r_j`` (``0 <= w < 1``), the
fixed point is a k-winners-take-all code: with threshold ``theta = w S`` (``S`` the summed
rate), unit ``i`` is active iff ``J_i > theta`` and then ``r_i = (J_i - theta) / (1 - w)``;
inactive units sit at ``v_i = J_i - theta``. Self-consistency over the active set ``A``
(``k = |A|``) gives ``theta = w sum_A J / (1 - w + w k)``.

The fixed point is unique: it solves a linear complementarity problem whose matrix
``(1 - w) I + w 11^T`` is positive definite for ``w < 1``, so it is also the state that
:func:`sim.dynamics.settle` converges to (tested). It is found by Newton's method on
``h(theta) = theta - w/(1 - w) sum_i (J_i - theta)_+``, which is concave and increasing:
from ``theta = 0`` the iterates rise monotonically to the root and stop, exactly, as soon as
the active set no longer changes (at most ``n`` iterations; typically 2-6). Each iteration
costs a few passes over the ``(batch, n)`` currents, far less than time-stepping the dynamics.
"""

from __future__ import annotations

import numpy as np

from . import neurons as _neurons
from .errors import ValidationError
from .validation import check_array, check_number

__all__ = ["inhibited_fixed_point"]


def inhibited_fixed_point(J, w_inh: float, neuron="relu"):
    """Exact fixed point of a ReLU (or Linear) population with uniform inhibition ``w_inh``.

    Parameters
    ----------
    J : ndarray, shape (batch, n)
        Input currents (held constant).
    w_inh : float in [0, 1)
        Uniform inhibition strength.
    neuron : {'relu', 'linear'}
        Rate function; only these piecewise-linear types have this closed form.

    Returns
    -------
    v : ndarray, shape (batch, n)
        Membrane potentials at the fixed point.
    rate : ndarray, shape (batch, n)
        Rates ``phi(v)``.
    iterations : int
        Newton iterations used (the largest over the batch).
    """
    J = check_array("J", J)
    w = check_number("w_inh", w_inh, low=0.0, high=1.0, high_open=True)
    phi = _neurons.get(neuron)
    if isinstance(phi, _neurons.Linear):
        # v (1 - w) = J - w S with S = sum v  =>  S = sum J / (1 - w + w n)
        S = J.sum(axis=1, keepdims=True) / (1 - w + w * J.shape[1])
        v = (J - w * S) / (1 - w)
        return v, v, 0
    if not isinstance(phi, _neurons.ReLU):
        raise ValidationError("neuron", neuron, "the closed-form fixed point exists for 'relu' and 'linear' only")
    if w == 0.0:
        return J.copy(), np.maximum(J, 0), 0
    theta = np.zeros((J.shape[0], 1), dtype=J.dtype)
    active = J > theta
    iterations = 0
    while True:
        iterations += 1
        k = active.sum(axis=1, keepdims=True)
        C = np.where(active, J, 0).sum(axis=1, keepdims=True, dtype=np.float64)
        # the exact iterates never decrease; enforcing it keeps rounding from undoing a step,
        # so the active set only shrinks and the loop ends after at most n iterations
        theta = np.maximum(theta, (w * C / (1 - w + w * k)).astype(J.dtype))
        new_active = J > theta
        if np.array_equal(new_active, active):
            break
        active = new_active
    rate = np.maximum(J - theta, 0) / J.dtype.type(1 - w)
    v = J - theta + w * rate
    return v, rate, iterations
