"""Paired differences between two results stores: did changing a study change its models' test accuracy?

For every task and model label present in both stores, the runs of one kind (standard by
default) are paired by seed index over the seeds the two stores have in common, and the
differences ``d_i = acc_B,i - acc_A,i`` of test accuracy (percentage points) are summarised as
in the study's own comparisons (`analyses.comparisons.compare`, which uses `analyses.stats`): the
mean with its 95% Student-t interval, the SD, the paired-t p (`scipy.stats.ttest_rel`) and the
exact Wilcoxon p beside it. A diverged run scores chance, as everywhere (`analyses.comparisons.scored`).

Pairing by seed index pairs the same split and initialization only when the two studies share
their root seed and the task's parameters; ``same_data`` says whether every pair had the same
task (name, parameters, load seed) and model seed in both stores, ``same_params`` whether the
model's parameters were equal (then the difference is pure run-to-run nondeterminism: zero).

Command line: ``neurocompare compare DIR_A DIR_B [--kind KIND] [--json]``.
"""

from __future__ import annotations

import json
import math

import numpy as np

from sim.errors import ValidationError
from sim.study.spec import canonical_json

from .common import open_store
from .comparisons import compare as paired
from .comparisons import scored

__all__ = ["compare", "text", "KEYS"]

#: The columns of a row of :func:`compare` besides those of `analyses.comparisons.compare`.
KEYS = ("task", "model", "kind", "condition", "seeds", "acc_a", "acc_b", "same_data", "same_params")


def _runs(st, kind):
    out = {}
    for r in st.runs(include_failed=True):
        cfg = r["config"]
        if cfg["kind"] == kind:
            out.setdefault((cfg["task"], cfg["model"], canonical_json(cfg["condition"])), []).append(r)
    return out


def _key(cfg, what):
    if what == "data":
        return canonical_json([cfg["task_name"], cfg["task_params"], cfg["task_seed"], cfg["model_seed"]])
    return canonical_json([cfg["model_name"], cfg["params"], cfg["epochs"]])


def compare(dir_a, dir_b, kind: str = "standard") -> list[dict]:
    """Paired test-accuracy differences B - A per (task, model) present in both stores.

    Parameters
    ----------
    dir_a, dir_b : str or Path
        Two results stores (`neurocompare study`, `neurocompare run --out`).
    kind : str
        Run kind to compare (`sim.study.spec.KINDS`; sequential runs have no single test accuracy).

    Returns
    -------
    list of dict
        One per (task, model, condition) in both stores, in A's task order, then model label
        order: ``task``, ``model``, ``kind``, ``condition`` (e.g. ``{"train_per_class": 10}``),
        ``seeds`` (the common seed indices with a score in both),
        ``acc_a`` and ``acc_b`` (mean test accuracy in % over them), ``same_data``,
        ``same_params`` and the keys of `analyses.comparisons.compare` of ``(B, A)``: ``n_pairs``,
        ``diff_pp_mean``, ``diff_pp_ci95`` (half-width), ``diff_pp_low``, ``diff_pp_high``,
        ``sd_diff_pp``, ``d_z``, ``mde_pp``, ``p_t``, ``p_wilcoxon``, ``note`` and the rest.

    Raises
    ------
    ValidationError
        ``store`` for a directory that is not a results store; ``kind`` for a sequential kind.
    """
    if kind == "sequential":
        raise ValidationError("kind", kind, "sequential runs have two test accuracies; compare standard, "
                              "subsample, hidden_units or trial runs")
    sa, sb = open_store(dir_a), open_store(dir_b)
    a_runs, b_runs = _runs(sa, kind), _runs(sb, kind)
    order = {t: i for i, t in enumerate(sa.task_order())}
    rows = []
    for key in sorted(set(a_runs) & set(b_runs), key=lambda k: (order.get(k[0], len(order)), k)):
        task, model, condition = key
        ra, rb = a_runs[key], b_runs[key]  # one run per seed index (a condition, e.g. a size, is part of the key)
        xa, xb = scored(sa, ra), scored(sb, rb)
        seeds = sorted(set(xa) & set(xb))
        cfg_a = {r["config"]["seed"]: r["config"] for r in ra}
        cfg_b = {r["config"]["seed"]: r["config"] for r in rb}
        same = {w: all(_key(cfg_a[s], w) == _key(cfg_b[s], w) for s in seeds) for w in ("data", "params")}
        rows.append({"task": task, "model": model, "kind": kind, "condition": json.loads(condition), "seeds": seeds,
                     "acc_a": float(np.mean([xa[s][0] for s in seeds])) if seeds else math.nan,
                     "acc_b": float(np.mean([xb[s][0] for s in seeds])) if seeds else math.nan,
                     "same_data": same["data"], "same_params": same["params"], **paired(xb, xa)})
    return rows


def _num(x, fmt="+.2f"):
    return "n/a" if x is None or not math.isfinite(x) else format(x, fmt)


def text(rows, dir_a="A", dir_b="B") -> str:
    """The rows of :func:`compare` as a plain table with a header saying what B - A means."""
    lines = [f"paired differences of test accuracy, B - A in percentage points (A = {dir_a}, B = {dir_b}):",
             f"{'task':<12} {'model':<20} {'n':>3} {'A %':>7} {'B %':>7} {'B - A':>7} {'95% CI':>17} "
             f"{'p (t)':>8}  note"]
    if not rows:
        lines.append("(no task and model present in both stores)")
    for r in rows:
        ci = f"[{_num(r['diff_pp_low'])}, {_num(r['diff_pp_high'])}]"
        notes = [r["note"]] if r["note"] else []
        if not r["same_data"]:
            notes.append("different splits or seeds: pairs are not matched")
        if r["same_params"]:
            notes.append("same parameters")
        cond = ",".join(f"{k}={v}" for k, v in r["condition"].items())
        model = f"{r['model']} {cond}" if cond else r["model"]
        lines.append(f"{r['task']:<12} {model:<20} {r['n_pairs']:>3} {_num(r['acc_a'], '.2f'):>7} "
                     f"{_num(r['acc_b'], '.2f'):>7} {_num(r['diff_pp_mean']):>7} {ci:>17} "
                     f"{_num(r['p_t'], '.3g'):>8}  {'; '.join(notes)}")
    return "\n".join(lines)
