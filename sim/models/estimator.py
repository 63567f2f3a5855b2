"""The estimator API both networks share: fit / partial_fit / predict / score / hidden / save.

Hyperparameters live in the constructor, which only stores them (scikit-learn style); ``fit``
validates them. Learned state ends in ``_``. Subclasses implement the hooks marked below.
"""

from __future__ import annotations

import inspect
import math
import time

import numpy as np

from sim.errors import ValidationError
from sim.models.history import History
from sim.seeds import model_streams
from sim.validation import check_array, check_int, check_labels

__all__ = ["Estimator"]

# weights beyond this Frobenius norm count as blown up (a diverged run)
MAX_WEIGHT_NORM = 1e6


class Estimator:
    """Base class; see `BackpropMLP` and `HebbianNet` for the parameters.

    Subclass hooks
    --------------
    ``_validate_params()``; ``_initialize(n_features, n_classes, rng)``;
    ``_train_epoch(X, y, rng, lr_factor) -> dict`` (extra History fields);
    ``_loss(P, y) -> float``; ``predict_proba(X)``; ``hidden(X, layer)``;
    ``_weights() -> list`` of weight matrices; ``_get_state() -> dict`` and
    ``_set_state(dict)`` for save/load; ``_eval_extra(X) -> dict`` (optional).
    """

    model_name = "estimator"

    # ----- parameters -------------------------------------------------------------------
    # Constructor arguments are kept in ``self._hp`` and read as attributes (``model.lr``). A
    # method of the same name wins attribute look-up, so ``hidden=(128,)`` (a parameter) and
    # ``hidden(X)`` (a method) coexist: read such a parameter with ``get_params()["hidden"]``.
    @classmethod
    def _param_names(cls) -> list[str]:
        if "_names" not in cls.__dict__:
            cls._names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        return cls._names

    def __setattr__(self, name, value):
        if name in self._param_names():
            self.__dict__.setdefault("_hp", {})[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        hp = self.__dict__.get("_hp", {})
        if name in hp:
            return hp[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def get_params(self) -> dict:
        """The constructor arguments as stored."""
        return {name: self._hp[name] for name in self._param_names()}

    def set_params(self, **params) -> "Estimator":
        """Set constructor arguments; unknown names are refused (listing the valid ones)."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValidationError(key, value, f"unknown parameter of {type(self).__name__}; valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ----- training ---------------------------------------------------------------------
    def fit(self, task, epochs: int = 10, *, callback=None, progress: bool = False) -> History:
        """Train from scratch on ``task`` for ``epochs`` passes over its training split.

        Parameters
        ----------
        task : sim.tasks.Task
            Data with ``X_train, y_train, X_test, y_test, n_classes``.
        epochs : int
            Passes over the training set (>= 1).
        callback : callable, optional
            ``callback(model, record)`` after each epoch; it may add fields to ``record`` (the
            History's own dict); returning ``False`` stops training.
        progress : bool
            Show a tqdm progress bar over epochs.

        Returns
        -------
        History
            Also stored as ``self.history_``. A diverging run returns a History with
            ``diverged=True`` instead of raising.
        """
        epochs = check_int("epochs", epochs, low=1)
        self._validate_params()
        data = self._check_task(task)
        streams = model_streams(self.seed)
        self._initialize(data[0].shape[1], int(task.n_classes), streams["init"])
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
        self._total_epochs = max(self._total_epochs, self.epochs_done_ + epochs)
        return self._run(data, epochs, callback, progress)

    def _run(self, data, epochs, callback, progress) -> History:
        X, y, X_test, y_test = data
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs, desc=f"{self.model_name}", unit="epoch", leave=False)
        try:
            for _ in range(epochs):
                before = [W.copy() for W in self._weights()]
                factor = self._lr_schedule().factor(self.epochs_done_, self._total_epochs)
                t0 = time.perf_counter()
                with np.errstate(all="ignore"):
                    extra = self._train_epoch(X, y, self._rng_order, factor) or {}
                self.train_seconds_ += time.perf_counter() - t0
                self.epochs_done_ += 1
                self.samples_seen_ += X.shape[0]
                self.history_.append(**self._record(X, y, X_test, y_test, before, extra))
                record = self.history_.records[-1]  # a callback may add fields to it
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(test_acc=f"{record['test_accuracy']:.3f}")
                if self._check_divergence(record):
                    break
                if callback is not None and callback(self, record) is False:
                    break
        finally:
            if bar is not None:
                bar.close()
        return self.history_

    def _record(self, X, y, X_test, y_test, before, extra) -> dict:
        with np.errstate(all="ignore"):
            train_loss, train_acc = self._evaluate(X, y)
            test_loss, test_acc = self._evaluate(X_test, y_test)
            weights = self._weights()
            record = {
                "epoch": self.epochs_done_, "samples_seen": self.samples_seen_,
                "seconds": self.train_seconds_,
                "train_loss": train_loss, "train_accuracy": train_acc,
                "test_loss": test_loss, "test_accuracy": test_acc,
                "weight_norm": [float(np.linalg.norm(W)) for W in weights],
                "update_norm": [float(np.linalg.norm(W - B)) for W, B in zip(weights, before)],
            }
        record.update(extra)
        with np.errstate(all="ignore"):
            record.update(self._epoch_extra(X))
        return record

    def _epoch_extra(self, X) -> dict:
        """Model-specific per-epoch statistics of the training set (not timed as training)."""
        return {}

    def _check_divergence(self, record) -> bool:
        reason = ""
        if not math.isfinite(record["train_loss"]):
            reason = f"non-finite training loss at epoch {record['epoch']}"
        elif any(not math.isfinite(n) or n > MAX_WEIGHT_NORM for n in record["weight_norm"]):
            reason = f"weights blew up (norm > {MAX_WEIGHT_NORM:g}) at epoch {record['epoch']}"
        if reason:
            self.history_.diverged = True
            self.history_.diverged_reason = reason
        return bool(reason)

    def _evaluate(self, X, y) -> tuple[float, float]:
        P = self._predict_proba_checked(X)
        if not np.all(np.isfinite(P)):
            return math.nan, math.nan
        acc = float(np.mean(np.argmax(P, axis=1) == y))
        return float(self._loss(P, y)), acc

    # ----- validation -------------------------------------------------------------------
    def _check_task(self, task):
        for attr in ("X_train", "y_train", "X_test", "y_test", "n_classes"):
            if not hasattr(task, attr):
                raise ValidationError("task", task, f"must be a sim.tasks.Task (missing {attr})")
        n_classes = check_int("task.n_classes", task.n_classes, low=2)
        dtype = self._dtype()
        n_features = getattr(self, "n_features_in_", None) if hasattr(self, "history_") else None
        X = check_array("X_train", task.X_train, n_features=n_features, dtype=dtype)
        X_test = check_array("X_test", task.X_test, n_features=X.shape[1], dtype=dtype)
        y = check_labels("y_train", task.y_train, n_classes, n_samples=X.shape[0])
        y_test = check_labels("y_test", task.y_test, n_classes, n_samples=X_test.shape[0])
        if hasattr(self, "history_") and n_classes != self.n_classes_:
            raise ValidationError("task.n_classes", n_classes, f"the model was fitted with {self.n_classes_} classes")
        return X, y, X_test, y_test

    def _check_X(self, X) -> np.ndarray:
        self._check_fitted()
        return check_array("X", X, n_features=self.n_features_in_, dtype=self._dtype())

    def _check_fitted(self) -> None:
        if not hasattr(self, "history_"):
            raise ValidationError("model", type(self).__name__, "is not fitted yet: call fit(task) first")

    def _dtype(self):
        from sim.validation import check_dtype
        return check_dtype("dtype", self.dtype)

    # ----- prediction -------------------------------------------------------------------
    def _predict_proba_checked(self, X):
        return self._proba(X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (or output rates for MSE outputs), shape (n_samples, n_classes)."""
        return self._proba(self._check_X(X))

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_samples,), int64."""
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int64)

    def score(self, X, y) -> float:
        """Accuracy (fraction correct) on ``X, y``."""
        X = self._check_X(X)
        y = check_labels("y", y, self.n_classes_, n_samples=X.shape[0])
        return float(np.mean(np.argmax(self._proba(X), axis=1) == y))

    # ----- persistence ------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the model (parameters, learned state, history) to ``path`` (.npz)."""
        from sim.models.persistence import save_model
        save_model(self, path)


def _jsonable(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        out[k] = v if isinstance(v, (int, float, str, bool, type(None), list, tuple)) else repr(v)
    return out
