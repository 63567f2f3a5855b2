"""The study's local Dask cluster (`sim.study.dask_local`) and `sim.study.dask_backend.run_on_dask`:
forked workers give results bit-identical to serial execution, every run comes back exactly
once, a failing run is recorded as failed while the others land, and a cluster whose workers
all died fails its unfinished runs instead of waiting."""

from __future__ import annotations

import io

import numpy as np
import pytest
from study_helpers import TINY_RUNS, _snapshot, _strip, _write, assert_same_store, run_tiny_serial

from sim.study import config as study_mod
from sim.study.backends import run_study
from sim.study.pool import pool_start_method
from sim.study.worker import execute_packed

distributed = pytest.importorskip("distributed")


def unpack_arrays(blob):
    if not blob:
        return {}
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
needs_fork = pytest.mark.skipif(pool_start_method() != "fork", reason="forked Dask workers need the fork start method")


@pytest.fixture(scope="module")
def tiny_serial(tmp_path_factory):
    return run_tiny_serial(tmp_path_factory)


@pytest.fixture
def moons_specs(tmp_path):
    return [r for r in study_mod.load(_write(tmp_path)).runs() if r["task"] == "moons"]


@needs_fork
def test_forked_local_cluster_matches_serial(tiny_serial, tmp_path):
    src, _ = tiny_serial
    summary = run_study(_write(tmp_path), tmp_path / "dask", workers=2, scheduler="local", progress=False)
    assert summary["backend"] == "dask-local" and summary["computed"] == TINY_RUNS
    assert_same_store(tmp_path / "dask", _snapshot(src))


@needs_fork
def test_every_run_once_and_equal_to_serial_in_any_order(moons_specs):
    from sim.study.dask_backend import run_on_dask
    from sim.study.dask_local import LocalWorkers
    serial = {s["run_id"]: execute_packed(s, 1) for s in moons_specs}
    cluster = LocalWorkers(2, 1)
    try:
        assert cluster.alive() == 2
        got = list(run_on_dask(list(reversed(moons_specs)), 1, cluster.client, cluster.alive))
    finally:
        cluster.close()
    assert cluster.alive() == 0  # closing stops every worker process
    ids = [r["run_id"] for r, _ in got]
    assert sorted(ids) == sorted(serial) and len(ids) == len(set(ids))
    for result, blob in got:
        ref, ref_blob = serial[result["run_id"]]
        assert _strip(result) == _strip(ref)
        arrays, ref_arrays = unpack_arrays(blob), unpack_arrays(ref_blob)
        assert arrays.keys() == ref_arrays.keys()
        for key in arrays:
            np.testing.assert_array_equal(arrays[key], ref_arrays[key])


@needs_fork
def test_a_failing_run_is_failed_and_the_others_land(moons_specs, monkeypatch):
    import sim.study.worker as worker
    from sim.study.dask_backend import run_on_dask
    from sim.study.dask_local import LocalWorkers
    bad = moons_specs[1]["run_id"]
    original = worker._execute

    def flaky(spec):
        if spec["run_id"] == bad:
            raise RuntimeError("injected failure")
        return original(spec)
    monkeypatch.setattr(worker, "_execute", flaky)  # the forked workers inherit it
    cluster = LocalWorkers(2, 1)
    try:
        got = {r["run_id"]: r for r, _ in run_on_dask(moons_specs, 1, cluster.client, cluster.alive)}
    finally:
        cluster.close()
    assert sorted(got) == sorted(s["run_id"] for s in moons_specs)
    assert got[bad]["status"] == "failed" and got[bad]["error"] == "RuntimeError: injected failure"
    assert all(r["status"] != "failed" for rid, r in got.items() if rid != bad)


@needs_fork
def test_runs_fail_when_every_worker_died(moons_specs):
    from sim.study.dask_backend import run_on_dask
    from sim.study.dask_local import LocalWorkers
    cluster = LocalWorkers(2, 1)
    try:
        for proc in cluster.procs:
            proc.kill()
            proc.join()
        assert cluster.alive() == 0
        got = list(run_on_dask(moons_specs, 1, cluster.client, cluster.alive, poll=0.2))
    finally:
        cluster.close()
    assert sorted(r["run_id"] for r, _ in got) == sorted(s["run_id"] for s in moons_specs)
    assert all(r["status"] == "failed" and "died" in r["error"] for r, _ in got)


@needs_fork
def test_workers_exit_when_the_study_process_is_killed(tmp_path):
    import os
    import subprocess
    import sys
    import time
    script = tmp_path / "orphan.py"
    script.write_text("import os\nfrom sim.study.dask_local import LocalWorkers\nc = LocalWorkers(2, 1)\n"
                      "print(' '.join(str(p.pid) for p in c.procs), flush=True)\nos.kill(os.getpid(), 9)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{p}") for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
