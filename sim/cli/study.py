"""``neurocompare study``, ``tune``, ``status`` and ``report``: studies into results stores.

Outputs: a study writes its runs to ``--out`` (default ``results/<study name>``) and its figures,
``REPORT.md`` and summary tables to ``--figures`` (default ``<out>/figures``); nothing else is
written. ``--dry-run`` lists the runs and their estimated cost and writes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.errors import ValidationError

__all__ = ["add_parsers", "build_figures", "dry_run"]


def _cmd_study(args) -> int:
    from sim.study import config as _study
    from sim.study.backends import run_study
    if getattr(args, "quick", False) and args.config:
        raise ValidationError("--quick", args.config, "give either a CONFIG or --quick, not both")
    config = "quick" if getattr(args, "quick", False) else (args.config or "default")
    study = _study.load(config)  # validated before anything runs
    if args.command == "tune" and not study.tuning:
        raise ValidationError("config", config, "has no [tuning] table (trials = N) and no [models.<label>.search] "
                              "space; `neurocompare study` runs a study without tuning")
    out = args.out or str(Path("results") / study.name)
    figures = args.figures or str(Path(out) / "figures")
    formats = _formats(args.format)
    if args.dry_run:
        return dry_run(study, out, figures, args.workers)
    summary = run_study(study, out, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.no_progress, retry_failed=not args.keep_failed,
                        scheduler_timeout=args.scheduler_timeout,
                        on_start=lambda st, _out: print(f"{st.summary()} -> {out}", file=sys.stderr))
    print(f"{summary['total']} runs: {summary['computed']} computed ({summary['finished']} finished, "
          f"{summary['diverged']} diverged, {summary['failed']} failed), {summary['skipped']} already "
          f"stored; {summary['seconds']:.1f} s wall clock ({summary['backend']}, "
          f"{summary['workers']} worker(s)) -> {out}")
    if study.tuning:
        t = study.tuning
        print(f"tuning: {len(t['pairs'])} (model, task) pairs x {t['trials']} trials x {len(t['seeds'])} seeds "
              f"({summary['trial_runs']} of the runs) by {t['metric']}; chosen parameters -> {summary['tuned']}")
    code = 1 if summary["failed"] else 0
    if not args.no_figures:
        code = max(code, build_figures(out, figures, formats, args.style))
    return code


def _formats(text):
    """``--format png,pdf`` as a tuple (None: the report's default)."""
    if text is None:
        return None
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    allowed = ("png", "pdf", "svg")
    for f in formats:
        if f not in allowed:
            raise ValidationError("--format", text, f"unknown format {f!r}; allowed: {', '.join(allowed)}")
    if not formats:
        raise ValidationError("--format", text, "give at least one format, e.g. png,pdf")
    return formats


def dry_run(study, out, figures, workers=None) -> int:
    """Print every run of ``study`` with its estimated cost and the totals; train and write nothing."""
    from sim.study.backends import cores
    from sim.study.progress import MEASURED_RATES, clock_text, cost
    specs = study.runs()
    costs = [cost(s, study) for s in specs]
    total = sum(costs) or 1.0
    print(f"{study.summary()}")
    print(f"{'run_id':<16}  {'task':<12} {'model':<14} {'seed':>4}  {'kind':<12} {'condition':<24} "
          f"{'epochs':>6}  {'cost':>7}")
    for s, c in sorted(zip(specs, costs), key=lambda sc: -sc[1]):
        cond = ",".join(f"{k}={v}" for k, v in s["condition"].items()) or "-"
        print(f"{s['run_id']:<16}  {s['task']:<12} {s['model']:<14} {s['seed']:>4}  {s['kind']:<12} "
              f"{cond[:24]:<24} {s['epochs']:>6}  {100 * c / total:6.2f}%")
    trials = study.trial_runs()
    if trials:  # each trial run: the standard run of its (model, task) with the configured parameters
        from sim.study.spec import trial_specs
        t = study.tuning
        trial_cost = sum(cost(s, study) * t["trials"] for m, task in t["pairs"]
                         for s in trial_specs(study, m, task, 0, study.model_for(m, task)[0]))
        costs = costs + [trial_cost / trials] * trials
        total = sum(costs)
        print(f"{trials} tuning trial runs before these (not listed), estimated as the configured parameters")
    print(f"{len(specs)} runs" + (f" after {trials} tuning trial runs" if trials else "")
          + f"; estimated cost {total:.3g} units (sim.study.progress.cost: "
          f"width x samples x epochs plus evaluations and a per-run overhead; the progress ETA converts "
          f"them to seconds from the first finished runs); longest run {100 * max(costs) / total:.1f}% of the total.")
    n = workers or cores()
    low, high = (max(sum(costs) * r / n, max(costs) * r) for r in MEASURED_RATES)
    print(f"roughly {clock_text(low)} to {clock_text(high)} of runs with {n} worker(s) (the rates measured on "
          f"a quiet and on a busy 2-core machine: sim.study.progress.MEASURED_RATES), plus the figures. "
          f"Would write runs to {out} and figures to {figures}; nothing was written.")
    return 0


def build_figures(out, figures, formats=None, style="default") -> int:
    """Build the report of store ``out`` into ``figures`` (`analyses.report.build`) in figure
    ``style`` ('default' or 'paper'); exit code 0 or 1."""
    try:
        from analyses import report
    except ImportError as exc:
        if exc.name not in ("analyses", "analyses.report"):
            raise
        print("note: the analyses package (analyses.report) is not available; no figures written. "
              f"Results are in {out}.", file=sys.stderr)
        return 0
    options = {} if formats is None else {"formats": formats}
    if style != "default":
        options["style"] = style
    result = report.build(str(out), str(figures), **options)
    result = result if isinstance(result, dict) else {}
    failed = result.get("failed") or []
    print(f"{len(result.get('figures') or [])} figures and {result.get('report') or 'the report'} "
          f"-> {figures}" + (f"; {len(failed)} analyses failed" if failed else ""))
    for name, error in failed:
        print(f"analysis {name} failed: {error}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_report(args) -> int:
    from sim.study import store
    st = store.open(args.dir)
    if not st.manifest_path.is_file():
        raise ValidationError("dir", args.dir, "is not a results store (no manifest.json); "
                              "`neurocompare study CONFIG --out DIR` creates one")
    return build_figures(args.dir, args.figures or str(Path(args.dir) / "figures"), _formats(args.format),
                         args.style)


def _cmd_status(args) -> int:
    from sim.study import store
    st = store.open(args.dir)  # refuses a store format this version does not read
    if not st.manifest_path.is_file():
        raise ValidationError("dir", args.dir, "is not a results store (no manifest.json); "
                              "`neurocompare study CONFIG --out DIR` creates one")
    manifest = st.manifest()
    note = st.format_note()
    if note and not args.json:
        print(f"note: {note}", file=sys.stderr)
    if args.rebuild_table:
        with st.writer_lock(parameter="dir"):
            rows = st.rebuild_table()
        print(f"{args.dir}: table.csv rebuilt ({rows} rows)", file=sys.stderr)
    status = st.status()
    table = st.table_state()
    if args.json:
        if "trials" in status:
            from sim.study import tuned
            progress = tuned.read_progress(args.dir) or {}
            status["trials"] = {k: v for k, v in status["trials"].items() if k != "ids" or args.ids}
            status["tuning"] = {k: progress.get(k) for k in ("stage", "rounds", "rounds_done", "trials_done", "trials")}
        print(json.dumps({**{k: v for k, v in status.items() if k != "ids" or args.ids}, "table": table,
                          "format": manifest.get("format")}))
        return 0
    if table != "current":
        why = {"missing": "table.csv is missing", "damaged": f"table.csv {st.table_problem()}"}.get(
            table, "table.csv is older than the newest run file")
        print(f"{args.dir}: table {'damaged' if table == 'damaged' else 'stale'} ({why}): rebuild with "
              f"`neurocompare status {args.dir} --rebuild-table`", file=sys.stderr)
    name = manifest.get("name", "?")
    if "trials" in status:
        _print_tuning(args.dir, status["trials"])
    print(f"{args.dir}: study {name!r}, {status['total']} runs")
    for key in ("finished", "diverged", "failed", "pending"):
        extra = f" ({status['corrupt']} corrupt)" if key == "pending" and status["corrupt"] else ""
        print(f"  {key:<9} {status[key]:>5}{extra}")
    if args.ids:
        for key in ("diverged", "failed", "pending"):
            for rid in status["ids"][key] + (status["trials"]["ids"][key] if "trials" in status else []):
                info = manifest.get("runs", {}).get(rid) or manifest.get("trials", {}).get(rid, {})
                print(f"  {key:<9} {rid}  {info.get('model', '?')} on {info.get('task', '?')}, "
                      f"seed {info.get('seed', '?')}, {info.get('kind', '?')}")
    return 0


def _print_tuning(directory, trials) -> None:
    """The tuning stage of a store: its progress (``tuning.json``) and its trial runs."""
    from sim.study import tuned
    progress = tuned.read_progress(directory) or {}
    stage = progress.get("stage", "started")
    rounds = f"round {progress.get('rounds_done', 0)} of {progress.get('rounds', '?')}"
    print(f"{directory}: tuning {'done' if stage == 'done' else 'in progress'} ({rounds}, "
          f"{progress.get('trials_done', 0)} of {progress.get('trials', '?')} trials per (model, task) by "
          f"{progress.get('metric', '?')}); {trials['total']} trial runs: "
          + ", ".join(f"{trials[k]} {k}" for k in ("finished", "diverged", "failed", "pending") if trials[k]))
    for pair in progress.get("pairs", []):
        best = pair.get("best") or {}
        chance = sum(r["at_chance"] > 0 for r in pair.get("trials", []))
        print(f"  {pair['model']} on {pair['task']}: best {best.get('value', float('nan')):.4f} (trial "
              f"{best.get('number', '?')})" + (f"; {chance} trial(s) with a run at chance" if chance else ""))
    if stage == "done":
        print(f"  chosen parameters: {Path(directory) / tuned.PRESETS}")


def add_parsers(sub) -> None:
    """The ``study``, ``tune``, ``status`` and ``report`` subcommands."""
    p = sub.add_parser("study", help="run a comparison study (tasks x models x seeds) into a results store",
                       description="Run a study; finished runs already in the store are skipped, so an "
                                   "interrupted study resumes where it stopped. A study with [tuning] "
                                   "tunes first (as `neurocompare tune`). Runs go to --out, figures and "
                                   "REPORT.md to --figures (default OUT/figures); nothing else is written.")
    p.add_argument("config", nargs="?", help="study TOML file or built-in name "
                   "(default: the default study, sim/study/builtin/default.toml)")
    p.add_argument("--quick", action="store_true", help="run the quick study (seconds)")
    _study_arguments(p)
    p = sub.add_parser("tune", help="run a study with [tuning]: tune each model per task, then its runs",
                       description="Tune every (model, task) of a study with [tuning] on the validation "
                                   "split (TPE, equal trial budgets), write tuned.toml into the store, then "
                                   "run the study's runs with the chosen parameters; resumable like `study`.")
    p.add_argument("config", help="study TOML file with a [tuning] table (e.g. studies/tuning_digits.toml)")
    _study_arguments(p)
    p = sub.add_parser("status", help="finished / diverged / failed / pending runs of a results store")
    p.add_argument("dir", help="results directory")
    p.add_argument("--ids", action="store_true", help="list the runs that are not finished")
    p.add_argument("--json", action="store_true", help="print one JSON object (with \"table\": "
                   "current, stale, missing or damaged, and the store's \"format\")")
    p.add_argument("--rebuild-table", action="store_true",
                   help="rewrite table.csv from the run files first (refused while a study writes DIR)")
    p.set_defaults(func=_cmd_status)
    p = sub.add_parser("report", help="figures, REPORT.md and summary tables of a stored study (no training)")
    p.add_argument("dir", help="results directory (a study's, or a `run --out` store)")
    p.add_argument("--figures", help="output directory (default: DIR/figures)")
    p.add_argument("--format", default=None, help="figure formats, comma-separated (default: png,pdf)")
    p.add_argument("--style", choices=("default", "paper"), default="default",
                   help="figure style: 'paper' draws 300 dpi PNGs with 7-8.5 pt text at journal column "
                        "widths (both styles embed TrueType fonts in PDFs)")
    p.set_defaults(func=_cmd_report)


def _study_arguments(p) -> None:
    """The options `study` and `tune` share."""
    p.add_argument("--out", help="results directory (default: results/<study name>)")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel workers (default: number of cores; 1 = serial)")
    p.add_argument("--scheduler", help="Dask scheduler: 'local' starts a LocalCluster, or an address "
                   "like tcp://host:8786 (needs neurocompare[dask])")
    p.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="seconds to wait for the Dask scheduler at an address (default 10)")
    p.add_argument("--figures", default=None, help="figures directory (default: OUT/figures)")
    p.add_argument("--format", default=None, help="figure formats, comma-separated (default: png,pdf)")
    p.add_argument("--no-figures", action="store_true", help="do not call the analyses afterwards")
    p.add_argument("--style", choices=("default", "paper"), default="default",
                   help="figure style: 'paper' draws 300 dpi PNGs with 7-8.5 pt text at journal column "
                        "widths (both styles embed TrueType fonts in PDFs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
    p.add_argument("--keep-failed", action="store_true",
                   help="do not retry runs recorded as failed (default: retry them)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs and their estimated cost; train nothing, write nothing")
    p.set_defaults(func=_cmd_study)
