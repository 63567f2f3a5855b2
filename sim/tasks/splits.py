"""Splitting and scaling shared by every task source: seeded (stratified) index splits and
feature scaling fitted on the training split only."""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError

__all__ = ["split_indices", "scale_features"]


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


def scale_features(X_train, X_test, scale):
    """Apply ``scale`` fitted on ``X_train``; return ``(X_train, X_test, text, scaler)``."""
    if scale == "none":
        return X_train, X_test, "none", {}
    if scale == "max":
        return X_train / 255.0, X_test / 255.0, "pixels / 255 (fixed uint8 range, not fitted)", {}
    if scale == "standard":
        shift, width = X_train.mean(axis=0), X_train.std(axis=0)
        text = "per-feature standardization (x - mean) / std fitted on the training split"
    else:  # minmax
        shift, width = X_train.min(axis=0), np.ptp(X_train, axis=0)
        text = "per-feature min-max to [0, 1] fitted on the training split (test may exceed it)"
    width = np.where(width > 0, width, 1.0)  # constant features are only shifted
    return ((X_train - shift) / width, (X_test - shift) / width, text,
            {"shift": shift, "scale": width})

