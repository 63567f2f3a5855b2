"""Learning-rule alignment: does the local update point where the task gradient points?

During training the study records, at the end of every epoch and on a fixed batch of training
inputs, the cosine between the Hebbian rule's update of the hidden weights and the backprop
gradient ``-dL/dW`` of the same weights on the same batch (`sim.models.alignment`; the gradient
goes through the readout and the settled code), and for feedback-alignment MLPs the cosine
between their hidden update and the true gradient. A cosine near 0: the local rule ignores the
task; > 0: it reduces the loss to first order. Beside each Hebbian cosine the run records a null
distribution (200 permutations of which hidden unit gets which unit's update,
`sim.models.alignment.permutation_null`): the z-score of the observed cosine against it says
whether a small cosine is more than chance pairing. Epochs are split by what learned in them:
*during hidden learning* (the hidden layer and the readout both learn: the concurrent schedule)
and *hidden frozen* (readout only: the sequential schedule's second phase). This reads the stored
History; nothing is trained.
"""

from __future__ import annotations

import os

import numpy as np

from . import style
from ._panels import ci_title, model_legend, panel_grid, stack_mean_ci, task_order
from .common import ModelLabels, finished_runs, group, main, model_order
from .stats import mean_ci
from .text import pm

__all__ = ["data", "phases", "build", "REQUIRES", "PHASES"]
# what learned in an epoch (the History's "phase") -> the name of that part of training
PHASES = {"hidden+readout": "during hidden learning", "readout": "hidden frozen"}
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
            entry = {"key": key, "epoch": np.arange(1, len(mean) + 1), "mean": mean, "ci": ci, "n": len(rows)}
            if key == "alignment" and any("alignment_z" in rec for r in runs for rec in r["history"]["records"]):
                recs = [r["history"]["records"] for r in runs if any(key in rec for rec in r["history"]["records"])]
                for name in ("alignment_z", "alignment_null_sd"):
                    _, entry[f"{name}_mean"], entry[f"{name}_ci"] = stack_mean_ci(
                        [[rec.get(name, np.nan) for rec in rr] for rr in recs])
                entry["phases"] = phases(recs)
            out.setdefault(task, {})[model] = entry
    return out


def phases(records_per_seed) -> dict:
    """Per part of training (`PHASES`), the cosine and its z-score averaged over that part's epochs
    of each seed, then mean and 95% CI over seeds.

    Parameters
    ----------
    records_per_seed : list of list of dict
        Each seed's History records (``phase``, ``alignment``, ``alignment_z``).

    Returns
    -------
    dict
        ``{part: {"cosine": (mean, ci), "z": (mean, ci), "n": seeds, "epochs": per-seed epoch
        counts}}`` for the parts with a finite cosine.
    """
    out = {}
    for phase, part in PHASES.items():
        cos, z, epochs = [], [], []
        for recs in records_per_seed:
            sel = [rec for rec in recs if rec.get("phase") == phase and np.isfinite(rec.get("alignment", np.nan))]
            if sel:
                cos.append(np.mean([rec["alignment"] for rec in sel]))
                z.append(np.nanmean([rec.get("alignment_z", np.nan) for rec in sel]))
                epochs.append(len(sel))
        if cos:
            out[part] = {"cosine": mean_ci(cos), "z": mean_ci(z), "n": len(cos), "epochs": epochs}
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
            if "alignment_null_sd_mean" in c:  # 2 SD of the unit-permutation null around its centre, 0
                sd = c["alignment_null_sd_mean"]
                ax.plot(c["epoch"][ok], 2 * sd[ok], color=style.color(model), lw=0.8, ls=":")
                ax.plot(c["epoch"][ok], -2 * sd[ok], color=style.color(model), lw=0.8, ls=":")
        ax.axhline(0, color="black", lw=0.8)
        ax.set(xlabel="epoch", ylabel="cosine(update, -gradient)", title=task, ylim=(-lim, lim))
    model_legend(fig, counts, counts, ncols=2, title=ci_title(counts.values()),
                 labels=ModelLabels.of(results_dir).mapping(counts, tasks))
    fig.suptitle("Alignment of the local update with the task gradient (same batch, same weights)")
    paths = style.save(fig, out_dir, "alignment", formats)
    _write_table(d, tasks, ModelLabels.of(results_dir), out_dir)
    return [{"name": "alignment", "paths": paths, "title": "Learning-rule alignment",
             "caption": ("Cosine between the hidden-layer update a model makes and the backprop gradient of the "
                         "same weights on the same batch, at the end of each epoch (mean ± 95% CI over seeds). "
                         "For the Hebbian network the gradient passes through its trained readout, so it is "
                         "defined once the readout has started to learn; with the sequential schedule the hidden "
                         "layer is frozen then, and the curve shows where its rule would push. Look at the "
                         "sign and size: values near 0 mean the local rule is blind to the task; positive values "
                         "mean it helps the loss to first order. Dotted lines: ± 2 SD of the null distribution "
                         "of the Hebbian cosine (200 permutations of which unit gets which unit's update); a "
                         "curve inside them is no more aligned than chance pairing. `alignment.md`: the cosine "
                         "and its z-score against that null during hidden learning (concurrent schedule) and "
                         "with the hidden layer frozen, mean ± 95% CI over seeds.")}]


def _write_table(d, tasks, names, out_dir) -> list[str]:
    """``alignment.md``: per task and Hebbian model, the cosine and its null z-score per part of
    training; [] when no run recorded a null."""
    lines = ["# Alignment with the task gradient", "",
             "Cosine of the Hebbian hidden update with -dL/dW (same batch, same weights) and its z-score "
             "against the unit-permutation null, averaged over each part's epochs per seed, then mean ± 95% "
             "CI over seeds.", "",
             "| task | model | part of training | epochs | cosine | z vs null | seeds |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    rows = 0
    for task in tasks:
        for model in model_order(d[task]):
            for part, v in d[task][model].get("phases", {}).items():
                label = names.mapping([model], [task], named=False)[model]
                lines.append(f"| {task} | `{model}`: {label} | {part} | {int(np.median(v['epochs']))} | "
                             f"{pm(*v['cosine'], digits=3, sign=True)} | {pm(*v['z'], digits=2, sign=True)} | "
                             f"{v['n']} |")
                rows += 1
    if not rows:
        return []
    path = os.path.join(out_dir, "alignment.md")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\n".join(lines) + "\n")
    return [path]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__.splitlines()[0]))
