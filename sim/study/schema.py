"""Validation of a study config, each error naming its key path.

:func:`validate` checks a parsed TOML dict section by section (the top-level keys, the tasks,
the models with their presets, random-features controls and search spaces, the conditions, the
tuning stage, the declared comparisons: `sim.study.comparisons`) and returns the fields of a
`sim.study.Study`; `sim.study.config.parse` calls it.
Search spaces and ``[tuning]`` are checked by `sim.study.search`. The helpers below it are
private: type checks that name the key (``models.mlp.lr``), as `sim.validation` does for
function arguments (integers are checked by `sim.validation.check_int` itself).
"""

from __future__ import annotations

import numbers

import numpy as np

from sim import models, tasks
from sim.errors import ValidationError
from sim.models import presets
from sim.models.early_stopping import TASK_NEUTRAL_PARAMS
from sim.models.estimator import MAX_UNITS
from sim.study import robustness, unsupervised
from sim.study.comparisons import comparisons
from sim.study.search import check_space, parse_space, parse_tuning
from sim.study.spec import FILE_TASK, canonical_json, file_task_params, tuples
from sim.validation import check_int

__all__ = ["validate", "TOP_KEYS", "SPLITS", "MODEL_KEYS", "DEFAULT_SEEDS"]

TOP_KEYS = ("name", "description", "root_seed", "seeds", "epochs", "split", "tasks", "models",
            "conditions", "tuning", "comparisons")
DEFAULT_SEEDS = 10  # seed indices of a study that does not say: enough for an exact Wilcoxon p past Holm

SPLITS = ("per_seed", "fixed")
MODEL_KEYS = ("model", "preset", "epochs", "tasks", "random_control", "search")
CONDITION_KEYS = ("noise", "occlusion", "train_per_class", "sequential", "hidden_units", "adversarial", "cost")
SEQUENTIAL_KEYS = ("tasks", "first", "second", "epochs", "only")


def validate(raw: dict, default_name: str = "study", base=None) -> dict:
    """Validate a parsed TOML study (see `sim.study.config`) and return its fields.

    Parameters
    ----------
    raw : dict
        The config as parsed from TOML (not modified).
    default_name : str
        The study's name when ``raw`` has none (the file name).
    base : str or Path, optional
        Directory the paths of data-file tasks (``file = ...``) are relative to: the study file's.

    Returns
    -------
    dict
        ``name``, ``description``, ``root_seed``, ``seeds``, ``epochs``, ``split``, ``tasks``,
        ``models``, ``conditions``, ``tuning`` and ``comparisons``: the fields of a
        `sim.study.Study` (see there) but ``raw`` and ``source``. ``seeds`` defaults to
        `DEFAULT_SEEDS`; an mnist1d task without ``resplit`` gets ``resplit = true``, so that
        its seed indices are new train/test splits (see ``_parse_task``).

    Raises
    ------
    ValidationError
        Named by the key path of the first invalid key, e.g. ``models.mlp.lr``.
    """
    _table("config", raw)
    _keys("", raw, TOP_KEYS)
    name = _str("name", raw.get("name", default_name))
    if any(c in name for c in "/\\") or name.startswith("."):
        raise ValidationError("name", name, "must be usable as a directory name")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ValidationError("description", description, "must be a string")
    root_seed = check_int("root_seed", raw.get("root_seed", 0), low=0)
    seeds = check_int("seeds", raw.get("seeds", DEFAULT_SEEDS), low=1)
    epochs = check_int("epochs", raw.get("epochs", 10), low=1)
    split = _str("split", raw.get("split", "per_seed"), SPLITS)
    if "tasks" not in raw or not _table("tasks", raw["tasks"]):
        raise ValidationError("tasks", raw.get("tasks"), "at least one [tasks.<name>] table is required")
    if "models" not in raw or not _table("models", raw["models"]):
        raise ValidationError("models", raw.get("models"), "at least one [models.<label>] table is required")
    only = {label: _table(f"tasks.{label}", spec).get("models") for label, spec in raw["tasks"].items()}
    task_info = {label: _parse_task(label, {k: v for k, v in spec.items() if k != "models"}, base)
                 for label, spec in raw["tasks"].items()}
    model_info = {label: _parse_model(label, spec, epochs, task_info)
                  for label, spec in raw["models"].items()}
    for label, chosen in only.items():  # [tasks.X] models = [...]: the models that run on X (default: all)
        task_info[label]["models"] = (list(model_info) if chosen is None else
                                      _list(f"tasks.{label}.models", chosen,
                                            lambda p, v: _model_label(p, v, model_info)))
    conditions = _parse_conditions(raw.get("conditions", {}), task_info, model_info)
    runs_on = {label: {t: sp for t, sp in m["search"].items() if label in task_info[t]["models"]}
               for label, m in model_info.items()}
    tuning = parse_tuning(raw.get("tuning"), runs_on,
                          task_info, {label: t["n_val"] for label, t in task_info.items()})
    specs = {label: [(m["model"], m["params_by_task"][t]) for t in task_info if label in task_info[t]["models"]]
             for label, m in model_info.items()}
    family = comparisons(raw.get("comparisons"), specs, list(task_info))
    for t_label in family["tasks"]:
        for pair in family["primary"]:
            absent = [m for m in pair if m not in task_info[t_label]["models"]]
            if absent:
                raise ValidationError(f"tasks.{t_label}.models", task_info[t_label]["models"],
                                      f"leaves out {absent[0]!r} of the primary comparison {list(pair)}; "
                                      "list the tasks to compare on in [comparisons] tasks")
    return {"name": name, "description": description, "root_seed": root_seed, "seeds": seeds,
            "epochs": epochs, "split": split, "tasks": task_info, "models": model_info,
            "conditions": conditions, "tuning": tuning, "comparisons": family}


def _table(path, value):
    if not isinstance(value, dict):
        raise ValidationError(path, value, "must be a table")
    return value


def _keys(path, table, allowed):
    for key in table:
        if key not in allowed:
            raise ValidationError(f"{path}.{key}" if path else key, table[key],
                                  f"unknown key; allowed: {', '.join(allowed)}")


def _str(path, value, choices=None):
    if not isinstance(value, str) or not value:
        raise ValidationError(path, value, "must be a non-empty string")
    if choices is not None and value not in choices:
        raise ValidationError(path, value, f"unknown; allowed: {', '.join(choices)}")
    return value


def _list(path, value, item, nonempty=True):
    if not isinstance(value, (list, tuple)) or (nonempty and not value):
        raise ValidationError(path, value, "must be a non-empty list")
    return [item(f"{path}[{i}]", v) for i, v in enumerate(value)]


def _fraction(path, value, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValidationError(path, value, "must be a finite number")
    if value < 0 or (high is not None and value > high):
        raise ValidationError(path, value, f"must be in [0, {high}]" if high is not None else "must be >= 0")
    return float(value)


def _relabel(exc: ValidationError, prefix: str) -> ValidationError:
    name = exc.parameter if exc.parameter.startswith(prefix) else f"{prefix}.{exc.parameter}"
    return ValidationError(name, exc.value, exc.requirement)


def _parse_task(label, spec, base=None):
    path = f"tasks.{label}"
    spec = dict(_table(path, spec))
    if "file" in spec:  # the user's data file (sim.study.spec.file_task_params)
        return _task_info(path, FILE_TASK, file_task_params(path, spec, base))
    where = f"{path}.task" if "task" in spec else path
    name = spec.pop("task", label)
    if not isinstance(name, str) or name.lower() not in tasks.names():
        raise ValidationError(where, name, f"unknown task; valid: {', '.join(tasks.names())}")
    if "seed" in spec:
        raise ValidationError(f"{path}.seed", spec["seed"], "is set by the study (root_seed, seeds, split)")
    if name.lower() == "mnist1d":
        # a study's seed indices are replications: each draws its own train/test split of the pooled
        # 5000 signals. `sim.tasks.load` keeps the package's one fixed split by default (the published
        # benchmark); here that would make the seeds reruns of one split, so `resplit = false` must be said.
        spec.setdefault("resplit", True)
    return _task_info(path, name.lower(), spec)


def _task_info(path, name, spec):
    """Load task ``name`` with ``spec`` at seed 0 to validate it; its ``task_info`` entry."""
    try:
        task = tasks.from_file(**spec, seed=0) if name == FILE_TASK else tasks.load(name, seed=0, **spec)
    except ValidationError as exc:
        raise _relabel(exc, path) from None
    params = spec if name == FILE_TASK else {k: v for k, v in task.meta["params"].items() if k != "seed"}
    counts = np.bincount(task.y_train, minlength=task.n_classes)
    return {"task": name, "params": params, "n_train": task.n_train, "n_val": task.n_val,
            "n_test": task.n_test,
            "n_features": task.n_features, "n_classes": task.n_classes,
            "min_class": int(counts[counts > 0].min())}


def _parse_model(label, spec, default_epochs, task_info):
    path = f"models.{label}"
    spec = dict(_table(path, spec))
    if "model" not in spec and "preset" not in spec:
        raise ValidationError(f"{path}.model", None, f"is required; valid: {', '.join(models.names())}")
    control = spec.pop("random_control", False)
    if not isinstance(control, bool):
        raise ValidationError(f"{path}.random_control", control, "must be true or false")
    params, epochs, preset_model = {}, default_epochs, None
    if "preset" in spec:
        params, epochs, preset_model = _preset(f"{path}.preset", spec.pop("preset"))
        spec.setdefault("model", preset_model)
    name = _str(f"{path}.model", spec.pop("model"), models.names() + unsupervised.names())
    if preset_model is not None and preset_model != name:
        raise ValidationError(f"{path}.preset", preset_model, f"is a {preset_model} preset, not {name}")
    if control and (name not in models.REGISTRY or "rule" not in models.REGISTRY[name].param_names()):
        raise ValidationError(f"{path}.random_control", control, f"needs a model with a hidden 'rule' "
                              f"(hebbian), not {name}")
    if "epochs" in spec:
        epochs = check_int(f"{path}.epochs", spec.pop("epochs"), low=1)
    overrides = _table(f"{path}.tasks", spec.pop("tasks", {}))
    model_space = parse_space(f"{path}.search", spec.pop("search")) if "search" in spec else {}
    params.update(tuples(spec))
    base = _build_params(path, name, presets.random_control_params(params, name) if control else params)
    for t_label in overrides:
        if t_label not in task_info:
            raise ValidationError(f"{path}.tasks.{t_label}", overrides[t_label],
                                  f"not a task of this study; tasks: {', '.join(task_info)}")
    by_task, epochs_by_task, task_overrides, search = {}, {}, {}, {}
    for t_label in task_info:
        t_path = f"{path}.tasks.{t_label}"
        over = dict(_table(t_path, overrides.get(t_label, {})))
        task_space = parse_space(f"{t_path}.search", over.pop("search")) if "search" in over else {}
        task_overrides[t_label] = tuples(dict(over))
        t_params, t_epochs = params, epochs
        if "preset" in over:  # a task preset replaces the model-level parameters
            t_params, t_epochs, t_model = _preset(f"{t_path}.preset", over.pop("preset"))
            if t_model != name:
                raise ValidationError(f"{t_path}.preset", t_model, f"is a {t_model} preset, not {name}")
        if "epochs" in over:
            t_epochs = check_int(f"{t_path}.epochs", over.pop("epochs"), low=1)
        if over or t_params is not params:
            t_params = {**t_params, **tuples(over)}
            if control:
                t_params = presets.random_control_params(t_params, name)
            by_task[t_label] = _build_params(t_path, name, t_params)
        else:
            by_task[t_label] = base
        epochs_by_task[t_label] = t_epochs
        search[t_label] = {**model_space, **task_space}  # the task's entries replace the model's
        paths = {**{n: f"{path}.search" for n in model_space}, **{n: f"{t_path}.search" for n in task_space}}
        if search[t_label] and name in unsupervised.MODELS:
            raise ValidationError(f"{path}.search", search[t_label], "is not available for an unsupervised encoder")
        if search[t_label]:
            check_space(search[t_label], paths, name, by_task[t_label], control,
                        lambda where, p: _build_params(where, name, p))
    return {"model": name, "epochs": epochs, "params": base, "random_control": control,
            "tasks": task_overrides, "params_by_task": by_task, "epochs_by_task": epochs_by_task,
            "search": search}


def _preset(path, value):
    preset = presets.get(_str(path, value, presets.names()))
    return dict(preset["params"]), preset["epochs"], preset["model"]


def _build_params(path, name, params):
    """Build the model to validate ``params``; return its full parameter set (without seed)."""
    if "seed" in params:
        raise ValidationError(f"{path}.seed", params["seed"], "is set by the study (root_seed, seeds)")
    try:
        model = (unsupervised.make if name in unsupervised.MODELS else models.make)(name, **params, seed=0)
        model.validate_params()
    except ValidationError as exc:
        exc = _relabel(exc, path)
        if exc.requirement.startswith("unknown parameter"):
            exc = ValidationError(exc.parameter, exc.value, f"{exc.requirement}; study keys: "
                                  f"{', '.join(MODEL_KEYS)}")
        raise exc from None
    except (TypeError, ValueError) as exc:
        raise ValidationError(path, params, f"refused by {name} ({exc})") from None
    full = {k: v for k, v in model.get_params().items()
            if k != "seed" and (k in params or k not in TASK_NEUTRAL_PARAMS)}
    try:
        canonical_json(full)
    except TypeError as exc:
        raise ValidationError(path, full, f"parameters must be plain values ({exc})") from None
    return full


def _parse_conditions(raw, task_info, model_info):
    raw = _table("conditions", raw)
    _keys("conditions", raw, CONDITION_KEYS)
    out = {"noise": [], "occlusion": [], "train_per_class": None, "sequential": None, "hidden_units": None}
    if "noise" in raw:
        out["noise"] = _list("conditions.noise", raw["noise"], _fraction)
    if "occlusion" in raw:
        out["occlusion"] = _list("conditions.occlusion", raw["occlusion"], lambda p, v: _fraction(p, v, 1.0))
    if "train_per_class" in raw:
        value = raw["train_per_class"]
        path = "conditions.train_per_class"
        if isinstance(value, dict):
            _keys(path, value, ("sizes", "tasks"))
            if "sizes" not in value:
                raise ValidationError(f"{path}.sizes", None, "is required")
            sizes = _list(f"{path}.sizes", value["sizes"], lambda p, v: check_int(p, v, low=1))
            labels = _task_labels(f"{path}.tasks", value.get("tasks", list(task_info)), task_info)
        else:
            sizes = _list(path, value, lambda p, v: check_int(p, v, low=1))
            labels = list(task_info)
        for t_label in labels:
            if max(sizes) > task_info[t_label]["min_class"]:
                raise ValidationError(path, max(sizes), f"task {t_label!r} has only "
                                      f"{task_info[t_label]['min_class']} training samples in its smallest class")
        out["train_per_class"] = {"sizes": sorted(set(sizes)), "tasks": labels}
    if "sequential" in raw:
        path = "conditions.sequential"
        seq = _table(path, raw["sequential"])
        _keys(path, seq, SEQUENTIAL_KEYS)
        for key in ("tasks", "first", "second"):
            if key not in seq:
                raise ValidationError(f"{path}.{key}", None, "is required")
        labels = _task_labels(f"{path}.tasks", seq["tasks"], task_info)
        parts = {}
        for key in ("first", "second"):
            parts[key] = _list(f"{path}.{key}", seq[key], lambda p, v: check_int(p, v, low=0))
            if len(set(parts[key])) != len(parts[key]):
                raise ValidationError(f"{path}.{key}", seq[key], "classes must be distinct")
            for t_label in labels:
                n = task_info[t_label]["n_classes"]
                if max(parts[key]) >= n:
                    raise ValidationError(f"{path}.{key}", seq[key], f"task {t_label!r} has classes 0..{n - 1}")
        if set(parts["first"]) & set(parts["second"]):
            raise ValidationError(f"{path}.second", seq["second"], "must not share classes with first")
        epochs = check_int(f"{path}.epochs", seq["epochs"], low=1) if "epochs" in seq else None
        # models that run in this condition only (e.g. the frozen-hidden MLP control): no other runs
        only = _list(f"{path}.only", seq["only"], lambda p, v: _model_label(p, v, model_info)) if "only" in seq else []
        if only and set(only) >= set(model_info):
            raise ValidationError(f"{path}.only", seq["only"], "must leave at least one model for the other runs")
        out["sequential"] = {"tasks": labels, **parts, "epochs": epochs, "only": only}
    if "hidden_units" in raw:
        out["hidden_units"] = _hidden_units(raw["hidden_units"], task_info, model_info)
    out.update(robustness.parse(raw, task_info, model_info))  # adversarial, cost: sim.study.robustness
    return out


def _hidden_units(value, task_info, model_info):
    """``{sizes, tasks, models}`` of the hidden-size condition: the configured model with every
    hidden stage resized to each size."""
    path = "conditions.hidden_units"
    value = _table(path, value)
    _keys(path, value, ("sizes", "tasks", "models"))
    if "sizes" not in value:
        raise ValidationError(f"{path}.sizes", None, "is required")
    sizes = _list(f"{path}.sizes", value["sizes"], lambda p, v: check_int(p, v, low=1, high=MAX_UNITS))
    tasks = _task_labels(f"{path}.tasks", value.get("tasks", list(task_info)), task_info)
    sized = [m for m, info in model_info.items()
             if info["model"] in models.REGISTRY and "hidden" in models.REGISTRY[info["model"]].param_names()]
    chosen = value.get("models", sized)
    if not isinstance(chosen, list) or not chosen:
        raise ValidationError(f"{path}.models", chosen, "must be a non-empty list of model labels")
    for m in chosen:
        if m not in sized:
            raise ValidationError(f"{path}.models", m, f"not a model with hidden units; valid: {', '.join(sized)}")
    return {"sizes": sorted(set(sizes)), "tasks": tasks, "models": list(chosen)}


def _model_label(path, value, model_info):
    if not isinstance(value, str) or value not in model_info:
        raise ValidationError(path, value, f"not a model of this study; models: {', '.join(model_info)}")
    return value


def _task_labels(path, value, task_info):
    def item(p, v):
        if not isinstance(v, str) or v not in task_info:  # a list is no dict key
            raise ValidationError(p, v, f"not a task of this study; tasks: {', '.join(task_info)}")
        return v
    return _list(path, value, item)


