"""When a run has diverged, and inputs whose scale cannot train: checks on training signals only.

A run is diverged when, after an epoch, its training loss is not finite (evaluated epochs), a
weight matrix is not finite or its Frobenius norm exceeds ``MAX_WEIGHT_NORM``, or a connection
that started with non-zero weights has grown by more than ``MAX_GROWTH`` times its norm at the
start of training (a blow-up caught long before the absolute bound; no rule or optimizer here
grows a healthy layer by that much). Only training signals enter: never validation or test.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["MAX_WEIGHT_NORM", "MAX_GROWTH", "MAX_INPUT_SCALE", "divergence_reason", "warn_input_scale"]

MAX_WEIGHT_NORM = 1e6
MAX_GROWTH = 1e3
MAX_INPUT_SCALE = 1e6  # inputs beyond this magnitude train to chance in float32 arithmetic


def divergence_reason(record: dict, initial_norms) -> str:
    """Why the epoch ``record`` shows a diverged run ('' if it does not).

    Parameters
    ----------
    record : dict
        The epoch's History record (``evaluated``, ``train_loss``, ``weight_norm``, ``epoch``).
    initial_norms : sequence of float
        Frobenius norm of each weight matrix at the start of training (0 for zero-initialized
        ones, which the growth check skips).
    """
    epoch = record["epoch"]
    if record.get("evaluated", True) and not math.isfinite(record["train_loss"]):
        return f"non-finite training loss at epoch {epoch}"
    norms = record["weight_norm"]
    if any(not math.isfinite(n) or n > MAX_WEIGHT_NORM for n in norms):
        return f"weights blew up (norm > {MAX_WEIGHT_NORM:g}) at epoch {epoch}"
    for i, (n, n0) in enumerate(zip(norms, initial_norms)):
        if n0 > 0 and n > MAX_GROWTH * n0:
            return f"weights of connection {i} grew {n / n0:.3g}-fold (> {MAX_GROWTH:g}) by epoch {epoch}"
    return ""


def warn_input_scale(name: str, X: np.ndarray) -> None:
    """Warn (UserWarning) when inputs ``X`` reach magnitudes beyond ``MAX_INPUT_SCALE``."""
    big = float(np.max(np.abs(X), initial=0.0))
    if big > MAX_INPUT_SCALE:
        warnings.warn(f"{name} reaches |x| = {big:.3g} (> {MAX_INPUT_SCALE:g}): inputs of this scale saturate "
                      "or overflow the networks; standardize them (e.g. sim.tasks.from_arrays(..., "
                      "scale='standard'))", UserWarning, stacklevel=4)
