"""One look for every figure: fixed colour-blind-safe colours per model, journal figure widths,
fonts that stay readable where the figure is placed, and saving to PNG (viewing) and PDF (papers,
with TrueType fonts).

Two styles, chosen with :func:`use` (or :func:`using` for a block):

- ``default``: PNGs at 150 dpi for the report, text 7.5-9.5 pt;
- ``paper``: PNGs at 300 dpi, text 7-8.5 pt, thinner lines, for a journal page.

Both draw every figure at the width it is placed at in a journal, :data:`WIDTHS` (a single column,
3.5 in, or both columns, 7.2 in; :func:`figsize`), so no text shrinks below :data:`MIN_PT` when the
figure is placed (:func:`placed_min_pt`), and both embed fonts in PDFs as Type 42 (TrueType), never
Type 3 (``pdf.fonttype = 42``), as publishers require.

Colours are keyed by the study's model key (its role: 'mlp', 'hebbian', 'random'); what a model
*is* comes from its runs' parameters (`analyses.common.ModelLabels`, `sim.models.labels`), never
from its key. :data:`LABELS` only names the keys that have no parameters, such as 'input'."""

from __future__ import annotations

import contextlib
import os

import matplotlib

matplotlib.use("Agg")  # figures are files; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from sim.errors import ValidationError  # noqa: E402

__all__ = ["COLORS", "LABELS", "WIDTHS", "MIN_PT", "STYLES", "color", "label", "use", "using", "current",
           "apply", "fontsize", "figsize", "column_of", "text_sizes", "placed_min_pt", "save", "plt"]

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

# placed width of a figure in inches: one journal column or the whole text width (two columns)
WIDTHS = {"single": 3.5, "double": 7.2}
MIN_PT = 7.0  # smallest text size after placement, in points
CHANCE_COLOR = "0.35"  # the chance-level line in every accuracy panel

# font sizes in points by role; "note" is the smallest text a figure may draw (legends, labels
# inside panels, tick labels of dense matrices)
STYLES = {
    "default": {"dpi": 150, "sizes": {"note": 7.5, "tick": 7.5, "label": 8.0, "title": 8.5, "suptitle": 9.5},
                "rc": {"lines.linewidth": 1.5, "axes.linewidth": 0.8, "grid.alpha": 0.3}},
    "paper": {"dpi": 300, "sizes": {"note": 7.0, "tick": 7.0, "label": 7.5, "title": 8.0, "suptitle": 8.5},
              "rc": {"lines.linewidth": 1.1, "axes.linewidth": 0.6, "grid.alpha": 0.25,
                     "xtick.major.width": 0.6, "ytick.major.width": 0.6, "lines.markersize": 4}},
}
_state = {"style": "default"}


def color(model: str) -> str:
    """The colour of a model label; unknown labels get a stable extra colour."""
    return COLORS.get(model, _EXTRA[sum(map(ord, model)) % len(_EXTRA)])


def label(key: str) -> str:
    """Text of a key without parameters (e.g. 'input'); any other key is returned as it is."""
    return LABELS.get(key, key)


def use(name: str) -> None:
    """Make ``name`` (a key of :data:`STYLES`: 'default' or 'paper') the style of the figures
    drawn from now on; a `ValidationError` for any other name."""
    if name not in STYLES:
        raise ValidationError("style", name, f"one of {sorted(STYLES)}")
    _state["style"] = name


@contextlib.contextmanager
def using(name: str):
    """``with using('paper'): ...`` draws the figures of the block in style ``name`` and restores
    the previous style afterwards."""
    before = _state["style"]
    use(name)
    try:
        yield
    finally:
        _state["style"] = before


def current() -> str:
    """The name of the style in use."""
    return _state["style"]


def fontsize(role: str) -> float:
    """Font size in points of a text role of the current style: 'note' (the smallest: legends,
    text inside panels), 'tick', 'label', 'title' or 'suptitle'."""
    sizes = STYLES[_state["style"]]["sizes"]
    if role not in sizes:
        raise ValidationError("role", role, f"one of {sorted(sizes)}")
    return sizes[role]


def apply() -> None:
    """Matplotlib defaults of the current style (fonts sized for the placed width, Type 42 fonts
    in PDF and PostScript, constrained layout)."""
    spec = STYLES[_state["style"]]
    s = spec["sizes"]
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": spec["dpi"], "font.size": s["label"], "axes.titlesize": s["title"],
        "axes.labelsize": s["label"], "legend.fontsize": s["note"], "legend.title_fontsize": s["note"],
        "xtick.labelsize": s["tick"], "ytick.labelsize": s["tick"], "figure.titlesize": s["suptitle"],
        "figure.labelsize": s["label"], "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "figure.constrained_layout.use": True, "pdf.fonttype": 42, "ps.fonttype": 42,
        **spec["rc"],
    })


def figsize(column: str = "double", aspect: float = 0.6, height: float | None = None) -> tuple[float, float]:
    """``(width, height)`` in inches of a figure placed across ``column`` ('single': 3.5 in, one
    journal column; 'double': 7.2 in, the text width).

    Parameters
    ----------
    column : {'single', 'double'}
        Where the figure is placed; its width is :data:`WIDTHS` of it, whatever it shows (more
        panels wrap into more rows, never into a wider figure).
    aspect : float
        Height as a fraction of the width (used when ``height`` is None).
    height : float, optional
        Height in inches.
    """
    if column not in WIDTHS:
        raise ValidationError("column", column, f"one of {sorted(WIDTHS)}")
    width = WIDTHS[column]
    if height is None:
        if not aspect > 0:
            raise ValidationError("aspect", aspect, "a positive number")
        height = aspect * width
    return width, float(height)


def column_of(fig) -> str:
    """Which column ``fig`` is drawn for: the key of :data:`WIDTHS` equal to its width (within
    0.01 in); a `ValidationError` for a figure of any other width."""
    width = fig.get_figwidth()
    for name, w in WIDTHS.items():
        if abs(width - w) <= 0.01:
            return name
    raise ValidationError("figure width", width, f"one of the column widths {WIDTHS} (inches)")


def text_sizes(fig) -> list[tuple[float, str]]:
    """``(font size in points, text)`` of every visible, non-empty text of ``fig`` (titles, labels,
    tick labels, legends, annotations; a text in a hidden axes or legend does not count)."""
    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        out.append((float(t.get_fontsize()), t.get_text()))
    return out


def placed_min_pt(fig, column: str | None = None) -> float:
    """The smallest text size of ``fig`` in points once the figure is placed at its column's
    width: (smallest font size) x (placed width / figure width). ``column`` defaults to
    :func:`column_of`; infinite for a figure without text."""
    column = column or column_of(fig)
    sizes = [s for s, _ in text_sizes(fig)]
    return min(sizes, default=float("inf")) * WIDTHS[column] / fig.get_figwidth()


def save(fig, out_dir: str, name: str, formats=("png", "pdf")) -> list[str]:
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format (PNG at the style's dpi, PDF with
    Type 42 fonts); returns the paths and closes the figure."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    with plt.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}):
        for fmt in formats:
            path = os.path.join(out_dir, f"{name}.{fmt}")
            fig.savefig(path, dpi=STYLES[_state["style"]]["dpi"])
            paths.append(path)
    plt.close(fig)
    return paths
