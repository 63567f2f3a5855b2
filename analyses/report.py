"""The report of a study: run every analysis on a results store and write ``REPORT.md``, which
opens with the findings generated from the study's test table (`analyses.findings`, also written
as ``findings.md``; the report holds no other result statements), then embeds each figure (PNG)
with a caption saying what it shows and what to look for, followed by the summary tables (also
written as ``summary.md``, ``summary.csv`` and ``summary_tests.csv``).

``neurocompare study`` calls :func:`build` when its runs are done; to redraw from a stored
study without retraining: ``python -m analyses.report RESULTS_DIR [--out DIR] [--format png,pdf]``.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

from . import latex
from . import style as look
from ._panels import task_order
from .common import ModelLabels, finished_runs, group, main, model_order, open_store
from .comparisons import variation

__all__ = ["build", "SECTIONS"]

# (module, section title) in report order; modules marked optional may be absent
SECTIONS = (
    ("tuning", "Tuning", True),
    ("learning_curves", "Learning", False),
    ("generalization", "Generalization", False),
    ("capacity", "Hidden units", True),
    ("continual", "Sequential learning", False),
    ("bars", "Bars: which bars are on", True),
    ("boundaries", "Decision boundaries", False),
    ("receptive_fields", "Receptive fields", False),
    ("v1", "Receptive fields on natural images", True),
    ("representations", "Representations", False),
    ("dynamics", "Dynamics", True),
    ("alignment", "Alignment", True),
    ("factorial", "Factorial: dynamics x learning", True),
    ("robustness", "Adversarial robustness", True),
    ("cost", "Cost of inference", True),
    ("headline", "At a glance", False),
    ("summary", "Summary", False),
)


def _module(name: str, optional: bool):
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError as exc:
        if optional and exc.name == f"{__package__}.{name}":
            return None
        raise


def _header(results_dir) -> list[str]:
    st = open_store(results_dir)
    m = st.manifest()
    cfg = m.get("config") or {}
    runs = st.runs(include_failed=True)
    status = {}
    for r in runs:
        status[r.get("status", "?")] = status.get(r.get("status", "?"), 0) + 1
    kinds = {}
    for r in finished_runs(results_dir, None):
        kinds[r["config"]["kind"]] = kinds.get(r["config"]["kind"], 0) + 1
    seeds = cfg.get("seeds", "?")
    models = []
    registry = {info["model"]: info["model_name"] for info in (m.get("runs") or {}).values()}
    names = ModelLabels(runs, st.task_order())
    tasks = task_order(results_dir, cfg.get("tasks") or {})
    for label in model_order(cfg.get("models") or {}):
        spec = cfg["models"][label]
        what = [registry.get(label) or spec.get("model", "?")]
        if spec.get("preset"):
            what.append(f"preset `{spec['preset']}`")
        if spec.get("random_control") or spec.get("rule") == "none":
            what.append("fixed random hidden weights")
        variants = names.per_task(label, tasks)
        if len(variants) == 1:
            said = variants[0][0]
        elif variants:
            said = "; ".join(f"{text} on {', '.join(f'`{t}`' for t in ts)}" for text, ts in variants)
        else:
            said = "no stored run yet"
        models.append(f"  - `{label}` ({', '.join(what)}): {said}.")
    versions = m.get("versions") or {}
    pending = len(m.get("runs") or {}) - len(runs)
    lines = [f"# neurocompare report: study `{m.get('name', os.path.basename(str(results_dir)))}`", ""]
    if m.get("description"):
        lines += [m["description"][:1].upper() + m["description"][1:] + ".", ""]
    standard = group([r for r in runs if r["config"]["kind"] == "standard"], "task")
    varies = "; ".join(f"`{t}`: {variation(r['config'] for r in standard[(t,)])['varies']}"
                       for t in tasks if (t,) in standard)
    lines += [
        f"- **Seeds**: {seeds} (seed indices 0–{seeds - 1 if isinstance(seeds, int) else '?'}, root seed "
        f"{m.get('root_seed', '?')}, split `{cfg.get('split', 'per_seed')}`); every model of a seed "
        f"sees the same data, so comparisons are paired by seed. Across seeds varies: {varies or 'no run yet'}.",
        f"- **Tasks**: {', '.join(f'`{t}`' for t in task_order(results_dir, cfg.get('tasks') or {}))}.",
        "- **Models** (named by what each task's parameters make them; colours by study key):",
        *models,
        f"- **Runs**: {len(runs)} stored: " + ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
        + (f"; {pending} pending" if pending > 0 else "") + " (finished: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ").",
        f"- **Run** {m.get('created', '?')} – {m.get('updated', '?')} on `{m.get('host', '?')}`; "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
        f"- **Store**: `{results_dir}` (figures redrawn from it with `python -m analyses.report "
        f"{results_dir}`).", "",
        "Every curve, bar and point that averages seeds carries its 95% confidence interval (Student t) "
        "over seeds; panels of one stored run (decision boundaries, receptive fields, dynamics) and the "
        "seed-averaged similarity matrices and pooled distributions (CKA, RDMs, sparsity, selectivity) "
        "carry none, as their captions say. Accuracy panels mark chance (100 / classes). Colours are fixed "
        "per model in every figure. Each figure also exists as PDF (TrueType fonts) next to its PNG, drawn "
        "at the width of a journal column or page; `summary.tex` and `captions.tex` hold the summary table "
        "and every figure with its caption for LaTeX.",
        "",
    ]
    return lines


def build(results_dir, figures_dir="figures", formats=("png", "pdf"), style: str = "default") -> dict:
    """Run every analysis on ``results_dir`` and write the report into ``figures_dir``.

    Parameters
    ----------
    results_dir : str or Path
        A results store (`neurocompare study`).
    figures_dir : str or Path
        Output folder: the figures, ``REPORT.md``, ``findings.md``, ``summary.md``,
        ``summary.csv``, ``summary_tests.csv``, ``summary.tex`` (booktabs) and ``captions.tex``
        (one LaTeX ``figure`` environment with its caption per figure).
    formats : sequence of str
        Figure formats; PNG is always written (the report embeds it).
    style : {'default', 'paper'}
        The figure style (`analyses.style.STYLES`): 'paper' draws PNGs at 300 dpi with 7-8.5 pt
        text for a journal page; both draw every figure at its placed column width.

    Returns
    -------
    dict
        ``report`` (path of REPORT.md), ``figures`` (every analysis's figure dicts, each with
        its ``analysis``), ``skipped`` (``(analysis, reason)`` for analyses with nothing to show)
        and ``failed`` (``(analysis, error)`` for analyses that raised; the others still run).
    """
    with look.using(style):
        return _build(results_dir, str(figures_dir), tuple(dict.fromkeys(("png",) + tuple(formats))))


def _build(results_dir, figures_dir, formats) -> dict:
    os.makedirs(figures_dir, exist_ok=True)
    body, figures, skipped, failed = [], [], [], []
    for name, title, optional in SECTIONS:
        module = _module(name, optional)
        if module is None:
            continue
        try:
            figs = module.build(results_dir, figures_dir, formats)
        except Exception as exc:  # one broken analysis must not cost the others
            traceback.print_exc(file=sys.stderr)
            failed.append((name, f"{type(exc).__name__}: {exc}"))
            print(f"analyses.{name} failed: {exc}", file=sys.stderr)
            continue
        if not figs:
            skipped.append((name, getattr(module, "REQUIRES", "data this study did not produce")))
            continue
        body += [f"## {title}", "", f"*Redraw*: `python -m analyses.{name} {results_dir} --out {figures_dir}`.", ""]
        for fig in figs:
            figures.append({**fig, "analysis": name})
            png = next((p for p in fig["paths"] if p.endswith(".png")), fig["paths"][0])
            rel = os.path.relpath(png, figures_dir)
            files = ", ".join(f"`{os.path.relpath(p, figures_dir)}`" for p in fig["paths"])
            body += [f"### {fig['title']}", "", f"![{fig['title']}]({rel})", "", fig["caption"], "",
                     f"*Files*: {files}.", ""]
        if name == "summary":
            summary_md = os.path.join(figures_dir, "summary.md")
            with open(summary_md, encoding="utf-8") as fh:
                text = fh.read().split("\n", 2)[2]  # drop its own "# Summary" title
            body += ["### Summary tables", "", text.replace("\n### ", "\n#### ").strip(), "",
                     "Also as CSV: `summary.csv` (one row per task and model) and `summary_tests.csv` "
                     "(one row per comparison); for LaTeX: `summary.tex` (a booktabs table) and `captions.tex` "
                     "(every figure with its caption).", ""]
    lines = _header(results_dir)
    findings_md = os.path.join(figures_dir, "findings.md")
    findings = []
    if "summary" not in {n for n, _ in failed + skipped} and os.path.exists(findings_md):
        with open(findings_md, encoding="utf-8") as fh:
            findings = ["## Findings", "", fh.read().split("\n", 2)[2].strip(), ""]  # without its title
    contents = [f"- [{f['title']}](#{_anchor(f['title'])})" for f in figures]
    if contents:
        lines += ["## Contents", "", *(["- [Findings](#findings)"] if findings else []), *contents,
                  "- [Summary tables](#summary-tables)", ""]
    if skipped or failed:
        lines += ["## Not shown", ""]
        lines += [f"- `{n}`: nothing to show; it needs {why}." for n, why in skipped]
        lines += [f"- `{n}`: **failed** ({err}); see the error output of the command." for n, err in failed]
        lines.append("")
    with open(os.path.join(figures_dir, "captions.tex"), "w", encoding="utf-8", newline="") as fh:
        fh.write(latex.captions(figures))
    path = os.path.join(figures_dir, "REPORT.md")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\n".join(lines + findings + body).rstrip() + "\n")
    return {"report": path, "figures": figures, "skipped": skipped, "failed": failed}


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    keep = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return keep.replace(" ", "-")


def _cli_build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list[dict]:
    result = build(results_dir, out_dir, formats)
    return result["figures"] + [{"paths": [result["report"]]}]


if __name__ == "__main__":
    raise SystemExit(main(_cli_build, description=__doc__))
