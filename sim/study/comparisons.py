"""The primary comparisons of a study: the ``[comparisons]`` table and its default.

A study's paired comparisons fall into two families. The *primary* family is what the study is
for: the pairs of model labels in ``[comparisons] primary`` (each compared on every task of
``[comparisons] tasks``, default all); a study that declares none gets :func:`default_pairs`:
(Hebbian, MLP), (Hebbian, random control), (MLP, random control) when :func:`roles` recognises
exactly one model of each, else every pair. The analyses (`analyses.comparisons`) correct for
multiple testing within the primary family only and list every other pair as exploratory, with a
correction of its own. Schema::

    [comparisons]
    primary = [["hebbian", "mlp"], ["hebbian", "random"], ["mlp", "random"]]   # "a - b"
    tasks = ["digits", "mnist1d"]     # optional; default: every task of the study

`sim.study.schema.validate` calls :func:`comparisons` (it becomes ``Study.comparisons``); the
analyses call it on a stored study's config, with the roles read from the stored runs.
"""

from __future__ import annotations

from sim.errors import ValidationError
from sim.models import labels

__all__ = ["comparisons", "default_pairs", "roles", "ROLES", "KEYS"]

# the roles of the default primary family, in comparison order: (hebbian, mlp), (hebbian, random), (mlp, random)
ROLES = ("hebbian", "mlp", "random")
KEYS = ("primary", "tasks")


def roles(specs: dict) -> dict:
    """The recognisable role of each model: 'hebbian', 'mlp' or 'random' (others have none).

    Parameters
    ----------
    specs : dict
        Model label -> iterable of ``(model_name, params)``, one per task it runs on.

    Returns
    -------
    dict
        ``{label: role}`` for the labels whose every task has the same role: 'hebbian' (a
        Hebbian network with a plastic hidden rule), 'mlp' (a backprop MLP, hidden layers
        trained throughout) or 'random' (a Hebbian network whose hidden rule is 'none': the
        random-features control), from `sim.models.labels.settings`.
    """
    def role(model_name, params):
        s = labels.settings(model_name, params)
        if s["family"] == "backprop" and s["learning"] == "backprop" and not (params or {}).get("freeze_hidden_after"):
            return "mlp"
        if s["family"] == "hebbian":
            return "random" if s["learning"] == "none" else "hebbian"
        return None

    out = {}
    for label, variants in specs.items():
        found = {role(name, params) for name, params in variants}
        if len(found) == 1 and None not in found:
            out[label] = found.pop()
    return out


def default_pairs(specs: dict) -> list[tuple[str, str]]:
    """The primary family of a study that declares none.

    With exactly one model in each of the `ROLES` (:func:`roles`): the three pairs (Hebbian,
    MLP), (Hebbian, random), (MLP, random); otherwise every pair of models, Hebbian networks
    first, then MLPs, then random controls, then the others, each in the order of ``specs``.

    Returns
    -------
    list of (str, str)
        ``(model_a, model_b)``: the comparison reads ``model_a - model_b``.
    """
    found = roles(specs)
    by_role = {r: [m for m in specs if found.get(m) == r] for r in ROLES}
    if all(len(ms) == 1 for ms in by_role.values()):
        h, m, r = (by_role[role][0] for role in ROLES)
        return [(h, m), (h, r), (m, r)]
    rank = {role: i for i, role in enumerate(ROLES)}
    ordered = sorted(specs, key=lambda m: rank.get(found.get(m), len(rank)))  # stable: ties keep their order
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:]]


def comparisons(raw, specs: dict, task_labels) -> dict:
    """The ``[comparisons]`` table: the study's primary family of paired comparisons.

    Parameters
    ----------
    raw : dict or None
        The table as parsed: ``primary = [["hebbian", "mlp"], ...]`` (pairs of model labels,
        each compared on every task of ``tasks``) and ``tasks = [...]`` (default: every task);
        None or a table without ``primary``: :func:`default_pairs`.
    specs : dict
        Model label -> iterable of ``(model_name, params)`` per task (for the default).
    task_labels : sequence of str
        The study's task labels.

    Returns
    -------
    dict
        ``primary`` (list of ``(model_a, model_b)``), ``tasks`` (list of task labels) and
        ``declared`` (True when the table names ``primary``).

    Raises
    ------
    ValidationError
        Named by the key: ``comparisons.<unknown key>``, ``comparisons.primary`` (not a
        non-empty list), ``comparisons.primary[i]`` (not a pair of two labels, the same model
        twice, a repeated pair), ``comparisons.primary[i][j]`` (not a model of the study),
        ``comparisons.tasks[i]`` (not a task of the study, repeated).
    """
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ValidationError("comparisons", raw, "must be a table")
    for key in raw:
        if key not in KEYS:
            raise ValidationError(f"comparisons.{key}", raw[key], f"unknown key; allowed: {', '.join(KEYS)}")
    task_labels = list(task_labels)
    tasks = _tasks(raw["tasks"], task_labels) if "tasks" in raw else task_labels
    if "primary" not in raw:
        return {"primary": default_pairs(specs), "tasks": tasks, "declared": False}
    value = raw["primary"]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValidationError("comparisons.primary", value, 'must be a non-empty list of pairs, e.g. [["a", "b"]]')
    pairs = []
    for i, pair in enumerate(value):
        path = f"comparisons.primary[{i}]"
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(isinstance(m, str) for m in pair):
            raise ValidationError(path, pair, 'must be a pair of two model labels, e.g. ["hebbian", "mlp"]')
        for j, m in enumerate(pair):
            if m not in specs:
                raise ValidationError(f"{path}[{j}]", m, f"not a model of this study; models: {', '.join(specs)}")
        if pair[0] == pair[1]:
            raise ValidationError(path, list(pair), "must name two different models")
        if any(set(pair) == set(p) for p in pairs):
            raise ValidationError(path, list(pair), "repeats an earlier pair")
        pairs.append((pair[0], pair[1]))
    return {"primary": pairs, "tasks": tasks, "declared": True}


def _tasks(value, task_labels) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValidationError("comparisons.tasks", value, "must be a non-empty list of task labels")
    for i, t in enumerate(value):
        if t not in task_labels:
            raise ValidationError(f"comparisons.tasks[{i}]", t, f"not a task of this study; tasks: "
                                  f"{', '.join(task_labels)}")
        if t in value[:i]:
            raise ValidationError(f"comparisons.tasks[{i}]", t, "repeats a task")
    return list(value)
