"""What the synapses of a connection see of the presynaptic rates: a feature map.

A `Connection` may map its presynaptic rates ``r`` (batch, n) before the weights act:

- ``f = sign(r) |r|^n`` (``power = n >= 1``, sign kept), the Hebbian readout's polynomial
  features (Krotov & Hopfield 2019 read a competitive code out through ``r^n``);
- divided per unit by its running root-mean-square over the presentations seen so far
  (``scaling='rms'``: a per-unit gain, like homeostatic synaptic scaling);
- with a constant unit of rate ``constant`` appended (``constant > 0``), whose learned weight
  acts as each postsynaptic unit's bias (needed by local rules, which have no separate bias).

The map belongs to the connection, so a network's forward pass is the model's forward pass.
"""

from __future__ import annotations

import numpy as np

from sim.validation import check_choice, check_int, check_number, check_state

__all__ = ["FeatureMap"]


class FeatureMap:
    """Presynaptic feature map ``r -> [sign(r) |r|^n / rms, constant]``.

    Parameters
    ----------
    power : float >= 1
        Exponent ``n`` of the features (1: the rates themselves).
    scaling : {'none', 'rms'}
        Divide each feature by its running RMS (:meth:`observe` folds batches in).
    constant : float >= 0
        Rate of a constant unit appended to the features (0: none).

    Attributes
    ----------
    extra : int
        Number of appended columns (1 with a constant unit, else 0).
    ms : numpy.ndarray, shape (n,), float64
        Running mean square of the features (state; allocated by :meth:`reset`).
    ms_count : int
        Batches folded into ``ms``.
    """

    def __init__(self, power: float = 1.0, scaling: str = "none", constant: float = 0.0):
        self.power = check_number("power", power, low=1.0)
        self.scaling = check_choice("scaling", scaling, ("none", "rms"))
        self.constant = check_number("constant", constant, low=0.0)
        self.extra = 1 if self.constant else 0
        self.ms = np.zeros(0)
        self.ms_count = 0

    def reset(self, n: int) -> FeatureMap:
        """Forget the running RMS of ``n`` input units; returns ``self``."""
        self.ms = np.zeros(int(n), dtype=np.float64)
        self.ms_count = 0
        return self

    @property
    def identity(self) -> bool:
        """True when the map returns its input unchanged."""
        return self.power == 1.0 and self.scaling == "none" and not self.extra

    def scaled(self) -> bool:
        """Whether the RMS division is in effect (RMS scaling with at least one batch seen)."""
        return self.scaling == "rms" and self.ms_count > 0

    def scale(self) -> np.ndarray:
        """Per-unit divisor of the features, shape (n,), float64 (ones when not scaled)."""
        return (np.sqrt(self.ms) + 1e-12) if self.scaled() else np.ones_like(self.ms)

    def powered(self, R: np.ndarray) -> np.ndarray:
        """``sign(r) |r|^n`` of rates ``R`` (batch, n), dtype of ``R``."""
        n = self.power
        return R if n == 1.0 else np.sign(R) * np.abs(R) ** n

    def __call__(self, R: np.ndarray) -> np.ndarray:
        """Features of rates ``R`` (batch, n): shape (batch, n + extra), dtype of ``R``."""
        F = self.powered(R)
        if self.scaled():
            F = F / (np.sqrt(self.ms) + 1e-12).astype(F.dtype)
        if self.extra:
            F = np.hstack([F, np.full((F.shape[0], 1), self.constant, dtype=F.dtype)])
        return F

    def observe(self, R: np.ndarray) -> None:
        """Fold the batch ``R`` (batch, n) into the running mean square (an exact mean over
        the first 100 batches, then an exponential average with rate 0.01); no-op without RMS
        scaling."""
        if self.scaling != "rms":
            return
        F = self.powered(np.abs(R))
        rate = max(1.0 / (self.ms_count + 1), 0.01)
        self.ms += rate * (np.mean(np.square(F, dtype=np.float64), axis=0) - self.ms)
        self.ms_count += 1

    def input_gradient(self, R: np.ndarray, g_F: np.ndarray) -> np.ndarray:
        """``dL/dR`` (float64) from ``dL/dF`` of the non-constant features, the RMS held fixed:
        ``dL/dr = g_F n |r|^(n-1) / rms``."""
        R = np.asarray(R, dtype=np.float64)
        n = self.power
        scale = self.scale() if self.scaled() else 1.0
        return g_F * n * np.abs(R) ** (n - 1) / scale

    def state(self) -> dict:
        """Arrays of the running RMS: ``ms`` and ``ms_count``."""
        return {"ms": self.ms, "ms_count": np.array(self.ms_count)}

    def set_state(self, arrays: dict) -> None:
        """Restore what :meth:`state` returned."""
        self.ms = check_state("ms", arrays["ms"], self.ms)
        self.ms_count = check_int("ms_count", check_state("ms_count", arrays["ms_count"], np.array(0)).item(), low=0)

    def __repr__(self) -> str:
        return f"FeatureMap(power={self.power:g}, scaling={self.scaling!r}, constant={self.constant:g})"
