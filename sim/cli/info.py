"""``neurocompare tasks``, ``models``, ``presets`` and ``compare``: what there is, and two stores side by side."""

from __future__ import annotations

import json

__all__ = ["add_parsers", "models_table", "presets_table"]


def _cmd_tasks(args) -> int:
    from sim import tasks
    print(tasks.table())
    return 0


def _value(v) -> str:
    return json.dumps(v) if isinstance(v, (dict, list, str, bool, type(None))) else repr(v)


def models_table() -> str:
    """Every model with its constructor parameters and their defaults (``name = default`` lines)."""
    from sim import models
    lines = []
    for name in models.names():
        cls = models.REGISTRY[name]
        doc = (cls.__doc__ or "").strip().splitlines()
        lines.append(f"{name} ({cls.__name__}): {doc[0] if doc else ''}")
        for key, value in models.make(name).get_params().items():
            lines.append(f"    {key} = {_value(value)}")
        lines.append("")
    return "\n".join(lines).rstrip()


def presets_table() -> str:
    """Every preset with its model, task, epochs and parameters (defaults: the model's)."""
    from sim.models import presets
    lines = []
    for name in presets.names():
        p = presets.get(name)
        lines.append(f"{name}: {p['model']}, {p['epochs']} epochs" + (f", for {p['task']}" if p.get("task") else ""))
        for key, value in p["params"].items():
            lines.append(f"    {key} = {_value(value)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n(other parameters: the model's defaults, `neurocompare models`)"


def _cmd_models(args) -> int:
    print(models_table())
    return 0


def _cmd_presets(args) -> int:
    print(presets_table())
    return 0


def _cmd_compare(args) -> int:
    from analyses import compare
    rows = compare.compare(args.dir_a, args.dir_b, kind=args.kind)
    if args.json:
        print(json.dumps(rows))
    else:
        print(compare.text(rows, args.dir_a, args.dir_b))
    return 0


def add_parsers(sub) -> None:
    """The ``tasks``, ``models``, ``presets`` and ``compare`` subcommands."""
    p = sub.add_parser("tasks", help="list the tasks")
    p.set_defaults(func=_cmd_tasks)
    p = sub.add_parser("models", help="list the models with their parameters and defaults")
    p.set_defaults(func=_cmd_models)
    p = sub.add_parser("presets", help="list the presets (named configurations) with their parameters")
    p.set_defaults(func=_cmd_presets)
    p = sub.add_parser("compare", help="paired differences (B - A) of test accuracy between two stores",
                       description="For every task and model present in both stores: the paired differences "
                                   "of test accuracy over their common seed indices (B - A, percentage points), "
                                   "mean with its 95%% t interval and the paired-t p (analyses.compare).")
    p.add_argument("dir_a", help="results store A")
    p.add_argument("dir_b", help="results store B")
    p.add_argument("--kind", default="standard", help="run kind to compare (default: standard)")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON list")
    p.set_defaults(func=_cmd_compare)
