"""One look for every figure: fixed colour-blind-safe colours per model, readable fonts,
labelled axes, and saving to PNG (viewing) and PDF (papers).

Colours are keyed by the study's model key (its role: 'mlp', 'hebbian', 'random'); what a model
*is* comes from its runs' parameters (`analyses.common.ModelLabels`, `sim.models.labels`), never
from its key. :data:`LABELS` only names the keys that have no parameters, such as 'input'."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # figures are files; no display needed
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["COLORS", "LABELS", "color", "label", "apply", "save", "plt"]

# Okabe & Ito (2008) colour-blind-safe palette; one colour per model role, in every figure
COLORS = {
    "backprop": "#0072B2",      # blue
    "mlp": "#0072B2",
    "hebbian": "#D55E00",       # vermillion
    "random": "#7F7F7F",        # grey: the random-features control
    "readout": "#009E73",       # bluish green: readout on raw inputs
    "feedback_alignment": "#CC79A7",
    "input": "#000000",
}
# text of keys that are no model with parameters (models are named by `analyses.common.ModelLabels`)
LABELS = {"input": "Input"}
_EXTRA = ["#E69F00", "#56B4E9", "#F0E442", "#999933"]


def color(model: str) -> str:
    """The colour of a model label; unknown labels get a stable extra colour."""
    return COLORS.get(model, _EXTRA[sum(map(ord, model)) % len(_EXTRA)])


def label(key: str) -> str:
    """Text of a key without parameters (e.g. 'input'); any other key is returned as it is."""
    return LABELS.get(key, key)


def apply() -> None:
    """Matplotlib defaults for figures that stay readable at half a page wide."""
    plt.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 150, "font.size": 10, "axes.titlesize": 11,
        "axes.labelsize": 10, "legend.fontsize": 8.5, "xtick.labelsize": 9, "ytick.labelsize": 9,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
        "grid.alpha": 0.3, "lines.linewidth": 1.8, "figure.constrained_layout.use": True,
    })


def save(fig, out_dir: str, name: str, formats=("png", "pdf")) -> list[str]:
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for fmt in formats:
        path = os.path.join(out_dir, f"{name}.{fmt}")
        fig.savefig(path)
        paths.append(path)
    plt.close(fig)
    return paths
