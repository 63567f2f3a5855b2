"""``neurocompare run``: one model on one task (a registered task or the user's own data file).

Without ``--out`` the model is trained in this process (task seed and model seed ``--seed``),
and ``--save`` / ``--history`` write its model file and History. With ``--out DIR`` the run is a
study of one run (one task, one model, one seed index, ``root_seed = --seed``) executed by the
study's worker into a results store at ``DIR``, which ``neurocompare report DIR`` and the
analyses read like any other.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.cli.common import parse_set, plain, result_line
from sim.errors import ValidationError

__all__ = ["add_parser", "cmd_run", "models_epilog"]


def models_epilog() -> str:
    """The models and presets, one line each, for ``run --help``."""
    from sim import models
    from sim.models import presets
    lines = ["models (--model; `neurocompare models` lists their parameters):"]
    for name in models.names():
        doc = (models.REGISTRY[name].__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<10} {models.REGISTRY[name].__name__}: {doc[0] if doc else ''}")
    lines.append("presets (--preset; `neurocompare presets` lists their parameters):")
    lines.append("  " + ", ".join(presets.names()))
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="train one model on one task and print its final metrics",
                       description=__doc__, epilog=models_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--task", help="task name (see `neurocompare tasks`)")
    source.add_argument("--data", metavar="FILE", help="your own data: an .npz with arrays X and y, a CSV with "
                        "a header row and a label column, or IDX images (with --labels)")
    p.add_argument("--labels", metavar="FILE", help="the IDX labels file of --data IDX images")
    p.add_argument("--label-column", default="label", help="label column of a --data CSV (default: label)")
    p.add_argument("--model", help="model name (see below); default: the preset's")
    p.add_argument("--preset", help="a named configuration (see below): its model, parameters and epochs")
    p.add_argument("--seed", type=int, default=0, help="root seed of the run and of the task (default 0)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the preset's, else 30)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model hyperparameter, repeatable, e.g. --set lr=0.01 --set hidden='(100,100)'")
    p.add_argument("--task-param", action="append", default=[], metavar="KEY=VALUE",
                   help="task parameter, repeatable, e.g. --task-param noise=0.2")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--save", metavar="M.npz", help="write the trained model (sim.models.load reads it)")
    p.add_argument("--history", metavar="H.json", help="write the per-epoch History as JSON")
    p.add_argument("--out", metavar="DIR", help="run as a one-run study into the results store DIR")
    p.set_defaults(func=cmd_run)


def _model(args) -> tuple[str, dict, int]:
    """``(model name, constructor parameters without seed, epochs)`` of ``--model``/``--preset``/``--set``."""
    from sim.models import presets
    params = parse_set(args.set)
    if "seed" in params:
        raise ValidationError("--set", f"seed={params['seed']!r}", "the model's seed is --seed")
    name, epochs = args.model, args.epochs
    if args.preset is not None:
        preset = presets.get(args.preset)
        if name is not None and name != preset["model"]:
            raise ValidationError("--model", name, f"preset {args.preset!r} is a {preset['model']} preset")
        name = preset["model"]
        params = {**preset["params"], **params}
        epochs = preset["epochs"] if epochs is None else epochs
    if name is None:
        raise ValidationError("--model", None, "give --model NAME or --preset NAME (see `neurocompare run --help`)")
    return name, params, 30 if epochs is None else epochs


def _task_params(args) -> dict:
    params = parse_set(args.task_param, "--task-param")
    if "seed" in params:  # would be a TypeError: load(seed=...) twice
        raise ValidationError("--task-param", f"seed={params['seed']!r}", "the task's seed is --seed")
    if args.data is None and args.labels is not None:
        raise ValidationError("--labels", args.labels, "only with --data IMAGES (IDX files)")
    return params


def cmd_run(args) -> int:
    name, params, epochs = _model(args)
    task_params = _task_params(args)
    if args.out is not None:
        return _run_in_store(args, name, params, epochs, task_params)
    from sim import models, tasks
    if args.data is not None:
        task = tasks.from_file(args.data, labels=args.labels, label_column=args.label_column, seed=args.seed,
                               **task_params)
    else:
        task = tasks.load(args.task, seed=args.seed, **task_params)
    model = models.make(name, **params, seed=args.seed)
    model.fit(task, epochs=epochs, progress=sys.stderr.isatty() and not args.json)
    history = model.history_
    result = {
        "task": task.name, "model": name, "preset": args.preset, "seed": args.seed,
        "n_train": task.n_train, "n_val": task.n_val, "n_test": task.n_test,
        **model.evaluate_splits(task),  # the final model's (the best epoch's with early stopping)
        "epochs": history.epochs, "best_epoch": history.best_epoch, "seconds": history.last("seconds"),
        "diverged": history.diverged, "diverged_reason": history.diverged_reason,
        "params": plain(model.get_params()),
    }
    if args.save:
        model.save(args.save)
        result["saved"] = str(args.save)
    _write_history(args.history, history.to_dict())
    print(json.dumps(result) if args.json else result_line(result))
    return 0


def _write_history(path, history: dict | None) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(history, fh, indent=1)


def one_run_study(args, name: str, params: dict, epochs: int, task_params: dict) -> dict:
    """The study dict of ``run --out``: one task, one model, one seed index, ``root_seed = --seed``."""
    if args.data is not None:
        label = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(args.data).stem) or "data"
        task = {"file": str(Path(args.data).resolve()), "label_column": args.label_column, **task_params}
        if args.labels is not None:
            task["labels"] = str(Path(args.labels).resolve())
    else:
        label, task = args.task, {"task": args.task, **task_params}
    m_label = args.preset or name
    model = {"model": name, "epochs": epochs, **params}
    return {"name": f"run-{m_label}-{label}", "root_seed": args.seed, "seeds": 1, "epochs": epochs,
            "split": "fixed", "tasks": {label: task}, "models": {m_label: model}}


def _run_in_store(args, name, params, epochs, task_params) -> int:
    from sim.study import config, store
    from sim.study.backends import run_study
    if args.save:
        raise ValidationError("--save", args.save, "cannot be combined with --out (a results store keeps the "
                              "run's History, evaluation and arrays, not a model file); run without --out to save")
    study = config.load(one_run_study(args, name, params, epochs, task_params))
    spec = study.runs()[0]
    run_study(study, args.out, workers=1, progress=sys.stderr.isatty() and not args.json)  # one run: no lines
    result = store.open(args.out).load_run(spec["run_id"])
    if result["status"] == "failed":
        print(f"neurocompare: run failed: {result['error']}", file=sys.stderr)
        return 1
    ev = result["evaluation"]
    out = {"task": spec["task"], "model": name, "preset": args.preset, "seed": args.seed,
           "n_train": ev["n_train"], "n_val": ev["n_val"], "n_test": study.tasks[spec["task"]]["n_test"],
           **{k: ev[k] for k in ev if k.endswith(("_accuracy", "_loss"))},
           "epochs": ev["epochs"], "best_epoch": ev["best_epoch"], "seconds": ev["seconds"],
           "diverged": ev["diverged"], "diverged_reason": ev["diverged_reason"], "params": plain(spec["params"]),
           "run_id": spec["run_id"], "out": str(args.out)}
    _write_history(args.history, result["history"])
    print(json.dumps(out) if args.json else result_line(out) + f" -> {args.out} (`neurocompare report {args.out}`)")
    return 0
