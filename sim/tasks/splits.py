"""Splitting and scaling shared by every task source: seeded (stratified) index splits, the
validation split carved from the training split, and feature scaling fitted on the training
split only."""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError

__all__ = ["split_indices", "validation_indices", "carve_validation", "scale_features",
           "DEFAULT_VALIDATION_FRACTION"]

DEFAULT_VALIDATION_FRACTION = 0.2


def split_indices(y: np.ndarray, test_fraction: float, rng: np.random.Generator, stratify: bool):
    """Train/test index arrays (sklearn ``train_test_split``, ``random_state`` drawn from ``rng``)."""
    from sklearn.model_selection import train_test_split
    n = y.shape[0]
    n_test = int(np.ceil(round(test_fraction * n, 9)))  # 0.3 * 10 -> 3, not 4
    if n_test < 1 or n - n_test < 1:
        raise ValidationError("test_fraction", test_fraction,
                              f"leaves an empty train or test split for {n} samples")
    counts = np.bincount(y)
    if stratify and counts[counts > 0].min() < 2:
        raise ValidationError("stratify", stratify, "needs >= 2 samples of every class present")
    try:
        train, test = train_test_split(np.arange(n), test_size=n_test, shuffle=True,
                                       stratify=y if stratify else None,
                                       random_state=int(rng.integers(0, 2**31 - 1)))
    except ValueError as exc:
        raise ValidationError("test_fraction", test_fraction, str(exc)) from None
    return train.astype(np.int64), test.astype(np.int64)


def validation_indices(y: np.ndarray, fraction: float, rng: np.random.Generator):
    """Carve a validation split from training labels ``y``: ``(train, val)`` index arrays.

    ``ceil(fraction * n)`` samples go to validation (none for ``fraction = 0``, the final refit
    on all training data), stratified by class with scikit-learn's ``train_test_split``
    (``random_state`` drawn from ``rng``). Classes with a single sample cannot be split; they are
    pooled into one stratum for the split (and into the largest class if they are alone).
    Both index arrays are sorted, so the kept samples stay in their order.
    """
    from sklearn.model_selection import train_test_split
    n = y.shape[0]
    if fraction == 0:
        return np.arange(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_val = int(np.ceil(round(fraction * n, 9)))
    if n_val < 1 or n - n_val < 1:
        raise ValidationError("validation_fraction", fraction,
                              f"leaves an empty train or validation split for {n} training samples")
    counts = np.bincount(y)
    strata = y.copy()
    rare = counts[y] < 2
    if rare.any():
        strata[rare] = -1 if rare.sum() >= 2 else int(np.argmax(counts))
    try:
        train, val = train_test_split(np.arange(n), test_size=n_val, shuffle=True, stratify=strata,
                                      random_state=int(rng.integers(0, 2**31 - 1)))
    except ValueError:  # more strata than validation (or training) samples: split unstratified
        train, val = train_test_split(np.arange(n), test_size=n_val, shuffle=True,
                                      random_state=int(rng.integers(0, 2**31 - 1)))
    return np.sort(train).astype(np.int64), np.sort(val).astype(np.int64)


def carve_validation(X_train, y_train, meta: dict, fraction: float, rng: np.random.Generator):
    """Split training arrays into train and validation (:func:`validation_indices`).

    Per-sample ``meta`` entries of the training split (keys ending in ``_train`` whose first
    axis has ``n_train`` rows, e.g. ``bars_train``, ``index_train``) follow their samples: the
    validation rows go to the same key ending in ``_val``.

    Returns
    -------
    X_train, y_train, X_val, y_val, meta
    """
    train, val = validation_indices(y_train, fraction, rng)
    meta = dict(meta)
    for key, value in list(meta.items()):
        if key.endswith("_train") and isinstance(value, np.ndarray) and value.shape[:1] == y_train.shape[:1]:
            meta[key], meta[key[:-len("_train")] + "_val"] = value[train], value[val]
    return X_train[train], y_train[train], X_train[val], y_train[val], meta


def scale_features(X_train, X_test, scale, X_val=None):
    """Apply ``scale`` fitted on ``X_train`` to the three splits; return
    ``(X_train, X_test, X_val, text, scaler)`` (``X_val`` None when not given)."""
    if scale == "none":
        return X_train, X_test, X_val, "none", {}
    if scale == "max":
        return (X_train / 255.0, X_test / 255.0, None if X_val is None else X_val / 255.0,
                "pixels / 255 (fixed uint8 range, not fitted)", {})
    if scale == "standard":
        shift, width = X_train.mean(axis=0), X_train.std(axis=0)
        text = "per-feature standardization (x - mean) / std fitted on the training split"
    else:  # minmax
        shift, width = X_train.min(axis=0), np.ptp(X_train, axis=0)
        text = "per-feature min-max to [0, 1] fitted on the training split (others may exceed it)"
    width = np.where(width > 0, width, 1.0)  # constant features are only shifted
    return ((X_train - shift) / width, (X_test - shift) / width,
            None if X_val is None else (X_val - shift) / width, text, {"shift": shift, "scale": width})
