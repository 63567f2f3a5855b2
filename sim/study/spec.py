"""Run specs: the one description of a run that the worker executes and the store keys on.

A run spec is a plain, JSON-ready dict (see :func:`run_specs`) holding everything a worker
needs: the task (registry name, load parameters, load seed), the model (registry name,
constructor parameters, seed, epochs), the kind of run and its condition, what to evaluate,
and ``sim.__version__``. :func:`run_id` keys it by the SHA-256 of its :func:`canonical_json`,
so the same run always gets the same file in the results store.

This module also holds what every reader of a spec shares: the task of a spec
(:func:`load_task`), the training set a run fits (:func:`training_task`, :func:`training_rows`)
and the conversion of TOML lists to the tuples model constructors take (:func:`tuples`).
It imports neither the config parser nor the store, so both (and the worker) can import it.

A task may be the user's own data file (:func:`file_task_params`): its spec has ``task_name =
"file"`` and ``task_params`` with the file's absolute path and the SHA-256 of its content, so a
changed file is a different run (and a run's task is refused if its file changed since).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np

import sim
from sim import tasks
from sim.errors import ValidationError
from sim.seeds import model_seed, subsample_rng
from sim.study import robustness, unsupervised

__all__ = ["KINDS", "PROBE_SIZE", "GRID_SIZE", "FILE_TASK", "FILE_KEYS", "file_task_params",
           "canonical_json", "run_id", "run_specs", "trial_specs", "tuples",
           "load_task", "training_task", "training_rows"]

KINDS = ("standard", "subsample", "sequential", "hidden_units", "trial", "transfer", "unsupervised")
PROBE_SIZE = 500      # fixed probe set: the first min(PROBE_SIZE, n_test) test samples
GRID_SIZE = 200       # decision-boundary grid for 2-D tasks
FILE_TASK = "file"    # task_name of a task read from the user's data file
FILE_KEYS = ("file", "labels", "label_column", "test_fraction", "validation_fraction", "scale")
_ROW_TAG = "spec_row_train"  # per-sample meta entry that follows the training rows (sim.tasks)


def canonical_json(obj) -> str:
    """Deterministic JSON: sorted keys, no spaces, tuples as lists, NaN kept as ``NaN``.

    Returns
    -------
    str
        The JSON text; numpy scalars and arrays become plain numbers and lists.

    Raises
    ------
    TypeError
        For values that are not JSON-serializable.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True, default=_default)


def _default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serializable: {type(x).__name__}")


def run_id(spec: dict) -> str:
    """First 16 hex digits of the SHA-256 of the spec's canonical JSON (it includes the version)."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:16]


def tuples(value):
    """TOML arrays (lists) become tuples, recursively (model parameters such as
    ``hidden = [64, 64]``); dicts are copied with their values converted, other values returned."""
    if isinstance(value, list):
        return tuple(tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: tuples(v) for k, v in value.items()}
    return value


def run_specs(study) -> list[dict]:
    """The run specs of a validated `sim.study.Study`, in a stable order.

    Order: task (config order), model (config order), seed index, then the variants of the
    task (``standard``, the ``subsample`` sizes, ``sequential``); a task's ``transfer`` runs
    (`sim.study.robustness`) come after its models.

    Returns
    -------
    list of dict
        JSON-ready dicts (tuples as lists): ``run_id`` (:func:`run_id` of the rest), ``task``,
        ``task_name``, ``task_params``, ``task_seed``, ``model``, ``model_name``, ``params``,
        ``epochs``, ``seed``, ``root_seed``, ``model_seed``, ``kind``, ``condition``,
        ``evaluation`` and ``version``.
    """
    cond = study.conditions
    evaluation = {"noise": list(cond["noise"]), "occlusion": list(cond["occlusion"]),
                  "probe": PROBE_SIZE, "grid": GRID_SIZE}
    specs = []
    for t_label in study.tasks:
        variants = [("standard", {}, {**evaluation, **robustness.evaluation_entries(cond, t_label)})]
        tpc = cond["train_per_class"]
        if tpc and t_label in tpc["tasks"]:
            variants += [("subsample", {"train_per_class": n}, evaluation) for n in tpc["sizes"]]
        seq = cond["sequential"]
        if seq and t_label in seq["tasks"]:
            variants.append(("sequential", {"first": list(seq["first"]), "second": list(seq["second"])},
                             {"probe": PROBE_SIZE}))
        hu = cond.get("hidden_units")
        for m_label in study.tasks[t_label].get("models", study.models):  # [tasks.X] models: who runs on X
            params, epochs = study.model_for(m_label, t_label)
            sized = ([("hidden_units", {"hidden_units": n}, {}) for n in hu["sizes"]]
                     if hu and t_label in hu["tasks"] and m_label in hu["models"] else [])
            runs = variants + sized  # an unsupervised encoder: one run per seed (sim.study.unsupervised)
            if study.models[m_label]["model"] in unsupervised.MODELS:
                runs = [(unsupervised.KIND, {}, {})]
            for i in range(study.seeds):
                for kind, condition, ev in runs:
                    if seq and m_label in seq.get("only", ()) and kind != "sequential":
                        continue  # a model of the sequential condition only (conditions.sequential.only)
                    ep = epochs
                    if kind == "sequential" and seq.get("epochs") is not None:
                        ep = seq["epochs"]
                    p = resized(params, condition["hidden_units"]) if kind == "hidden_units" else params
                    specs.append(_spec(study, t_label, m_label, p, ep, i, kind, condition, ev))
        specs += robustness.transfer_specs(study, t_label, _spec)  # both models of a pair in one run
    return specs


def resized(params: dict, n: int) -> dict:
    """``params`` with every hidden stage resized to ``n`` units (the hidden-size condition)."""
    hidden = params.get("hidden", None)
    stages = len(hidden) if isinstance(hidden, (list, tuple)) else None
    return {**params, "hidden": [n] * stages if stages else n}


def trial_specs(study, model: str, task: str, number: int, params: dict) -> list[dict]:
    """The runs of tuning trial ``number`` of study model ``model`` on study task ``task``.

    One ``kind = "trial"`` run per tuning seed index (``study.tuning["seeds"]``): the standard
    run of that seed index (same data split, model seed and epochs) with constructor
    ``params``, ``condition = {"trial": number}`` and no robustness evaluation or arrays.

    Returns
    -------
    list of dict
        Run specs as :func:`run_specs` makes them, in seed order.
    """
    epochs = study.model_for(model, task)[1]
    return [_spec(study, task, model, params, epochs, i, "trial", {"trial": int(number)}, {})
            for i in study.tuning["seeds"]]


def _spec(study, t_label, m_label, params, epochs, i, kind, condition, evaluation):
    t = study.tasks[t_label]
    spec = {
        "task": t_label, "task_name": t["task"], "task_params": t["params"],
        "task_seed": i if study.split == "per_seed" else 0,
        "model": m_label, "model_name": study.models[m_label]["model"], "params": params,
        "epochs": epochs, "seed": i, "root_seed": study.root_seed,
        "model_seed": model_seed(study.root_seed, i),
        "kind": kind, "condition": condition, "evaluation": evaluation,
        "version": sim.__version__,
    }
    spec = json.loads(canonical_json(spec))  # tuples -> lists, plain types
    return {"run_id": run_id(spec), **spec}


def file_task_params(path: str, table: dict, base=None) -> dict:
    """The ``task_params`` of a study task read from a data file (``[tasks.<label>] file = ...``).

    Parameters
    ----------
    path : str
        The task's key path (``tasks.mydata``) for error messages.
    table : dict
        Its TOML table: ``file`` (required), ``labels`` (IDX labels file), ``label_column`` (CSV),
        ``test_fraction``, ``validation_fraction``, ``scale`` (see `sim.tasks.from_file`).
    base : str or Path, optional
        Directory relative paths are read from (the study file's); default the working directory.

    Returns
    -------
    dict
        ``file`` and ``labels`` as absolute paths, ``sha256`` (`sim.tasks.file_hash` of the
        content) and the other keys given.

    Raises
    ------
    ValidationError
        ``<path>.<key>`` for an unknown key, a path that is not a string, or a file that cannot be read.
    """
    for key in table:
        if key not in FILE_KEYS:
            raise ValidationError(f"{path}.{key}", table[key], f"unknown key of a data-file task; allowed: "
                                  f"{', '.join(FILE_KEYS)}")
    params = dict(table)
    root = Path.cwd() if base is None else Path(base)
    for key in ("file", "labels"):
        if key in params:
            if not isinstance(params[key], str) or not params[key]:
                raise ValidationError(f"{path}.{key}", params[key], "must be a path (a non-empty string)")
            params[key] = str((root / params[key]).resolve())
    try:
        params["sha256"] = tasks.file_hash(params["file"], params.get("labels"))
    except ValidationError as exc:
        raise ValidationError(f"{path}.{exc.parameter}", exc.value, exc.requirement) from None
    return params


@functools.lru_cache(maxsize=8)
def _load_task_cached(name, params_json, seed):
    if name == FILE_TASK:  # the user's file, checked against the hash the study recorded
        return tasks.from_file(**json.loads(params_json), seed=seed)
    return tasks.load(name, seed=seed, **json.loads(params_json))


def load_task(spec: dict) -> tasks.Task:
    """The task of a run spec: ``sim.tasks.load(task_name, seed=task_seed, **task_params)``.

    Returns
    -------
    sim.tasks.Task
        Cached (the last 8 distinct tasks) and read-only: do not modify it. A data-file task
        (``task_name = "file"``) is `sim.tasks.from_file` of its params, refused if the file's
        content no longer has the recorded ``sha256``.
    """
    return _load_task_cached(spec["task_name"], json.dumps(spec["task_params"], sort_keys=True),
                             spec["task_seed"])


def training_task(spec: dict, task: tasks.Task) -> tasks.Task:
    """The task a ``standard`` or ``subsample`` run of ``spec`` trains on.

    Parameters
    ----------
    spec : dict
        A run spec.
    task : sim.tasks.Task
        Its task (:func:`load_task`), or a copy of it with extra per-sample meta entries.

    Returns
    -------
    sim.tasks.Task
        ``task`` itself for a standard or trial run; for a subsample run the nested subset
        ``sim.tasks.subsample(task, train_per_class, sim.seeds.subsample_rng(spec))``.

    Raises
    ------
    ValidationError
        For a sequential run (it trains on two class subsets in turn).
    """
    kind = spec["kind"]
    if kind in ("standard", "trial", "hidden_units", "transfer", "unsupervised"):
        return task
    if kind == "subsample":
        return tasks.subsample(task, spec["condition"]["train_per_class"], subsample_rng(spec))
    raise ValidationError("kind", kind, "has no single training set (a sequential run trains on "
                          "the classes 'first', then on 'second'); valid: standard, subsample, trial")


def training_rows(spec: dict, task: tasks.Task) -> np.ndarray:
    """Positions in ``task.X_train`` of the rows :func:`training_task` keeps, in their order.

    Returns
    -------
    ndarray of int64
        Sorted positions (all of ``0..n_train-1`` for a standard run).
    """
    tagged = task.with_data(meta={**task.meta, _ROW_TAG: np.arange(task.n_train, dtype=np.int64)})
    return np.asarray(training_task(spec, tagged).meta[_ROW_TAG], dtype=np.int64)
