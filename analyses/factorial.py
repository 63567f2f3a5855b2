"""The factorial analysis: does a difference come from how activity is computed or from how
weights change?

A feedforward unit is the steady state of a leaky integrator, so the two networks differ on two
orthogonal axes: *dynamics* (``steady``: one feedforward pass; ``inhibited``: a leaky-integrator
population with lateral inhibition settled to its fixed point, i.e. an effective ``w_inh > 0`` in
some hidden layer) and *learning* (``backprop`` or ``feedback_alignment`` for the MLP, the hidden
rule's name for the Hebbian network). Every model of a study is put in a corner (dynamics,
learning) from its run parameters. For each task whose standard runs hold the complete 2x2
(steady / inhibited) x (backprop / competitive), paired by seed index (same data split):

- main effect of dynamics = mean over the two learning levels of (inhibited − steady);
- main effect of learning = mean over the two dynamics levels of (Hebbian − backprop);
- interaction = (inhibited − steady | Hebbian) − (inhibited − steady | backprop);

each the mean over seeds of the per-seed contrast of test accuracy (percentage points) with its
95% Student-t interval, the paired t-test's p and Holm's adjustment over the family of the 3
contrasts x tasks; each corner gets its mean ± 95% CI. Diverged runs count at chance accuracy
(100 / classes), as in `analyses.summary`; failed runs are left out. Further learning levels
(e.g. feedback alignment) are reported as corners and as a contrast against backprop at each
dynamics level, *exploratory* (a Holm family of their own). A task without the complete 2x2, or
with two models in one of its corners, is skipped with a message that says why.

Writes ``factorial.csv`` (one row per corner and per contrast, columns `COLUMNS`),
``factorial.md`` (Markdown tables to paste into a report) and the interaction plot
``factorial.png`` / ``.pdf``.

Run as ``python -m analyses.factorial RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import sys
from collections import defaultdict

import numpy as np

from sim.models.labels import axes

from . import style
from ._panels import ci_title, panel_grid, task_order
from .common import main, open_store
from .stats import holm, mean_ci, paired_test
from .text import p_value as _p
from .text import pm as _pm

__all__ = ["data", "factorial", "build", "markdown", "write_tables", "COLUMNS", "DYNAMICS", "FACTORIAL",
           "ALPHA", "REQUIRES"]

REQUIRES = ("a complete 2x2 factorial of standard runs: steady and inhibited (w_inh > 0) dynamics x backprop "
            "and competitive Hebbian learning, one model per corner")
ALPHA = 0.05
DYNAMICS = ("steady", "inhibited")
FACTORIAL = ("backprop", "competitive")  # the learning levels of the 2x2, the reference first
COLUMNS = ("task", "row", "family", "name", "description", "dynamics", "learning", "model", "n_seeds",
           "n_diverged", "n_failed", "mean", "ci95", "unit", "p_t", "p_holm", "significant")
# learning level -> (`analyses.style` colour key, legend text); the Hebbian level is drawn as "hebbian"
_LEVELS = {"backprop": ("backprop", "Backprop"), "feedback_alignment": ("feedback_alignment", "Feedback alignment")}


# ----------------------------------------------------------------------------- corners

def _axes(model_name: str, params: dict) -> tuple[str, str]:
    """The corner ``(dynamics, learning)`` of a model from its run parameters
    (`sim.models.labels.axes`); a population with inhibition or lateral weights, settled in
    closed form or integrated, is the ``'inhibited'`` level of this design."""
    ax = axes(model_name, params)
    return ("steady" if ax["dynamics"] == "steady" else "inhibited"), ax["learning"]


def _scores(st, runs) -> tuple[dict, int, int]:
    """``({seed: test accuracy (%)}, n diverged, n failed)``: finished runs, diverged runs at
    chance (100 / classes); failed runs are only counted."""
    out, diverged, failed = {}, 0, 0
    for r in runs:
        if r.get("status") == "finished":
            out[r["config"]["seed"]] = 100 * r["evaluation"]["test_accuracy"]
        elif r.get("status") == "diverged":
            out[r["config"]["seed"]] = 100 / st.task(r).n_classes
            diverged += 1
        else:
            failed += 1
    return out, diverged, failed


def _contrast(task, family, name, description, a, b) -> dict:
    """One contrast row: mean and 95% CI of ``a - b`` over seeds (pp) and the paired t p."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mean, ci = mean_ci(a - b)
    return {"task": task, "row": "contrast", "family": family, "name": name, "description": description,
            "n_seeds": int(a.size), "mean": mean, "ci95": ci, "unit": "pp",
            "p_t": paired_test(a, b, "t") if a.size >= 2 else float("nan")}


def _task_rows(task, cells, hebbian):
    """Corner and contrast rows of one task, or ``(None, None, reason)`` when it is skipped."""
    levels = (FACTORIAL[0], hebbian)
    crowded = {c: ms for c, ms in cells.items() if len(ms) > 1}
    missing = [c for c in itertools.product(DYNAMICS, levels) if c not in cells]
    if missing or any(c in crowded for c in itertools.product(DYNAMICS, levels)):
        found = "; ".join(f"{d}/{lv}: {', '.join(m for m, _ in ms)}" for (d, lv), ms in sorted(cells.items()))
        why = (f"incomplete factorial, no scored standard run at {', '.join(f'{d}/{lv}' for d, lv in missing)}"
               if missing else "ambiguous factorial, more than one model at "
               + ", ".join(f"{d}/{lv}" for d, lv in crowded))
        return None, None, (f"task {task!r} skipped: {why} (the 2x2 needs one model in each corner of "
                            f"{' / '.join(DYNAMICS)} x {' / '.join(levels)}; found {found or 'none'})")
    notes = [f"task {task!r}: corner {d}/{lv} left out, more than one model ({', '.join(m for m, _ in ms)})"
             for (d, lv), ms in crowded.items()]
    cells = {c: ms[0] for c, ms in cells.items() if c not in crowded}
    extra = sorted({lv for _, lv in cells} - set(levels))
    corners = []
    for lv in (*levels, *extra):
        for d in DYNAMICS:
            if (d, lv) in cells:
                model, (acc, n_div, n_fail) = cells[(d, lv)]
                mean, ci = mean_ci(list(acc.values()))
                corners.append({"task": task, "row": "corner", "family": "primary" if lv in levels else "exploratory",
                                "name": f"{lv}/{d}", "description": f"{lv} learning, {d} dynamics",
                                "dynamics": d, "learning": lv, "model": model, "n_seeds": len(acc),
                                "n_diverged": n_div, "n_failed": n_fail, "mean": mean, "ci95": ci, "unit": "%"})
    acc = {c: cells[c][1][0] for c in cells}
    seeds = sorted(set.intersection(*(set(acc[c]) for c in itertools.product(DYNAMICS, levels))))

    def x(d, lv):
        return np.array([acc[(d, lv)][s] for s in seeds], dtype=np.float64)

    sb, ib, sh, ih = x("steady", levels[0]), x("inhibited", levels[0]), x("steady", hebbian), x("inhibited", hebbian)
    contrasts = [
        _contrast(task, "primary", "dynamics", "main effect of dynamics: inhibited − steady, mean over learning",
                  (ib + ih) / 2, (sb + sh) / 2),
        _contrast(task, "primary", "learning", f"main effect of learning: {hebbian} − backprop, mean over dynamics",
                  (sh + ih) / 2, (sb + ib) / 2),
        _contrast(task, "primary", "interaction", f"interaction: (inhibited − steady, {hebbian}) − "
                  "(inhibited − steady, backprop)", ih - sh, ib - sb),
    ]
    for lv in extra:
        for d in DYNAMICS:
            if (d, lv) in acc and (d, levels[0]) in acc:
                common = sorted(set(acc[(d, lv)]) & set(acc[(d, levels[0])]))
                contrasts.append(_contrast(
                    task, "exploratory", f"{lv} − backprop ({d})", f"{lv} − backprop at {d} dynamics",
                    [acc[(d, lv)][s] for s in common], [acc[(d, levels[0])][s] for s in common]))
    return corners, contrasts, notes


def data(results_dir, hebbian: str = FACTORIAL[1]) -> dict:
    """Corners and contrasts of every task of a study that holds the complete factorial.

    Parameters
    ----------
    results_dir : str or Path
        A results store (`neurocompare study`).
    hebbian : str
        The Hebbian learning level of the 2x2 (a hidden rule name; default 'competitive').

    Returns
    -------
    dict
        ``tasks``: the analysed tasks in study order; ``corners``: one dict per (task, corner)
        (``mean``, ``ci95`` in % test accuracy over that corner's seeds; ``family`` 'primary'
        for the 2x2, 'exploratory' for other learning levels); ``contrasts``: one dict per
        contrast (``mean``, ``ci95`` in percentage points over the seeds all its corners share,
        ``p_t`` the paired t-test's p, ``p_holm`` Holm-adjusted within its family over every
        task, ``significant`` = ``p_holm < ALPHA``); ``skipped``: one message per task left out
        or corner dropped. Every row has the keys of `COLUMNS` (empty strings where they do not
        apply).
    """
    st = open_store(results_dir)
    cells_runs = defaultdict(list)
    for r in st.runs(include_failed=True):
        if r["config"]["kind"] == "standard":
            cells_runs[(r["config"]["task"], r["config"]["model"])].append(r)
    tasks, corners, contrasts, skipped = [], [], [], []
    for task in task_order(results_dir, [t for t, _ in cells_runs]):
        cells = defaultdict(list)  # corner -> [(model, scores)]
        for (t, model), runs in sorted(cells_runs.items()):
            scored = _scores(st, runs) if t == task else ({},)
            if scored[0]:
                cells[_axes(runs[0]["config"]["model_name"], runs[0]["config"]["params"])].append((model, scored))
        c_rows, k_rows, notes = _task_rows(task, dict(cells), hebbian)
        if c_rows is None:
            skipped.append(notes)
            continue
        skipped += notes
        tasks.append(task)
        corners += c_rows
        contrasts += k_rows
    for family in ("primary", "exploratory"):
        rows = [r for r in contrasts if r["family"] == family]
        p = np.array([r["p_t"] for r in rows], dtype=np.float64)
        adjusted = np.full(p.size, np.nan)
        finite = np.isfinite(p)
        if finite.any():
            adjusted[finite] = holm(p[finite])
        for r, q in zip(rows, adjusted):
            r["p_holm"] = float(q)
            r["significant"] = bool(np.isfinite(q) and q < ALPHA)
    blank = dict.fromkeys(COLUMNS, "")
    return {"tasks": tasks, "hebbian": hebbian, "corners": [{**blank, **r} for r in corners],
            "contrasts": [{**blank, **r} for r in contrasts], "skipped": skipped}


# ----------------------------------------------------------------------------- tables

def markdown(d) -> str:
    """The factorial as Markdown: per task, a table of corners and one of contrasts."""
    n_primary = sum(r["family"] == "primary" for r in d["contrasts"])
    lines = [
        "Test accuracy (%) of each corner, mean ± half-width of the 95% confidence interval (Student t) "
        "over seeds; *dynamics*: steady (one feedforward pass, w_inh = 0) or inhibited (leaky "
        "integrators with lateral inhibition settled to their fixed point, w_inh > 0). Contrasts in "
        "percentage points, per seed and then averaged, over the seeds all their corners share (paired by "
        "seed: same data split): main effect of dynamics = mean over learning of (inhibited − steady), main "
        f"effect of learning = mean over dynamics of ({d['hebbian']} − backprop), interaction = "
        "difference of the dynamics effects. p: paired t-test; Holm p: Holm-corrected over the "
        f"{n_primary} primary contrasts (3 per task); exploratory contrasts (other learning levels vs "
        f"backprop) form their own Holm family. Significant: Holm p < {ALPHA}. Diverged runs count at "
        "chance accuracy, failed runs are left out.", ""]
    for task in d["tasks"]:
        lines += [f"### {task}", "", "| learning | dynamics | model | seeds | test accuracy (%) |",
                  "| --- | --- | --- | ---: | ---: |"]
        for r in (r for r in d["corners"] if r["task"] == task):
            notes = "".join(f", {r[f'n_{k}']} {k}" for k in ("diverged", "failed") if r[f"n_{k}"])
            tag = "" if r["family"] == "primary" else " (exploratory)"
            lines.append(f"| {r['learning']}{tag} | {r['dynamics']} | `{r['model']}` | {r['n_seeds']}{notes} "
                         f"| {_pm(r['mean'], r['ci95'])} |")
        lines += ["", "| contrast | family | pairs | estimate (pp) | paired t p | Holm p | significant |",
                  "| --- | --- | ---: | ---: | ---: | ---: | :---: |"]
        for r in (r for r in d["contrasts"] if r["task"] == task):
            lines.append(f"| {r['description']} | {r['family']} | {r['n_seeds']} "
                         f"| {_pm(r['mean'], r['ci95'], sign=True)} | {_p(r['p_t'])} | {_p(r['p_holm'])} "
                         f"| {'yes' if r['significant'] else 'no'} |")
        lines.append("")
    if d["skipped"]:
        lines += ["Not analysed:", ""] + [f"- {m}" for m in d["skipped"]] + [""]
    return "\n".join(lines)


def write_tables(d, out_dir) -> list[str]:
    """Write ``factorial.csv`` (corners, then contrasts; columns `COLUMNS`) and ``factorial.md``."""
    os.makedirs(out_dir, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in d["corners"] + d["contrasts"]:
        writer.writerow({k: repr(float(v)) if isinstance(v, (float, np.floating)) else v
                         for k, v in row.items() if k in COLUMNS})
    paths = []
    for name, text in (("factorial.csv", buf.getvalue()), ("factorial.md", "# Factorial\n\n" + markdown(d))):
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- figure

def _level_look(level: str, hebbian: str) -> tuple[str, str]:
    """Colour and legend text of a learning level."""
    if level == hebbian:
        return style.color("hebbian"), f"{level.capitalize()} Hebbian"
    key, text = _LEVELS.get(level, (level, level.replace("_", " ")))
    return style.color(key), text


def _figure(d, out_dir, formats) -> list[str]:
    fig, axes = panel_grid(len(d["tasks"]), ncols=2, width=3.5, height=2.6)
    handles = {}
    for ax, task in zip(axes, d["tasks"]):
        rows = [r for r in d["corners"] if r["task"] == task]
        levels = list(dict.fromkeys(r["learning"] for r in rows))
        for j, level in enumerate(levels):
            pts = sorted((r for r in rows if r["learning"] == level), key=lambda r: DYNAMICS.index(r["dynamics"]))
            x = [DYNAMICS.index(r["dynamics"]) + 0.05 * (j - (len(levels) - 1) / 2) for r in pts]
            ci = [r["ci95"] if np.isfinite(r["ci95"]) else 0.0 for r in pts]
            color, text = _level_look(level, d["hebbian"])
            primary = pts[0]["family"] == "primary"
            h = ax.errorbar(x, [r["mean"] for r in pts], yerr=ci, color=color, marker="o", markersize=4,
                            capsize=3, linewidth=1.6, linestyle="-" if primary else "--")
            handles.setdefault(text + ("" if primary else " (exploratory)"), h)
        ax.set_xticks(range(len(DYNAMICS)), DYNAMICS)
        ax.set_xlim(-0.3, len(DYNAMICS) - 0.7)
        ax.set_xlabel("dynamics")
        ax.set_ylabel("test accuracy (%)")
        inter = next(r for r in d["contrasts"] if r["task"] == task and r["name"] == "interaction")
        ax.set_title(f"{task}\ninteraction {_pm(inter['mean'], inter['ci95'], sign=True)} pp, "
                     f"Holm p {_p(inter['p_holm'])}", fontsize=style.fontsize("label"))
    counts = [r["n_seeds"] for r in d["corners"]]
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=min(3, len(handles)),
               fontsize=style.fontsize("note"), title=ci_title(counts), title_fontsize=style.fontsize("note"),
               frameon=False)
    return style.save(fig, out_dir, "factorial", formats)


CAPTION = ("Test accuracy of each corner of the factorial, mean over seeds with 95% confidence intervals: x = how "
           "activity is computed (steady: one feedforward pass; inhibited: leaky integrators with lateral "
           "inhibition settled to their fixed point), one line per learning rule (dashed: exploratory levels), "
           "one panel per task, titled with its interaction estimate (pp, Holm-corrected p); the y-axis is "
           "zoomed to the corners, so chance (100 / classes) lies below it and is not drawn. The "
           "slope of a line is the effect of dynamics under that rule, the vertical gap between lines the effect "
           "of learning. Look at whether the lines are parallel: if they are, the two axes add up and each "
           "effect can be credited to one axis; if the Hebbian-vs-backprop gap changes with inhibition, the "
           "axes interact. Numbers (main effects, interaction, corners): factorial.md and factorial.csv.")


def _write(d, out_dir, formats, loud=True) -> list[dict]:
    """Tables and figure of ``d``; skip messages to standard error (unless nothing was analysed
    and not ``loud``: the report then says what the analysis needs)."""
    for message in d["skipped"] if loud or d["tasks"] else ():
        print(f"analyses.factorial: {message}", file=sys.stderr)
    if not d["tasks"]:
        return []
    write_tables(d, out_dir)
    return [{"name": "factorial", "paths": _figure(d, out_dir, formats),
             "title": "Factorial: dynamics x learning", "caption": CAPTION}]


def factorial(results_dir, out_dir="figures", formats=("png", "pdf"), hebbian: str = FACTORIAL[1]) -> list[dict]:
    """Analyse the factorial of ``results_dir``; write the tables and the figure into ``out_dir``.

    Parameters
    ----------
    results_dir : str or Path
        A results store.
    out_dir : str or Path
        Output folder: ``factorial.csv``, ``factorial.md``, ``factorial.<fmt>``.
    formats : sequence of str
        Figure formats.
    hebbian : str
        The Hebbian learning level of the 2x2 (see :func:`data`).

    Returns
    -------
    list of dict
        The contrast rows of :func:`data` (empty, and nothing written, when no task holds the
        complete factorial; the reasons go to standard error).
    """
    d = data(results_dir, hebbian)
    _write(d, str(out_dir), formats)
    return d["contrasts"]


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Write the factorial's tables and figure (the analysis interface of `analyses.common`).

    Returns
    -------
    list of dict
        The figure's ``name``, ``paths``, ``title``, ``caption``; empty (and quiet) when no task
        of the study holds the complete factorial.
    """
    return _write(data(results_dir), str(out_dir), formats, loud=False)


def _cli_build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    return _write(data(results_dir), str(out_dir), formats)


if __name__ == "__main__":
    raise SystemExit(main(_cli_build, description=__doc__))
