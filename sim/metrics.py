"""Metrics on predictions and representations: accuracy, confusion, sparsity, selectivity,
linear CKA and class-by-class representational dissimilarity matrices."""

from __future__ import annotations

import numpy as np

from sim.validation import check_array, check_labels

__all__ = ["accuracy", "confusion", "active_fraction", "treves_rolls", "class_selectivity",
           "linear_cka", "class_rdm"]


def accuracy(y_true, y_pred) -> float:
    """Fraction of equal labels."""
    y_true = check_labels("y_true", y_true)
    y_pred = check_labels("y_pred", y_pred, n_samples=y_true.shape[0])
    return float(np.mean(y_true == y_pred))


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of class ``i`` predicted as ``j``, shape (n_classes, n_classes)."""
    y_true = check_labels("y_true", y_true, n_classes)
    y_pred = check_labels("y_pred", y_pred, n_classes, n_samples=y_true.shape[0])
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (y_true, y_pred), 1)
    return C


def active_fraction(R, threshold: float = 0.0) -> np.ndarray:
    """Per input, the fraction of units with rate above ``threshold``; shape (n_samples,)."""
    R = check_array("R", R)
    return np.mean(R > threshold, axis=1)


def treves_rolls(R) -> np.ndarray:
    """Population sparseness per input (Treves & Rolls 1991; Vinje & Gallant 2000 form).

    ``a = (mean r)^2 / mean(r^2)`` over units, mapped to ``S = (1 - a) / (1 - 1/N)``: 0 for a
    dense uniform code, 1 when one unit carries all activity. Rates must be non-negative.
    Inputs with no activity get NaN. Shape (n_samples,).
    """
    R = check_array("R", R).astype(np.float64)
    N = R.shape[1]
    m2 = np.mean(R**2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.mean(R, axis=1) ** 2 / m2
    return np.where(m2 > 0, (1 - a) / (1 - 1 / N), np.nan)


def class_selectivity(R, y) -> np.ndarray:
    """Class selectivity index per unit (Morcos et al. 2018).

    ``(mu_max - mu_rest) / (mu_max + mu_rest)`` with ``mu_max`` the largest class-mean rate and
    ``mu_rest`` the mean of the other class means: 0 for equal response to every class, 1 for a
    unit that responds to one class only. Units silent for every class get NaN. Rates must be
    non-negative. Shape (n_units,).
    """
    R = check_array("R", R).astype(np.float64)
    y = check_labels("y", y, n_samples=R.shape[0])
    classes = np.unique(y)
    means = np.stack([R[y == c].mean(axis=0) for c in classes])  # (C, N)
    top = means.max(axis=0)
    rest = (means.sum(axis=0) - top) / (len(classes) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(top + rest > 0, (top - rest) / (top + rest), np.nan)


def linear_cka(X, Y) -> float:
    """Linear centered kernel alignment (Kornblith et al. 2019, ICML).

    ``CKA = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc, Yc``;
    X (n, p) and Y (n, q) hold two representations of the same n inputs. Invariant to
    orthogonal transforms and isotropic scaling of either; 1 for identical representations.
    """
    X = check_array("X", X).astype(np.float64)
    Y = check_array("Y", Y).astype(np.float64)
    if X.shape[0] != Y.shape[0]:
        from sim.errors import ValidationError
        raise ValidationError("Y", Y, f"must have the same number of rows as X ({X.shape[0]}), got {Y.shape[0]}")
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    cross = np.linalg.norm(Yc.T @ Xc) ** 2
    denom = np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)
    return float(cross / denom) if denom > 0 else float("nan")


def class_rdm(R, y) -> np.ndarray:
    """Class-by-class representational dissimilarity: ``1 - Pearson r`` of class-mean vectors.

    Shape (n_classes, n_classes), zero diagonal (Kriegeskorte et al. 2008).
    """
    R = check_array("R", R).astype(np.float64)
    y = check_labels("y", y, n_samples=R.shape[0])
    means = np.stack([R[y == c].mean(axis=0) for c in np.unique(y)])
    return 1.0 - np.corrcoef(means)
