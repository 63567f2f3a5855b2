"""Generators for the synthetic tasks of :mod:`sim.tasks` (2-D toys and Foldiak's bars).

Every generator draws from the `numpy.random.Generator` it is given and returns
``(X, y)`` with ``X`` float64 of shape ``(n, d)`` and ``y`` int64 of shape ``(n,)``.
Coordinates of the 2-D toys are dimensionless and of order 1; ``noise`` is the standard
deviation of isotropic Gaussian noise in those units. The 2-D toys are balanced: class
counts differ by at most one. Input checking is done by the caller (:func:`sim.tasks.load`).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_circles, make_moons

__all__ = ["xor", "moons", "circles", "spirals", "blobs", "bars", "bar_templates"]


def _balanced_labels(n: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Labels ``0..n_classes-1`` with counts differing by at most one, in random order."""
    return rng.permutation(np.arange(n, dtype=np.int64) % n_classes)


def _sklearn_seed(rng: np.random.Generator) -> int:
    """An int ``random_state`` for scikit-learn, drawn from ``rng``."""
    return int(rng.integers(0, 2**31 - 1))


def xor(n: int, noise: float, rng: np.random.Generator):
    """XOR as four Gaussian clusters at the corners ``(+-1, +-1)`` of a square.

    Opposite corners share a class: class 0 at ``(1, 1)`` and ``(-1, -1)``, class 1 at
    ``(1, -1)`` and ``(-1, 1)``. Each sample picks one of its class's two corners with
    probability 1/2 and adds ``N(0, noise^2)`` to each coordinate. The classes are
    separated by the coordinate axes, so the Bayes error is ``~2 * Phi(-1/noise)``
    (about 6e-5 at the default ``noise=0.25``).
    """
    y = _balanced_labels(n, 2, rng)
    sign = rng.choice(np.array([-1.0, 1.0]), size=n)
    centre = np.stack([sign, np.where(y == 0, sign, -sign)], axis=1)
    return centre + noise * rng.standard_normal((n, 2)), y


def moons(n: int, noise: float, rng: np.random.Generator):
    """Two interleaving half circles (`sklearn.datasets.make_moons`, shuffled).

    ``random_state`` is an int drawn from ``rng``; points lie in about ``[-1, 2] x [-0.5, 1]``.
    """
    X, y = make_moons(n_samples=n, noise=noise, shuffle=True, random_state=_sklearn_seed(rng))
    return X.astype(np.float64), y.astype(np.int64)


def circles(n: int, noise: float, factor: float, rng: np.random.Generator):
    """Two concentric circles (`sklearn.datasets.make_circles`): outer radius 1 is class 0,
    inner radius ``factor`` is class 1."""
    X, y = make_circles(n_samples=n, noise=noise, factor=factor, shuffle=True,
                        random_state=_sklearn_seed(rng))
    return X.astype(np.float64), y.astype(np.int64)


def spirals(n: int, noise: float, turns: float, rng: np.random.Generator):
    """Two interleaved Archimedean spirals ``r = a * theta``, class 1 rotated by pi.

    ``theta`` runs over ``[pi, pi + 2 pi turns]`` (starting at ``pi`` keeps the two arms
    apart at the centre) and ``a`` makes the outer radius 1. Points are spread roughly
    uniformly along the arc (``theta^2`` uniform). Neighbouring arms are ``pi * a`` apart
    (0.25 for ``turns=1.5``), so noise well below half that keeps the classes separable.
    """
    y = _balanced_labels(n, 2, rng)
    t_min, t_max = np.pi, np.pi * (1.0 + 2.0 * turns)
    theta = np.sqrt(t_min**2 + rng.random(n) * (t_max**2 - t_min**2))
    r = theta / t_max
    phi = theta + np.pi * y
    X = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    return X + noise * rng.standard_normal((n, 2)), y


def blobs(n: int, noise: float, n_classes: int, rng: np.random.Generator):
    """``n_classes`` isotropic Gaussian blobs (std ``noise``) centred on the unit circle.

    Centre ``k`` sits at angle ``pi/2 + 2 pi k / n_classes``; neighbouring centres are
    ``2 sin(pi / n_classes)`` apart (1.73 for 3 classes).
    """
    y = _balanced_labels(n, n_classes, rng)
    angle = np.pi / 2 + 2 * np.pi * np.arange(n_classes) / n_classes
    centres = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres[y] + noise * rng.standard_normal((n, 2)), y


def bar_templates(size: int) -> np.ndarray:
    """The ``2 * size`` bar images, flattened row-major: shape ``(2 * size, size * size)``.

    Rows ``0..size-1`` are the horizontal bars (image row ``i`` lit), rows
    ``size..2*size-1`` the vertical bars (image column ``j`` lit). Values are 0.0 / 1.0.
    """
    t = np.zeros((2 * size, size, size))
    for i in range(size):
        t[i, i, :] = 1.0
        t[size + i, :, i] = 1.0
    return t.reshape(2 * size, size * size)


def bars(n: int, p: float, size: int, rng: np.random.Generator):
    """Foldiak's bars: each of the ``2 * size`` bars is on independently with probability ``p``.

    Returns
    -------
    X : ndarray, shape (n, size * size), float64
        Binary images (a pixel is 1 if any bar through it is on; overlaps stay 1).
    y : ndarray, shape (n,), int64
        Number of bars on, ``0..2 * size``: the count label, a secondary task (it is almost a
        function of the number of lit pixels).
    on : ndarray, shape (n, 2 * size), bool
        Which bars are on (columns ordered as in :func:`bar_templates`): what the multi-label
        probe of a representation decodes (`sim.study.probes`); a task keeps it per split in
        ``meta["bars_train"]``, ``meta["bars_val"]`` and ``meta["bars_test"]``.
    """
    on = rng.random((n, 2 * size)) < p
    X = np.minimum(on.astype(np.float64) @ bar_templates(size), 1.0)
    return X, on.sum(axis=1).astype(np.int64), on
