"""Gradients of a model's loss with respect to its input, through the model's own network.

Every model of the family is its `sim.substrate.network.Network` (``network_.forward(X)[-1]``
equals ``predict_proba(X)``), so one backward pass serves them all. For connection ``l`` with
feature map ``f_l`` (the Hebbian readout's power-and-RMS features, an appended bias unit, or
none) and efficacy ``M_l`` (``W``, or the p-metric ``sign(W)|W|^(p-1)``)::

    J_l = f_l(r_{l-1}) M_l^T + b_l,     r_l = settled state of population l under J_l.

Backwards, ``dL/dJ_l`` comes from ``dL/dr_l`` by the settled state's vector-Jacobian product
(`sim.substrate.implicit.settled_vjp`: ``phi'(J)`` without inhibition, the active-set Jacobian of
the k-WTA code for ReLU units with uniform inhibition, the implicit-function Jacobian with
learned lateral weights), then ``dL/df_l = dL/dJ_l M_l``, and ``dL/dr_{l-1}`` through the
feature map with its running RMS held fixed (`sim.substrate.features.FeatureMap.input_gradient`;
the constant bias unit receives no gradient).

The loss is the one the model trains its output on, per sample: the cross-entropy
``-log softmax(J_L)_y`` (nats) for a softmax output, else the squared error
``0.5 sum_k (r_k - t_k)^2`` against one-hot targets. :func:`output_margin` gives the
margin loss that attacks use (``max_{j != y} J_j - J_y`` on the output currents).
All arithmetic is float64, whatever the model's dtype.
"""

from __future__ import annotations

import numpy as np

from sim.substrate import neurons
from sim.substrate.implicit import settled_vjp
from sim.validation import check_array, check_choice, check_labels

__all__ = ["input_gradient", "network_forward", "network_vjp", "output_gradient", "output_margin", "LOSSES"]

LOSSES = ("loss", "margin")


def network_forward(network, X) -> dict:
    """Float64 forward pass of ``network`` keeping what the backward pass needs.

    Parameters
    ----------
    network : sim.substrate.network.Network
    X : ndarray, shape (n, n_features)

    Returns
    -------
    dict
        ``rates`` ``[X, r_1, ..., r_L]`` (shapes (n, n_l)), ``potentials`` ``[v_1, ..., v_L]``
        (settled potentials; ``v_L`` is the output current ``J_L``), ``currents``
        ``[J_1, ..., J_L]`` and ``steps`` (settle steps of each population, 0 for a closed form).
    """
    r = np.asarray(X, dtype=np.float64)
    rates, potentials, currents, steps = [r], [], [], []
    for l, conn in enumerate(network.connections):
        F = r if conn.pre_map is None else conn.pre_map(r)
        J = F @ np.asarray(conn.efficacy(), dtype=np.float64).T
        if conn.has_bias:
            J = J + np.asarray(conn.b, dtype=np.float64)
        v, r, s = network.steady_state(l, J)
        r = np.asarray(r, dtype=np.float64)
        rates.append(r)
        potentials.append(np.asarray(v, dtype=np.float64))
        currents.append(J)
        steps.append(int(s))
    return {"rates": rates, "potentials": potentials, "currents": currents, "steps": steps}


def network_vjp(network, forward: dict, g_out) -> np.ndarray:
    """``dL/dX`` given ``g_out = dL/dJ_L`` at the output currents, through every stage.

    Parameters
    ----------
    network : sim.substrate.network.Network
    forward : dict
        :func:`network_forward` of the same network and inputs.
    g_out : ndarray, shape (n, n_out)

    Returns
    -------
    ndarray, shape (n, n_features), float64
    """
    rates, potentials = forward["rates"], forward["potentials"]
    g_J = np.asarray(g_out, dtype=np.float64)
    for l in range(network.n_layers - 1, -1, -1):
        conn = network.connections[l]
        g_F = (g_J @ np.asarray(conn.efficacy(), dtype=np.float64))[:, :conn.n_source]
        g_r = g_F if conn.pre_map is None else conn.pre_map.input_gradient(rates[l], g_F)
        if l == 0:
            return g_r
        pop = network.populations[l]
        g_J = settled_vjp(potentials[l - 1], g_r, pop.neuron, pop.w_inh, pop.lateral)
    raise AssertionError("unreachable: a network has at least one connection")


def output_gradient(network, forward: dict, y, loss: str = "loss") -> tuple[np.ndarray, np.ndarray]:
    """Per-sample loss and ``dL/dJ_L`` at the output currents.

    Parameters
    ----------
    network : sim.substrate.network.Network
    forward : dict
        :func:`network_forward`.
    y : ndarray of int, shape (n,)
        Labels in ``0 .. n_out - 1``.
    loss : {'loss', 'margin'}
        'loss': the model's training loss (cross-entropy for a softmax output, else the squared
        error against one-hot targets). 'margin': :func:`output_margin`.

    Returns
    -------
    value : ndarray, shape (n,), float64
    g_out : ndarray, shape (n, n_out), float64
    """
    loss = check_choice("loss", loss, LOSSES)
    J, r = forward["potentials"][-1], forward["rates"][-1]
    n, idx = J.shape[0], np.arange(J.shape[0])
    out = network.populations[-1].neuron
    if loss == "margin":
        value, other = output_margin(J, y, return_other=True)
        g = np.zeros_like(J)
        g[idx, other] = 1.0
        g[idx, y] -= 1.0
        return value, g
    T = np.zeros_like(J)
    T[idx, y] = 1.0
    if isinstance(out, neurons.Softmax):
        logp = J - J.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        return -logp[idx, y], np.exp(logp) - T
    value = 0.5 * np.sum((r - T) ** 2, axis=1)
    return value, (r - T) * np.asarray(out.derivative(J), dtype=np.float64).reshape(n, -1)


def output_margin(J, y, return_other: bool = False):
    """Margin loss ``max_{j != y} J_j - J_y`` of output currents ``J`` (n, n_out), float64: positive
    exactly when the input is misclassified (ties aside). With ``return_other``, also the index of
    the best other class."""
    J = np.asarray(J, dtype=np.float64)
    idx = np.arange(J.shape[0])
    masked = J.copy()
    masked[idx, y] = -np.inf
    other = np.argmax(masked, axis=1)
    value = J[idx, other] - J[idx, y]
    return (value, other) if return_other else value


def input_gradient(model, X, y, loss: str = "loss") -> np.ndarray:
    """``dL_i/dx_i``: gradient of each sample's loss with respect to its own input.

    The loss is the model's training loss on its output (cross-entropy of the softmax readout,
    nats; the squared error for a linear or sigmoid MLP output), per sample, not averaged: row
    ``i`` is the gradient of sample ``i``'s loss (the gradient of the batch mean is this divided
    by ``n``). Back-propagated through the model's network (module docstring), in float64,
    with a Hebbian readout's running RMS held fixed.

    Parameters
    ----------
    model : fitted BackpropMLP, HebbianNet or LinearReadout
    X : array_like, shape (n, n_features)
    y : array_like of int, shape (n,)
        Labels ``0 .. n_classes - 1``.
    loss : {'loss', 'margin'}
        'margin': the gradient of :func:`output_margin` instead (what attacks climb).

    Returns
    -------
    ndarray, shape (n, n_features), float64

    Raises
    ------
    ValidationError
        For an unfitted model, or ``X`` / ``y`` of the wrong shape or labels out of range.
    """
    model.check_fitted()
    X = check_array("X", X, n_features=model.n_features_in_, dtype=np.float64)
    y = check_labels("y", y, model.n_classes_, n_samples=X.shape[0])
    network = model.network_
    forward = network_forward(network, X)
    return network_vjp(network, forward, output_gradient(network, forward, y, loss)[1])
