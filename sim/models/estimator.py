"""The estimator API every model shares: fit / partial_fit / predict / score / hidden_rates / save.

Parameters follow scikit-learn's conventions: ``__init__`` assigns each constructor argument to
an attribute of the same name and does nothing else; each class declares a
``parameter_constraints`` table (`sim.constraints`), which :meth:`Estimator.validate_params`
checks without side effects, once, at the start of ``fit``; derived state is built in
``_initialize``; learned state ends in ``_``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import time
import warnings

import numpy as np

from sim.constraints import check_params
from sim.errors import ValidationError
from sim.models.divergence import MAX_WEIGHT_NORM, divergence_reason, warn_input_scale
from sim.models.early_stopping import EarlyStopping
from sim.models.history import History
from sim.seeds import model_streams
from sim.validation import check_array, check_dtype, check_int, check_labels

__all__ = ["Estimator", "MAX_WEIGHT_NORM", "MAX_UNITS"]

# most units of one layer: far beyond any study here, and small enough that a typo (10**9) is
# refused instead of exhausting memory
MAX_UNITS = 100_000


class Estimator:
    """Base class; see `BackpropMLP` and `HebbianNet` for the parameters.

    Subclass hooks (called by this class only)
    ------------------------------------------
    ``_check_params()`` (checks across parameters, after the table); ``_initialize(n_features,
    n_classes, rng)`` (derived and learned state); ``_lr_schedule()``; ``_train_epoch(X, y, rng,
    lr_factor) -> dict`` (extra History fields); ``_epoch_extra(X) -> dict`` (optional);
    ``_loss(P, y) -> float``; ``_proba(X)``; ``_hidden_rates(X, layer)``; ``_weights() -> list``
    of weight matrices; ``_get_state() -> dict`` and ``_set_state(dict)`` for save/load;
    ``_export_arrays() -> dict`` (optional).
    """

    model_name = "estimator"
    parameter_constraints: dict = {}

    # ----- parameters -------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        """Names of the constructor parameters, in signature order."""
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor parameters as set (``deep`` is accepted for scikit-learn; no parameter
        holds an estimator)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params) -> Estimator:
        """Set constructor parameters; unknown names are refused (listing the valid ones)."""
        valid = self.param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValidationError(key, value, f"unknown parameter of {type(self).__name__}; "
                                                  f"valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def validate_params(self) -> None:
        """Check every parameter against the class's constraint table, then the checks across
        parameters; raise `ValidationError` naming the first bad one. Changes nothing."""
        check_params(self, self.parameter_constraints)
        self._check_params()

    def _check_params(self) -> None:
        """Checks that involve more than one parameter (none by default)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ----- training ---------------------------------------------------------------------
    def fit(self, task, epochs: int = 10, *, callback=None, progress: bool = False) -> History:
        """Train from scratch on ``task`` for ``epochs`` passes over its training split.

        Parameters
        ----------
        task : sim.tasks.Task
            Data with ``X_train, y_train, X_val, y_val, X_test, y_test, n_classes``. Training
            uses the training split; every decision (early stopping, a callback's) sees the
            training and validation metrics only; the test split is evaluated for the record.
        epochs : int
            Passes over the training set (>= 1); with ``early_stopping`` at most this many.
        callback : callable, optional
            ``callback(model, record)`` after each epoch, with the epoch's record without its
            test metrics; fields it adds are kept in the History; returning ``False`` stops
            training.
        progress : bool
            Show a tqdm progress bar over epochs.

        Returns
        -------
        History
            Also ``self.history_``; a diverging run returns one with ``diverged=True``.
        """
        epochs = check_int("epochs", epochs, low=1)
        self.validate_params()
        data = self._check_task(task)
        streams = model_streams(self.seed)
        self._initialize(data[0].shape[1], int(task.n_classes), streams["init"])
        self._initial_norms = [float(np.linalg.norm(W)) for W in self._weights()]
        self._rng_order = streams["order"]
        self.n_features_in_ = data[0].shape[1]
        self.n_classes_ = int(task.n_classes)
        self.epochs_done_ = 0
        self.samples_seen_ = 0
        self.train_seconds_ = 0.0
        self._total_epochs = epochs
        self.history_ = History(meta={"model": self.model_name, "task": getattr(task, "name", ""),
                                      "seed": self.seed, "params": _jsonable(self.get_params())})
        return self._run(data, epochs, callback, progress)

    def partial_fit(self, task, epochs: int = 1, *, callback=None, progress: bool = False) -> History:
        """Train ``epochs`` more epochs, continuing the same run (starting one if none)."""
        if not hasattr(self, "history_"):
            return self.fit(task, epochs, callback=callback, progress=progress)
        epochs = check_int("epochs", epochs, low=1)
        data = self._check_task(task)
        if self.history_.diverged:
            return self.history_
        if not hasattr(self, "_initial_norms"):  # a loaded model: growth counts from here
            self._initial_norms = [float(np.linalg.norm(W)) for W in self._weights()]
        self._total_epochs = max(self._total_epochs, self.epochs_done_ + epochs)
        return self._run(data, epochs, callback, progress)

    def _run(self, data, epochs, callback, progress) -> History:
        X, y, X_val, y_val, X_test, y_test = data
        self._stopper = None  # each fit / partial_fit call stops on its own data's validation split
        if self.early_stopping:
            if X_val.shape[0] == 0:
                raise ValidationError("early_stopping", self.early_stopping,
                                      "needs a validation split (the task has none: validation_fraction > 0)")
            self._stopper = EarlyStopping(self.n_iter_no_change, self.tol)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs, desc=f"{self.model_name}", unit="epoch", leave=False)
        try:
            for i in range(epochs):
                before = [W.copy() for W in self._weights()]
                factor = self._lr_schedule().factor(self.epochs_done_, self._total_epochs)
                t0 = time.perf_counter()
                with np.errstate(all="ignore"):
                    extra = self._train_epoch(X, y, self._rng_order, factor) or {}
                self.train_seconds_ += time.perf_counter() - t0
                self.epochs_done_ += 1
                self.samples_seen_ += X.shape[0]
                evaluate = self._evaluates(i, epochs)
                self.history_.append(**self._record(X, y, X_val, y_val, before, extra, evaluate))
                record = self.history_.records[-1]
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(val_acc=f"{record['val_accuracy']:.3f}")
                if self._check_divergence(record):
                    break
                stop = callback is not None and callback(self, record) is False
                # the test split is evaluated after every decision of the epoch, for the record
                record.update(self._metrics("test", X_test, y_test, evaluate))
                if stop or (evaluate and self._early_stop(record)):
                    self.history_.stopped_early = not stop and i < epochs - 1
                    break
        finally:
            if bar is not None:
                bar.close()
        self._restore_best()
        self._end_fit()
        return self.history_

    def _end_fit(self) -> None:
        """Hook at the end of ``fit`` / ``partial_fit`` (e.g. to drop caches of codes that are only
        valid while the model itself holds the weights)."""

    def _early_stop(self, record) -> bool:
        """Update early stopping with an eligible epoch's validation accuracy; True to stop."""
        if self._stopper is None or not self._supervised_epoch(record):
            return False
        return self._stopper.update(record["epoch"], record["val_accuracy"], self._get_state)

    def _supervised_epoch(self, record) -> bool:
        """Whether the epoch trained the supervised output (early stopping counts only these)."""
        return True

    def _restore_best(self) -> None:
        stopper = self._stopper
        if stopper is None or stopper.best_state is None or self.history_.diverged:
            return
        self.history_.best_epoch = stopper.best_epoch
        if stopper.best_epoch != self.epochs_done_:
            self._set_state(stopper.best_state)

    def _evaluates(self, i: int, epochs: int) -> bool:
        """Whether epoch ``i`` (0-based) of a ``fit`` call of ``epochs`` is evaluated (``eval_every``)."""
        every = int(self.eval_every)
        return i == epochs - 1 or (every > 0 and self.epochs_done_ % every == 0)

    def _record(self, X, y, X_val, y_val, before, extra, evaluate=True) -> dict:
        """The epoch's record: training and validation metrics (the test metrics come later),
        NaN when the epoch is not ``evaluate``d."""
        with np.errstate(all="ignore"):
            weights = self._weights()
            record = {
                "epoch": self.epochs_done_, "samples_seen": self.samples_seen_,
                "seconds": self.train_seconds_,
                **self._metrics("train", X, y, evaluate), **self._metrics("val", X_val, y_val, evaluate),
                "weight_norm": [float(np.linalg.norm(W)) for W in weights],
                "update_norm": [float(np.linalg.norm(W - B)) for W, B in zip(weights, before)],
                "evaluated": bool(evaluate),
            }
        record.update(extra)
        if evaluate:
            with np.errstate(all="ignore"):
                record.update(self._epoch_extra(X))
        return record

    def _epoch_extra(self, X) -> dict:
        """Model-specific per-epoch statistics of the training set (not timed as training)."""
        return {}

    def _check_divergence(self, record) -> bool:
        reason = divergence_reason(record, self._initial_norms)
        if reason:
            self.history_.diverged = True
            self.history_.diverged_reason = reason
        return bool(reason)

    def _metrics(self, split, X, y, evaluate=True) -> dict:
        with np.errstate(all="ignore"):
            loss, acc = self._evaluate(X, y) if evaluate and X.shape[0] else (math.nan, math.nan)
        return {f"{split}_loss": loss, f"{split}_accuracy": acc}

    def _evaluate(self, X, y) -> tuple[float, float]:
        P = self._predict_proba_checked(X)
        if not np.all(np.isfinite(P)):
            return math.nan, math.nan
        acc = float(np.mean(np.argmax(P, axis=1) == y))
        return float(self._loss(P, y)), acc

    # ----- validation -------------------------------------------------------------------
    def _check_task(self, task):
        for attr in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "n_classes"):
            if not hasattr(task, attr):
                raise ValidationError("task", task, f"must be a sim.tasks.Task (missing {attr})")
        n_classes = check_int("task.n_classes", task.n_classes, low=2, high=MAX_UNITS)  # one output unit each
        dtype = self._dtype()
        n_features = getattr(self, "n_features_in_", None) if hasattr(self, "history_") else None
        X = check_array("X_train", task.X_train, n_features=n_features, dtype=dtype)
        warn_input_scale("X_train", X)
        X_test = check_array("X_test", task.X_test, n_features=X.shape[1], dtype=dtype)
        X_val = check_array("X_val", task.X_val, n_features=X.shape[1], dtype=dtype, min_rows=0)
        y = check_labels("y_train", task.y_train, n_classes, n_samples=X.shape[0])
        y_val = check_labels("y_val", task.y_val, n_classes, n_samples=X_val.shape[0])
        y_test = check_labels("y_test", task.y_test, n_classes, n_samples=X_test.shape[0])
        if hasattr(self, "history_") and n_classes != self.n_classes_:
            raise ValidationError("task.n_classes", n_classes, f"the model was fitted with {self.n_classes_} classes")
        return X, y, X_val, y_val, X_test, y_test

    def _check_X(self, X) -> np.ndarray:
        self.check_fitted()
        return check_array("X", X, n_features=self.n_features_in_, dtype=self._dtype())

    def check_fitted(self) -> None:
        """Raise `ValidationError` unless the model has been fitted."""
        if not hasattr(self, "history_"):
            raise ValidationError("model", type(self).__name__, "is not fitted yet: call fit(task) first")

    def _dtype(self):
        return check_dtype("dtype", self.dtype)

    # ----- prediction -------------------------------------------------------------------
    def _predict_proba_checked(self, X):
        return self._proba(X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (or output rates for MSE outputs), shape (n_samples, n_classes).

        Warns (RuntimeWarning) when the model diverged during training: its outputs are then
        meaningless (often NaN, which `predict` would turn into class 0)."""
        X = self._check_X(X)
        self._warn_if_diverged()
        quiet = np.errstate(all="ignore") if self.history_.diverged else contextlib.nullcontext()
        with quiet:  # a diverged model's one warning says it all
            return self._proba(X)

    def _warn_if_diverged(self) -> None:
        if self.history_.diverged:
            warnings.warn(f"{type(self).__name__} diverged during training ({self.history_.diverged_reason}): "
                          "its predictions are meaningless", RuntimeWarning, stacklevel=3)

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_samples,), int64."""
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int64)

    def evaluate(self, X, y) -> dict:
        """``{"loss": ..., "accuracy": ...}`` of the model as it is on ``X, y`` (the loss the model
        trains on, in nats for cross-entropy; NaN for non-finite outputs)."""
        X = self._check_X(X)
        y = check_labels("y", y, self.n_classes_, n_samples=X.shape[0])
        with np.errstate(all="ignore"):
            loss, accuracy = self._evaluate(X, y)
        return {"loss": loss, "accuracy": accuracy}

    def evaluate_splits(self, task) -> dict:
        """``train_/val_/test_`` ``loss`` and ``accuracy`` of the model as it is (the best epoch's
        after early stopping) on the three splits of ``task``; NaN for an empty split; for a
        diverged run, its last epoch's record."""
        self.check_fitted()
        out = {}
        for split in ("train", "val", "test"):
            X, y = getattr(task, f"X_{split}"), getattr(task, f"y_{split}")
            if self.history_.diverged:
                metrics = {k: self.history_.last(f"{split}_{k}") for k in ("loss", "accuracy")}
            elif len(y) == 0:
                metrics = {"loss": math.nan, "accuracy": math.nan}
            else:
                metrics = self.evaluate(X, y)
            out.update({f"{split}_{k}": v for k, v in metrics.items()})
        return out

    def score(self, X, y) -> float:
        """Accuracy (fraction correct) on ``X, y`` (warns for a diverged model, as `predict_proba`)."""
        X = self._check_X(X)
        self._warn_if_diverged()
        y = check_labels("y", y, self.n_classes_, n_samples=X.shape[0])
        return float(np.mean(np.argmax(self._proba(X), axis=1) == y))

    def hidden_rates(self, X, layer: int = -1) -> np.ndarray:
        """Rates of hidden layer ``layer`` for inputs ``X``, shape (n_samples, layer size).

        Raises `ValidationError` for a model without hidden layers or a layer out of range.
        """
        return self._hidden_rates(self._check_X(X), layer)

    def export_arrays(self) -> dict:
        """Arrays an analysis of a stored run may need (copies, C order): ``W1``, the weights of
        the first connection (n_post, n_features), and what the model adds (`_export_arrays`)."""
        self.check_fitted()
        arrays = {}
        net = getattr(self, "network_", None)
        if net is not None and net.connections:
            arrays["W1"] = np.array(net.connections[0].W, order="C")
        arrays.update(self._export_arrays())
        return arrays

    def _export_arrays(self) -> dict:
        return {}

    # ----- persistence ------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the model (parameters, learned state, history) to ``path`` (.npz)."""
        from sim.models.persistence import save_model
        save_model(self, path)

    def state_arrays(self) -> dict:
        """The learned arrays (weights, optimizer and rule state) that `save` writes."""
        self.check_fitted()
        return {k: np.asarray(v) for k, v in self._get_state().items()}

    def fitted_state(self) -> dict:
        """The fitted scalars (sizes, counters, the data-order generator's state) that `save` writes."""
        self.check_fitted()
        return {"n_features_in_": self.n_features_in_, "n_classes_": self.n_classes_,
                "epochs_done_": self.epochs_done_, "samples_seen_": self.samples_seen_,
                "train_seconds_": self.train_seconds_, "_total_epochs": self._total_epochs,
                "rng_order": self._rng_order.bit_generator.state}

    def restore_state(self, arrays: dict, fitted: dict, history: History) -> Estimator:
        """Become the fitted model that `state_arrays` / `fitted_state` / ``history_`` describe."""
        fitted = dict(fitted)
        rng_state = fitted.pop("rng_order")
        for key in ("n_features_in_", "n_classes_", "epochs_done_", "samples_seen_", "train_seconds_"):
            setattr(self, key, fitted[key])
        self._total_epochs = fitted["_total_epochs"]
        self._rng_order = np.random.default_rng(0)  # state replaced just below
        self._rng_order.bit_generator.state = rng_state
        self.history_ = history
        self.validate_params()
        # early stopping goes on counting from here if training continues (partial_fit)
        self._stopper = EarlyStopping(self.n_iter_no_change, self.tol) if self.early_stopping else None
        self._set_state(arrays)
        return self


def _jsonable(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        out[k] = v if isinstance(v, (int, float, str, bool, type(None), list, tuple)) else repr(v)
    return out
