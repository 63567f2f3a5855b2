"""2-D Gabor fits of receptive fields and their population statistics.

The model (Jones & Palmer 1987; the parametrization of Ringach 2002)::

    G(x, y) = A exp(-x'^2 / (2 sigma_x^2) - y'^2 / (2 sigma_y^2)) cos(2 pi f x' + phase) + c
    x' =  (x - x0) cos(theta) + (y - y0) sin(theta)
    y' = -(x - x0) sin(theta) + (y - y0) cos(theta)

``x`` is the column and ``y`` the row of a pixel (pixel units), ``theta`` the direction of the
carrier's wave vector (the stripes run along ``y'``), ``f`` its spatial frequency in cycles per
pixel, ``sigma_x`` the envelope's SD across the stripes and ``sigma_y`` along them, so Ringach's
dimensionless sizes are ``n_x = sigma_x f`` and ``n_y = sigma_y f``.

References: J. P. Jones & L. A. Palmer (1987) J. Neurophysiol. 58:1233-1258; D. L. Ringach (2002)
Spatial structure and symmetry of simple-cell receptive fields in macaque primary visual cortex.
J. Neurophysiol. 88:455-463.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from sim.errors import ValidationError
from sim.validation import check_array

__all__ = ["gabor", "fit_gabor", "fit_units", "population", "FIELDS", "MIN_VE", "MIN_SIGMA",
           "ORIENTATION_BINS", "MIN_WIDTH", "MIN_NX", "CRITERIA", "well_fitted"]

FIELDS = ("variance_explained", "orientation", "frequency", "sigma_x", "sigma_y", "phase", "x0", "y0",
          "amplitude", "offset", "n_x", "n_y")
MIN_VE = 0.7  # a unit is well fitted when the Gabor explains at least 70% of its variance ...
MIN_SIGMA = 1.5  # ... and its envelope size lies in [1.5 px, half the patch side] (`well_fitted`)
MIN_WIDTH = 1.0  # 'oriented' also asks neither envelope SD to be below one pixel ...
MIN_NX = 0.1  # ... and a carrier of at least 0.1 cycle per envelope SD across the stripes
ORIENTATION_BINS = 6  # 30-degree bins of orientation in [0, 180)
_SCREEN = 15  # function evaluations of the screening run from each start
_PAD = 4  # zero-padding factor of the FFT that gives the starting frequency


def gabor(params, shape) -> np.ndarray:
    """The Gabor ``G`` on a grid of ``shape = (rows, cols)`` pixels.

    Parameters
    ----------
    params : sequence of 9 floats
        ``(A, x0, y0, theta, f, phase, sigma_x, sigma_y, c)``: amplitude, centre column and row
        (px), wave-vector direction (rad), frequency (cycles / px), phase (rad), envelope SDs
        (px), offset.
    shape : tuple of 2 ints

    Returns
    -------
    ndarray, shape ``shape``
    """
    A, x0, y0, theta, f, phase, sx, sy, c = params
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    xr = (x - x0) * np.cos(theta) + (y - y0) * np.sin(theta)
    yr = -(x - x0) * np.sin(theta) + (y - y0) * np.cos(theta)
    return A * np.exp(-xr ** 2 / (2 * sx ** 2) - yr ** 2 / (2 * sy ** 2)) * np.cos(2 * np.pi * f * xr + phase) + c


def _jacobian(params, shape) -> np.ndarray:
    """d G / d params, shape (rows * cols, 9), analytic."""
    A, x0, y0, theta, f, phase, sx, sy, c = params
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    ct, st = np.cos(theta), np.sin(theta)
    dx, dy = x - x0, y - y0
    xr, yr = dx * ct + dy * st, -dx * st + dy * ct
    env = np.exp(-xr ** 2 / (2 * sx ** 2) - yr ** 2 / (2 * sy ** 2))
    arg = 2 * np.pi * f * xr + phase
    cos, sin = np.cos(arg), np.sin(arg)
    # dG/dxr and dG/dyr at fixed A, f, phase, sigmas
    g_xr = A * env * (-xr / sx ** 2 * cos - 2 * np.pi * f * sin)
    g_yr = A * env * (-yr / sy ** 2) * cos
    cols = [env * cos,
            g_xr * -ct + g_yr * st,                  # d/dx0
            g_xr * -st + g_yr * -ct,                 # d/dy0
            g_xr * yr + g_yr * -xr,                  # d/dtheta: dxr/dtheta = yr, dyr/dtheta = -xr
            A * env * -sin * 2 * np.pi * xr,         # d/df
            A * env * -sin,                          # d/dphase
            A * env * cos * xr ** 2 / sx ** 3,       # d/dsigma_x
            A * env * cos * yr ** 2 / sy ** 3,       # d/dsigma_y
            np.ones_like(x)]
    return np.stack([col.ravel() for col in cols], axis=1)


def _starts(w: np.ndarray) -> list:
    """Starting points: frequency and direction from the FFT peak, centre from the energy's
    centre of mass, a few envelope sizes and phases."""
    h, wd = w.shape
    F = np.abs(np.fft.fft2(w - w.mean(), s=(_PAD * h, _PAD * wd)))
    F[0, 0] = 0.0
    fy_i, fx_i = np.unravel_index(np.argmax(F), F.shape)
    fy = np.fft.fftfreq(_PAD * h)[fy_i]
    fx = np.fft.fftfreq(_PAD * wd)[fx_i]
    f0, theta0 = max(float(np.hypot(fx, fy)), 1e-3), float(np.arctan2(fy, fx))
    energy = (w - w.mean()) ** 2
    total = float(energy.sum()) or 1.0
    y, x = np.mgrid[0:h, 0:wd]
    x0, y0 = float((energy * x).sum() / total), float((energy * y).sum() / total)
    amp = float(np.abs(w).max()) or 1.0
    starts = []
    for sigma in (1.0, 2.0, max(h, wd) / 4):
        for phase in (0.0, np.pi / 2, np.pi, 3 * np.pi / 2):
            starts.append([amp, x0, y0, theta0, f0, phase, sigma, sigma, 0.0])
    return starts


def fit_gabor(w, shape=None) -> dict:
    """Least-squares 2-D Gabor fit of one receptive field (`scipy.optimize.least_squares`, the
    best of 12 starts, see `_starts`).

    Parameters
    ----------
    w : array_like, shape (rows, cols) or (rows * cols,)
        The weights of one unit.
    shape : tuple of 2 ints, optional
        Image shape when ``w`` is flat (default: a square).

    Returns
    -------
    dict
        `FIELDS`: ``variance_explained`` = 1 - residual SS / SS about the mean (0 for a constant
        field), ``orientation`` of the wave vector in degrees in [0, 180), ``frequency``
        (cycles / px, >= 0), ``sigma_x``, ``sigma_y`` (px, > 0), ``phase`` (rad in [0, 2 pi)),
        ``x0``, ``y0`` (px), ``amplitude`` (>= 0), ``offset``, ``n_x``, ``n_y``.
    """
    w = check_array("w", w, ndim=1 if np.ndim(w) == 1 else 2, dtype=np.float64)
    if w.ndim == 1:
        side = int(round(np.sqrt(w.size)))
        shape = shape or (side, side)
        if shape[0] * shape[1] != w.size:
            raise ValidationError("shape", shape, f"must have {w.size} pixels")
        w = w.reshape(shape)
    if w.ndim != 2 or min(w.shape) < 2:
        raise ValidationError("w", w, "must be an image of at least 2 x 2 pixels")
    h, wd = w.shape
    ss = float(np.sum((w - w.mean()) ** 2))
    if ss <= 1e-300:
        return {**dict.fromkeys(FIELDS, 0.0), "sigma_x": 0.0, "sigma_y": 0.0}
    side = max(h, wd)
    lower = [-np.inf, -1.0, -1.0, -np.inf, 0.0, -np.inf, 0.3, 0.3, -np.inf]
    upper = [np.inf, wd, h, np.inf, 0.5, np.inf, 2.0 * side, 2.0 * side, np.inf]
    def run(start, nfev):
        start = np.clip(start, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
        return least_squares(lambda q: (gabor(q, w.shape) - w).ravel(), start, bounds=(lower, upper),
                             jac=lambda q: _jacobian(q, w.shape), method="trf", max_nfev=nfev)
    # a short run from every start, then the two best continued to convergence
    short = sorted((run(start, _SCREEN) for start in _starts(w)), key=lambda r: r.cost)
    best = min((run(r.x, 300) for r in short[:2]), key=lambda r: r.cost)
    A, x0, y0, theta, f, phase, sx, sy, c = best.x
    if A < 0:  # the same Gabor with the carrier shifted by half a cycle
        A, phase = -A, phase + np.pi
    theta = float(np.mod(theta, 2 * np.pi))
    if theta >= np.pi:  # the wave vector and its opposite: same Gabor with the phase negated
        theta, phase = theta - np.pi, -phase
    ve = 1.0 - 2.0 * best.cost / ss
    return {"variance_explained": float(ve), "orientation": float(np.degrees(theta)) % 180.0,
            "frequency": float(f), "sigma_x": float(sx), "sigma_y": float(sy),
            "phase": float(np.mod(phase, 2 * np.pi)), "x0": float(x0), "y0": float(y0),
            "amplitude": float(A), "offset": float(c), "n_x": float(sx * f), "n_y": float(sy * f)}


def fit_units(W, shape) -> dict:
    """`fit_gabor` of every row of ``W`` (units x pixels); returns ``{field: ndarray (units,)}``."""
    W = check_array("W", W, ndim=2, dtype=np.float64)
    if W.shape[1] != shape[0] * shape[1]:
        raise ValidationError("shape", shape, f"must have {W.shape[1]} pixels (columns of W)")
    fits = [fit_gabor(row.reshape(shape)) for row in W]
    return {k: np.array([fit[k] for fit in fits]) for k in FIELDS}


CRITERIA = ("gabor", "oriented", "strict")


def well_fitted(fits: dict, side: int, criterion: str = "gabor") -> np.ndarray:
    """Boolean mask of the units that count as Gabor-like.

    ``criterion``:

    - ``'gabor'`` (the primary count): the Gabor explains at least `MIN_VE` of the unit's
      variance and its envelope size ``sqrt(sigma_x sigma_y)`` lies in [`MIN_SIGMA`,
      ``side / 2``]: a single-pixel unit (SDs of about half a pixel) and a whole-patch grating
      do not count. Narrow, elongated edges and lines (``sigma_x`` near or below 1 px,
      ``sigma_y`` long) do.
    - ``'oriented'``: ``'gabor'`` and, in addition, a carrier (``n_x = sigma_x f >= MIN_NX``,
      0.1, about the lower end of Ringach's simple cells) and an envelope at least `MIN_WIDTH`
      px across the stripes: drops blobs and ramps, but also single edges and lines whose fit
      has ``f`` near 0.
    - ``'strict'``: VE and carrier as ``'oriented'``, and BOTH SDs in [`MIN_SIGMA`,
      ``side / 2``].

    ``side`` is the patch side (px).
    """
    if criterion not in CRITERIA:
        raise ValidationError("criterion", criterion, f"must be one of {', '.join(CRITERIA)}")
    ve, sx, sy = fits["variance_explained"], fits["sigma_x"], fits["sigma_y"]
    size = np.sqrt(sx * sy)
    if criterion == "gabor":
        return (ve >= MIN_VE) & (size >= MIN_SIGMA) & (size <= side / 2)
    ok = (ve >= MIN_VE) & (sx * fits["frequency"] >= MIN_NX)
    if criterion == "strict":
        return ok & (sx >= MIN_SIGMA) & (sy >= MIN_SIGMA) & (sx <= side / 2) & (sy <= side / 2)
    return ok & (size >= MIN_SIGMA) & (size <= side / 2) & (np.minimum(sx, sy) >= MIN_WIDTH)


def population(fits: dict, side: int, criterion: str = "gabor") -> dict:
    """Population statistics of the fits of one model.

    Returns
    -------
    dict
        ``n_units``; ``fraction_gabor`` (share of well-fitted units, `well_fitted` with
        ``criterion``);
        ``orientation_counts`` (well-fitted units per 30-degree bin, from 0 degrees);
        ``empty_orientation_bins``; ``frequency_quartiles`` (cycles / px, of the well-fitted
        units, NaN when none); ``median_n_x``, ``median_n_y``; ``mask`` (the well-fitted units).
    """
    mask = well_fitted(fits, side, criterion)
    counts = np.histogram(fits["orientation"][mask], bins=ORIENTATION_BINS, range=(0.0, 180.0))[0]
    freq = fits["frequency"][mask]
    quart = np.percentile(freq, [25, 50, 75]) if freq.size else np.full(3, np.nan)
    def med(a):
        return float(np.median(a)) if a.size else float("nan")
    return {"n_units": int(mask.size), "fraction_gabor": float(mask.mean()) if mask.size else 0.0,
            "orientation_counts": counts.astype(int).tolist(), "empty_orientation_bins": int(np.sum(counts == 0)),
            "frequency_quartiles": [float(q) for q in quart], "median_n_x": med(fits["n_x"][mask]),
            "median_n_y": med(fits["n_y"][mask]), "mask": mask}
