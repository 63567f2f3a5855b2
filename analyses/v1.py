"""Receptive fields on natural images: do V1-like (Gabor) units emerge?

Reads the ``unsupervised`` runs of a store (`sim.study.unsupervised`: encoders fitted on
natural-image patches, `sim.tasks.patches`), fits a 2-D Gabor to every unit (`analyses.gabor`)
and summarizes each model: the share of Gabor-like units, orientation coverage (30-degree bins),
spatial frequency, and Ringach's dimensionless envelope sizes ``n_x = sigma_x f``,
``n_y = sigma_y f``. For each learning rule the configuration is SELECTED by the held-out
sparseness of its decorrelated code (``val_decorrelated_sparseness``, validation patches: the
efficient-coding criterion with redundant units counted once,
`sim.study.unsupervised.decorrelated_sparseness`), never by a Gabor statistic; the best Hebbian
configuration overall is the Hebbian family's selection with the highest score. Older stores fall
back to the units' mean sparseness (``val_sparseness``) or held-out reconstruction
(``val_score``), and the text says which.

Macaque V1 reference region (`RINGACH_REGION`): Ringach (2002, J. Neurophysiol. 88:455-463,
Fig. 5) found simple cells' (n_x, n_y) concentrated at n_x of about 0.1-0.5 and n_y of about
0.1-1.0, most with n_x < 0.5 (fewer than about 1.5 cycles under the envelope) and many with
n_y > n_x (elongated along the stripes); the rectangle drawn here is read approximately from
that summary, not from his data.

Run as ``python -m analyses.v1 RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import math

import numpy as np

from . import gabor, style
from .common import finished_runs, group, main, open_store

__all__ = ["data", "table", "build", "section", "RINGACH_REGION", "REQUIRES", "CRITERION_TEXT"]

REQUIRES = "unsupervised runs on image patches (a [models.X] with model = 'hebbian_encoder' or 'autoencoder')"
RINGACH_REGION = {"n_x": (0.1, 0.5), "n_y": (0.1, 1.0)}  # approximate, Ringach 2002 Fig. 5
SHOWN = 36  # units per mosaic
SCORES = ("val_score", "test_score", "val_sparseness", "test_sparseness", "val_decorrelated_sparseness",
          "test_decorrelated_sparseness")
CRITERION_TEXT = {"val_decorrelated_sparseness": "the held-out sparseness of its decorrelated code (the mean "
                                                 "excess kurtosis of the units' responses to the validation "
                                                 "patches after symmetric decorrelation, each unit weighted by "
                                                 "the share of its response that is not a copy of others': the "
                                                 "efficient-coding criterion, blind to redundant units)",
                  "val_sparseness": "the held-out sparseness of its units' responses (mean excess kurtosis "
                                    "of each unit's linear response on the validation patches, the "
                                    "efficient-coding criterion; this store has no decorrelated score)",
                  "val_score": "its held-out reconstruction score (validation patches; this store has "
                               "no sparseness score)"}


def _family(run) -> str:
    """What a model is for selection: the encoder and its rule ('hebbian_encoder:competitive')."""
    cfg = run["config"]
    rule = cfg["params"].get("rule")
    return f"{cfg['model_name']}:{rule}" if rule else cfg["model_name"]


def _mean(rs, key) -> float:
    return float(np.mean([r["evaluation"].get(key, np.nan) for r in rs]))


def data(results_dir) -> dict:
    """Gabor fits and statistics of every unsupervised model of the store (its lowest seed).

    Returns
    -------
    dict
        ``models[label]``: ``family``, ``params``, ``val_score``, ``test_score``,
        ``val_sparseness``, ``test_sparseness``, ``val_decorrelated_sparseness``,
        ``test_decorrelated_sparseness`` (means over seeds; NaN where a store lacks them), ``seed``, ``W`` (units x
        pixels), ``shape``, ``fits`` (`gabor.fit_units`), ``stats`` (`gabor.population`),
        ``oriented`` and ``strict`` (the same with those criteria of `gabor.well_fitted`);
        ``criterion``: the selection key (``'val_decorrelated_sparseness'``; ``'val_sparseness'``
        or ``'val_score'`` for older stores); ``selected[family]``: the label with the best mean criterion;
        ``best_hebbian``: the Hebbian family's selection with the best criterion (None without
        Hebbian encoders).
    """
    st = open_store(results_dir)
    runs = [r for r in finished_runs(results_dir, "unsupervised")
            if (st.load_arrays(r["run_id"]).get("image_shape", np.zeros(1)).size == 2)]
    key = next(k for k in CRITERION_TEXT if k == "val_score" or (runs and all(k in r["evaluation"] for r in runs)))
    out, best = {}, {}
    for (task, label), rs in sorted(group(runs, "task", "model").items()):
        rs = sorted(rs, key=lambda r: r["config"]["seed"])
        arrays = st.load_arrays(rs[0]["run_id"])
        shape = tuple(int(s) for s in arrays["image_shape"])
        W = np.asarray(arrays["W1"], dtype=np.float64)
        fits = gabor.fit_units(W, shape)
        side = max(shape)
        entry = {"task": task, "family": _family(rs[0]), "params": rs[0]["config"]["params"],
                 **{k: _mean(rs, k) for k in SCORES},
                 "seed": rs[0]["config"]["seed"], "n_seeds": len(rs), "W": W, "shape": shape, "fits": fits,
                 **{name: gabor.population(fits, side, crit) for name, crit in
                    (("stats", "gabor"), ("oriented", "oriented"), ("strict", "strict"))}}
        out[label] = entry
        best.setdefault(entry["family"], []).append(label)
    def top(labels):  # the highest criterion (first on ties; NaN never wins), None for no labels
        return max(labels, key=lambda lb: out[lb][key] if np.isfinite(out[lb][key]) else -np.inf, default=None)
    best = {fam: top(labels) for fam, labels in best.items()}
    hebbian = sorted(lb for fam, lb in best.items() if fam.startswith("hebbian_encoder:") and not fam.endswith(":none"))
    return {"models": out, "selected": best, "criterion": key, "best_hebbian": top(hebbian)}


def table(d) -> str:
    """Markdown table: one row per model, the selected configuration of each family in bold."""
    rows = ["| model | family | selected | val decorrelated sparseness | val sparseness | val score | test score "
            "| Gabor-like | oriented | strict | empty 30-deg bins | median f (c/px) | median n_x | median n_y |",
            "|" + " --- |" * 14]
    chosen = set(d["selected"].values())
    for label, m in d["models"].items():
        s, q = m["stats"], m["stats"]["frequency_quartiles"]
        name = f"**{label}**" if label in chosen else label
        mark = ("best Hebbian" if label == d["best_hebbian"] else "yes") if label in chosen else ""
        rows.append(f"| {name} | {m['family']} | {mark} | {m['val_decorrelated_sparseness']:.2f} | "
                    f"{m['val_sparseness']:.2f} | {m['val_score']:.4f} | "
                    f"{m['test_score']:.4f} | {100 * s['fraction_gabor']:.0f}% | "
                    f"{100 * m['oriented']['fraction_gabor']:.0f}% | "
                    f"{100 * m['strict']['fraction_gabor']:.0f}% | {s['empty_orientation_bins']} | {q[1]:.3f} | "
                    f"{s['median_n_x']:.2f} | {s['median_n_y']:.2f} |")
    return "\n".join(rows)


def _mosaic(ax, m):
    h, w = m["shape"]
    n = min(SHOWN, m["W"].shape[0])
    cols = int(math.ceil(math.sqrt(n)))
    canvas = np.full((cols * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    order = np.argsort(-m["fits"]["variance_explained"])[:n]
    for i, unit in enumerate(order):
        r, c = divmod(i, cols)
        x = m["W"][unit].reshape(h, w)
        canvas[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = x / (np.abs(x).max() or 1.0)
    ax.imshow(canvas, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    """The figure (mosaics of the selected models, orientation histograms, n_x / n_y plot) and
    ``v1.md`` (the table); [] when the store has no unsupervised image runs."""
    import os

    import matplotlib.pyplot as plt
    d = data(results_dir)
    if not d["models"]:
        return []
    style.apply()
    chosen = [d["selected"][f] for f in sorted(d["selected"])]
    n, per_row = len(chosen), 4
    blocks = int(math.ceil(n / per_row))
    # at the text width: rows of (mosaic, orientation histogram) per model, the (n_x, n_y) plot below
    note = style.fontsize("note")
    fig = plt.figure(figsize=style.figsize("double", height=2.5 * blocks + 2.9), layout="constrained")
    grid = fig.add_gridspec(2 * blocks + 1, per_row, height_ratios=[1.7, 0.8] * blocks + [2.9])
    for j, label in enumerate(chosen):
        m = d["models"][label]
        b, c = divmod(j, per_row)
        ax = fig.add_subplot(grid[2 * b, c])
        _mosaic(ax, m)
        ax.set_title(f"{label}\n{100 * m['stats']['fraction_gabor']:.0f}% Gabor-like", fontsize=note)
        hist = fig.add_subplot(grid[2 * b + 1, c])
        counts = m["stats"]["orientation_counts"]
        hist.bar(np.arange(len(counts)) * 30 + 15, counts, width=26, color="0.4")
        if not np.sum(counts):  # no Gabor-like unit: say so rather than draw an empty axis
            hist.set_ylim(0, 1)
            hist.set_yticks([])
            hist.text(90, 0.5, "no Gabor-like units", ha="center", va="center", fontsize=note, color="0.4")
        hist.set_xticks([0, 90, 180])
        hist.tick_params(labelsize=note)
        hist.set_xlabel("orientation (deg)", fontsize=note)
        if c == 0:
            hist.set_ylabel("Gabor-like units", fontsize=note)
    ax = fig.add_subplot(grid[2 * blocks, :])
    (x0, x1), (y0, y1) = RINGACH_REGION["n_x"], RINGACH_REGION["n_y"]
    ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, color="tab:orange", alpha=0.25,
                               label="macaque V1 (approx., Ringach 2002)"))
    for label in chosen:
        m = d["models"][label]
        mask = m["stats"]["mask"]
        if mask.any():
            ax.scatter(m["fits"]["n_x"][mask], m["fits"]["n_y"][mask], s=10, label=label)
    values = [np.zeros(0)]
    for lb in chosen:
        fits, mask = d["models"][lb]["fits"], d["models"][lb]["stats"]["mask"]
        values += [fits["n_x"][mask], fits["n_y"][mask]]
    values = np.concatenate(values)
    top = min(max(1.5, 1.1 * float(np.percentile(values, 98))), 4.0) if values.size else 1.5
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_xlabel("n_x = sigma_x f (cycles per envelope SD)")
    ax.set_ylabel("n_y = sigma_y f")
    ax.set_title("Gabor-like units of the selected models", fontsize=style.fontsize("title"))
    ax.legend(fontsize=note, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    paths = style.save(fig, out_dir, "v1_receptive_fields", formats)
    plt.close(fig)
    os.makedirs(out_dir, exist_ok=True)
    md = os.path.join(out_dir, "v1.md")
    with open(md, "w", encoding="utf-8") as fh:
        fh.write(section(d) + "\n")
    caption = (section(d) + "\n\nTop row: the 36 units of each selected model with the best Gabor fit "
               "(grey = 0, each unit scaled to its largest |weight|). Look for localized, oriented, "
               "striped fields rather than single pixels or whole-patch gratings. Bottom row: how "
               "the Gabor-like units' orientations fill the six 30-degree bins (an empty bin is a "
               "missing orientation). Right: Ringach's (n_x, n_y) of the Gabor-like units against "
               "the approximate macaque V1 region. Table: v1.md.")
    return [{"name": "v1_receptive_fields", "title": "Receptive fields on natural-image patches",
             "caption": caption, "paths": paths}]


def section(d) -> str:
    """The report text: how models were selected, the criteria, and the table."""
    best = d["best_hebbian"]
    lead = ""
    if best is not None:
        m = d["models"][best]
        lead = (f"The best Hebbian configuration by this criterion is `{best}`: "
                f"{100 * m['stats']['fraction_gabor']:.0f}% of its {m['stats']['n_units']} units are Gabor-like "
                f"({100 * m['oriented']['fraction_gabor']:.0f}% oriented, "
                f"{100 * m['strict']['fraction_gabor']:.0f}% strict), with "
                f"{m['stats']['empty_orientation_bins']} empty 30-degree orientation bins.\n\n")
    return ("Each learning rule's configuration was selected by " + CRITERION_TEXT[d["criterion"]]
            + ", never by a Gabor statistic; selected rows are in bold. " + lead
            + "A unit is *Gabor-like* when a 2-D Gabor explains >= 70% of its variance and its "
            "envelope size sqrt(sigma_x sigma_y) lies between 1.5 px and half the patch (a "
            "single-pixel unit or a whole-patch grating does not count); *oriented* also asks for "
            "a carrier, n_x = sigma_x f >= 0.1, and neither SD below 1 px (it drops blobs, but also "
            "single edges and lines fitted with f near 0); *strict* asks the carrier and both SDs "
            "in [1.5 px, half the patch]. Orientation bins and medians are of the Gabor-like units. "
            "Sparseness is the mean excess kurtosis of the units' linear responses (decorrelated: "
            "after symmetric decorrelation, so that copies of one filter count once); scores are "
            "negative mean squared reconstruction errors per pixel (whitened units); test patches "
            "come from a different region of the photographs (the bottom quarter).\n\n"
            + table(d))


if __name__ == "__main__":
    raise SystemExit(main(build, description=__doc__.splitlines()[0]))
