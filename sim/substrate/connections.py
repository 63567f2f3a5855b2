"""The `Connection` between two populations: weights, bias, structural constraints, state.

A connection from ``n_pre`` presynaptic to ``n_post`` postsynaptic units holds a weight
matrix ``W`` of shape ``(n_post, n_pre)`` and a bias ``b`` of shape ``(n_post,)``. It maps
presynaptic rates ``r_pre`` of shape ``(batch, n_pre)`` to the input current
``J = r_pre @ W.T + b`` of shape ``(batch, n_post)``. Rates and currents are dimensionless
(arbitrary units), so are weights.

Structural constraints (a fixed sparsity mask, Dale's law, weight bounds, a per-row norm
ceiling) are imposed at construction and re-imposed in place by :meth:`Connection.constrain`,
which learning rules call after every update. All randomness comes from the
`numpy.random.Generator` passed in.

What is where: the weight initializers (:func:`init_weights`, :func:`initializer_names`,
``DEFAULT_NORMAL_SCALE``) live in `sim.substrate.initializers` and are re-exported here.
"""

from __future__ import annotations

import numbers

import numpy as np

from sim.errors import ValidationError
from sim.substrate.initializers import (
    DEFAULT_NORMAL_SCALE,
    canonical_initializer,
    check_scale,
    init_weights,
    initializer_names,
)
from sim.validation import as_generator, check_array, check_dtype, check_int, check_number

__all__ = ["initializer_names", "init_weights", "Connection", "DEFAULT_NORMAL_SCALE"]


def _unwrap(value):
    """Turn 0-d arrays (as read back from ``.npz`` files) into Python scalars."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


class Connection:
    """Weights and bias from a presynaptic to a postsynaptic population.

    Parameters
    ----------
    n_pre, n_post : int
        Number of presynaptic / postsynaptic units (>= 1).
    rng : numpy.random.Generator or int
        Source of the initial weights and of the connectivity mask (drawn in that order).
    init : str
        Initializer name, see :func:`init_weights`.
    scale : float, optional
        Initializer scale / gain, see :func:`init_weights`.
    bias : bool
        If False, ``b`` stays zero forever (:meth:`constrain` resets it) and ``has_bias`` is False.
    p_connect : float in (0, 1]
        Connection probability. Below 1, a fixed boolean mask of shape ``(n_post, n_pre)``
        (each entry True with probability ``p_connect``) is drawn once; masked weights are
        zero forever.
    dale : array_like of +-1 with shape (n_pre,), or float in [0, 1], optional
        Sign of each *presynaptic* unit (Dale's law). A float is the excitatory fraction:
        the first ``floor(dale * n_pre + 0.5)`` units are +1, the rest -1. Weights out of an
        excitatory unit stay >= 0, out of an inhibitory unit <= 0. At initialization the
        drawn weights are replaced by ``|W|`` times the sign.
    bounds : (lo, hi), optional
        Clip every weight into ``[lo, hi]``; either end may be None (unbounded). When combined
        with ``p_connect < 1``, ``dale`` or ``max_norm``, the interval must contain 0 so that all
        constraints can hold at once.
    max_norm : float, optional
        Ceiling on the ``norm_ord``-norm of each row (the weights *into* one post unit). Rows
        above it are rescaled onto it; rows at or below it are untouched.
    norm_ord : float
        Order ``p >= 1`` of the row norm (``numpy.inf`` allowed).
    dtype : {"float32", "float64"}
        Dtype of ``W``, ``b`` and of the currents.
    pre_map : sim.substrate.features.FeatureMap, optional
        What the synapses see of the presynaptic rates (powers, RMS gains, a constant unit);
        ``n_pre`` counts its outputs, ``n_source`` the presynaptic units it reads.
    p_metric : float, optional
        Current through the p-metric product of Krotov & Hopfield (2019):
        ``J = f(r) @ (sign(W) |W|^(p-1)).T + b`` (synaptic efficacy ``|W|^(p-1)``); None: ``W``.

    Attributes
    ----------
    W : numpy.ndarray, shape (n_post, n_pre)
        Weights; may be updated in place (``conn.W += dW``), then call :meth:`constrain`.
    b : numpy.ndarray, shape (n_post,)
        Bias (zeros at initialization).
    """

    def __init__(self, n_pre, n_post, *, rng, init="glorot_uniform", scale=None, bias=True,
                 p_connect=1.0, dale=None, bounds=None, max_norm=None, norm_ord=2.0, dtype="float32",
                 pre_map=None, p_metric=None):
        self.pre_map = pre_map
        self.p_metric = None if p_metric is None else check_number("p_metric", p_metric, low=2.0)
        self._setup(n_pre, n_post, init=init, scale=scale, bias=bias, p_connect=p_connect,
                    dale=dale, bounds=bounds, max_norm=max_norm, norm_ord=norm_ord, dtype=dtype)
        rng = as_generator(rng, "rng")
        W = init_weights(self._init, (self._n_post, self._n_pre), rng, dtype=np.float64, scale=self._scale)
        if self._p_connect < 1.0:
            self._mask = rng.random((self._n_post, self._n_pre)) < self._p_connect
        if self._dale is not None:
            W = np.abs(W) * self._dale[None, :]
        self._W = np.ascontiguousarray(W, dtype=self._dtype)
        self._b = np.zeros(self._n_post, dtype=self._dtype)
        self.constrain()

    # ------------------------------------------------------------------ setup / validation
    def _setup(self, n_pre, n_post, *, init, scale, bias, p_connect, dale, bounds, max_norm, norm_ord, dtype):
        self._n_pre = check_int("n_pre", n_pre, low=1)
        self._n_post = check_int("n_post", n_post, low=1)
        self._init = canonical_initializer(init)
        self._scale = check_scale(scale)
        if not isinstance(bias, (bool, np.bool_)):
            raise ValidationError("bias", bias, "must be True or False")
        self._has_bias = bool(bias)
        self._p_connect = check_number("p_connect", p_connect, low=0.0, low_open=True, high=1.0)
        self._mask = None
        self._dale = self._check_dale(dale)
        self._lo, self._hi = self._check_bounds(bounds)
        self._max_norm = None if max_norm is None else check_number("max_norm", max_norm, low=0.0, low_open=True)
        if isinstance(norm_ord, numbers.Real) and not isinstance(norm_ord, bool) and float(norm_ord) == np.inf:
            self._norm_ord = np.inf
        else:
            self._norm_ord = check_number("norm_ord", norm_ord, low=1.0)
        self._dtype = check_dtype("dtype", dtype)
        constrained = self._p_connect < 1.0 or self._dale is not None or self._max_norm is not None
        if constrained and bounds is not None and not (self._lo <= 0.0 <= self._hi):
            raise ValidationError("bounds", bounds, "must contain 0 when combined with p_connect < 1, dale or max_norm")

    def _check_dale(self, dale):
        if dale is None:
            return None
        if isinstance(dale, numbers.Real) and not isinstance(dale, bool):
            frac = check_number("dale", dale, low=0.0, high=1.0)
            n_exc = int(np.floor(frac * self._n_pre + 0.5))
            signs = np.full(self._n_pre, -1, dtype=np.int8)
            signs[:n_exc] = 1
            return signs
        arr = np.asarray(dale)
        if arr.ndim != 1 or arr.shape[0] != self._n_pre:
            raise ValidationError("dale", dale,
                                  f"must be a fraction in [0, 1] or {self._n_pre} signs (one per presynaptic unit)")
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or not np.all(np.isin(arr, (1, -1))):
            raise ValidationError("dale", dale, "signs must all be +1 or -1")
        return arr.astype(np.int8)

    @staticmethod
    def _check_bounds(bounds):
        if bounds is None:
            return -np.inf, np.inf
        if not isinstance(bounds, (tuple, list, np.ndarray)) or len(bounds) != 2:
            raise ValidationError("bounds", bounds, "must be a pair (lo, hi)")
        lo = -np.inf if bounds[0] is None or bounds[0] == -np.inf else check_number("bounds[0] (lo)", bounds[0])
        hi = np.inf if bounds[1] is None or bounds[1] == np.inf else check_number("bounds[1] (hi)", bounds[1])
        if lo > hi:
            raise ValidationError("bounds", bounds, "lo must be <= hi")
        return float(lo), float(hi)

    # ------------------------------------------------------------------ properties
    @property
    def n_pre(self) -> int:
        """Number of presynaptic units."""
        return self._n_pre

    @property
    def n_post(self) -> int:
        """Number of postsynaptic units."""
        return self._n_post

    @property
    def n_source(self) -> int:
        """Number of presynaptic units read (``n_pre`` minus the feature map's constant units)."""
        return self._n_pre - (self.pre_map.extra if self.pre_map is not None else 0)

    @property
    def dtype(self) -> np.dtype:
        """Dtype of ``W``, ``b`` and the currents."""
        return self._dtype

    @property
    def has_bias(self) -> bool:
        """Whether ``b`` is a learnable parameter (else it is zero forever)."""
        return self._has_bias

    @property
    def mask(self) -> np.ndarray | None:
        """Boolean connectivity mask, shape (n_post, n_pre), or None if fully connected (read-only copy)."""
        return None if self._mask is None else self._mask.copy()

    @property
    def dale(self) -> np.ndarray | None:
        """Sign (+1 / -1, int8) of each presynaptic unit, shape (n_pre,), or None (read-only copy)."""
        return None if self._dale is None else self._dale.copy()

    @property
    def bounds(self) -> tuple[float, float] | None:
        """``(lo, hi)`` weight bounds (+-inf for an open end), or None."""
        return None if (self._lo, self._hi) == (-np.inf, np.inf) else (self._lo, self._hi)

    @property
    def max_norm(self) -> float | None:
        """Row-norm ceiling, or None."""
        return self._max_norm

    @property
    def norm_ord(self) -> float:
        """Order of the row norm used with ``max_norm``."""
        return self._norm_ord

    @property
    def p_connect(self) -> float:
        """Connection probability used to draw the mask."""
        return self._p_connect

    @property
    def W(self) -> np.ndarray:
        """Weights, shape (n_post, n_pre)."""
        return self._W

    @W.setter
    def W(self, value):
        if value is self._W:  # in-place update such as ``conn.W += dW``
            return
        arr = check_array("W", value, ndim=2)
        if arr.shape != (self._n_post, self._n_pre):
            raise ValidationError("W", value, f"must have shape {(self._n_post, self._n_pre)}, got {arr.shape}")
        self._W = np.array(arr, dtype=self._dtype, order="C")

    @property
    def b(self) -> np.ndarray:
        """Bias, shape (n_post,)."""
        return self._b

    @b.setter
    def b(self, value):
        if value is self._b:
            return
        arr = check_array("b", value, ndim=1)
        if arr.shape != (self._n_post,):
            raise ValidationError("b", value, f"must have shape {(self._n_post,)}, got {arr.shape}")
        self._b = np.array(arr, dtype=self._dtype)

    def set_initial(self, W) -> Connection:
        """Set freshly drawn initial weights ``W`` (n_post, n_pre) as the constructor would:
        with Dale's law, ``|W|`` times each presynaptic unit's sign, then every constraint
        imposed. Returns ``self``."""
        W = check_array("W", W, ndim=2)
        if self._dale is not None:
            W = np.abs(W) * self._dale[None, :]
        self._W[...] = W
        return self.constrain()

    def share_memory(self, W: np.ndarray, b: np.ndarray) -> None:
        """Use the given arrays (e.g. views into a model's flat parameter buffer) as ``W`` and ``b``.

        The arrays must already hold the values; shapes and dtype must match. Later in-place
        updates of the buffer are seen by the connection and vice versa.
        """
        for name, arr, shape in (("W", W, (self._n_post, self._n_pre)), ("b", b, (self._n_post,))):
            if not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != self._dtype:
                raise ValidationError(name, arr, f"must be a {self._dtype} array of shape {shape}")
        self._W, self._b = W, b

    # ------------------------------------------------------------------ computation
    def efficacy(self) -> np.ndarray:
        """Effective weights the current sees: ``W``, or ``sign(W) |W|^(p-1)`` with ``p_metric``."""
        if self.p_metric is None or self.p_metric == 2.0:
            return self._W
        if self.p_metric == 3.0:  # the same numbers with one multiplication
            return self._W * np.abs(self._W)
        return np.sign(self._W) * np.abs(self._W) ** (self.p_metric - 1)

    def features(self, r_pre) -> np.ndarray:
        """What the synapses see: ``pre_map(r_pre)`` (or ``r_pre``), shape (batch, n_pre)."""
        r = check_array("r_pre", r_pre, ndim=2, n_features=self.n_source, dtype=self._dtype)
        return r if self.pre_map is None else self.pre_map(r)

    def current(self, r_pre) -> np.ndarray:
        """Input current ``J = f(r_pre) @ M.T + b`` (``f`` the feature map, ``M`` :meth:`efficacy`).

        Parameters
        ----------
        r_pre : array_like, shape (batch, n_source)
            Presynaptic rates; cast to the connection dtype.

        Returns
        -------
        numpy.ndarray
            Shape ``(batch, n_post)``, dtype ``self.dtype``.
        """
        J = self.features(r_pre) @ self.efficacy().T
        if self._has_bias:
            J += self._b
        return J

    def constrain(self) -> Connection:
        """Re-impose all structural constraints on ``W`` (and ``b``) in place.

        Order: bounds, Dale signs (wrong-signed weights set to 0), mask (masked weights set to
        0), row-norm ceiling (rows above ``max_norm`` rescaled onto it). Since the bounds
        contain 0 whenever other constraints are present, every constraint holds afterwards.
        Without ``bias``, ``b`` is reset to 0.

        Returns
        -------
        Connection
            ``self``.
        """
        W = self._W
        if self.bounds is not None:
            np.clip(W, self._lo, self._hi, out=W)
        if self._dale is not None:
            exc = self._dale > 0
            W[:, exc] = np.maximum(W[:, exc], 0)
            W[:, ~exc] = np.minimum(W[:, ~exc], 0)
        if self._mask is not None:
            W[~self._mask] = 0
        if self._max_norm is not None:
            norms = np.linalg.norm(W.astype(np.float64, copy=False), ord=self._norm_ord, axis=1)
            over = norms > self._max_norm
            if np.any(over):
                rows = W[over].astype(np.float64) * (self._max_norm / norms[over])[:, None]
                for _ in range(4):  # float32 rounding may leave a row a hair above: shrink by ulps
                    n_cast = np.linalg.norm(rows.astype(self._dtype).astype(np.float64), ord=self._norm_ord, axis=1)
                    if not np.any(bad := n_cast > self._max_norm):
                        break
                    rows[bad] *= 1.0 - 4 * np.finfo(self._dtype).eps
                W[over] = rows.astype(self._dtype)
        if not self._has_bias:
            self._b[...] = 0
        return self

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        """Everything needed to rebuild this connection exactly (see :meth:`from_state`).

        Values are arrays, strings, numbers or bools; optional settings that are unset are
        omitted (no None values), so the dict can be stored with ``numpy.savez``. A feature map
        is the model's (its running RMS is in the model's state) and is not included.
        """
        d = {"n_pre": self._n_pre, "n_post": self._n_post, "dtype": self._dtype.name,
             "init": self._init, "has_bias": self._has_bias, "p_connect": self._p_connect,
             "norm_ord": float(self._norm_ord), "W": self._W.copy(), "b": self._b.copy()}
        if self._scale is not None:
            d["scale"] = self._scale
        if self._mask is not None:
            d["mask"] = self._mask.copy()
        if self._dale is not None:
            d["dale"] = self._dale.copy()
        if self.bounds is not None:
            d["bounds"] = np.array([self._lo, self._hi])
        if self._max_norm is not None:
            d["max_norm"] = self._max_norm
        if self.p_metric is not None:
            d["p_metric"] = self.p_metric
        return d

    @classmethod
    def from_state(cls, d) -> Connection:
        """Rebuild a connection from :meth:`state` (0-d arrays from ``.npz`` files accepted)."""
        if not hasattr(d, "get") or "W" not in d:
            raise ValidationError("state", d, "must be a dict from Connection.state()")
        g = {k: _unwrap(d[k]) for k in d}
        self = cls.__new__(cls)
        self.pre_map = None
        self.p_metric = None if g.get("p_metric") is None else float(g["p_metric"])
        bounds = g.get("bounds")
        if bounds is not None:
            bounds = tuple(None if not np.isfinite(x) else float(x) for x in np.asarray(bounds, dtype=float))
        self._setup(g.get("n_pre"), g.get("n_post"), init=g.get("init", "glorot_uniform"),
                    scale=g.get("scale"), bias=g.get("has_bias", True),
                    p_connect=g.get("p_connect", 1.0), dale=g.get("dale"), bounds=bounds,
                    max_norm=g.get("max_norm"), norm_ord=g.get("norm_ord", 2.0),
                    dtype=g.get("dtype", "float32"))
        shape = (self._n_post, self._n_pre)
        if g.get("mask") is not None:
            mask = np.asarray(g["mask"])
            if mask.shape != shape or mask.dtype != bool:
                raise ValidationError("mask", mask, f"must be a boolean array of shape {shape}")
            self._mask = mask.copy()
        self._W = np.zeros(shape, dtype=self._dtype)
        self._b = np.zeros(self._n_post, dtype=self._dtype)
        self.W = np.array(g["W"], copy=True)
        self.b = np.array(g.get("b", self._b), copy=True)
        return self

    def __repr__(self) -> str:
        return f"Connection({self._n_pre} -> {self._n_post}, {self._dtype.name})"
