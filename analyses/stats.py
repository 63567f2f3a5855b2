"""Statistics for summaries: mean with a t-based 95% confidence interval, paired tests across
seeds, and Holm's step-down correction for several comparisons."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["mean_ci", "paired_test", "holm"]


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its two-sided confidence interval (Student t, n - 1 dof).

    NaNs (e.g. failed runs) are dropped; one value gives a half-width of NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float("nan")
    sem = x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * sem)


def paired_test(a, b, method: str = "t") -> float:
    """Two-sided p-value for paired samples (same seeds, same splits).

    ``method='t'``: paired t-test (`scipy.stats.ttest_rel`); ``'wilcoxon'``: signed-rank test
    (`scipy.stats.wilcoxon`; exact for small n). Identical samples give p = 1.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = a - b
    if np.allclose(d, 0):
        return 1.0
    if method == "wilcoxon":
        return float(stats.wilcoxon(a, b).pvalue)
    if method == "t":
        return float(stats.ttest_rel(a, b).pvalue)
    raise ValueError(f"unknown method {method!r}; valid: t, wilcoxon")


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (Holm 1979), in the input order.

    Sorted ascending, ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    order = np.argsort(p)
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.maximum.accumulate(adjusted)
    out = np.empty(m)
    out[order] = adjusted
    return out
