"""Summary table: per task and model, final test accuracy (mean ± 95% CI over seeds), the
train-test gap, robustness AUCs, samples to 90% of final accuracy and training time; then paired
comparisons of test accuracy between models across seeds (paired t and Wilcoxon signed-rank,
Holm-corrected over every comparison of the study). Written as Markdown (``summary.md``) and CSV
(``summary.csv``: one row per task and model; ``summary_tests.csv``: one row per comparison),
with an overview bar chart.

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
import itertools
import os

import numpy as np

from sim.models import labels

from . import style
from ._panels import ci_title, grouped_bars, model_legend, n_features, task_order
from .common import ModelLabels, finished_runs, group, main, model_order, open_store
from .generalization import OCCLUSION_MIN_FEATURES, auc
from .learning_curves import time_to_fraction
from .stats import holm, mean_ci, paired_test

__all__ = ["data", "build", "markdown", "write_tables", "ROW_COLUMNS", "TEST_COLUMNS", "ALPHA", "REQUIRES"]

REQUIRES = "finished standard runs"
ALPHA = 0.05
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
}
ROW_COLUMNS = (["task", "model", "model_label", "dynamics", "learning", "n_seeds", "n_not_finished", "n_planned",
                "n_finished", "n_diverged", "n_failed"]
               + [f"{m}_{s}" for m in METRICS for s in ("mean", "ci95")])
TEST_COLUMNS = ("task", "model_a", "model_b", "label_a", "label_b", "metric", "n_pairs", "diff_pp_mean", "diff_pp_ci95",
                "p_t", "p_wilcoxon", "p_t_holm", "p_wilcoxon_holm", "significant")
# comparisons read "first vs second": the Hebbian network first, then the MLP, then controls
COMPARE_FIRST = ("hebbian", "mlp", "backprop")


def _auc(r, what) -> float:
    curve = r["evaluation"].get(what)
    if not curve or not curve.get("levels"):
        return float("nan")
    return 100 * auc(curve["levels"], curve["accuracy"])


def _pairs(models):
    rank = {m: i for i, m in enumerate(COMPARE_FIRST)}
    ordered = sorted(models, key=lambda m: (rank.get(m, len(rank)), model_order(models).index(m)))
    return list(itertools.combinations(ordered, 2))


def _scored_accuracy(st, runs) -> dict:
    """``{seed: test accuracy (%)}`` of finished runs, diverged runs at chance (100 / classes)."""
    out = {}
    for r in runs:
        if r.get("status") == "finished":
            out[r["config"]["seed"]] = 100 * r["evaluation"]["test_accuracy"]
        elif r.get("status") == "diverged":
            out[r["config"]["seed"]] = 100 / st.task(r).n_classes
    return out


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
        ``tests``: one dict per comparison with the keys of `TEST_COLUMNS` (``diff`` = first
        model minus second, test accuracy in percentage points; Holm over all comparisons with
        a finite p; ``significant`` from the Holm-adjusted paired-t p; ``label_a``, ``label_b``
        the two models' labels on the task); ``n_comparisons``; ``model_labels``
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
    rows, tests = [], []
    for task in tasks:
        models = model_order(m for t, m in {**planned, **stored} if t == task)
        scored = {m: _scored_accuracy(st, stored.get((task, m), [])) for m in models}
        text = names.mapping(models, task, named=False)
        for model in models:
            rs = groups.get((task, model), [])
            status = [r.get("status") for r in stored.get((task, model), [])]
            spec = names.specs.get(model, {}).get(task)
            row = {"task": task, "model": model, "model_label": text[model],
                   **(labels.axes(*spec) if spec else {"dynamics": "", "learning": ""}),
                   "n_seeds": len(scored[model]), "n_not_finished": len(status) - status.count("finished"),
                   "n_planned": max(len(planned.get((task, model), [])), len(status)),
                   "n_finished": status.count("finished"), "n_diverged": status.count("diverged"),
                   "n_failed": status.count("failed")}
            for name, get in METRICS.items():
                if name == "occlusion_auc_pct" and dims.get(task, 0) <= OCCLUSION_MIN_FEATURES:
                    row[f"{name}_mean"] = row[f"{name}_ci95"] = float("nan")  # not an occlusion
                    continue
                values = list(scored[model].values()) if name == "test_accuracy_pct" else [get(r) for r in rs]
                row[f"{name}_mean"], row[f"{name}_ci95"] = mean_ci(values)
            rows.append(row)
        for a, b in _pairs(models):
            acc = {m: scored[m] for m in (a, b)}
            seeds = sorted(set(acc[a]) & set(acc[b]))  # paired by seed index: same split, same data
            x, y = [acc[a][s] for s in seeds], [acc[b][s] for s in seeds]
            diff = np.subtract(x, y)
            ok = len(seeds) >= 2
            tests.append({"task": task, "model_a": a, "model_b": b, "label_a": text[a], "label_b": text[b],
                          "metric": "test_accuracy",
                          "n_pairs": len(seeds), **dict(zip(("diff_pp_mean", "diff_pp_ci95"), mean_ci(diff))),
                          "p_t": paired_test(x, y, "t") if ok else np.nan,
                          "p_wilcoxon": paired_test(x, y, "wilcoxon") if ok else np.nan})
    for key in ("p_t", "p_wilcoxon"):
        p = np.array([t[key] for t in tests], dtype=np.float64)
        adjusted = np.full(p.size, np.nan)
        finite = np.isfinite(p)
        if finite.any():
            adjusted[finite] = holm(p[finite])
        for t, q in zip(tests, adjusted):
            t[f"{key}_holm"] = float(q)
    for t in tests:
        t["significant"] = bool(np.isfinite(t["p_t_holm"]) and t["p_t_holm"] < ALPHA)
    return {"tasks": tasks, "rows": rows, "tests": tests, "n_comparisons": len(tests), "model_labels": names}


# ----------------------------------------------------------------------------- formatting

def _pm(mean, ci, digits=1) -> str:
    if not np.isfinite(mean):
        return "—"
    text = f"{round(mean, digits) + 0.0:,.{digits}f}"  # + 0.0: no "-0.0"
    return text + (f" ± {ci:,.{digits}f}" if np.isfinite(ci) else "")


def _p(p) -> str:
    if not np.isfinite(p):
        return "—"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def _to90(r) -> str:
    """Mean epoch, samples seen and training seconds to 90% of the final accuracy."""
    e, n, t = r["epochs_to_90_mean"], r["samples_to_90_mean"], r["seconds_to_90_mean"]
    if not np.isfinite(e):
        return "—"
    samples = f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"
    return f"{e:.1f} · {samples} · {t:.2g}"


def markdown(d) -> str:
    """The summary as Markdown: one table of models and one of comparisons per task."""
    n_max = max((r["n_seeds"] for r in d["rows"]), default=0)
    lines = [
        "Mean ± half-width of the 95% confidence interval (Student t) over seeds. Accuracies and "
        "AUCs in %, the gap (train − test accuracy) in percentage points; AUC = mean accuracy over "
        "the noise or occlusion levels (no occlusion for 2-D tasks); *to 90%* = the first epoch at "
        "which the test accuracy reaches 90% of its final value, with the training samples seen and "
        "training seconds by then "
        "(means over seeds; CIs in summary.csv); training time excludes evaluation. "
        "A diverged run is a failure of its model: it counts at chance accuracy (100 / classes) in the "
        "test accuracy and the paired tests; the other columns average finished runs only; *runs* "
        "gives finished of planned, with diverged and failed runs named.",
        "",
        f"Comparisons: test accuracy, paired by seed (same data split), difference = first − second "
        f"model in percentage points; paired t-test and Wilcoxon signed-rank test (exact), both "
        f"Holm-corrected over all {d['n_comparisons']} comparisons of the study; *significant* = "
        f"Holm-adjusted paired-t p < {ALPHA}"
        + (f" (with {n_max} seeds the exact two-sided Wilcoxon p cannot fall below "
           f"{2 / 2 ** n_max:.3g})." if n_max else "."),
        "",
    ]
    for task in d["tasks"]:
        lines += [f"### {task}", "",
                  "| model | test accuracy (%) | train − test gap (pp) | noise AUC (%) | occlusion AUC (%) "
                  "| to 90%: epoch · samples · s | training time (s) | runs |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in (r for r in d["rows"] if r["task"] == task):
            seeds = f"{r['n_finished']} of {r['n_planned']}" + "".join(
                f", {r[f'n_{k}']} {k}" for k in ("diverged", "failed") if r[f"n_{k}"])
            lines.append(
                f"| {r['model_label']} | {_pm(r['test_accuracy_pct_mean'], r['test_accuracy_pct_ci95'])} "
                f"| {_pm(r['gap_pp_mean'], r['gap_pp_ci95'])} "
                f"| {_pm(r['noise_auc_pct_mean'], r['noise_auc_pct_ci95'])} "
                f"| {_pm(r['occlusion_auc_pct_mean'], r['occlusion_auc_pct_ci95'])} "
                f"| {_to90(r)} "
                f"| {_pm(r['train_seconds_mean'], r['train_seconds_ci95'], 2)} | {seeds} |")
        tests = [t for t in d["tests"] if t["task"] == task]
        if tests:
            lines += ["", "| comparison (test accuracy) | pairs | difference (pp) | paired t p | Wilcoxon p "
                          "| Holm t p | Holm Wilcoxon p | significant (Holm p < 0.05) |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |"]
            for t in tests:
                lines.append(
                    f"| {t['label_a']} vs {t['label_b']} | {t['n_pairs']} "
                    f"| {_pm(t['diff_pp_mean'], t['diff_pp_ci95'])} | {_p(t['p_t'])} | {_p(t['p_wilcoxon'])} "
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
    """Write ``summary.md``, ``summary.csv`` and ``summary_tests.csv`` into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    files = {"summary.md": "# Summary\n\n" + markdown(d), "summary.csv": _csv(d["rows"], ROW_COLUMNS),
             "summary_tests.csv": _csv(d["tests"], TEST_COLUMNS)}
    paths = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        paths.append(path)
    return paths


def _overview(d, out_dir, formats):
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
            ax.text(x, min(m + (c if np.isfinite(c) else 0), 100) + 1.5, note, ha="center", fontsize=7.5)
    ax.set_ylim(0, 110)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title("Final test accuracy per task")
    if any(r["n_diverged"] for r in d["rows"]):
        ax.text(0.0, -0.2, "diverged runs count at chance accuracy", transform=ax.transAxes, fontsize=7.5,
                ha="left", va="top")
    model_legend(fig, models, counts, ncols=3, title=ci_title(counts.values()).replace("mean", "bar: mean"),
                 labels=d["model_labels"].mapping(models, tasks))
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
    return [{"name": "accuracy_overview", "paths": _overview(d, out_dir, formats),
             "title": "Final test accuracy",
             "caption": "Final test accuracy of every model on every task, mean over seeds with 95% "
                        "confidence intervals (the number above each bar is the mean). Look for where "
                        "the local learning rule matches backprop and where it falls short, and how "
                        "far either rises above the random-features control, which shows what an "
                        "untrained hidden layer with the same readout already achieves."}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
