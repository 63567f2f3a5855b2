"""Receptive fields: the first-layer weights of every model drawn in input space (8x8 images for
digits and bars, 1-D traces for mnist1d), the units ordered by how often each is the most
active hidden unit over the stored probe inputs.

Run as ``python -m analyses.receptive_fields RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import math

import numpy as np

from . import style
from ._panels import task_order
from .common import ModelLabels, finished_runs, group, main, model_order, open_store

__all__ = ["data", "build", "rank_units", "TOP", "REQUIRES"]

REQUIRES = "a task with more than two input features (stored W1 and probe_hidden)"
TOP = 16  # units shown per model
MAX_BLOCKS = 3  # models side by side at the double-column width
ROW_HEIGHT = 2.9  # inches per row of model blocks


def rank_units(hidden) -> tuple[np.ndarray, np.ndarray]:
    """Units ordered by how often each is the most active one.

    Parameters
    ----------
    hidden : ndarray, shape (n_probe, n_units)
        Hidden rates of the probe inputs.

    Returns
    -------
    order : ndarray, shape (n_units,)
        Unit indices, most often the argmax first; ties broken by the larger mean rate, then
        the lower index.
    wins : ndarray, shape (n_units,)
        How many probe inputs each unit is the most active for (sums to ``n_probe``).
    """
    H = np.asarray(hidden, dtype=np.float64)
    wins = np.bincount(H.argmax(axis=1), minlength=H.shape[1])
    order = np.lexsort((np.arange(H.shape[1]), -H.mean(axis=0), -wins))
    return order, wins


def data(results_dir) -> dict:
    """The numbers behind the receptive-field figures (lowest finished seed of each model).

    Returns
    -------
    dict
        ``tasks``; ``fields[task][model]`` with ``seed``, ``W1`` (hidden x input; the column of
        a constant bias input, if the model has one, is dropped),
        ``image_shape`` (``(h, w)`` or ``(d,)``), ``order`` and ``wins`` (see `rank_units`),
        ``n_probe``, and ``top`` (the first `TOP` units of ``order``); ``model_labels``: what
        each model is, from its runs' parameters (`analyses.common.ModelLabels`).
    """
    st = open_store(results_dir)
    runs = finished_runs(results_dir, "standard")
    groups = group(runs, "task", "model")
    fields = {}
    for (task, model), rs in groups.items():
        r = min(rs, key=lambda r: r["config"]["seed"])
        if not {"W1", "probe_hidden"} <= set(r.get("arrays", [])):
            continue
        task_data = st.task(r)
        if task_data.n_features <= 2:  # 2-D toys: nothing to draw as an image
            continue
        arrays = st.load_arrays(r["run_id"])
        # a constant bias input (HebbianNet's input_bias), when present, is the last column
        W1 = arrays["W1"][:, :task_data.n_features]
        shape = task_data.meta.get("image_shape") or (task_data.n_features,)
        order, wins = rank_units(arrays["probe_hidden"])
        fields.setdefault(task, {})[model] = {
            "seed": r["config"]["seed"], "W1": W1, "image_shape": tuple(shape), "order": order,
            "wins": wins, "n_probe": int(arrays["probe_hidden"].shape[0]), "top": order[:TOP]}
    tasks = task_order(results_dir, fields)
    return {"tasks": tasks, "fields": {t: {m: fields[t][m] for m in model_order(fields[t])} for t in tasks},
            "model_labels": ModelLabels.of(results_dir, runs)}


def _draw_block(subfig, model, f, label):
    units = f["top"]
    ncols = math.ceil(math.sqrt(len(units)))
    nrows = math.ceil(len(units) / ncols)
    axes = subfig.subplots(nrows, ncols, squeeze=False)
    image = len(f["image_shape"]) == 2
    for ax, unit in zip(axes.ravel(), units):
        w = f["W1"][unit].astype(np.float64)
        m = np.max(np.abs(w)) or 1.0
        ax.grid(False)
        ax.set_xticks([])
        ax.set_yticks([])
        if image:
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.imshow(w.reshape(f["image_shape"]), cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
        else:
            ax.axhline(0, color="0.6", linewidth=0.6)
            ax.plot(w / m, color=style.color(model), linewidth=1.2)
            ax.set_ylim(-1.1, 1.1)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        share = 100 * f["wins"][unit] / f["n_probe"]
        ax.set_title("<1%" if 0 < share < 0.5 else f"{share:.0f}%", fontsize=style.fontsize("note"), pad=1.5)
    for ax in axes.ravel()[len(units):]:
        ax.set_visible(False)
    n_units = f["W1"].shape[0]
    subfig.suptitle(f"{label.replace(', ', chr(10), 1)}\n(top {len(units)} of {n_units} units)",
                    fontsize=style.fontsize("title"),
                    color=style.color(model))


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """Draw one receptive-field figure per task with image-like inputs ([] if none).

    Returns
    -------
    list of dict
        ``name``, ``paths``, ``title``, ``caption`` per figure.
    """
    d = data(results_dir)
    figs = []
    for task in d["tasks"]:
        fields = d["fields"][task]
        style.apply()
        ncols = min(len(fields), MAX_BLOCKS)  # more models wrap into more rows of blocks
        nrows = math.ceil(len(fields) / ncols)
        fig = style.plt.figure(figsize=style.figsize("double", height=ROW_HEIGHT * nrows + 0.7))
        subfigs = fig.subfigures(nrows, ncols, squeeze=False, wspace=0.04).ravel()
        for spare in subfigs[len(fields):]:
            spare.set_visible(False)
        names = d["model_labels"].mapping(fields, task, named=False)
        for subfig, (model, f) in zip(subfigs, fields.items()):
            _draw_block(subfig, model, f, names[model])
        image = len(next(iter(fields.values()))["image_shape"]) == 2
        seeds = sorted({f["seed"] for f in fields.values()})
        fig.suptitle(f"First-layer receptive fields, {task} (seed {', '.join(map(str, seeds))})",
                     fontsize=style.fontsize("suptitle"))
        key = ("red positive, blue negative, white 0" if image else "weight against input position")
        fig.supxlabel(f"{key}; each unit scaled to its own largest |weight|\n"
                      f"% above a unit = share of probe inputs for which it is the most active unit",
                      fontsize=style.fontsize("note"))
        name = f"receptive_fields_{task}"
        paths = style.save(fig, out_dir, name, formats)
        what = ("each unit's weights drawn as an image of the input (red positive, blue "
                "negative, white zero; each unit scaled to its own largest |weight|, so the "
                "colour scale is centred at 0)" if image else
                "each unit's weights as a trace over the input positions, scaled to its own "
                "largest |weight| (grey line: zero)")
        figs.append({"name": name, "paths": paths, "title": f"Receptive fields ({task})",
                     "caption": f"First-layer weights of each model on {task}: {what}. Units are "
                                f"ordered by how often they are the most active hidden unit over the "
                                f"probe inputs; the number above each is that share. One seed's weights: no "
                                f"average and no confidence interval. Look for "
                                f"structure (prototype-like fields shaped like whole inputs, localized "
                                f"strokes or bars, or unstructured noise) and compare each learned layer "
                                f"with the random-features control, whose weights never changed."})
    return figs


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__))
