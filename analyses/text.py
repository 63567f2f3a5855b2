"""How numbers are written in the tables: a mean with its CI half-width, and a p-value."""

from __future__ import annotations

import numpy as np

__all__ = ["pm", "p_value"]


def pm(mean, ci, digits: int = 1, sign: bool = False) -> str:
    """``mean ± ci`` rounded to ``digits`` (thousands separated; '—' for a non-finite mean, the
    mean alone for a non-finite CI); ``sign`` writes a leading '+' on positive means."""
    if not np.isfinite(mean):
        return "—"
    text = f"{round(mean, digits) + 0.0:{'+' if sign else ''},.{digits}f}"  # + 0.0: no "-0.0"
    return text + (f" ± {ci:,.{digits}f}" if np.isfinite(ci) else "")


def p_value(p) -> str:
    """A p-value in two significant digits (scientific below 0.001); '—' when not finite."""
    if not np.isfinite(p):
        return "—"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"
