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

from sim.study import store

__all__ = ["open_store", "finished_runs", "group", "main", "MODEL_ORDER", "model_order"]

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


def main(build, argv=None, description: str = "") -> int:
    """Command line of one analysis: ``RESULTS_DIR [--out DIR] [--format png,pdf]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("results_dir", help="a results store written by `neurocompare study`")
    parser.add_argument("--out", default="figures", help="output folder (default: figures)")
    parser.add_argument("--format", default="png,pdf", help="comma-separated formats (default: png,pdf)")
    args = parser.parse_args(argv)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    for fig in build(args.results_dir, args.out, formats):
        for path in fig["paths"]:
            print(path)
    return 0
