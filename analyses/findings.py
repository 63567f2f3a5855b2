"""Findings generated from a study's test table: one sentence per task and primary comparison.

The sentences are the only result statements of ``REPORT.md`` (its *Findings* section is
:func:`markdown`, also written as ``findings.md`` next to ``summary.md`` for a README to quote).
Each is built from one row of the test table (`analyses.comparisons.table`, as
`analyses.summary.data` returns it and ``summary_tests.csv`` stores it) in fixed wording,
whether significant or not::

    digits: Hebbian (competitive), inhibition 0.3 vs Backprop MLP, steady: +0.4 pp
    [95% CI −0.3, +1.1], not significant (Holm p = 0.41; d_z = +0.21; an effect above 0.9 pp
    would have been detected with 80% power; 10 splits).

A significant comparison reads ``significant (Holm p = 0.003; d_z = −1.90; 10 splits)``; the
difference is the first model minus the second, so its sign is the direction. Where every seed
is tested on the same items (a fixed split), the sentence adds the test-sampling SD its CI omits.
"""

from __future__ import annotations

import numpy as np

from .stats import POWER

__all__ = ["sentence", "sentences", "markdown", "format_p"]

MINUS = "\u2212"


def _signed(x: float, digits: int = 1) -> str:
    return f"{round(x, digits) + 0.0:+.{digits}f}".replace("-", MINUS)


def format_p(p: float) -> str:
    """``= 0.41``, ``= 0.002`` or ``< 0.001``."""
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.2f}" if p >= 0.01 else f"= {p:.3f}"


def sentence(t: dict) -> str:
    """The finding of one comparison (a row of the test table, see the module docstring).

    Parameters
    ----------
    t : dict
        ``task``, ``label_a``, ``label_b``, ``n_pairs``, ``unit``, ``shared_test``,
        ``diff_pp_mean``, ``diff_pp_low``, ``diff_pp_high``, ``sd_diff_pp``, ``d_z``, ``mde_pp``,
        ``test_sd_pp``, ``n_test``, ``p_t_holm``, ``p_wilcoxon``, ``significant`` and ``note``.

    Returns
    -------
    str
        One sentence, ending with a full stop.
    """
    head = f"{t['task']}: {t['label_a']} vs {t['label_b']}"
    n, unit = int(t["n_pairs"]), t["unit"]
    if n < 2:
        return f"{head}: not tested ({n} paired {unit}; a paired test needs at least 2)."
    if t["note"] == "constant difference":
        return (f"{head}: {_signed(t['diff_pp_mean'])} pp on every one of the {n} {unit}, not tested by the "
                f"paired t (undefined for a constant difference; Wilcoxon p {format_p(t['p_wilcoxon'])}).")
    if t["sd_diff_pp"] == 0 and t["diff_pp_mean"] == 0:
        return f"{head}: the same accuracy on all {n} {unit}, not significant (no difference to test)."
    text = (f"{head}: {_signed(t['diff_pp_mean'])} pp [95% CI {_signed(t['diff_pp_low'])}, "
            f"{_signed(t['diff_pp_high'])}], ")
    inner = [f"Holm p {format_p(t['p_t_holm'])}", f"d_z = {_signed(t['d_z'], 2)}"]
    if not t["significant"]:
        inner.append(f"an effect above {t['mde_pp']:.1f} pp would have been detected with {POWER:.0%} power")
    inner.append(f"{n} {unit}")
    if t["shared_test"] and np.isfinite(t["test_sd_pp"]):
        inner.append(f"one test set of {int(t['n_test'])} items for all, whose sampling SD of about "
                     f"{t['test_sd_pp']:.1f} pp this CI omits")
    return text + ("significant" if t["significant"] else "not significant") + f" ({'; '.join(inner)})."


def sentences(tests, family: str = "primary") -> list[str]:
    """:func:`sentence` of every comparison of ``family`` in ``tests``, in table order (by task,
    then in the family's declared order)."""
    return [sentence(t) for t in tests if t["family"] == family]


def markdown(d: dict) -> str:
    """The findings as Markdown: what they are, then one bullet per task and primary comparison.

    Parameters
    ----------
    d : dict
        `analyses.summary.data`: its ``tests``, ``family`` and ``variation``.

    Returns
    -------
    str
        Generated text only (no title).
    """
    fam, tests = d["family"], d["tests"]
    primary = [t for t in tests if t["family"] == "primary"]
    size = max((t["family_size"] for t in primary), default=0)
    pairs = ", ".join(f"`{a}` vs `{b}`" for a, b in fam["primary"])
    origin = "declared by the study's `[comparisons]`" if fam["declared"] else "the default family"
    lines = [
        "Generated from the study's test table (`summary_tests.csv`) by `analyses.findings`: one sentence per "
        f"task and primary comparison ({pairs or 'none'}, {origin}), significant or not. The difference is "
        "the first model's test accuracy minus the second's in percentage points, the mean over the seeds "
        "with its 95% t CI; significance: paired t-test over seeds, Holm-adjusted within the primary family "
        f"({size} paired t-tests; a comparison without one is not counted), α = 0.05; d_z = mean / SD of "
        "the paired differences; the detectable effect is the "
        f"one a two-sided paired t-test at α = 0.05 (not Holm-adjusted) detects with {POWER:.0%} power at "
        "the observed SD. What varies across seeds: "
        + "; ".join(f"{task}: {v['varies']}" for task, v in d["variation"].items()) + ".",
        "",
    ]
    found = sentences(tests)
    lines += [f"- {s}" for s in found] if found else ["- No primary comparison has runs to compare."]
    rest = sum(t["family"] == "exploratory" for t in tests)
    if rest:
        lines += ["", f"The other {rest} comparisons are exploratory (Holm-corrected within their own family; "
                      "`summary_tests.csv`, family `exploratory`, and the summary tables) and are not findings."]
    return "\n".join(lines) + "\n"
