"""Small helpers the analyses share: task order, per-seed statistics, panel grids, CI bands and
one figure-level legend. Private to ``analyses``; the look itself lives in `analyses.style`."""

from __future__ import annotations

import math

import numpy as np

from . import style
from .common import model_order, open_store
from .stats import mean_ci

__all__ = ["task_order", "n_features", "stack_mean_ci", "panel_grid", "grouped_bars", "band", "model_legend",
           "ci_title", "pct", "PCT", "chance_levels", "chance_line", "chance_handle"]

PCT = (0.0, 100.0)  # the range of an accuracy in percent, for clipping CI bands
CHANCE_STYLE = (0, (1, 2))  # dotted: the chance level in every accuracy panel


def task_order(results_dir, labels) -> list[str]:
    """The distinct task labels of ``labels`` in the study's config order
    (`sim.study.store.Store.task_order`), unknown ones after, sorted."""
    rank = {t: i for i, t in enumerate(open_store(results_dir).task_order())}
    return sorted(set(labels), key=lambda t: (rank.get(t, len(rank)), t))


def n_features(results_dir, runs) -> dict:
    """Input dimension of every task of ``runs``: ``{task label: int}`` (each task's data is
    loaded once by the store, `sim.study.store.Store.task`; no model)."""
    st = open_store(results_dir)
    out = {}
    for r in runs:
        task = r["config"]["task"]
        if task not in out:
            out[task] = int(st.task(r).n_features)
    return out


def stack_mean_ci(rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean and 95% CI half-width of equal-length rows (one row per seed).

    Rows of unequal length are truncated to the shortest. Returns ``(values (n, T), mean (T,),
    ci (T,))``; the CI is NaN for a single seed.
    """
    length = min(len(r) for r in rows)
    values = np.array([np.asarray(r[:length], dtype=np.float64) for r in rows])
    stats = [mean_ci(values[:, j]) for j in range(length)]
    mean = np.array([s[0] for s in stats])
    ci = np.array([s[1] for s in stats])
    return values, mean, ci


def grouped_bars(tasks, models, min_width=None, per_bar=None, column: str = "double", aspect: float = 0.42):
    """One axis of bars grouped by task, one bar per model, at the width of ``column``
    (`analyses.style.figsize`; ``min_width`` and ``per_bar`` are accepted for older callers and
    ignored: the figure never grows with the number of bars).

    Returns ``(fig, ax, x, width)`` where ``x(i, j)`` is the centre of model ``j``'s bar in task
    ``i``'s group and ``width`` the bar slot; the task names label the groups.
    """
    style.apply()
    fig, ax = style.plt.subplots(figsize=style.figsize(column, aspect))
    width = 0.8 / len(models)
    ax.set_xticks(range(len(tasks)), tasks)
    return fig, ax, (lambda i, j: i - 0.4 + width * (j + 0.5)), width


def panel_grid(n: int, ncols: int = 3, width: float | None = None, height: float | None = None,
               column: str = "double", extra_height: float = 0.9, **kwargs):
    """A figure of ``column``'s width (`analyses.style.figsize`) with ``n`` panels wrapped into
    rows of at most ``ncols`` (fewer when that balances the rows); unused axes are hidden.

    ``width`` and ``height`` (inches) give a panel's shape only (height / width, default 0.8):
    the figure is always the column's width, so more panels make more rows, never a wider figure.
    ``extra_height`` (inches) is the room for the figure title and the legend below the panels.

    Returns ``(fig, axes)`` with ``axes`` a flat list of the ``n`` used axes.
    """
    style.apply()
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    ncols = math.ceil(n / nrows)  # 4 panels in rows of 3 become 2 x 2
    aspect = (height / width) if width and height else 0.8
    fig_width = style.figsize(column)[0]
    panel_h = min(aspect * fig_width / ncols, 3.0)
    fig, axes = style.plt.subplots(nrows, ncols, figsize=style.figsize(column, height=panel_h * nrows + extra_height),
                                   squeeze=False, **kwargs)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def chance_levels(results_dir, runs) -> dict:
    """Chance accuracy in percent of every task of ``runs``: ``{task label: 100 / n_classes}``
    (each task's data loaded once by the store, `sim.study.store.Store.task`)."""
    st = open_store(results_dir)
    out = {}
    for r in runs:
        task = r["config"]["task"]
        if task not in out:
            out[task] = 100.0 / int(st.task(r).n_classes)
    return out


def chance_line(ax, level, xspan=None):
    """The chance level (percent) as a dotted grey line across ``ax`` (or over ``xspan = (x0, x1)``
    in data units); nothing for a missing level."""
    if level is None or not math.isfinite(level):
        return
    if xspan is None:
        ax.axhline(level, color=style.CHANCE_COLOR, linewidth=1.0, linestyle=CHANCE_STYLE, zorder=1)
    else:
        ax.plot(xspan, [level, level], color=style.CHANCE_COLOR, linewidth=1.0, linestyle=CHANCE_STYLE, zorder=3)


def chance_handle(text: str = "chance (100 / classes)"):
    """``(handle, text)`` of the chance line, for `model_legend`'s ``extra``."""
    from matplotlib.lines import Line2D
    return Line2D([], [], color=style.CHANCE_COLOR, linewidth=1.0, linestyle=CHANCE_STYLE), text


def band(ax, x, mean, ci, model: str, linestyle="-", marker=None, label=None, alpha=0.2,
         clip=(None, None)):
    """Mean line with a shaded 95% CI band in the model's colour; returns the line.

    ``clip = (low, high)`` keeps the band inside a quantity's range (e.g. 0-100% accuracy)."""
    x = np.asarray(x, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    ci = np.asarray(ci, dtype=np.float64)
    (line,) = ax.plot(x, mean, color=style.color(model), linestyle=linestyle, marker=marker,
                      markersize=4, label=label)
    if np.any(np.isfinite(ci)):
        low, high = mean - ci, mean + ci
        if clip[0] is not None or clip[1] is not None:
            low, high = np.clip(low, clip[0], clip[1]), np.clip(high, clip[0], clip[1])
        ax.fill_between(x, low, high, color=style.color(model), alpha=alpha, linewidth=0)
    return line


def ci_title(counts) -> str:
    """Legend title naming the CI and the number of seeds (one number if all models agree)."""
    counts = sorted(set(int(c) for c in counts))
    if len(counts) == 1:
        n = counts[0]
        return f"mean ± 95% CI over {n} seed{'s' if n != 1 else ''}"
    return "mean ± 95% CI over seeds (n per model)"


def model_legend(fig, models, counts=None, extra=(), ncols=None, title=None, labels=None):
    """One legend for the whole figure, below the panels: a line per model (its colour and
    label, with its seed count when the counts differ) plus ``extra`` ``(handle, text)`` pairs.

    ``labels`` maps a model key to its text (`analyses.common.ModelLabels.mapping` over the
    figure's tasks); keys it lacks fall back to `analyses.style.label`."""
    from matplotlib.lines import Line2D
    counts = counts or {}
    labels = labels or {}
    differ = len(set(counts.values())) > 1
    handles, texts = [], []
    for m in model_order(models):
        handles.append(Line2D([], [], color=style.color(m), linewidth=2.5))
        texts.append(labels.get(m, style.label(m)) + (f" (n = {counts[m]})" if differ and m in counts else ""))
    if title is None and counts:
        title = ci_title(counts.values())
    extra = list(extra)
    # as many columns as fit the figure's width (a character is about 0.55 em wide)
    char = 0.55 * style.fontsize("note") / 72

    def room(items):
        return 0.5 + char * max((len(t) for t in items), default=0)

    width = fig.get_figwidth()
    fit = int(width // room(texts + [t for _, t in extra]))
    if extra and fit < 2 and room(texts) + room([t for _, t in extra]) <= width:
        # models in the first column, the line styles in the second (a legend fills columns first)
        rows = max(len(texts), len(extra))
        blank = Line2D([], [], alpha=0.0)
        handles = handles + [blank] * (rows - len(texts)) + [h for h, _ in extra] + [blank] * (rows - len(extra))
        texts = texts + [""] * (rows - len(texts)) + [t for _, t in extra] + [""] * (rows - len(extra))
        ncols = 2
    else:
        handles += [h for h, _ in extra]
        texts += [t for _, t in extra]
        ncols = max(1, min(ncols or 4, fit, len(texts)))
    fig.legend(handles, texts, loc="outside lower center", ncols=ncols, title=title, frameon=False)


def pct(x) -> np.ndarray:
    """Fractions to percent."""
    return 100.0 * np.asarray(x, dtype=np.float64)
