"""What a model is fitted on: a `sim.tasks.Task`, or arrays ``X, y`` with any labels.

Both end as the same six arrays ``X, y, X_val, y_val, X_test, y_test`` with integer labels
``0..n_classes-1`` (the positions of the labels in the model's sorted ``classes_``):

* **A Task** brings its own three splits and integer labels; ``classes_`` is
  ``arange(task.n_classes)`` and training is exactly that of ``fit(task, epochs=N)``.
* **Arrays** (``fit(X, y)``, scikit-learn's convention) are checked by scikit-learn's own
  validation (so its messages, e.g. ``X has 3 features, but BackpropMLP is expecting 4 features
  as input``, wrapped in a `ValidationError`); ``classes_`` is ``numpy.unique(y)`` (ints,
  strings, ...). A validation split is carved from the rows, stratified and seeded
  (:func:`array_data`), when the model's ``validation_fraction`` asks for one; there is no test
  split, so the test metrics of the History are NaN.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

from sim.errors import ValidationError
from sim.models.divergence import warn_input_scale
from sim.tasks.splits import validation_indices
from sim.validation import check_array, check_int, check_labels

__all__ = ["NotFittedError", "InputTypeError", "TASK_ATTRS", "is_task", "check_X", "check_Xy", "unique_classes",
           "encode_labels", "array_data", "task_data", "classes_to_json", "classes_from_json",
           "feature_names_from_json", "MAX_CLASSES"]

TASK_ATTRS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "n_classes")
MAX_CLASSES = 100_000  # one output unit per class (the models' MAX_UNITS)
_LABEL_KINDS = {"b": "bool", "i": "int64", "u": "uint64", "f": "float64", "U": "str"}


class NotFittedError(ValidationError, SklearnNotFittedError):
    """A model was used before ``fit``: a `ValidationError` that is also scikit-learn's
    ``NotFittedError`` (what ``sklearn.utils.validation.check_is_fitted`` users expect)."""


class InputTypeError(ValidationError, TypeError):
    """Input of a type that cannot be used (e.g. an object array holding a dict): a
    `ValidationError` that is also a ``TypeError``, as scikit-learn raises there."""


def is_task(obj) -> bool:
    """Whether ``obj`` looks like a `sim.tasks.Task` (has its three splits and ``n_classes``)."""
    return all(hasattr(obj, attr) for attr in TASK_ATTRS)


def _wrapped(name: str, value, call):
    """Run a scikit-learn validation ``call``, turning its errors into a `ValidationError`."""
    if scipy.sparse.issparse(value):
        raise ValidationError(name, value, "sparse input is not supported: pass a dense array (e.g. X.toarray())")
    try:
        return call()
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ValidationError):
            raise
        kind = ValidationError if isinstance(exc, ValueError) else InputTypeError
        raise kind(name, value, " ".join(str(exc).split())) from None  # one line, as every message


def check_X(estimator, X, *, reset: bool, dtype) -> np.ndarray:
    """``X`` as a finite 2-D array of ``dtype``, checked by scikit-learn's ``validate_data``
    against the features seen in ``fit`` (``reset=False``) or recording them (``reset=True``)."""
    X = _wrapped("X", X, lambda: validate_data(estimator, X, reset=reset, dtype=dtype))
    warn_input_scale("X", X)
    return X


def check_Xy(estimator, X, y, *, reset: bool, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as in :func:`check_X` and ``y`` as a 1-D vector of class labels (a column vector is
    raveled with scikit-learn's DataConversionWarning; continuous targets are refused)."""
    if y is None:
        raise ValidationError("y", y, f"{type(estimator).__name__} requires y to be passed, but the target y "
                                      "is None (pass labels, or a sim.tasks.Task as the only argument)")
    X_checked = _wrapped("X", X, lambda: validate_data(estimator, X, reset=reset, dtype=dtype))
    y_checked = _wrapped("y", y, lambda: _check_y(y, X_checked.shape[0]))
    warn_input_scale("X", X_checked)
    return X_checked, y_checked


def _check_y(y, n_samples):
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.zeros(n_samples), y)
    check_classification_targets(y)
    return y


def unique_classes(y, classes=None) -> np.ndarray:
    """The sorted distinct labels (``classes`` if given: they must include every label of ``y``);
    at least two, as a classifier needs."""
    source = y if classes is None else _wrapped("classes", classes, lambda: np.asarray(classes).ravel())
    found = np.unique(source)
    if found.shape[0] < 2:
        raise ValidationError("y" if classes is None else "classes", found.tolist(),
                              f"a classifier needs at least 2 classes; got {found.shape[0]} class")
    if found.shape[0] > MAX_CLASSES:
        raise ValidationError("y", f"{found.shape[0]} classes", f"at most {MAX_CLASSES} classes (one output unit each)")
    if classes is not None:
        encode_labels("y", y, found)
    return found


def encode_labels(name: str, y, classes: np.ndarray) -> np.ndarray:
    """Positions of labels ``y`` in sorted ``classes``, int64; a label not among them is refused.

    For ``classes = arange(n)`` (a model fitted on a Task) this is `sim.validation.check_labels`,
    with its messages."""
    classes = np.asarray(classes)
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError) as exc:  # ragged lists etc.
        raise ValidationError(name, y, f"cannot be converted to an array ({' '.join(str(exc).split())})") from None
    if classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(classes.shape[0])):
        if arr.dtype.kind not in "iufb" and arr.dtype != object:
            raise ValidationError(name, y, f"labels must be among the model's classes_ {classes.tolist()[:10]}")
        return check_labels(name, y, classes.shape[0])
    if arr.ndim != 1:
        raise ValidationError(name, y, f"must be a 1-D label vector, got shape {arr.shape}")
    try:
        known = np.isin(arr, classes)
    except TypeError:
        known = np.zeros(arr.shape, dtype=bool)
    if not known.all():
        bad = arr[~known][0]
        bad = bad.item() if isinstance(bad, np.generic) else bad
        raise ValidationError(name, y, f"label {bad!r} is not one of the model's classes_ {classes.tolist()[:10]}")
    return np.searchsorted(classes, arr).astype(np.int64)


def array_data(X: np.ndarray, codes: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple:
    """The six arrays of array input: ``fraction`` of the rows (stratified by class, drawn from
    ``rng``; `sim.tasks.splits.validation_indices`) become the validation split; the test split
    is empty (0 rows)."""
    train, val = validation_indices(codes, float(fraction), rng)
    empty_X, empty_y = np.empty((0, X.shape[1]), dtype=X.dtype), np.empty(0, dtype=np.int64)
    return X[train], codes[train], X[val], codes[val], empty_X, empty_y


def task_data(task, dtype, n_features: int | None, n_classes: int | None) -> tuple:
    """The six checked arrays of a Task (``n_features`` / ``n_classes``: those of a fitted model
    the task must match, None for a new fit)."""
    for attr in TASK_ATTRS:
        if not hasattr(task, attr):
            raise ValidationError("task", task, f"must be a sim.tasks.Task (missing {attr})")
    n_task = check_int("task.n_classes", task.n_classes, low=2, high=MAX_CLASSES)  # one output unit each
    X = check_array("X_train", task.X_train, n_features=n_features, dtype=dtype)
    warn_input_scale("X_train", X)
    X_test = check_array("X_test", task.X_test, n_features=X.shape[1], dtype=dtype)
    X_val = check_array("X_val", task.X_val, n_features=X.shape[1], dtype=dtype, min_rows=0)
    y = check_labels("y_train", task.y_train, n_task, n_samples=X.shape[0])
    y_val = check_labels("y_val", task.y_val, n_task, n_samples=X_val.shape[0])
    y_test = check_labels("y_test", task.y_test, n_task, n_samples=X_test.shape[0])
    if n_classes is not None and n_task != n_classes:
        raise ValidationError("task.n_classes", n_task, f"the model was fitted with {n_classes} classes")
    return X, y, X_val, y_val, X_test, y_test


def classes_to_json(classes: np.ndarray) -> dict:
    """``classes_`` as plain JSON: ``{"dtype": "int64" | "str" | ..., "values": [...]}``."""
    classes = np.asarray(classes)
    kind = classes.dtype.kind
    if kind == "O" and all(isinstance(c, str) for c in classes):
        kind = "U"
    if kind not in _LABEL_KINDS:
        raise ValidationError("classes_", classes, "only bool, int, float and str labels can be saved")
    return {"dtype": _LABEL_KINDS[kind], "values": classes.astype(_LABEL_KINDS[kind]).tolist()}


def classes_from_json(value, n_classes: int) -> np.ndarray:
    """Inverse of :func:`classes_to_json`, checked (``None``: a file from before labels were
    saved, whose classes are ``0..n_classes-1``)."""
    if value is None:
        return np.arange(n_classes)
    if not isinstance(value, dict) or set(value) != {"dtype", "values"} or value["dtype"] not in _LABEL_KINDS.values():
        raise ValidationError("classes_", value, "malformed saved classes")
    values = value["values"]
    scalar = (str,) if value["dtype"] == "str" else (bool, int, float)
    if not isinstance(values, list) or not all(isinstance(v, scalar) for v in values):
        raise ValidationError("classes_", value, f"saved classes must be a list of {value['dtype']} values")
    classes = np.asarray(values, dtype=value["dtype"] if value["dtype"] != "str" else str)
    if classes.shape != (n_classes,) or not np.array_equal(np.unique(classes), classes):
        raise ValidationError("classes_", value, f"must be {n_classes} distinct sorted labels")
    return classes


def feature_names_from_json(value, n_features: int) -> np.ndarray:
    """The saved ``feature_names_in_`` (``{"names": [str, ...]}``) as scikit-learn keeps them:
    an object array of ``n_features`` strings."""
    names = value.get("names") if isinstance(value, dict) and set(value) == {"names"} else None
    if not isinstance(names, list) or len(names) != n_features or not all(isinstance(n, str) for n in names):
        raise ValidationError("feature_names_in_", value, f"must be {n_features} saved column names")
    return np.asarray(names, dtype=object)
