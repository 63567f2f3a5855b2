"""The adversarial and cost conditions of a study: their TOML keys, their runs and their evaluation.

TOML (all keys but the radii optional)::

    [conditions]
    adversarial = { linf = [0, 0.05, 0.1], l2 = [0, 0.5, 1], n = 100, steps = 20,
                    spsa_steps = 20, spsa_samples = 32, tasks = ["digits"],
                    transfer = [["mlp", "hebbian"]] }
    cost = true

Radii are fractions of the training set's data range ``hi - lo`` (`sim.models.attacks.data_range`),
so one list means the same on every task (L-inf radii in [0, 1]; an L2 radius may exceed 1, the
L2 diagonal of the box being ``sqrt(n_features)``); the attacks clip to ``[lo, hi]``. Every standard run of
the listed tasks (default: all) evaluates its first ``n`` test inputs under FGSM, PGD and SPSA at
each radius (`sim.models.attacks.robustness_curve`); the number to report is the per-input worst
case over the three (``worst``), and ``spsa_only`` counts the inputs only the gradient-free attack
broke (a sign of gradient masking).

Transfer needs two live models, and a worker holds one: each pair ``[a, b]`` of ``transfer`` adds,
per listed task and seed index, one run of kind ``"transfer"`` whose spec names both models'
configurations (model ``a`` is the run's model, ``b`` its ``condition.partner``). The worker
trains both on the same split with the same model seed (so each is the one its standard run
trains) and reports both directions: the accuracy of ``b`` on PGD examples crafted on ``a`` and
of ``a`` on those crafted on ``b``, beside each one's white-box PGD accuracy. Nothing is stored
for analyses to rerun: they only read these numbers.

``cost = true`` adds `sim.models.cost.inference_cost` of the test split (with the test accuracy,
for the energy per correct answer) to every standard run.
"""

from __future__ import annotations

import numbers

import numpy as np

from sim.errors import ValidationError
from sim.models.attacks import NORMS, data_range, pgd, robustness_curve, transfer
from sim.models.cost import inference_cost
from sim.seeds import eval_rng
from sim.validation import check_int

__all__ = ["ADVERSARIAL_KEYS", "parse", "evaluation_entries", "transfer_specs", "evaluate"]

ADVERSARIAL_KEYS = NORMS + ("n", "steps", "spsa_steps", "spsa_samples", "tasks", "transfer")
DEFAULTS = {"n": 100, "steps": 20, "spsa_steps": 20, "spsa_samples": 32}


def _radii(path, value, high):
    if not isinstance(value, (list, tuple)) or not value:
        raise ValidationError(path, value, "must be a non-empty list of radii (fractions of the data range)")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or not 0 <= v <= high:
            raise ValidationError(f"{path}[{i}]", v, f"must be a number in [0, {high:g}] (a fraction of the data "
                                  "range; an L-inf radius of 1 already spans the whole range)")
        out.append(float(v))
    return sorted(set(out))


def parse(raw: dict, task_info: dict, model_info: dict) -> dict:
    """``{"adversarial": dict or None, "cost": bool}`` from the ``[conditions]`` table ``raw``.

    Raises
    ------
    ValidationError
        Named by the key path (``conditions.adversarial.linf[1]``, ...).
    """
    cost = raw.get("cost", False)
    if not isinstance(cost, bool):
        raise ValidationError("conditions.cost", cost, "must be true or false")
    if "adversarial" not in raw:
        return {"adversarial": None, "cost": cost}
    path = "conditions.adversarial"
    adv = raw["adversarial"]
    if not isinstance(adv, dict):
        raise ValidationError(path, adv, "must be a table")
    for key in adv:
        if key not in ADVERSARIAL_KEYS:
            raise ValidationError(f"{path}.{key}", adv[key], f"unknown key; allowed: {', '.join(ADVERSARIAL_KEYS)}")
    if not any(norm in adv for norm in NORMS):
        raise ValidationError(f"{path}.linf", None, "radii for at least one norm (linf, l2) are required")
    out = {norm: _radii(f"{path}.{norm}", adv[norm], 1.0 if norm == "linf" else 1e3) for norm in NORMS if norm in adv}
    for key, default in DEFAULTS.items():
        out[key] = check_int(f"{path}.{key}", adv.get(key, default), low=1)
    tasks = adv.get("tasks", list(task_info))
    if not isinstance(tasks, list) or not tasks:
        raise ValidationError(f"{path}.tasks", tasks, "must be a non-empty list of task labels")
    for i, t in enumerate(tasks):
        if not isinstance(t, str) or t not in task_info:
            raise ValidationError(f"{path}.tasks[{i}]", t, f"not a task of this study; tasks: {', '.join(task_info)}")
    out["tasks"] = list(tasks)
    pairs = adv.get("transfer", [])
    if not isinstance(pairs, list):
        raise ValidationError(f"{path}.transfer", pairs, "must be a list of [source, target] model-label pairs")
    for i, pair in enumerate(pairs):
        if (not isinstance(pair, list) or len(pair) != 2 or pair[0] == pair[1]
                or any(not isinstance(m, str) or m not in model_info for m in pair)):
            raise ValidationError(f"{path}.transfer[{i}]", pair, "must be two different model labels of this "
                                  f"study; models: {', '.join(model_info)}")
    for i, pair in enumerate(pairs):
        for t in tasks:
            if any(m not in task_info[t].get("models", model_info) for m in pair):
                raise ValidationError(f"{path}.transfer[{i}]", pair, f"both models must run on task {t!r} "
                                      f"(tasks.{t}.models)")
    out["transfer"] = [list(p) for p in pairs]
    return {"adversarial": out, "cost": cost}


def _attack_settings(adv: dict) -> dict:
    return {k: adv[k] for k in (*NORMS, *DEFAULTS) if k in adv}


def evaluation_entries(conditions: dict, task: str) -> dict:
    """What a standard run of study task ``task`` adds to its spec's ``evaluation``: ``adversarial``
    (the attack settings) and ``cost`` (True), each only when the study asks for it (so a study
    without them keeps its run ids)."""
    out = {}
    adv = conditions.get("adversarial")
    if adv and task in adv["tasks"]:
        out["adversarial"] = _attack_settings(adv)
    if conditions.get("cost"):
        out["cost"] = True
    return out


def transfer_specs(study, task: str, make_spec) -> list[dict]:
    """The ``transfer`` runs of study task ``task``: one per pair and seed index.

    ``make_spec(study, task, model, params, epochs, seed_index, kind, condition, evaluation)``
    builds a spec (`sim.study.spec`'s); the partner's model name, parameters and epochs go into
    the condition, so the run id covers both models.
    """
    adv = study.conditions.get("adversarial")
    if not adv or task not in adv["tasks"]:
        return []
    specs = []
    for a, b in adv["transfer"]:
        params_a, epochs_a = study.model_for(a, task)
        params_b, epochs_b = study.model_for(b, task)
        condition = {"partner": b, "partner_model": study.models[b]["model"], "partner_params": params_b,
                     "partner_epochs": epochs_b}
        specs += [make_spec(study, task, a, params_a, epochs_a, i, "transfer", condition,
                            {"transfer": _attack_settings(adv)}) for i in range(study.seeds)]
    return specs


def evaluate(model, task, spec: dict, make_model=None) -> dict:
    """The entries a finished run adds to its evaluation: ``adversarial``, ``cost``, ``transfer``.

    Parameters
    ----------
    model : fitted model
        The run's model, trained on its training task.
    task : sim.tasks.Task
        The run's full task (its test split is evaluated; its training split gives the data range).
    spec : dict
        The run spec.
    make_model : callable, optional
        ``make_model(name, params, seed) -> model`` for the partner of a transfer run.
    """
    ev, out = spec.get("evaluation") or {}, {}
    lo, hi = data_range(task.X_train)
    if "adversarial" in ev:
        settings = ev["adversarial"]
        n = min(int(settings["n"]), task.n_test)
        X, y = task.X_test[:n], task.y_test[:n]
        adv = {"n": n, "lo": lo, "hi": hi}
        for norm in NORMS:
            if norm in settings:
                eps = [e * (hi - lo) for e in settings[norm]]
                curve = robustness_curve(model, X, y, eps, norm, lo, hi, steps=settings["steps"],
                                         spsa_steps=settings["spsa_steps"], spsa_samples=settings["spsa_samples"],
                                         rng=eval_rng(spec, f"spsa_{norm}", 0.0))
                adv[norm] = {**curve, "eps": list(settings[norm]), "eps_abs": eps}
        out["adversarial"] = adv
    if ev.get("cost"):
        accuracy = model.score(task.X_test, task.y_test)
        out["cost"] = inference_cost(model, task.X_test, accuracy=accuracy if accuracy > 0 else None)
    if spec.get("kind") == "transfer" and "transfer" in ev:
        out["transfer"] = _transfer(model, task, spec, ev["transfer"], make_model, lo, hi)
    return out


def _transfer(model, task, spec, settings, make_model, lo, hi):
    cond = spec["condition"]
    partner = make_model(cond["partner_model"], cond["partner_params"], spec["model_seed"])
    partner.fit(task, epochs=cond["partner_epochs"])
    n = min(int(settings["n"]), task.n_test)
    X, y = task.X_test[:n], task.y_test[:n]
    out = {"source": spec["model"], "target": cond["partner"], "n": n,
           "partner_diverged": bool(partner.history_.diverged),
           "partner_test_accuracy": partner.score(task.X_test, task.y_test)}
    steps = settings["steps"]
    for norm in NORMS:
        if norm not in settings:
            continue
        eps = [e * (hi - lo) for e in settings[norm]]
        out[norm] = {"eps": list(settings[norm]),
                     "source_to_target": transfer(model, partner, X, y, eps, norm, lo, hi, steps=steps),
                     "target_to_source": transfer(partner, model, X, y, eps, norm, lo, hi, steps=steps),
                     "source_white_box": [float(np.mean(model.predict(pgd(model, X, y, e, norm, lo, hi, steps=steps))
                                                        == y)) for e in eps],
                     "target_white_box": [float(np.mean(partner.predict(pgd(partner, X, y, e, norm, lo, hi,
                                                                              steps=steps)) == y)) for e in eps]}
    return out
