"""Learning-rule alignment: does the local update point where the task gradient points?

During training the study records, at the end of every epoch and on a fixed batch of training
inputs, the cosine between the Hebbian rule's update of the hidden weights and the backprop
gradient ``-dL/dW`` of the same weights on the same batch (`sim.models.alignment`; the gradient
goes through the readout and the settled code), and for feedback-alignment MLPs the cosine
between their hidden update and the true gradient. A cosine near 0: the local rule ignores the
task; > 0: it reduces the loss to first order. This reads the stored History; nothing is trained.
"""

from __future__ import annotations

import numpy as np

from . import style
from ._panels import ci_title, model_legend, panel_grid, stack_mean_ci, task_order
from .common import ModelLabels, finished_runs, group, main, model_order

__all__ = ["data", "build", "REQUIRES"]
REQUIRES = "Hebbian or feedback-alignment runs that recorded per-epoch alignment (studies of this version)"

KEYS = {"alignment": "Hebbian update vs backprop gradient", "fa_alignment": "feedback alignment vs backprop"}


def data(results_dir) -> dict:
    """{task: {model: {"key", "epoch", "mean", "ci", "n"}}} for runs that recorded a cosine."""
    out = {}
    for (task, model), runs in group(finished_runs(results_dir), "task", "model").items():
        for key in KEYS:
            rows = [[rec.get(key, np.nan) for rec in r["history"]["records"]] for r in runs
                    if any(key in rec for rec in r["history"]["records"])]
            if not rows:
                continue
            values, mean, ci = stack_mean_ci(rows)
            if not np.isfinite(values).any():
                continue
            out.setdefault(task, {})[model] = {"key": key, "epoch": np.arange(1, len(mean) + 1), "mean": mean,
                                               "ci": ci, "n": len(rows)}
    return out


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    d = data(results_dir)
    if not d:
        return []
    tasks = task_order(results_dir, d)
    counts = {}
    fig, axes = panel_grid(len(tasks))
    # symmetric limits that show the data: cosines here are often small
    reach = max(np.nanmax(np.abs(c["mean"]) + np.nan_to_num(c["ci"])) for t in d.values() for c in t.values())
    lim = min(1.0, max(0.05, 1.3 * reach))
    for ax, task in zip(axes, tasks):
        for model in model_order(d[task]):
            c = d[task][model]
            ok = np.isfinite(c["mean"])
            counts[model] = c["n"]
            ax.plot(c["epoch"][ok], c["mean"][ok], color=style.color(model))
            lo, hi = c["mean"] - np.nan_to_num(c["ci"]), c["mean"] + np.nan_to_num(c["ci"])
            ax.fill_between(c["epoch"][ok], lo[ok], hi[ok], color=style.color(model), alpha=0.2, lw=0)
        ax.axhline(0, color="black", lw=0.8)
        ax.set(xlabel="epoch", ylabel="cosine(update, -gradient)", title=task, ylim=(-lim, lim))
    model_legend(fig, counts, counts, ncols=2, title=ci_title(counts.values()),
                 labels=ModelLabels.of(results_dir).mapping(counts, tasks))
    fig.suptitle("Alignment of the local update with the task gradient (same batch, same weights)")
    paths = style.save(fig, out_dir, "alignment", formats)
    return [{"name": "alignment", "paths": paths, "title": "Learning-rule alignment",
             "caption": ("Cosine between the hidden-layer update a model makes and the backprop gradient of the "
                         "same weights on the same batch, at the end of each epoch (mean ± 95% CI over seeds). "
                         "For the Hebbian network the gradient passes through its trained readout, so it is "
                         "defined once the readout has started to learn; with the sequential schedule the hidden "
                         "layer is frozen then, and the curve shows where its rule would push. Look at the "
                         "sign and size: values near 0 mean the local rule is blind to the task; positive values "
                         "mean it helps the loss to first order.")}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__.splitlines()[0]))
