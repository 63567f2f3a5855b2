"""How well does a local update follow the gradient? Cosines between learning directions.

For a `HebbianNet`, :func:`hebbian_alignment` compares, on the same batch and the same weights,
the hidden rule's direction (what the synapses do, `HebbianNet.hidden_direction`) with the
backprop direction ``-dL/dW`` of the readout's cross-entropy with respect to the hidden weights
(what would reduce the task loss, `HebbianNet.hidden_gradient`). The gradient flows through the
readout, the per-unit scaling (held fixed), the power ``r^n``, and the settled code: for uniform
inhibition the closed-form fixed point is differentiable within its active set A (``k = |A|``),

    dr_i/dJ_j = (delta_ij - w / (1 - w + w k)) / (1 - w)    for i, j in A, else 0,

and, for the p-metric current, ``dJ/dW = (p - 1) |W|^(p-2) x``. For a `BackpropMLP` trained by
feedback alignment, :func:`feedback_alignment` compares its hidden-layer update with the true
gradient on the same batch (`BackpropMLP.layer_directions`; Lillicrap et al. 2016 show the angle
shrinks below 90 degrees as the forward weights come to align with the fixed feedback). A
cosine near 0 means the local rule is orthogonal to the task gradient; positive values mean it
helps the loss to first order.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.models.hebbian import HebbianNet
from sim.models.mlp import BackpropMLP

__all__ = ["cosine", "hebbian_gradient", "hebbian_direction", "hebbian_alignment", "feedback_alignment"]


def cosine(a, b) -> float:
    """Cosine of the angle between two arrays seen as vectors (NaN if either is zero)."""
    a = np.ravel(np.asarray(a, dtype=np.float64))
    b = np.ravel(np.asarray(b, dtype=np.float64))
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def _hebbian(model) -> HebbianNet:
    if not isinstance(model, HebbianNet):
        raise ValidationError("model", type(model).__name__, "must be a fitted HebbianNet with a hidden layer")
    return model


def hebbian_gradient(model, X, y) -> np.ndarray:
    """``-dL/dW`` of the hidden weights (mean cross-entropy of the batch), shape of ``W``."""
    return _hebbian(model).hidden_gradient(X, y)


def hebbian_direction(model, X) -> np.ndarray:
    """The hidden rule's direction on batch ``X`` (what one local update would do), shape of ``W``."""
    return _hebbian(model).hidden_direction(X)


def hebbian_alignment(model, X, y) -> float:
    """Cosine between the hidden rule's direction and ``-dL/dW`` on the same batch."""
    return cosine(hebbian_direction(model, X), hebbian_gradient(model, X, y))


def feedback_alignment(model, X, y) -> list[float]:
    """Per hidden layer of a feedback-alignment MLP, the cosine between its update and the true
    gradient on batch ``X, y`` (same weights). For a backprop MLP every cosine is 1."""
    if not isinstance(model, BackpropMLP):
        raise ValidationError("model", type(model).__name__, "must be a fitted BackpropMLP")
    own = model.layer_directions(X, y)
    true = model.layer_directions(X, y, learning="backprop")
    return [cosine(a, b) for a, b in zip(own[:-1], true[:-1])]
