"""Optimizers and learning-rate schedules: turn a rule's direction into a weight step.

Convention: a learning rule returns a *direction* ``d`` (for error-driven rules the negative
gradient, for Hebbian rules the plasticity direction) and the optimizer moves the parameters
``p`` along it. All optimizers work on flat float arrays in place, so one call updates every
layer of a network whose parameters share one buffer.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import get_blas_funcs

from sim.errors import ValidationError
from sim.validation import check_choice, check_int, check_number, check_state

__all__ = ["SGD", "Momentum", "Adam", "Constant", "StepDecay", "LinearDecay", "get_optimizer",
           "get_schedule", "optimizer_names", "schedule_names"]


class SGD:
    """Plain stochastic gradient step: ``p <- p + lr * d``."""

    name = "sgd"

    def reset(self, p: np.ndarray) -> None:
        """Allocate state for parameters ``p`` (none for SGD)."""

    def step(self, p: np.ndarray, d: np.ndarray, lr: float) -> None:
        """Update ``p`` in place along direction ``d`` (same shape) with learning rate ``lr``."""
        p += lr * d

    def state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass


class Momentum(SGD):
    """Heavy-ball momentum, optionally Nesterov (Sutskever et al. 2013; PyTorch's convention).

    ``v <- beta v + d``; ``p <- p + lr v`` (classical) or ``p <- p + lr (d + beta v)`` (Nesterov).

    Parameters
    ----------
    beta : float in [0, 1)
        Momentum coefficient.
    nesterov : bool
        Use the Nesterov look-ahead form.
    """

    name = "momentum"

    def __init__(self, beta: float = 0.9, nesterov: bool = False):
        self.beta = check_number("beta", beta, low=0.0, high=1.0, high_open=True)
        self.nesterov = bool(nesterov)
        self.v = None

    def reset(self, p):
        self.v = np.zeros_like(p)

    def step(self, p, d, lr):
        v = self.v
        v *= self.beta
        v += d
        if self.nesterov:
            p += lr * (d + self.beta * v)
        else:
            p += lr * v

    def state(self):
        return {"v": self.v}

    def set_state(self, state):
        self.v = check_state("v", state["v"], self.v)


class Adam(SGD):
    """Adam (Kingma & Ba 2015) on the negative direction ``g = -d``.

    ``m <- b1 m + (1-b1) g``, ``s <- b2 s + (1-b2) g^2``,
    ``p <- p - lr * m_hat / (sqrt(s_hat) + eps)`` with bias-corrected ``m_hat, s_hat``.

    Notes
    -----
    Fused for speed (seven passes over the parameters per step, three of them BLAS ``axpy``
    calls): the state is kept unnormalized and undecayed,
    ``M = m / ((1 - b1) b1^(t - t0))`` and ``S = s / ((1 - b2) b2^(t - t0))``, which turns both
    averages into one scaled accumulation each, ``M <- M + b1^-(t - t0) d`` and
    ``S <- S + b2^-(t - t0) d^2``, with no decay pass. The decay is folded into the scalar step
    and the scalar ``eps`` of :meth:`step`. The reference step ``t0`` is the last multiple of
    ``K`` before ``t`` (``K`` steps: the most for which ``b^-K <= RESCALE``); moving it costs one
    rescaling pass every ``K`` steps. With ``b1 = 0`` or ``b2 = 0`` the plain form is used. Same
    numbers as the textbook form up to rounding (tested). `state` reports ``m`` and ``s`` as in
    the paper and the stored ``M`` and ``S`` (``t0`` follows from ``t``), so that a restored
    optimizer continues exactly as the original does; `set_state` also accepts ``m``, ``s``
    and ``t`` alone.
    """

    name = "adam"
    RESCALE = 2.0 ** 20

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.beta1 = check_number("beta1", beta1, low=0.0, high=1.0, high_open=True)
        self.beta2 = check_number("beta2", beta2, low=0.0, high=1.0, high_open=True)
        self.eps = check_number("eps", eps, low=0.0, low_open=True)
        self.M = self.S = None
        self.t = self._t0 = 0
        self._interval = (None, 1)

    def __getstate__(self):
        # the BLAS routine chosen for the buffers is not picklable: chosen again on unpickling
        return {k: v for k, v in self.__dict__.items() if k != "_axpy"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for key in ("M", "S", "_tmp"):  # own, writable buffers (an unpickled array may be read-only)
            if isinstance(state.get(key), np.ndarray):
                setattr(self, key, np.array(state[key]))
        if self.M is not None:
            self._axpy = _axpy_for(self.M)

    def reset(self, p):
        self.M = np.zeros_like(p)
        self.S = np.zeros_like(p)
        self._tmp = np.empty_like(p)
        self.t = self._t0 = 0
        self._axpy = _axpy_for(p)

    def _reference(self, t: int) -> int:
        """The reference step ``t0`` of step ``t``: ``t`` itself in the plain form (a beta of
        0), else the last multiple of ``K`` before ``t``."""
        b = min(self.beta1, self.beta2)
        if b == 0:
            return t
        if self._interval[0] != (b, self.RESCALE):  # K, computed once per beta
            self._interval = ((b, self.RESCALE), max(1, int(math.log(self.RESCALE) / -math.log(b))))
        K = self._interval[1]
        return max(t - 1, 0) // K * K

    def _decays(self):
        """``(b1^(t - t0), b2^(t - t0))``: what the stored ``M, S`` are to be multiplied by."""
        k = self.t - self._t0
        return self.beta1 ** k, self.beta2 ** k

    def _rebase(self, t0: int) -> None:
        """Fold the decay up to step ``t0`` into ``M`` and ``S``; ``t0`` becomes the reference."""
        k = t0 - self._t0
        if k:
            self.M *= self.beta1 ** k
            self.S *= self.beta2 ** k
        self._t0 = t0

    def step(self, p, d, lr):
        b1, b2, tmp = self.beta1, self.beta2, self._tmp
        axpy = self._axpy(p, d)
        if b1 == 0 or b2 == 0:  # the stored state is the plain m / (1-b1), s / (1-b2)
            self._rebase(self.t)
            self.M *= b1
            self.M += d
            self.S *= b2
            np.multiply(d, d, out=tmp)
            self.S += tmp
            self.t = self._t0 = t = self.t + 1
            a1 = a2 = 1.0
        else:
            self.t = t = self.t + 1
            t0 = self._reference(t)
            if t0 != self._t0:
                self._rebase(t0)
            a1, a2 = self._decays()
            axpy(d, self.M, 1.0 / a1)     # M += b1^-(t - t0) d
            np.multiply(d, d, out=tmp)
            axpy(tmp, self.S, 1.0 / a2)   # S += b2^-(t - t0) d^2
        # m_hat = (1-b1) a1 M / (1-b1^t);  sqrt(s_hat) = c2 sqrt(a2 S), c2 = sqrt((1-b2) / (1-b2^t))
        c = math.sqrt((1 - b2) / (1 - b2**t) * a2)
        np.sqrt(self.S, out=tmp)
        tmp += self.eps / c
        np.divide(self.M, tmp, out=tmp)
        axpy(tmp, p, lr * (1 - b1) / (1 - b1**t) * a1 / c)

    def state(self):
        a1, a2 = self._decays()
        return {"m": self.M * (a1 * (1 - self.beta1)), "s": self.S * (a2 * (1 - self.beta2)),
                "t": np.array(self.t), "M": self.M, "S": self.S}

    def set_state(self, state):
        m, s = check_state("m", state["m"], self.M), check_state("s", state["s"], self.S)
        self.t = check_int("t", check_state("t", state["t"], np.array(0)).item(), low=0)
        self._t0 = self._reference(self.t)
        if "M" in state and "S" in state:  # the stored accumulations: an exact continuation
            self.M, self.S = check_state("M", state["M"], m), check_state("S", state["S"], s)
        else:
            a1, a2 = self._decays()
            self.M = (m / ((1 - self.beta1) * a1)).astype(m.dtype)
            self.S = (s / ((1 - self.beta2) * a2)).astype(s.dtype)
        self._tmp = np.empty_like(self.M)
        self._axpy = _axpy_for(self.M)


def _axpy_for(like):
    """``axpy_for(p, d)``: the ``axpy(x, y, a)`` (``y += a x`` in place) of one step on ``p`` along
    ``d``: BLAS (one pass; numpy needs two) when ``p``, ``d`` and the state (shaped and typed as
    ``like``) are contiguous float32 / float64 vectors of one dtype, else numpy."""
    blas = None
    if like.ndim == 1 and like.flags.c_contiguous and like.dtype in (np.float32, np.float64):
        blas = get_blas_funcs("axpy", (like,))

    def plain(x, y, a):
        y += a * x

    def fast(x, y, a):
        blas(x, y, a=a)

    def axpy_for(p, d):
        ok = (blas is not None and p.dtype == d.dtype == like.dtype and p.shape == d.shape == like.shape
              and p.flags.c_contiguous and d.flags.c_contiguous)
        return fast if ok else plain
    return axpy_for


_OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": lambda: Momentum(nesterov=True), "adam": Adam}


def optimizer_names() -> list[str]:
    return sorted(_OPTIMIZERS)


def get_optimizer(spec, name: str = "optimizer"):
    """Return a fresh optimizer from a name ('sgd', 'momentum', 'nesterov', 'adam') or instance."""
    if isinstance(spec, SGD):
        return spec
    if not isinstance(spec, str):
        raise ValidationError(name, spec, f"must be a name; valid: {', '.join(optimizer_names())}")
    return _OPTIMIZERS[check_choice(name, spec, _OPTIMIZERS)]()


class Constant:
    """Constant learning rate: factor 1 at every epoch."""

    name = "constant"

    def factor(self, epoch: int, total: int) -> float:
        """Multiplier of the base learning rate during ``epoch`` (0-based) of ``total``."""
        return 1.0


class StepDecay(Constant):
    """Multiply the learning rate by ``gamma`` every ``every`` epochs."""

    name = "step"

    def __init__(self, every: int = 10, gamma: float = 0.5):
        self.every = check_int("every", every, low=1)
        self.gamma = check_number("gamma", gamma, low=0.0, high=1.0, low_open=True)

    def factor(self, epoch, total):
        return self.gamma ** (epoch // self.every)


class LinearDecay(Constant):
    """Linear decay from the base rate to zero at the end of training: ``1 - epoch / total``.

    With ``fit`` called for ``total`` epochs, epoch ``e`` uses ``(total - e) / total``, so the last
    epoch still learns and a further call learns nothing (the rate has reached zero).
    """

    name = "linear"

    def factor(self, epoch, total):
        return max(0.0, 1.0 - epoch / total)


_SCHEDULES = {"constant": Constant, "step": StepDecay, "linear": LinearDecay}


def schedule_names() -> list[str]:
    return sorted(_SCHEDULES)


def get_schedule(spec, name: str = "schedule"):
    """Return a schedule from a name ('constant', 'step', 'linear') or an instance."""
    if isinstance(spec, Constant):
        return spec
    if not isinstance(spec, str):
        raise ValidationError(name, spec, f"must be a name; valid: {', '.join(schedule_names())}")
    return _SCHEDULES[check_choice(name, spec, _SCHEDULES)]()
