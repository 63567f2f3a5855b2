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

Is a small cosine different from no alignment at all? :func:`permutation_null` answers with a
null distribution: the cosines of the same update with its rows permuted (which hidden unit gets
which unit's update) against the unpermuted gradient. Permuting units keeps every statistic of
the update (its norm, its rows, its sparsity) but breaks the pairing of a unit's update with that
unit's gradient; the observed cosine is reported as a z-score and a percentile of that null.
:func:`alignment_record` is what the study records per epoch; with ``schedule='concurrent'`` the
readout learns in the same epochs as the hidden layer, so the cosine is measured *during* hidden
learning (with the sequential schedule the readout is still untrained then and the gradient is 0).
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.models.hebbian import HebbianNet
from sim.models.mlp import BackpropMLP

__all__ = ["cosine", "hebbian_gradient", "hebbian_direction", "hebbian_alignment", "feedback_alignment",
           "permutation_null", "alignment_record", "N_PERMUTATIONS"]

N_PERMUTATIONS = 200  # permutations of the null distribution per measurement


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


def permutation_null(update, gradient, rng: np.random.Generator, n_permutations: int = N_PERMUTATIONS) -> dict:
    """The observed cosine of ``update`` with ``gradient`` against a unit-permutation null.

    Parameters
    ----------
    update, gradient : ndarray, shape (n_units, n_in)
        A local update and the gradient direction ``-dL/dW`` of the same weights (rows: units).
    rng : numpy.random.Generator
        Draws the permutations.
    n_permutations : int >= 2
        Size of the null distribution.

    Returns
    -------
    dict
        ``observed`` (cosine), ``null`` (ndarray (n_permutations,), the cosines of
        ``update[perm]`` with ``gradient``), ``null_mean``, ``null_sd``, ``z``
        (``(observed - null_mean) / null_sd``), ``percentile`` (% of the null strictly below the
        observed cosine, half of the ties counted), ``p`` (two-sided permutation p,
        ``(1 + #{|null - mean| >= |observed - mean|}) / (n + 1)``). NaN where the cosine is
        undefined (a zero update or gradient).
    """
    from sim.validation import check_int
    n = check_int("n_permutations", n_permutations, low=2)
    if not isinstance(rng, np.random.Generator):
        raise ValidationError("rng", rng, "must be a numpy.random.Generator")
    U = np.asarray(update, dtype=np.float64)
    G = np.asarray(gradient, dtype=np.float64)
    if U.ndim != 2 or U.shape != G.shape:
        raise ValidationError("update", U.shape, f"must be 2-D with the gradient's shape {G.shape}")
    nu, ng = np.linalg.norm(U), np.linalg.norm(G)
    if not (nu > 0 and ng > 0):
        nan = float("nan")
        return {"observed": nan, "null": np.full(n, nan), "null_mean": nan, "null_sd": nan, "z": nan,
                "percentile": nan, "p": nan}
    # cosine(U[perm], G) = sum_i <U[perm_i], G_i> / (|U| |G|): the row products of every pairing
    P = U @ G.T  # P[a, b] = <U_a, G_b>
    cols = np.arange(U.shape[0])
    observed = float(P[cols, cols].sum() / (nu * ng))  # summed like the null: equal pairings tie exactly
    null = np.array([P[rng.permutation(U.shape[0]), cols].sum() for _ in range(n)]) / (nu * ng)
    mean, sd = float(null.mean()), float(null.std(ddof=1))
    z = (observed - mean) / sd if sd > 1e-12 else float("nan")
    tie = np.abs(null - observed) <= 1e-12
    percentile = 100.0 * (np.mean((null < observed) & ~tie) + 0.5 * np.mean(tie))
    p = (1 + np.sum(np.abs(null - mean) >= abs(observed - mean) - 1e-12)) / (n + 1)
    return {"observed": observed, "null": null, "null_mean": mean, "null_sd": sd, "z": float(z),
            "percentile": float(percentile), "p": float(p)}


def alignment_record(model, X, y, rng: np.random.Generator, n_permutations: int = N_PERMUTATIONS) -> dict:
    """What a study records per epoch for a Hebbian network: ``alignment`` (the cosine of its
    hidden update with ``-dL/dW`` on batch ``X, y``), ``alignment_z``, ``alignment_percentile``
    and ``alignment_null_sd`` (:func:`permutation_null` of that update, ``n_permutations``
    unit permutations drawn from ``rng``)."""
    null = permutation_null(hebbian_direction(model, X), hebbian_gradient(model, X, y), rng, n_permutations)
    return {"alignment": null["observed"], "alignment_z": null["z"], "alignment_percentile": null["percentile"],
            "alignment_null_sd": null["null_sd"]}
