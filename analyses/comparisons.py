"""Paired comparisons of test accuracy between the models of a study, in two families.

The *primary* family is the study's declared ``[comparisons]`` (`sim.study.comparisons`: pairs of
model labels on its tasks) or, when it declares none, the default: (Hebbian, MLP), (Hebbian,
random control), (MLP, random control) when each role has exactly one model, else every pair.
Every other pair of models on a task is *exploratory*. Holm's correction runs within each family
separately, so adding exploratory pairs never weakens a primary test.

Each comparison pairs the two models' runs by seed index (the same split, data and evaluation
streams) and reports, on the differences ``d_i = acc_a,i - acc_b,i`` in percentage points:

* the mean with its 95% Student-t interval, the SD, the paired effect size ``d_z = mean / SD``;
* the paired t-test p (the primary test) and, beside it, the exact Wilcoxon signed-rank p;
* the minimum detectable effect of the paired t at 80% power and two-sided alpha 0.05
  (`analyses.stats.mde`), so that "not significant" says how large an effect could hide;
* a test-sampling check: the store keeps each run's test accuracy, not its per-item predictions
  (the run arrays hold probe representations, weights and decision grids), so neither a paired
  bootstrap over test items nor McNemar's test is possible. What is possible is the binomial SD
  of each accuracy, ``sqrt(p (1 - p) / n_test)``, combined for the two models of a seed as if
  their errors on the shared test items were independent: ``s_i = sqrt(s_a,i^2 + s_b,i^2)``, an
  upper bound when the errors are positively correlated (as on shared items they usually are).
  ``test_sd_pp`` is the root mean square of ``s_i``, to set beside the seed-to-seed SD: with a new
  test set per seed the seed-to-seed SD already contains it; with one shared test set (a fixed
  split) it is an error the t interval does not contain and no number of seeds reduces.

What varies across seeds is derived per task from the stored runs (:func:`variation`).
"""

from __future__ import annotations

import itertools

import numpy as np

from sim.study import comparisons as declared

from .common import model_order
from .stats import binomial_sd, holm, paired_effect, paired_test

__all__ = ["family", "variation", "scored", "pairs", "compare", "table", "FAMILIES", "ALPHA", "COMPARE_FIRST"]

FAMILIES = ("primary", "exploratory")
ALPHA = 0.05
# exploratory pairs read "first vs second": the Hebbian network first, then the MLP, then controls
COMPARE_FIRST = ("hebbian", "mlp", "backprop")


def family(st, names, tasks) -> dict:
    """The primary family of the stored study.

    Parameters
    ----------
    st : sim.study.store.Store
    names : analyses.common.ModelLabels
        Its models' stored parameters (the roles of the default family come from them).
    tasks : sequence of str
        The study's task labels.

    Returns
    -------
    dict
        `sim.study.comparisons.comparisons` of the ``[comparisons]`` table of the stored config
        (``primary``, ``tasks``, ``declared``).
    """
    m = st.manifest()
    cfg = m.get("config") or {}
    planned = {info["model"] for info in (m.get("runs") or {}).values()} | set(cfg.get("models") or {})
    specs = {label: [] for label in model_order(planned)}
    specs.update({label: list(by_task.values()) for label, by_task in names.specs.items()})
    return declared.comparisons(cfg.get("comparisons"), specs, list(tasks))


def variation(configs) -> dict:
    """What differs between the seed indices of one task's runs.

    Parameters
    ----------
    configs : iterable of dict
        Run specs of the task (``task_name``, ``task_params``, ``task_seed``).

    Returns
    -------
    dict
        ``varies`` (words), ``unit`` (what one seed index is: 'splits', 'data sets' or
        'initializations') and ``shared_test`` (every seed index is tested on the same items):
        one task seed for all -> initialization only; mnist1d without ``resplit`` -> its fixed
        train/test split, initialization and the validation carve; generated tasks (``n_test``
        a parameter: the toys, bars) -> new data and initialization; otherwise (digits,
        resplit mnist1d) -> split and initialization.
    """
    configs = list(configs)
    seeds = {c["task_seed"] for c in configs}
    name = configs[0]["task_name"] if configs else ""
    params = (configs[0].get("task_params") or {}) if configs else {}
    if len(seeds) <= 1:
        return {"varies": "initialization only (one fixed split)", "unit": "initializations", "shared_test": True}
    if name == "mnist1d" and not params.get("resplit"):
        return {"varies": "initialization and the validation carve only (mnist1d's fixed train/test split)",
                "unit": "initializations", "shared_test": True}
    if "n_test" in params:
        return {"varies": "data (new samples) and initialization", "unit": "data sets", "shared_test": False}
    return {"varies": "split and initialization", "unit": "splits", "shared_test": False}


def scored(st, runs) -> dict:
    """``{seed: (test accuracy in %, n_test)}`` of finished and diverged runs; a diverged run is
    a failure of its model and scores chance (100 / classes). ``n_test`` from `Store.task`."""
    out = {}
    for r in runs:
        if r.get("status") not in ("finished", "diverged"):
            continue
        task = st.task(r)
        acc = 100 * r["evaluation"]["test_accuracy"] if r["status"] == "finished" else 100 / task.n_classes
        out[r["config"]["seed"]] = (acc, task.n_test)
    return out


def pairs(models, fam, task) -> list[tuple[str, str, str]]:
    """``(model_a, model_b, family)`` of ``task``: the primary pairs (if ``task`` is in the family's
    tasks) in declared order, then every other pair of ``models``, exploratory."""
    primary = [(a, b) for a, b in fam["primary"]] if task in fam["tasks"] else []
    rank = {m: i for i, m in enumerate(COMPARE_FIRST)}
    ordered = sorted(models, key=lambda m: (rank.get(m, len(rank)), model_order(models).index(m)))
    taken = {frozenset(p) for p in primary}
    rest = [p for p in itertools.combinations(ordered, 2) if frozenset(p) not in taken]
    return [(a, b, "primary") for a, b in primary] + [(a, b, "exploratory") for a, b in rest]


def compare(x: dict, y: dict) -> dict:
    """The paired comparison of two models' ``{seed: (accuracy %, n_test)}`` (see the module).

    Returns
    -------
    dict
        ``n_pairs``, ``diff_pp_mean``, ``diff_pp_ci95``, ``diff_pp_low``, ``diff_pp_high``,
        ``sd_diff_pp``, ``d_z``, ``mde_pp``, ``test_sd_pp``, ``n_test``, ``p_t``, ``p_wilcoxon``
        and ``note``: '' or why there is no t-test ('fewer than 2 pairs'; 'constant difference':
        every pair differs by the same nonzero amount, so the t statistic is undefined).
    """
    seeds = sorted(set(x) & set(y))
    a = np.array([x[s][0] for s in seeds], dtype=np.float64)
    b = np.array([y[s][0] for s in seeds], dtype=np.float64)
    n_test = np.array([x[s][1] for s in seeds], dtype=np.float64)
    e = paired_effect(a - b)
    s2 = binomial_sd(a / 100, n_test) ** 2 + binomial_sd(b / 100, n_test) ** 2
    note = ""
    p_t = p_w = float("nan")
    if len(seeds) < 2:
        note = "fewer than 2 pairs"
    else:
        p_w = paired_test(a, b, "wilcoxon")
        if e["sd"] == 0 and e["mean"] != 0:
            note = "constant difference"
        else:
            p_t = paired_test(a, b, "t")
    return {"n_pairs": len(seeds), "diff_pp_mean": e["mean"], "diff_pp_ci95": e["ci"], "diff_pp_low": e["low"],
            "diff_pp_high": e["high"], "sd_diff_pp": e["sd"], "d_z": e["d_z"], "mde_pp": e["mde"],
            "test_sd_pp": float(100 * np.sqrt(s2.mean())) if seeds else float("nan"),
            "n_test": int(np.median(n_test)) if seeds else 0, "p_t": p_t, "p_wilcoxon": p_w, "note": note}


def table(st, tasks, models, accuracy, text, runs, fam) -> list[dict]:
    """Every comparison of the study, Holm-corrected within its family.

    Parameters
    ----------
    st : sim.study.store.Store
    tasks : sequence of str
    models : dict
        task -> its model labels.
    accuracy : dict
        ``(task, model)`` -> :func:`scored` of its standard runs.
    text : dict
        task -> ``{model: label}`` on that task.
    runs : dict
        task -> its stored standard runs (for :func:`variation`).
    fam : dict
        :func:`family`.

    Returns
    -------
    list of dict
        One per comparison: ``task``, ``family`` ('primary' or 'exploratory'), ``model_a``,
        ``model_b``, ``label_a``, ``label_b``, ``metric``, the keys of :func:`compare` and of
        :func:`variation`, ``p_t_holm`` and ``p_wilcoxon_holm`` (Holm over the finite p of the
        family), ``family_size`` (the number of paired t-tests Holm corrects over in that family)
        and ``significant`` (Holm-adjusted paired-t p < `ALPHA`).
    """
    out = []
    for task in tasks:
        varies = variation(r["config"] for r in runs.get(task, []))
        for a, b, which in pairs(models[task], fam, task):
            out.append({"task": task, "family": which, "model_a": a, "model_b": b, "label_a": text[task].get(a, a),
                        "label_b": text[task].get(b, b), "metric": "test_accuracy", **varies,
                        **compare(accuracy.get((task, a), {}), accuracy.get((task, b), {}))})
    for which in FAMILIES:
        members = [t for t in out if t["family"] == which]
        for key in ("p_t", "p_wilcoxon"):
            p = np.array([t[key] for t in members], dtype=np.float64)
            adjusted = np.full(p.size, np.nan)
            finite = np.isfinite(p)
            if finite.any():
                adjusted[finite] = holm(p[finite])
            for t, q in zip(members, adjusted):
                t[f"{key}_holm"] = float(q)
        size = sum(np.isfinite(t["p_t"]) for t in members)
        for t in members:
            t["family_size"] = int(size)
            t["significant"] = bool(np.isfinite(t["p_t_holm"]) and t["p_t_holm"] < ALPHA)
    return out
