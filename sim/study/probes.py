"""Probes of a trained model that a study stores in a run's evaluation: the bars multi-label probe.

On Foldiak's bars (`sim.tasks.toys.bars`) the label a model is trained on is the number of bars
that are on, a secondary task (it is almost a function of the number of lit pixels). What the
report uses instead is the *which-bars* probe: a multi-label decoder of a representation, one
logistic regression per bar, fitted on the training split and scored on the test split.

* :func:`multilabel_probe` fits it on any representation (a model's hidden code, raw pixels):
  the inverse regularization ``C`` is chosen on the validation split (exact-match accuracy, ties
  broken by balanced per-bar accuracy, then the smaller ``C``), features are standardized on the
  training split; the test split is only scored: exact-match (subset) accuracy, all ``2 * size``
  bars right, and balanced accuracy per bar averaged over bars.
* :func:`bars_learned` counts the bars that some unit's weight vector matches (Pearson
  ``r >= 0.8``), each unit claiming at most one bar (a maximum bipartite matching).
* :func:`bars_evaluation` is what the study worker stores for a bars run: the probe of the
  model's hidden code (if it has one), of the raw pixels (the same for every model of a seed),
  and the bars-learned score of the first-layer weights.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from sim.errors import ValidationError

__all__ = ["multilabel_probe", "bars_learned", "bars_evaluation", "PROBE_CS", "MATCH_R"]

PROBE_CS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)  # the validation grid of the logistic regressions' C
MATCH_R = 0.8  # Pearson r at which a unit's weight vector counts as a bar


def _per_bar_fits(Z_train, on_train, C):
    """One fitted logistic regression per column of ``on_train`` (a constant column: its value)."""
    fits = []
    for j in range(on_train.shape[1]):
        col = on_train[:, j]
        if col.min() == col.max():
            fits.append(bool(col[0]))
            continue
        clf = LogisticRegression(C=C, max_iter=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Z_train, col)
        fits.append(clf)
    return fits


def _predict(fits, Z):
    out = np.empty((Z.shape[0], len(fits)), dtype=bool)
    for j, f in enumerate(fits):
        out[:, j] = f if isinstance(f, bool) else f.predict(Z).astype(bool)
    return out


def _scores(pred, on) -> tuple[float, float]:
    """(exact-match accuracy, mean balanced accuracy over bars)."""
    exact = float(np.mean(np.all(pred == on, axis=1)))
    per_bar = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a bar absent from a split: its balanced accuracy is its recall
        for j in range(on.shape[1]):
            per_bar.append(balanced_accuracy_score(on[:, j], pred[:, j]))
    return exact, float(np.mean(per_bar))


def multilabel_probe(Z_train, on_train, Z_val, on_val, Z_test, on_test, Cs=PROBE_CS) -> dict:
    """Decode which bars are on from a representation, one logistic regression per bar.

    Parameters
    ----------
    Z_train, Z_val, Z_test : ndarray, shape (n_split, n_features)
        The representation of each split (hidden rates, or pixels).
    on_train, on_val, on_test : ndarray, shape (n_split, n_bars), bool
        Which bars are on (`sim.tasks.Task.meta` ``bars_train`` / ``bars_val`` / ``bars_test``).
    Cs : sequence of float > 0
        The grid of inverse L2 strengths; the one chosen maximizes the validation exact-match
        accuracy (ties: the higher validation balanced accuracy, then the smaller ``C``).

    Returns
    -------
    dict
        ``exact_match`` and ``balanced`` (test split, fractions), ``val_exact_match`` and
        ``val_balanced`` (validation, at the chosen ``C``), ``C``, ``n_bars``.

    Raises
    ------
    ValidationError
        Mismatched shapes, or no validation samples to choose ``C`` on.
    """
    arrays = {}
    for name, Z, on in (("train", Z_train, on_train), ("val", Z_val, on_val), ("test", Z_test, on_test)):
        Z, on = np.asarray(Z, dtype=np.float64), np.asarray(on, dtype=bool)
        if Z.ndim != 2 or on.ndim != 2 or Z.shape[0] != on.shape[0]:
            raise ValidationError(f"Z_{name}", Z.shape, f"must be 2-D with one row per row of on_{name} "
                                  f"(shape {on.shape})")
        arrays[name] = (Z, on)
    if arrays["val"][0].shape[0] == 0:
        raise ValidationError("Z_val", arrays["val"][0].shape, "needs validation samples to choose C")
    if len({a[0].shape[1] for a in arrays.values()}) != 1 or len({a[1].shape[1] for a in arrays.values()}) != 1:
        raise ValidationError("Z_test", arrays["test"][0].shape, "splits must share features and bars")
    scaler = StandardScaler().fit(arrays["train"][0])
    Z = {k: scaler.transform(v[0]) for k, v in arrays.items()}
    best = None
    for C in Cs:
        fits = _per_bar_fits(Z["train"], arrays["train"][1], float(C))
        val = _scores(_predict(fits, Z["val"]), arrays["val"][1])
        if best is None or val > best[0]:  # strictly better: ties keep the smaller C
            best = (val, float(C), fits)
    (val_exact, val_bal), C, fits = best
    exact, bal = _scores(_predict(fits, Z["test"]), arrays["test"][1])
    return {"exact_match": exact, "balanced": bal, "val_exact_match": val_exact, "val_balanced": val_bal,
            "C": C, "n_bars": int(arrays["test"][1].shape[1])}


def bars_learned(W, templates, threshold: float = MATCH_R) -> dict:
    """How many bars some unit has learned: distinct units whose weight vector correlates with a bar.

    Unit ``i`` can claim bar ``j`` when the Pearson correlation of row ``W[i]`` with template
    ``j`` is at least ``threshold``; the score is the size of a maximum matching of bars to
    units (`scipy.optimize.linear_sum_assignment` on the 0/1 claim matrix), so one unit counts
    for at most one bar and two units on the same bar count once.

    Parameters
    ----------
    W : ndarray, shape (n_units, n_pixels)
        Weight vectors (rows), e.g. a first-layer weight matrix.
    templates : ndarray, shape (n_bars, n_pixels)
        The bar images (`sim.tasks.toys.bar_templates`).
    threshold : float in (-1, 1]
        Pearson r at which a unit counts as the bar.

    Returns
    -------
    dict
        ``learned`` (int, 0..n_bars), ``n_bars``, ``best_r`` (per bar, the highest r of any unit,
        list of float; NaN rows, e.g. constant weights, claim nothing).
    """
    W = np.asarray(W, dtype=np.float64)
    T = np.asarray(templates, dtype=np.float64)
    if W.ndim != 2 or T.ndim != 2 or W.shape[1] != T.shape[1]:
        raise ValidationError("W", W.shape, f"must be (n_units, {T.shape[-1]}) like the templates {T.shape}")
    Wc = W - W.mean(axis=1, keepdims=True)
    Tc = T - T.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(Wc, axis=1)[:, None] * np.linalg.norm(Tc, axis=1)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(norms > 0, (Wc @ Tc.T) / np.where(norms > 0, norms, 1.0), np.nan)  # (n_units, n_bars)
    claims = np.nan_to_num(r, nan=-np.inf) >= threshold
    rows, cols = linear_sum_assignment(claims.astype(np.float64), maximize=True)
    learned = int(claims[rows, cols].sum())
    best = np.nanmax(np.where(np.isnan(r), -np.inf, r), axis=0) if W.shape[0] else np.full(T.shape[0], np.nan)
    return {"learned": learned, "n_bars": int(T.shape[0]),
            "best_r": [float(b) if np.isfinite(b) else float("nan") for b in best]}


def bars_evaluation(model, train_task, task) -> dict | None:
    """The bars probe of a trained model for a study run (None when the task has no bars).

    Parameters
    ----------
    model : a fitted estimator of `sim.models`
    train_task : sim.tasks.Task
        What the model was trained on (the task, or its nested subset): its training split is the
        probe's training split.
    task : sim.tasks.Task
        The run's task: its validation split chooses ``C``, its test split is scored.

    Returns
    -------
    dict or None
        ``code`` (:func:`multilabel_probe` of the model's hidden rates; absent without a hidden
        layer), ``pixels`` (of the raw inputs) and ``learned`` (:func:`bars_learned` of the first
        hidden stage's weights, absent without a hidden layer or with extra inputs such as a
        bias unit).
    """
    if "bars_train" not in train_task.meta or "templates" not in task.meta:
        return None
    on = (train_task.meta["bars_train"], task.meta["bars_val"], task.meta["bars_test"])
    X = (train_task.X_train, task.X_val, task.X_test)
    out = {"pixels": multilabel_probe(X[0], on[0], X[1], on[1], X[2], on[2])}
    try:
        Z = [np.asarray(model.hidden_rates(x)) for x in X]
    except ValidationError:  # no hidden layer (the readout-only control)
        Z = None
    if Z is None:
        return out
    out["code"] = multilabel_probe(Z[0], on[0], Z[1], on[1], Z[2], on[2])
    W = model.export_arrays().get("W1")  # the first hidden stage's weights
    if W is not None and W.shape[1] == task.meta["templates"].shape[1]:
        out["learned"] = bars_learned(W, task.meta["templates"])
    return out
