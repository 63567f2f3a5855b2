"""Validation helpers: each refuses bad input with a `ValidationError` naming the parameter."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from sim.errors import ValidationError

__all__ = [
    "check_number",
    "check_int",
    "check_bool",
    "check_choice",
    "check_array",
    "check_labels",
    "check_dtype",
    "check_state",
    "as_generator",
]


def check_number(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a finite float inside ``[low, high]`` (ends open if asked).

    Raises
    ------
    ValidationError
        If ``value`` is not a real number, is NaN/inf, or lies outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(name, value, "must be a real number")
    x = float(value)
    if not np.isfinite(x):
        raise ValidationError(name, value, "must be finite")
    if low is not None and (x < low or (low_open and x == low)):
        raise ValidationError(name, value, f"must be {'>' if low_open else '>='} {low}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValidationError(name, value, f"must be {'<' if high_open else '<='} {high}")
    return x


def check_int(name: str, value, *, low=None, high=None) -> int:
    """Return ``value`` as an int inside ``[low, high]``; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(name, value, "must be an integer")
    x = int(value)
    if low is not None and x < low:
        raise ValidationError(name, value, f"must be >= {low}")
    if high is not None and x > high:
        raise ValidationError(name, value, f"must be <= {high}")
    return x


def check_bool(name: str, value) -> bool:
    """Return ``value`` as a bool; only ``True`` / ``False`` (or numpy bools) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValidationError(name, value, "must be True or False")
    return bool(value)


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` (lower-cased) if it is one of ``choices``; else list the valid ones."""
    valid = sorted(choices)
    key = value.lower() if isinstance(value, str) else value
    if not isinstance(key, str) or key not in valid:  # not `in` for others: an array's `==` is elementwise
        raise ValidationError(name, value, f"unknown; valid: {', '.join(valid)}")
    return key


def check_dtype(name: str, value) -> np.dtype:
    """Return a floating dtype, float32 or float64 (given by name, type or dtype: not by a value
    or an array, whose dtype numpy would take)."""
    if not isinstance(value, (str, type, np.dtype)):
        raise ValidationError(name, value, "must be float32 or float64")
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError):  # ValueError: a malformed structured spec such as {"": ""}
        raise ValidationError(name, value, "must be float32 or float64") from None
    if dt not in (np.float32, np.float64):
        raise ValidationError(name, value, "must be float32 or float64")
    return dt


def check_array(name: str, X, *, ndim: int = 2, n_features: int | None = None, dtype=None,
                finite: bool = True, min_rows: int = 1) -> np.ndarray:
    """Return ``X`` as a numeric array of the given rank, refusing bad shapes and NaN/inf.

    Parameters
    ----------
    name : str
        Parameter name for error messages.
    X : array_like
        Input; shape ``(n_samples, n_features)`` when ``ndim == 2``.
    ndim : int
        Required number of dimensions.
    n_features : int, optional
        Required size of the last axis.
    dtype : numpy dtype, optional
        Convert to this dtype (default: keep floats, turn ints into float64).
    finite : bool
        Refuse NaN and inf.
    min_rows : int
        Minimum size of the first axis.
    """
    if type(X) is np.ndarray and X.dtype in _FLOATS:  # the common case, without dtype inspection
        arr = X
    else:
        arr = _numeric(name, X)
    if arr.ndim != ndim:
        raise ValidationError(name, X, f"must have {ndim} dimensions, got shape {arr.shape}")
    if ndim >= 1 and arr.shape[0] < min_rows:
        raise ValidationError(name, X, f"needs at least {min_rows} rows, got shape {arr.shape}")
    if n_features is not None and arr.shape[-1] != n_features:
        raise ValidationError(name, X, f"must have {n_features} features (last axis), got shape {arr.shape}")
    if finite and arr.size and not _all_finite(arr):
        raise ValidationError(name, X, "contains NaN or inf")
    if dtype is not None:
        with np.errstate(over="ignore"):
            converted = arr.astype(dtype, copy=False)
        if finite and arr.size and converted is not arr and not _all_finite(converted):
            top = float(np.finfo(converted.dtype).max)
            raise ValidationError(name, X, f"has values beyond the {converted.dtype} range (|x| > {top:.3g})")
        arr = converted
    elif not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _numeric(name, X) -> np.ndarray:
    """``X`` as an array of real numbers (or booleans), else a ValidationError."""
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists etc.
        raise ValidationError(name, X, f"cannot be converted to an array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValidationError(name, X, "must be numeric")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValidationError(name, X, "must be real (complex values are not accepted)")
    return arr


def _all_finite(arr: np.ndarray) -> bool:
    """No NaN or inf in ``arr`` (the method form skips a Python wrapper of ``np.all``)."""
    return bool(np.isfinite(arr).all())


def check_labels(name: str, y, n_classes: int | None = None, n_samples: int | None = None) -> np.ndarray:
    """Return integer labels in ``0..n_classes-1`` as an int64 vector."""
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError) as exc:  # ragged lists etc.
        raise ValidationError(name, y, f"cannot be converted to an array ({exc})") from None
    if arr.ndim != 1:
        raise ValidationError(name, y, f"must be a 1-D label vector, got shape {arr.shape}")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValidationError(name, y, f"must have {n_samples} labels (one per sample), got {arr.shape[0]}")
    if arr.size and np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValidationError(name, y, "labels must be integers")
    elif arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(name, y, "labels must be integers")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValidationError(name, y, f"labels must be >= 0, got min {arr.min()}")
    if n_classes is not None and arr.size and arr.max() >= n_classes:
        raise ValidationError(name, y, f"labels must be in 0..{n_classes - 1}, got max {arr.max()}")
    return arr


def check_state(name: str, value, like) -> np.ndarray:
    """Return a copy of ``value``, a restored state array (a loaded file's), after checking that it has
    the shape and dtype of ``like``, the buffer it replaces (none to compare with: ``like`` None)."""
    arr = np.asarray(value)
    if like is not None and (arr.shape != like.shape or arr.dtype != like.dtype):
        raise ValidationError(name, value, f"must be an array of shape {like.shape} and dtype {like.dtype}, "
                              f"not {arr.shape} {arr.dtype}")
    return arr.copy()


def as_generator(seed_or_rng, name: str = "seed") -> np.random.Generator:
    """Return a `numpy.random.Generator` from an int seed, a SeedSequence or a Generator.

    ``None`` is refused: every draw in neurocompare must be reproducible.
    """
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, np.random.SeedSequence):
        return np.random.default_rng(seed_or_rng)
    if isinstance(seed_or_rng, bool) or not isinstance(seed_or_rng, numbers.Integral):
        raise ValidationError(name, seed_or_rng, "must be a non-negative int or a numpy Generator")
    return np.random.default_rng(check_int(name, seed_or_rng, low=0))
