"""Search spaces and the ``[tuning]`` table of a study: parsing and validation (no Optuna here).

A model's space is ``[models.<label>.search]``; ``[models.<label>.tasks.<task>.search]`` merges
over it for one task. Each entry is one dimension of a constructor parameter::

    lr = { log = [1e-4, 1e-1] }          # log-uniform float
    init_scale = { low = 0.5, high = 2.0 }   # uniform float (add log = true for log-uniform)
    hidden_epochs = { int = [5, 50] }    # integer, uniform (add log = true: log-uniform, low >= 1)
    w_inh = [0.0, 0.3, 0.6]              # categorical: any TOML values, e.g. hidden = [[128], [256]]
    rule_params.k = { int = [2, 9] }     # a dotted name reaches into a table parameter

A dimension is kept as a JSON-ready dict: ``{"type": "float" | "int", "low", "high", "log"}``
or ``{"type": "categorical", "choices": [...]}``. :func:`check_space` builds the model with
every bound and every choice (the rest of its parameters as configured) so that a value the
model refuses is an error of the config, named by its key. :func:`parse_tuning` validates
``[tuning]`` (see `sim.study.tuning` for what the keys do). :func:`merge_params` applies a
chosen point (dotted names into nested dicts).
"""

from __future__ import annotations

import copy
import numbers

import numpy as np

from sim import models
from sim.errors import ValidationError
from sim.study.spec import tuples
from sim.validation import check_int

__all__ = ["METRICS", "TUNING_KEYS", "DEFAULT_BATCH", "DEFAULT_STARTUP", "CONTROL_FIXED", "parse_space",
           "check_space", "merge_params", "roots", "bounds", "parse_tuning"]

METRICS = {"val_accuracy": "maximize", "val_loss": "minimize"}  # metric -> direction
TUNING_KEYS = ("trials", "batch", "startup", "metric", "seeds", "tasks", "models")
DEFAULT_BATCH = 4      # trials asked per round and (model, task)
DEFAULT_STARTUP = 10   # random (start-up) trials before TPE models the results
CONTROL_FIXED = ("rule", "rule_params", "current")  # set by random_control = true
_DIM_KEYS = ("log", "low", "high", "int")
_FORMS = "{ log = [low, high] }, { low = .., high = .. }, { int = [low, high] } or a list of choices"


def parse_space(path: str, raw, prefix: str = "") -> dict:
    """The dimensions of the search table ``raw`` at key path ``path``: ``{name: dimension}``,
    nested tables (TOML dotted keys such as ``rule_params.k = ...``) flattened to dotted names."""
    if not isinstance(raw, dict):
        raise ValidationError(path, raw, "must be a table of parameter = dimension")
    out = {}
    for key, value in raw.items():
        here = f"{path}.{key}"
        if not key or any(not part for part in key.split(".")):
            raise ValidationError(here, value, "is not a parameter name")
        if isinstance(value, dict) and value and not set(value) & set(_DIM_KEYS):
            out.update(parse_space(here, value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = _dimension(here, value)
    return out


def _number(path, value, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not np.isfinite(value):
        raise ValidationError(path, value, "must be an integer" if integer else "must be a finite number")
    return int(value) if integer else float(value)


def _pair(path, value, integer=False):
    if not isinstance(value, list) or len(value) != 2:
        raise ValidationError(path, value, "must be [low, high]")
    low, high = (_number(path, v, integer) for v in value)
    if low >= high:
        raise ValidationError(path, value, f"low must be < high (low {low:g} >= high {high:g})")
    return low, high


def _flag(path, value):
    if not isinstance(value, bool):
        raise ValidationError(path, value, "must be true or false")
    return value


def _only(path, table, allowed):
    for key in table:
        if key not in allowed:
            raise ValidationError(f"{path}.{key}", table[key], f"unknown key; allowed here: {', '.join(allowed)}")


def _dimension(path, value):
    if isinstance(value, list):
        if not value:
            raise ValidationError(path, value, "is an empty list of choices; give at least one")
        return {"type": "categorical", "choices": copy.deepcopy(value)}
    if not isinstance(value, dict):
        raise ValidationError(path, value, f"must be {_FORMS}")
    if "int" in value:
        _only(path, value, ("int", "log"))
        low, high = _pair(f"{path}.int", value["int"], integer=True)
        log = _flag(f"{path}.log", value.get("log", False))
        if log and low < 1:
            raise ValidationError(f"{path}.int", value["int"], "log = true needs low >= 1")
        return {"type": "int", "low": low, "high": high, "log": log}
    if isinstance(value.get("log"), list):
        _only(path, value, ("log",))
        low, high = _pair(f"{path}.log", value["log"])
        if low <= 0:
            raise ValidationError(f"{path}.log", value["log"], "a log-uniform range needs low > 0")
        return {"type": "float", "low": low, "high": high, "log": True}
    _only(path, value, ("low", "high", "log"))
    for key in ("low", "high"):
        if key not in value:
            raise ValidationError(f"{path}.{key}", None, f"is required (the forms: {_FORMS})")
    low, high = _number(f"{path}.low", value["low"]), _number(f"{path}.high", value["high"])
    if low >= high:
        raise ValidationError(f"{path}.low", value["low"], f"must be < high ({high:g})")
    log = _flag(f"{path}.log", value.get("log", False))
    if log and low <= 0:
        raise ValidationError(f"{path}.low", value["low"], "must be > 0 with log = true")
    return {"type": "float", "low": low, "high": high, "log": log}


def bounds(dim: dict) -> list:
    """The values :func:`check_space` builds the model with: both bounds, or every choice."""
    return list(dim["choices"]) if dim["type"] == "categorical" else [dim["low"], dim["high"]]


def roots(names) -> list[str]:
    """The constructor parameters that dotted names reach into (``rule_params.k`` -> rule_params)."""
    return list(dict.fromkeys(name.split(".", 1)[0] for name in names))


def merge_params(base: dict, point: dict) -> dict:
    """``base`` (constructor parameters) with the values of ``point`` (``{name: value}``) set;
    dotted names set an entry of a nested table (a None table becomes one), TOML lists tuples.
    Neither argument is modified."""
    out = dict(base)
    for name, value in point.items():
        parts = name.split(".")
        if len(parts) == 1:
            out[name] = tuples(copy.deepcopy(value))
            continue
        table = out[parts[0]] = dict(out.get(parts[0]) or {})
        for part in parts[1:-1]:
            table[part] = dict(table.get(part) or {})
            table = table[part]
        table[parts[-1]] = tuples(copy.deepcopy(value))
    return out


def check_space(space: dict, paths: dict, model_name: str, base: dict, control: bool, build) -> None:
    """Check every dimension of ``space`` against model ``model_name``.

    Parameters
    ----------
    space : dict
        ``{name: dimension}`` (:func:`parse_space`).
    paths : dict
        ``{name: key path of the table that declared it}`` (for the errors).
    model_name : str
        The registry name (`sim.models.make`).
    base : dict
        The model's other constructor parameters on this task.
    control : bool
        ``random_control = true``: the hidden rule is fixed, so it cannot be searched.
    build : callable
        ``build(path, params)`` builds and validates the model (`sim.study.schema`), raising a
        `ValidationError` named under ``path``.
    """
    cls = models.REGISTRY[model_name]
    valid = [p for p in cls.param_names() if p != "seed"]
    for name, dim in space.items():
        path = f"{paths[name]}.{name}"
        root, _, rest = name.partition(".")
        if root not in valid:
            why = "is set by the study" if root == "seed" else f"unknown parameter of {cls.__name__}"
            raise ValidationError(path, dim, f"{why}; valid: {', '.join(valid)}")
        if control and root in CONTROL_FIXED:
            raise ValidationError(path, dim, "is fixed by random_control = true (the hidden weights stay random)")
        if rest and base.get(root) is not None and not isinstance(base.get(root), dict):
            raise ValidationError(path, dim, f"{root} = {base[root]!r} is not a table: dotted names reach "
                                  "into table parameters such as rule_params")
        for value in bounds(dim):
            try:
                build(paths[name], merge_params(base, {name: value}))
            except ValidationError as exc:
                what = exc.parameter.removeprefix(f"{paths[name]}.")
                why = exc.requirement if what in (name, name.rsplit(".", 1)[-1]) else f"{what}: {exc.requirement}"
                raise ValidationError(path, value, f"refused by {cls.__name__}: {why}") from None


def _labels(path, value, known, what):
    if not isinstance(value, list) or not value:
        raise ValidationError(path, value, f"must be a non-empty list of {what} labels")
    for i, v in enumerate(value):
        if v not in known:
            raise ValidationError(f"{path}[{i}]", v, f"not a {what} of this study; {what}s: {', '.join(known)}")
    return list(dict.fromkeys(value))


def _seeds(value):
    if isinstance(value, list):
        if not value:
            raise ValidationError("tuning.seeds", value, "must be a non-empty list of seed indices")
        out = [check_int(f"tuning.seeds[{i}]", v, low=0) for i, v in enumerate(value)]
        if len(set(out)) != len(out):
            raise ValidationError("tuning.seeds", value, "seed indices must be distinct")
        return out
    return list(range(check_int("tuning.seeds", value, low=1)))


def parse_tuning(raw, spaces: dict, task_info: dict, task_n_val: dict) -> dict | None:
    """Validate ``[tuning]``; return the study's tuning stage (None without one).

    Parameters
    ----------
    raw : dict or None
        The ``[tuning]`` table.
    spaces : dict
        ``{model label: {task label: space}}``: the merged spaces (empty: nothing to search).
    task_info : dict
        The study's tasks, in config order.
    task_n_val : dict
        ``{task label: validation samples}`` (a tuned task needs a validation split).

    Returns
    -------
    dict or None
        ``trials``, ``batch``, ``startup``, ``metric``, ``direction``, ``seeds`` (list),
        ``pairs`` (``[[model, task], ...]``, task-major in config order) and ``spaces``
        (``{model: {task: space}}`` of the pairs).
    """
    searched = [m for m, by_task in spaces.items() if any(by_task.values())]
    if raw is None:
        if searched:
            raise ValidationError("tuning", None, f"a [tuning] table (trials = N) is required: models.{searched[0]} "
                                  "declares a search space")
        return None
    if not isinstance(raw, dict):
        raise ValidationError("tuning", raw, "must be a table")
    _only("tuning", raw, TUNING_KEYS)
    if "trials" not in raw:
        raise ValidationError("tuning.trials", None, "is required: the number of trials of every tuned model")
    trials = check_int("tuning.trials", raw["trials"], low=1)
    batch = check_int("tuning.batch", raw.get("batch", DEFAULT_BATCH), low=1)
    startup = check_int("tuning.startup", raw.get("startup", DEFAULT_STARTUP), low=0)
    metric = raw.get("metric", "val_accuracy")
    if not isinstance(metric, str) or metric not in METRICS:  # a table is no dict key
        why = ("test metrics never choose anything: trials are scored on the validation split, the test split "
               "scores the refitted runs once") if isinstance(metric, str) and metric.startswith("test") else "unknown"
        raise ValidationError("tuning.metric", metric, f"{why}; valid: {', '.join(METRICS)}")
    seeds = _seeds(raw.get("seeds", 1))
    task_labels = _labels("tuning.tasks", raw["tasks"], list(task_info), "task") if "tasks" in raw else list(task_info)
    if "models" in raw:
        model_labels = _labels("tuning.models", raw["models"], list(spaces), "model")
        for i, m in enumerate(raw["models"]):
            if not any(spaces[m].get(t) for t in task_labels):
                raise ValidationError(f"tuning.models[{i}]", m, f"has no search space on the tuned tasks "
                                      f"([models.{m}.search])")
    else:
        model_labels = searched
    pairs = [[m, t] for t in task_labels for m in model_labels if spaces[m].get(t)]
    if not pairs:
        raise ValidationError("tuning", raw, "nothing to tune: no tuned model has a search space on a tuned task "
                              "([models.<label>.search])")
    for _, t in pairs:
        if task_n_val[t] == 0:
            raise ValidationError(f"tasks.{t}.validation_fraction", 0.0, "must be > 0 to tune on this task "
                                  "(trials are scored on the validation split)")
    return {"trials": trials, "batch": batch, "startup": startup, "metric": metric, "direction": METRICS[metric],
            "seeds": seeds, "pairs": pairs,
            "spaces": {m: {t: spaces[m][t] for mm, t in pairs if mm == m} for m in dict.fromkeys(m for m, _ in pairs)}}
