"""Decision boundaries: for every 2-D task, the decision regions each model learned (its stored
prediction on a regular grid) side by side, with the training points on top.

Run as ``python -m analyses.boundaries RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import math

import numpy as np

from . import style
from ._panels import task_order
from .common import ModelLabels, finished_runs, group, main, model_order, open_store

__all__ = ["data", "build", "CLASS_COLORS", "REQUIRES"]

REQUIRES = "a 2-D task (decision grids are stored for tasks with two input features)"
# class colours (Okabe & Ito); classes are not models, so these are unrelated to style.COLORS
CLASS_COLORS = ("#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#F0E442", "#0072B2", "#D55E00")
MAX_COLUMNS = 4  # panels per row at the double-column width
MAX_POINTS = 400  # training points drawn per panel (a fixed, evenly spaced subset beyond that)


def data(results_dir) -> dict:
    """The numbers behind the decision-boundary figure (the lowest finished seed of each model).

    Returns
    -------
    dict
        ``tasks`` (2-D tasks with stored grids); ``panels[task][model]`` with ``seed``,
        ``grid_x`` (G,), ``grid_y`` (G,), ``grid_pred`` (G, G; ``grid_pred[i, j]`` is the class
        at ``(grid_x[j], grid_y[i])``), ``X_train``, ``y_train`` (the run's training split,
        reloaded), ``n_classes``, ``train_accuracy`` and ``test_accuracy`` (stored), and
        ``grid_train_agreement``: the fraction of training points whose nearest grid cell
        predicts their label (close to the train accuracy when the grid is fine);
        ``model_labels``: what each model is, from its runs' parameters (`analyses.common.ModelLabels`).
    """
    st = open_store(results_dir)
    runs = finished_runs(results_dir, "standard")
    groups = group(runs, "task", "model")
    panels = {}
    for (task, model), rs in groups.items():
        r = min(rs, key=lambda r: r["config"]["seed"])
        if "grid_pred" not in r.get("arrays", []):
            continue
        arrays = st.load_arrays(r["run_id"])
        t = st.task(r)
        gx, gy, pred = arrays["grid_x"], arrays["grid_y"], arrays["grid_pred"]
        X, y = np.asarray(t.X_train), np.asarray(t.y_train)
        j = np.abs(X[:, :1] - gx[None, :]).argmin(axis=1)
        i = np.abs(X[:, 1:2] - gy[None, :]).argmin(axis=1)
        panels.setdefault(task, {})[model] = {
            "seed": r["config"]["seed"], "grid_x": gx, "grid_y": gy, "grid_pred": pred,
            "X_train": X, "y_train": y, "n_classes": int(t.n_classes),
            "train_accuracy": r["evaluation"]["train_accuracy"],
            "test_accuracy": r["evaluation"]["test_accuracy"],
            "grid_train_agreement": float(np.mean(pred[i, j] == y))}
    tasks = task_order(results_dir, panels)
    return {"tasks": tasks, "panels": {t: {m: panels[t][m] for m in model_order(panels[t])} for t in tasks},
            "model_labels": ModelLabels.of(results_dir, runs)}


def _wrap(label: str) -> str:
    """A model label on two lines (after its model part) for a narrow panel title."""
    return label.replace(", ", "\n", 1)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw the decision regions of every 2-D task ([] if the study has none).

    Returns
    -------
    list of dict
        ``name``, ``paths``, ``title``, ``caption`` of the one figure.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    d = data(results_dir)
    if not d["tasks"]:
        return []
    models = model_order(m for t in d["tasks"] for m in d["panels"][t])
    style.apply()
    ncols = min(len(models), MAX_COLUMNS)  # more models wrap into more rows per task
    per_task = math.ceil(len(models) / ncols)
    panel = style.WIDTHS["double"] / ncols
    height = 0.9 * panel * len(d["tasks"]) * per_task + 1.0
    fig, grid = style.plt.subplots(len(d["tasks"]) * per_task, ncols, squeeze=False, sharex="row", sharey="row",
                                   figsize=style.figsize("double", height=height))
    axes = [list(grid[i * per_task:(i + 1) * per_task].ravel()) for i in range(len(d["tasks"]))]
    for row in axes:
        for ax in row[len(models):]:
            ax.set_visible(False)
    n_classes = max(p["n_classes"] for t in d["tasks"] for p in d["panels"][t].values())
    colors = [CLASS_COLORS[c % len(CLASS_COLORS)] for c in range(n_classes)]
    cmap = ListedColormap(colors)
    for row, task in zip(axes, d["tasks"]):
        names = d["model_labels"].mapping(models, task, named=False)
        for ax, model in zip(row, models):
            p = d["panels"][task].get(model)
            ax.grid(False)
            if p is None:
                ax.set_visible(False)
                continue
            gx, gy = p["grid_x"], p["grid_y"]
            extent = (gx[0] - (gx[1] - gx[0]) / 2, gx[-1] + (gx[1] - gx[0]) / 2,
                      gy[0] - (gy[1] - gy[0]) / 2, gy[-1] + (gy[1] - gy[0]) / 2)
            ax.imshow(p["grid_pred"], origin="lower", extent=extent, cmap=cmap, vmin=-0.5,
                      vmax=n_classes - 0.5, alpha=0.35, aspect="auto", interpolation="nearest")
            ax.contour(gx, gy, p["grid_pred"], levels=np.arange(n_classes) + 0.5, colors="k",
                       linewidths=0.8)
            X, y = p["X_train"], p["y_train"]
            if len(y) > MAX_POINTS:
                keep = np.linspace(0, len(y) - 1, MAX_POINTS).astype(int)
                X, y = X[keep], y[keep]
            ax.scatter(X[:, 0], X[:, 1], c=[colors[c] for c in y], s=9, edgecolors="k", linewidths=0.3)
            ax.set_title(f"{_wrap(names[model])}\ntest {100 * p['test_accuracy']:.1f}%",
                         fontsize=style.fontsize("title"), color=style.color(model))
            ax.set_xlabel("x₁")
            if ax is row[0]:
                ax.set_ylabel(f"{task}\nx₂")
    seeds = sorted({p["seed"] for t in d["tasks"] for p in d["panels"][t].values()})
    handles = [Line2D([], [], marker="o", color="w", markerfacecolor=colors[c], markeredgecolor="k",
                      markersize=6) for c in range(n_classes)]
    fig.legend(handles, [f"class {c}" for c in range(n_classes)], loc="outside lower center",
               ncols=min(n_classes, 5), frameon=False,
               title="training points; shaded: predicted class; black line: decision boundary")
    fig.suptitle(f"Decision regions (seed {', '.join(map(str, seeds))})")
    paths = style.save(fig, out_dir, "boundaries", formats)
    return [{"name": "boundaries", "paths": paths, "title": "Decision boundaries",
             "caption": "Each model's predicted class over the input plane (shaded regions, black "
                        "lines where the prediction changes) with the training points on top, one "
                        "row per 2-D task, one column per model, one seed (the panel title gives "
                        "that run's test accuracy; one run, so no confidence interval). "
                        "Look at the shape of the boundaries: whether they "
                        "follow the curvature of the data or stay nearly straight, and how the "
                        "Hebbian network's boundary differs from the random-features control, the "
                        "same network whose hidden layer never learned."}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
