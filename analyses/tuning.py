"""Tuning: the best validation score so far against the trial number, one line per model.

A study with ``[tuning]`` (``neurocompare tune``) gives every tuned model the same number of
trials on each task, each trial scored on the validation split (mean over the tuning seeds);
the chosen configuration is then refitted for every study seed and scored on test once. This
reads the store's ``tuning.json`` (`sim.study.tuned.read_progress`); nothing is trained.
"""

from __future__ import annotations

import numpy as np

from sim.study import tuned

from . import style
from ._panels import model_legend, panel_grid, pct, task_order
from .common import ModelLabels, main, model_order

__all__ = ["data", "build", "REQUIRES"]
REQUIRES = "a study with a [tuning] stage (`neurocompare tune`)"


def data(results_dir) -> dict:
    """The tuning curves of a store.

    Returns
    -------
    dict
        Empty without a tuning stage; else ``metric``, ``direction``, ``trials`` (the budget),
        ``seeds``, ``stage`` and ``tasks``: ``{task: {model: {"trial", "value", "best" (best so
        far), "at_chance" (bool: a run of the trial diverged or failed), "chosen" (trial number
        of the best)}}}`` with numpy arrays in trial order.
    """
    progress = tuned.read_progress(results_dir)
    if not progress or not progress.get("pairs"):
        return {}
    better = np.fmax.accumulate if progress["direction"] == "maximize" else np.fmin.accumulate
    out = {k: progress[k] for k in ("metric", "direction", "trials", "seeds", "stage")}
    out["tasks"] = {}
    for pair in progress["pairs"]:
        records = sorted(pair["trials"], key=lambda r: r["number"])
        if not records:
            continue
        value = np.array([r["value"] for r in records], dtype=np.float64)
        out["tasks"].setdefault(pair["task"], {})[pair["model"]] = {
            "trial": np.array([r["number"] for r in records]) + 1, "value": value, "best": better(value),
            "at_chance": np.array([r["at_chance"] > 0 for r in records]),
            "chosen": (pair.get("best") or {}).get("number")}
    return out if out["tasks"] else {}


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    d = data(results_dir)
    if not d:
        return []
    accuracy = d["metric"].endswith("accuracy")
    scale = pct if accuracy else np.asarray
    tasks = task_order(results_dir, d["tasks"])
    fig, axes = panel_grid(len(tasks), width=3.5, height=2.8)
    models = set()
    for ax, task in zip(axes, tasks):
        for model in model_order(d["tasks"][task]):
            c = d["tasks"][task][model]
            models.add(model)
            colour = style.color(model)
            ax.step(c["trial"], scale(c["best"]), where="post", color=colour)
            ax.scatter(c["trial"], scale(c["value"]), s=9, color=colour, alpha=0.35, linewidths=0)
            chance = c["at_chance"]
            if chance.any():
                ax.scatter(c["trial"][chance], scale(c["value"][chance]), s=16, marker="x", color=colour)
            if c["chosen"] is not None:
                i = int(np.flatnonzero(c["trial"] == c["chosen"] + 1)[0])
                ax.plot(c["trial"][i], scale(c["best"][i]), marker="*", markersize=9, color=colour,
                        markeredgecolor="black", markeredgewidth=0.5)
        ends = np.concatenate([scale(c["best"]) for c in d["tasks"][task].values()])
        lo, hi = float(np.nanmin(ends)), float(np.nanmax(ends))
        span = max(hi - lo, 1.0 if accuracy else 0.01)  # the curves fill the panel; far-off trials are cut
        ax.set(xlabel="trial", title=task, xlim=(0.5, d["trials"] + 0.5),
               ylabel=f"best validation {'accuracy (%)' if accuracy else 'loss'}")
        if d["direction"] == "maximize":
            ax.set_ylim(lo - span, min(hi + 0.3 * span, 100.0 + 0.1 * span) if accuracy else hi + 0.3 * span)
        else:
            ax.set_ylim(lo - 0.3 * span, hi + span)
    n = len(d["seeds"])
    model_legend(fig, models, ncols=2, labels=ModelLabels.of(results_dir).mapping(models, tasks),
                 title=f"{d['trials']} trials per model and task; a trial = mean over {n} seed{'s' if n != 1 else ''}")
    fig.suptitle("Tuning: best validation score so far")
    paths = style.save(fig, out_dir, "tuning", formats)
    what = "accuracy" if accuracy else "loss"
    return [{"name": "tuning", "paths": paths, "title": "Tuning on the validation split",
             "caption": (f"The best validation {what} so far (line) against the trial number, per model and task; "
                         f"dots are the single trials (each the mean over {n} tuning seed{'s' if n != 1 else ''}; "
                         "trials far worse than the curves lie outside the axis), "
                         "crosses trials with a diverged or failed run (counted at chance), the star the chosen "
                         "configuration, which the study then refits for every seed and scores on test once. No "
                         "confidence intervals: each trial is one mean over the tuning seeds; the y-axis is "
                         "zoomed to the curves, so chance is not drawn. Every "
                         f"model had the same budget ({d['trials']} trials, TPE sampler). Look at whether the curves "
                         "have flattened by the last trial (the budget sufficed) and at how far apart the models "
                         "end: a gap here is measured with tuned configurations, not hand-picked ones.")}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__.splitlines()[0]))
