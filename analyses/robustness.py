"""Adversarial robustness: accuracy against the attack radius (L-inf and L2), the per-input worst
case over FGSM, PGD and the gradient-free SPSA, its normalized area (AUC), where the gradient and
gradient-free attacks disagree, and transfer between models.

Reads the ``adversarial`` entries of standard runs and the ``transfer`` runs of a study with
``[conditions] adversarial`` (`sim.study.robustness`); never reruns a model. Writes the figures
``adversarial`` and (with transfer runs) ``adversarial_transfer``, and ``adversarial.md``.

Run as ``python -m analyses.robustness RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import os

import numpy as np

from . import style
from ._panels import PCT, band, ci_title, model_legend, pct, stack_mean_ci, task_order
from .common import ModelLabels, finished_runs, group, main, model_order
from .generalization import auc
from .stats import mean_ci

__all__ = ["data", "build", "markdown", "REQUIRES", "NORMS", "ATTACKS"]

REQUIRES = "standard runs with [conditions] adversarial = {linf = [...], l2 = [...]}"
NORMS = ("linf", "l2")
ATTACKS = ("fgsm", "pgd", "spsa", "worst")
NORM_LABEL = {"linf": "L-inf", "l2": "L2"}
DISAGREE = 0.01  # inputs broken by SPSA alone, as a fraction: above this a disagreement is listed


def data(results_dir) -> dict:
    """The numbers behind the robustness figures.

    Returns
    -------
    dict
        ``curves[norm][task][model]``: ``eps`` (fractions of the data range), ``seeds``, and per
        attack in `ATTACKS` ``{values (seeds x eps), mean, ci}``; ``spsa_only`` likewise;
        ``auc`` (per seed, of the worst case, normalized by the radius range), ``auc_mean``,
        ``auc_ci``. ``disagreements``: ``(norm, task, model, eps, pgd, worst, spsa_only)`` mean
        accuracies where SPSA alone broke more than `DISAGREE` of the inputs (a sign of gradient
        masking). ``transfer[norm][task][(source, target)]``: ``eps``, ``source_to_target``,
        ``target_to_source``, ``source_white_box``, ``target_white_box`` (each ``{mean, ci}``)
        and ``seeds``. ``tasks``, ``model_labels``.
    """
    runs = [r for r in finished_runs(results_dir, "standard") if r["evaluation"].get("adversarial")]
    by = group(runs, "task", "model")
    tasks = task_order(results_dir, [t for t, _ in by])
    curves, disagreements = {n: {} for n in NORMS}, []
    for task in tasks:
        for model in model_order(m for t, m in by if t == task):
            rs = sorted(by[(task, model)], key=lambda r: r["config"]["seed"])
            for norm in NORMS:
                cs = [r["evaluation"]["adversarial"].get(norm) for r in rs]
                cs = [c for c in cs if c]
                if not cs:
                    continue
                entry = {"eps": np.asarray(cs[0]["eps"]), "seeds": [r["config"]["seed"] for r in rs]}
                for key in (*ATTACKS, "spsa_only"):
                    values, mean, ci = stack_mean_ci([c[key] for c in cs])
                    entry[key] = {"values": values, "mean": mean, "ci": ci}
                areas = [auc(entry["eps"], row) for row in entry["worst"]["values"]]
                entry.update(auc=areas, **dict(zip(("auc_mean", "auc_ci"), mean_ci(areas))))
                curves[norm].setdefault(task, {})[model] = entry
                for i, e in enumerate(entry["eps"]):
                    if entry["spsa_only"]["mean"][i] > DISAGREE:
                        disagreements.append((norm, task, model, float(e), float(entry["pgd"]["mean"][i]),
                                              float(entry["worst"]["mean"][i]), float(entry["spsa_only"]["mean"][i])))
    transfer = {n: {} for n in NORMS}
    tr_runs = [r for r in finished_runs(results_dir, "transfer") if r["evaluation"].get("transfer")]
    for (task, _), rs in group(tr_runs, "task", "model").items():
        for norm in NORMS:
            for r in rs:
                tr = r["evaluation"]["transfer"]
                if norm not in tr:
                    continue
                slot = transfer[norm].setdefault(task, {}).setdefault((tr["source"], tr["target"]),
                                                                      {"eps": tr[norm]["eps"], "seeds": [], "rows": {}})
                slot["seeds"].append(r["config"]["seed"])
                for key in ("source_to_target", "target_to_source", "source_white_box", "target_white_box"):
                    slot["rows"].setdefault(key, []).append(tr[norm][key])
    for norm in NORMS:
        for pairs in transfer[norm].values():
            for slot in pairs.values():
                for key, rows in slot.pop("rows").items():
                    _, mean, ci = stack_mean_ci(rows)
                    slot[key] = {"mean": mean, "ci": ci}
    return {"tasks": tasks, "curves": {n: v for n, v in curves.items() if v}, "disagreements": disagreements,
            "transfer": {n: v for n, v in transfer.items() if v},
            "model_labels": ModelLabels.of(results_dir, runs + tr_runs)}


def markdown(d) -> str:
    """The AUC table, the disagreements between gradient and gradient-free attacks, and transfer."""
    lines = ["Worst case over FGSM, PGD and SPSA per input; AUC = area under accuracy vs radius (radius "
             "as a fraction of the data range) divided by the radius range, % (mean ± 95% CI over seeds).", "",
             "| norm | task | model | AUC (%) | at the largest radius: worst-case / PGD accuracy, broken by SPSA "
             "only (%) |",
             "| --- | --- | --- | --- | --- |"]
    for norm, by_task in d["curves"].items():
        for task, by_model in by_task.items():
            for model, e in by_model.items():
                ci = f" ± {100 * e['auc_ci']:.1f}" if np.isfinite(e["auc_ci"]) else ""
                last = (f"{100 * e['worst']['mean'][-1]:.1f} / {100 * e['pgd']['mean'][-1]:.1f}, "
                        f"{100 * e['spsa_only']['mean'][-1]:.1f}")
                lines.append(f"| {NORM_LABEL[norm]} | {task} | {model} | {100 * e['auc_mean']:.1f}{ci} | "
                             f"{last} (eps {e['eps'][-1]:g}) |")
    lines += ["", "Where the gradient-free attack broke inputs that FGSM and PGD did not (more than "
              f"{100 * DISAGREE:g}% of them; a sign of gradient masking):", ""]
    if d["disagreements"]:
        lines += ["| norm | task | model | eps | PGD (%) | worst case (%) | broken by SPSA only (%) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {NORM_LABEL[n]} | {t} | {m} | {e:g} | {100 * p:.1f} | {100 * s:.1f} | {100 * o:.1f} |"
                  for n, t, m, e, p, s, o in d["disagreements"]]
    else:
        lines.append("none: the gradient attacks found every adversarial input the gradient-free one found.")
    for norm, by_task in d["transfer"].items():
        lines += ["", f"Transfer ({NORM_LABEL[norm]}, PGD examples crafted on one model, accuracy % of the other):",
                  "", "| task | source -> target | eps | source -> target | target -> source | white-box "
                  "source / target |", "| --- | --- | --- | --- | --- | --- |"]
        for task, pairs in by_task.items():
            for (a, b), s in pairs.items():
                for i, e in enumerate(s["eps"]):
                    lines.append(f"| {task} | {a} -> {b} | {e:g} | {100 * s['source_to_target']['mean'][i]:.1f} | "
                                 f"{100 * s['target_to_source']['mean'][i]:.1f} | "
                                 f"{100 * s['source_white_box']['mean'][i]:.1f} / "
                                 f"{100 * s['target_white_box']['mean'][i]:.1f} |")
    return "\n".join(lines) + "\n"


def _curves_figure(d, out_dir, formats):
    norms = list(d["curves"])
    tasks = [t for t in d["tasks"] if any(t in d["curves"][n] for n in norms)]
    style.apply()
    size = style.figsize("double", height=2.4 * len(norms) + 1.2)
    fig, axes = style.plt.subplots(len(norms), len(tasks), figsize=size,
                                   squeeze=False, constrained_layout=True)
    counts = {}
    for i, norm in enumerate(norms):
        for j, task in enumerate(tasks):
            ax = axes[i][j]
            for model, e in d["curves"][norm].get(task, {}).items():
                counts[model] = len(e["seeds"])
                band(ax, e["eps"], pct(e["worst"]["mean"]), pct(e["worst"]["ci"]), model, marker="o", clip=PCT)
                ax.plot(e["eps"], pct(e["pgd"]["mean"]), linestyle=":", color=style.color(model), linewidth=1.2)
            ax.set_title(f"{task}, {NORM_LABEL[norm]}")
            ax.set_xlabel(f"radius ({NORM_LABEL[norm]}, fraction of the data range)")
            ax.set_ylabel("accuracy (%)")
            ax.set_ylim(-2, 102)
    from matplotlib.lines import Line2D
    solid, dotted = Line2D([], [], color="k"), Line2D([], [], linestyle=":", color="k")
    model_legend(fig, counts, counts, extra=[(solid, "worst case of FGSM, PGD, SPSA"), (dotted, "PGD alone")],
                 ncols=2, title=ci_title(counts.values()), labels=d["model_labels"].mapping(counts, tasks))
    fig.suptitle("Accuracy under adversarial perturbation")
    return style.save(fig, out_dir, "adversarial", formats)


def _transfer_figure(d, out_dir, formats):
    norms = list(d["transfer"])
    columns = sorted({(task, pair) for norm in norms for task, pairs in d["transfer"][norm].items() for pair in pairs},
                     key=lambda tp: (d["tasks"].index(tp[0]) if tp[0] in d["tasks"] else len(d["tasks"]), tp))
    panels = [(i, j, norm, task, pair, d["transfer"][norm][task][pair]) for i, norm in enumerate(norms)
              for j, (task, pair) in enumerate(columns) if pair in d["transfer"][norm].get(task, {})]
    style.apply()
    size = style.figsize("double", height=2.4 * len(norms) + 0.6)
    fig, axes = style.plt.subplots(len(norms), len(columns), figsize=size,
                                   squeeze=False, constrained_layout=True)
    for ax in axes.ravel():
        ax.set_visible(False)
    for i, j, norm, task, (a, b), s in panels:
        ax = axes[i][j]
        ax.set_visible(True)
        eps = np.asarray(s["eps"])
        for key, model, ls, text in (("target_white_box", b, "-", f"{b}, white box"),
                                     ("source_to_target", b, "--", f"{b}, crafted on {a}"),
                                     ("source_white_box", a, "-", f"{a}, white box"),
                                     ("target_to_source", a, "--", f"{a}, crafted on {b}")):
            band(ax, eps, pct(s[key]["mean"]), pct(s[key]["ci"]), model, linestyle=ls, marker="o",
                 label=text, clip=PCT)
        ax.set_title(f"{task}, {NORM_LABEL[norm]} ({len(s['seeds'])} seeds)")
        ax.set_xlabel("radius (fraction of the data range)")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.legend(fontsize=style.fontsize("note"), loc="lower left")
    fig.suptitle("Transfer of PGD examples between models (mean ± 95% CI)")
    return style.save(fig, out_dir, "adversarial_transfer", formats)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw the robustness figures and write ``adversarial.md``; [] without adversarial runs."""
    d = data(results_dir)
    if not d["curves"]:
        return []
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "adversarial.md"), "w", encoding="utf-8") as f:
        f.write("# Adversarial robustness\n\n" + markdown(d))
    figs = [{"name": "adversarial", "paths": _curves_figure(d, out_dir, formats),
             "title": "Adversarial robustness",
             "caption": "Test accuracy (first n test inputs) against the radius of the perturbation, "
                        "L-inf (top) and L2 (bottom), as a fraction of the training data's range; inputs "
                        "are clipped to that range. Solid: an input counts as correct only if FGSM, PGD "
                        "(multi-targeted, margin loss) and the gradient-free SPSA attack all failed on it "
                        "(mean and 95% band over seeds); dotted: PGD alone. Look for the curve that falls "
                        "slowest, and for a gap between solid and dotted lines: the gradient-free attack "
                        "finding what the gradient missed, a sign of gradient masking (listed, with the "
                        "AUCs, in adversarial.md)."}]
    if d["transfer"]:
        figs.append({"name": "adversarial_transfer", "paths": _transfer_figure(d, out_dir, formats),
                     "title": "Transfer attacks",
                     "caption": "Accuracy of each model of a pair on PGD examples crafted on itself "
                                "(solid, white box) and on the other model (dashed), mean and 95% band "
                                "over seeds; both models trained on the same split with the same seed in "
                                "one transfer run. Look for how far the dashed lines stay above the solid "
                                "ones: examples that do not transfer mean the two networks rely on "
                                "different input directions."})
    return figs


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
