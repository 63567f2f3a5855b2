"""Unsupervised runs of a study: an encoder (`sim.models.encoders`) fitted on a task's training
inputs, scored by held-out reconstruction, its receptive fields stored.

A study model whose ``model`` is one of :data:`MODELS` (``hebbian_encoder``, ``autoencoder``)
gets one run per task and seed index, of kind ``"unsupervised"`` (`sim.study.spec.run_specs`);
the worker hands it to :func:`execute`. Labels are never used. The run's evaluation holds the
scores (negative mean squared reconstruction error per feature, `HebbianEncoder.score`) on the
training, validation and test inputs: choose configurations on ``val_score`` only; the test
score is for the report. Its arrays hold ``W1`` (the units' input weights, (units, features))
and ``image_shape``.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.models.encoders import BackpropAutoencoder, HebbianEncoder
from sim.validation import check_choice

__all__ = ["MODELS", "names", "make", "execute", "KIND"]

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
        ``evaluation`` (``train_score``, ``val_score``, ``test_score``, ``n_train``, ``n_val``,
        ``epochs``, ``diverged``), ``error``.
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
    shape = task.meta.get("image_shape") or (task.n_features,)
    arrays = {} if diverged else {"W1": model.components_.astype(np.float32),
                                  "image_shape": np.asarray(shape, dtype=np.int64)}
    result = {"status": "diverged" if diverged else "finished", "history": {"records": records},
              "evaluation": evaluation, "error": "weights diverged" if diverged else ""}
    return result, arrays
