"""Unsupervised runs of a study: an encoder (`sim.models.encoders`) fitted on a task's training
inputs, scored by held-out reconstruction, its receptive fields stored.

A study model whose ``model`` is one of :data:`MODELS` (``hebbian_encoder``, ``autoencoder``)
gets one run per task and seed index, of kind ``"unsupervised"`` (`sim.study.spec.run_specs`);
the worker hands it to :func:`execute`. Labels are never used. The run's evaluation holds the
scores (negative mean squared reconstruction error per feature, `HebbianEncoder.score`) on the
training, validation and test inputs, and the sparseness of the units' responses
(:func:`sparseness`, the efficient-coding criterion) and of their decorrelated code
(:func:`decorrelated_sparseness`, the same criterion blind to redundant units) on the validation
and test inputs: choose
configurations on the validation numbers only; the test numbers are for the report. Its arrays
hold ``W1`` (the units' input weights, (units, features))
and ``image_shape``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kurtosis

from sim.errors import ValidationError
from sim.models.encoders import BackpropAutoencoder, HebbianEncoder
from sim.validation import check_choice

__all__ = ["MODELS", "names", "make", "execute", "sparseness", "decorrelated_sparseness", "KIND"]

KIND = "unsupervised"
MODELS = {"hebbian_encoder": HebbianEncoder, "autoencoder": BackpropAutoencoder}


def names() -> list[str]:
    """Names of the unsupervised study models."""
    return sorted(MODELS)


def make(name: str, /, **params):
    """The encoder called ``name`` with constructor ``params`` (unknown ones refused, by name)."""
    cls = MODELS[check_choice("model", name, MODELS)]
    valid = sorted(cls().get_params())
    for key, value in params.items():
        if key not in valid:
            raise ValidationError(key, value, f"unknown parameter of {cls.__name__}; valid: {', '.join(valid)}")
    return cls(**params)


def sparseness(W, X) -> float:
    """Mean excess kurtosis of the units' linear responses: the efficient-coding criterion.

    Each unit's weight vector is scaled to unit length and applied to the inputs,
    ``r_i = X w_i / ||w_i||``; the score is the mean over units of the excess (Fisher) kurtosis
    of ``r_i`` over the inputs (`scipy.stats.kurtosis`). Responses of a Gaussian input, or of a
    random filter on many independent pixels, score about 0; heavy-tailed, sparse responses
    score high. Field (1994, Neural Comput. 6:559-601) and Olshausen & Field (1996, Nature
    381:607-609) argue that V1-like filters are those that make responses to natural images
    sparse; the score reads only responses, never the shape of a filter.

    Parameters
    ----------
    W : ndarray, shape (units, features)
    X : ndarray, shape (n, features)

    Returns
    -------
    float
        NaN when ``W`` has a zero or non-finite row, or ``X`` fewer than 4 rows.
    """
    W, X = np.asarray(W, dtype=np.float64), np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(W, axis=1)
    if X.shape[0] < 4 or not np.all(np.isfinite(norms)) or np.any(norms == 0):
        return float("nan")
    return float(np.mean(kurtosis(X @ (W / norms[:, None]).T, axis=0, fisher=True)))


def decorrelated_sparseness(W, X, rtol: float = 1e-8) -> float:
    """Sparseness of the decorrelated code: mean kurtosis that redundant units cannot inflate.

    The units' responses ``R = X W^T``, centred and scaled to unit variance over the inputs
    (correlation matrix ``P``; a unit's weight scale does not matter), are decorrelated by the
    symmetric transform ``Z = R P^{-1/2}`` (ZCA-cor), the decorrelated code most correlated with
    ``R`` unit by unit (Kessy, Lewin & Strimmer 2018, Am. Stat. 72:309-314); directions of ``P``
    with an eigenvalue below ``rtol`` times the largest carry no new signal and are dropped
    (``P^{-1/2}`` is then the pseudo-inverse square root). The score is
    ``(1 / units) sum_i var(z_i) kurt(z_i)``, with ``kurt`` the excess kurtosis: every ``var(z_i)``
    is 1 for a code without exact redundancy, and ``m`` identical units share one direction (each
    ``var = 1/m``), so they count once. Near-copies are decorrelated into their differences,
    which are not sparse. Kurtosis under a decorrelation constraint is the classic contrast of
    independent component analysis (Hyvarinen & Oja 2000, Neural Netw. 13:411-430): it is high
    for a population of distinct sparse filters, whereas :func:`sparseness` also rewards many
    copies of one sparse filter.

    Parameters
    ----------
    W : ndarray, shape (units, features)
    X : ndarray, shape (n, features)
    rtol : float
        Relative eigenvalue floor of the response covariance.

    Returns
    -------
    float
        NaN when ``W`` is not finite, ``X`` has fewer than 4 rows, or every response is constant.
    """
    W, X = np.asarray(W, dtype=np.float64), np.asarray(X, dtype=np.float64)
    if X.shape[0] < 4 or not np.all(np.isfinite(W)):
        return float("nan")
    R = X @ W.T
    R -= R.mean(axis=0)
    sd = R.std(axis=0)
    if not np.any(sd > 0):
        return float("nan")
    R = R[:, sd > 0] / sd[sd > 0]  # a constant response carries nothing: it scores 0
    lam, V = np.linalg.eigh(R.T @ R / R.shape[0])
    keep = lam > rtol * lam[-1]
    V = V[:, keep]
    Z = R @ (V / np.sqrt(lam[keep])) @ V.T
    share = np.sum(V * V, axis=1)  # var(z_i): 1 unless unit i shares a direction with others
    live = share > rtol
    return float(np.sum(share[live] * kurtosis(Z[:, live], axis=0, fisher=True)) / W.shape[0])


def execute(spec: dict, task) -> tuple[dict, dict]:
    """Fit the encoder of run ``spec`` on ``task``'s training inputs; return ``(result, arrays)``.

    Parameters
    ----------
    spec : dict
        A run spec of kind ``"unsupervised"`` (``model_name``, ``params``, ``epochs``,
        ``model_seed``).
    task : sim.tasks.Task
        Its task (`sim.study.spec.load_task`).

    Returns
    -------
    result : dict
        ``status`` ('finished' or 'diverged'), ``history`` (``records``: one dict per epoch),
        ``evaluation`` (``train_score``, ``val_score``, ``test_score``, ``val_sparseness``,
        ``test_sparseness``, ``val_decorrelated_sparseness``, ``test_decorrelated_sparseness``,
        ``n_train``, ``n_val``, ``epochs``, ``diverged``), ``error``.
    arrays : dict
        ``W1`` (float32, (units, features)) and ``image_shape`` (int64).
    """
    model = make(spec["model_name"], **spec["params"], seed=spec["model_seed"])
    model.fit(task.X_train, epochs=spec["epochs"])
    hist = model.history_
    records = [{k: hist[k][i] for k in hist} for i in range(len(hist["epoch"]))]
    diverged = bool(getattr(model, "diverged_", False))
    evaluation = {"epochs": len(records), "n_train": task.n_train, "n_val": task.n_val, "diverged": diverged,
                  "train_score": model.score(task.X_train[:5000]),
                  "val_score": model.score(task.X_val) if task.n_val else float("nan"),
                  "test_score": model.score(task.X_test)}
    W = None if diverged else model.components_
    evaluation["val_sparseness"] = sparseness(W, task.X_val) if W is not None and task.n_val else float("nan")
    evaluation["test_sparseness"] = sparseness(W, task.X_test) if W is not None else float("nan")
    for split, X in (("val", task.X_val), ("test", task.X_test)):
        ok = W is not None and X.shape[0] > 0
        evaluation[f"{split}_decorrelated_sparseness"] = decorrelated_sparseness(W, X) if ok else float("nan")
    shape = task.meta.get("image_shape") or (task.n_features,)
    arrays = {} if diverged else {"W1": W.astype(np.float32),
                                  "image_shape": np.asarray(shape, dtype=np.int64)}
    result = {"status": "diverged" if diverged else "finished", "history": {"records": records},
              "evaluation": evaluation, "error": "weights diverged" if diverged else ""}
    return result, arrays
