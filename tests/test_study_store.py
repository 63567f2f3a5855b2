"""Studies: the results store (manifest, run files, table), atomic writes, corruption detection
and recomputation, the status command, and what the store answers about runs (task, training
rows, task order)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from study_helpers import TINY_RUNS, _strip, _write, run_tiny_serial

from sim import tasks
from sim.cli import main
from sim.errors import ValidationError
from sim.seeds import subsample_rng
from sim.study import config as study_mod
from sim.study import store as store_mod
from sim.study.backends import run_study
from sim.study.store import CorruptRun, atomic_write
from sim.tasks import subsample


@pytest.fixture(scope="module")
def tiny_serial(tmp_path_factory):
    """The tiny study run once, serially (shared by several tests; they copy it if they edit)."""
    return run_tiny_serial(tmp_path_factory)


# ----------------------------------------------------------------------------- store and table

def test_store_contents_and_table(tiny_serial):
    out, summary = tiny_serial
    assert summary["computed"] == TINY_RUNS and summary["finished"] == TINY_RUNS
    st = store_mod.open(out)
    manifest = st.manifest()
    assert manifest["root_seed"] == 3 and manifest["config"]["name"] == "tiny"
    assert {"python", "numpy", "scipy", "scikit-learn", "neurocompare"} <= set(manifest["versions"])
    assert len(manifest["runs"]) == TINY_RUNS and len(manifest["run_seconds"]) == TINY_RUNS
    results = st.runs()
    assert len(results) == TINY_RUNS
    std = next(r for r in results if r["config"]["kind"] == "standard" and r["config"]["task"] == "moons")
    ev = std["evaluation"]
    assert ev["noise"]["levels"] == [0.0, 0.5] and ev["occlusion"]["levels"] == [0.25]
    assert ev["noise"]["accuracy"][0] == pytest.approx(ev["test_accuracy"])  # std 0 = clean test
    assert ev["test_accuracy"] == std["history"]["records"][-1]["test_accuracy"]
    arrays = st.load_arrays(std["run_id"])
    assert arrays["probe_hidden"].shape[0] == arrays["probe_index"].shape[0] == 100
    assert arrays["grid_pred"].shape == (200, 200) and arrays["W1"].shape[1] == 2
    digits = next(r for r in results if r["config"]["kind"] == "standard" and r["config"]["task"] == "digits")
    assert "grid_pred" not in st.load_arrays(digits["run_id"])
    others = [r for r in results if r["config"]["kind"] != "standard"]
    assert others and all(r["arrays"] == [] and st.load_arrays(r["run_id"]) == {} for r in others)
    rows = st.table()
    assert len(rows) == sum(len(r["history"]["records"]) for r in results)
    assert [(r["run_id"], r["epoch"]) for r in rows] == sorted((r["run_id"], r["epoch"]) for r in rows)
    assert set(rows[0]) == set(store_mod.COLUMNS)
    mlp_row = next(r for r in rows if r["model"] == "mlp")
    heb_row = next(r for r in rows if r["model"] == "hebbian")
    assert np.isnan(mlp_row["active_fraction"]) and 0 <= heb_row["active_fraction"] <= 1
    sub = [r for r in rows if r["kind"] == "subsample"]
    assert {r["condition"] for r in sub} == {"train_per_class=5", "train_per_class=10"}
    assert not list((out / "runs").glob(".*.tmp"))


def test_sequential_runs_record_both_parts(tiny_serial):
    out, _ = tiny_serial
    seq = [r for r in store_mod.open(out).runs() if r["config"]["kind"] == "sequential"]
    assert len(seq) == 4
    for r in seq:
        curves = r["sequential"]
        assert curves["phase"] == [1, 1, 2, 2] and curves["epoch"] == [1, 2, 3, 4]
        # acc_first at the end of phase 1 = the model's evaluation at that moment = its history
        assert curves["acc_first"][1] == r["evaluation"]["phase1"]["acc_first"]
        assert curves["acc_first"][1] == r["history"]["records"][1]["test_accuracy"]
        assert curves["acc_second"][-1] == r["history"]["records"][-1]["test_accuracy"]
        assert curves["acc_second"][1] == 0.0  # classes 3-5 never seen in phase 1 (no outputs trained)


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    atomic_write(path, "old")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        atomic_write(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_corrupt_run_files_are_detected_and_recomputed(tiny_serial, tmp_path):
    import shutil
    src, _ = tiny_serial
    out = tmp_path / "out"
    shutil.copytree(src, out)
    st = store_mod.open(out)
    before = {r["run_id"]: _strip(r) for r in st.runs()}
    ids = sorted(before)
    truncated, edited = ids[0], ids[1]
    bad_npz = next(i for i in ids[2:] if st.load_run(i)["arrays"])  # only standard runs store arrays
    path = st.json_path(truncated)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    path = st.json_path(edited)
    text = path.read_text()
    value = json.loads(text)["evaluation"]["test_accuracy"]
    path.write_text(text.replace(f'"test_accuracy":{value!r}', f'"test_accuracy":{value + 0.01!r}', 1))
    assert path.read_text() != text
    npz = st.npz_path(bad_npz)
    npz.write_bytes(npz.read_bytes()[:-10])
    for rid in (truncated, edited, bad_npz):
        with pytest.raises(CorruptRun):
            st.load_run(rid)
        assert st.check(rid) == "corrupt"
    status = st.status()
    assert status["pending"] == 3 and status["corrupt"] == 3 and status["finished"] == TINY_RUNS - 3
    assert len(st.runs()) == TINY_RUNS - 3  # never silently used
    rest = [rid for rid in ids if rid not in (truncated, edited, bad_npz)]
    untouched = {rid: st.json_path(rid).stat().st_mtime_ns for rid in rest}
    messages = []
    summary = run_study(_write(tmp_path), out, workers=1, progress=False,
                        log=messages.append)
    assert summary["computed"] == 3 and sorted(summary["corrupt"]) == sorted([truncated, edited, bad_npz])
    assert any("checksum" in m for m in messages) and any("not valid JSON" in m for m in messages)
    assert {r["run_id"]: _strip(r) for r in st.runs()} == before
    assert {rid: st.json_path(rid).stat().st_mtime_ns for rid in rest} == untouched
    assert len(list((out / "runs" / "corrupt").iterdir())) >= 3  # kept aside, not deleted



def test_status_command(tiny_serial, tmp_path, capsys):
    import shutil
    src, _ = tiny_serial
    out = tmp_path / "out"
    shutil.copytree(src, out)
    st = store_mod.open(out)
    gone = st.run_ids()[:2]
    for rid in gone:
        st.json_path(rid).unlink()
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{TINY_RUNS} runs" in text
    counts = {line.split()[0]: int(line.split()[1]) for line in text.splitlines()[1:]}
    assert counts == {"finished": TINY_RUNS - 2, "diverged": 0, "failed": 0, "pending": 2}
    assert main(["status", str(out), "--json", "--ids"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(data["ids"]["pending"]) == sorted(gone)
    assert main(["status", str(tmp_path / "nowhere")]) == 2


# ----------------------------------------------------------------------------- what the store answers

def test_store_task_is_the_task_of_the_spec(tiny_serial):
    out, _ = tiny_serial
    st = store_mod.open(out)
    for r in st.runs():
        spec = r["config"]
        oracle = tasks.load(spec["task_name"], seed=spec["task_seed"], **spec["task_params"])
        assert st.task(r).fingerprint() == oracle.fingerprint()
        assert st.task(spec) is st.task(r)  # a result or its spec; cached
    seeds = {(r["config"]["task"], r["config"]["task_seed"]): st.task(r) for r in st.runs()}
    assert len({t.fingerprint() for t in seeds.values()}) == len(seeds) == 4  # 2 tasks x 2 seeds


def test_store_train_indices_replay_the_workers_subsets(tiny_serial):
    out, _ = tiny_serial
    st = store_mod.open(out)
    results = st.runs()
    kinds = {r["config"]["kind"] for r in results}
    assert kinds == {"standard", "subsample", "sequential"}
    for r in results:
        spec, task = r["config"], st.task(r)
        if spec["kind"] == "sequential":
            with pytest.raises(ValidationError, match="sequential"):
                st.train_indices(r)
            continue
        idx = st.train_indices(r)
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
        assert idx.size == r["evaluation"]["n_train"]  # what the worker recorded
        if spec["kind"] == "standard":
            np.testing.assert_array_equal(idx, np.arange(task.n_train))
            continue
        oracle = subsample(task, spec["condition"]["train_per_class"], subsample_rng(spec))
        np.testing.assert_array_equal(task.X_train[idx], oracle.X_train)
        np.testing.assert_array_equal(task.y_train[idx], oracle.y_train)
        np.testing.assert_array_equal(task.meta["index_train"][idx], oracle.meta["index_train"])
        np.testing.assert_array_equal(st.train_indices(spec), idx)


def test_store_task_order_is_the_config_order(tiny_serial, tmp_path):
    import shutil
    src, _ = tiny_serial
    configured = list(study_mod.load(_write(tmp_path)).tasks)
    assert configured == ["moons", "digits"] != sorted(configured)
    assert store_mod.open(src).task_order() == configured
    out = tmp_path / "out"
    shutil.copytree(src, out)
    st = store_mod.open(out)
    manifest = st.manifest()
    del manifest["tasks"]  # a store written before the manifest listed the tasks
    st.write_manifest(manifest)
    first_seen = list(dict.fromkeys(manifest["runs"][rid]["task"] for rid in sorted(manifest["runs"])))
    assert st.task_order() == first_seen and sorted(first_seen) == sorted(configured)
    st.manifest_path.unlink()  # no manifest: the run files, by run_id
    assert st.task_order() == list(dict.fromkeys(r["config"]["task"] for r in st.runs())) == first_seen


# ----------------------------------------------------------------------------- store formats
def _copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


def _stamps(out):
    return {p.name: p.stat().st_mtime_ns for p in sorted((out / "runs").glob("*.json"))}


def test_a_store_of_the_older_format_is_read_and_continued(tiny_serial, tmp_path, capsys):
    out = _copy(tiny_serial[0], tmp_path / "old")
    st = store_mod.open(out)
    manifest = st.manifest()
    assert manifest["format"] == store_mod.FORMAT == "neurocompare-store/2"
    manifest["format"] = "neurocompare-store/1"  # as a format-1 writer left it: no table checksum file
    st.write_manifest(manifest)
    (out / "table.check.json").unlink()
    stamps = _stamps(out)
    # readers: status and the analyses read it, saying what it is
    assert main(["status", str(out)]) == 0
    err = capsys.readouterr().err
    assert "older format neurocompare-store/1" in err and "table damaged" in err and "no checksum file" in err
    assert main(["status", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "neurocompare-store/1" and data["table"] == "damaged" and data["finished"] == TINY_RUNS
    from analyses.common import finished_runs
    assert len(finished_runs(out)) == len(finished_runs(tiny_serial[0])) > 0
    with pytest.raises(ValidationError, match="no checksum file"):
        st.table()
    # a writer: every finished run reused, the store continued as format 2, the upgrade recorded
    messages = []
    summary = run_study(_write(tmp_path), out, workers=1, progress=False, log=messages.append)
    assert summary["computed"] == 0 and summary["skipped"] == TINY_RUNS
    assert any("older format neurocompare-store/1" in m and "reuses its finished runs" in m for m in messages)
    assert _stamps(out) == stamps
    manifest = st.manifest()
    assert manifest["format"] == store_mod.FORMAT and st.format_note() is None
    assert [(u["from"], u["to"]) for u in manifest["upgraded"]] == [("neurocompare-store/1", store_mod.FORMAT)]
    assert st.table_state() == "current" and len(st.table()) == sum(
        len(r["history"]["records"]) for r in st.runs())


@pytest.mark.parametrize("fmt", ["neurocompare-store/3", None, 2, "neurocompare-model/2"])
def test_a_store_of_an_unknown_format_is_refused_before_anything_is_written(tiny_serial, tmp_path, capsys, fmt):
    out = _copy(tiny_serial[0], tmp_path / "other")
    manifest = json.loads((out / "manifest.json").read_text())
    if fmt is None:
        del manifest["format"]
    else:
        manifest["format"] = fmt
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(ValidationError) as info:
        run_study(_write(tmp_path), out, workers=1, progress=False)
    assert info.value.parameter == "out" and f"format {fmt!r}" in str(info.value)
    assert "new --out directory" in str(info.value)
    for args in (["study", str(_write(tmp_path)), "--out", str(out), "--no-figures"], ["status", str(out)]):
        assert main(args) == 2
        lines = capsys.readouterr().err.strip().split("\n")
        assert len(lines) == 1 and f"format {fmt!r}" in lines[0] and "does not read" in lines[0]
    with pytest.raises(ValidationError, match="does not read"):
        store_mod.open(out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before  # nothing recomputed, rewritten or mixed in


# ----------------------------------------------------------------------------- table integrity
def _cut_at_line(text):
    return text[:text.rindex("\n", 0, len(text) - 1) + 1]  # the last row gone, the file still ends a line


@pytest.mark.parametrize("cut, rows_left", [
    (_cut_at_line, -1),                                   # exactly at a line boundary: valid CSV, one row short
    (lambda text: text[:text.index("\n") + 1], 0),        # the header alone
    (lambda text: text[:len(text) // 2], None),           # mid-line
])
def test_a_truncated_table_is_detected_and_rebuilt(tiny_serial, tmp_path, capsys, cut, rows_left):
    out = _copy(tiny_serial[0], tmp_path / "out")
    st = store_mod.open(out)
    good = st.table_path.read_text()
    n_rows = good.count("\n") - 1
    st.table_path.write_text(cut(good))
    assert st.table_state() == "damaged"
    problem = st.table_problem()
    assert problem.startswith("is truncated")
    if rows_left is not None:
        assert f"{n_rows + rows_left if rows_left < 0 else rows_left} complete rows" in problem
    with pytest.raises(ValidationError) as info:
        st.table()
    assert info.value.parameter == "table" and "truncated" in str(info.value) and "--rebuild-table" in str(info.value)
    assert main(["status", str(out)]) == 0
    assert f"table damaged (table.csv {problem})" in capsys.readouterr().err
    assert main(["status", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["table"] == "damaged"
    assert main(["status", str(out), "--rebuild-table"]) == 0
    assert st.table_path.read_text() == good and st.table_state() == "current" and len(st.table()) == n_rows
    st.table_path.write_text(cut(good))
    run_study(_write(tmp_path), out, workers=1, progress=False)  # a writer rebuilds it too
    assert st.table_state() == "current" and st.table_path.read_text() == good


def test_an_edited_table_or_checksum_file_is_damaged(tiny_serial, tmp_path):
    out = _copy(tiny_serial[0], tmp_path / "out")
    st = store_mod.open(out)
    good, check = st.table_path.read_text(), out / "table.check.json"
    st.table_path.write_text(good.replace(",3,", ",4,", 1))  # same size, one digit changed
    assert st.table_state() == "damaged" and "does not match its checksum" in st.table_problem()
    st.table_path.write_text(good)
    assert st.table_state() == "current"
    for text, why in (("{", "damaged checksum file"), ('{"tables": []}', "damaged checksum file"),
                      ('{"tables": [{"bytes": "1", "sha256": 2}]}', "damaged checksum file")):
        check.write_text(text)
        assert st.table_state() == "damaged" and why in st.table_problem()
    check.unlink()
    assert st.table_state() == "damaged" and "no checksum file" in st.table_problem()


def test_readers_between_the_two_writes_of_a_rebuild_see_a_listed_table(tiny_serial, tmp_path, monkeypatch):
    import sim.study.table as table_mod
    out = _copy(tiny_serial[0], tmp_path / "out")
    st = store_mod.open(out)
    old = st.table_path.read_text()
    real = table_mod.atomic_write

    def killed_after_the_checksum_file(path, data):
        real(path, data)
        if path.name == "table.check.json":
            raise KeyboardInterrupt  # the writer dies between its two writes
    monkeypatch.setattr(table_mod, "atomic_write", killed_after_the_checksum_file)
    st.json_path(st.run_ids()[0]).unlink()  # the next table differs
    with pytest.raises(KeyboardInterrupt):
        st.rebuild_table()
    assert st.table_path.read_text() == old and st.table_problem() is None  # the old table: listed
    assert len(json.loads((out / "table.check.json").read_text())["tables"]) == 2
    monkeypatch.setattr(table_mod, "atomic_write", real)
    st.rebuild_table()
    assert st.table_state() == "current" and st.table_path.read_text() != old
