"""Natural-image patches: square grey patches of scikit-learn's two bundled photographs.

The photographs are `sklearn.datasets.load_sample_images` (``china.jpg`` and ``flower.jpg``,
427 x 640 RGB, shipped with scikit-learn: nothing is downloaded). Each is converted to grey
(ITU-R BT.601 luma, ``0.299 R + 0.587 G + 0.114 B``, divided by 255 so pixels lie in [0, 1]).

Splits by image region: in every photograph the top ``1 - TEST_ROWS`` of the rows give the
training patches and the bottom ``TEST_ROWS`` the test patches (a patch lies wholly inside its
region, so no test pixel is ever in a training patch). The validation split is carved by
`sim.tasks.registry.load` from the training patches: distinct positions of the training region,
which may overlap training patches (validation scores are therefore slightly optimistic, equally
for every model). Half the patches of each split come from each photograph; the label is the
photograph (0: china, 1: flower), so the task is also a 2-class `Task`.

With ``contrast=True`` (default) every patch first gets its own brightness removed and its
contrast normalized (`normalize_contrast`, as Coates, Lee & Ng 2011 do before whitening); this
uses no fitted state. Its pixels then sum to zero, so the covariance is singular along the
constant patch and ZCA needs ``whiten_eps > 0``.

Whitening is fitted on the training split left after the validation carve and applied to all
three splits (`fit_whitening`):

- ``'zca'``: pixels centred by the training mean ``m``, then ``x -> U diag((lambda + eps)^-1/2) U^T
  (x - m)`` with ``C = U diag(lambda) U^T`` the training covariance and ``eps = whiten_eps *
  mean(lambda)`` (``whiten_eps = 0``: the whitened training covariance is the identity; a small
  positive value damps the noisiest, highest-frequency directions, as in Bell & Sejnowski 1997).
- ``'none'``: pixels centred by the training mean and divided by the training pixel SD (one
  scalar).

References: A. Coates, H. Lee & A. Y. Ng (2011) An analysis of single-layer networks in
unsupervised feature learning. AISTATS 15:215-223; A. J. Bell & T. J. Sejnowski (1997) The
"independent components" of natural scenes are edge filters. Vision Res. 37:3327-3338;
B. A. Olshausen & D. J. Field (1996) Emergence of simple-cell receptive field properties by
learning a sparse code for natural images. Nature 381:607-609.
"""

from __future__ import annotations

import functools

import numpy as np

from sim.errors import ValidationError
from sim.seeds import task_streams
from sim.tasks.task import frozen
from sim.validation import check_bool, check_choice, check_int, check_number

__all__ = ["DEFAULTS", "DESCRIPTION", "CHECKS", "TEST_ROWS", "IMAGE_NAMES", "grey_images", "build",
           "fit_whitening", "sample_positions", "normalize_contrast", "CONTRAST_FLOOR"]

TEST_ROWS = 0.25  # bottom quarter of every photograph: the test region
IMAGE_NAMES = ("china", "flower")
WHITENINGS = ("zca", "none")
DEFAULTS = {"n_train": 20000, "n_test": 2000, "size": 12, "contrast": True, "whiten": "zca",
            "whiten_eps": 0.1}
CONTRAST_FLOOR = 10.0 / 255.0 ** 2  # variance added before dividing by a patch's SD (Coates et al. 2011)
DESCRIPTION = ("{size}x{size} grey patches of scikit-learn's two sample photographs, whitening "
               "{whiten!r} fitted on train; label = which photograph")
CHECKS = {
    "contrast": check_bool,
    "whiten": lambda k, v: check_choice(k, v, WHITENINGS),
    "whiten_eps": lambda k, v: check_number(k, v, low=0.0, high=10.0),
}


@functools.lru_cache(maxsize=1)
def grey_images() -> tuple:
    """The two sample photographs in grey, each (427, 640) float64 in [0, 1], read-only."""
    from sklearn.datasets import load_sample_images
    luma = np.array([0.299, 0.587, 0.114])
    return tuple(frozen(np.asarray(img, dtype=np.float64) @ luma / 255.0)
                 for img in load_sample_images().images)


def sample_positions(n: int, size: int, rows: tuple[int, int], cols: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct top-left corners (row, col) of ``size`` x ``size`` patches wholly inside
    rows ``rows[0] .. rows[1] - 1`` and columns ``0 .. cols - 1``, drawn without replacement.

    Returns
    -------
    ndarray, shape (n, 2), int64
    """
    n_rows, n_cols = rows[1] - rows[0] - size + 1, cols - size + 1
    if n_rows < 1 or n_cols < 1 or n > n_rows * n_cols:
        raise ValidationError("n_train" if rows[0] == 0 else "n_test", n,
                              f"at most {max(n_rows, 0) * max(n_cols, 0)} distinct {size}x{size} "
                              "patches fit in that region of a photograph")
    flat = rng.choice(n_rows * n_cols, size=n, replace=False)
    return np.stack([rows[0] + flat // n_cols, flat % n_cols], axis=1).astype(np.int64)


def _cut(image: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size))
    return windows[corners[:, 0], corners[:, 1]].reshape(corners.shape[0], size * size)


def _split(n: int, size: int, region: str, rng: np.random.Generator):
    """Patches, labels and corners of one split: ``n // 2`` from china, the rest from flower."""
    X, y, where = [], [], []
    for label, image in enumerate(grey_images()):
        height, width = image.shape
        cut = int(round(height * (1 - TEST_ROWS)))
        rows = (0, cut) if region == "train" else (cut, height)
        m = n // 2 if label == 0 else n - n // 2
        corners = sample_positions(m, size, rows, width, rng)
        X.append(_cut(image, corners, size))
        y.append(np.full(m, label, dtype=np.int64))
        where.append(np.column_stack([np.full(m, label), corners]))
    return np.concatenate(X), np.concatenate(y), np.concatenate(where)


def normalize_contrast(X: np.ndarray) -> np.ndarray:
    """Per-patch brightness and contrast normalization (no fitted state): every row gets its own
    mean removed and is divided by ``sqrt(var + CONTRAST_FLOOR)``, so a flat patch stays flat.

    Parameters
    ----------
    X : ndarray, shape (n, pixels)

    Returns
    -------
    ndarray, shape (n, pixels)
    """
    Xc = X - X.mean(axis=1, keepdims=True)
    return Xc / np.sqrt(Xc.var(axis=1, keepdims=True) + CONTRAST_FLOOR)


def build(seed, key, n_train, n_test, size, contrast, whiten, whiten_eps):
    """Registry loader (`sim.tasks.registry`): raw patches and the whitening to fit on train.

    Returns
    -------
    tuple
        ``(X_train, y_train, X_test, y_test, 2, meta)``; ``meta["where_train"]`` /
        ``meta["where_test"]`` (n, 3) hold (photograph, row, col) of every patch and
        ``meta["fit_on_train"]`` the whitening `sim.tasks.registry.load` fits after the carve.
    """
    size = check_int("size", size, low=2, high=64)
    rng_train, rng_test = task_streams(seed, key)
    X_train, y_train, where_train = _split(n_train, size, "train", rng_train)
    X_test, y_test, where_test = _split(n_test, size, "test", rng_test)
    if contrast:
        X_train, X_test = normalize_contrast(X_train), normalize_contrast(X_test)
    meta = {"image_shape": (size, size), "where_train": where_train, "where_test": where_test,
            "fit_on_train": functools.partial(fit_whitening, whiten=whiten, whiten_eps=whiten_eps)}
    return X_train, y_train, X_test, y_test, 2, meta


def fit_whitening(X_train, X_test, X_val, meta, *, whiten="zca", whiten_eps=0.01):
    """Fit the whitening on ``X_train`` and apply it to the three splits.

    Parameters
    ----------
    X_train, X_test, X_val : ndarray, shape (n, size * size)
        Grey patches (pixels in [0, 1]); only ``X_train`` is used for fitting.
    meta : dict
        Updated in place with ``scaling`` (a sentence) and ``whitening`` (``mean``, (d,), and
        ``matrix``, (d, d), of the map ``x -> (x - mean) @ matrix``).
    whiten : {'zca', 'none'}
    whiten_eps : float >= 0
        ZCA regularizer as a fraction of the mean eigenvalue of the training covariance.

    Returns
    -------
    X_train, X_test, X_val : ndarray
        Whitened copies.
    """
    whiten = check_choice("whiten", whiten, WHITENINGS)
    whiten_eps = check_number("whiten_eps", whiten_eps, low=0.0)
    mean = X_train.mean(axis=0)
    Xc = X_train - mean
    if X_train.shape[0] < 2 or not float(np.abs(Xc).max()) > 0:
        raise ValidationError("n_train", X_train.shape[0], "leaves too few distinct training patches to fit "
                              "the whitening (after the validation carve)")
    if whiten == "zca":
        lam, U = np.linalg.eigh(Xc.T @ Xc / Xc.shape[0])
        lam = np.clip(lam, 0.0, None)
        eps = whiten_eps * float(lam.mean())
        if np.min(lam) + eps <= 1e-12 * max(float(lam.max()), 1e-300):
            raise ValidationError("whiten_eps", whiten_eps, "must be > 0: the training covariance is singular")
        matrix = (U / np.sqrt(lam + eps)) @ U.T
        text = (f"ZCA whitening fitted on the training split (pixel mean removed, eps = {whiten_eps} x "
                "the mean eigenvalue)")
    else:
        matrix = np.eye(X_train.shape[1]) / float(Xc.std())
        text = "pixel mean removed and divided by one scalar SD, both fitted on the training split"
    meta.update(scaling=text, whitening={"mean": mean, "matrix": matrix})
    return tuple((X - mean) @ matrix for X in (X_train, X_test, X_val))
