"""Task registry: the same data and train/test split for every model.

A :class:`Task` holds ``X_train (n_train, d)`` float64, ``y_train (n_train,)`` int64 in
``0..n_classes-1``, the test split likewise, and ``meta`` (``description``, ``params`` incl.
``seed``, ``image_shape``, ``scaling``). Get one with :func:`load` (registered tasks, see
:func:`names` / :func:`table`), :func:`from_arrays` or :func:`idx` (MNIST IDX files).

Reproducibility: every random draw comes from a `numpy.random.Generator` seeded by
``SeedSequence([seed, crc32(task name)])`` (train and test get independent child streams);
numpy's and Python's global RNGs are never used, and are restored after mnist1d (which seeds
them). The same arguments give identical arrays. Scaling is always fitted on the training
split only. Task arrays are read-only copies so one task can be shared safely between models.

Per-sample metadata follows one convention: a ``meta`` entry whose key ends in ``_train`` /
``_test`` and whose first axis has ``n_train`` / ``n_test`` rows (e.g. ``bars_train``,
``index_test``) is indexed along with the samples by :func:`subsample` and :func:`class_subset`.

The transforms (:func:`add_noise`, :func:`occlude`, :func:`label_noise`, :func:`subsample`,
:func:`class_subset`) are pure: they return new arrays / tasks and draw only from the
Generator they are given.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import random
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _toys
from ._idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from .errors import ValidationError
from .validation import check_array, check_choice, check_int, check_labels, check_number

__all__ = ["Task", "names", "load", "from_arrays", "idx", "table",
           "add_noise", "occlude", "label_noise", "subsample", "class_subset"]


def _frozen(arr: np.ndarray) -> np.ndarray:
    """Read-only array not shared with the caller (copied unless already read-only)."""
    if arr.flags.writeable:
        arr = arr.copy()
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Task:
    """A classification task with a fixed train/test split.

    Attributes
    ----------
    name : str
        Registry name (or a user-chosen name for :func:`from_arrays` / :func:`idx`).
    X_train : ndarray, shape (n_train, n_features), float64, read-only
    y_train : ndarray, shape (n_train,), int64 in ``0..n_classes-1``, read-only
    X_test : ndarray, shape (n_test, n_features), float64, read-only
    y_test : ndarray, shape (n_test,), int64, read-only
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

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError("name", self.name, "must be a non-empty string")
        if not isinstance(self.meta, dict):
            raise ValidationError("meta", self.meta, "must be a dict")
        n_classes = check_int("n_classes", self.n_classes, low=1)
        X_train = check_array("X_train", self.X_train, dtype=np.float64)
        X_test = check_array("X_test", self.X_test, dtype=np.float64, n_features=X_train.shape[1])
        y_train = check_labels("y_train", self.y_train, n_classes, X_train.shape[0])
        y_test = check_labels("y_test", self.y_test, n_classes, X_test.shape[0])
        for key, value in (("X_train", X_train), ("y_train", y_train), ("X_test", X_test),
                           ("y_test", y_test), ("n_classes", n_classes), ("meta", dict(self.meta))):
            object.__setattr__(self, key, _frozen(value) if isinstance(value, np.ndarray) else value)

    def __repr__(self) -> str:
        return (f"Task(name={self.name!r}, n_train={self.n_train}, n_test={self.n_test}, "
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
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.X_test.shape[0])

    def with_data(self, **changes) -> "Task":
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
        """SHA-256 hex digest of the four arrays (dtype, shape, bytes) and ``n_classes``."""
        h = hashlib.sha256()
        for arr in (self.X_train, self.y_train, self.X_test, self.y_test):
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(str(self.n_classes).encode())
        return h.hexdigest()


# ----------------------------------------------------------------------------------------
# parameter checks and registry
# ----------------------------------------------------------------------------------------

def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValidationError(name, value, "must be True or False")
    return bool(value)


_CHECKS: dict[str, Callable] = {
    "n_train": lambda k, v: check_int(k, v, low=1),
    "n_test": lambda k, v: check_int(k, v, low=1),
    "noise": lambda k, v: check_number(k, v, low=0.0),
    "factor": lambda k, v: check_number(k, v, low=0.0, high=1.0, low_open=True, high_open=True),
    "turns": lambda k, v: check_number(k, v, low=0.0, high=20.0, low_open=True),
    "n_classes": lambda k, v: check_int(k, v, low=2, high=1000),
    "p": lambda k, v: check_number(k, v, low=0.0, high=1.0),
    "size": lambda k, v: check_int(k, v, low=1, high=256),
    "test_fraction": lambda k, v: check_number(k, v, low=0.0, high=1.0, low_open=True, high_open=True),
    "resplit": _check_bool,
}


def _streams(seed: int, key: str) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent (train, test) Generators for ``seed`` and task ``key``."""
    ss = np.random.SeedSequence([seed, zlib.crc32(key.encode())])
    return tuple(np.random.default_rng(s) for s in ss.spawn(2))


def _toy(fn):
    """Loader for a toy generator ``fn(n, rng, **params) -> (X, y)``."""
    def build(seed, key, n_train, n_test, **params):
        rng_train, rng_test = _streams(seed, key)
        X_train, y_train = fn(n_train, rng=rng_train, **params)
        X_test, y_test = fn(n_test, rng=rng_test, **params)
        n_classes = params.get("n_classes", 2)
        return (X_train, y_train, X_test, y_test, n_classes,
                {"image_shape": None, "scaling": "none (raw 2-D coordinates, already of order 1)"})
    return build


def _build_bars(seed, key, n_train, n_test, p, size):
    rng_train, rng_test = _streams(seed, key)
    X_train, y_train, on_train = _toys.bars(n_train, p, size, rng_train)
    X_test, y_test, on_test = _toys.bars(n_test, p, size, rng_test)
    meta = {"image_shape": (size, size), "scaling": "none (binary pixels 0/1)",
            "templates": _toys.bar_templates(size), "bars_train": on_train, "bars_test": on_test}
    return X_train, y_train, X_test, y_test, 2 * size + 1, meta


@functools.lru_cache(maxsize=1)
def _digits_raw():
    from sklearn.datasets import load_digits
    d = load_digits()
    return _frozen(d.data.astype(np.float64)), _frozen(d.target.astype(np.int64))


def _build_digits(seed, key, test_fraction):
    X, y = _digits_raw()
    train, test = _split(y, test_fraction, _streams(seed, key)[0], stratify=True)
    meta = {"image_shape": (8, 8), "scaling": "pixels / 16 (fixed range 0..16, not fitted)",
            "index_train": train, "index_test": test}
    return X[train] / 16.0, y[train], X[test] / 16.0, y[test], 10, meta


@functools.lru_cache(maxsize=1)
def _mnist1d_raw():
    """Generate MNIST-1D offline once per process; global RNG states are restored."""
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        from mnist1d.data import get_dataset_args, make_dataset  # lazy: pulls in matplotlib
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return tuple(_frozen(np.asarray(data[k], dtype=dt)) for k, dt in
                 (("x", np.float64), ("y", np.int64), ("x_test", np.float64), ("y_test", np.int64)))


def _build_mnist1d(seed, key, resplit, test_fraction):
    X_train, y_train, X_test, y_test = _mnist1d_raw()
    meta = {"image_shape": (40,)}
    if resplit:
        X, y = np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])
        train, test = _split(y, test_fraction, _streams(seed, key)[0], stratify=True)
        X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
        meta.update(index_train=train, index_test=test)
    elif test_fraction != 0.2:
        raise ValidationError("test_fraction", test_fraction,
                              "mnist1d uses its fixed 4000/1000 split; pass resplit=True to change it")
    mean, std = float(X_train.mean()), float(X_train.std())
    meta.update(scaling="global standardization (x - mean) / std, one scalar mean and std "
                        "fitted on the training split", scaler={"mean": mean, "std": std})
    return (X_train - mean) / std, y_train, (X_test - mean) / std, y_test, 10, meta


@dataclass(frozen=True)
class _Spec:
    build: Callable
    defaults: dict
    description: str  # formatted with the params


_T = {"n_train": 1000, "n_test": 1000}
_REGISTRY: dict[str, _Spec] = {
    "xor": _Spec(_toy(_toys.xor), {**_T, "noise": 0.25},
                 "XOR: Gaussian clusters at (+-1, +-1), opposite corners same class, noise std {noise}"),
    "moons": _Spec(_toy(_toys.moons), {**_T, "noise": 0.1},
                   "two interleaving half circles (sklearn make_moons), noise std {noise}"),
    "circles": _Spec(_toy(_toys.circles), {**_T, "noise": 0.08, "factor": 0.5},
                     "two concentric circles, radii 1 and {factor} (sklearn make_circles), noise std {noise}"),
    "spirals": _Spec(_toy(_toys.spirals), {**_T, "noise": 0.03, "turns": 1.5},
                     "two interleaved Archimedean spirals, {turns} turns, noise std {noise}"),
    "blobs": _Spec(_toy(_toys.blobs), {**_T, "noise": 0.2, "n_classes": 3},
                   "{n_classes} Gaussian blobs (std {noise}) centred on the unit circle"),
    "digits": _Spec(_build_digits, {"test_fraction": 0.2},
                    "sklearn 8x8 handwritten digits (1797 images), stratified split, pixels / 16"),
    "mnist1d": _Spec(_build_mnist1d, {"resplit": False, "test_fraction": 0.2},
                     "MNIST-1D: 40-sample 1-D signals from 10 digit templates, standardized"),
    "bars": _Spec(_build_bars, {**_T, "p": 0.125, "size": 8},
                  "Foldiak's bars: {size}x{size} images, each bar on with p={p}; label = number of bars on"),
}


def names() -> list[str]:
    """Names of the registered tasks, in registry order (toys, digits, mnist1d, bars)."""
    return list(_REGISTRY)


def load(name: str, seed: int = 0, **params) -> Task:
    """Load a registered task.

    Parameters
    ----------
    name : str
        One of :func:`names` (case-insensitive).
    seed : int
        Non-negative seed. Generated tasks (toys, bars) draw different data for different
        seeds; ``digits`` (and ``mnist1d`` with ``resplit=True``) gets a different split.
        ``mnist1d`` without ``resplit`` is the package's fixed dataset (its own seed 42) and
        its fixed 4000/1000 split, so ``seed`` does not change it.
    **params
        Task parameters (unknown ones are refused), defaults:

        - xor: ``n_train=1000, n_test=1000, noise=0.25``
        - moons: ``n_train=1000, n_test=1000, noise=0.1``
        - circles: ``n_train=1000, n_test=1000, noise=0.08, factor=0.5``
        - spirals: ``n_train=1000, n_test=1000, noise=0.03, turns=1.5``
        - blobs: ``n_train=1000, n_test=1000, noise=0.2, n_classes=3``
        - digits: ``test_fraction=0.2``
        - mnist1d: ``resplit=False, test_fraction=0.2`` (``test_fraction`` needs ``resplit``)
        - bars: ``n_train=1000, n_test=1000, p=0.125, size=8``

    Returns
    -------
    Task
        ``meta["params"]`` holds all parameters including defaults and ``seed``.

    Raises
    ------
    ValidationError
        Unknown task (the valid names are listed), unknown or invalid parameter.
    """
    key = check_choice("name", name, _REGISTRY)
    spec = _REGISTRY[key]
    for param in sorted(params):
        if param not in spec.defaults:
            raise ValidationError(param, params[param], f"unknown parameter for task {key!r}; "
                                  f"valid: {', '.join(spec.defaults) or 'none'}, seed")
    seed = check_int("seed", seed, low=0)
    values = {k: _CHECKS[k](k, v) for k, v in {**spec.defaults, **params}.items()}
    X_train, y_train, X_test, y_test, n_classes, meta = spec.build(seed, key, **values)
    meta = {"description": spec.description.format(**values), "params": {"seed": seed, **values},
            **meta}
    return Task(key, X_train, y_train, X_test, y_test, n_classes, meta)


# ----------------------------------------------------------------------------------------
# user data
# ----------------------------------------------------------------------------------------

def _split(y: np.ndarray, test_fraction: float, rng: np.random.Generator, stratify: bool):
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


def _scale(X_train, X_test, scale):
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


def from_arrays(X, y, *, test_fraction=0.2, seed=0, name="arrays", scale="standard",
                stratify=True) -> Task:
    """Make a task from user arrays with a random (stratified) train/test split.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        Finite numeric inputs.
    y : array_like, shape (n_samples,)
        Integer labels ``>= 0``; ``n_classes = max(y) + 1`` (labels are not renumbered).
    test_fraction : float in (0, 1)
        Test share; ``ceil(test_fraction * n)`` samples go to the test split (as in sklearn).
    seed : int
        Seed of the split.
    name : str
        Task name.
    scale : {"standard", "none", "minmax"}
        Per-feature scaling fitted on the training split (``meta["scaler"]`` holds it).
    stratify : bool
        Keep class proportions in both splits (needs >= 2 samples of each class).

    Returns
    -------
    Task
        ``meta["index_train"]`` / ``meta["index_test"]`` are the original row indices.
    """
    X = check_array("X", X, dtype=np.float64)
    y = check_labels("y", y, n_samples=X.shape[0])
    test_fraction = _CHECKS["test_fraction"]("test_fraction", test_fraction)
    seed = check_int("seed", seed, low=0)
    scale = check_choice("scale", scale, ("standard", "none", "minmax"))
    stratify = _check_bool("stratify", stratify)
    train, test = _split(y, test_fraction, _streams(seed, "arrays")[0], stratify)
    X_train, X_test, text, scaler = _scale(X[train], X[test], scale)
    meta = {"description": f"user arrays ({X.shape[0]} samples)", "image_shape": None,
            "params": {"seed": seed, "test_fraction": test_fraction, "scale": scale,
                       "stratify": stratify},
            "scaling": text, "scaler": scaler, "index_train": train, "index_test": test}
    return Task(name, X_train, y[train], X_test, y[test], int(y.max()) + 1, meta)


def idx(images_path, labels_path, *, test_images_path=None, test_labels_path=None,
        test_fraction=0.2, seed=0, scale="max") -> Task:
    """Load an MNIST-format dataset from IDX files (plain or gzip).

    Parameters
    ----------
    images_path, labels_path : str or os.PathLike
        Images (magic 0x00000803, uint8, ``n x rows x cols``) and labels (0x00000801, uint8, ``n``).
    test_images_path, test_labels_path : str or os.PathLike, optional
        A given test split (both or neither). Without them the data are split randomly,
        stratified when every class has >= 2 samples, with ``test_fraction`` and ``seed``.
    test_fraction : float in (0, 1)
    seed : int
    scale : {"max", "standard", "minmax", "none"}
        ``"max"`` divides by 255; the others are fitted on the training split.

    Returns
    -------
    Task
        ``X`` has ``rows * cols`` features (row-major), ``meta["image_shape"] = (rows, cols)``,
        ``n_classes = max label + 1``.

    Raises
    ------
    ValidationError
        Missing or damaged file (wrong magic, truncated, size mismatch), image/label counts
        differ, test images of another shape, only one of the test paths given.
    """
    test_fraction = _CHECKS["test_fraction"]("test_fraction", test_fraction)
    seed = check_int("seed", seed, low=0)
    scale = check_choice("scale", scale, ("max", "standard", "minmax", "none"))
    if (test_images_path is None) != (test_labels_path is None):
        missing = "test_labels_path" if test_labels_path is None else "test_images_path"
        raise ValidationError(missing, None, "give both test_images_path and test_labels_path, or neither")

    def pair(img_name, img_path, lab_name, lab_path):
        images = read_idx(img_name, img_path, IMAGES_MAGIC)
        labels = read_idx(lab_name, lab_path, LABELS_MAGIC).astype(np.int64)
        if labels.shape[0] != images.shape[0]:
            raise ValidationError(lab_name, lab_path, f"has {labels.shape[0]} labels for "
                                                      f"{images.shape[0]} images")
        return images, labels

    images, labels = pair("images_path", images_path, "labels_path", labels_path)
    shape = images.shape[1:]
    X = images.reshape(images.shape[0], -1).astype(np.float64)
    meta = {"image_shape": tuple(int(s) for s in shape), "source": str(images_path)}
    if test_images_path is not None:
        t_images, y_test = pair("test_images_path", test_images_path, "test_labels_path", test_labels_path)
        if t_images.shape[1:] != shape:
            raise ValidationError("test_images_path", test_images_path,
                                  f"images are {t_images.shape[1:]}, training images are {shape}")
        X_train, y_train = X, labels
        X_test = t_images.reshape(t_images.shape[0], -1).astype(np.float64)
    else:
        counts = np.bincount(labels)
        train, test = _split(labels, test_fraction, _streams(seed, "arrays")[0],
                             stratify=bool(counts[counts > 0].min() >= 2))
        X_train, y_train, X_test, y_test = X[train], labels[train], X[test], labels[test]
        meta.update(index_train=train, index_test=test)
    X_train, X_test, text, scaler = _scale(X_train, X_test, scale)
    meta.update(description=f"IDX images {shape[0]}x{shape[1]} from {images_path}", scaling=text,
                scaler=scaler, params={"seed": seed, "test_fraction": test_fraction, "scale": scale,
                                       "test_images_path": test_images_path,
                                       "test_labels_path": test_labels_path})
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return Task("idx", X_train, y_train, X_test, y_test, n_classes, meta)


def table() -> str:
    """Text table of the registered tasks (default params): name, input size, classes,
    train/test sizes and a one-line description."""
    rows = [("name", "input", "classes", "train", "test", "description")]
    for key in names():
        t = load(key)
        shape = t.meta["image_shape"]
        size = "x".join(map(str, shape)) if shape else str(t.n_features)
        rows.append((key, size, str(t.n_classes), str(t.n_train), str(t.n_test), t.meta["description"]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows)


from ._transforms import add_noise, class_subset, label_noise, occlude, subsample  # noqa: E402
