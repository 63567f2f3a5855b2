"""What a study's tuning stage (`sim.study.tuning`) leaves in its results directory.

``tuning.json``
    The progress and every trial, rewritten (atomically) after each round: ``stage``
    ('tuning' or 'done'), ``rounds`` / ``rounds_done``, ``trials_done`` (per pair), the study's
    ``metric``, ``direction``, ``trials``, ``batch``, ``seeds``, ``name``, ``hash``
    (:func:`study_hash`) and ``optuna`` (its version), and ``pairs``: per tuned (model, task)
    its ``space``, ``sampler_seed``, ``trials`` (``number``, ``point``, ``value``, ``values``
    and ``status`` per seed, ``at_chance``, ``run_ids``) and ``best``. Read it with :func:`read_progress`.
``tuned.toml``
    The chosen configurations as presets, written when the stage ends: one ``[MODEL.TASK]``
    table per pair with ``model`` (registry name), ``trials`` (the budget), ``best_trial``,
    ``best_value``, ``at_chance`` (trials with a run counted at chance) and ``params``: the
    searched constructor parameters as chosen (for a dotted name, its whole table), ready to
    paste under ``[models.MODEL.tasks.TASK]`` of a study. Read it with :func:`read_presets`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from pathlib import Path

import sim
from sim.study.files import atomic_write
from sim.study.search import roots
from sim.study.spec import canonical_json

__all__ = ["PROGRESS", "PRESETS", "study_hash", "write_progress", "read_progress", "write_presets",
           "read_presets", "presets", "toml_text"]

PROGRESS = "tuning.json"
PRESETS = "tuned.toml"
_BARE = re.compile(r"[A-Za-z0-9_-]+")


def study_hash(study) -> str:
    """First 16 hex digits of the SHA-256 of the study's config (as parsed) and ``sim.__version__``."""
    return hashlib.sha256(canonical_json({"config": study.raw, "version": sim.__version__}).encode()).hexdigest()[:16]


def _header(study) -> dict:
    t = study.tuning
    return {"name": study.name, "hash": study_hash(study), "version": sim.__version__, "metric": t["metric"],
            "direction": t["direction"], "trials": t["trials"], "batch": t["batch"], "startup": t["startup"],
            "seeds": list(t["seeds"])}


def write_progress(out, study, state: dict) -> Path:
    """Write ``tuning.json`` of ``state`` (`sim.study.tuning.tune`) into the directory ``out``."""
    from importlib.metadata import version
    doc = {**_header(study), **{k: state[k] for k in ("stage", "rounds", "rounds_done", "trials_done", "pairs")},
           "optuna": version("optuna")}  # the sampler's proposals are reproducible for one Optuna version
    path = Path(out) / PROGRESS
    atomic_write(path, json.dumps(json.loads(canonical_json(doc)), indent=1, sort_keys=True) + "\n")
    return path


def read_progress(results_dir) -> dict | None:
    """``tuning.json`` of a results directory as a dict (None if the study has no tuning stage)."""
    try:
        return json.loads((Path(results_dir) / PROGRESS).read_text())
    except FileNotFoundError:
        return None


def presets(study, state: dict) -> dict:
    """The ``tuned.toml`` document of a finished tuning ``state``: ``{model: {task: {...}}}`` plus
    the study's name, hash, version, metric, trials and seeds."""
    doc = {k: v for k, v in _header(study).items() if k not in ("batch", "startup", "direction")}
    doc["study"] = doc.pop("name")
    doc["study_hash"] = doc.pop("hash")
    for pair in state["pairs"]:
        best = pair["best"]
        chosen = state["params"][(pair["model"], pair["task"])]
        doc.setdefault(pair["model"], {})[pair["task"]] = {
            "model": pair["model_name"], "trials": len(pair["trials"]), "best_trial": best["number"],
            "best_value": best["value"], "at_chance": sum(r["at_chance"] > 0 for r in pair["trials"]),
            "params": json.loads(canonical_json({k: chosen[k] for k in roots(pair["space"])}))}
    return doc


def write_presets(out, study, state: dict) -> Path:
    """Write ``tuned.toml`` (:func:`presets`) into the directory ``out``; return its path."""
    comment = [f"The configurations chosen by the tuning stage of study {study.name!r} "
               f"(hash {study_hash(study)}, neurocompare {sim.__version__}).",
               f"Each [MODEL.TASK]: the best of {study.tuning['trials']} trials by {study.tuning['metric']} "
               f"(mean over seed indices {list(study.tuning['seeds'])});",
               "its params are the searched constructor parameters, ready for [models.MODEL.tasks.TASK]."]
    path = Path(out) / PRESETS
    atomic_write(path, toml_text(presets(study, state), comment))
    return path


def read_presets(results_dir) -> dict:
    """``tuned.toml`` of a results directory, parsed (raises FileNotFoundError without one)."""
    return tomllib.loads((Path(results_dir) / PRESETS).read_text(encoding="utf-8"))


def _key(key) -> str:
    key = str(key)
    return key if _BARE.fullmatch(key) else json.dumps(key)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML value for {type(value).__name__} {value!r}")


def toml_text(doc: dict, comment=(), depth: int = 3) -> str:
    """TOML text of ``doc``: nested dicts down to ``depth`` levels become ``[a.b.c]`` tables,
    deeper ones inline tables; ``comment`` lines go first. None has no TOML form (TypeError)."""
    lines = [f"# {line}" for line in comment]

    def emit(table, path):
        subtables = {k: v for k, v in table.items() if isinstance(v, dict) and len(path) < depth}
        if path and (len(subtables) < len(table) or not table):
            lines.extend(["", "[" + ".".join(_key(p) for p in path) + "]"])
        lines.extend(f"{_key(k)} = {_value(v)}" for k, v in table.items() if k not in subtables)
        for k, v in subtables.items():
            emit(v, [*path, k])
    emit(doc, [])
    return "\n".join(lines).lstrip("\n") + "\n"
