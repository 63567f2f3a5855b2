"""What every analysis shares: reading a results store, grouping runs, and the command line.

Each analysis module ``analyses/<name>.py`` exposes

    data(results_dir) -> dict             the numbers behind its figures (tests check these)
    build(results_dir, out_dir="figures", formats=("png", "pdf")) -> list of dict
        each dict: {"name": figure file stem, "paths": [...], "title": str, "caption": str}

and runs as ``python -m analyses.<name> RESULTS_DIR [--out DIR] [--format png,pdf]`` through
:func:`main`. Analyses read the store only; they never train a model.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from sim.models import labels
from sim.study import store

from . import style

__all__ = ["open_store", "finished_runs", "group", "main", "MODEL_ORDER", "model_order", "ModelLabels"]

LEGEND_WIDTH = 64  # longest legend label that names the tasks of its variants
# order in legends and tables: the two networks first, then the controls
MODEL_ORDER = ("mlp", "backprop", "hebbian", "random", "readout")


def open_store(results_dir):
    """The verified results store at ``results_dir`` (a `sim.study.store.Store`; it also gives a
    run's task, its training rows and the study's task order)."""
    return store.open(results_dir)


def finished_runs(results_dir, kind: str | None = "standard") -> list[dict]:
    """Finished (not failed, not diverged) run results of one kind ('standard', 'subsample',
    'sequential'; None for all), in run_id order."""
    runs = open_store(results_dir).runs(include_failed=False)
    return [r for r in runs if r.get("status") == "finished" and (kind is None or r["config"]["kind"] == kind)]


def group(runs, *keys) -> dict:
    """Runs grouped by config fields, e.g. ``group(runs, "task", "model")`` -> {(task, model): [runs]}."""
    out = defaultdict(list)
    for r in runs:
        out[tuple(r["config"][k] for k in keys)].append(r)
    return dict(out)


def model_order(labels) -> list[str]:
    """Model labels in the house order (networks first, controls after, others alphabetically)."""
    rank = {m: i for i, m in enumerate(MODEL_ORDER)}
    return sorted(set(labels), key=lambda m: (rank.get(m, len(rank)), m))


class ModelLabels:
    """What each model of a study is, in words, from its runs' own parameters.

    A study's model key (``'hebbian'``) names a role, and its parameters may differ per task;
    the label of a key on one task is `sim.models.labels.describe` of that task's
    ``model_name`` and ``params``, and its label over several tasks is
    `sim.models.labels.describe_all`: true on each of them. Keys without a run (e.g.
    ``'input'``) fall back to `analyses.style.label`.

    Parameters
    ----------
    runs : iterable of dict
        Stored runs (any status, any kind): their ``config`` gives ``task``, ``model``,
        ``model_name`` and ``params``.
    task_order : sequence of str
        The study's task labels in config order (`sim.study.store.Store.task_order`); variants
        are listed in this order (other tasks after, sorted).
    """

    def __init__(self, runs, task_order=()):
        rank = {t: i for i, t in enumerate(task_order)}
        specs = {}
        for r in runs:
            cfg = r["config"]
            specs.setdefault(cfg["model"], {}).setdefault(cfg["task"], (cfg["model_name"], cfg["params"]))
        # model key -> {task label: (model_name, params)}, tasks in study order
        self.specs = {m: dict(sorted(by.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
                      for m, by in specs.items()}

    @classmethod
    def of(cls, results_dir, runs=None) -> ModelLabels:
        """The labels of the store at ``results_dir``, from ``runs`` (default: every stored run)."""
        st = open_store(results_dir)
        return cls(st.runs(include_failed=True) if runs is None else runs, st.task_order())

    def variants(self, model, tasks=None):
        """``([(model_name, params) per task], task labels)`` of study key ``model`` on ``tasks``
        (one task label, an iterable of them, or None: every task it ran on)."""
        by_task = self.specs[model]
        if isinstance(tasks, str):
            tasks = [tasks]
        names = [t for t in (by_task if tasks is None else tasks) if t in by_task] or list(by_task)
        return [by_task[t] for t in names], names

    def __call__(self, model: str, tasks=None, named: bool = False, width: int | None = LEGEND_WIDTH) -> str:
        """Label of ``model`` on ``tasks``: one task label, an iterable of them, or None (all tasks
        the model ran on); only the tasks it ran on count. With ``named``, a label that differs
        between the tasks says which variant holds on which task, if that fits in ``width``
        characters (`sim.models.labels.describe_all`)."""
        if model not in self.specs:
            return style.label(model)
        chosen, names = self.variants(model, tasks)
        return labels.describe_all(chosen, where=names if named else None, width=width)

    def model_part(self, model: str, tasks=None) -> str:
        """The model part of the label alone (e.g. 'Hebbian (competitive)')."""
        if model not in self.specs:
            return style.label(model)
        chosen, _ = self.variants(model, tasks)
        return " or ".join(dict.fromkeys(labels.parts(name, params)["model"] for name, params in chosen))

    def mapping(self, models, tasks=None, named: bool = True, width: int | None = LEGEND_WIDTH) -> dict:
        """``{model: label}`` on ``tasks`` for ``models`` (see :meth:`__call__`; legends name the
        tasks of each variant by default); keys whose labels coincide get their key appended in
        brackets, so that no two models share a legend entry."""
        out = {m: self(m, tasks, named, width) for m in models}
        seen = {}
        for text in out.values():
            seen[text] = seen.get(text, 0) + 1
        return {m: f"{text} [{m}]" if seen[text] > 1 else text for m, text in out.items()}

    def per_task(self, model: str, tasks=None) -> list[tuple[str, list[str]]]:
        """``[(label, [tasks])]``: the distinct labels of ``model`` with the tasks each is true on,
        in study order."""
        if model not in self.specs:
            return []
        chosen, names = self.variants(model, tasks)
        out = {}
        for spec, t in zip(chosen, names):
            out.setdefault(labels.describe(*spec), []).append(t)
        return list(out.items())


def main(build, argv=None, description: str = "") -> int:
    """Command line of one analysis: ``RESULTS_DIR [--out DIR] [--format png,pdf] [--style paper]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("results_dir", help="a results store written by `neurocompare study`")
    parser.add_argument("--out", default="figures", help="output folder (default: figures)")
    parser.add_argument("--format", default="png,pdf", help="comma-separated formats (default: png,pdf)")
    parser.add_argument("--style", default="default", choices=sorted(style.STYLES),
                        help="figure style: default, or paper (300 dpi, 7-8.5 pt text; default: default)")
    args = parser.parse_args(argv)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    with style.using(args.style):
        figs = build(args.results_dir, args.out, formats)
    for fig in figs:
        for path in fig["paths"]:
            print(path)
    return 0
