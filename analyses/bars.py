"""Foldiak's bars: which bars are on, decoded from each model's hidden code, from the random
control's code and from the raw pixels, and how many bars the hidden units have learned.

The models of a bars study are trained on the count label (how many bars are on), a secondary
task; what this analysis reports is the which-bars probe each run stores in its evaluation
(`sim.study.probes`): one logistic regression per bar on the representation, fitted on the
training split, C chosen on the validation split, scored on the test split by exact-match
accuracy (all bars right) and balanced per-bar accuracy; and the bars-learned score of the
first-layer weights (bars matched by distinct units with Pearson r >= 0.8). It reads the store;
nothing is trained. Writes ``bars.png`` / ``.pdf``, ``bars.md`` and ``bars.csv``.

Run as ``python -m analyses.bars RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from sim.study.probes import MATCH_R

from . import style
from ._panels import ci_title, model_legend, task_order
from .common import ModelLabels, finished_runs, group, main, model_order
from .stats import mean_ci
from .text import pm

__all__ = ["data", "build", "markdown", "REQUIRES", "PIXELS"]

REQUIRES = "bars runs that stored the which-bars probe (evaluation.bars, studies of this version)"
PIXELS = "pixels"  # the key of the raw-pixel probe beside the models


def _stat(values) -> dict:
    mean, ci = mean_ci(values)
    return {"values": [float(v) for v in values], "mean": mean, "ci": ci, "n": int(np.isfinite(values).sum())}


def data(results_dir) -> dict:
    """The probe's numbers per bars task.

    Returns
    -------
    dict
        ``tasks`` (task labels with probe results); ``probe[task][model]`` for every model with a
        hidden code and for ``"pixels"`` (the raw-pixel probe: the same for every model of a seed,
        taken once per seed): ``seeds``, ``exact_match`` and ``balanced`` (each ``values`` per seed,
        fractions, ``mean``, ``ci`` (95% t half-width), ``n``), ``C`` (chosen per seed);
        ``learned[task][model]``: ``seeds``, ``values`` (bars learned per seed), ``n_bars``,
        ``min``; ``model_labels``.
    """
    runs = [r for r in finished_runs(results_dir) if (r.get("evaluation") or {}).get("bars")]
    groups = group(runs, "task", "model")
    tasks = task_order(results_dir, [t for t, _ in groups])
    probe, learned = {}, {}
    for task in tasks:
        probe[task], learned[task], pixels = {}, {}, {}
        for model in model_order(m for t, m in groups if t == task):
            rs = sorted(groups[(task, model)], key=lambda r: r["config"]["seed"])
            for r in rs:
                pixels.setdefault(r["config"]["seed"], r["evaluation"]["bars"]["pixels"])
            coded = [r for r in rs if "code" in r["evaluation"]["bars"]]
            if coded:
                codes = [r["evaluation"]["bars"]["code"] for r in coded]
                probe[task][model] = {"seeds": [r["config"]["seed"] for r in coded],
                                      "exact_match": _stat([c["exact_match"] for c in codes]),
                                      "balanced": _stat([c["balanced"] for c in codes]),
                                      "C": [c["C"] for c in codes]}
            scored = [r for r in rs if "learned" in r["evaluation"]["bars"]]
            if scored:
                values = [int(r["evaluation"]["bars"]["learned"]["learned"]) for r in scored]
                learned[task][model] = {"seeds": [r["config"]["seed"] for r in scored], "values": values,
                                        "n_bars": int(scored[0]["evaluation"]["bars"]["learned"]["n_bars"]),
                                        "min": min(values)}
        seeds = sorted(pixels)
        probe[task][PIXELS] = {"seeds": seeds,
                               "exact_match": _stat([pixels[s]["exact_match"] for s in seeds]),
                               "balanced": _stat([pixels[s]["balanced"] for s in seeds]),
                               "C": [pixels[s]["C"] for s in seeds]}
    return {"tasks": tasks, "probe": probe, "learned": learned,
            "model_labels": ModelLabels.of(results_dir, runs)}


def _name(d, model, task) -> str:
    if model == PIXELS:
        return "raw pixels"
    return d["model_labels"].mapping([model], [task], named=False)[model]


def _rows(d) -> list[dict]:
    rows = []
    for task in d["tasks"]:
        for model, p in d["probe"][task].items():
            lr = d["learned"][task].get(model)
            rows.append({"task": task, "model": model, "label": _name(d, model, task),
                         "n_seeds": p["exact_match"]["n"],
                         "exact_match_pct_mean": 100 * p["exact_match"]["mean"],
                         "exact_match_pct_ci95": 100 * p["exact_match"]["ci"],
                         "balanced_pct_mean": 100 * p["balanced"]["mean"],
                         "balanced_pct_ci95": 100 * p["balanced"]["ci"],
                         "bars_learned_min": lr["min"] if lr else "",
                         "bars_learned_per_seed": " ".join(map(str, lr["values"])) if lr else "",
                         "n_bars": lr["n_bars"] if lr else ""})
    return rows


def markdown(d) -> str:
    """The probe table per task (Markdown, no title)."""
    lines = []
    for task in d["tasks"]:
        lines += [f"### {task}", "",
                  "| representation | exact match (%) | balanced per bar (%) | bars learned (r >= "
                  f"{MATCH_R}, distinct units), per seed |", "| --- | --- | --- | --- |"]
        for row in (r for r in _rows(d) if r["task"] == task):
            per_seed = (f"{row['bars_learned_per_seed']} (min {row['bars_learned_min']} of {row['n_bars']})"
                        if row["bars_learned_per_seed"] else "—")
            lines.append(f"| {row['label']} | {pm(row['exact_match_pct_mean'], row['exact_match_pct_ci95'])} | "
                         f"{pm(row['balanced_pct_mean'], row['balanced_pct_ci95'])} | {per_seed} |")
        lines.append("")
    return "\n".join(lines)


def _write_tables(d, out_dir) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    rows = _rows(d)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    paths = []
    for name, text in (("bars.md", "# Bars: which bars are on\n\n" + markdown(d)), ("bars.csv", buf.getvalue())):
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        paths.append(path)
    return paths


def _figure(d, out_dir, formats):
    style.apply()
    tasks = d["tasks"]
    fig, axes = style.plt.subplots(len(tasks), 2, figsize=(9.0, 3.4 * len(tasks)), squeeze=False)
    counts = {}
    for (ax, ax2), task in zip(axes, tasks):
        keys = [m for m in d["probe"][task] if m != PIXELS] + [PIXELS]
        for i, key in enumerate(keys):
            s = d["probe"][task][key]["exact_match"]
            colour = "white" if key == PIXELS else style.color(key)
            ax.bar(i, 100 * s["mean"], 0.7, color=colour, edgecolor="k" if key == PIXELS else colour)
            if np.isfinite(s["ci"]):
                ax.errorbar(i, 100 * s["mean"], 100 * s["ci"], color="k", capsize=3, linewidth=1.2)
            ax.text(i, min(100 * (s["mean"] + np.nan_to_num(s["ci"])), 100) + 1.5, f"{100 * s['mean']:.1f}",
                    ha="center", fontsize=style.fontsize("note"))
            if key != PIXELS:
                counts[key] = s["n"]
        ax.set_xticks(range(len(keys)), [("raw\npixels" if k == PIXELS else k) for k in keys])
        ax.set(ylim=(0, 110), ylabel="exact match on test (%)", title=f"{task}: which bars are on")
        for j, model in enumerate(m for m in model_order(d["learned"][task])):
            lr = d["learned"][task][model]
            offset = (j - (len(d["learned"][task]) - 1) / 2) * 0.12
            ax2.plot(np.asarray(lr["seeds"]) + offset, lr["values"], "o", color=style.color(model), markersize=5)
            n_bars = lr["n_bars"]
        ax2.axhline(n_bars, color="k", linewidth=1, linestyle=":")
        ax2.set_yticks(range(0, n_bars + 1, max(1, n_bars // 4)))
        ax2.set(xlabel="seed index", ylabel=f"bars learned (of {n_bars})", ylim=(-0.5, n_bars + 1.5),
                title=f"units with r >= {MATCH_R} to a bar (distinct)")
    model_legend(fig, counts, counts, ncols=2, title=ci_title(counts.values()),
                 labels=d["model_labels"].mapping(counts, tasks))
    return style.save(fig, out_dir, "bars", formats)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw the bars figure and write ``bars.md`` / ``bars.csv`` ([] without probe results)."""
    d = data(results_dir)
    if not d["tasks"]:
        return []
    _write_tables(d, out_dir)
    return [{"name": "bars", "paths": _figure(d, out_dir, formats), "title": "Bars: which bars are on",
             "caption": "Left: exact-match test accuracy (all bars of an image decoded right) of a "
                        "multi-label probe, one logistic regression per bar (C chosen on validation), "
                        "on each model's hidden code and on the raw pixels (white bar), mean ± 95% CI "
                        "over seeds. Right: per seed, how many bars have a hidden unit whose weight "
                        f"vector correlates with them at r >= {MATCH_R} (each unit counts for one bar); "
                        "the dotted line is all bars. The models were trained on the count label (how "
                        "many bars are on), a secondary task; this probe asks what their code keeps. "
                        "Look at whether the learned code keeps every bar (raw pixels do, linearly) and "
                        "whether the random control's code of the same size loses them. Table: "
                        "`bars.md`, `bars.csv`."}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__.splitlines()[0]))
