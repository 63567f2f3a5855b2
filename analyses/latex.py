"""LaTeX for papers: the summary table as a booktabs ``table`` (``summary.tex``) and one
``figure`` environment per figure of the report with its caption (``captions.tex``).

Both are plain text a paper includes (``\\input{summary.tex}``; copy a figure snippet); they need
the ``booktabs`` and ``graphicx`` packages. Text is escaped for LaTeX (``% & _ # $ { } ~ ^ \\``),
the few non-ASCII symbols the captions use become math (``±`` to ``$\\pm$``), Markdown code spans
become ``\\texttt``.
"""

from __future__ import annotations

import os
import re

import numpy as np

from . import style
from .text import pm

__all__ = ["escape", "summary_table", "captions", "figure_column", "TABLE_COLUMNS"]

_SPECIAL = {"\\": r"\textbackslash{}", "%": r"\%", "&": r"\&", "_": r"\_", "#": r"\#", "$": r"\$",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SYMBOLS = {"±": r"$\pm$", "−": r"$-$", "×": r"$\times$", "→": r"$\rightarrow$", "≤": r"$\leq$",
            "≥": r"$\geq$", "τ": r"$\tau$", "α": r"$\alpha$", "√": r"$\surd$", "½": r"$\frac{1}{2}$",
            "–": "--", "—": "---", "₀": r"$_0$", "₁": r"$_1$", "₂": r"$_2$", "ₙ": r"$_n$",
            "ₐ": r"$_a$", "·": r"$\cdot$", "’": "'", "“": "``", "”": "''"}
# (header, summary-row key or None for the runs column, digits)
TABLE_COLUMNS = (
    ("Test accuracy (\\%)", "test_accuracy_pct", 1),
    ("Train $-$ test gap (pp)", "gap_pp", 1),
    ("Noise AUC (\\%)", "noise_auc_pct", 1),
    ("Occlusion AUC (\\%)", "occlusion_auc_pct", 1),
)


def escape(text: str) -> str:
    """``text`` as LaTeX: special characters escaped, Markdown code spans as ``\\texttt``,
    emphasis (``*x*``) as ``\\emph``, known symbols as math."""
    parts = re.split(r"(`[^`]*`)", str(text))
    out = []
    for part in parts:
        code = part.startswith("`") and part.endswith("`") and len(part) >= 2
        body = part[1:-1] if code else part
        body = "".join(_SPECIAL.get(c, _SYMBOLS.get(c, c)) for c in body)
        if not code:
            body = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"\\emph{\1}", body)
        out.append(rf"\texttt{{{body}}}" if code else body)
    return "".join(out)


def cell(mean, ci, digits: int = 1) -> str:
    """A table cell: ``mean $\\pm$ ci`` as `analyses.text.pm` writes it ('---' when no mean)."""
    if not np.isfinite(mean):
        return "---"
    return escape(pm(mean, ci, digits))


def summary_table(d) -> str:
    """The summary rows of `analyses.summary.data` ``d`` as a booktabs table: one row per task and
    model (mean ± 95% CI half-width over seeds), a ``\\midrule`` between tasks."""
    n_max = max((r["n_seeds"] for r in d["rows"]), default=0)
    spec = "ll" + "r" * (len(TABLE_COLUMNS) + 1)
    lines = [r"\begin{table*}[tbp]", r"\centering", r"\small",
             r"\caption{" + escape(f"Final test accuracy, generalization gap and robustness per task and model: mean "
                                   f"± half-width of the 95% confidence interval (Student t) over seeds (up to "
                                   f"{n_max}). A diverged run counts at chance accuracy in the test accuracy; the "
                                   f"other columns average finished runs; runs = finished of planned.") + "}",
             r"\label{tab:summary}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(["Task", "Model"] + [h for h, _, _ in TABLE_COLUMNS] + ["Runs"]) + r" \\", r"\midrule"]
    for i, task in enumerate(d["tasks"]):
        rows = [r for r in d["rows"] if r["task"] == task]
        if i and rows:
            lines.append(r"\midrule")
        for k, r in enumerate(rows):
            cells = [escape(task) if k == 0 else "", escape(r["model_label"])]
            cells += [cell(r[f"{key}_mean"], r[f"{key}_ci95"], digits) for _, key, digits in TABLE_COLUMNS]
            cells.append(f"{r['n_finished']}/{r['n_planned']}")
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table*}", ""]
    return "\n".join(lines)


def figure_column(paths) -> str:
    """'single' or 'double': the column a saved figure was drawn for, read from its PDF's page
    width (or its PNG's pixel width at the current style's dpi)."""
    paths = [p for p in paths if os.path.exists(p)]
    for path in paths:
        if path.endswith(".pdf"):
            with open(path, "rb") as fh:
                head = fh.read()
            box = re.search(rb"/MediaBox\s*\[\s*[-\d.]+\s+[-\d.]+\s+([-\d.]+)", head)
            if box:
                return _nearest(float(box.group(1)) / 72.0)
    for path in paths:
        if path.endswith(".png"):
            import matplotlib.image
            width = matplotlib.image.imread(path).shape[1] / style.STYLES[style.current()]["dpi"]
            return _nearest(width)
    return "double"


def _nearest(width: float) -> str:
    return min(style.WIDTHS, key=lambda c: abs(style.WIDTHS[c] - width))


def captions(figures) -> str:
    """One LaTeX ``figure`` environment per figure dict (``name``, ``paths``, ``title``,
    ``caption``): the PDF at its column's width (``figure*`` across both columns), the caption,
    and the label ``fig:<name>``."""
    lines = ["% Figures of the report with their captions; needs \\usepackage{graphicx}.",
             "% Paths are relative to the folder of this file.", ""]
    for f in figures:
        paths = [p for p in f["paths"] if p.endswith((".pdf", ".png"))]
        if not paths:
            continue
        pdf = next((p for p in paths if p.endswith(".pdf")), paths[0])
        double = figure_column(paths) == "double"
        env = "figure*" if double else "figure"
        lines += [f"% {f['name']}: {f['title']}", rf"\begin{{{env}}}[tbp]", r"\centering",
                  rf"\includegraphics[width=\{'textwidth' if double else 'columnwidth'}]{{{os.path.basename(pdf)}}}",
                  r"\caption{\textbf{" + escape(f["title"]) + ".} " + escape(f["caption"]) + "}",
                  rf"\label{{fig:{f['name']}}}", rf"\end{{{env}}}", ""]
    return "\n".join(lines)
