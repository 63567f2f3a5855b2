"""The ``neurocompare`` command line."""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from pathlib import Path

from sim.errors import ValidationError

__all__ = ["main"]


def _parse_set(items: list[str], flag: str = "--set") -> dict:
    """``key=value`` pairs of option ``flag``; values are Python literals (``(100, 100)``, ``1e-3``) or strings."""
    params = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(flag, item, "must look like key=value")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        params[key.strip()] = value
    return params


def _cmd_tasks(args) -> int:
    from sim import tasks
    print(tasks.table())
    return 0


def _cmd_run(args) -> int:
    from sim import models, tasks
    task_params = _parse_set(args.task_param, "--task-param")
    if "seed" in task_params:  # would be a TypeError: load(seed=...) twice
        raise ValidationError("--task-param", f"seed={task_params['seed']!r}", "the task's seed is --seed")
    task = tasks.load(args.task, seed=args.seed, **task_params)
    params = _parse_set(args.set)
    params.setdefault("seed", args.seed)
    model = models.make(args.model, **params)
    progress = sys.stderr.isatty() and not args.json
    history = model.fit(task, epochs=args.epochs, progress=progress)
    result = {
        "task": task.name, "model": args.model, "seed": args.seed,
        "n_train": task.n_train, "n_val": task.n_val, "n_test": task.n_test,
        **model.evaluate_splits(task),  # the final model's (the best epoch's with early stopping)
        "epochs": history.epochs, "best_epoch": history.best_epoch, "seconds": history.last("seconds"),
        "diverged": history.diverged, "diverged_reason": history.diverged_reason,
        "params": {k: repr(v) if not isinstance(v, (int, float, str, bool, type(None))) else v
                   for k, v in model.get_params().items()},
    }
    if args.json:
        print(json.dumps(result))
    else:
        status = f"DIVERGED ({history.diverged_reason})" if history.diverged else "ok"
        print(f"{args.model} on {task.name} (seed {args.seed}, {history.epochs} epochs, "
              f"{result['seconds']:.2f} s training): train {result['train_accuracy']:.4f}, "
              f"validation {result['val_accuracy']:.4f}, test {result['test_accuracy']:.4f} [{status}]")
    return 0


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
        code = max(code, _build_figures(out, args.figures))
    return code


def _build_figures(out, figures) -> int:
    try:
        from analyses import report
    except ImportError as exc:
        if exc.name not in ("analyses", "analyses.report"):
            raise
        print("note: the analyses package (analyses.report) is not available; no figures written. "
              f"Results are in {out}.", file=sys.stderr)
        return 0
    result = report.build(out, figures)
    result = result if isinstance(result, dict) else {}
    failed = result.get("failed") or []
    print(f"{len(result.get('figures') or [])} figures and {result.get('report') or 'the report'} "
          f"-> {figures}" + (f"; {len(failed)} analyses failed" if failed else ""))
    for name, error in failed:
        print(f"analysis {name} failed: {error}", file=sys.stderr)
    return 1 if failed else 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurocompare", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tasks", help="list the tasks")
    p.set_defaults(func=_cmd_tasks)
    p = sub.add_parser("run", help="train one model on one task and print its final metrics")
    p.add_argument("--task", required=True, help="task name (see `neurocompare tasks`)")
    p.add_argument("--model", required=True, help="model name, e.g. backprop")
    p.add_argument("--seed", type=int, default=0, help="root seed of the run and of the task (default 0)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model hyperparameter, repeatable, e.g. --set lr=0.01 --set hidden='(100,100)'")
    p.add_argument("--task-param", action="append", default=[], metavar="KEY=VALUE",
                   help="task parameter, repeatable, e.g. --task-param noise=0.2")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("study", help="run a comparison study (tasks x models x seeds) into a results store",
                       description="Run a study; finished runs already in the store are skipped, so an "
                                   "interrupted study resumes where it stopped. A study with [tuning] "
                                   "tunes first (as `neurocompare tune`).")
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
    return parser


def _study_arguments(p) -> None:
    """The options `study` and `tune` share."""
    p.add_argument("--out", help="results directory (default: results/<study name>)")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel workers (default: number of cores; 1 = serial)")
    p.add_argument("--scheduler", help="Dask scheduler: 'local' starts a LocalCluster, or an address "
                   "like tcp://host:8786 (needs neurocompare[dask])")
    p.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="seconds to wait for the Dask scheduler at an address (default 10)")
    p.add_argument("--figures", default="figures", help="figures directory (default: figures)")
    p.add_argument("--no-figures", action="store_true", help="do not call the analyses afterwards")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--keep-failed", action="store_true",
                   help="do not retry runs recorded as failed (default: retry them)")
    p.set_defaults(func=_cmd_study)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValidationError as exc:
        print(f"neurocompare: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurocompare: interrupted (stored runs are kept; run the same command again to "
              "resume)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
