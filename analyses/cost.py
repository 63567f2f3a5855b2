"""The cost of a correct answer: synaptic operations per inference (dense MACs against events
driven by non-zero presynaptic activity), weight memory, and energy per inference and per correct
answer under the per-operation model of `sim.models.cost` (Horowitz 2014, 45 nm).

Reads the ``cost`` entries of standard runs of a study with ``[conditions] cost = true``; never
reruns a model. Writes the figure ``cost`` and ``cost.md``.

Run as ``python -m analyses.cost RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import os

import numpy as np

from . import style
from ._panels import ci_title, model_legend, task_order
from .common import ModelLabels, finished_runs, group, main, model_order
from .stats import mean_ci

__all__ = ["data", "build", "markdown", "REQUIRES", "QUANTITIES"]

REQUIRES = "standard runs with [conditions] cost = true"
QUANTITIES = ("dense_macs", "events", "weight_bytes", "settle_steps", "energy_dense_pj", "energy_event_pj",
              "energy_per_correct_dense_pj", "energy_per_correct_event_pj", "test_accuracy", "active_fraction")


def data(results_dir) -> dict:
    """``{"tasks", "cost": {task: {model: {quantity: {"values", "mean", "ci"}}}}, "model_labels"}``
    for every quantity of `QUANTITIES` (``active_fraction``: of the last hidden population, NaN
    without one), over the seeds."""
    runs = [r for r in finished_runs(results_dir, "standard") if r["evaluation"].get("cost")]
    by = group(runs, "task", "model")
    tasks = task_order(results_dir, [t for t, _ in by])
    out = {}
    for task in tasks:
        for model in model_order(m for t, m in by if t == task):
            rs = sorted(by[(task, model)], key=lambda r: r["config"]["seed"])
            entry = {"seeds": [r["config"]["seed"] for r in rs]}
            for q in QUANTITIES:
                values = [_value(r, q) for r in rs]
                entry[q] = {"values": values, **dict(zip(("mean", "ci"), mean_ci(values)))}
            out.setdefault(task, {})[model] = entry
    return {"tasks": tasks, "cost": out, "model_labels": ModelLabels.of(results_dir, runs)}


def _value(run, q) -> float:
    cost = run["evaluation"]["cost"]
    if q == "test_accuracy":
        return float(run["evaluation"]["test_accuracy"])
    if q == "active_fraction":
        hidden = cost["stages"][:-1]
        return float(hidden[-1]["active_fraction"]) if hidden else float("nan")
    return float(cost.get(q, float("nan")))


def _fmt(e, scale=1.0, digits=1) -> str:
    m, c = e["mean"] * scale, e["ci"] * scale
    return f"{m:.{digits}f}" + (f" ± {c:.{digits}f}" if np.isfinite(c) else "")


def markdown(d) -> str:
    """One row per task and model: operations, memory, activity, energy (mean ± 95% CI over seeds)."""
    lines = ["Per inference, mean ± 95% CI over seeds. Energy: 32-bit float multiply 3.7 pJ + add 0.9 pJ + a "
             "32-bit weight read from an 8 KB SRAM 5 pJ per synaptic operation (Horowitz, ISSCC 2014, 45 nm); "
             "event-driven = only synapses of non-zero presynaptic activity. Energy per correct answer = "
             "energy per inference / test accuracy.", "",
             "| task | model | test acc. (%) | dense MACs | events | active fraction (%) | settle steps | "
             "weights (KB) | energy dense / event (nJ) | per correct answer dense / event (nJ) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for task, by_model in d["cost"].items():
        for model, e in by_model.items():
            lines.append(
                f"| {task} | {model} | {_fmt(e['test_accuracy'], 100)} | {e['dense_macs']['mean']:.0f} | "
                f"{_fmt(e['events'], 1, 0)} | {_fmt(e['active_fraction'], 100)} | {e['settle_steps']['mean']:.0f} | "
                f"{e['weight_bytes']['mean'] / 1024:.1f} | {e['energy_dense_pj']['mean'] / 1e3:.2f} / "
                f"{_fmt(e['energy_event_pj'], 1e-3, 2)} | {_fmt(e['energy_per_correct_dense_pj'], 1e-3, 2)} / "
                f"{_fmt(e['energy_per_correct_event_pj'], 1e-3, 2)} |")
    return "\n".join(lines) + "\n"


def _figure(d, out_dir, formats):
    tasks = d["tasks"]
    models = model_order(m for t in tasks for m in d["cost"][t])
    style.apply()
    fig, axes = style.plt.subplots(1, 2, figsize=style.figsize("double", height=3.0))
    width = 0.8 / len(models)
    counts = {}
    for ax, (dense, event, ylabel, scale) in zip(axes, (
            ("dense_macs", "events", "synaptic operations per inference", 1.0),
            ("energy_per_correct_dense_pj", "energy_per_correct_event_pj", "energy per correct answer (nJ)", 1e-3))):
        for j, model in enumerate(models):
            for i, task in enumerate(tasks):
                e = d["cost"][task].get(model)
                if e is None:
                    continue
                counts[model] = len(e["seeds"])
                x = i + (j - (len(models) - 1) / 2) * width
                ax.bar(x, scale * e[event]["mean"], width * 0.9, color=style.color(model), alpha=0.85)
                if np.isfinite(e[event]["ci"]):
                    ax.errorbar(x, scale * e[event]["mean"], scale * e[event]["ci"], color="k", capsize=3)
                ax.plot(x, scale * e[dense]["mean"], marker="_", markersize=14, color="k", markeredgewidth=2)
        ax.set_xticks(range(len(tasks)), tasks)
        ax.set_ylim(bottom=0)  # bars start at zero: their heights compare
        ax.set_ylabel(ylabel)
    axes[0].set_title("Operations: event-driven (bars) vs dense (—)")
    axes[1].set_title("Energy per correct answer")
    from matplotlib.lines import Line2D
    dash = Line2D([], [], marker="_", markersize=14, color="k", markeredgewidth=2, linestyle="none")
    model_legend(fig, models, counts, extra=[(dash, "dense (every synapse)")], ncols=2,
                 title=ci_title(counts.values()).replace("mean", "bar: event-driven, mean"),
                 labels=d["model_labels"].mapping(models, tasks))
    return style.save(fig, out_dir, "cost", formats)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw the cost figure and write ``cost.md``; [] without cost entries."""
    d = data(results_dir)
    if not d["cost"]:
        return []
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "cost.md"), "w", encoding="utf-8") as f:
        f.write("# Cost of inference\n\n" + markdown(d))
    return [{"name": "cost", "paths": _figure(d, out_dir, formats), "title": "Cost of a correct answer",
             "caption": "Left: synaptic operations per test inference, event-driven (bars: only synapses "
                        "whose presynaptic rate is non-zero; a k-WTA code is sparse) and dense (black "
                        "dash: every synapse). Right: energy per correct answer, energy per inference / "
                        "test accuracy, with 32-bit float MACs and 8 KB SRAM weight reads at Horowitz's "
                        "45 nm figures (ISSCC 2014). Log axes; mean and 95% CI over seeds. Look for the "
                        "ratio between bar and dash (what sparsity saves) and whether a cheaper network "
                        "pays for it in accuracy. Numbers: cost.md."}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
