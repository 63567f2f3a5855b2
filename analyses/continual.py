"""Sequential (continual) learning: each model learns the first half of the classes (e.g. digits
0-4), then the second half (5-9) without seeing the first again; how much accuracy on the first
half survives the second phase, per task and model.

Run as ``python -m analyses.continual RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import numpy as np

from . import style
from ._panels import PCT, band, ci_title, grouped_bars, model_legend, panel_grid, pct, stack_mean_ci, task_order
from .common import ModelLabels, finished_runs, group, main, model_order
from .stats import mean_ci

__all__ = ["data", "build", "REQUIRES"]

REQUIRES = "sequential runs ([conditions] sequential = {tasks, first, second})"


def data(results_dir) -> dict:
    """The numbers behind the sequential-learning figures.

    Returns
    -------
    dict
        ``tasks``; ``curves[task][model]`` with ``n``, ``seeds``, ``first`` and ``second`` (the
        class lists), ``epoch`` (T,), ``phase`` (T,, 1 or 2), ``switch`` (last epoch of phase
        1), ``progress`` (T,; epoch / phase-1 epochs in phase 1, 1 + the fraction of phase 2
        done in phase 2, so that models with different epochs line up), and for ``acc_first`` /
        ``acc_second`` (test accuracy on the first / second half's classes) a dict of ``values``
        (n, T), ``mean``, ``ci``; per seed ``end_phase1`` (accuracy on
        the first half at the last phase-1 epoch, from the curves), ``stored_phase1`` (the run's
        ``evaluation.phase1.acc_first``), ``final_first`` and ``final_second`` (after phase 2),
        ``forgetting`` (``end_phase1 - final_first``, fractions) with ``forgetting_mean``,
        ``forgetting_ci`` (95% t half-width over seeds), and ``<key>_mean`` / ``<key>_ci`` of
        ``end_phase1``, ``final_first`` and ``final_second``; ``model_labels``: what each model
        is, from its runs' parameters (`analyses.common.ModelLabels`).
    """
    runs = finished_runs(results_dir, "sequential")
    groups = group(runs, "task", "model")
    tasks = task_order(results_dir, [t for t, _ in groups])
    curves = {}
    for task in tasks:
        curves[task] = {}
        for model in model_order(m for t, m in groups if t == task):
            rs = sorted(groups[(task, model)], key=lambda r: r["config"]["seed"])
            seq = [r["sequential"] for r in rs]
            entry = {"n": len(rs), "seeds": [r["config"]["seed"] for r in rs],
                     "first": rs[0]["config"]["condition"]["first"],
                     "second": rs[0]["config"]["condition"]["second"]}
            for key in ("acc_first", "acc_second"):
                values, mean, ci = stack_mean_ci([s[key] for s in seq])
                entry[key] = {"values": values, "mean": mean, "ci": ci}
            T = entry["acc_first"]["mean"].size
            phase = np.asarray(seq[0]["phase"][:T])
            entry["epoch"] = np.arange(1, T + 1)  # phase 2 continues the count
            entry["phase"] = phase
            entry["switch"] = switch = int(np.sum(phase == 1))
            # training progress: each phase mapped to a unit interval (phases differ per model)
            i = np.arange(1, T + 1, dtype=np.float64)
            entry["progress"] = np.where(phase == 1, i / max(switch, 1),
                                         1 + (i - switch) / max(T - switch, 1))
            end1 = []
            for s in seq:
                ph = np.asarray(s["phase"])
                idx = np.flatnonzero(ph == 1)
                end1.append(float(s["acc_first"][idx[-1]]) if idx.size else np.nan)
            entry["end_phase1"] = end1
            entry["stored_phase1"] = [r["evaluation"]["phase1"]["acc_first"] for r in rs]
            entry["final_first"] = [r["evaluation"].get("acc_first", np.nan) for r in rs]
            entry["final_second"] = [r["evaluation"].get("acc_second", np.nan) for r in rs]
            forgetting = np.subtract(end1, entry["final_first"])
            entry["forgetting"] = forgetting
            entry["forgetting_mean"], entry["forgetting_ci"] = mean_ci(forgetting)
            for key in ("end_phase1", "final_first", "final_second"):
                entry[f"{key}_mean"], entry[f"{key}_ci"] = mean_ci(entry[key])
            curves[task][model] = entry
    return {"tasks": tasks, "curves": curves, "model_labels": ModelLabels.of(results_dir, runs)}


def _halves(entry) -> tuple[str, str]:
    def text(classes):
        c = sorted(classes)
        if c == list(range(c[0], c[-1] + 1)) and len(c) > 2:
            return f"{c[0]}-{c[-1]}"
        return ",".join(map(str, c))
    return text(entry["first"]), text(entry["second"])


def _epochs_text(d, task) -> str:
    """Epochs per phase ('30+30'), once if every model has the same, else per model, one a line."""
    split = {m: f"{c['switch']}+{c['epoch'].size - c['switch']}" for m, c in d["curves"][task].items()}
    if len(set(split.values())) == 1:
        return f"(epochs: {next(iter(split.values()))}, every model)"
    return "\n".join(f"{d['model_labels'].model_part(m, task)}: {s} epochs" for m, s in split.items())


def _curves_figure(d, out_dir, formats):
    from matplotlib.lines import Line2D
    fig, axes = panel_grid(len(d["tasks"]), ncols=2, width=4.6, height=3.4)
    counts = {}
    for ax, task in zip(axes, d["tasks"]):
        for model, c in d["curves"][task].items():
            counts[model] = c["n"]
            band(ax, c["progress"], pct(c["acc_first"]["mean"]), pct(c["acc_first"]["ci"]), model, clip=PCT)
            band(ax, c["progress"], pct(c["acc_second"]["mean"]), pct(c["acc_second"]["ci"]), model,
                 linestyle="--", clip=PCT, alpha=0.1)
            first, second = _halves(c)
        ax.axhline(100 / len(c["first"]), color="0.35", linewidth=1, linestyle=(0, (1, 3)))
        ax.axvline(1, color="k", linewidth=1, linestyle=":")
        ax.text(0.5, 103, f"phase 1: classes {first}", ha="center", fontsize=style.fontsize("note"))
        ax.text(1.5, 103, f"phase 2: classes {second}", ha="center", fontsize=style.fontsize("note"))
        epochs = _epochs_text(d, task)
        ax.set_xlim(0, 2)
        ax.set_xticks([0, 0.5, 1, 1.5, 2], ["0", "½", "1 | 0", "½", "1"])
        ax.set_ylim(-3, 112)
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(task, pad=4)
        ax.set_xlabel(f"fraction of each phase done\n{epochs}", fontsize=style.fontsize("label"))
        ax.set_ylabel("test accuracy (%)")
    c = next(iter(d["curves"][d["tasks"][0]].values()))
    first, second = _halves(c)
    extra = [(Line2D([], [], color="k"), f"on the first half (classes {first})"),
             (Line2D([], [], color="k", linestyle="--"), f"on the second half (classes {second})"),
             (Line2D([], [], color="0.35", linestyle=(0, (1, 3))), "chance within one half")]
    model_legend(fig, counts, counts, extra=extra, ncols=2, labels=d["model_labels"].mapping(counts, d["tasks"]))
    fig.suptitle("Sequential learning: first half, then second half")
    return style.save(fig, out_dir, "continual", formats)


def _forgetting_figure(d, out_dir, formats):
    tasks = d["tasks"]
    models = model_order(m for t in tasks for m in d["curves"][t])
    fig, ax, bar_x, width = grouped_bars(tasks, models, min_width=7.2, per_bar=0.5)
    counts = {}
    for j, model in enumerate(models):
        for i, task in enumerate(tasks):
            c = d["curves"][task].get(model)
            if c is None:
                continue
            counts[model] = c["n"]
            x = bar_x(i, j)
            before, after = 100 * np.nanmean(c["end_phase1"]), 100 * np.nanmean(c["final_first"])
            ax.bar(x, before, width * 0.9, color=style.color(model), alpha=0.3)
            ax.bar(x, after, width * 0.9, color=style.color(model), alpha=0.95)
            for level, ci in ((before, c["end_phase1_ci"]), (after, c["final_first_ci"])):
                if np.isfinite(ci):
                    ax.errorbar(x, level, 100 * ci, color="k", capsize=2.5, linewidth=1)
            top = before + 100 * np.nan_to_num(c["end_phase1_ci"])
            drop = f"{-100 * c['forgetting_mean']:+.0f}"
            if np.isfinite(c["forgetting_ci"]):
                drop += f"\n±{100 * c['forgetting_ci']:.0f}"
            ax.text(x, min(top, 100) + 1.5, drop, ha="center", fontsize=style.fontsize("note"))
    chance = {100 / len(d["curves"][t][m]["first"]) for t in tasks for m in d["curves"][t]}
    for level in chance:
        ax.axhline(level, color="0.35", linewidth=1, linestyle=(0, (1, 3)))
    ax.set_ylim(0, 118)
    ax.set_ylabel("first-half test accuracy (%)")
    ax.set_title("Forgetting of the first half")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    extra = [(Patch(color="0.5", alpha=0.3), "after phase 1"),
             (Patch(color="0.5", alpha=0.95), "after phase 2 (number: the drop ± 95% CI, points)"),
             (Line2D([], [], color="0.35", linestyle=(0, (1, 3))), "chance on the first half")]
    model_legend(fig, models, counts, extra=extra, ncols=2,
                 title=ci_title(counts.values()),
                 labels=d["model_labels"].mapping(models, tasks))
    return style.save(fig, out_dir, "forgetting", formats)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw the sequential-learning figures of ``results_dir`` into ``out_dir`` ([] if the study
    has no sequential runs).

    Returns
    -------
    list of dict
        ``name``, ``paths``, ``title``, ``caption`` per figure.
    """
    d = data(results_dir)
    if not d["tasks"]:
        return []
    return [
        {"name": "continual", "paths": _curves_figure(d, out_dir, formats),
         "title": "Sequential learning",
         "caption": "Test accuracy on the first half of the classes (solid) and on the second half "
                    "(dashed) while a model trains on the first half only (phase 1) and then on the "
                    "second half only (phase 2, continuing from the phase-1 weights, the first half "
                    "never shown again); mean and 95% band over seeds. The x axis is the fraction of "
                    "each phase done, so that models trained for different numbers of epochs line "
                    "up (the epochs per phase are under each panel). Look at the solid curves "
                    "after the dotted line: a drop to zero is catastrophic forgetting; a curve that "
                    "stays up means the old classes survive learning the new ones. The dotted "
                    "horizontal line is chance among one half's classes."},
        {"name": "forgetting", "paths": _forgetting_figure(d, out_dir, formats),
         "title": "Forgetting of the first half",
         "caption": "Test accuracy on the first half of the classes at the end of phase 1 (light "
                    "bar) and at the end of phase 2 (dark bar), mean ± 95% CI over seeds; the number "
                    "above each bar is the drop in percentage points with its 95% CI over seeds (the "
                    "CI of the per-seed drops); the dotted line is chance among the "
                    "first half's classes. Look for which learning rule keeps more of what it "
                    "learned first, and check the light bar first: a model that never rose above "
                    "chance in phase 1 had nothing to forget."},
    ]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
