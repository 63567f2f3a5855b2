"""The estimator API every model shares: fit / partial_fit (this module), predict / score /
evaluate / transform / save (`sim.models.prediction`), inputs and labels (`sim.models.inputs`),
callbacks (`sim.models.callbacks`).

Every model is a scikit-learn estimator (``BaseEstimator`` + ``ClassifierMixin``): ``fit(X, y)``
returns ``self``, ``classes_`` may be any labels, and ``clone``, ``Pipeline``,
``cross_val_score`` and ``GridSearchCV`` work; a `sim.tasks.Task` is accepted in place of
``X`` (with its own validation and test splits). Parameters follow scikit-learn's conventions:
``__init__`` assigns each constructor argument to an attribute of the same name and does
nothing else; each class declares a ``parameter_constraints`` table (`sim.constraints`), which
:meth:`Estimator.validate_params` checks without side effects, once, at the start of ``fit``; derived state is built in
``_initialize``; learned state ends in ``_``.
"""

from __future__ import annotations

import inspect
import math
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from sim.constraints import check_params
from sim.errors import ValidationError
from sim.models.callbacks import CallbackList, epoch_line
from sim.models.divergence import MAX_WEIGHT_NORM, divergence_reason
from sim.models.early_stopping import EarlyStopping, check_verbose
from sim.models.history import History
from sim.models.inputs import array_data, check_Xy, encode_labels, is_task, task_data, unique_classes
from sim.models.prediction import Predictor
from sim.seeds import model_streams, split_rng
from sim.validation import check_int

__all__ = ["Estimator", "MAX_WEIGHT_NORM", "MAX_UNITS"]

# most units of one layer: far beyond any study here, and small enough that a typo (10**9) is
# refused instead of exhausting memory
MAX_UNITS = 100_000


#: share of array input held out for validation when ``validation_fraction`` is None and
#: ``early_stopping`` is on (scikit-learn's MLPClassifier default)
DEFAULT_VALIDATION_FRACTION = 0.1


class Estimator(Predictor, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Base class; see `BackpropMLP` and `HebbianNet` for the parameters.

    Subclass hooks (called by this class only)
    ------------------------------------------
    ``_check_params()`` (checks across parameters, after the table); ``_initialize(n_features,
    n_classes, rng)`` (derived and learned state); ``_lr_schedule()``; ``_train_epoch(X, y, rng,
    lr_factor) -> dict`` (extra History fields); ``_epoch_extra(X) -> dict`` (optional);
    ``_loss(P, y) -> float``; ``_proba(X)``; ``_hidden_rates(X, layer)``; ``_weights() -> list``
    of weight matrices; ``_get_state() -> dict`` and ``_set_state(dict)`` for save/load;
    ``_export_arrays() -> dict`` (optional); ``_initialize`` sets ``_sizes``, the hidden stage
    sizes (empty: no hidden stage, `transform` then returns its input).
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

    def __sklearn_tags__(self):
        """scikit-learn's tags: a classifier whose `transform` gives the hidden code, in the
        model's ``dtype`` (so float64 is preserved only by a float64 model)."""
        tags = super().__sklearn_tags__()
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float64"] if str(self.dtype) == "float64" else []
        return tags

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
    def fit(self, X, y=None, *, epochs: int | None = None, callback=None, callbacks=None, progress: bool = False,
            verbose: int | None = None):
        """Train from scratch (or, with ``warm_start``, continue a fitted model: `partial_fit`).

        Parameters
        ----------
        X : sim.tasks.Task or array-like, shape (n_samples, n_features)
            A Task (``y`` None): training uses its training split; every decision (early
            stopping, a callback's) sees the training and validation metrics only; its test
            split is evaluated for the record. Arrays: the training rows, with ``y``; a
            validation split is carved from them when ``validation_fraction`` asks for one
            (`sim.models.inputs`); the History's test metrics are NaN.
        y : array-like, shape (n_samples,), optional
            Labels of any kind (ints, strings, ...); ``classes_`` is their sorted set. (``fit(task,
            N)`` with an int ``N`` is read as ``epochs=N``, as before ``y`` existed.)
        epochs : int, optional
            Passes over the training set (>= 1); default the ``epochs`` parameter; with early
            stopping at most this many.
        callback : callable, optional
            ``callback(model, record)`` after each epoch, with the epoch's record without its
            test metrics; fields it adds are kept in the History; returning ``False`` stops.
        callbacks : list of sim.models.callbacks.Callback, optional
            Keras-like callback objects (`EarlyStopping`, `ModelCheckpoint`, your own).
        progress : bool
            Show a tqdm progress bar over epochs.
        verbose : int, optional
            0 silent, 1 one line per epoch (`sim.models.callbacks.epoch_line`); default the
            ``verbose`` parameter.

        Returns
        -------
        self
            The History is ``self.history_`` (``diverged=True`` for a diverging run).
        """
        X, y, epochs = _epochs_in_place_of_y(X, y, epochs)
        epochs = check_int("epochs", self.epochs if epochs is None else epochs, low=1)
        self.validate_params()
        if self.warm_start and hasattr(self, "history_"):
            return self.partial_fit(X, y, epochs=epochs, callback=callback, callbacks=callbacks, progress=progress,
                                    verbose=verbose)
        return self._fit_new(X, y, None, epochs, CallbackList(callback, callbacks), progress, verbose)

    def _fit_new(self, X, y, classes, epochs, callbacks, progress, verbose):
        data, classes = self._data(X, y, classes, reset=True)
        streams = model_streams(self.seed)
        self._initialize(data[0].shape[1], len(classes), streams["init"])
        self._initial_norms = [float(np.linalg.norm(W)) for W in self._weights()]
        self._rng_order = streams["order"]
        self.n_features_in_ = data[0].shape[1]
        self.n_classes_ = len(classes)
        self.classes_ = classes
        self.epochs_done_ = 0
        self.samples_seen_ = 0
        self.train_seconds_ = 0.0
        self._total_epochs = epochs
        self.history_ = History(meta={"model": self.model_name, "task": getattr(X, "name", "") if is_task(X) else "",
                                      "seed": self.seed, "params": _jsonable(self.get_params())})
        self._run(data, epochs, callbacks, progress, verbose)
        return self

    def partial_fit(self, X, y=None, classes=None, *, epochs: int | None = None, callback=None, callbacks=None,
                    progress: bool = False, verbose: int | None = None):
        """Train ``epochs`` more epochs (default 1), continuing the same run (starting one if
        none: then ``classes``, when given, are all the labels later calls may bring).
        Arguments as for `fit`; returns ``self``."""
        X, y, epochs = _epochs_in_place_of_y(X, y, epochs)
        epochs = check_int("epochs", 1 if epochs is None else epochs, low=1)
        if not hasattr(self, "history_"):
            self.validate_params()
            return self._fit_new(X, y, classes, epochs, CallbackList(callback, callbacks), progress, verbose)
        if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValidationError("classes", classes, f"differ from the model's classes_ {self.classes_.tolist()[:10]}")
        data, _ = self._data(X, y, None, reset=False)
        if self.history_.diverged:
            return self
        if not hasattr(self, "_initial_norms"):  # a loaded model: growth counts from here
            self._initial_norms = [float(np.linalg.norm(W)) for W in self._weights()]
        self._total_epochs = max(self._total_epochs, self.epochs_done_ + epochs)
        self._run(data, epochs, CallbackList(callback, callbacks), progress, verbose)
        return self

    def _data(self, X, y, classes, reset: bool) -> tuple:
        """The six training arrays (integer labels) of a Task or of arrays, and the classes."""
        if is_task(X):
            if y is not None:
                raise ValidationError("y", y, "must be None when fitting a sim.tasks.Task (it holds the labels)")
            fitted = not reset
            if fitted and not np.array_equal(self.classes_, np.arange(self.n_classes_)):
                raise ValidationError("task", X, f"the model was fitted on the labels {self.classes_.tolist()[:10]}; "
                                                 "a Task's labels are 0..n_classes-1")
            if reset and hasattr(self, "feature_names_in_"):  # from an earlier fit on a DataFrame
                del self.feature_names_in_
            data = task_data(X, self._dtype(), self.n_features_in_ if fitted else None,
                             self.n_classes_ if fitted else None)
            return data, (self.classes_ if fitted else np.arange(int(X.n_classes)))
        if isinstance(X, (int, float, str)) or X is None:
            raise ValidationError("task", X, "must be a sim.tasks.Task or an array X of shape (n_samples, n_features)")
        X, y = check_Xy(self, X, y, reset=reset, dtype=self._dtype())
        classes = unique_classes(y, classes) if reset else self.classes_
        codes = self._encode("y", y, X.shape[0]) if not reset else encode_labels("y", y, classes)
        fraction = self.validation_fraction
        if fraction is None:
            fraction = DEFAULT_VALIDATION_FRACTION if self.early_stopping else 0.0
        return array_data(X, codes, fraction, split_rng(self.seed)), classes

    def _run(self, data, epochs, callbacks, progress, verbose) -> None:
        X, y, X_val, y_val, X_test, y_test = data
        verbose = check_verbose("verbose", self.verbose if verbose is None else verbose)
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
        callbacks.begin(self)
        try:
            for i in range(epochs):
                before = [W.copy() for W in self._weights()]
                factor = self._lr_schedule().factor(self.epochs_done_, self._total_epochs)
                t0 = time.perf_counter()
                with np.errstate(all="ignore"):
                    extra = self._train_epoch(X, y, self._rng_order, factor) or {}
                seconds = time.perf_counter() - t0
                self.train_seconds_ += seconds
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
                stop = callbacks.epoch_end(self, record)
                # the test split is evaluated after every decision of the epoch, for the record
                record.update(self._metrics("test", X_test, y_test, evaluate))
                if verbose:
                    print(epoch_line(record, self._total_epochs, seconds), flush=True)
                if stop or (evaluate and self._early_stop(record)):
                    self.history_.stopped_early = not stop and i < epochs - 1
                    break
        finally:
            if bar is not None:
                bar.close()
        self._restore_best()
        callbacks.end(self)
        self._end_fit()

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
        P = self._proba(X)
        if not np.all(np.isfinite(P)):
            return math.nan, math.nan
        acc = float(np.mean(np.argmax(P, axis=1) == y))
        return float(self._loss(P, y)), acc



def _epochs_in_place_of_y(X, y, epochs):
    """``fit(task, N)``: an int ``N`` after a Task is the number of epochs (the signature before
    ``y`` existed); an int after arrays is refused (labels are needed)."""
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
        if not is_task(X):
            raise ValidationError("y", y, "must be an array of labels, one per row of X (an int in place of y means "
                                          "epochs, which needs a sim.tasks.Task as the first argument)")
        if epochs is not None:
            raise ValidationError("epochs", epochs, f"given twice (also as the int {y} after the task)")
        return X, None, int(y)
    return X, y, epochs


def _jsonable(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        out[k] = v if isinstance(v, (int, float, str, bool, type(None), list, tuple)) else repr(v)
    return out
