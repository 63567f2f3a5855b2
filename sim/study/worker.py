"""One run of a study: load the task, build the model, train, evaluate; never raises.

:func:`execute_run` is what every backend (serial, process pool, Dask) calls with a run spec
from `sim.study.spec.run_specs` (`sim.study.Study.runs`). It returns ``(result, arrays)``: a
JSON-ready result dict and a dict of numpy arrays for the ``.npz`` file. Any exception becomes
a result with status ``"failed"`` and the traceback's last line as ``error``; a diverging run
has status ``"diverged"`` and keeps its History. The numbers depend only on the spec (seeds
included), never on the process, the worker count or the order of runs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from datetime import UTC, datetime

import numpy as np

from sim import models
from sim.errors import ValidationError
from sim.learning import rules
from sim.models.alignment import alignment_record, feedback_alignment
from sim.seeds import eval_rng
from sim.study import probes, robustness, unsupervised
from sim.study.spec import load_task, training_task, tuples
from sim.study.store import pack_arrays
from sim.tasks import add_noise, class_subset, occlude

# load_task lives in sim.study.spec; it is re-exported here
__all__ = ["execute_run", "execute_packed", "load_task"]


def execute_run(spec: dict, blas_threads: int | None = None) -> tuple[dict, dict]:
    """Run ``spec``; return ``(result, arrays)``. Exceptions become status ``"failed"``.

    Parameters
    ----------
    spec : dict
        A run spec (`sim.study.Study.runs`).
    blas_threads : int, optional
        Limit BLAS / OpenMP threads during the run (threadpoolctl), so that
        workers x threads <= cores.
    """
    t0 = time.perf_counter()
    limit = contextlib.nullcontext()
    if blas_threads:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(int(blas_threads))
    try:
        with limit:
            result, arrays = _execute(spec)
    except Exception as exc:  # recorded, the study continues
        tb = traceback.format_exc()
        lines = [ln for ln in tb.strip().splitlines() if ln.strip()]
        result = {"status": "failed", "error": lines[-1] if lines else repr(exc), "traceback": tb,
                  "history": None, "evaluation": None}
        arrays = {}
    result.update({
        "run_id": spec["run_id"], "config": spec, "seconds": time.perf_counter() - t0,
        "computed_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "host": socket.gethostname(), "pid": os.getpid(), "blas_threads": blas_threads,
    })
    result.setdefault("error", "")
    return result, arrays


def execute_packed(spec: dict, blas_threads: int | None = None) -> tuple[dict, bytes]:
    """:func:`execute_run` with the arrays already packed as ``.npz`` bytes (done in the worker,
    so the parent process only writes files)."""
    result, arrays = execute_run(spec, blas_threads)
    if not arrays:
        return result, b""
    result["arrays"] = sorted(arrays)
    return result, pack_arrays(arrays)


def _execute(spec):
    task = load_task(spec)
    if spec["kind"] == unsupervised.KIND:  # an encoder: fitted on the inputs alone
        return unsupervised.execute(spec, task)
    model = models.make(spec["model_name"], **tuples(spec["params"]), seed=spec["model_seed"])
    kind, epochs = spec["kind"], spec["epochs"]
    result = {}
    if kind == "sequential":
        train_task, extra = _sequential(model, task, spec, epochs)
        result["sequential"] = extra.pop("curves")
    else:
        train_task = training_task(spec, task)  # the task, or its nested subset
        model.fit(train_task, epochs=epochs, callback=_alignment_recorder(model, train_task,
                                                                          eval_rng(spec, "alignment", 0)))
        extra = {}
    history = model.history_
    evaluation = {
        "epochs": history.epochs, "best_epoch": history.best_epoch,
        "samples_seen": int(getattr(model, "samples_seen_", 0)),
        "n_train": train_task.n_train, "n_val": train_task.n_val,
        **model.evaluate_splits(train_task), "seconds": history.last("seconds"),
        "diverged": bool(history.diverged), "diverged_reason": history.diverged_reason, **extra,
    }
    arrays = {}
    if not history.diverged and kind != "trial":  # a tuning trial needs its History and evaluation only
        ev = spec["evaluation"]
        for what, transform in (("noise", lambda X, lvl, rng: add_noise(X, lvl, rng)),
                                ("occlusion", lambda X, lvl, rng: occlude(X, lvl, rng, task.meta.get("image_shape")))):
            levels = ev.get(what, [])
            if levels:
                evaluation[what] = {"levels": levels, "accuracy": [
                    model.score(transform(task.X_test, lvl, eval_rng(spec, what, lvl)), task.y_test)
                    for lvl in levels]}
        evaluation.update(robustness.evaluate(model, task, spec, lambda n, p, s: models.make(n, **tuples(p), seed=s)))
        if kind == "standard":  # every analysis reading arrays reads standard runs only
            arrays = _arrays(model, task, ev)
        if kind != "sequential" and (bars := probes.bars_evaluation(model, train_task, task)):
            evaluation["bars"] = bars  # the which-bars probe (`sim.study.probes`)
    result.update(status="diverged" if history.diverged else "finished", history=history.to_dict(),
                  evaluation=evaluation, error=history.diverged_reason if history.diverged else "")
    return result, arrays


def _sequential(model, task, spec, epochs):
    """Train on classes ``first`` then (partial_fit) on ``second``; record both test accuracies."""
    first = class_subset(task, spec["condition"]["first"], relabel=False)
    second = class_subset(task, spec["condition"]["second"], relabel=False)
    curves = {"epoch": [], "acc_first": [], "acc_second": [], "phase": []}

    def recorder(phase):
        # records the test accuracy of both halves for the forgetting curves; it never stops
        # training (a callback's record holds no test metrics: it must not decide on them)
        def callback(m, record):
            curves["epoch"].append(int(record["epoch"]))
            curves["acc_first"].append(m.score(first.X_test, first.y_test))
            curves["acc_second"].append(m.score(second.X_test, second.y_test))
            curves["phase"].append(phase)
        return callback

    model.fit(first, epochs=epochs, callback=recorder(1))
    diverged = model.history_.diverged
    phase1 = {"epochs": model.history_.epochs,
              "acc_first": float("nan") if diverged else model.score(first.X_test, first.y_test),
              "acc_second": float("nan") if diverged else model.score(second.X_test, second.y_test)}
    if not model.history_.diverged:
        model.partial_fit(second, epochs=epochs, callback=recorder(2))
    extra = {"curves": curves, "phase1": phase1}
    if not model.history_.diverged:
        extra["test_accuracy_all"] = model.score(task.X_test, task.y_test)
        extra["acc_first"] = model.score(first.X_test, first.y_test)
        extra["acc_second"] = model.score(second.X_test, second.y_test)
    return second, extra


def _arrays(model, task, ev):
    """Probe representations, first-layer weights and (2-D tasks) the decision grid."""
    n_probe = min(int(ev.get("probe", 500)), task.n_test)
    probe = np.arange(n_probe, dtype=np.int64)
    arrays = {"probe_index": probe, "probe_labels": np.asarray(task.y_test[probe])}
    try:
        arrays["probe_hidden"] = np.asarray(model.hidden_rates(task.X_test[probe]))
    except ValidationError:  # no hidden layer (e.g. the readout-only control)
        pass
    arrays.update(model.export_arrays())  # W1; a Hebbian readout, to read out the code at other times
    size = int(ev.get("grid", 0))
    if size and task.n_features == 2:
        X = np.concatenate([task.X_train, task.X_test])
        lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
        gx, gy = np.linspace(lo[0], hi[0], size), np.linspace(lo[1], hi[1], size)
        xx, yy = np.meshgrid(gx, gy)  # grid_pred[i, j] is the class at (grid_x[j], grid_y[i])
        pred = model.predict(np.column_stack([xx.ravel(), yy.ravel()]))
        arrays.update(grid_x=gx, grid_y=gy, grid_pred=pred.reshape(size, size).astype(np.int16))
    return arrays


def _alignment_recorder(model, task, rng, n: int = 256):
    """Callback adding, per epoch, the cosine between the model's local hidden update and the
    backprop gradient on a fixed batch of training inputs (`sim.models.alignment`): ``alignment``
    with its unit-permutation null (``alignment_z``, ``alignment_percentile``, ``alignment_null_sd``;
    permutations drawn from ``rng``) for plastic Hebbian rules, ``fa_alignment`` for
    feedback-alignment MLPs; None for other models."""
    X, y = task.X_train[:n], task.y_train[:n]
    if model.get_params().get("learning") == "feedback_alignment":
        def record_fa(m, record):
            record["fa_alignment"] = float(np.mean(feedback_alignment(m, X, y)))
        return record_fa
    if model.model_name != "hebbian" or not rules.rule_class(model.rule).plastic:
        return None

    def record_hebbian(m, record):
        try:
            with np.errstate(all="ignore"):
                record.update(alignment_record(m, X, y, rng))  # the cosine and its permutation null
        except ValidationError:  # no gradient for this configuration (e.g. learned lateral weights)
            record["alignment"] = float("nan")
    return record_hebbian
