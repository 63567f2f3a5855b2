"""Learning curves: train, validation and test accuracy and loss against epochs, training samples
seen and wall-clock training time, per task, for every model of a study (mean with a 95% CI band over
seeds), and the time each run needs to reach 90% of its final test accuracy.

Run as ``python -m analyses.learning_curves RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import numpy as np

from . import style
from ._panels import PCT, band, ci_title, model_legend, panel_grid, pct, stack_mean_ci, task_order
from .common import ModelLabels, finished_runs, group, main, model_order

__all__ = ["data", "build", "time_to_fraction", "REQUIRES"]

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
        (`analyses.common.ModelLabels`).
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
    return {"tasks": tasks, "curves": curves, "time_to_90": t90, "model_labels": ModelLabels.of(results_dir, runs)}


def _phase_marks(ax, curves, xkey):
    """A dotted vertical line where a model's unsupervised hidden phase ends."""
    marked = False
    for model, c in curves.items():
        h = c["hidden_epochs"]
        if 0 < h < c["epoch"].size:
            x = c[xkey][h - 1] if xkey != "epoch" else h + 0.5
            ax.axvline(x, color=style.color(model), linestyle=":", linewidth=1.2)
            marked = True
    return marked


def _figure(d, xkey, xlabel, metric, ylabel, name, title, out_dir, formats, logx=False, logy=False):
    from matplotlib.lines import Line2D
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
                    _, mu, ci = stack_mean_ci(np.log(np.maximum(m["values"], 1e-300)))
                    ax.plot(c[xkey], np.exp(mu), color=style.color(model), linestyle=ls)
                    ax.fill_between(c[xkey], np.exp(mu - ci), np.exp(mu + ci), color=style.color(model),
                                    alpha=0.2, linewidth=0)
                    lowest = min(lowest, np.nanmin(np.exp(mu)))
                    highest = max(highest, np.nanmax(np.exp(mu)))
                    continue
                band(ax, c[xkey], scale(m["mean"]), scale(m["ci"]), model, linestyle=ls,
                     clip=PCT if metric == "accuracy" else (0, None))
        marked |= _phase_marks(ax, curves, xkey)
        ax.set_title(task)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if logx:
            ax.set_xscale("log")
        if xkey == "samples_seen":
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 5k, 10k, 1M
        if logy:
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
            if np.isfinite(lowest) and highest > 0:  # wide CI bands must not squash the curves
                ax.set_ylim(0.5 * lowest, 3 * highest)
    extra = [(Line2D([], [], color="k", linestyle=ls), SPLIT_NAMES[split]) for split, ls in SPLITS]
    if marked:
        extra.append((Line2D([], [], color="k", linestyle=":"), "end of unsupervised hidden phase"))
    legend_title = (ci_title(counts.values()).replace("mean ± 95% CI", "geometric mean ± 95% CI (of the log)")
                    if logy else None)
    model_legend(fig, counts, counts, extra=extra, ncols=3, title=legend_title,
                 labels=d["model_labels"].mapping(counts, d["tasks"]))
    fig.suptitle(title)
    return style.save(fig, out_dir, name, formats)


def _time_figure(d, out_dir, formats):
    fig, axes = panel_grid(len(d["tasks"]))
    counts = {}
    for ax, task in zip(axes, d["tasks"]):
        for model, c in d["curves"][task].items():
            counts[model] = c["n"]
            m = c["test_accuracy"]
            band(ax, c["seconds"], pct(m["mean"]), pct(m["ci"]), model, clip=PCT)
            t = np.nanmean(d["time_to_90"][task][model]["seconds"])
            a = np.interp(t, c["seconds"], pct(m["mean"]))  # on the mean curve
            ax.plot([t], [a], marker="o", color=style.color(model), markersize=6,
                    markeredgecolor="k", linestyle="none")
        ax.set_xscale("log")
        ax.set_title(task)
        ax.set_xlabel("training wall-clock time (s)")
        ax.set_ylabel("test accuracy (%)")
    from matplotlib.lines import Line2D
    dot = Line2D([], [], marker="o", color="w", markerfacecolor="0.6", markeredgecolor="k", markersize=6)
    model_legend(fig, counts, counts, extra=[(dot, "90% of final accuracy reached (mean)")], ncols=2,
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
    phase_note = (" A dotted vertical line marks where a model's unsupervised hidden-layer phase "
                  "ends: before it the readout is untrained, so accuracy sits at chance and the loss "
                  "at log(number of classes)." if hidden else "")
    figs = []
    specs = [
        ("learning_epochs", "epoch", "epoch", "accuracy", "accuracy (%)", False, False,
         "Accuracy against epochs",
         "Test (solid), validation (dash-dot) and train (dashed) accuracy after each epoch, one panel "
         "per task, mean over seeds with a shaded 95% confidence band. Validation is what early "
         "stopping and tuning see; test is only recorded. Look for how fast each model rises, where "
         "it plateaus, and how far the dashed train curve sits above the others (overfitting)."),
        ("learning_samples", "samples_seen", "training samples seen", "accuracy", "accuracy (%)",
         False, False, "Accuracy against training samples seen",
         "The same accuracies against the number of training presentations (samples times passes), "
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
                            "evaluation time excluded), mean and 95% band over seeds; the dot marks "
                            "the mean time at which runs first reach 90% of their final accuracy. "
                            "Look for the cost of biology: how much longer the local learning rule "
                            "(and, where the legend names inhibition, the settling of its hidden "
                            "population) needs for the same accuracy."})
    return figs


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
