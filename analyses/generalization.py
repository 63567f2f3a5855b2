"""Generalization: the train-test gap, sample efficiency (test accuracy against training examples
per class, on nested stratified subsets shared by every model of a seed) and robustness (test
accuracy against additive input noise and against occlusion, trained on clean data), with the
area under each robustness curve.

Run as ``python -m analyses.generalization RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import numpy as np

from . import style
from ._panels import (
    PCT,
    band,
    chance_handle,
    chance_levels,
    chance_line,
    ci_title,
    grouped_bars,
    model_legend,
    n_features,
    panel_grid,
    pct,
    stack_mean_ci,
    task_order,
)
from .common import ModelLabels, finished_runs, group, main, model_order, open_store
from .stats import mean_ci

__all__ = ["data", "build", "auc", "subsets", "REQUIRES"]

REQUIRES = "finished standard runs (robustness needs noise / occlusion levels in [conditions])"
OCCLUSION_MIN_FEATURES = 2  # occlusion is shown for inputs with more features than this
ROBUSTNESS = {
    "noise": ("added Gaussian noise, std (input units)", "Test accuracy under input noise"),
    "occlusion": ("occluded fraction of each input (%)", "Test accuracy under occlusion"),
}


def auc(levels, accuracy) -> float:
    """Normalized area under an accuracy-vs-level curve: the trapezoid area divided by the level
    range, i.e. the mean accuracy over the range (same units as ``accuracy``). One level: its
    accuracy."""
    x = np.asarray(levels, dtype=np.float64)
    y = np.asarray(accuracy, dtype=np.float64)
    order = np.argsort(x)
    x, y = x[order], y[order]
    if x.size == 1 or x[-1] == x[0]:
        return float(y.mean())
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def _by_seed(runs):
    return sorted(runs, key=lambda r: r["config"]["seed"])


def data(results_dir) -> dict:
    """The numbers behind the generalization figures.

    Returns
    -------
    dict
        ``tasks``; ``gap[task][model]``: per-seed ``seeds``, ``train``, ``test`` and ``values``
        (train minus test accuracy, fractions) with ``mean``, ``ci``;
        ``efficiency[task][model]``: ``sizes`` (training examples per class), ``seeds``,
        ``values`` (seeds x sizes test accuracy), ``mean``, ``ci``, ``full`` (per-class size and
        per-seed test accuracies of the whole training set);
        ``robustness[what][task][model]`` (``what`` in noise, occlusion): ``seeds``, ``levels``, ``values``
        (seeds x levels), ``mean``, ``ci``, ``auc`` (per seed), ``auc_mean``, ``auc_ci``;
        occlusion is left out for 2-D tasks (blanking part of two coordinates is not occlusion);
        ``model_labels``: what each model is, from its runs' parameters (`analyses.common.ModelLabels`).
    """
    runs = finished_runs(results_dir, "standard")
    standard = group(runs, "task", "model")
    tasks = task_order(results_dir, [t for t, _ in standard])
    dims = n_features(results_dir, runs)
    gap, robust = {}, {w: {} for w in ROBUSTNESS}
    for task in tasks:
        gap[task] = {}
        for model in model_order(m for t, m in standard if t == task):
            rs = _by_seed(standard[(task, model)])
            train = [r["evaluation"]["train_accuracy"] for r in rs]
            test = [r["evaluation"]["test_accuracy"] for r in rs]
            values = np.subtract(train, test)
            gap[task][model] = {"seeds": [r["config"]["seed"] for r in rs], "train": train, "test": test,
                                "values": values, **dict(zip(("mean", "ci"), mean_ci(values)))}
            for what in ROBUSTNESS:
                if what == "occlusion" and dims[task] <= OCCLUSION_MIN_FEATURES:
                    continue  # blanking a fraction of two coordinates is no occlusion
                curves = [r["evaluation"].get(what) for r in rs]
                curves = [c for c in curves if c and c.get("levels")]
                if not curves:
                    continue
                levels = curves[0]["levels"]
                values, mean, ci = stack_mean_ci([c["accuracy"] for c in curves])
                areas = [auc(levels, row) for row in values]
                robust[what].setdefault(task, {})[model] = {
                    "seeds": [r["config"]["seed"] for r in rs if r["evaluation"].get(what)],
                    "levels": np.asarray(levels, dtype=np.float64), "values": values, "mean": mean,
                    "ci": ci, "auc": areas, **dict(zip(("auc_mean", "auc_ci"), mean_ci(areas)))}
    efficiency = {}
    sub = group(finished_runs(results_dir, "subsample"), "task", "model")
    for task in task_order(results_dir, [t for t, _ in sub]):
        efficiency[task] = {}
        for model in model_order(m for t, m in sub if t == task):
            rs = sub[(task, model)]
            sizes = sorted({r["config"]["condition"]["train_per_class"] for r in rs})
            table = {(r["config"]["seed"], r["config"]["condition"]["train_per_class"]):
                     r["evaluation"]["test_accuracy"] for r in rs}
            seeds = sorted(s for s in {r["config"]["seed"] for r in rs}
                           if all((s, n) in table for n in sizes))  # complete seeds only
            if not seeds:
                continue
            values, mean, ci = stack_mean_ci([[table[(s, n)] for n in sizes] for s in seeds])
            entry = {"sizes": sizes, "seeds": seeds, "values": values, "mean": mean, "ci": ci}
            full = [r for r in standard.get((task, model), []) if r["config"]["seed"] in seeds]
            if full:
                per_class = np.mean([r["evaluation"]["n_train"] for r in full]) / _n_classes(results_dir, full[0])
                accs = [r["evaluation"]["test_accuracy"] for r in _by_seed(full)]
                entry["full"] = {"per_class": float(per_class), "values": accs,
                                 **dict(zip(("mean", "ci"), mean_ci(accs)))}
            efficiency[task][model] = entry
    efficiency = {t: v for t, v in efficiency.items() if v}
    robust = {w: v for w, v in robust.items() if v}
    return {"tasks": tasks, "gap": gap, "efficiency": efficiency, "robustness": robust,
            "model_labels": ModelLabels.of(results_dir, runs + finished_runs(results_dir, "subsample"))}


def _n_classes(results_dir, run) -> int:
    """Number of classes present in the training split of a run's task (the store loads it)."""
    return int(np.unique(open_store(results_dir).task(run).y_train).size)


def subsets(results_dir) -> dict:
    """The training subsets of the sample-efficiency runs, rebuilt from the store's specs.

    The store reloads each task (data, not a model; `sim.study.store.Store.task`) and replays
    the worker's subsampling (`sim.study.store.Store.train_indices`).

    Returns
    -------
    dict
        ``{task: {seed: {"sizes": {n_per_class: sorted training indices}, "y_train": labels,
        "models": {n_per_class: [model labels]}, "n_train": {(model, n): stored n_train}}}}``.
    """
    st = open_store(results_dir)
    out = {}
    for r in finished_runs(results_dir, "subsample"):
        spec = r["config"]
        n = spec["condition"]["train_per_class"]
        entry = out.setdefault(spec["task"], {}).setdefault(spec["seed"], {"sizes": {}, "models": {}, "n_train": {}})
        entry["models"].setdefault(n, []).append(spec["model"])
        entry["n_train"][(spec["model"], n)] = r["evaluation"]["n_train"]
        if n in entry["sizes"]:
            continue
        entry["sizes"][n] = st.train_indices(r)
        entry["y_train"] = np.asarray(st.task(r).y_train)
    return out


def _gap_figure(d, out_dir, formats):
    tasks = d["tasks"]
    models = model_order(m for t in tasks for m in d["gap"][t])
    fig, ax, bar_x, width = grouped_bars(tasks, models)
    rng = np.random.default_rng(0)  # jitter of the seed dots only
    counts = {}
    for j, model in enumerate(models):
        for i, task in enumerate(tasks):
            g = d["gap"][task].get(model)
            if g is None:
                continue
            counts[model] = len(g["values"])
            x = bar_x(i, j)
            ax.bar(x, 100 * g["mean"], width * 0.9, color=style.color(model), alpha=0.85)
            if np.isfinite(g["ci"]):
                ax.errorbar(x, 100 * g["mean"], 100 * g["ci"], color="k", capsize=3, linewidth=1.2)
            ax.plot(x + rng.uniform(-0.15, 0.15, len(g["values"])) * width, 100 * g["values"], "o",
                    color="k", markersize=2.5, alpha=0.6)
    ax.axhline(0, color="k", linewidth=0.8)
    ax.set_ylabel("train − test accuracy\n(percentage points)")
    ax.set_title("Generalization gap at the end of training")
    from matplotlib.lines import Line2D
    dot = Line2D([], [], marker="o", color="w", markerfacecolor="k", markersize=4)
    model_legend(fig, models, counts, extra=[(dot, "one seed")], ncols=2,
                 title=ci_title(counts.values()).replace("mean", "bar: mean"),
                 labels=d["model_labels"].mapping(models, tasks))
    return style.save(fig, out_dir, "generalization_gap", formats)


def _efficiency_figure(d, out_dir, formats):
    from matplotlib.ticker import NullFormatter
    eff = d["efficiency"]
    fig, axes = panel_grid(len(eff))
    counts = {}
    for ax, task in zip(axes, eff):
        ticks = set()
        for j, (model, e) in enumerate(eff[task].items()):
            counts[model] = len(e["seeds"])
            band(ax, e["sizes"], pct(e["mean"]), pct(e["ci"]), model, marker="o", clip=PCT)
            if "full" in e:
                f = e["full"]
                ticks.add(round(f["per_class"]))
                m, c = 100 * f["mean"], 100 * np.nan_to_num(f["ci"])
                yerr = [[min(c, m)], [min(c, 100 - m)]]  # the interval clipped to 0-100%
                dodge = 1 + 0.06 * (j - (len(eff[task]) - 1) / 2)  # side by side on the log axis
                ax.errorbar(f["per_class"] * dodge, m, yerr, marker="s", markerfacecolor="w",
                            color=style.color(model), capsize=3, linestyle="none")
            ticks.update(e["sizes"])
        ax.set_xscale("log")
        chance_line(ax, d["chance"].get(task))
        ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(task)
        ax.set_xlabel("training examples per class")
        ax.set_ylabel("test accuracy (%)")
    from matplotlib.lines import Line2D
    full = Line2D([], [], marker="s", markerfacecolor="w", color="k", linestyle="none")
    model_legend(fig, counts, counts, extra=[(full, "whole training set (mean per class)"), chance_handle()], ncols=2,
                 labels=d["model_labels"].mapping(counts, list(eff)))
    fig.suptitle("Sample efficiency")
    return style.save(fig, out_dir, "sample_efficiency", formats)


def _robustness_figure(d, what, out_dir, formats):
    rob = d["robustness"][what]
    xlabel, title = ROBUSTNESS[what]
    scale = 100.0 if what == "occlusion" else 1.0
    fig, axes = panel_grid(len(rob))
    counts = {}
    for ax, task in zip(axes, rob):
        lines = []
        for model, r in rob[task].items():
            counts[model] = len(r["auc"])
            band(ax, scale * r["levels"], pct(r["mean"]), pct(r["ci"]), model, marker="o", clip=PCT)
            ci = f" ± {100 * r['auc_ci']:.1f}" if np.isfinite(r["auc_ci"]) else ""
            lines.append((model, f"{100 * r['auc_mean']:.1f}{ci}"))
        lines.insert(0, ("input", "AUC (%)"))  # a black header above the model lines
        for k, (model, text) in enumerate(lines):
            ax.text(0.03, 0.04 + 0.085 * (len(lines) - 1 - k), text, transform=ax.transAxes,
                    color=style.color(model), fontsize=style.fontsize("note"), fontweight="bold",
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
        chance_line(ax, d["chance"].get(task))
        ax.set_title(task)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy (%)")
    model_legend(fig, counts, counts, ncols=3, labels=d["model_labels"].mapping(counts, list(rob)),
                 extra=[chance_handle()])
    fig.suptitle(title + " (trained on clean data)")
    return style.save(fig, out_dir, f"robustness_{what}", formats)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw the generalization figures of the study at ``results_dir`` into ``out_dir``.

    Returns
    -------
    list of dict
        ``name``, ``paths``, ``title``, ``caption`` per figure; figures whose data the study did
        not produce (no subsample runs, no robustness levels) are left out.
    """
    d = data(results_dir)
    if not d["tasks"]:
        return []
    d["chance"] = chance_levels(results_dir, finished_runs(results_dir, None))
    figs = [{"name": "generalization_gap", "paths": _gap_figure(d, out_dir, formats),
             "title": "Generalization gap",
             "caption": "Final train accuracy minus final test accuracy per task and model, in "
                        "percentage points; bars are means over seeds with 95% confidence intervals, "
                        "dots single seeds. Look for which learning rule overfits: a large gap means "
                        "the training set was fitted beyond what transfers to unseen data."}]
    if d["efficiency"]:
        figs.append({"name": "sample_efficiency", "paths": _efficiency_figure(d, out_dir, formats),
                     "title": "Sample efficiency",
                     "caption": "Test accuracy against the number of training examples per class "
                                "(log axis), mean and 95% band over seeds (dotted grey: chance). The "
                                "subsets are stratified "
                                "and nested (each smaller set is inside the larger), and identical for "
                                "every model of a seed; the open square is the whole training set. "
                                "Look for which model is better with few labels: the local rule learns "
                                "its hidden layer without labels, so it may lead at the left end."})
    for what, text in (("noise", "Gaussian noise of increasing standard deviation added to the test "
                                 "inputs"),
                       ("occlusion", "an increasing fraction of each test input blanked (a square "
                                     "patch for images, a contiguous segment otherwise)")):
        if what in d["robustness"]:
            figs.append({"name": f"robustness_{what}", "paths": _robustness_figure(d, what, out_dir, formats),
                         "title": ROBUSTNESS[what][1],
                         "caption": f"Test accuracy with {text}, for models trained on clean data; mean "
                                    f"and 95% band over seeds (the same corrupted copies for every model "
                                    f"of a seed; dotted grey: chance). The AUC in each panel is the area "
                                    f"under the curve "
                                    f"divided by the range of levels, i.e. the mean accuracy over the "
                                    f"range (mean ± 95% CI over seeds). Look for the curve that falls "
                                    f"slowest: the more robust representation."
                                    + (" The 2-D tasks are left out: blanking a fraction of two "
                                       "coordinates is not an occlusion." if what == "occlusion" else "")})
    return figs


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
