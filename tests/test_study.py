"""Studies: config validation, run expansion and seeds, the results store, resumption after a
SIGKILL, corruption detection, and bit-identical results across serial / process-pool / Dask."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.models import presets as presets_mod
from sim.study import store as store_mod
from sim.study import config as study_mod
from sim.cli import main
from sim.errors import ValidationError
from sim.study.backends import run_study
from sim.seeds import eval_rng, subsample_rng
from sim.study.worker import execute_run, load_task
from sim.study.store import CorruptRun, Store, atomic_write
from sim.tasks import subsample

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


def _table_without_clock(path):
    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if k not in store_mod.WALL_CLOCK_COLUMNS}
                for row in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def tiny_serial(tmp_path_factory):
    """The tiny study run once, serially (shared by several tests; they copy it if they edit)."""
    tmp = tmp_path_factory.mktemp("serial")
    summary = run_study(_write(tmp), tmp / "out", workers=1, progress=False)
    return tmp / "out", summary


# ----------------------------------------------------------------------------- config

@pytest.mark.parametrize("edit, key", [
    (lambda t: t.replace("[tasks.moons]", "[tasks.mooons]"), "tasks.mooons"),
    (lambda t: t.replace("n_train = 100", "n_trian = 100"), "tasks.moons.n_trian"),
    (lambda t: t.replace("n_train = 100", "n_train = -5"), "tasks.moons.n_train"),
    (lambda t: t.replace('lr = 0.01', 'lrr = 0.01'), "models.mlp.lrr"),
    (lambda t: t.replace('lr = 0.01', 'lr = "fast"'), "models.mlp.lr"),
    (lambda t: t.replace('lr = 0.01', 'lr = -1.0'), "models.mlp.lr"),
    (lambda t: t.replace('hidden = 16', 'hidden = "many"'), "models.hebbian.hidden"),
    (lambda t: t.replace('model = "backprop"', 'model = "backpropp"'), "models.mlp.model"),
    (lambda t: t.replace("seeds = 2", "seeds = -1"), "seeds"),
    (lambda t: t.replace("seeds = 2", "seeds = 0"), "seeds"),
    (lambda t: t.replace("seeds = 2", "seeds = 2.5"), "seeds"),
    (lambda t: t.replace("epochs = 3", "epochs = 0"), "epochs"),
    (lambda t: "colour = 1\n" + t, "colour"),
    (lambda t: t.replace("noise = [0.0, 0.5]", "noise = [0.0, -0.5]"), "conditions.noise[1]"),
    (lambda t: t.replace("noise = [0.0, 0.5]", "blur = [1]"), "conditions.blur"),
    (lambda t: t.replace("sizes = [5, 10]", "sizes = [5, 100000]"), "conditions.train_per_class"),
    (lambda t: t.replace("second = [3, 4, 5]", "second = [3, 4, 12]"), "conditions.sequential.second"),
    (lambda t: t.replace('tasks = ["digits"], first', 'tasks = ["mnist"], first'), "conditions.sequential.tasks[0]"),
    (lambda t: t + '[models.mlp.tasks.digits]\nbatch_size = 0\n', "models.mlp.tasks.digits.batch_size"),
    (lambda t: t + '[models.mlp.tasks.bars]\nlr = 0.1\n', "models.mlp.tasks.bars"),
])
def test_config_errors_name_the_key_and_run_nothing(tmp_path, capsys, edit, key):
    path = _write(tmp_path, edit(TINY))
    with pytest.raises(ValidationError) as info:
        study_mod.load(path)
    assert info.value.parameter == key
    assert key in str(info.value)
    out = tmp_path / "out"
    with pytest.raises(ValidationError):
        run_study(path, out, workers=1, progress=False)
    assert not out.exists()  # refused before any run started
    assert main(["study", str(path), "--out", str(out), "--no-figures"]) == 2
    assert key in capsys.readouterr().err
    assert not out.exists()


def test_unknown_names_list_the_allowed_ones(tmp_path):
    with pytest.raises(ValidationError, match="valid: .*moons.*digits.*mnist1d"):
        study_mod.load(_write(tmp_path, TINY.replace("[tasks.moons]", "[tasks.mooons]")))
    with pytest.raises(ValidationError, match="valid: .*lr.*batch_size"):
        study_mod.load(_write(tmp_path, TINY.replace("lr = 0.01", "lrr = 0.01")))
    with pytest.raises(ValidationError, match="allowed: .*root_seed.*seeds"):
        study_mod.load(_write(tmp_path, "colour = 1\n" + TINY))


def test_shipped_studies_validate_and_are_installed():
    quick, default = study_mod.load("quick"), study_mod.load("default")
    assert set(default.tasks) == {"xor", "moons", "spirals", "digits", "mnist1d", "bars"}
    assert set(default.models) >= {"mlp", "hebbian", "random"} and default.seeds == 5
    assert all(default.model_for("random", t)[0]["rule"] == "none" for t in default.tasks)
    assert all(default.model_for("hebbian", t)[0]["rule"] == "competitive" for t in default.tasks)
    assert default.model_for("mlp", "mnist1d") == (
        {**default.model_for("mlp", "digits")[0], **presets_mod.get("mlp_mnist1d")["params"]}, 150)
    assert quick.seeds == 2 and set(quick.tasks) == {"moons", "digits"}
    for name in ("default", "quick"):  # one copy: the top-level entries link to the packaged files
        top = ROOT / "studies" / f"{name}.toml"
        assert top.is_symlink() and top.read_text() == study_mod.builtin(name).read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"sim.study" = ["builtin/*.toml"]' in pyproject


def test_task_presets_and_the_random_control(tmp_path):
    text = TINY + """
[models.hebbian.tasks.digits]
preset = "hebbian_digits"
epochs = 4
[models.control]
model = "hebbian"
random_control = true
[models.control.tasks.digits]
preset = "hebbian_digits"
"""
    s = study_mod.load(_write(tmp_path, text))
    params, epochs = s.model_for("hebbian", "digits")
    preset = presets_mod.get("hebbian_digits")
    assert epochs == 4 and all(params[k] == v for k, v in preset["params"].items())
    assert s.model_for("hebbian", "moons") == (s.models["hebbian"]["params"], 3)  # model-level
    assert s.model_for("hebbian", "moons")[0]["hidden"] == 16
    control, c_epochs = s.model_for("control", "digits")
    expected = presets_mod.control("hebbian_digits")
    assert c_epochs == expected["epochs"]
    assert all(control[k] == v for k, v in expected["params"].items())
    assert control["rule"] == "none" and s.model_for("control", "moons")[0]["rule"] == "none"
    with pytest.raises(ValidationError) as info:
        study_mod.load(_write(tmp_path, TINY.replace('lr = 0.01', 'lr = 0.01\nrandom_control = true')))
    assert info.value.parameter == "models.mlp.random_control"
    with pytest.raises(ValidationError) as info:
        study_mod.load(_write(tmp_path, TINY + '[models.mlp.tasks.digits]\npreset = "hebbian_digits"\n'))
    assert info.value.parameter == "models.mlp.tasks.digits.preset"


def test_lists_become_tuples_and_presets_apply(tmp_path):
    text = TINY.replace('model = "backprop"\nhidden = [8]\nlr = 0.01', 'preset = "mlp_digits"\nlr = 0.005')
    s = study_mod.load(_write(tmp_path, text))
    params, epochs = s.model_for("mlp", "digits")
    assert params["hidden"] == (128,) and params["lr"] == 0.005 and params["batch_size"] == 32
    assert epochs == presets_mod.get("mlp_digits")["epochs"]


# ----------------------------------------------------------------------------- runs and seeds

def test_expansion_ids_and_seeds(tmp_path, monkeypatch):
    s = study_mod.load(_write(tmp_path))
    runs = s.runs()
    assert len(runs) == TINY_RUNS
    ids = [r["run_id"] for r in runs]
    assert len(set(ids)) == len(ids) and all(len(i) == 16 for i in ids)
    assert ids == [r["run_id"] for r in study_mod.load(_write(tmp_path)).runs()]  # stable
    for r in runs:
        expected = int(np.random.SeedSequence([3, r["seed"]]).generate_state(1)[0])
        assert r["model_seed"] == expected and r["task_seed"] == r["seed"]
        assert r["run_id"] == study_mod.run_id({k: v for k, v in r.items() if k != "run_id"})
    # changing one model's learning rate changes exactly that model's runs
    changed = study_mod.load(_write(tmp_path, TINY.replace("lr = 0.01", "lr = 0.02"))).runs()
    diff = {a["model"] for a, b in zip(runs, changed) if a["run_id"] != b["run_id"]}
    assert diff == {"mlp"}
    # the package version is part of the key
    monkeypatch.setattr(sim, "__version__", "9.9.9")
    assert not set(ids) & {r["run_id"] for r in study_mod.load(_write(tmp_path)).runs()}
    fixed = study_mod.load(_write(tmp_path, 'split = "fixed"\n' + TINY)).runs()
    assert {r["task_seed"] for r in fixed} == {0}


def test_seed_streams_shared_across_models_and_nested_subsets(tmp_path):
    runs = study_mod.load(_write(tmp_path)).runs()
    a = next(r for r in runs if r["model"] == "mlp" and r["seed"] == 1 and r["task"] == "digits")
    b = next(r for r in runs if r["model"] == "hebbian" and r["seed"] == 1 and r["task"] == "digits")
    c = next(r for r in runs if r["model"] == "hebbian" and r["seed"] == 0 and r["task"] == "digits")
    draw = lambda spec: eval_rng(spec, "noise", 0.5).standard_normal(5)  # noqa: E731
    np.testing.assert_array_equal(draw(a), draw(b))          # same noisy copies for both models
    assert not np.array_equal(draw(a), draw(c))               # another seed, other copies
    assert not np.array_equal(draw(a), eval_rng(a, "occlusion", 0.5).standard_normal(5))
    task = load_task(a)
    small = subsample(task, 5, subsample_rng(a)).meta["index_train"]
    large = subsample(task, 10, subsample_rng(b)).meta["index_train"]
    assert set(small) < set(large)                            # nested, same for every model


def test_results_independent_of_order_and_process(tmp_path):
    runs = study_mod.load(_write(tmp_path)).runs()
    pick = [r for r in runs if r["task"] == "moons"]
    forward = {r["run_id"]: _strip(execute_run(r)[0]) for r in pick}
    backward = {r["run_id"]: _strip(execute_run(r, blas_threads=1)[0]) for r in reversed(pick)}
    assert forward == backward


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
    truncated, edited, bad_npz = ids[0], ids[1], ids[2]
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
    untouched = {rid: st.json_path(rid).stat().st_mtime_ns for rid in ids[3:]}
    messages = []
    summary = run_study(_write(tmp_path), out, workers=1, progress=False,
                        log=messages.append)
    assert summary["computed"] == 3 and sorted(summary["corrupt"]) == sorted([truncated, edited, bad_npz])
    assert any("checksum" in m for m in messages) and any("not valid JSON" in m for m in messages)
    assert {r["run_id"]: _strip(r) for r in st.runs()} == before
    assert {rid: st.json_path(rid).stat().st_mtime_ns for rid in ids[3:]} == untouched
    assert len(list((out / "runs" / "corrupt").iterdir())) >= 3  # kept aside, not deleted


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
        metrics, arrays = _snapshot(out)
        assert metrics == ref_metrics
        assert arrays.keys() == ref_arrays.keys()
        for rid, arrs in arrays.items():
            assert arrs.keys() == ref_arrays[rid].keys()
            for key in arrs:
                np.testing.assert_array_equal(arrs[key], ref_arrays[rid][key])
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

def test_quick_study_from_the_command_line_well_under_a_minute(tmp_path):
    out = tmp_path / "quick"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "study", str(ROOT / "studies" / "quick.toml"),
                           "--out", str(out), "--workers", "2", "--no-figures"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert seconds < 45, f"quick study took {seconds:.1f} s"
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
