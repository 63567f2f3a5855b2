"""Representations: how similar the hidden layers of the models are to each other and to the
input (linear CKA), class-by-class representational dissimilarity matrices side by side, and
the distributions of hidden sparsity (active fraction per input) and class selectivity (per
unit), all on the stored probe inputs (the first test samples, identical for every model of a
seed).

Run as ``python -m analyses.representations RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import warnings

import numpy as np

from sim import metrics

from . import style
from ._panels import model_legend, panel_grid, task_order
from .common import ModelLabels, finished_runs, group, main, model_order, open_store

__all__ = ["data", "build", "cka_matrix", "ecdf", "REQUIRES"]

REQUIRES = "finished standard runs with stored probe_hidden"


def cka_matrix(reps) -> np.ndarray:
    """Linear CKA between every pair of representations of the same inputs (None: missing).

    Computed from centred Gram matrices, ``CKA = <Kc, Lc>_F / (||Kc||_F ||Lc||_F)`` with
    ``Kc = Xc Xc^T``, which equals `sim.metrics.linear_cka` (``||Yc^T Xc||_F^2 = <Kc, Lc>_F``)
    but costs one n x n Gram matrix per representation instead of p x q products per pair.

    Returns
    -------
    ndarray, shape (len(reps), len(reps))
        Symmetric, ones on the diagonal, NaN where a representation is missing or constant.
    """
    grams = []
    for X in reps:
        if X is None:
            grams.append(None)
            continue
        Xc = np.asarray(X, dtype=np.float64) - np.mean(X, axis=0)
        K = Xc @ Xc.T
        norm = np.linalg.norm(K)
        grams.append(K / norm if norm > 0 else None)
    n = len(reps)
    M = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i, n):
            if grams[i] is not None and grams[j] is not None:
                M[i, j] = M[j, i] = float(np.sum(grams[i] * grams[j]))
    return M


def data(results_dir) -> dict:
    """The numbers behind the representation figures.

    Returns
    -------
    dict
        ``tasks``; per task:
        ``labels[task]`` (``'input'`` then the models), ``probes[task][seed][label]`` (probe
        representations, n_probe x features; the input is the task's ``X_test[probe_index]``,
        reloaded), ``probe_labels[task][seed]``, ``cka_seeds[task]`` (seeds x L x L, NaN where a
        model is missing), ``cka[task]`` (L x L mean over seeds), ``classes[task]`` (classes in
        every seed's probe set), ``rdm[task][label]`` (C x C mean over seeds),
        ``active[task][model]`` (per-input active fractions, all seeds) and
        ``selectivity[task][model]`` (per-unit class selectivity, all seeds, NaN dropped; absent
        for a model with negative rates); ``model_labels``: what each model is, from its runs'
        parameters (`analyses.common.ModelLabels`).
    """
    st = open_store(results_dir)
    runs = finished_runs(results_dir, "standard")
    groups = group(runs, "task", "model")
    out = {k: {} for k in ("labels", "probes", "probe_labels", "cka_seeds", "cka", "classes", "rdm",
                           "active", "selectivity")}
    tasks = []
    for task in task_order(results_dir, [t for t, _ in groups]):
        probes, ys = {}, {}
        for model in model_order(m for t, m in groups if t == task):
            for r in groups[(task, model)]:
                if "probe_hidden" not in r.get("arrays", []):
                    continue
                a = st.load_arrays(r["run_id"])
                seed = r["config"]["seed"]
                if seed not in probes:
                    idx = a["probe_index"]
                    probes[seed] = {"input": np.asarray(st.task(r).X_test)[idx]}
                    ys[seed] = (idx, a["probe_labels"])
                elif not np.array_equal(ys[seed][0], a["probe_index"]):
                    raise ValueError(f"{task}, seed {seed}: models were probed on different inputs")
                probes[seed][model] = a["probe_hidden"].astype(np.float64)
        if not probes:
            continue
        tasks.append(task)
        models = model_order({m for p in probes.values() for m in p} - {"input"})
        labels = ["input"] + models
        seeds = sorted(probes)
        cka = np.array([cka_matrix([probes[seed].get(label) for label in labels]) for seed in seeds])
        classes = sorted(set.intersection(*(set(np.unique(ys[s][1]).tolist()) for s in seeds)))
        rdm = {}
        for label in labels:
            mats = []
            for seed in seeds:
                if label in probes[seed]:
                    keep = np.isin(ys[seed][1], classes)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        mats.append(metrics.class_rdm(probes[seed][label][keep], ys[seed][1][keep]))
            with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)  # a constant class mean gives NaN
                rdm[label] = np.nanmean(mats, axis=0) if len(classes) > 1 else np.zeros((1, 1))
        active, select = {}, {}
        for model in models:
            Rs = [(probes[s][model], ys[s][1]) for s in seeds if model in probes[s]]
            active[model] = np.concatenate([metrics.active_fraction(R) for R, _ in Rs])
            if all(R.min() >= 0 for R, _ in Rs) and len(classes) > 1:
                sel = np.concatenate([metrics.class_selectivity(R, y) for R, y in Rs])
                select[model] = sel[np.isfinite(sel)]
        out["labels"][task], out["probes"][task] = labels, {s: probes[s] for s in seeds}
        out["probe_labels"][task] = {s: ys[s][1] for s in seeds}
        out["cka_seeds"][task] = cka
        with np.errstate(invalid="ignore"):
            out["cka"][task] = np.nanmean(cka, axis=0)
        out["classes"][task], out["rdm"][task] = classes, rdm
        out["active"][task], out["selectivity"][task] = active, select
    out["tasks"] = tasks
    out["model_labels"] = ModelLabels.of(results_dir, runs)
    return out


def _names(d, task, short=False) -> dict:
    """``{representation: text}`` on ``task``: 'input' and each model's label on that task (with
    ``short``, its model part alone where that is unambiguous, for axis ticks)."""
    models = [x for x in d["labels"][task] if x != "input"]
    names = d["model_labels"].mapping(models, task, named=False)
    if short:
        parts = {m: d["model_labels"].model_part(m, task) for m in models}
        if len(set(parts.values())) == len(parts):
            names = parts
    return {"input": "input", **names}


def _cka_figure(d, out_dir, formats):
    fig, axes = panel_grid(len(d["tasks"]), width=3.4, height=3.1)
    for ax, task in zip(axes, d["tasks"]):
        M, labels = d["cka"][task], d["labels"][task]
        im = ax.imshow(M, vmin=0, vmax=1, cmap="viridis")
        ax.grid(False)
        short, full = _names(d, task, short=True), _names(d, task)
        ax.set_xticks(range(len(labels)), [short[x] for x in labels], rotation=30, ha="right")
        ax.set_yticks(range(len(labels)), [full[x].replace(", ", "\n", 1) for x in labels],
                      fontsize=style.fontsize("note"))
        for i in range(len(labels)):
            for j in range(len(labels)):
                if np.isfinite(M[i, j]):
                    ax.text(j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=style.fontsize("note"),
                            color="k" if M[i, j] > 0.6 else "w")
        n = d["cka_seeds"][task].shape[0]
        ax.set_title(f"{task} (mean of {n} seed{'s' if n > 1 else ''})")
    fig.colorbar(im, ax=axes, shrink=0.8, label="linear CKA")
    fig.suptitle("Similarity of representations (linear CKA on the probe inputs)")
    return style.save(fig, out_dir, "cka", formats)


def _rdm_figure(d, tasks, out_dir, formats):
    ncols = max(len(d["labels"][t]) for t in tasks)
    style.apply()
    panel = style.WIDTHS["double"] / (ncols + 0.3)  # room for the colour bar
    fig, axes = style.plt.subplots(len(tasks), ncols, figsize=style.figsize("double", height=panel * len(tasks) + 0.7),
                                   squeeze=False)
    for row, task in zip(axes, tasks):
        labels = d["labels"][task]
        mats = [d["rdm"][task][lab] for lab in labels]
        vmax = max(float(np.nanmax(m)) for m in mats) or 1.0
        classes = d["classes"][task]
        names = _names(d, task)
        for ax, label, M in zip(row, labels, mats):
            cmap = style.plt.get_cmap("magma").with_extremes(bad="0.85")  # NaN: constant class mean
            im = ax.imshow(M, vmin=0, vmax=vmax, cmap=cmap)
            ax.grid(False)
            step = 1 if len(classes) <= 10 else 2
            ax.set_xticks(range(0, len(classes), step), classes[::step], fontsize=style.fontsize("note"))
            ax.set_yticks(range(0, len(classes), step), classes[::step], fontsize=style.fontsize("note"))
            ax.set_title(names[label].replace(", ", "\n", 1), fontsize=style.fontsize("title"),
                         color=style.color(label))
            if ax is row[0]:
                ax.set_ylabel(f"{task}\nclass")
        for ax in row[len(labels):]:
            ax.set_visible(False)
        fig.colorbar(im, ax=row[len(labels) - 1], shrink=0.85, label="1 − Pearson r")
    fig.suptitle("Class-by-class representational dissimilarity (mean over seeds)")
    return style.save(fig, out_dir, "rdm", formats)


def ecdf(values) -> tuple[np.ndarray, np.ndarray]:
    """Empirical cumulative distribution of ``values``: ``(x, F)`` with ``x`` the distinct values
    in increasing order and ``F[i]`` the fraction of values ``<= x[i]``."""
    x, counts = np.unique(np.asarray(values, dtype=np.float64), return_counts=True)
    return x, np.cumsum(counts) / counts.sum()


def _ecdf_figure(d, key, xlabel, title, name, out_dir, formats, logx=False):
    """One panel per task: each model's empirical CDF of ``d[key]`` (pooled over seeds), a dot
    at its median; on a log x-axis, zeros sit at the left edge."""
    from matplotlib.ticker import PercentFormatter
    tasks = [t for t in d["tasks"] if d[key][t]]
    fig, axes = panel_grid(len(tasks))
    models = set()
    for ax, task in zip(axes, tasks):
        positive = [v[v > 0] for v in d[key][task].values()]
        edge = 0.5 * min((float(p.min()) for p in positive if p.size), default=1e-3)
        for model, values in d[key][task].items():
            models.add(model)
            values = np.maximum(values, edge) if logx else values
            x, F = ecdf(values)
            ax.step(np.r_[x[0], x], np.r_[0.0, F], where="post", color=style.color(model))
            med = float(np.median(values))
            ax.plot([med], [0.5], marker="o", markersize=4, color=style.color(model), markeredgecolor="k",
                    markeredgewidth=0.5, linestyle="none")
        if logx:
            ax.set_xscale("log")
            ax.set_xlim(left=0.8 * edge, right=1.05)
        else:
            ax.set_xlim(-0.02, 1.02)
        ax.axhline(0.5, color="0.6", linewidth=0.8, linestyle=":")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(0, 1.02)
        ax.set_title(task)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("cumulative share")
    from matplotlib.lines import Line2D
    dot = Line2D([], [], marker="o", color="w", markerfacecolor="0.6", markeredgecolor="k", markersize=4)
    model_legend(fig, models, extra=[(dot, "median")], title="pooled over seeds (no CI)", ncols=4,
                 labels=d["model_labels"].mapping(models, tasks))
    fig.suptitle(title)
    return style.save(fig, out_dir, name, formats)


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw the CKA, RDM, sparsity and selectivity figures of ``results_dir`` into ``out_dir``.

    Returns
    -------
    list of dict
        ``name``, ``paths``, ``title``, ``caption`` per figure.
    """
    d = data(results_dir)
    if not d["tasks"]:
        return []
    figs = [{"name": "cka", "paths": _cka_figure(d, out_dir, formats),
             "title": "Representational similarity (CKA)",
             "caption": "Linear centred kernel alignment between every pair of representations of the "
                        "same probe inputs (the raw input and each model's hidden layer), computed per "
                        "seed and averaged (a mean over seeds without a confidence interval). CKA is 1 for "
                        "representations equal up to a rotation and a "
                        "scale and near 0 for unrelated ones. Look at the MLP-Hebbian cell (do the two "
                        "learning rules arrive at similar codes?) and at each model's similarity to "
                        "the input (how far the hidden layer transforms it)."}]
    rdm_tasks = [t for t in d["tasks"] if len(d["classes"][t]) >= 3]
    if rdm_tasks:
        skipped = sorted(set(d["tasks"]) - set(rdm_tasks))
        note = (f" Tasks with fewer than three classes ({', '.join(skipped)}) are left out: their "
                f"matrix holds a single number." if skipped else "")
        figs.append({"name": "rdm", "paths": _rdm_figure(d, rdm_tasks, out_dir, formats),
                     "title": "Representational dissimilarity matrices",
                     "caption": "For each representation, the dissimilarity (1 − Pearson correlation) "
                                "between the mean responses to every pair of classes on the probe "
                                "inputs, averaged over seeds (no confidence interval); one colour scale per row "
                                "(grey: undefined, for a class "
                                "whose mean response is constant, such as a blank image). Look for block "
                                "structure (classes the representation groups together) and for how "
                                "much more separated the classes are in each hidden layer than in the "
                                "input." + note})
    if any(d["active"][t] for t in d["tasks"]):
        figs.append({"name": "sparsity", "paths": _ecdf_figure(
            d, "active", "fraction of hidden units active (rate > 0; log axis)", "Hidden-layer sparsity per input",
            "sparsity", out_dir, formats, logx=True),
            "title": "Hidden sparsity",
            "caption": "Cumulative distribution over probe inputs of the fraction of hidden units with a "
                       "non-zero rate (log x-axis, so that a code with a few percent of units active and a "
                       "dense one both stay readable; pooled over seeds, no confidence interval; dot: the "
                       "median; inputs with no active unit sit at the left edge). A curve further left is a "
                       "sparser code. Look for how sparse each "
                       "code is: where the legend names inhibition, lateral inhibition limits how "
                       "many units can be active at once; a steady layer without it (and the "
                       "backprop MLP, unless inhibited) has nothing that asks for sparsity."})
    if any(d["selectivity"][t] for t in d["tasks"]):
        figs.append({"name": "selectivity", "paths": _ecdf_figure(
            d, "selectivity", "class selectivity index",
            "Class selectivity of hidden units\n(0 = equal response to every class, 1 = responds to one class only)",
            "selectivity", out_dir, formats),
            "title": "Class selectivity",
            "caption": "Cumulative distribution over hidden units of the class selectivity index (Morcos "
                       "et al. 2018): (largest class-mean rate − mean of the other class means) / their sum, "
                       "pooled over seeds (no confidence interval), silent units left out (dot: the median). "
                       "A curve further right has more class-selective units. Look for which "
                       "learning rule produces units tuned to single classes (near 1) and which "
                       "spreads class information across many broadly tuned units (near 0)."})
    return figs


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
