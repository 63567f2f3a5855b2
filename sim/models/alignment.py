"""How well does a local update follow the gradient? Cosines between learning directions.

For a `HebbianNet`, :func:`hebbian_alignment` compares, on the same batch and the same weights,
the hidden rule's direction (what the synapses do) with the backprop direction ``-dL/dW`` of the
readout's cross-entropy with respect to the hidden weights (what would reduce the task loss).
The gradient flows through the readout, the per-unit scaling (held fixed), the power ``r^n``,
and the settled code: for uniform inhibition the closed-form fixed point is differentiable
within its active set A (``k = |A|``),

    dr_i/dJ_j = (delta_ij - w / (1 - w + w k)) / (1 - w)    for i, j in A, else 0,

and, for the p-metric current, ``dJ/dW = (p - 1) |W|^(p-2) x``. For a `BackpropMLP` trained by
feedback alignment, :func:`feedback_alignment` compares its hidden-layer update with the true
gradient on the same batch (Lillicrap et al. 2016 show the angle shrinks below 90 degrees as
the forward weights come to align with the fixed feedback). A cosine near 0 means the local
rule is orthogonal to the task gradient; positive values mean it helps the loss to first order.
"""

from __future__ import annotations

import numpy as np

from sim.substrate import neurons
from sim.errors import ValidationError
from sim.validation import check_labels

__all__ = ["cosine", "hebbian_gradient", "hebbian_direction", "hebbian_alignment", "feedback_alignment"]


def cosine(a, b) -> float:
    """Cosine of the angle between two arrays seen as vectors (NaN if either is zero)."""
    a = np.ravel(np.asarray(a, dtype=np.float64))
    b = np.ravel(np.asarray(b, dtype=np.float64))
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def _check(model, X, y):
    from sim.models.hebbian import HebbianNet
    if not isinstance(model, HebbianNet) or not model._N:
        raise ValidationError("model", type(model).__name__, "must be a fitted HebbianNet with a hidden layer")
    X = model._check_X(X)
    return X, check_labels("y", y, model.n_classes_, n_samples=X.shape[0])


def hebbian_gradient(model, X, y) -> np.ndarray:
    """``-dL/dW`` of the hidden weights (mean cross-entropy of the batch), shape of ``W``."""
    X, y = _check(model, X, y)
    conn = model._hidden_conn
    W = conn.W.astype(np.float64)
    Xa = model._augment(X).astype(np.float64)
    p = float(model._rule.p) if model.current == "metric" else 2.0
    M = np.sign(W) * np.abs(W) ** (p - 1) if model.current == "metric" else W
    J = Xa @ M.T + conn.b
    R = model._settle(X)[0].astype(np.float64)
    n = float(model.readout_power)
    scale = (np.sqrt(model._ms) + 1e-12) if (model.readout_scaling == "rms" and model._ms_count) else 1.0
    F = np.sign(R) * np.abs(R) ** n / scale
    P = neurons.Softmax().rate(F @ model._Wr.T.astype(np.float64) + model._br)
    P[np.arange(len(y)), y] -= 1
    g_F = (P / len(y)) @ model._Wr.astype(np.float64)                 # dL/dF
    g_R = g_F * n * np.abs(R) ** (n - 1) / scale                      # dL/dR
    w = float(model.w_inh)
    if isinstance(model._phi, neurons.ReLU) and w > 0:
        active = R > 0
        k = active.sum(axis=1, keepdims=True)
        c = w / (1 - w + w * k)
        g_J = np.where(active, g_R - c * np.sum(np.where(active, g_R, 0), axis=1, keepdims=True), 0) / (1 - w)
    elif w == 0 and model.lateral_ is None:
        g_J = g_R * model._phi.derivative(J)
    else:
        raise ValidationError("model", model, "the gradient is implemented for ReLU units with uniform "
                                              "inhibition or for uninhibited units")
    g_M = g_J.T @ Xa                                                  # dL/dM
    g_W = g_M * (p - 1) * np.abs(W) ** (p - 2) if model.current == "metric" else g_M
    return -g_W


def hebbian_direction(model, X) -> np.ndarray:
    """The hidden rule's direction on batch ``X`` (what one local update would do), shape of ``W``."""
    X = model._check_X(X)
    if model._rule is None:
        raise ValidationError("model", model, "rule 'none' has no hidden update")
    R = model._settle(X)[0]
    return np.asarray(model._rule.delta(model._augment(X), R, model._hidden_conn.W), dtype=np.float64)


def hebbian_alignment(model, X, y) -> float:
    """Cosine between the hidden rule's direction and ``-dL/dW`` on the same batch."""
    return cosine(hebbian_direction(model, X), hebbian_gradient(model, X, y))


def feedback_alignment(model, X, y) -> list[float]:
    """Per hidden layer of a feedback-alignment MLP, the cosine between its update and the true
    gradient on batch ``X, y`` (same weights). For a backprop MLP every cosine is 1."""
    from sim.models.mlp import BackpropMLP
    from sim.learning.rules import Backprop
    if not isinstance(model, BackpropMLP):
        raise ValidationError("model", type(model).__name__, "must be a fitted BackpropMLP")
    X = model._check_X(X)
    T = model._targets(check_labels("y", y, model.n_classes_, n_samples=X.shape[0]))
    model._gradient(X, T)
    own = [d.astype(np.float64) for d in model._dWs]
    rule = model._rule
    try:
        model._rule = Backprop()
        model._gradient(X, T)
        true = [d.astype(np.float64) for d in model._dWs]
    finally:
        model._rule = rule
    model._grad[...] = 0
    return [cosine(a, b) for a, b in zip(own[:-1], true[:-1])]
