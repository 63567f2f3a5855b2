"""Study configs: parse and validate a TOML study, expand it into independent, hashed runs.

A study is tasks x models x seeds (x conditions). :func:`load` reads a TOML file (or a dict)
and validates every key before anything runs (`sim.study.schema`); :meth:`Study.runs` expands
it into run specs (`sim.study.spec`), plain JSON-ready dicts that hold everything a worker
needs. Each spec is keyed by `sim.study.spec.run_id`, the first 16 hex digits of the SHA-256 of
its canonical JSON (which includes ``sim.__version__``), so the same run always gets the same
file in the results store.

Schema (see ``sim/study/builtin/quick.toml``)::

    name = "quick"            # default: the file name
    description = "..."       # optional
    root_seed = 0             # int >= 0
    seeds = 10                # int >= 1: seed indices 0..seeds-1 (default 10)
    epochs = 10               # int >= 1: default epochs of every model
    split = "per_seed"        # task load seed = seed index ("per_seed") or 0 ("fixed")
    [tasks.<label>]           # task = registry name (default: the label) + sim.tasks.load params,
                              # or file = "data.npz" (relative to this file; also labels,
                              # label_column, test_fraction, validation_fraction, scale: see
                              # sim.tasks.from_file; the run specs record its SHA-256);
                              # mnist1d gets resplit = true unless it says otherwise (a new
                              # train/test split per seed index, not the package's fixed one)
    [models.<label>]          # model = registry name (required unless preset), preset = a
                              # sim.models.presets name (its params and epochs), epochs = int,
                              # random_control = bool (hidden weights stay random, as
                              # sim.models.presets.control), every other key a constructor
                              # parameter
                              # (lists become tuples)
    [models.<label>.tasks.<task label>]   # per-task: param overrides, epochs, or a preset
                              # (a task preset replaces the model-level params for that task)
    [models.<label>.search]   # a search space: lr = { log = [1e-4, 1e-1] }, x = { low, high },
                              # n = { int = [1, 8] }, w_inh = [0.0, 0.3] (choices), dotted names
                              # (rule_params.k) reach into tables; see sim.study.search
    [models.<label>.tasks.<task label>.search]   # merged over the model's space for that task
    [conditions]              # noise = [std...], occlusion = [fraction...],
                              # train_per_class = [n...] or {sizes = [...], tasks = [...]},
                              # sequential = {tasks = [...], first = [...], second = [...]}
    [tuning]                  # trials = N (every tuned model), batch = 4, startup = 10,
                              # metric = "val_accuracy" | "val_loss", seeds = [0, 1, 2] (or 3),
                              # tasks = [...], models = [...]; see sim.study.tuning
    [comparisons]             # primary = [["hebbian", "mlp"], ...] (pairs of model labels, "a - b"),
                              # tasks = [...] (default all): the family Holm corrects within;
                              # default: Hebbian/MLP/random pairs, else every pair; see
                              # sim.study.comparisons

Seeds: every derivation (the model seed of seed index ``i``, the robustness and subsample
streams shared by all models of that index) is in `sim.seeds`, which documents each stream.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sim.errors import ValidationError
from sim.study.schema import validate
from sim.study.spec import KINDS, canonical_json, run_id, run_specs

# canonical_json, run_id and KINDS live in sim.study.spec; they are re-exported here
__all__ = ["Study", "load", "parse", "builtin", "builtin_names", "run_id", "canonical_json",
           "KINDS"]


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
        "n_train": int, "n_test": int, "n_features": int, "n_classes": int, "min_class": int,
        "models": [model labels]}`` (``min_class``: training samples of the smallest class
        present; ``models``: those that run on the task, ``[tasks.X] models``, default all), in
        config order.
    models : dict
        label -> ``{"model": registry name, "epochs": int, "params": {...}, "random_control":
        bool, "tasks": {task label: the config's overrides}, "params_by_task": {task label:
        {...}}, "epochs_by_task": {task label: int}}``, in config order; params are the full
        constructor parameters without ``seed`` (see :meth:`model_for`).
        A model's ``search`` is ``{task label: {name: dimension}}`` (`sim.study.search`;
        empty where nothing is searched).
    conditions : dict
        ``noise``, ``occlusion`` (lists), ``train_per_class`` (``{"sizes", "tasks"}`` or None),
        ``sequential`` (``{"tasks", "first", "second", "epochs"}`` or None).
    comparisons : dict
        The primary family of paired comparisons (`sim.study.comparisons.comparisons`):
        ``primary`` (list of ``(model_a, model_b)``), ``tasks`` and ``declared`` (False: the
        default family).
    tuning : dict or None
        The tuning stage (`sim.study.search.parse_tuning`: ``trials``, ``batch``, ``startup``,
        ``metric``, ``direction``, ``seeds``, ``pairs``, ``spaces``), or None. `sim.study.tuning`
        runs it before the other runs, which then use the chosen parameters
        (:meth:`with_params`); :meth:`runs` alone gives them with the configured parameters.
    raw : dict
        The config as parsed from TOML.
    source : str
        The file it was read from ('' for a dict).
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
    tuning: dict | None = None
    comparisons: dict = field(default_factory=dict)

    def model_for(self, model_label: str, task_label: str) -> tuple[dict, int]:
        """Constructor parameters (no seed) and epochs of model ``model_label`` on ``task_label``."""
        m = self.models[model_label]
        return m["params_by_task"][task_label], m["epochs_by_task"][task_label]

    def with_params(self, chosen: dict) -> Study:
        """A copy of this study whose model ``m`` has constructor parameters ``chosen[(m, t)]`` on
        task ``t`` (the tuned configurations; other pairs as configured)."""
        models = copy.deepcopy(self.models)
        for (m_label, t_label), params in chosen.items():
            models[m_label]["params_by_task"][t_label] = copy.deepcopy(params)
        return dataclasses.replace(self, models=models)

    def trial_runs(self) -> int:
        """The number of tuning runs: (model, task) pairs x trials x tuning seeds (0 untuned)."""
        t = self.tuning
        return len(t["pairs"]) * t["trials"] * len(t["seeds"]) if t else 0

    def runs(self) -> list[dict]:
        """The study expanded into run specs (JSON-ready dicts), in a stable order.

        Returns
        -------
        list of dict
            `sim.study.spec.run_specs` of this study (see there for the fields and the order).
        """
        return run_specs(self)

    def summary(self) -> str:
        """One line: the numbers of tasks, models, seeds and runs (per kind)."""
        runs = self.runs()
        kinds = {k: sum(r["kind"] == k for r in runs) for k in KINDS}
        line = (f"study {self.name!r}: {len(self.tasks)} tasks x {len(self.models)} models x "
                f"{self.seeds} seeds -> {len(runs)} runs ("
                + ", ".join(f"{n} {k}" for k, n in kinds.items() if n) + ")")
        if self.tuning:
            t = self.tuning
            line += (f", after tuning {len(t['pairs'])} (model, task) pairs x {t['trials']} trials x "
                     f"{len(t['seeds'])} seeds -> {self.trial_runs()} trial runs")
        return line


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

    Returns
    -------
    Study

    Raises
    ------
    ValidationError
        Named by the key path, e.g. ``models.mlp.lr`` or ``tasks.moons.noise``; unknown names
        list the allowed ones; ``config`` for a file that is missing, unreadable, not UTF-8 or
        not TOML. Nothing is run before the whole config is valid.
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
        text = path.read_bytes().decode("utf-8")  # TOML is UTF-8, whatever the locale
    except UnicodeDecodeError as exc:
        raise ValidationError("config", str(path), f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                              f"at offset {exc.start}); TOML files must be UTF-8") from None
    except OSError as exc:
        raise ValidationError("config", str(path), f"cannot be read ({exc.strerror or exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError("config", str(path), f"is not valid TOML ({exc})") from None
    return parse(raw, source=str(path), default_name=path.stem)


def parse(raw: dict, source: str = "", default_name: str = "study") -> Study:
    """Validate a parsed TOML dict (`sim.study.schema.validate`) and return the `Study`.

    ``raw`` is deep-copied first (the Study keeps the copy as ``raw``); ``source`` is the file
    it came from (data-file tasks are read relative to its directory; without it, to the
    working directory) and ``default_name`` the name of a study without ``name``.
    """
    raw = copy.deepcopy(raw)
    base = Path(source).parent if source else None
    return Study(**validate(raw, default_name, base), raw=raw, source=source)
