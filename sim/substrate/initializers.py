"""Weight initializers: the initial weight matrix of a connection, drawn by name.

What is where: :func:`init_weights` draws a ``(n_post, n_pre)`` matrix, :func:`initializer_names`
lists the accepted names, :func:`canonical_initializer` and :func:`check_scale` validate a name
and a scale as :func:`init_weights` reads them (`sim.substrate.connections.Connection` uses them
to validate its ``init`` and ``scale``). `sim.substrate.connections` re-exports
:func:`init_weights`, :func:`initializer_names` and ``DEFAULT_NORMAL_SCALE``. Weights are
dimensionless; all randomness comes from the `numpy.random.Generator` passed in.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.validation import as_generator, check_choice, check_dtype, check_int, check_number

__all__ = ["initializer_names", "canonical_initializer", "check_scale", "init_weights", "DEFAULT_NORMAL_SCALE"]

#: Standard deviation of the ``"normal"`` initializer when ``scale`` is not given.
DEFAULT_NORMAL_SCALE = 0.01

_ALIASES = {"xavier_uniform": "glorot_uniform"}
_INITIALIZERS = ("glorot_uniform", "he_normal", "normal", "uniform", "zeros")


def initializer_names() -> list[str]:
    """Names accepted by :func:`init_weights` (aliases included), sorted."""
    return sorted((*_INITIALIZERS, *_ALIASES))


def canonical_initializer(name) -> str:
    """The initializer ``name`` denotes: lower-cased, aliases resolved (``"xavier_uniform"`` ->
    ``"glorot_uniform"``).

    Raises
    ------
    ValidationError
        (parameter ``init``) if ``name`` is not one of :func:`initializer_names`.
    """
    key = check_choice("init", name, initializer_names())
    return _ALIASES.get(key, key)


def check_scale(scale) -> float | None:
    """Validate an initializer ``scale``: None (the initializer's default) or a positive number.

    Raises
    ------
    ValidationError
        (parameter ``scale``) otherwise.
    """
    if scale is None:
        return None
    return check_number("scale", scale, low=0.0, low_open=True)


def _check_shape(shape) -> tuple[int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValidationError("shape", shape, "must be a pair (n_post, n_pre)")
    return check_int("shape[0] (n_post)", shape[0], low=1), check_int("shape[1] (n_pre)", shape[1], low=1)


def init_weights(name: str, shape, rng, *, dtype=np.float32, scale: float | None = None) -> np.ndarray:
    """Draw an initial weight matrix.

    Parameters
    ----------
    name : str
        One of :func:`initializer_names` (case-insensitive). With ``fan_in = n_pre`` and
        ``fan_out = n_post``:

        * ``"glorot_uniform"`` (alias ``"xavier_uniform"``): ``U(-a, a)``,
          ``a = gain * sqrt(6 / (fan_in + fan_out))``; std ``a / sqrt(3)``.
        * ``"he_normal"``: ``N(0, gain^2 * 2 / fan_in)``.
        * ``"normal"``: ``N(0, scale^2)``, ``scale`` default ``DEFAULT_NORMAL_SCALE = 0.01``.
        * ``"uniform"``: ``U(-scale, scale)``, ``scale`` default ``1 / sqrt(fan_in)``.
        * ``"zeros"``: all zeros (``scale`` ignored, no draw).

        For glorot and he, ``scale`` is a multiplicative gain (default 1).
    shape : tuple of int
        ``(n_post, n_pre)``.
    rng : numpy.random.Generator or int
        Source of randomness (see `sim.validation.as_generator`).
    dtype : {float32, float64}
        Output dtype. Draws are made in float64 and cast, so both dtypes see the same values.
    scale : float, optional
        Positive; meaning depends on ``name`` (see above).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_post, n_pre)``, dtype ``dtype``.
    """
    key = canonical_initializer(name)
    n_post, n_pre = _check_shape(shape)
    dt = check_dtype("dtype", dtype)
    scale = check_scale(scale)
    rng = as_generator(rng, "rng")
    fan_in, fan_out = n_pre, n_post
    if key == "zeros":
        W = np.zeros((n_post, n_pre))
    elif key == "glorot_uniform":
        a = (1.0 if scale is None else scale) * np.sqrt(6.0 / (fan_in + fan_out))
        W = rng.uniform(-a, a, size=(n_post, n_pre))
    elif key == "he_normal":
        std = (1.0 if scale is None else scale) * np.sqrt(2.0 / fan_in)
        W = rng.normal(0.0, std, size=(n_post, n_pre))
    elif key == "normal":
        W = rng.normal(0.0, DEFAULT_NORMAL_SCALE if scale is None else scale, size=(n_post, n_pre))
    else:  # uniform
        a = 1.0 / np.sqrt(fan_in) if scale is None else scale
        W = rng.uniform(-a, a, size=(n_post, n_pre))
    return np.ascontiguousarray(W, dtype=dt)
