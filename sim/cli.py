"""The ``neurocompare`` command line."""

from __future__ import annotations

import argparse
import ast
import json
import sys

from .errors import ValidationError

__all__ = ["main"]


def _parse_set(items: list[str]) -> dict:
    """``key=value`` pairs; values are Python literals (``(100, 100)``, ``1e-3``) or strings."""
    params = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError("--set", item, "must look like key=value")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        params[key.strip()] = value
    return params


def _cmd_tasks(args) -> int:
    from . import tasks
    print(tasks.table())
    return 0


def _cmd_run(args) -> int:
    from . import models, tasks
    task = tasks.load(args.task, seed=args.seed, **_parse_set(args.task_param))
    params = _parse_set(args.set)
    params.setdefault("seed", args.seed)
    model = models.make(args.model, **params)
    progress = sys.stderr.isatty() and not args.json
    history = model.fit(task, epochs=args.epochs, progress=progress)
    result = {
        "task": task.name, "model": args.model, "seed": args.seed,
        "train_accuracy": history.last("train_accuracy"), "test_accuracy": history.last("test_accuracy"),
        "train_loss": history.last("train_loss"), "test_loss": history.last("test_loss"),
        "epochs": history.epochs, "seconds": history.last("seconds"),
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
              f"test {result['test_accuracy']:.4f} [{status}]")
    return 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValidationError as exc:
        print(f"neurocompare: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
