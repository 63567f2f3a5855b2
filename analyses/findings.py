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

Given the store (``d["results_dir"]``), two more generated sections follow, each its own test
family (paired t over seeds, Holm within the section):

* **Bars** (`analyses.bars`): on a bars task the count label is a secondary task (its sentences
  above say so); the finding is the which-bars probe: exact-match accuracy of every code and of the
  raw pixels with 95% CIs, the bars-learned score per seed, and the primary pairs on the probe.
* **Sequential learning** (`analyses.continual`): per task, the forgetting of the first half
  (accuracy on it after phase 1 minus after phase 2, percentage points) of every model with its
  95% CI, and the primary pairs plus each sequential-only model against the first primary model.
"""

from __future__ import annotations

import numpy as np

from .stats import POWER, holm, paired_effect, paired_test

__all__ = ["sentence", "sentences", "markdown", "format_p", "paired_family", "bars_section", "sequential_section"]

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
    extra = _extra_sections(d)
    bars_tasks = set(extra.get("bars_tasks", ()))
    found = [(f"{t['task']} (count label, a secondary task; the which-bars probe below is the bars finding):"
              + sentence(t)[len(t["task"]) + 1:]) if t["task"] in bars_tasks else sentence(t)
             for t in tests if t["family"] == "primary"]
    lines += [f"- {s}" for s in found] if found else ["- No primary comparison has runs to compare."]
    rest = sum(t["family"] == "exploratory" for t in tests)
    if rest:
        lines += ["", f"The other {rest} comparisons are exploratory (Holm-corrected within their own family; "
                      "`summary_tests.csv`, family `exploratory`, and the summary tables) and are not findings."]
    for section in ("bars", "sequential"):
        if extra.get(section):
            lines += ["", *extra[section]]
    return "\n".join(lines) + "\n"


def _extra_sections(d) -> dict:
    """The bars and sequential sections of a stored study (empty without ``d["results_dir"]``)."""
    if not d.get("results_dir"):
        return {}
    from . import bars, continual  # analyses that read the same store
    pairs = [tuple(p) for p in d["family"]["primary"]]
    b = bars.data(d["results_dir"])
    c = continual.data(d["results_dir"])
    sequential = sequential_section(c, pairs)
    if sequential:  # every task of the study is accounted for
        sequential += [f"- {t}: no sequential runs (the study's sequential condition covers "
                       f"{', '.join(c['tasks'])})." for t in d["tasks"] if t not in c["tasks"]]
    return {"bars_tasks": b["tasks"], "bars": bars_section(b, pairs), "sequential": sequential}


def paired_family(values, pairs) -> list[dict]:
    """Paired t-tests over seeds of per-seed values, Holm-adjusted over the whole family.

    Parameters
    ----------
    values : dict
        ``{task: {model: {seed index: value}}}`` (values in the unit to report, e.g. pp).
    pairs : sequence of (str, str)
        ``(a, b)``: ``a - b`` is tested on every task where both have values on >= 2 common seeds.

    Returns
    -------
    list of dict
        ``task``, ``a``, ``b``, ``n``, the `analyses.stats.paired_effect` of the differences
        (``mean``, ``low``, ``high``, ``sd``, ``d_z``, ``mde``), ``p`` (paired t), ``p_holm`` and
        ``significant`` (``p_holm < 0.05``), in task then pair order.
    """
    out = []
    for task, by_model in values.items():
        for a, b in pairs:
            if a not in by_model or b not in by_model:
                continue
            seeds = sorted(set(by_model[a]) & set(by_model[b]))
            va = np.array([by_model[a][s] for s in seeds], dtype=np.float64)
            vb = np.array([by_model[b][s] for s in seeds], dtype=np.float64)
            ok = np.isfinite(va) & np.isfinite(vb)
            if ok.sum() < 2:
                continue
            eff = paired_effect(va[ok] - vb[ok])
            p = paired_test(va[ok], vb[ok]) if eff["sd"] > 0 or eff["mean"] == 0 else float("nan")
            out.append({"task": task, "a": a, "b": b, **eff, "p": p})
    tested = [i for i, t in enumerate(out) if np.isfinite(t["p"])]
    adjusted = holm([out[i]["p"] for i in tested]) if tested else []
    for t in out:
        t["p_holm"], t["significant"] = float("nan"), False
    for i, q in zip(tested, adjusted):
        out[i]["p_holm"], out[i]["significant"] = float(q), bool(q < 0.05)
    return out


def _interval(mean, ci, digits=1) -> str:
    if not np.isfinite(ci):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [95% CI {mean - ci:.{digits}f}, {mean + ci:.{digits}f}]".replace("-", MINUS)


def _pair_sentence(t, names, what, size) -> str:
    head = (f"{names(t['a'])} − {names(t['b'])}: {_signed(t['mean'])} pp "
            f"[95% CI {_signed(t['low'])}, {_signed(t['high'])}]")
    if not np.isfinite(t["p"]):
        return f"{head} on every one of the {t['n']} seeds, not tested by the paired t (a constant difference)"
    inner = [f"Holm p {format_p(t['p_holm'])} over the {size} {what} comparisons", f"d_z = {_signed(t['d_z'], 2)}"]
    if not t["significant"]:
        inner.append(f"an effect above {t['mde']:.1f} pp would have been detected with {POWER:.0%} power")
    inner.append(f"{t['n']} seeds")
    return f"{head}, {'significant' if t['significant'] else 'not significant'} ({'; '.join(inner)})"


def bars_section(b, pairs) -> list[str]:
    """Markdown lines of the which-bars finding (`analyses.bars.data` ``b``); [] without probes."""
    if not b["tasks"]:
        return []
    from .bars import PIXELS
    lines = ["### Bars: which bars are on", "",
             "The probe (`analyses.bars`): one logistic regression per bar on a representation, fitted on the "
             "training split with C chosen on validation, scored on the test split by exact match (every bar of "
             "an image right); bars learned: bars matched by distinct hidden units with Pearson r >= 0.8. "
             "Paired t over seeds, Holm within this section.", ""]
    values = {t: {m: dict(zip(p["seeds"], 100 * np.asarray(p["exact_match"]["values"])))
                  for m, p in b["probe"][t].items()} for t in b["tasks"]}
    tests = paired_family(values, pairs)
    for task in b["tasks"]:
        names = _namer(b["model_labels"], [m for m in b["probe"][task] if m != PIXELS], task, {PIXELS: "raw pixels"})
        probe = b["probe"][task]
        listed = "; ".join(f"{names(m)} {_interval(100 * p['exact_match']['mean'], 100 * p['exact_match']['ci'])}%"
                           for m, p in probe.items())
        n = max(p["exact_match"]["n"] for p in probe.values())
        learned = "; ".join(f"{names(m)} {' '.join(map(str, v['values']))} of {v['n_bars']} (min {v['min']})"
                            for m, v in b["learned"][task].items())
        lines.append(f"- {task}: exact-match accuracy of the which-bars probe ({n} seeds): {listed}. "
                     f"Bars learned per seed: {learned or 'no first-layer weights'}.")
        lines += [f"- {task}: {_pair_sentence(t, names, 'probe', len(tests))}." for t in tests if t["task"] == task]
    return lines


def sequential_section(c, pairs) -> list[str]:
    """Markdown lines of the sequential-learning findings (`analyses.continual.data` ``c``)."""
    if not c["tasks"]:
        return []
    models = {m for t in c["tasks"] for m in c["curves"][t]}
    primary = [p for p in pairs if p[0] in models and p[1] in models]
    anchor = primary[0][0] if primary else None
    named = {m for p in primary for m in p}
    extra = [(anchor, m) for m in sorted(models - named)] if anchor else []
    values = {t: {m: dict(zip(e["seeds"], 100 * np.asarray(e["forgetting"], dtype=np.float64)))
                  for m, e in c["curves"][t].items()} for t in c["tasks"]}
    tests = paired_family(values, primary + extra)
    lines = ["### Sequential learning", "",
             "Forgetting: a model's test accuracy on the first half of the classes at the end of phase 1 (trained "
             "on that half only) minus at the end of phase 2 (then trained on the second half only), in "
             "percentage points, mean with 95% CI over seeds; paired t over seeds, Holm within this section.", ""]
    for task in c["tasks"]:
        curves = c["curves"][task]
        first = next(iter(curves.values()))
        names = _namer(c["model_labels"], list(curves), task)
        halves = (f"classes {_classes(first['first'])}, then {_classes(first['second'])}")
        listed = "; ".join(f"{names(m)} {_interval(100 * e['forgetting_mean'], 100 * e['forgetting_ci'])} pp "
                           f"(from {100 * e['end_phase1_mean']:.1f}% to {100 * e['final_first_mean']:.1f}%)"
                           for m, e in curves.items())
        n = max(e["n"] for e in curves.values())
        lines.append(f"- {task}, sequential ({halves}; {n} seeds): forgetting of the first half: {listed}.")
        lines += [f"- {task}, sequential: {_pair_sentence(t, names, 'sequential', len(tests))}."
                  for t in tests if t["task"] == task]
    return lines


def _namer(model_labels, models, task, fixed=None):
    """``name(model)``: its label on ``task``, with its study key where two models share a label."""
    text = model_labels.mapping(models, [task], named=False)
    shared = {t for t in text.values() if list(text.values()).count(t) > 1}
    fixed = fixed or {}
    return lambda m: fixed.get(m) or (f"{text[m]} (`{m}`)" if text[m] in shared else text[m])


def _classes(classes) -> str:
    c = sorted(classes)
    return f"{c[0]}-{c[-1]}" if len(c) > 2 and c == list(range(c[0], c[-1] + 1)) else ",".join(map(str, c))
