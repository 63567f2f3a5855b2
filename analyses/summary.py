"""Summary table: per task and model, final test accuracy (mean ± 95% CI over seeds), the
train-test gap, robustness AUCs, samples to 90% of final accuracy and training time; then paired
comparisons of test accuracy between models across seeds (`analyses.comparisons`: the study's
primary family and the exploratory rest, Holm-corrected within each; paired t with its CI,
effect size and minimum detectable effect, the exact Wilcoxon p beside it, and the test-sampling
SD beside the seed-to-seed SD), and what varies across seeds on each task. Written as Markdown
(``summary.md``) and CSV (``summary.csv``: one row per task and model; ``summary_tests.csv``: one
row per comparison), with the generated findings (``findings.md``, `analyses.findings`) and an
overview bar chart.

Every planned run is accounted for: a row says how many of its planned runs finished, diverged
or failed, and a model whose runs all diverged still has its row. The rule for diverged runs:
a diverged run is a failure of its model and counts at chance accuracy (100 / number of classes)
in the test-accuracy mean and in the paired tests; the other columns (gap, AUCs, times) average
the finished runs only. Failed runs (an exception, not the model's doing) are counted, not
averaged.

Run as ``python -m analyses.summary RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import csv
import io
import math
import os

import numpy as np

from sim.models import labels

from . import comparisons, findings, latex, style
from ._panels import (
    chance_handle,
    chance_levels,
    chance_line,
    ci_title,
    grouped_bars,
    model_legend,
    n_features,
    task_order,
)
from .common import ModelLabels, finished_runs, group, main, model_order, open_store
from .generalization import OCCLUSION_MIN_FEATURES, auc
from .learning_curves import time_to_fraction
from .stats import MDE_ALPHA, POWER, mean_ci
from .text import p_value as _p
from .text import pm as _pm

__all__ = ["data", "build", "markdown", "write_tables", "ROW_COLUMNS", "TEST_COLUMNS", "ALPHA", "REQUIRES"]

REQUIRES = "finished standard runs"
ALPHA = comparisons.ALPHA
# per (task, model): name -> how to get one number per run (percent where it is an accuracy)
METRICS = {
    "test_accuracy_pct": lambda r: 100 * r["evaluation"]["test_accuracy"],
    "gap_pp": lambda r: 100 * (r["evaluation"]["train_accuracy"] - r["evaluation"]["test_accuracy"]),
    "noise_auc_pct": lambda r: _auc(r, "noise"),
    "occlusion_auc_pct": lambda r: _auc(r, "occlusion"),
    "epochs_to_90": lambda r: time_to_fraction(r["history"]["records"])["epoch"],
    "samples_to_90": lambda r: time_to_fraction(r["history"]["records"])["samples"],
    "seconds_to_90": lambda r: time_to_fraction(r["history"]["records"])["seconds"],
    "train_seconds": lambda r: r["evaluation"]["seconds"],
    # the hidden code of the training set after the last epoch (models that record it: Hebbian
    # networks and their random controls); NaN for the others
    "active_pct": lambda r: _last_code(r, "active_fraction"),
    "dead_pct": lambda r: _last_code(r, "dead_fraction"),
    # adversarial worst-case AUCs and energy per correct answer (analyses.robustness, analyses.cost)
    "adv_linf_auc_pct": lambda r: _adv_auc(r, "linf"),
    "adv_l2_auc_pct": lambda r: _adv_auc(r, "l2"),
    "energy_per_correct_nj": lambda r: (r["evaluation"].get("cost") or {}).get("energy_per_correct_event_pj",
                                                                              math.nan) / 1e3,
}
ROW_COLUMNS = (["task", "model", "model_label", "dynamics", "learning", "n_seeds", "n_not_finished", "n_planned",
                "n_finished", "n_diverged", "n_failed"]
               + [f"{m}_{s}" for m in METRICS for s in ("mean", "ci95")])
TEST_COLUMNS = ("task", "family", "model_a", "model_b", "label_a", "label_b", "metric", "varies", "unit",
                "shared_test", "n_pairs", "diff_pp_mean", "diff_pp_ci95", "diff_pp_low", "diff_pp_high", "sd_diff_pp",
                "d_z", "mde_pp", "test_sd_pp", "n_test", "p_t", "p_wilcoxon", "family_size", "p_t_holm",
                "p_wilcoxon_holm", "significant", "note")


def _last_code(r, key) -> float:
    """``key`` of the run's last History record in % (NaN when the model records no code)."""
    records = (r.get("history") or {}).get("records") or [{}]
    return 100 * records[-1].get(key, math.nan)


def _adv_auc(r, norm) -> float:
    curve = (r["evaluation"].get("adversarial") or {}).get(norm)
    return 100 * auc(curve["eps"], curve["worst"]) if curve else float("nan")


def _auc(r, what) -> float:
    curve = r["evaluation"].get(what)
    if not curve or not curve.get("levels"):
        return float("nan")
    return 100 * auc(curve["levels"], curve["accuracy"])


def data(results_dir) -> dict:
    """The summary table and the paired tests.

    Returns
    -------
    dict
        ``tasks``; ``rows``: one dict per (task, model) with the keys of `ROW_COLUMNS`
        (``model_label``: what the model is on that task, `sim.models.labels.describe` of its
        runs' parameters, with ``dynamics`` and ``learning`` its factorial axes; accuracies in %,
        the gap in percentage points, AUCs in %, times in s; ``n_seeds`` runs
        enter the test accuracy: finished ones and diverged ones at chance);
        ``tests``: one dict per comparison with the keys of `TEST_COLUMNS`
        (`analyses.comparisons.table`: ``diff`` = first model minus second, test accuracy in
        percentage points; Holm within the comparison's ``family``; ``significant`` from the
        Holm-adjusted paired-t p; ``label_a``, ``label_b`` the two models' labels on the task);
        ``n_comparisons``; ``family`` (`analyses.comparisons.family`: the primary pairs and
        tasks, and whether the study declared them); ``variation``: task -> what varies across
        its seeds (`analyses.comparisons.variation`); ``model_labels``
        (`analyses.common.ModelLabels` of the stored runs).
    """
    st = open_store(results_dir)
    runs = finished_runs(results_dir, "standard")
    groups = group(runs, "task", "model")
    everything = [r for r in st.runs(include_failed=True) if r["config"]["kind"] == "standard"]
    stored = group(everything, "task", "model")
    planned = group([{"config": c} for c in (st.manifest().get("runs") or {}).values()
                     if c.get("kind") == "standard"], "task", "model")
    dims = n_features(results_dir, everything)
    names = ModelLabels.of(results_dir, everything)
    tasks = task_order(results_dir, [t for t, _ in {**planned, **stored}])
    rows, models, accuracy, text = [], {}, {}, {}
    for task in tasks:
        models[task] = model_order(m for t, m in {**planned, **stored} if t == task)
        scored = {m: comparisons.scored(st, stored.get((task, m), [])) for m in models[task]}
        accuracy.update({(task, m): v for m, v in scored.items()})
        text[task] = names.mapping(models[task], task, named=False)
        for model in models[task]:
            rs = groups.get((task, model), [])
            status = [r.get("status") for r in stored.get((task, model), [])]
            spec = names.specs.get(model, {}).get(task)
            row = {"task": task, "model": model, "model_label": text[task][model],
                   **(labels.axes(*spec) if spec else {"dynamics": "", "learning": ""}),
                   "n_seeds": len(scored[model]), "n_not_finished": len(status) - status.count("finished"),
                   "n_planned": max(len(planned.get((task, model), [])), len(status)),
                   "n_finished": status.count("finished"), "n_diverged": status.count("diverged"),
                   "n_failed": status.count("failed")}
            for name, get in METRICS.items():
                if name == "occlusion_auc_pct" and dims.get(task, 0) <= OCCLUSION_MIN_FEATURES:
                    row[f"{name}_mean"] = row[f"{name}_ci95"] = float("nan")  # not an occlusion
                    continue
                values = [v for v, _ in scored[model].values()] if name == "test_accuracy_pct" else [get(r) for r in rs]
                row[f"{name}_mean"], row[f"{name}_ci95"] = mean_ci(values)
            rows.append(row)
    fam = comparisons.family(st, names, tasks)
    by_task = group(everything, "task")
    tests = comparisons.table(st, tasks, models, accuracy, text, {t: rs for (t,), rs in by_task.items()}, fam)
    variation = {t: comparisons.variation(r["config"] for r in by_task.get((t,), [])) for t in tasks}
    return {"tasks": tasks, "rows": rows, "tests": tests, "n_comparisons": len(tests), "family": fam,
            "variation": variation, "model_labels": names, "results_dir": str(results_dir)}


# ----------------------------------------------------------------------------- formatting

def _to90(r) -> str:
    """Mean epoch, samples seen and training seconds to 90% of the final accuracy."""
    e, n, t = r["epochs_to_90_mean"], r["samples_to_90_mean"], r["seconds_to_90_mean"]
    if not np.isfinite(e):
        return "—"
    samples = f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"
    return f"{e:.1f} · {samples} · {t:.2g}"


def _num(x, digits=1) -> str:
    return f"{round(x, digits) + 0.0:.{digits}f}" if np.isfinite(x) else "—"


def _interval(t) -> str:
    if not np.isfinite(t["diff_pp_mean"]):
        return "—"
    text = f"{round(t['diff_pp_mean'], 1) + 0.0:+.1f}"
    if np.isfinite(t["diff_pp_ci95"]):
        text += f" [{round(t['diff_pp_low'], 1) + 0.0:+.1f}, {round(t['diff_pp_high'], 1) + 0.0:+.1f}]"
    return text


def _comparison_notes(d, n_max) -> list[str]:
    """The paragraphs on the comparisons: what they are, the families, what varies across seeds."""
    fam = d["family"]
    size = {w: max((t["family_size"] for t in d["tests"] if t["family"] == w), default=0)
            for w in comparisons.FAMILIES}
    pairs = ", ".join(f"`{a}` vs `{b}`" for a, b in fam["primary"]) or "none"
    where = ("declared in the study's `[comparisons]`" if fam["declared"] else
             "the default: Hebbian vs MLP, Hebbian vs random control and MLP vs random control when the study "
             "has one model of each role, else every pair")
    shared = [t for t, v in d["variation"].items() if v["shared_test"]]
    count = {w: sum(t["family"] == w for t in d["tests"]) for w in comparisons.FAMILIES}
    rest = (f"the other {count['exploratory']} comparisons are **exploratory**, Holm-corrected within their own "
            f"family ({size['exploratory']} paired t-tests): leads, not results. " if count["exploratory"]
            else "there are no other pairs. ")
    return [
        "Comparisons: test accuracy, paired by seed index (both models of a pair see the same split and "
        "data), difference = first − second model in percentage points, mean over the pairs with its 95% "
        f"t CI. **Primary** comparisons ({where}): {pairs} on {', '.join(f'`{t}`' for t in fam['tasks'])}, "
        f"{count['primary']} comparisons Holm-corrected over their {size['primary']} paired t-tests "
        "(a comparison without a t-test is not counted); " + rest +
        f"*significant* = Holm-adjusted paired-t p < {ALPHA}; beside it the exact Wilcoxon signed-rank p, "
        "Holm-corrected the same way"
        + (f" (with {n_max} seeds it cannot fall below {2 / 2 ** n_max:.3g})." if n_max else ".")
        + " *d_z* = mean / SD of the paired differences; *MDE* = the difference a two-sided paired t-test at "
        f"α = {MDE_ALPHA} (not Holm-adjusted, which would make it larger) detects with {POWER:.0%} power: "
        "(t₀.₉₇₅,ₙ₋₁ + t₀.₈,ₙ₋₁) · SD / √n. *SD seeds / test*: the SD of the paired differences across "
        "seeds, and the binomial test-sampling SD of one seed's difference, √((pₐ(1 − pₐ) + p_b(1 − p_b)) / "
        "n_test) (root mean square over seeds; an upper bound when the two models' errors on the shared "
        "test items are positively correlated). The store keeps each run's accuracy, not its per-item "
        "predictions, so a bootstrap over test items or McNemar's test is not possible.",
        "",
        "What varies across seeds: " + "; ".join(f"`{t}`: {v['varies']}" for t, v in d["variation"].items()) + "."
        + (f" On {', '.join(f'`{t}`' for t in shared)} every seed is tested on the same items: the t CI "
           "covers initialization only, and the test-sampling SD is an error it does not contain." if shared else ""),
    ]


def markdown(d) -> str:
    """The summary as Markdown: one table of models and one of comparisons per task."""
    n_max = max((r["n_seeds"] for r in d["rows"]), default=0)
    lines = [
        "Mean ± half-width of the 95% confidence interval (Student t) over seeds. Accuracies and "
        "AUCs in %, the gap (train − test accuracy) in percentage points; AUC = mean accuracy over "
        "the noise or occlusion levels (no occlusion for 2-D tasks); *to 90%* = the first epoch at "
        "which the test accuracy reaches 90% of its final value, with the training samples seen and "
        "training seconds by then "
        "(means over seeds; CIs in summary.csv); training time excludes evaluation; *active / dead units* = "
        "the percentage of hidden units active per training input and of units never active on the training "
        "set, after the last epoch (recorded by Hebbian networks and their random controls). "
        "*Adversarial AUC*: area under the per-input worst-case accuracy over FGSM, PGD and SPSA against "
        "the radius, divided by the radius range (`analyses.robustness`); *energy per correct answer*: "
        "event-driven energy per inference / test accuracy (`analyses.cost`). "
        "A diverged run is a failure of its model: it counts at chance accuracy (100 / classes) in the "
        "test accuracy and the paired tests; the other columns average finished runs only; *runs* "
        "gives finished of planned, with diverged and failed runs named.",
        "",
        *_comparison_notes(d, n_max),
        "",
    ]
    for task in d["tasks"]:
        lines += [f"### {task}", "",
                  "| model | test accuracy (%) | train − test gap (pp) | noise AUC (%) | occlusion AUC (%) "
                  "| to 90%: epoch · samples · s | training time (s) | active / dead units (%) "
                  "| adversarial AUC L-inf / L2 (%) | energy per correct answer (nJ) | runs |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in (r for r in d["rows"] if r["task"] == task):
            seeds = f"{r['n_finished']} of {r['n_planned']}" + "".join(
                f", {r[f'n_{k}']} {k}" for k in ("diverged", "failed") if r[f"n_{k}"])
            lines.append(
                f"| {r['model_label']} | {_pm(r['test_accuracy_pct_mean'], r['test_accuracy_pct_ci95'])} "
                f"| {_pm(r['gap_pp_mean'], r['gap_pp_ci95'])} "
                f"| {_pm(r['noise_auc_pct_mean'], r['noise_auc_pct_ci95'])} "
                f"| {_pm(r['occlusion_auc_pct_mean'], r['occlusion_auc_pct_ci95'])} "
                f"| {_to90(r)} "
                f"| {_pm(r['train_seconds_mean'], r['train_seconds_ci95'], 2)} "
                f"| {_pm(r['active_pct_mean'], math.nan)} / {_pm(r['dead_pct_mean'], math.nan)} "
                f"| {_pm(r['adv_linf_auc_pct_mean'], math.nan)} / {_pm(r['adv_l2_auc_pct_mean'], math.nan)} "
                f"| {_pm(r['energy_per_correct_nj_mean'], math.nan, 2)} | {seeds} |")
        tests = [t for t in d["tests"] if t["task"] == task]
        if tests:
            lines += ["", "| comparison (test accuracy) | family | pairs | difference (pp) [95% CI] | d_z | MDE (pp) "
                          "| SD seeds / test (pp) | paired t p | Wilcoxon p | Holm t p | Holm Wilcoxon p "
                          "| significant (Holm p < 0.05) |",
                      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |"]
            for t in tests:
                lines.append(
                    f"| {t['label_a']} vs {t['label_b']} | {t['family']} | {t['n_pairs']} "
                    f"| {_interval(t)} | {_num(t['d_z'], 2)} | {_num(t['mde_pp'])} "
                    f"| {_num(t['sd_diff_pp'])} / {_num(t['test_sd_pp'])} "
                    f"| {_p(t['p_t']) if not t['note'] else t['note']} | {_p(t['p_wilcoxon'])} "
                    f"| {_p(t['p_t_holm'])} | {_p(t['p_wilcoxon_holm'])} | {'yes' if t['significant'] else 'no'} |")
        lines.append("")
    return "\n".join(lines)


def _csv(rows, columns) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(float(v)) if isinstance(v, (float, np.floating)) else v)
                         for k, v in row.items() if k in columns})
    return buf.getvalue()


def write_tables(d, out_dir) -> list[str]:
    """Write ``summary.md``, ``summary.csv``, ``summary_tests.csv``, ``summary.tex`` (a booktabs
    table, `analyses.latex.summary_table`) and ``findings.md`` (`analyses.findings.markdown`) into
    ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    files = {"summary.md": "# Summary\n\n" + markdown(d), "summary.csv": _csv(d["rows"], ROW_COLUMNS),
             "summary_tests.csv": _csv(d["tests"], TEST_COLUMNS), "summary.tex": latex.summary_table(d),
             "findings.md": "# Findings\n\n" + findings.markdown(d)}
    paths = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        paths.append(path)
    return paths


def _overview(d, out_dir, formats, chance):
    tasks = d["tasks"]
    models = model_order(r["model"] for r in d["rows"])
    fig, ax, bar_x, width = grouped_bars(tasks, models)
    counts = {}
    for j, model in enumerate(models):
        for i, task in enumerate(tasks):
            row = next((r for r in d["rows"] if r["task"] == task and r["model"] == model), None)
            if row is None:
                continue
            counts[model] = row["n_seeds"]
            x = bar_x(i, j)
            m, c = row["test_accuracy_pct_mean"], row["test_accuracy_pct_ci95"]
            ax.bar(x, m, width * 0.9, color=style.color(model))
            if np.isfinite(c):
                ax.errorbar(x, m, [[min(c, m)], [min(c, 100 - m)]], color="k", capsize=3, linewidth=1.2)
            failed = row["n_diverged"] + row["n_failed"]
            note = f"{m:.0f}" + (f"\n{failed}/{row['n_planned']} failed" if failed else "")
            ax.text(x, min(m + (c if np.isfinite(c) else 0), 100) + 1.5, note, ha="center",
                    fontsize=style.fontsize("note"))
    for i, task in enumerate(tasks):
        chance_line(ax, chance.get(task), (i - 0.45, i + 0.45))
    ax.set_ylim(0, 110)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title("Final test accuracy per task")
    if any(r["n_diverged"] for r in d["rows"]):
        ax.text(0.0, -0.2, "diverged runs count at chance accuracy", transform=ax.transAxes,
                fontsize=style.fontsize("note"), ha="left", va="top")
    model_legend(fig, models, counts, ncols=3, title=ci_title(counts.values()).replace("mean", "bar: mean"),
                 labels=d["model_labels"].mapping(models, tasks), extra=[chance_handle()])
    return style.save(fig, out_dir, "accuracy_overview", formats)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Write the summary tables and the overview figure of ``results_dir`` into ``out_dir``.

    Returns
    -------
    list of dict
        The overview figure's ``name``, ``paths``, ``title``, ``caption`` (the tables are files
        next to it: ``summary.md``, ``summary.csv``, ``summary_tests.csv``).
    """
    d = data(results_dir)
    if not d["rows"]:
        return []
    write_tables(d, out_dir)
    chance = chance_levels(results_dir, open_store(results_dir).runs(include_failed=True))
    return [{"name": "accuracy_overview", "paths": _overview(d, out_dir, formats, chance),
             "title": "Final test accuracy",
             "caption": "Final test accuracy of every model on every task, mean over seeds with 95% "
                        "confidence intervals (the number above each bar is the mean; dotted grey: "
                        "chance, 100 / classes). Look for where "
                        "the local learning rule matches backprop and where it falls short, and how "
                        "far either rises above the random-features control, which shows what an "
                        "untrained hidden layer with the same readout already achieves."}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
