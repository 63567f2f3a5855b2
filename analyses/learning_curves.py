"""Learning curves: train, validation and test accuracy and loss against epochs, training samples
seen and wall-clock training time, per task, for every model of a study (mean with a 95% CI band over
seeds), and the time each run needs to reach 90% of its final test accuracy.

Run as ``python -m analyses.learning_curves RESULTS_DIR [--out DIR] [--format png,pdf]``.
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
    model_legend,
    panel_grid,
    pct,
    stack_mean_ci,
    task_order,
)
from .common import ModelLabels, finished_runs, group, main, model_order

__all__ = ["data", "build", "time_to_fraction", "mask_hidden_phase", "REQUIRES"]

REQUIRES = "finished standard runs"
METRICS = ("train_accuracy", "val_accuracy", "test_accuracy", "train_loss", "val_loss", "test_loss")
SPLITS = (("test", "-"), ("val", "-."), ("train", "--"))  # split, line style
SPLIT_NAMES = {"test": "test", "val": "validation", "train": "train"}


def time_to_fraction(records, fraction: float = 0.9) -> dict:
    """When a run first reaches ``fraction`` of its final test accuracy.

    Parameters
    ----------
    records : list of dict
        History records (``epoch``, ``samples_seen``, ``seconds``, ``test_accuracy``).
    fraction : float
        Target as a fraction of the final (last-epoch) test accuracy.

    Returns
    -------
    dict
        ``epoch`` (1-based), ``samples`` (training presentations so far) and ``seconds``
        (cumulative training wall-clock time, s) of the first epoch whose test accuracy is
        ``>= fraction * final``, and ``final``. NaN when there are no records.
    """
    acc = np.array([r.get("test_accuracy", np.nan) for r in records], dtype=np.float64)
    if acc.size == 0 or not np.isfinite(acc[-1]):
        return {"epoch": np.nan, "samples": np.nan, "seconds": np.nan, "final": np.nan}
    final = acc[-1]
    i = int(np.flatnonzero(acc >= fraction * final - 1e-12)[0])  # the last epoch always qualifies
    rec = records[i]
    return {"epoch": int(rec["epoch"]), "samples": float(rec.get("samples_seen", np.nan)),
            "seconds": float(rec.get("seconds", np.nan)), "final": float(final)}


def data(results_dir) -> dict:
    """The numbers behind the learning-curve figures.

    Returns
    -------
    dict
        ``tasks`` (ordered labels); ``curves[task][model]`` with ``n`` (seeds), ``seeds``,
        ``epoch`` (T,), ``samples_seen`` and ``seconds`` (T,, means over seeds), for each of
        ``train_/val_/test_`` ``accuracy`` and ``loss`` (NaN where a store predates the validation
        split) a dict of
        ``values`` (n, T), ``mean`` and ``ci`` (T,), and ``hidden_epochs`` (epochs of an
        unsupervised hidden-layer phase before the readout trains, 0 if none);
        ``time_to_90[task][model]`` with per-seed lists ``epoch``, ``samples``, ``seconds``,
        ``final``; ``model_labels``: what each model is, from its runs' parameters
        (`analyses.common.ModelLabels`); ``chance``: task -> chance accuracy in % (100 / classes).
    """
    runs = finished_runs(results_dir, "standard")
    groups = group(runs, "task", "model")
    tasks = task_order(results_dir, [t for t, _ in groups])
    curves, t90 = {}, {}
    for task in tasks:
        curves[task], t90[task] = {}, {}
        for model in model_order(m for t, m in groups if t == task):
            rs = sorted(groups[(task, model)], key=lambda r: r["config"]["seed"])
            recs = [r["history"]["records"] for r in rs]
            entry = {"n": len(rs), "seeds": [r["config"]["seed"] for r in rs]}
            for key in METRICS:
                values, mean, ci = stack_mean_ci([[rec.get(key, np.nan) for rec in rr] for rr in recs])
                entry[key] = {"values": values, "mean": mean, "ci": ci}
            T = entry["test_accuracy"]["mean"].size
            entry["epoch"] = np.array([rec["epoch"] for rec in recs[0][:T]])
            for key in ("samples_seen", "seconds"):
                entry[key] = stack_mean_ci([[rec.get(key, np.nan) for rec in rr] for rr in recs])[1]
            entry["hidden_epochs"] = sum(rec.get("phase") == "hidden" for rec in recs[0][:T])
            curves[task][model] = entry
            times = [time_to_fraction(rr) for rr in recs]
            t90[task][model] = {k: [t[k] for t in times] for k in ("epoch", "samples", "seconds", "final")}
    return {"tasks": tasks, "curves": curves, "time_to_90": t90, "model_labels": ModelLabels.of(results_dir, runs),
            "chance": chance_levels(results_dir, runs)}


def _hidden_phase(ax, curves, xkey) -> bool:
    """Shade the unsupervised hidden-layer phase of each model that has one (its readout is
    untrained, so its accuracy sits at chance) as a band in the model's colour, labelled inside;
    True if any was drawn."""
    drawn = False
    for model, c in curves.items():
        h = c["hidden_epochs"]
        if not 0 < h < c["epoch"].size:
            continue
        x = np.asarray(c[xkey], dtype=np.float64)
        if xkey == "epoch":
            start, end = 0.5, h + 0.5
        else:  # from the start of training (the first record on a log axis) to between the phases
            start, end = (x[0] if ax.get_xscale() == "log" else 0.0), 0.5 * (x[h - 1] + x[h])
        ax.axvspan(start, end, color=style.color(model), alpha=0.12, linewidth=0, zorder=0)
        ax.text(np.sqrt(start * end) if ax.get_xscale() == "log" else 0.5 * (start + end), 0.5,
                "hidden layer learns,\nreadout at chance", transform=ax.get_xaxis_transform(), rotation=90,
                ha="center", va="center", fontsize=style.fontsize("note"), color=style.color(model),
                bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.0})
        drawn = True
    return drawn


def mask_hidden_phase(c, values):
    """``values`` (per epoch, last axis) with the first ``c['hidden_epochs']`` epochs (the
    unsupervised hidden phase of curve ``c``) masked as NaN: the readout is untrained there, and
    a shaded band says so instead of a line at chance."""
    out = np.array(values, dtype=np.float64)
    out[..., :c["hidden_epochs"]] = np.nan
    return out


def _figure(d, xkey, xlabel, metric, ylabel, name, title, out_dir, formats, logx=False, logy=False):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import EngFormatter, NullFormatter
    fig, axes = panel_grid(len(d["tasks"]))
    counts, marked = {}, False
    for ax, task in zip(axes, d["tasks"]):
        curves = d["curves"][task]
        lowest, highest = np.inf, 0.0
        for model, c in curves.items():
            counts[model] = c["n"]
            scale = pct if metric == "accuracy" else np.asarray
            for split, ls in SPLITS:
                m = c[f"{split}_{metric}"]
                if logy:  # geometric mean, CI of the log: a band that stays positive
                    _, mu, ci = stack_mean_ci(mask_hidden_phase(c, np.log(np.maximum(m["values"], 1e-300))))
                    ax.plot(c[xkey], np.exp(mu), color=style.color(model), linestyle=ls)
                    ax.fill_between(c[xkey], np.exp(mu - ci), np.exp(mu + ci), color=style.color(model),
                                    alpha=0.2, linewidth=0)
                    if np.any(np.isfinite(mu)):
                        lowest = min(lowest, np.nanmin(np.exp(mu)))
                        highest = max(highest, np.nanmax(np.exp(mu)))
                    continue
                band(ax, c[xkey], scale(mask_hidden_phase(c, m["mean"])), scale(mask_hidden_phase(c, m["ci"])),
                     model, linestyle=ls, clip=PCT if metric == "accuracy" else (0, None))
        if metric == "accuracy":
            chance_line(ax, d["chance"].get(task))
        if logx:
            ax.set_xscale("log")
        marked |= _hidden_phase(ax, curves, xkey)
        ax.set_title(task)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if xkey == "samples_seen":
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 5k, 10k, 1M
        if logy:
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
            if np.isfinite(lowest) and highest > 0:  # wide CI bands must not squash the curves
                ax.set_ylim(0.5 * lowest, 3 * highest)
    extra = [(Line2D([], [], color="k", linestyle=ls), SPLIT_NAMES[split]) for split, ls in SPLITS]
    if metric == "accuracy":
        extra.append(chance_handle())
    if marked:
        extra.append((Patch(color="0.5", alpha=0.25, linewidth=0), "unsupervised hidden phase"))
    legend_title = (ci_title(counts.values()).replace("mean ± 95% CI", "geometric mean ± 95% CI (of the log)")
                    if logy else None)
    model_legend(fig, counts, counts, extra=extra, ncols=3, title=legend_title,
                 labels=d["model_labels"].mapping(counts, d["tasks"]))
    fig.suptitle(title)
    return style.save(fig, out_dir, name, formats)


def _time_figure(d, out_dir, formats):
    fig, axes = panel_grid(len(d["tasks"]))
    counts, marked = {}, False
    for ax, task in zip(axes, d["tasks"]):
        for model, c in d["curves"][task].items():
            counts[model] = c["n"]
            m = c["test_accuracy"]
            band(ax, c["seconds"], pct(mask_hidden_phase(c, m["mean"])), pct(mask_hidden_phase(c, m["ci"])), model,
                 clip=PCT)
            t = np.nanmean(d["time_to_90"][task][model]["seconds"])
            a = np.interp(t, c["seconds"], pct(m["mean"]))  # on the mean curve
            ax.plot([t], [a], marker="o", color=style.color(model), markersize=6,
                    markeredgecolor="k", linestyle="none")
        ax.set_xscale("log")
        chance_line(ax, d["chance"].get(task))
        marked |= _hidden_phase(ax, d["curves"][task], "seconds")
        ax.set_title(task)
        ax.set_xlabel("training wall-clock time (s)")
        ax.set_ylabel("test accuracy (%)")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    dot = Line2D([], [], marker="o", color="w", markerfacecolor="0.6", markeredgecolor="k", markersize=6)
    extra = [(dot, "90% of final accuracy reached (mean, no CI)"), chance_handle()]
    if marked:
        extra.append((Patch(color="0.5", alpha=0.25, linewidth=0), "unsupervised hidden phase"))
    model_legend(fig, counts, counts, extra=extra, ncols=2,
                 labels=d["model_labels"].mapping(counts, d["tasks"]))
    fig.suptitle("Test accuracy against training time")
    return style.save(fig, out_dir, "learning_time", formats)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw the learning-curve figures of the study at ``results_dir`` into ``out_dir``.

    Returns
    -------
    list of dict
        One entry per figure: ``name``, ``paths``, ``title``, ``caption`` (empty if the store has
        no finished standard run).
    """
    d = data(results_dir)
    if not d["tasks"]:
        return []
    hidden = any(c["hidden_epochs"] for t in d["tasks"] for c in d["curves"][t].values())
    phase_note = (" A shaded band (in the model's colour) covers a model's unsupervised hidden-layer phase: "
                  "its readout is not trained yet, so its accuracy would sit at chance and its loss at "
                  "log(number of classes); the curve starts when the readout trains." if hidden else "")
    figs = []
    specs = [
        ("learning_epochs", "epoch", "epoch", "accuracy", "accuracy (%)", False, False,
         "Accuracy against epochs",
         "Test (solid), validation (dash-dot) and train (dashed) accuracy after each epoch, one panel "
         "per task, mean over seeds with a shaded 95% confidence band (Student t; every curve carries "
         "one); the dotted grey line is chance (100 / classes). Validation is what early "
         "stopping and tuning see; test is only recorded. Look for how fast each model rises, where "
         "it plateaus, and how far the dashed train curve sits above the others (overfitting)."),
        ("learning_samples", "samples_seen", "training samples seen", "accuracy", "accuracy (%)",
         False, False, "Accuracy against training samples seen",
         "The same accuracies (mean and 95% band over seeds; dotted grey: chance) against the number of "
         "training presentations (samples times passes), "
         "which counts the Hebbian hidden-layer passes too. Look for which model extracts more "
         "accuracy per sample presented: the one whose test curve is higher at the same x."),
        ("learning_loss", "epoch", "epoch", "loss", "loss", False, True,
         "Loss against epochs",
         "Test (solid), validation (dash-dot) and train (dashed) loss per epoch (log scale; "
         "cross-entropy in nats for softmax outputs): "
         "geometric mean over seeds with the 95% band of the log loss. "
         "Look for a test loss that turns upward while the train loss keeps falling: overfitting."),
    ]
    for name, xkey, xlabel, metric, ylabel, logx, logy, title, caption in specs:
        paths = _figure(d, xkey, xlabel, metric, ylabel, name, title, out_dir, formats, logx, logy)
        figs.append({"name": name, "paths": paths, "title": title, "caption": caption + phase_note})
    figs.append({"name": "learning_time", "paths": _time_figure(d, out_dir, formats),
                 "title": "Test accuracy against training time",
                 "caption": "Test accuracy against cumulative training wall-clock seconds (log axis; "
                            "evaluation time excluded), mean and 95% band over seeds (dotted grey: "
                            "chance); the dot marks the mean time at which runs first reach 90% of "
                            "their final accuracy (a mean without a CI; the CIs are in summary.csv). "
                            "Look for the cost of biology: how much longer the local learning rule "
                            "(and, where the legend names inhibition, the settling of its hidden "
                            "population) needs for the same accuracy." + phase_note})
    return figs


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
