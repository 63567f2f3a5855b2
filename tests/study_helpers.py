"""What the study tests share: the tiny study, the helpers that compare results across backends,
and the serial run of the tiny study behind each module's ``tiny_serial`` fixture."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from sim.study import store as store_mod
from sim.study.backends import run_study

ROOT = Path(__file__).resolve().parents[1]

TINY = """
name = "tiny"
root_seed = 3
seeds = 2
epochs = 3
[tasks.moons]
n_train = 100
n_test = 100
[tasks.digits]
[models.mlp]
model = "backprop"
hidden = [8]
lr = 0.01
[models.hebbian]
model = "hebbian"
hidden = 16
hidden_epochs = 1
[conditions]
noise = [0.0, 0.5]
occlusion = [0.25]
train_per_class = { sizes = [5, 10], tasks = ["digits"] }
sequential = { tasks = ["digits"], first = [0, 1, 2], second = [3, 4, 5], epochs = 2 }
"""
TINY_RUNS = 2 * 2 * 1 + 2 * 2 * (1 + 2 + 1)  # moons: standard; digits: standard, 2 subsample, sequential


def _write(tmp_path, text=TINY, name="tiny.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _strip(result):
    """What must be bit-identical between backends: everything but wall-clock fields."""
    hist = result["history"]
    records = [{k: v for k, v in r.items() if k != "seconds"} for r in hist["records"]] if hist else None
    evaluation = {k: v for k, v in (result["evaluation"] or {}).items() if k != "seconds"}
    return json.dumps({"status": result["status"], "records": records, "evaluation": evaluation,
                       "diverged": hist and hist["diverged"], "sequential": result.get("sequential"),
                       "config": result["config"]}, sort_keys=True)


def _snapshot(out):
    st = store_mod.open(out)
    metrics = {r["run_id"]: _strip(r) for r in st.runs()}
    arrays = {rid: st.load_arrays(rid) for rid in metrics}
    return metrics, arrays


def assert_same_store(out, ref):
    """The store ``out`` holds the same runs, metrics and arrays (bit for bit) as ``ref``, a
    `_snapshot`."""
    ref_metrics, ref_arrays = ref
    metrics, arrays = _snapshot(out)
    assert metrics == ref_metrics
    assert arrays.keys() == ref_arrays.keys()
    for rid, arrs in arrays.items():
        assert arrs.keys() == ref_arrays[rid].keys()
        for key in arrs:
            np.testing.assert_array_equal(arrs[key], ref_arrays[rid][key])


def _table_without_clock(path):
    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if k not in store_mod.WALL_CLOCK_COLUMNS}
                for row in csv.DictReader(fh)]


def run_tiny_serial(tmp_path_factory):
    """The tiny study run serially into a fresh directory: ``(out, summary)`` (the body of each
    module's ``tiny_serial`` fixture)."""
    tmp = tmp_path_factory.mktemp("serial")
    summary = run_study(_write(tmp), tmp / "out", workers=1, progress=False)
    return tmp / "out", summary
