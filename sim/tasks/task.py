"""The `Task`: one classification data set with fixed train / validation / test splits, read-only."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import numpy as np

from sim.errors import ValidationError
from sim.validation import check_array, check_int, check_labels

__all__ = ["Task", "frozen"]


def frozen(arr: np.ndarray) -> np.ndarray:
    """Read-only array not shared with the caller (copied unless already read-only)."""
    if arr.flags.writeable:
        arr = arr.copy()
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Task:
    """A classification task with fixed train, validation and test splits.

    The validation split is for every choice (epochs, early stopping, hyperparameters); the test
    split is for the reported score only.

    Attributes
    ----------
    name : str
        Registry name (or a user-chosen name for :func:`from_arrays` / :func:`idx`).
    X_train : ndarray, shape (n_train, n_features), float64, read-only
    y_train : ndarray, shape (n_train,), int64 in ``0..n_classes-1``, read-only
    X_test : ndarray, shape (n_test, n_features), float64, read-only
    y_test : ndarray, shape (n_test,), int64, read-only
    X_val : ndarray, shape (n_val, n_features), float64, read-only
        Validation inputs (``n_val = 0``, an empty array, when none was carved; None given to
        the constructor means none).
    y_val : ndarray, shape (n_val,), int64, read-only
    n_classes : int
        Number of classes (some may be absent from a split, e.g. rare bar counts).
    meta : dict
        At least ``description`` (one line), ``params`` (load kwargs incl. ``seed``),
        ``image_shape`` (tuple, or None for 2-D toys) and ``scaling`` (what was done).

    Inputs are validated on construction (also by :meth:`with_data`); bad ones raise
    `ValidationError` naming the field.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    meta: dict = field(default_factory=dict)
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError("name", self.name, "must be a non-empty string")
        if not isinstance(self.meta, dict):
            raise ValidationError("meta", self.meta, "must be a dict")
        n_classes = check_int("n_classes", self.n_classes, low=1)
        X_train = check_array("X_train", self.X_train, dtype=np.float64)
        if X_train.shape[1] == 0:
            raise ValidationError("X_train", self.X_train, f"needs at least one feature, got shape {X_train.shape}")
        X_test = check_array("X_test", self.X_test, dtype=np.float64, n_features=X_train.shape[1])
        y_train = check_labels("y_train", self.y_train, n_classes, X_train.shape[0])
        y_test = check_labels("y_test", self.y_test, n_classes, X_test.shape[0])
        if (self.X_val is None) != (self.y_val is None):
            raise ValidationError("X_val", self.X_val, "and y_val must be given together")
        if self.X_val is None:
            X_val, y_val = np.zeros((0, X_train.shape[1])), np.zeros(0, dtype=np.int64)
        else:
            X_val = check_array("X_val", self.X_val, dtype=np.float64, n_features=X_train.shape[1], min_rows=0)
            y_val = check_labels("y_val", self.y_val, n_classes, X_val.shape[0])
        for key, value in (("X_train", X_train), ("y_train", y_train), ("X_test", X_test),
                           ("y_test", y_test), ("n_classes", n_classes), ("meta", dict(self.meta)),
                           ("X_val", X_val), ("y_val", y_val)):
            object.__setattr__(self, key, frozen(value) if isinstance(value, np.ndarray) else value)

    def __repr__(self) -> str:
        return (f"Task(name={self.name!r}, n_train={self.n_train}, n_val={self.n_val}, n_test={self.n_test}, "
                f"n_features={self.n_features}, n_classes={self.n_classes})")

    @property
    def n_features(self) -> int:
        """Input dimension ``d``."""
        return int(self.X_train.shape[1])

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.X_train.shape[0])

    @property
    def n_val(self) -> int:
        """Number of validation samples (0 when none was carved)."""
        return int(self.X_val.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.X_test.shape[0])

    def with_data(self, **changes) -> Task:
        """Return a copy with some fields replaced (``dataclasses.replace``), re-validated.

        ``meta`` is shallow-copied unless replaced. Unknown field names are refused.
        """
        valid = [f.name for f in dataclasses.fields(self)]
        for key in changes:
            if key not in valid:
                raise ValidationError(key, changes[key], f"not a Task field; valid: {', '.join(valid)}")
        changes.setdefault("meta", dict(self.meta))
        return dataclasses.replace(self, **changes)

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the six arrays (dtype, shape, bytes) and ``n_classes``."""
        h = hashlib.sha256()
        for arr in (self.X_train, self.y_train, self.X_test, self.y_test, self.X_val, self.y_val):
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(str(self.n_classes).encode())
        return h.hexdigest()

