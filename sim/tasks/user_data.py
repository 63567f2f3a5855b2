"""Tasks from the user's own data: arrays in memory, MNIST-format IDX files, and data files.

:func:`from_file` reads a file by its format: an ``.npz`` with arrays ``X`` and ``y`` (read with
``allow_pickle=False``: nothing in a file is ever imported or called), a CSV with a header row and
a label column, or IDX images with their IDX labels file. Its ``sha256`` argument is the content
hash a study recorded (:func:`file_hash`): a file changed since is refused, naming it.
"""

from __future__ import annotations

import csv
import hashlib
import os
import zipfile

import numpy as np

from sim.errors import ValidationError
from sim.seeds import task_streams, validation_rng
from sim.tasks.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from sim.tasks.registry import CHECKS
from sim.tasks.splits import DEFAULT_VALIDATION_FRACTION, carve_validation, scale_features, split_indices
from sim.tasks.task import Task
from sim.validation import check_array, check_bool, check_choice, check_int, check_labels

__all__ = ["from_arrays", "idx", "from_file", "file_hash", "FILE_FORMATS", "MAX_CLASSES"]

FILE_FORMATS = ("npz", "csv", "idx")

# labels are not renumbered: n_classes = max(y) + 1 output units, so an id like 74998396 is refused
# (as the models refuse layers over `sim.models.estimator.MAX_UNITS`) instead of exhausting memory
MAX_CLASSES = 100_000


def from_arrays(X, y, *, test_fraction=0.2, validation_fraction=DEFAULT_VALIDATION_FRACTION, seed=0,
                name="arrays", scale="standard", stratify=True) -> Task:
    """Make a task from user arrays with random (stratified) train / validation / test splits.

    ``ceil(test_fraction * n)`` samples go to test; of the rest, ``ceil(validation_fraction *
    n_rest)`` go to validation (`sim.tasks.splits.validation_indices`, always stratified where
    classes allow), the remainder to train. Scaling is fitted on the train split alone.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        Finite numeric inputs.
    y : array_like, shape (n_samples,)
        Integer labels in ``0..MAX_CLASSES-1``; ``n_classes = max(y) + 1`` (labels are not renumbered).
    test_fraction : float in (0, 1)
        Test share; ``ceil(test_fraction * n)`` samples go to the test split (as in sklearn).
    validation_fraction : float in [0, 1)
        Share of the remaining samples carved off as validation (0: none).
    seed : int
        Seed of the splits (validation: `sim.seeds.validation_rng`).
    name : str
        Task name.
    scale : {"standard", "none", "minmax"}
        Per-feature scaling fitted on the training split (``meta["scaler"]`` holds it).
    stratify : bool
        Keep class proportions in both splits (needs >= 2 samples of each class).

    Returns
    -------
    Task
        ``meta["index_train"]`` / ``meta["index_val"]`` / ``meta["index_test"]`` are the original
        row indices.
    """
    X = check_array("X", X, dtype=np.float64)
    if X.shape[1] == 0:
        raise ValidationError("X", X, f"needs at least one feature (column), got shape {X.shape}")
    y = check_labels("y", y, MAX_CLASSES, n_samples=X.shape[0])
    test_fraction = CHECKS["test_fraction"]("test_fraction", test_fraction)
    fraction = CHECKS["validation_fraction"]("validation_fraction", validation_fraction)
    seed = check_int("seed", seed, low=0)
    scale = check_choice("scale", scale, ("standard", "none", "minmax"))
    stratify = check_bool("stratify", stratify)
    train, test = split_indices(y, test_fraction, task_streams(seed, "arrays")[0], stratify)
    X_train, y_train, X_val, y_val, meta = carve_validation(X[train], y[train], {"index_train": train},
                                                            fraction, validation_rng(seed, "arrays"))
    X_train, X_test, X_val, text, scaler = scale_features(X_train, X[test], scale, X_val)
    if not all(np.all(np.isfinite(a)) for a in (X_train, X_test, X_val)):  # e.g. the std of +-1e308
        raise ValidationError("X", X, f"overflows when scaled (scale={scale!r}): |x| up to "
                              f"{float(np.max(np.abs(X))):.3g}; rescale X or use scale='none'")
    meta.update({"description": f"user arrays ({X.shape[0]} samples)", "image_shape": None,
                 "params": {"seed": seed, "test_fraction": test_fraction, "validation_fraction": fraction,
                            "scale": scale, "stratify": stratify},
                 "scaling": text, "scaler": scaler, "index_test": test})
    return Task(name, X_train, y_train, X_test, y[test], int(y.max()) + 1, meta, X_val=X_val, y_val=y_val)


def idx(images_path, labels_path, *, test_images_path=None, test_labels_path=None,
        test_fraction=0.2, validation_fraction=DEFAULT_VALIDATION_FRACTION, seed=0, scale="max") -> Task:
    """Load an MNIST-format dataset from IDX files (plain or gzip).

    Parameters
    ----------
    images_path, labels_path : str or os.PathLike
        Images (magic 0x00000803, uint8, ``n x rows x cols``) and labels (0x00000801, uint8, ``n``).
    test_images_path, test_labels_path : str or os.PathLike, optional
        A given test split (both or neither). Without them the data are split randomly,
        stratified when every class has >= 2 samples, with ``test_fraction`` and ``seed``.
    test_fraction : float in (0, 1)
    validation_fraction : float in [0, 1)
        Share of the training images carved off, stratified, as the validation split.
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
    test_fraction = CHECKS["test_fraction"]("test_fraction", test_fraction)
    fraction = CHECKS["validation_fraction"]("validation_fraction", validation_fraction)
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
        train, test = split_indices(labels, test_fraction, task_streams(seed, "arrays")[0],
                             stratify=bool(counts[counts > 0].min() >= 2))
        X_train, y_train, X_test, y_test = X[train], labels[train], X[test], labels[test]
        meta.update(index_train=train, index_test=test)
    if "index_train" not in meta:  # a given test split: the training rows are the file's rows
        meta["index_train"] = np.arange(X_train.shape[0], dtype=np.int64)
    X_train, y_train, X_val, y_val, meta = carve_validation(X_train, y_train, meta, fraction,
                                                            validation_rng(seed, "arrays"))
    X_train, X_test, X_val, text, scaler = scale_features(X_train, X_test, scale, X_val)
    meta.update(description=f"IDX images {shape[0]}x{shape[1]} from {images_path}", scaling=text,
                scaler=scaler, params={"seed": seed, "test_fraction": test_fraction,
                                       "validation_fraction": fraction, "scale": scale,
                                       "test_images_path": test_images_path,
                                       "test_labels_path": test_labels_path})
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return Task("idx", X_train, y_train, X_test, y_test, n_classes, meta, X_val=X_val, y_val=y_val)



def _bad(path, why: str) -> ValidationError:
    """The error of a bad data file: names it in full (the value) and by its base name (the message
    keeps it even when a long value is shortened)."""
    return ValidationError("file", os.fspath(path), f"{os.path.basename(os.fspath(path))} {why}")


def file_hash(path, labels=None) -> str:
    """SHA-256 (hex) of the content of ``path`` (and, for IDX images, of ``labels`` after it).

    Raises
    ------
    ValidationError
        ``file`` (or ``labels``) naming a file that cannot be read.
    """
    digest = hashlib.sha256()
    for name, p in (("file", path), ("labels", labels)):
        if p is None:
            continue
        try:
            with open(os.fspath(p), "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except (OSError, TypeError) as exc:
            raise ValidationError(name, str(p), f"{os.path.basename(str(p))} cannot be read "
                                  f"({getattr(exc, 'strerror', None) or exc})") from None
    return digest.hexdigest()


def _format(path, labels) -> str:
    suffix = os.fspath(path).lower().rsplit(".", 1)[-1] if "." in os.path.basename(os.fspath(path)) else ""
    if suffix in ("npz", "csv"):
        return suffix
    if labels is not None:
        return "idx"
    raise _bad(path, "is of an unknown data format: give an .npz with arrays X and y, a .csv "
                          "with a header row and a label column, or IDX images with labels=<IDX labels file>")


def _read_npz(path):
    try:
        with np.load(os.fspath(path), allow_pickle=False) as data:
            missing = [k for k in ("X", "y") if k not in data.files]
            if missing:
                raise _bad(path, f"has no array {missing[0]!r} (it holds "
                                      f"{', '.join(data.files) or 'no arrays'}; an .npz task needs X and y)")
            X, y = data["X"], data["y"]
    except ValidationError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise _bad(path, f"is not a readable .npz of plain arrays ({exc})") from None
    if X.dtype == object or y.dtype == object:
        raise _bad(path, "holds object arrays; X and y must be numeric")
    return X, y


def _read_csv(path, label_column):
    try:
        with open(os.fspath(path), newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read as UTF-8 CSV ({exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise _bad(path, "needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if label_column not in header:
        raise ValidationError("label_column", label_column, f"is not a column of {os.fspath(path)} "
                              f"(columns: {', '.join(header)})")
    j = header.index(label_column)
    X, y = [], []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise _bad(path, f"line {i} has {len(row)} fields, the header {len(header)}")
        try:
            X.append([float(v) for k, v in enumerate(row) if k != j])
        except ValueError:
            bad = next(v for k, v in enumerate(row) if k != j and not _is_float(v))
            raise _bad(path, f"line {i}: {bad!r} is not a number") from None
        y.append(row[j].strip())
    try:
        labels = np.array([int(v) for v in y], dtype=np.int64)
        classes = None
    except ValueError:  # class names: numbered in sorted order
        classes = sorted(set(y))
        labels = np.array([classes.index(v) for v in y], dtype=np.int64)
    return np.array(X, dtype=np.float64), labels, classes, [h for k, h in enumerate(header) if k != j]


def _is_float(text) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def from_file(file, *, labels=None, label_column="label", sha256=None, test_fraction=0.2,
              validation_fraction=DEFAULT_VALIDATION_FRACTION, seed=0, scale=None) -> Task:
    """A task from a data file: ``.npz`` (``X``, ``y``), CSV (header, label column) or IDX.

    Parameters
    ----------
    file : str or os.PathLike
        The data. ``.npz``: arrays ``X`` (n_samples, n_features) and ``y`` (n_samples,) of
        integer labels, read without pickle. ``.csv``: a header row, one sample per line, the
        label in column ``label_column`` (integers, or class names numbered in sorted order,
        ``meta["classes"]``), every other column a number. Otherwise IDX images (``n x rows x
        cols`` uint8, plain or gzip) with ``labels``.
    labels : str or os.PathLike, optional
        The IDX labels file of IDX images (required for IDX, refused otherwise).
    label_column : str
        Label column of a CSV.
    sha256 : str, optional
        Expected :func:`file_hash` of the content; a different file is refused.
    test_fraction, validation_fraction, seed
        As :func:`from_arrays` (the splits are drawn from ``seed``).
    scale : str, optional
        As :func:`from_arrays` (default ``"standard"``) or, for IDX, :func:`idx` (default ``"max"``).

    Returns
    -------
    Task
        Named after the file's stem; ``meta["source"]`` is the file, ``meta["sha256"]`` its hash.

    Raises
    ------
    ValidationError
        ``file`` naming the file and the problem (unreadable, unknown format, missing arrays,
        a bad line, changed content); ``labels``, ``label_column`` likewise; the inputs' and
        labels' own checks as for :func:`from_arrays` and :func:`idx`.
    """
    kind = _format(file, labels)
    if kind != "idx" and labels is not None:
        raise ValidationError("labels", os.fspath(labels), f"only IDX images take a labels file; {os.fspath(file)} "
                              f"is {kind}")
    digest = file_hash(file, labels)
    if sha256 is not None and digest != sha256:
        raise _bad(file, f"changed since the study recorded it (sha256 {digest[:16]}..., "
                              f"recorded {str(sha256)[:16]}...): a changed file is a different task")
    name = os.path.basename(os.fspath(file)).split(".")[0] or "file"
    if kind == "idx":
        task = idx(file, labels, test_fraction=test_fraction, validation_fraction=validation_fraction, seed=seed,
                   scale="max" if scale is None else scale)
        meta = dict(task.meta)
    else:
        classes, features = None, None
        if kind == "npz":
            X, y = _read_npz(file)
        else:
            X, y, classes, features = _read_csv(file, label_column)
        try:
            task = from_arrays(X, y, test_fraction=test_fraction, validation_fraction=validation_fraction, seed=seed,
                               name=name, scale="standard" if scale is None else scale)
        except ValidationError as exc:
            raise _bad(file, f"has bad data ({exc.parameter}: {exc.requirement})") from None
        meta = dict(task.meta, classes=classes, features=features)
    meta.update(source=os.fspath(file), sha256=digest, format=kind,
                description=f"{kind} file {os.path.basename(os.fspath(file))} ({meta.get('description', '')})")
    return task.with_data(meta=meta, name=name)
