"""One writer per store, status on non-stores and stale tables, a damaged table.csv, and input
errors refused before anything is written (`sim.study.store.Store.writer_lock`,
`sim.study.backends.run_study`, ``neurocompare status``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from sim.cli import main
from sim.errors import ValidationError
from sim.study import store as store_mod
from sim.study.backends import run_study
from tests.study_helpers import ROOT, TINY, TINY_RUNS, _write, run_tiny_serial


@pytest.fixture(scope="module")
def tiny_serial(tmp_path_factory):
    return run_tiny_serial(tmp_path_factory)


def _copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


def _stderr_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


# ----------------------------------------------------------------------------- one writer per store
def test_second_writer_is_refused_while_the_lock_is_held(tiny_serial, tmp_path, capsys):
    out = _copy(tiny_serial[0], tmp_path / "out")
    path = _write(tmp_path)
    before = sorted(p.name for p in (out / "runs").iterdir())
    st = store_mod.Store(out)
    with st.writer_lock() as holder:
        assert holder["pid"] == os.getpid()
        record = json.loads((out / ".lock").read_text())
        assert record == holder and record["host"] == socket.gethostname()
        t0 = time.perf_counter()
        with pytest.raises(ValidationError) as info:
            run_study(path, out, workers=1, progress=False)
        assert time.perf_counter() - t0 < 5  # refused at once, not after waiting
        assert info.value.parameter == "out"
        message = str(info.value)
        assert "is in use by another neurocompare study" in message
        assert f"pid {os.getpid()} on {socket.gethostname()} since {holder['since']}" in message
        assert main(["study", str(path), "--out", str(out), "--no-figures", "--no-progress"]) == 2
        lines = _stderr_lines(capsys)
        assert len(lines) == 1 and "invalid out=" in lines[0] and f"pid {os.getpid()}" in lines[0]
        # readers never need the lock
        assert len(st.runs()) == TINY_RUNS and st.status()["finished"] == TINY_RUNS
        assert main(["status", str(out)]) == 0
    assert sorted(p.name for p in (out / "runs").iterdir()) == before  # nothing written
    # released: the next study runs and reuses every run
    summary = run_study(path, out, workers=1, progress=False)
    assert summary["skipped"] == TINY_RUNS and summary["computed"] == 0
    assert (out / ".lock").read_text() == ""  # no stale holder once released


def test_lock_is_released_on_exceptions_and_keyboard_interrupt(tmp_path):
    st = store_mod.Store(tmp_path / "s")
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc), st.writer_lock():
            raise exc()
        with st.writer_lock():  # free again
            pass


def test_lock_held_by_another_process(tmp_path):
    out = tmp_path / "out"
    code = ("import sys, time; from sim.study.store import Store\n"
            f"with Store({str(out)!r}).writer_lock():\n"
            "    print('locked', flush=True); sys.stdin.readline()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(ValidationError, match=f"pid {proc.pid} on "):
            run_study(_write(tmp_path), out, workers=1, progress=False)
        assert not (out / "runs").exists() and not (out / "manifest.json").exists()
    finally:
        proc.communicate("\n", timeout=30)
    assert proc.returncode == 0
    with store_mod.Store(out).writer_lock():  # the kernel released it with the process
        pass


# ----------------------------------------------------------------------------- status and the table
def test_status_on_a_directory_that_is_not_a_store(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["status", str(tmp_path)]) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1 and "not a results store" in lines[0] and str(tmp_path) in lines[0]


def test_status_reports_a_stale_table_and_rebuilds_it(tiny_serial, tmp_path, capsys):
    out = _copy(tiny_serial[0], tmp_path / "out")
    st = store_mod.open(out)
    assert st.table_state() == "current"
    good = (out / "table.csv").read_text()
    (out / "table.csv").unlink()
    assert st.table_state() == "missing"
    assert main(["status", str(out)]) == 0
    assert "table stale" in capsys.readouterr().err
    assert main(["status", str(out), "--rebuild-table"]) == 0
    capsys.readouterr()
    assert (out / "table.csv").read_text() == good and st.table_state() == "current"
    newest = st.json_path(st.run_ids()[0])
    later = (out / "table.csv").stat().st_mtime_ns + 10**9
    os.utime(newest, ns=(later, later))  # a run file newer than the table
    assert st.table_state() == "stale"
    assert main(["status", str(out)]) == 0
    err = capsys.readouterr().err
    assert "table stale" in err and f"neurocompare status {out} --rebuild-table" in err
    assert main(["status", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["table"] == "stale"


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],               # cut mid-row
    lambda text: text[: text.index(",", 5000)],        # cut after a cell
    lambda text: "",                                   # emptied
    lambda text: text.replace(",", ";", 3),            # not the header
    lambda text: text + "x,y\n",                       # a short row
    lambda text: text + ",".join(["1"] * 30) + "\n",   # too many cells
    lambda text: text.replace(",3,", ",three,", 1),    # not a number
])
def test_damaged_table_raises_validation_error_naming_the_file(tiny_serial, tmp_path, damage):
    out = _copy(tiny_serial[0], tmp_path / "out")
    st = store_mod.open(out)
    path = out / "table.csv"
    path.write_text(damage(path.read_text()))
    with pytest.raises(ValidationError) as info:
        st.table()
    assert info.value.parameter == "table" and str(path) in str(info.value)


def test_table_is_rebuilt_when_a_study_is_interrupted(tmp_path, monkeypatch):
    import sim.study.backends as backends
    real = backends.execute_packed
    calls = []

    def interrupt_after_three(spec, threads):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(spec["run_id"])
        return real(spec, threads)
    monkeypatch.setattr(backends, "execute_packed", interrupt_after_three)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_study(_write(tmp_path), out, workers=1, progress=False)
    st = store_mod.open(out)
    assert st.table_state() == "current"
    assert sorted({row["run_id"] for row in st.table()}) == sorted(calls)
    with st.writer_lock():  # released despite the interrupt
        pass


# ----------------------------------------------------------------------------- input errors, nothing written
def test_non_utf8_config_is_refused_naming_it(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes(TINY.replace('name = "tiny"', 'name = "caf\xe9"').encode("latin-1"))
    out = tmp_path / "out"
    with pytest.raises(ValidationError) as info:
        run_study(path, out, workers=1, progress=False)
    assert info.value.parameter == "config" and "is not UTF-8 text" in str(info.value)
    assert main(["study", str(path), "--out", str(out), "--no-figures"]) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1 and "invalid config=" in lines[0] and "not UTF-8" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("sub", ["", "deeper"])
def test_out_naming_an_existing_file_is_refused(tmp_path, capsys, sub):
    target = tmp_path / "results.txt"
    target.write_text("not a directory")
    out = target / sub if sub else target
    with pytest.raises(ValidationError) as info:
        run_study(_write(tmp_path), out, workers=1, progress=False)
    assert info.value.parameter == "out"
    assert main(["study", "--quick", "--out", str(out), "--no-figures"]) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1 and "invalid out=" in lines[0] and "existing file" in lines[0]
    assert target.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.txt", "tiny.toml"]


def test_unreachable_scheduler_is_refused_before_the_store_exists(tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as info:
        run_study(_write(tmp_path), out, scheduler="tcp://127.0.0.1:9", scheduler_timeout=1,
                  progress=False)
    assert time.perf_counter() - t0 < 15
    assert info.value.parameter == "scheduler" and "cannot connect" in str(info.value)
    assert not out.exists()
    assert main(["study", "--quick", "--out", str(out), "--scheduler", "tcp://127.0.0.1:9",
                 "--scheduler-timeout", "1", "--no-figures"]) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1 and "invalid scheduler=" in lines[0]
    assert not out.exists()


def test_table_is_kept_recent_while_runs_arrive(tmp_path, monkeypatch):
    import sim.study.backends as backends
    monkeypatch.setattr(backends, "TABLE_EVERY", 0.0)  # only the 20x-its-cost spacing remains
    real, seen = store_mod.Store.rebuild_table, []

    def counting(self):
        seen.append(len(list(self.runs_dir.glob("*.json"))))
        return real(self)
    monkeypatch.setattr(store_mod.Store, "rebuild_table", counting)
    out = tmp_path / "out"
    run_study(_write(tmp_path), out, workers=1, progress=False)
    assert seen[0] == 1 and len(seen) >= 3 and seen == sorted(seen) and seen[-1] == TINY_RUNS
    assert store_mod.open(out).table_state() == "current"
