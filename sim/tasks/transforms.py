"""Pure data transforms re-exported by :mod:`sim.tasks`.

Each returns new arrays (or a new `Task`) and draws only from the `numpy.random.Generator`
``rng`` it is given (an int seed is accepted too and turned into a Generator).
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.tasks.task import Task
from sim.validation import as_generator, check_array, check_int, check_labels, check_number

__all__ = ["add_noise", "occlude", "label_noise", "subsample", "class_subset"]


def add_noise(X, std, rng) -> np.ndarray:
    """Return ``X + N(0, std^2)`` (independent per entry).

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
    std : float >= 0
        Noise standard deviation, in the units of ``X``.
    rng : numpy.random.Generator or int

    Returns
    -------
    ndarray, shape (n_samples, n_features), float64
    """
    X = check_array("X", X, dtype=np.float64)
    std = check_number("std", std, low=0.0)
    rng = as_generator(rng, "rng")
    return X + std * rng.standard_normal(X.shape)


def occlude(X, fraction, rng, image_shape=None, fill=0.0) -> np.ndarray:
    """Set one random contiguous block covering about ``fraction`` of each input to ``fill``.

    For 2-D images (``image_shape=(h, w)``) the block is a ``round(h sqrt(f)) x
    round(w sqrt(f))`` patch (square for square images); otherwise (``image_shape`` None or
    1-D) it is a window of ``round(f * d)`` consecutive features. Each sample gets its own
    uniformly drawn position, with the block fully inside the input.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        Flattened inputs (row-major images).
    fraction : float in [0, 1]
        Target share of occluded features (exact up to rounding of the block size).
    rng : numpy.random.Generator or int
    image_shape : tuple of int, optional
        ``(h, w)`` with ``h * w == n_features``, or ``(n_features,)``; e.g. ``task.meta["image_shape"]``.
    fill : float
        Value written into the block.

    Returns
    -------
    ndarray, shape (n_samples, n_features), float64
    """
    X = check_array("X", X, dtype=np.float64)
    fraction = check_number("fraction", fraction, low=0.0, high=1.0)
    fill = check_number("fill", fill)
    rng = as_generator(rng, "rng")
    n, d = X.shape
    if image_shape is None:
        image_shape = (d,)
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ValidationError("image_shape", image_shape, "must be a tuple of ints") from None
    if len(shape) not in (1, 2) or min(shape) < 1 or int(np.prod(shape)) != d:
        raise ValidationError("image_shape", image_shape, f"must be (h, w) or (d,) with product {d}")
    out = X.copy()
    if len(shape) == 1:
        size = int(round(fraction * d))
        start = rng.integers(0, d - size + 1, size=n)
        pos = np.arange(d)
        mask = (pos >= start[:, None]) & (pos < start[:, None] + size)
    else:
        h, w = shape
        ph, pw = int(round(h * np.sqrt(fraction))), int(round(w * np.sqrt(fraction)))
        r0 = rng.integers(0, h - ph + 1, size=n)
        c0 = rng.integers(0, w - pw + 1, size=n)
        rows = (np.arange(h) >= r0[:, None]) & (np.arange(h) < r0[:, None] + ph)
        cols = (np.arange(w) >= c0[:, None]) & (np.arange(w) < c0[:, None] + pw)
        mask = (rows[:, :, None] & cols[:, None, :]).reshape(n, d)
    out[mask] = fill
    return out


def label_noise(y, fraction, n_classes, rng) -> np.ndarray:
    """Flip exactly ``round(fraction * n)`` labels, each to a different, uniformly drawn class.

    Parameters
    ----------
    y : array_like, shape (n,)
        Labels in ``0..n_classes-1``.
    fraction : float in [0, 1]
    n_classes : int >= 2
    rng : numpy.random.Generator or int

    Returns
    -------
    ndarray, shape (n,), int64
        The flipped positions are drawn without replacement.
    """
    n_classes = check_int("n_classes", n_classes, low=2)
    y = check_labels("y", y, n_classes)
    fraction = check_number("fraction", fraction, low=0.0, high=1.0)
    rng = as_generator(rng, "rng")
    k = int(round(fraction * y.shape[0]))
    where = rng.choice(y.shape[0], size=k, replace=False)
    out = y.copy()
    out[where] = (y[where] + rng.integers(1, n_classes, size=k)) % n_classes
    return out


def _take(task, train, test, val=slice(None)):
    """``task``'s meta restricted to rows ``train`` / ``test`` / ``val`` (per-sample entries follow)."""
    meta = dict(task.meta)
    for key, value in task.meta.items():
        for suffix, rows, n in (("_train", train, task.n_train), ("_test", test, task.n_test),
                                ("_val", val, task.n_val)):
            if key.endswith(suffix) and isinstance(value, np.ndarray) and value.shape[:1] == (n,):
                meta[key] = value[rows]
    return meta


def _check_task(task):
    if not isinstance(task, Task):
        raise ValidationError("task", task, "must be a sim.tasks.Task")
    return task


def subsample(task, n_per_class, rng):
    """Keep exactly ``n_per_class`` training samples of each class (validation and test unchanged).

    Nested: each class present in ``y_train`` (in order 0, 1, ...) gets one permutation drawn
    from ``rng`` and its first ``n_per_class`` entries are kept, so with equally seeded
    Generators a smaller ``n_per_class`` selects a subset of a larger one. Kept samples stay
    in their original order. Classes absent from ``y_train`` are skipped.

    Parameters
    ----------
    task : Task
    n_per_class : int >= 1
        Must not exceed the size of any class present.
    rng : numpy.random.Generator or int

    Returns
    -------
    Task
        ``meta["n_per_class"]`` records ``n_per_class``.
    """
    task = _check_task(task)
    n_per_class = check_int("n_per_class", n_per_class, low=1)
    rng = as_generator(rng, "rng")
    keep = []
    for c in range(task.n_classes):
        members = np.flatnonzero(task.y_train == c)
        if members.size == 0:
            continue
        perm = rng.permutation(members)
        if members.size < n_per_class:
            raise ValidationError("n_per_class", n_per_class,
                                  f"class {c} has only {members.size} training samples")
        keep.append(perm[:n_per_class])
    train = np.sort(np.concatenate(keep))
    meta = _take(task, train, slice(None))
    meta["n_per_class"] = n_per_class
    return task.with_data(X_train=task.X_train[train], y_train=task.y_train[train], meta=meta)


def class_subset(task, classes, relabel=False):
    """Keep only the samples (train, validation and test) whose label is in ``classes``.

    Parameters
    ----------
    task : Task
    classes : sequence of int
        Distinct labels in ``0..n_classes-1``.
    relabel : bool
        If True, ``classes[i]`` becomes label ``i`` and ``n_classes = len(classes)``;
        otherwise labels and ``n_classes`` are unchanged (for sequential learning).

    Returns
    -------
    Task
        ``meta["classes_kept"]`` is ``tuple(classes)`` (in the input task's labels).
    """
    task = _check_task(task)
    arr = np.asarray(classes)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError("classes", classes, "must be a non-empty sequence of int labels")
    if arr.min() < 0 or arr.max() >= task.n_classes or np.unique(arr).size != arr.size:
        raise ValidationError("classes", classes, f"must be distinct labels in 0..{task.n_classes - 1}")
    if not isinstance(relabel, (bool, np.bool_)):
        raise ValidationError("relabel", relabel, "must be True or False")
    train = np.flatnonzero(np.isin(task.y_train, arr))
    test = np.flatnonzero(np.isin(task.y_test, arr))
    val = np.flatnonzero(np.isin(task.y_val, arr))
    if train.size == 0 or test.size == 0:
        raise ValidationError("classes", classes, "leave no training or no test samples")
    y_train, y_test, y_val, n_classes = task.y_train[train], task.y_test[test], task.y_val[val], task.n_classes
    if relabel:
        lookup = np.full(task.n_classes, -1, dtype=np.int64)
        lookup[arr] = np.arange(arr.size)
        y_train, y_test, y_val, n_classes = lookup[y_train], lookup[y_test], lookup[y_val], int(arr.size)
    meta = _take(task, train, test, val)
    meta.update(classes_kept=tuple(int(c) for c in arr), relabelled=bool(relabel))
    return task.with_data(X_train=task.X_train[train], y_train=y_train, X_test=task.X_test[test],
                          y_test=y_test, X_val=task.X_val[val], y_val=y_val, n_classes=n_classes, meta=meta)
