"""Closed-form fixed point of a rectified population with uniform lateral inhibition.

For ReLU units with ``tau dv_i/dt = -v_i + J_i - w sum_{j != i} r_j`` (``0 <= w < 1``), the
fixed point is a k-winners-take-all code: with threshold ``theta = w S`` (``S`` the summed
rate), unit ``i`` is active iff ``J_i > theta`` and then ``r_i = (J_i - theta) / (1 - w)``;
inactive units sit at ``v_i = J_i - theta``. Self-consistency over the active set ``A``
(``k = |A|``) gives ``theta = w sum_A J / (1 - w + w k)``.

The fixed point is unique: it solves a linear complementarity problem whose matrix
``(1 - w) I + w 11^T`` is positive definite for ``w < 1``, so it is also the state that
:func:`sim.substrate.dynamics.settle` converges to (tested). It is found from the currents sorted in
decreasing order, ``J_(1) >= J_(2) >= ...``: with ``C_k`` the sum of the top k, the candidate
threshold of the top-k set is ``theta_k = w C_k / (1 - w + w k)``, and ``J_(k) > theta_k``
holds exactly for ``k = 1..k*`` (``f(k) = J_(k) (1 + w (k - 1)) - w C_k`` has
``f(k+1) - f(k) = (1 + w (k - 1)) (J_(k+1) - J_(k)) <= 0``), so the true active set is the
top ``k*``. One sort and one cumulative sum per input: far less than time-stepping.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.substrate import neurons as _neurons
from sim.validation import check_array, check_number

__all__ = ["inhibited_fixed_point", "fixed_point_vjp"]


# the candidate thresholds are first computed for the TOP largest currents of each input only
# (a partition, then a sort of TOP values); an input whose active set may reach TOP units is
# recomputed from all its currents. The sums run over the same values in the same order either
# way, so the result is the same to the bit.
TOP = 48


def _threshold(J, w, m):
    """The fixed point's threshold ``theta`` and active count per input from its ``m`` largest
    currents, shapes (batch,); ``n_active == m < n`` means more units may be active."""
    n = J.shape[1]
    Js = -np.sort(-J, axis=1) if m >= n else -np.sort(np.partition(-J, m - 1, axis=1)[:, :m], axis=1)
    k = np.arange(1, m + 1)
    thetas = (w * np.cumsum(Js, axis=1, dtype=np.float64) / (1 - w + w * k)).astype(J.dtype)
    # unit k is active under its own candidate iff J_(k) > theta_k; these k form a prefix,
    # since J_(k)(1 + w(k-1)) - w C_k does not increase with k; its length is the true k
    valid = Js > thetas
    # length of the leading run of True (robust to a rounding blip after the true k*)
    n_active = np.where(valid.all(axis=1), m, np.argmin(valid, axis=1))
    theta = np.where(n_active > 0, thetas[np.arange(J.shape[0]), np.maximum(n_active, 1) - 1], 0)
    return theta.astype(J.dtype), n_active


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
    k : int
        The largest number of active units over the batch.
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
    m = min(J.shape[1], TOP)
    theta, n_active = _threshold(J, w, m)
    more = n_active == m  # the top m all active: more may be; these inputs use all their currents
    if m < J.shape[1] and more.any():
        theta[more], n_active[more] = _threshold(J[more], w, J.shape[1])
    theta = theta[:, None]
    rate = np.maximum(J - theta, 0) / J.dtype.type(1 - w)
    v = J - theta + w * rate
    return v, rate, int(n_active.max(initial=0))


def fixed_point_vjp(rate, grad_rate, w_inh: float) -> np.ndarray:
    """Gradient with respect to the currents ``J`` through the ReLU fixed point with uniform
    inhibition, given the gradient ``grad_rate`` with respect to its rates ``rate``.

    Within the active set ``A`` (``k = |A|``) the fixed point is linear in ``J``, with Jacobian

        dr_i/dJ_j = (delta_ij - w / (1 - w + w k)) / (1 - w)    for i, j in A, else 0,

    so ``g_J = (g_r - c sum_A g_r) / (1 - w)`` on ``A`` (``c = w / (1 - w + w k)``) and 0 off it
    (the set changes only on a measure-zero boundary).

    Parameters
    ----------
    rate : ndarray, shape (batch, n)
        Settled rates (:func:`inhibited_fixed_point`); ``rate > 0`` marks the active set.
    grad_rate : ndarray, shape (batch, n)
        ``dL/dr``.
    w_inh : float in [0, 1)

    Returns
    -------
    ndarray, shape (batch, n)
        ``dL/dJ``.
    """
    w = check_number("w_inh", w_inh, low=0.0, high=1.0, high_open=True)
    active = rate > 0
    k = active.sum(axis=1, keepdims=True)
    c = w / (1 - w + w * k)
    return np.where(active, grad_rate - c * np.sum(np.where(active, grad_rate, 0), axis=1, keepdims=True), 0) / (1 - w)
