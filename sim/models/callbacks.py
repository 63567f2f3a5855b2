"""Keras-like callbacks of ``fit`` / ``partial_fit``, and the ``verbose`` epoch line.

A callback is an object with any of ``on_train_begin(model)``, ``on_epoch_end(model, record)``
and ``on_train_end(model)`` (`Callback` has empty ones). ``record`` is the epoch's record
(``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``, ...) *without*
its test metrics: nothing that can stop training or choose weights sees the test split. Fields a
callback adds to ``record`` are kept in the History; ``on_epoch_end`` returning ``False`` stops
training. A monitored metric is NaN on epochs that are not evaluated (``eval_every``); those
epochs are skipped.

* `EarlyStopping` (Keras's rule): after each evaluated epoch, ``wait`` grows by one and is reset
  to 0 when the monitored value improves on the best by more than ``min_delta``; training stops
  when ``wait >= patience``. With ``restore_best_weights`` the model ends with the weights of the
  best epoch.
* `ModelCheckpoint`: ``model.save(path)`` at every improvement of the monitored value
  (``save_best_only``) or after every epoch; ``path`` may hold ``{epoch}``.
"""

from __future__ import annotations

import math
import os

from sim.errors import ValidationError
from sim.validation import check_choice, check_int, check_number

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "CallbackList", "epoch_line"]


def _check_monitor(monitor) -> str:
    if not isinstance(monitor, str) or not monitor:
        raise ValidationError("monitor", monitor, "must be the name of a recorded metric, e.g. 'val_accuracy'")
    if monitor.startswith("test_"):
        raise ValidationError("monitor", monitor, "test metrics never decide anything: monitor a validation "
                                                  "(val_*) or training (train_*) metric")
    return monitor


def _better(mode: str, monitor: str):
    """``better(current, best, delta)``: whether ``current`` improves on ``best`` by more than ``delta``."""
    mode = check_choice("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        mode = "min" if "loss" in monitor else "max"
    if mode == "min":
        return mode, lambda current, best, delta: current < best - delta
    return mode, lambda current, best, delta: current > best + delta


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, model) -> None:
        """Called at the start of each ``fit`` / ``partial_fit`` call."""

    def on_epoch_end(self, model, record: dict):
        """Called after each epoch with its record (no test metrics); ``False`` stops training."""

    def on_train_end(self, model) -> None:
        """Called when the ``fit`` / ``partial_fit`` call ends (also after a stop)."""


class EarlyStopping(Callback):
    """Stop when a monitored metric has stopped improving.

    Parameters
    ----------
    monitor : str
        Record field to watch, e.g. 'val_accuracy' (default) or 'val_loss'; never a test metric.
    min_delta : float >= 0
        Change that counts as an improvement (units of the metric).
    patience : int >= 1
        Evaluated epochs without improvement before stopping.
    mode : {'auto', 'min', 'max'}
        Whether lower or higher is better; 'auto': lower for a name holding 'loss'.
    restore_best_weights : bool
        End with the weights of the best epoch (`Estimator.get_weights` / ``set_weights``).
    start_from_epoch : int >= 0
        Epochs (of the model's count) to wait before watching, e.g. a Hebbian network's
        ``hidden_epochs`` during which its readout does not learn.

    Attributes
    ----------
    best : float
        Best monitored value of the current call.
    best_epoch : int or None
        Its epoch (1-based, the model's count).
    stopped_epoch : int or None
        Epoch at which this callback stopped training (None if it did not).
    wait : int
        Evaluated epochs since the last improvement.
    """

    def __init__(self, monitor="val_accuracy", min_delta=0.0, patience=10, mode="auto",
                 restore_best_weights=False, start_from_epoch=0):
        self.monitor = _check_monitor(monitor)
        self.min_delta = check_number("min_delta", min_delta, low=0.0)
        self.patience = check_int("patience", patience, low=1)
        self.mode, self._better = _better(mode, self.monitor)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, low=0)
        self.on_train_begin(None)

    def on_train_begin(self, model) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.best_weights = None
        self.stopped_epoch = None
        self.wait = 0

    def on_epoch_end(self, model, record: dict):
        value = record.get(self.monitor)
        if value is None:
            raise ValidationError("monitor", self.monitor, f"not a recorded metric; recorded: {', '.join(record)}")
        if record["epoch"] <= self.start_from_epoch or not math.isfinite(value):
            return None
        self.wait += 1
        if self._better(value, self.best, self.min_delta) or self.best_epoch is None:
            self.best, self.best_epoch, self.wait = float(value), int(record["epoch"]), 0
            if self.restore_best_weights:
                self.best_weights = model.get_weights()
        if self.wait >= self.patience:
            self.stopped_epoch = int(record["epoch"])
            return False
        return None

    def on_train_end(self, model) -> None:
        if self.restore_best_weights and self.best_weights is not None and model.n_iter_ != self.best_epoch:
            model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (``model.save``) during training.

    Parameters
    ----------
    path : str or os.PathLike
        File to write (``.npz``); may hold ``{epoch}``, filled with the epoch number.
    monitor : str
        Record field deciding what is best ('val_accuracy' by default; never a test metric).
    save_best_only : bool
        Save only when ``monitor`` improves on the best so far (by any amount); else every epoch.
    mode : {'auto', 'min', 'max'}
        As for `EarlyStopping`.

    Attributes
    ----------
    best : float
        Best monitored value saved so far.
    saved : list of str
        Paths written, in order.
    """

    def __init__(self, path, monitor="val_accuracy", save_best_only=True, mode="auto"):
        self.path = os.fspath(path)
        self.monitor = _check_monitor(monitor)
        self.save_best_only = bool(save_best_only)
        self.mode, self._better = _better(mode, self.monitor)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved = []

    def on_epoch_end(self, model, record: dict):
        if self.save_best_only:
            value = record.get(self.monitor)
            if value is None:
                raise ValidationError("monitor", self.monitor, f"not a recorded metric; recorded: {', '.join(record)}")
            if not (math.isfinite(value) and self._better(value, self.best, 0.0)):
                return None
            self.best = float(value)
        path = self.path.replace("{epoch}", str(record["epoch"]))
        model.save(path)
        self.saved.append(path)
        return None


class CallbackList:
    """The callbacks of one ``fit`` call: the plain ``callback(model, record)`` function (kept
    from before callbacks were objects) and the `Callback` objects, called in that order."""

    def __init__(self, function=None, callbacks=None):
        if function is not None and not callable(function):
            raise ValidationError("callback", function, "must be a function callback(model, record)")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not any(hasattr(cb, hook) for hook in ("on_train_begin", "on_epoch_end", "on_train_end")):
                raise ValidationError("callbacks", cb, "each must be a sim.models.callbacks.Callback "
                                                       "(or have its hooks)")
        self.function, self.callbacks = function, callbacks

    def begin(self, model) -> None:
        for cb in self.callbacks:
            if hasattr(cb, "on_train_begin"):
                cb.on_train_begin(model)

    def epoch_end(self, model, record: dict) -> bool:
        """Run every callback (all of them, even after one asked to stop); True to stop."""
        stop = self.function is not None and self.function(model, record) is False
        for cb in self.callbacks:
            if hasattr(cb, "on_epoch_end") and cb.on_epoch_end(model, record) is False:
                stop = True
        return stop

    def end(self, model) -> None:
        for cb in self.callbacks:
            if hasattr(cb, "on_train_end"):
                cb.on_train_end(model)


def epoch_line(record: dict, total: int, seconds: float) -> str:
    """The ``verbose=1`` line of an epoch: ``Epoch 3/10 - loss: 0.1234 - accuracy: 0.9612 -
    val_loss: 0.2001 - val_accuracy: 0.9410 - 0.05s`` (metrics of unevaluated epochs omitted;
    ``seconds``: the epoch's training time)."""
    parts = [f"Epoch {record['epoch']}/{total}"]
    for key, label in (("train_loss", "loss"), ("train_accuracy", "accuracy"), ("val_loss", "val_loss"),
                       ("val_accuracy", "val_accuracy")):
        value = record.get(key)
        if value is not None and math.isfinite(value):
            parts.append(f"{label}: {value:.4f}")
    parts.append(f"{seconds:.2f}s")
    return " - ".join(parts)
