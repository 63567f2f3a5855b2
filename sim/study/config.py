"""Study configs: parse and validate a TOML study, expand it into independent, hashed runs.

A study is tasks x models x seeds (x conditions). :func:`load` reads a TOML file (or a dict)
and validates every key before anything runs; :meth:`Study.runs` expands it into run specs,
plain JSON-ready dicts that hold everything a worker needs. Each spec is keyed by
:func:`run_id`, the first 16 hex digits of the SHA-256 of its canonical JSON (which includes
``sim.__version__``), so the same run always gets the same file in the results store.

Schema (see ``sim/study/builtin/quick.toml``)::

    name = "quick"            # default: the file name
    description = "..."       # optional
    root_seed = 0             # int >= 0
    seeds = 3                 # int >= 1: seed indices 0..seeds-1
    epochs = 10               # int >= 1: default epochs of every model
    split = "per_seed"        # task load seed = seed index ("per_seed") or 0 ("fixed")
    [tasks.<label>]           # task = registry name (default: the label) + sim.tasks.load params
    [models.<label>]          # model = registry name (required unless preset), preset = a
                              # sim.presets name (its params and epochs), epochs = int,
                              # random_control = bool (hidden weights stay random, as
                              # sim.presets.control), every other key a constructor parameter
                              # (lists become tuples)
    [models.<label>.tasks.<task label>]   # per-task: param overrides, epochs, or a preset
                              # (a task preset replaces the model-level params for that task)
    [conditions]              # noise = [std...], occlusion = [fraction...],
                              # train_per_class = [n...] or {sizes = [...], tasks = [...]},
                              # sequential = {tasks = [...], first = [...], second = [...]}

Seeds: every derivation (the model seed of seed index ``i``, the robustness and subsample
streams shared by all models of that index) is in `sim.seeds`, which documents each stream.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from sim.study.schema import _int, _keys, _parse_conditions, _parse_model, _parse_task, _str, _table
from sim.errors import ValidationError
from sim.seeds import model_seed

__all__ = ["Study", "load", "parse", "builtin", "builtin_names", "run_id", "canonical_json",
           "KINDS"]

KINDS = ("standard", "subsample", "sequential")
TOP_KEYS = ("name", "description", "root_seed", "seeds", "epochs", "split", "tasks", "models",
            "conditions")
SPLITS = ("per_seed", "fixed")
PROBE_SIZE = 500      # fixed probe set: the first min(PROBE_SIZE, n_test) test samples
GRID_SIZE = 200       # decision-boundary grid for 2-D tasks


def canonical_json(obj) -> str:
    """Deterministic JSON: sorted keys, no spaces, tuples as lists, NaN kept as ``NaN``."""
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


# ----------------------------------------------------------------------------------------
# the study
# ----------------------------------------------------------------------------------------

@dataclass
class Study:
    """A validated study. Build one with :func:`load` or :func:`parse`.

    Attributes
    ----------
    name, description : str
    root_seed, seeds, epochs : int
    split : {'per_seed', 'fixed'}
    tasks : dict
        label -> ``{"task": registry name, "params": full load params (defaults filled, no seed),
        "n_train": int, "n_features": int, "n_classes": int, "min_class": int}``.
    models : dict
        label -> ``{"model": registry name, "epochs": int, "params": {...},
        "tasks": {task label: {"params": {...}, "epochs": int}}}`` (params without ``seed``).
    conditions : dict
        ``noise``, ``occlusion`` (lists), ``train_per_class`` (``{"sizes", "tasks"}`` or None),
        ``sequential`` (``{"tasks", "first", "second", "epochs"}`` or None).
    raw : dict
        The config as parsed from TOML.
    """

    name: str
    description: str
    root_seed: int
    seeds: int
    epochs: int
    split: str
    tasks: dict
    models: dict
    conditions: dict
    raw: dict = field(repr=False, default_factory=dict)
    source: str = ""

    def model_for(self, model_label: str, task_label: str) -> tuple[dict, int]:
        """Constructor parameters (no seed) and epochs of model ``model_label`` on ``task_label``."""
        m = self.models[model_label]
        return m["params_by_task"][task_label], m["epochs_by_task"][task_label]

    def runs(self) -> list[dict]:
        """The study expanded into run specs (JSON-ready dicts), in a stable order."""
        from sim import __version__
        cond = self.conditions
        evaluation = {"noise": list(cond["noise"]), "occlusion": list(cond["occlusion"]),
                      "probe": PROBE_SIZE, "grid": GRID_SIZE}
        specs = []
        for t_label, t in self.tasks.items():
            variants = [("standard", {}, evaluation)]
            tpc = cond["train_per_class"]
            if tpc and t_label in tpc["tasks"]:
                variants += [("subsample", {"train_per_class": n}, evaluation) for n in tpc["sizes"]]
            seq = cond["sequential"]
            if seq and t_label in seq["tasks"]:
                variants.append(("sequential", {"first": list(seq["first"]), "second": list(seq["second"])},
                                 {"probe": PROBE_SIZE}))
            for m_label, m in self.models.items():
                params, epochs = self.model_for(m_label, t_label)
                for i in range(self.seeds):
                    for kind, condition, ev in variants:
                        ep = epochs
                        if kind == "sequential" and seq.get("epochs") is not None:
                            ep = seq["epochs"]
                        spec = {
                            "task": t_label, "task_name": t["task"], "task_params": t["params"],
                            "task_seed": i if self.split == "per_seed" else 0,
                            "model": m_label, "model_name": m["model"], "params": params,
                            "epochs": ep, "seed": i, "root_seed": self.root_seed,
                            "model_seed": model_seed(self.root_seed, i),
                            "kind": kind, "condition": condition, "evaluation": ev,
                            "version": __version__,
                        }
                        spec = json.loads(canonical_json(spec))  # tuples -> lists, plain types
                        specs.append({"run_id": run_id(spec), **spec})
        return specs

    def summary(self) -> str:
        runs = self.runs()
        kinds = {k: sum(r["kind"] == k for r in runs) for k in KINDS}
        return (f"study {self.name!r}: {len(self.tasks)} tasks x {len(self.models)} models x "
                f"{self.seeds} seeds -> {len(runs)} runs ("
                + ", ".join(f"{n} {k}" for k, n in kinds.items() if n) + ")")


def builtin_names() -> list[str]:
    """Studies shipped inside the package (``sim/study/builtin/*.toml``)."""
    files = resources.files("sim.study") / "builtin"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def builtin(name: str) -> Path:
    """Path of the shipped study ``name`` ('default' or 'quick')."""
    if name not in builtin_names():
        raise ValidationError("study", name, f"unknown built-in study; valid: {', '.join(builtin_names())}")
    return Path(str(resources.files("sim.study") / "builtin" / f"{name}.toml"))


def load(config) -> Study:
    """Read and validate a study: a TOML path, a built-in name ('default', 'quick'), a dict,
    or a `Study` (returned as is).

    Raises
    ------
    ValidationError
        Named by the key path, e.g. ``models.mlp.lr`` or ``tasks.moons.noise``; unknown names
        list the allowed ones. Nothing is run before the whole config is valid.
    """
    if isinstance(config, Study):
        return config
    if isinstance(config, dict):
        return parse(config)
    path = Path(config)
    if not path.exists() and str(config) in builtin_names():
        path = builtin(str(config))
    if not path.is_file():
        raise ValidationError("config", str(config), "no such study file")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError("config", str(path), f"is not valid TOML ({exc})") from None
    return parse(raw, source=str(path), default_name=path.stem)


def parse(raw: dict, source: str = "", default_name: str = "study") -> Study:
    """Validate a parsed TOML dict and return the `Study` (see the module docstring)."""
    raw = copy.deepcopy(_table("config", raw))
    _keys("", raw, TOP_KEYS)
    name = _str("name", raw.get("name", default_name))
    if any(c in name for c in "/\\") or name.startswith("."):
        raise ValidationError("name", name, "must be usable as a directory name")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ValidationError("description", description, "must be a string")
    root_seed = _int("root_seed", raw.get("root_seed", 0), low=0)
    seeds = _int("seeds", raw.get("seeds", 1), low=1)
    epochs = _int("epochs", raw.get("epochs", 10), low=1)
    split = _str("split", raw.get("split", "per_seed"), SPLITS)
    if "tasks" not in raw or not _table("tasks", raw["tasks"]):
        raise ValidationError("tasks", raw.get("tasks"), "at least one [tasks.<name>] table is required")
    if "models" not in raw or not _table("models", raw["models"]):
        raise ValidationError("models", raw.get("models"), "at least one [models.<label>] table is required")
    task_info = {label: _parse_task(label, spec) for label, spec in raw["tasks"].items()}
    model_info = {label: _parse_model(label, spec, epochs, task_info)
                  for label, spec in raw["models"].items()}
    conditions = _parse_conditions(raw.get("conditions", {}), task_info)
    return Study(name=name, description=description, root_seed=root_seed, seeds=seeds, epochs=epochs,
                 split=split, tasks=task_info, models=model_info, conditions=conditions, raw=raw,
                 source=source)
