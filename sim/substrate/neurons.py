"""Stateless neuron types: the rate function ``r = phi(J)`` and its derivative.

Every type maps an input current (or membrane potential) ``J`` of shape
``(batch, n)`` to rates of the same shape. ``J`` is dimensionless here; rates are in
arbitrary units. Look a type up by name with :func:`get`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax

from sim.errors import ValidationError
from sim.validation import check_choice, check_number

__all__ = [
    "Neuron", "Linear", "ReLU", "Sigmoid", "Tanh", "Softplus", "RectifiedPower", "Softmax",
    "get", "names",
]


class Neuron:
    """Base class. Subclasses define ``rate`` and ``derivative`` (elementwise ``d phi / dJ``).

    ``piecewise_linear`` is True when ``phi`` is linear on each side of 0 (Linear, ReLU), which
    lets the dynamics integrate inhibition exactly within the active set.
    """

    name = "neuron"
    piecewise_linear = False

    def rate(self, J: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, J: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.__dict__.items()))))


class Linear(Neuron):
    """Identity: ``phi(J) = J``."""

    name = "linear"
    piecewise_linear = True

    def rate(self, J):
        return J

    def derivative(self, J):
        return np.ones_like(J)


class ReLU(Neuron):
    """Rectified linear: ``phi(J) = max(J, 0)``; derivative 1 for J > 0, else 0."""

    name = "relu"
    piecewise_linear = True

    def rate(self, J):
        return np.maximum(J, 0)

    def derivative(self, J):
        return (J > 0).astype(J.dtype)


class Sigmoid(Neuron):
    """Logistic: ``phi(J) = 1 / (1 + exp(-J))``; ``phi' = phi (1 - phi)``."""

    name = "sigmoid"

    def rate(self, J):
        return expit(J)

    def derivative(self, J):
        s = expit(J)
        return s * (1 - s)


class Tanh(Neuron):
    """Hyperbolic tangent: ``phi' = 1 - tanh(J)^2``."""

    name = "tanh"

    def rate(self, J):
        return np.tanh(J)

    def derivative(self, J):
        t = np.tanh(J)
        return 1 - t * t


class Softplus(Neuron):
    """Smooth rectifier: ``phi(J) = log(1 + exp(J))``; ``phi' = sigmoid(J)``."""

    name = "softplus"

    def rate(self, J):
        return np.logaddexp(0, J).astype(J.dtype, copy=False)

    def derivative(self, J):
        return expit(J)


class RectifiedPower(Neuron):
    """Rectified power (Krotov & Hopfield 2016): ``phi(J) = max(J, 0)**n``.

    Parameters
    ----------
    n : float
        Exponent, >= 1 (n = 1 is the ReLU).
    """

    name = "rectified_power"

    def __init__(self, n: float = 3.0):
        self.n = check_number("n", n, low=1.0)

    @property
    def piecewise_linear(self):  # type: ignore[override]
        return self.n == 1.0

    def rate(self, J):
        return np.maximum(J, 0) ** self.n

    def derivative(self, J):
        return self.n * np.maximum(J, 0) ** (self.n - 1) * (J > 0)

    def __repr__(self):
        return f"RectifiedPower(n={self.n:g})"


class Softmax(Neuron):
    """Softmax over the last axis, for output populations.

    ``rate(J)_i = exp(J_i) / sum_j exp(J_j)``. It couples units, so ``derivative`` returns the
    full Jacobian ``diag(p) - p p^T`` of shape ``(batch, n, n)``; use :meth:`jvp` / :meth:`vjp`
    (both ``p * (u - <p, u>)``: the Jacobian is symmetric) in loops over batches.
    """

    name = "softmax"

    def rate(self, J):
        # in-place on a shifted copy: exp of non-positive numbers never overflows
        P = J - J.max(axis=-1, keepdims=True)
        np.exp(P, out=P)
        P /= P.sum(axis=-1, keepdims=True)
        return P

    def log_rate(self, J):
        """``log softmax(J)``, computed stably."""
        return log_softmax(J, axis=-1).astype(J.dtype, copy=False)

    def derivative(self, J):
        p = self.rate(J)
        return p[..., :, None] * (np.eye(p.shape[-1], dtype=p.dtype) - p[..., None, :])

    def jvp(self, J, u):
        """Jacobian-vector product ``(d softmax / dJ) u``, shape of ``J``."""
        p = self.rate(J)
        return p * (u - np.sum(p * u, axis=-1, keepdims=True))

    vjp = jvp  # the softmax Jacobian is symmetric


_REGISTRY = {cls.name: cls for cls in (Linear, ReLU, Sigmoid, Tanh, Softplus, RectifiedPower, Softmax)}


def names() -> list[str]:
    """Names accepted by :func:`get`."""
    return sorted(_REGISTRY)


def get(spec, **params) -> Neuron:
    """Return a neuron type from a name (``"relu"``), a ``Neuron`` instance, or ``"relu^3"``.

    ``"relu^n"`` / ``"rectified_power"`` with ``n=...`` builds a `RectifiedPower`.

    Raises
    ------
    ValidationError
        For unknown names; the message lists the valid ones.
    """
    if isinstance(spec, Neuron):
        return spec
    if not isinstance(spec, str):
        raise ValidationError("neuron", spec, f"must be a name; valid: {', '.join(names())}")
    key = spec.strip().lower()
    if key.startswith("relu^"):
        try:
            n = float(key[5:])
        except ValueError:
            raise ValidationError("neuron", spec, "exponent after 'relu^' must be a number") from None
        try:
            return RectifiedPower(n)
        except ValidationError as exc:  # named by the spec the caller gave, not RectifiedPower's n
            raise ValidationError("neuron", spec, f"exponent after 'relu^' {exc.requirement}") from None
    key = check_choice("neuron", key, _REGISTRY)
    return _REGISTRY[key](**params)
