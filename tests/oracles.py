"""Hand-written oracles shared by the statistics tests."""

from __future__ import annotations

import numpy as np


def holm_by_hand(p):
    """Holm-adjusted p-values by the textbook step-down loop (independent of `analyses.stats.holm`)."""
    p = np.asarray(p, dtype=np.float64)
    out, running = np.empty(p.size), 0.0
    for i, j in enumerate(np.argsort(p)):
        running = max(running, min(1.0, (p.size - i) * p[j]))
        out[j] = running
    return out
