"""The fitted side of the estimator API: predict / score / evaluate / transform / save / weights.

`Predictor` is a base of `sim.models.estimator.Estimator` (it uses the hooks that class
documents: ``_proba``, ``_loss``, ``_hidden_rates``, ``_get_state``, ``_set_state``, ...).
Labels in and out are the model's ``classes_`` (any labels: ints, strings, ...; a model fitted
on a `sim.tasks.Task` has ``classes_ = arange(n_classes)``).
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

from sim.errors import ValidationError
from sim.models.early_stopping import EarlyStopping
from sim.models.history import History
from sim.models.inputs import (
    NotFittedError,
    check_X,
    classes_from_json,
    classes_to_json,
    encode_labels,
    feature_names_from_json,
)
from sim.validation import check_dtype

__all__ = ["Predictor"]


class Predictor:
    """Prediction, evaluation, hidden codes, persistence and weights of a fitted model."""

    # ----- fitted or not ----------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "history_")

    def check_fitted(self) -> None:
        """Raise `NotFittedError` (a `ValidationError`, and scikit-learn's ``NotFittedError``)
        unless the model has been fitted."""
        if not hasattr(self, "history_"):
            raise NotFittedError("model", type(self).__name__, "is not fitted yet: call fit(X, y) or fit(task) first")

    @property
    def n_iter_(self) -> int:
        """Epochs trained so far (over every ``fit`` / ``partial_fit`` call of this run)."""
        self.check_fitted()
        return int(self.epochs_done_)

    @property
    def loss_curve_(self) -> list:
        """Training loss after each epoch (``history_["train_loss"]``; NaN on epochs that were
        not evaluated, see ``eval_every``)."""
        self.check_fitted()
        return list(self.history_["train_loss"])

    def _dtype(self):
        return check_dtype("dtype", self.dtype)

    def _check_X(self, X) -> np.ndarray:
        self.check_fitted()
        return check_X(self, X, reset=False, dtype=self._dtype())

    def _encode(self, name: str, y, n_samples: int) -> np.ndarray:
        """Labels ``y`` (of ``classes_``) as positions 0..n_classes-1, one per sample."""
        codes = encode_labels(name, y, self.classes_)
        if codes.shape[0] != n_samples:
            raise ValidationError(name, y, f"must have {n_samples} labels (one per sample), got {codes.shape[0]}")
        return codes

    # ----- prediction -------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (or output rates for MSE outputs), shape (n_samples, n_classes),
        columns in the order of ``classes_``.

        Warns (RuntimeWarning) when the model diverged during training: its outputs are then
        meaningless (often NaN, which `predict` would turn into the first class)."""
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
        """Predicted labels, shape (n_samples,): elements of ``classes_`` (int64 for a model
        fitted on a Task)."""
        P = self.predict_proba(X)  # checks first: the model may not be fitted
        return self.classes_[np.argmax(P, axis=1)]

    def evaluate(self, X, y) -> dict:
        """``{"loss": ..., "accuracy": ...}`` of the model as it is on ``X, y`` (labels of
        ``classes_``; the loss the model trains on, in nats for cross-entropy; NaN for
        non-finite outputs)."""
        X = self._check_X(X)
        y = self._encode("y", y, X.shape[0])
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

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (fraction correct) on ``X, y`` (labels of ``classes_``; optional per-sample
        weights); warns for a diverged model, as `predict_proba`."""
        X = self._check_X(X)
        self._warn_if_diverged()
        y = self._encode("y", y, X.shape[0])
        correct = np.argmax(self._proba(X), axis=1) == y
        if sample_weight is None:
            return float(np.mean(correct))
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != correct.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValidationError("sample_weight", sample_weight, f"must be {correct.shape[0]} finite weights >= 0, "
                                                                  "not all 0")
        return float(np.sum(w * correct) / np.sum(w))

    def hidden_rates(self, X, layer: int = -1) -> np.ndarray:
        """Rates of hidden layer ``layer`` for inputs ``X``, shape (n_samples, layer size).

        Raises `ValidationError` for a model without hidden layers or a layer out of range.
        """
        return self._hidden_rates(self._check_X(X), layer)

    def transform(self, X) -> np.ndarray:
        """The hidden code: rates of the last hidden stage, shape (n_samples, its size), as
        ``hidden_rates(X)`` (so a model can be a feature extractor in a Pipeline); for a model
        without a hidden stage, the input it reads out, ``X`` itself (as checked, in ``dtype``)."""
        X = self._check_X(X)
        return self._hidden_rates(X, -1) if self._sizes else X

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

    # ----- weights and persistence ------------------------------------------------------
    def get_weights(self) -> dict:
        """Copies of the learned arrays (weights, optimizer and rule state), by name: what
        `set_weights` takes back (Keras's names; a dict here)."""
        self.check_fitted()
        return {k: np.array(v, copy=True) for k, v in self._get_state().items()}

    def set_weights(self, weights: dict) -> None:
        """Put back arrays from `get_weights` of this model (the same configuration)."""
        self.check_fitted()
        if not isinstance(weights, dict) or set(weights) != set(self._get_state()):
            raise ValidationError("weights", weights, "must be a dict from get_weights() of this model")
        self._set_state({k: np.array(v, copy=True) for k, v in weights.items()})

    def save(self, path) -> None:
        """Write the model (parameters, learned state, history) to ``path`` (.npz)."""
        from sim.models.persistence import save_model
        save_model(self, path)

    def state_arrays(self) -> dict:
        """The learned arrays (weights, optimizer and rule state) that `save` writes."""
        self.check_fitted()
        return {k: np.asarray(v) for k, v in self._get_state().items()}

    def fitted_state(self) -> dict:
        """The fitted scalars (sizes, counters, labels, the data-order generator's state) that
        `save` writes."""
        self.check_fitted()
        fitted = {"n_features_in_": self.n_features_in_, "n_classes_": self.n_classes_,
                  "classes_": classes_to_json(self.classes_),
                  "epochs_done_": self.epochs_done_, "samples_seen_": self.samples_seen_,
                  "train_seconds_": self.train_seconds_, "_total_epochs": self._total_epochs,
                  "rng_order": self._rng_order.bit_generator.state}
        if hasattr(self, "feature_names_in_"):  # fitted on a DataFrame
            fitted["feature_names_in_"] = {"names": [str(n) for n in self.feature_names_in_]}
        return fitted

    def restore_state(self, arrays: dict, fitted: dict, history: History):
        """Become the fitted model that `state_arrays` / `fitted_state` / ``history_`` describe."""
        fitted = dict(fitted)
        rng_state = fitted.pop("rng_order")
        for key in ("n_features_in_", "n_classes_", "epochs_done_", "samples_seen_", "train_seconds_"):
            setattr(self, key, fitted[key])
        self.classes_ = classes_from_json(fitted.get("classes_"), self.n_classes_)
        if "feature_names_in_" in fitted:
            self.feature_names_in_ = feature_names_from_json(fitted["feature_names_in_"], self.n_features_in_)
        self._total_epochs = fitted["_total_epochs"]
        self._rng_order = np.random.default_rng(0)  # state replaced just below
        self._rng_order.bit_generator.state = rng_state
        self.history_ = history
        self.validate_params()
        # early stopping goes on counting from here if training continues (partial_fit)
        self._stopper = EarlyStopping(self.n_iter_no_change, self.tol) if self.early_stopping else None
        self._set_state(arrays)
        return self
