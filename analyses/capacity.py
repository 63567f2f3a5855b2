"""Accuracy against the number of hidden units (the study's ``hidden_units`` condition).

The condition refits each chosen model with every hidden stage resized to N units (the rest of
its configuration unchanged, e.g. as tuned at the study's size) for every seed; this draws test
accuracy against N with 95% CIs over seeds, one panel per task, and tabulates the paired
difference of every pair of models at each N (paired by seed: the same split), with its 95%
t CI and paired t p-value, Holm-corrected within the table. The effects of Hebbian learning
over random features are expected to be largest at small N. Nothing is trained.
"""

from __future__ import annotations

import csv
import io
import itertools
import os

import numpy as np

from . import style
from ._panels import (
    band,
    chance_handle,
    chance_levels,
    chance_line,
    ci_title,
    model_legend,
    panel_grid,
    pct,
    task_order,
)
from .common import ModelLabels, finished_runs, group, main, model_order
from .stats import holm, mean_ci, paired_test

__all__ = ["data", "build", "REQUIRES"]
REQUIRES = "runs of the hidden_units condition ([conditions] hidden_units = { sizes = [...] })"
COLUMNS = ("task", "n_units", "model_a", "model_b", "pairs", "difference_pp", "ci95_pp", "p_t", "p_holm")


def data(results_dir) -> dict:
    """Per task and model: ``sizes``, ``seeds`` (complete ones), ``values`` (seeds x sizes, test
    accuracy as a fraction), ``mean``, ``ci``; plus ``differences`` (rows of ``COLUMNS``)."""
    runs = finished_runs(results_dir, "hidden_units")
    by = group(runs, "task", "model")
    out = {"tasks": {}, "differences": [], "model_labels": ModelLabels.of(results_dir, runs)}
    for task in task_order(results_dir, [t for t, _ in by]):
        entry = {}
        for model in model_order(m for t, m in by if t == task):
            rs = by[(task, model)]
            table = {(r["config"]["seed"], r["config"]["condition"]["hidden_units"]): r["evaluation"]["test_accuracy"]
                     for r in rs}
            sizes = sorted({n for _, n in table})
            seeds = sorted(s for s in {s for s, _ in table} if all((s, n) in table for n in sizes))
            if not seeds:
                continue
            values = np.array([[table[(s, n)] for n in sizes] for s in seeds], dtype=np.float64)
            mean, ci = zip(*(mean_ci(values[:, j]) for j in range(len(sizes))))
            entry[model] = {"sizes": sizes, "seeds": seeds, "values": values, "mean": np.array(mean),
                            "ci": np.array(ci), "table": table}
        if entry:
            out["tasks"][task] = entry
            out["differences"] += _differences(task, entry)
    if out["differences"]:
        for row, p in zip(out["differences"], holm([r["p_t"] for r in out["differences"]])):
            row["p_holm"] = float(p)
    return out


def _differences(task, entry) -> list[dict]:
    rows = []
    for a, b in itertools.combinations(entry, 2):
        for n in sorted(set(entry[a]["sizes"]) & set(entry[b]["sizes"])):
            seeds = sorted({s for s, m in entry[a]["table"] if m == n} & {s for s, m in entry[b]["table"] if m == n})
            if len(seeds) < 2:
                continue
            x = np.array([entry[a]["table"][(s, n)] for s in seeds])
            y = np.array([entry[b]["table"][(s, n)] for s in seeds])
            d, ci = mean_ci(pct(x - y))
            rows.append({"task": task, "n_units": n, "model_a": a, "model_b": b, "pairs": len(seeds),
                         "difference_pp": d, "ci95_pp": ci, "p_t": float(paired_test(x, y))})
    return rows


def table_text(d) -> str:
    """The paired differences as CSV text."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in d["differences"]:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw ``capacity`` (accuracy vs hidden units) and write ``capacity.csv``; [] without the condition."""
    d = data(results_dir)
    if not d["tasks"]:
        return []
    labels = d["model_labels"]
    tasks = list(d["tasks"])
    fig, axes = panel_grid(len(tasks), ncols=2, width=3.5, height=2.8)
    chance = chance_levels(results_dir, finished_runs(results_dir, "hidden_units"))
    counts = {}
    for ax, task in zip(axes, tasks):
        for model, e in d["tasks"][task].items():
            band(ax, e["sizes"], pct(e["mean"]), pct(e["ci"]), model, marker="o", clip=(0, 100))
            counts[model] = len(e["seeds"])
        ax.set_xscale("log")
        sizes = sorted({n for e in d["tasks"][task].values() for n in e["sizes"]})
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        chance_line(ax, chance.get(task))
        ax.set(xlabel="hidden units N", ylabel="test accuracy (%)", title=task)
    models = {m for e in d["tasks"].values() for m in e}
    model_legend(fig, models, counts, title=ci_title(counts.values()), labels=labels.mapping(models, tasks),
                 extra=[chance_handle()])
    paths = style.save(fig, out_dir, "capacity", formats)
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, "capacity.csv")
    with open(csv_path, "w") as fh:
        fh.write(table_text(d))
    return [{"name": "capacity", "paths": paths + [csv_path], "title": "Accuracy against hidden units",
             "caption": "Test accuracy against the number of hidden units N (every hidden stage resized, the "
                        "rest of each configuration unchanged), mean ± 95% CI over seeds (dotted grey: chance); "
                        "capacity.csv holds "
                        "the paired differences of every pair of models at each N (95% t CI, paired t, Holm)."}]


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__.splitlines()[0]))
