"""Studies: execution. Results independent of order and process, failed and diverged runs,
bit-identical results across serial / process-pool / Dask, resumption after a SIGKILL, and the
study command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from study_helpers import (
    ROOT,
    TINY,
    TINY_RUNS,
    _snapshot,
    _strip,
    _table_without_clock,
    _write,
    assert_same_store,
    run_tiny_serial,
)

from sim.cli import main
from sim.errors import ValidationError
from sim.study import config as study_mod
from sim.study import store as store_mod
from sim.study.backends import run_study
from sim.study.store import Store
from sim.study.worker import execute_run


@pytest.fixture(scope="module")
def tiny_serial(tmp_path_factory):
    """The tiny study run once, serially (shared by several tests; they copy it if they edit)."""
    return run_tiny_serial(tmp_path_factory)


# ----------------------------------------------------------------------------- runs

def test_results_independent_of_order_and_process(tmp_path):
    runs = study_mod.load(_write(tmp_path)).runs()
    pick = [r for r in runs if r["task"] == "moons"]
    forward = {r["run_id"]: _strip(execute_run(r)[0]) for r in pick}
    backward = {r["run_id"]: _strip(execute_run(r, blas_threads=1)[0]) for r in reversed(pick)}
    assert forward == backward


def test_failed_and_diverged_runs_are_recorded_and_the_study_continues(tmp_path, monkeypatch):
    text = TINY.replace("lr = 0.01", 'lr = 1e30\noptimizer = "sgd"')  # the MLP blows up
    path = _write(tmp_path, text)
    import sim.study.worker as runner
    original = runner._execute

    def flaky(spec):
        if spec["model"] == "hebbian" and spec["task"] == "moons" and spec["seed"] == 1:
            raise RuntimeError("injected failure")
        return original(spec)

    monkeypatch.setattr(runner, "_execute", flaky)
    messages = []
    summary = run_study(path, tmp_path / "out", workers=1, progress=False, log=messages.append)
    assert summary["failed"] == 1 and summary["diverged"] == TINY_RUNS // 2
    assert summary["finished"] == TINY_RUNS - 1 - TINY_RUNS // 2
    st = store_mod.open(tmp_path / "out")
    failed = [r for r in st.runs() if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"] == "RuntimeError: injected failure"
    diverged = [r for r in st.runs() if r["status"] == "diverged"]
    assert all(r["history"]["diverged"] and r["error"] for r in diverged)
    assert any("injected failure" in m for m in messages)
    status = st.status()
    assert (status["finished"], status["diverged"], status["failed"], status["pending"]) == (
        summary["finished"], summary["diverged"], 1, 0)
    monkeypatch.setattr(runner, "_execute", original)  # the failed run is retried, nothing else
    again = run_study(path, tmp_path / "out", workers=1, progress=False)
    assert again["computed"] == 1 and again["finished"] == 1



# ----------------------------------------------------------------------------- backends

def test_serial_pool_and_dask_results_are_bit_identical(tiny_serial, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    src, _ = tiny_serial
    ref_metrics, ref_arrays = _snapshot(src)
    path = _write(tmp_path)
    pool = run_study(path, tmp_path / "pool", workers=2, progress=False)
    assert pool["backend"] == "processes" and pool["computed"] == TINY_RUNS
    monkeypatch.setenv("NEUROCOMPARE_MP_START", "forkserver")
    server = run_study(path, tmp_path / "forkserver", workers=2, progress=False)
    assert server["start_method"] == "forkserver" and server["computed"] == TINY_RUNS
    dask = run_study(path, tmp_path / "dask", workers=2, scheduler="local", progress=False)
    assert dask["backend"] == "dask-local" and dask["computed"] == TINY_RUNS
    for out in (tmp_path / "pool", tmp_path / "forkserver", tmp_path / "dask"):
        assert_same_store(out, (ref_metrics, ref_arrays))
        assert _table_without_clock(out / "table.csv") == _table_without_clock(src / "table.csv")


# ----------------------------------------------------------------------------- kill and resume

KILL = """
name = "kill"
seeds = 3
epochs = 12
[tasks.digits]
[models.hebbian]
model = "hebbian"
hidden = 100
hidden_epochs = 8
[models.mlp]
model = "backprop"
hidden = [32]
[conditions]
noise = [0.0, 0.5]
"""


def _json_files(out):
    return sorted((out / "runs").glob("[0-9a-f]*.json"))


def test_sigkill_mid_study_then_resume_loses_nothing(tmp_path):
    path = _write(tmp_path, KILL, "kill.toml")
    total = len(study_mod.load(path).runs())
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sim.cli", "study", str(path), "--out", str(out), "--workers", "1",
           "--no-figures", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline and not _json_files(out):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = _json_files(out)
    assert 1 <= len(done) < total, "the study must be killed mid-way"
    st = Store(out)
    stamps = {p.stem: (p.stat().st_mtime_ns, st.load_run(p.stem)["computed_at"]) for p in done}
    assert not (out / "table.csv").exists() or len(st.table()) == 0
    resumed = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    files = _json_files(out)
    assert len(files) == total == len({p.stem for p in files})
    assert set(st.run_ids()) == {p.stem for p in files}
    assert len(st.runs()) == total and st.status()["finished"] == total
    for rid, (mtime, computed_at) in stamps.items():  # finished runs were not recomputed
        assert st.json_path(rid).stat().st_mtime_ns == mtime
        assert st.load_run(rid)["computed_at"] == computed_at
    assert f"{total - len(done)} computed" in resumed.stdout
    reference = run_study(path, tmp_path / "reference", workers=1, progress=False)
    assert reference["computed"] == total
    assert _table_without_clock(out / "table.csv") == _table_without_clock(tmp_path / "reference" / "table.csv")
    assert not list((out / "runs").glob(".*.tmp"))


# ----------------------------------------------------------------------------- command line

def test_quick_study_from_the_command_line(tmp_path):
    # speed is measured in benchmarks, never asserted here; the timeout only stops a hung study
    out = tmp_path / "quick"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "study", str(ROOT / "studies" / "quick.toml"),
                           "--out", str(out), "--workers", "2", "--no-figures"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quick"]  # nothing written beside --out
    status = store_mod.open(out).status()
    assert status["finished"] == status["total"] == len(study_mod.load("quick").runs())
    assert f"{status['total']} computed" in proc.stdout


def test_study_command_calls_the_analyses_report(tmp_path, monkeypatch, capsys):
    import types
    calls = []
    fake = types.ModuleType("analyses.report")
    fake.build = lambda out, figures: calls.append((out, figures)) or {
        "report": f"{figures}/REPORT.md", "figures": [{}, {}], "skipped": [], "failed": []}
    package = types.ModuleType("analyses")
    package.report = fake
    monkeypatch.setitem(sys.modules, "analyses", package)
    monkeypatch.setitem(sys.modules, "analyses.report", fake)
    out, figs = tmp_path / "out", tmp_path / "figs"
    path = _write(tmp_path)
    assert main(["study", str(path), "--out", str(out), "--workers", "1", "--figures", str(figs)]) == 0
    assert calls == [(str(out), str(figs))]
    assert "2 figures" in capsys.readouterr().out
    fake.build = lambda out, figures: {"figures": [], "failed": [("summary", "ValueError: x")]}
    assert main(["study", str(path), "--out", str(out), "--workers", "1", "--figures", str(figs)]) == 1
    assert "summary failed" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "analyses", None)  # not installed: a note, no error
    monkeypatch.setitem(sys.modules, "analyses.report", None)
    assert main(["study", str(path), "--out", str(out), "--workers", "1"]) == 0
    assert "no figures written" in capsys.readouterr().err


def test_cli_argument_errors(tmp_path, capsys):
    assert main(["study", "quick", "--quick", "--out", str(tmp_path / "x")]) == 2
    assert "--quick" in capsys.readouterr().err
    assert main(["study", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "x")]) == 2
    assert "no such study file" in capsys.readouterr().err
    path = _write(tmp_path)
    assert main(["study", str(path), "--out", str(tmp_path / "x"), "--workers", "0"]) == 2
    assert "workers" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="blas_threads"):
        run_study(path, tmp_path / "y", workers=2, blas_threads=64, progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
