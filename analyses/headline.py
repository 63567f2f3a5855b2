"""The study at a glance, on one double-column figure for a paper: (a) the final test accuracy
of every model on every task (mean ± 95% CI over seeds, chance marked), (b) the primary paired
comparisons (difference in percentage points with its 95% t CI, Holm-significant ones filled)
and, when the study holds a complete factorial, (c) its main effects and interaction per task
(`analyses.factorial`).

Run as ``python -m analyses.headline RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import numpy as np

from . import factorial, style, summary
from ._panels import chance_handle, chance_levels, ci_title, model_legend
from .common import finished_runs, main, model_order

__all__ = ["data", "build", "REQUIRES"]

REQUIRES = "finished standard runs"
EFFECTS = ("dynamics", "learning", "interaction")


def data(results_dir) -> dict:
    """The numbers of the glance figure.

    Returns
    -------
    dict
        ``summary``: `analyses.summary.data`; ``chance``: task -> chance accuracy in %;
        ``primary``: the primary comparisons (rows of ``summary['tests']``); ``effects``: the
        factorial's primary contrasts (rows of `analyses.factorial.data`'s ``contrasts``; empty
        without a complete factorial).
    """
    d = summary.data(results_dir)
    f = factorial.data(results_dir)
    effects = [r for r in f["contrasts"] if r["family"] == "primary" and r["name"] in EFFECTS]
    return {"summary": d, "chance": chance_levels(results_dir, finished_runs(results_dir, "standard")),
            "primary": [t for t in d["tests"] if t["family"] == "primary"], "effects": effects}


def _accuracy_panel(ax, d, chance):
    tasks, rows = d["tasks"], d["rows"]
    models = model_order(r["model"] for r in rows)
    width = 0.8 / len(models)
    for i, task in enumerate(tasks):
        for j, model in enumerate(models):
            r = next((r for r in rows if r["task"] == task and r["model"] == model), None)
            if r is None or not np.isfinite(r["test_accuracy_pct_mean"]):
                continue
            m, c = r["test_accuracy_pct_mean"], r["test_accuracy_pct_ci95"]
            x = i - 0.4 + width * (j + 0.5)
            err = [[min(c, m)], [min(c, 100 - m)]] if np.isfinite(c) else None
            ax.errorbar(x, m, err, marker="o", markersize=4, color=style.color(model), capsize=2.5, linestyle="none")
        level = chance.get(task)
        if level is not None:
            ax.plot([i - 0.45, i + 0.45], [level, level], color=style.CHANCE_COLOR, linestyle=(0, (1, 2)))
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_xlim(-0.5, len(tasks) - 0.5)
    ax.set_ylim(0, 102)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("(a) Final test accuracy", loc="left")
    return models


def _interval_panel(ax, rows, texts, title, xlabel, filled):
    y = np.arange(len(rows))[::-1]
    for k, r in zip(y, rows):
        m, low, high = r["mean"], r["low"], r["high"]
        err = [[m - low], [high - m]] if np.isfinite(low) else None
        ax.errorbar(m, k, xerr=err, marker="o", markersize=4.5, capsize=2.5, color="k", linestyle="none",
                    markerfacecolor="k" if filled(r) else "w")
    ax.axvline(0, color="0.5", linewidth=0.8)
    ax.set_yticks(y, texts)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw ``headline`` (the study at a glance) into ``out_dir``; [] without finished runs."""
    g = data(results_dir)
    d = g["summary"]
    if not d["rows"] or not any(np.isfinite(r["test_accuracy_pct_mean"]) for r in d["rows"]):
        return []
    names = d["model_labels"]
    panels = 1 + bool(g["primary"]) + bool(g["effects"])
    n_rows = len(g["primary"]) + len(g["effects"])
    style.apply()
    fig = style.plt.figure(figsize=style.figsize("double", height=2.4 + 0.22 * n_rows + 1.2))
    top, bottom = (fig.subfigures(2, 1, height_ratios=[2.2, 0.5 + 0.22 * max(len(g["primary"]), len(g["effects"]))])
                   if panels > 1 else (fig, None))  # laid out apart: long labels below do not squeeze (a)
    models = _accuracy_panel(top.add_subplot(), d, g["chance"])
    axes = list(np.atleast_1d(bottom.subplots(1, panels - 1, squeeze=False).ravel())) if bottom else []
    if g["primary"]:
        rows = [{"mean": t["diff_pp_mean"], "low": t["diff_pp_low"], "high": t["diff_pp_high"], **t}
                for t in g["primary"]]
        texts = [f"{t['task']}: {names.model_part(t['model_a'], t['task'])} − "
                 f"{names.model_part(t['model_b'], t['task'])}" for t in g["primary"]]
        _interval_panel(axes.pop(0), rows, texts, "(b) Primary comparisons",
                        "difference in test accuracy (pp)", lambda r: bool(r["significant"]))
    if g["effects"]:
        rows = [{"low": r["mean"] - r["ci95"], "high": r["mean"] + r["ci95"], **r} for r in g["effects"]]
        texts = [f"{r['task']}: {r['name']}" for r in g["effects"]]
        _interval_panel(axes.pop(0), rows, texts, f"({'c' if g['primary'] else 'b'}) Factorial effects",
                        "effect on test accuracy (pp)", lambda r: bool(r["significant"]))
    counts = {r["model"]: r["n_seeds"] for r in d["rows"]}
    from matplotlib.lines import Line2D
    extra = [chance_handle()]
    if panels > 1:
        extra += [(Line2D([], [], marker="o", color="k", linestyle="none"), "Holm p < 0.05"),
                  (Line2D([], [], marker="o", color="k", markerfacecolor="w", linestyle="none"), "not significant")]
    model_legend(fig, models, counts, extra=extra, ncols=3, title=ci_title(counts.values()),
                 labels=names.mapping(models, d["tasks"]))
    paths = style.save(fig, out_dir, "headline", formats)
    parts = ["(a) the final test accuracy of every model on every task, mean over seeds with its 95% "
             "confidence interval (Student t; diverged runs count at chance), dotted grey: chance"]
    if g["primary"]:
        parts.append("(b) the primary paired comparisons (first minus second model, percentage points, mean "
                     "over seeds with the 95% t CI; filled: Holm-adjusted paired-t p < 0.05)")
    if g["effects"]:
        parts.append("(c) the factorial's main effects of dynamics and learning and their interaction per "
                     "task (pp, 95% t CI; filled: Holm p < 0.05)")
    return [{"name": "headline", "paths": paths, "title": "The study at a glance",
             "caption": "The headline numbers on one figure: " + "; ".join(parts) + ". Look for the "
                        "intervals that exclude zero in (b): those differences between the learning rules "
                        "survive the seed-to-seed variation; the exact numbers are in the summary table."}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__.splitlines()[0]))
