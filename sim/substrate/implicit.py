"""Gradients through the settled state of a population (the implicit function theorem).

A population with uniform inhibition ``w`` and lateral weights ``L`` (zero diagonal) settles to
``v = J + C phi(v)`` with ``C = L - w (11^T - I)``. Differentiating the fixed point,
``(I - C D) dv = dJ`` with ``D = diag(phi'(v))``, and ``dr = D dv``. The vector-Jacobian
product of a downstream gradient ``g_r = dL/dr`` is therefore

    g_J = (I - C D)^{-T} D g_r = (I - D C^T)^{-1} D g_r.

For uniform inhibition alone (``L = 0``), ``I - D C^T = M + w d 1^T`` with ``m = 1 - w d``, and
Sherman-Morrison gives it in O(n) per input:

    g_J = a / m - (w d / m) * sum(a / m) / (1 + w sum(d / m)),    a = d g_r.

For ReLU units this is the active-set Jacobian of the k-WTA code
(`sim.substrate.kwta.fixed_point_vjp`); the set of active units changes only on a
measure-zero boundary. With general lateral weights one (n, n) system is solved per input.
"""

from __future__ import annotations

import numpy as np

from sim.substrate import neurons as _neurons

__all__ = ["settled_vjp"]


def settled_vjp(v, grad_rate, neuron, w_inh: float = 0.0, lateral=None) -> np.ndarray:
    """``dL/dJ`` through the settled state ``v`` of a population, given ``dL/dr``.

    Parameters
    ----------
    v : ndarray, shape (batch, n)
        Settled potentials (a fixed point of the dynamics, e.g. from
        `sim.substrate.network.Network.steady_state`).
    grad_rate : ndarray, shape (batch, n)
        ``dL/dr`` at the settled rates ``r = phi(v)``.
    neuron : str or sim.substrate.neurons.Neuron
        Rate function ``phi`` (its ``derivative`` is evaluated at ``v``).
    w_inh : float in [0, 1)
        Uniform inhibition.
    lateral : ndarray, shape (n, n), optional
        Lateral weights (zero diagonal).

    Returns
    -------
    ndarray, shape (batch, n), float64
        ``dL/dJ``.
    """
    phi = _neurons.get(neuron)
    v = np.asarray(v, dtype=np.float64)
    d = np.asarray(phi.derivative(v), dtype=np.float64)
    a = d * np.asarray(grad_rate, dtype=np.float64)
    w = float(w_inh)
    if lateral is None:
        if w == 0.0:
            return a
        m = 1.0 - w * d
        a_m, d_m = a / m, d / m
        coef = w * a_m.sum(axis=1, keepdims=True) / (1.0 + w * d_m.sum(axis=1, keepdims=True))
        return a_m - d_m * coef
    n = v.shape[1]
    C = np.asarray(lateral, dtype=np.float64) - w * (np.ones((n, n)) - np.eye(n))
    # (I - D C^T) g_J = a, one system per input
    A = np.eye(n)[None] - d[:, :, None] * C.T[None]
    return np.linalg.solve(A, a[:, :, None])[:, :, 0]
