"""The registered tasks: 2-D toys, digits, mnist1d and bars, each built from its seed.

Every random draw comes from `sim.seeds.task_streams` (``SeedSequence([seed, crc32(name)])``);
numpy's and Python's global RNGs are never used, and are restored after mnist1d (which seeds
them).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.errors import ValidationError
from sim.seeds import task_streams, validation_rng
from sim.tasks import patches as _patches
from sim.tasks import toys as _toys
from sim.tasks.splits import DEFAULT_VALIDATION_FRACTION, carve_validation, split_indices
from sim.tasks.task import Task, frozen
from sim.validation import check_bool, check_choice, check_int, check_number

__all__ = ["names", "load", "table", "CHECKS", "MAX_SAMPLES"]

MAX_SAMPLES = 1_000_000  # most samples a generated split may have (a typo must not exhaust memory)
MAX_VALUES = 2 * 10**8  # most numbers (samples x features) of a generated split: 1.6 GB in float64


CHECKS: dict[str, Callable] = {
    "n_train": lambda k, v: check_int(k, v, low=1, high=MAX_SAMPLES),
    "n_test": lambda k, v: check_int(k, v, low=1, high=MAX_SAMPLES),
    "noise": lambda k, v: check_number(k, v, low=0.0),
    "factor": lambda k, v: check_number(k, v, low=0.0, high=1.0, low_open=True, high_open=True),
    "turns": lambda k, v: check_number(k, v, low=0.0, high=20.0, low_open=True),
    "n_classes": lambda k, v: check_int(k, v, low=2, high=1000),
    "p": lambda k, v: check_number(k, v, low=0.0, high=1.0),
    "size": lambda k, v: check_int(k, v, low=1, high=256),
    "test_fraction": lambda k, v: check_number(k, v, low=0.0, high=1.0, low_open=True, high_open=True),
    "resplit": check_bool,
    "validation_fraction": lambda k, v: check_number(k, v, low=0.0, high=1.0, high_open=True),
    **_patches.CHECKS,
}


def _toy(fn):
    """Loader for a toy generator ``fn(n, rng, **params) -> (X, y)``."""
    def build(seed, key, n_train, n_test, **params):
        rng_train, rng_test = task_streams(seed, key)
        X_train, y_train = fn(n_train, rng=rng_train, **params)
        X_test, y_test = fn(n_test, rng=rng_test, **params)
        n_classes = params.get("n_classes", 2)
        return (X_train, y_train, X_test, y_test, n_classes,
                {"image_shape": None, "scaling": "none (raw 2-D coordinates, already of order 1)"})
    return build


def _build_bars(seed, key, n_train, n_test, p, size):
    rng_train, rng_test = task_streams(seed, key)
    X_train, y_train, on_train = _toys.bars(n_train, p, size, rng_train)
    X_test, y_test, on_test = _toys.bars(n_test, p, size, rng_test)
    meta = {"image_shape": (size, size), "scaling": "none (binary pixels 0/1)",
            "templates": _toys.bar_templates(size), "bars_train": on_train, "bars_test": on_test}
    return X_train, y_train, X_test, y_test, 2 * size + 1, meta


@functools.lru_cache(maxsize=1)
def _digits_raw():
    from sklearn.datasets import load_digits
    d = load_digits()
    return frozen(d.data.astype(np.float64)), frozen(d.target.astype(np.int64))


def _build_digits(seed, key, test_fraction):
    X, y = _digits_raw()
    train, test = split_indices(y, test_fraction, task_streams(seed, key)[0], stratify=True)
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
    return tuple(frozen(np.asarray(data[k], dtype=dt)) for k, dt in
                 (("x", np.float64), ("y", np.int64), ("x_test", np.float64), ("y_test", np.int64)))


def _build_mnist1d(seed, key, resplit, test_fraction):
    X_train, y_train, X_test, y_test = _mnist1d_raw()
    meta = {"image_shape": (40,)}
    if resplit:
        X, y = np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])
        train, test = split_indices(y, test_fraction, task_streams(seed, key)[0], stratify=True)
        X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
        meta.update(index_train=train, index_test=test)
    elif test_fraction != 0.2:
        raise ValidationError("test_fraction", test_fraction,
                              "mnist1d uses its fixed 4000/1000 split; pass resplit=True to change it")
    meta["standardize"] = True  # fitted by load() on the training split left after validation
    return X_train, y_train, X_test, y_test, 10, meta


def _standardize(X_train, X_test, X_val, meta):
    """Global standardization, one scalar mean and std fitted on ``X_train``."""
    mean, std = float(X_train.mean()), float(X_train.std())
    meta.update(scaling="global standardization (x - mean) / std, one scalar mean and std "
                        "fitted on the training split", scaler={"mean": mean, "std": std})
    return (X_train - mean) / std, (X_test - mean) / std, (X_val - mean) / std


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
                  "Foldiak's bars: {size}x{size} images, each bar on with p={p}; label = number of bars on "
                  "(a secondary task); which bars are on: meta bars_train / bars_val / bars_test, "
                  "the multi-label probe reports use"),
    "patches": _Spec(_patches.build, _patches.DEFAULTS, _patches.DESCRIPTION),
}


def names() -> list[str]:
    """Names of the registered tasks, in registry order (toys, digits, mnist1d, bars, patches)."""
    return list(_REGISTRY)


def load(name: str, /, seed: int = 0, validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
         **params) -> Task:  # name positional-only: a parameter called "name" is refused, not a TypeError
    """Load a registered task, with train, validation and test splits.

    Parameters
    ----------
    name : str
        One of :func:`names` (case-insensitive).
    seed : int
        Non-negative seed. Generated tasks (toys, bars) draw different data for different
        seeds; ``digits`` (and ``mnist1d`` with ``resplit=True``) gets a different split.
        ``mnist1d`` without ``resplit`` is the package's fixed dataset (its own seed 42) and
        its fixed 4000/1000 split, so ``seed`` does not change it (the published benchmark,
        comparable with the literature); a study, whose seed indices are replications, loads
        mnist1d with ``resplit=True`` unless its TOML says otherwise (`sim.study.schema`). The
        validation split changes with ``seed`` for every task.
    validation_fraction : float in [0, 1)
        Share of the training split carved off, stratified, as the validation split (0: none,
        for a final refit on all training data). With the default 0.2 the registered tasks
        have (train / validation / test): toys and bars 800 / 200 / 1000 (of ``n_train``:
        ``n_train - ceil(0.2 n_train)`` / ``ceil(0.2 n_train)``), digits 1149 / 288 / 360,
        mnist1d 3200 / 800 / 1000. Scaling that is fitted (mnist1d) is fitted on the
        training split left after the carve.
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
        - patches: ``n_train=20000, n_test=2000, size=12, contrast=True, whiten="zca", whiten_eps=0.1``
          (`sim.tasks.patches`)

    Returns
    -------
    Task
        ``meta["params"]`` holds all parameters including defaults, ``validation_fraction`` and
        ``seed``.

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
    fraction = CHECKS["validation_fraction"]("validation_fraction", validation_fraction)
    values = {k: CHECKS[k](k, v) for k, v in {**spec.defaults, **params}.items()}
    if "size" in values:  # image tasks: size x size pixels per sample
        for split in ("n_train", "n_test"):
            if split in values and values[split] * values["size"] ** 2 > MAX_VALUES:
                raise ValidationError(split, values[split], f"with size={values['size']} the split would hold "
                                      f"{values[split] * values['size'] ** 2:.3g} pixels (at most {MAX_VALUES:.0e})")
    X_train, y_train, X_test, y_test, n_classes, meta = spec.build(seed, key, **values)
    X_train, y_train, X_val, y_val, meta = carve_validation(X_train, y_train, meta, fraction,
                                                            validation_rng(seed, key))
    if meta.pop("standardize", False):
        X_train, X_test, X_val = _standardize(X_train, X_test, X_val, meta)
    if "fit_on_train" in meta:  # e.g. the patches' whitening, fitted on the training split left
        X_train, X_test, X_val = meta.pop("fit_on_train")(X_train, X_test, X_val, meta)
    meta = {"description": spec.description.format(**values),
            "params": {"seed": seed, **values, "validation_fraction": fraction}, **meta}
    return Task(key, X_train, y_train, X_test, y_test, n_classes, meta, X_val=X_val, y_val=y_val)



def table() -> str:
    """Text table of the registered tasks (default params): name, input size, classes,
    train / validation / test sizes and a one-line description."""
    rows = [("name", "input", "classes", "train", "val", "test", "description")]
    for key in names():
        t = load(key)
        shape = t.meta["image_shape"]
        size = "x".join(map(str, shape)) if shape else str(t.n_features)
        rows.append((key, size, str(t.n_classes), str(t.n_train), str(t.n_val), str(t.n_test),
                     t.meta["description"]))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:6], widths)) + "  " + r[6] for r in rows)

