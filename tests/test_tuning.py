"""Tuning as a stage of a study (`sim.study.tuning`): the schema and its errors, the choices and the
refit, identical results for 1 worker, 2 workers and Dask, SIGKILL + resume, a sampler that uses
past results, a test split that never chooses, the outputs (tuned.toml, tuning.json, status,
the figure) and the command line."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest
from study_helpers import ROOT, _snapshot, _table_without_clock, _write

from sim.cli import main
from sim.errors import ValidationError
from sim.study import config as study_mod
from sim.study import search, tuned, tuning
from sim.study import store as store_mod
from sim.study import worker as worker_mod
from sim.study.backends import run_study

TUNE = """
name = "tune"
root_seed = 7
seeds = 2
epochs = 4
[tasks.moons]
n_train = 120
n_test = 60
[tasks.xor]
n_train = 120
n_test = 60
[models.mlp]
model = "backprop"
hidden = [8]
[models.mlp.search]
lr = { log = [1e-3, 1e-1] }
hidden = [[4], [8]]
[models.hebbian]
model = "hebbian"
hidden = 12
hidden_epochs = 1
[models.hebbian.search]
readout_lr = { log = [1e-3, 1e-1] }
rule_params.k = { int = [2, 3] }
[models.hebbian.tasks.xor.search]
readout_lr = { low = 0.01, high = 0.1 }
w_inh = [0.0, 0.3]
[models.readout]
model = "readout"
[conditions]
noise = [0.5]
train_per_class = { sizes = [5], tasks = ["moons"] }
[tuning]
trials = 5
batch = 2
startup = 2
seeds = [0, 1]
"""
PAIRS, TRIALS, SEEDS = 4, 5, 2
TRIAL_RUNS = PAIRS * TRIALS * SEEDS
RUNS = 2 * 3 * 2 + 3 * 2  # standard runs of 2 tasks x 3 models x 2 seeds, subsample runs on moons


def _tuning_doc(out):
    return json.loads((out / tuned.PROGRESS).read_text())


@pytest.fixture(scope="module")
def tuned_serial(tmp_path_factory):
    """The tuning study run once, serially: ``(out, summary)``."""
    tmp = tmp_path_factory.mktemp("tune")
    return tmp / "out", run_study(_write(tmp, TUNE, "tune.toml"), tmp / "out", workers=1, progress=False)


# ----------------------------------------------------------------------------- schema

@pytest.mark.parametrize("edit, key", [
    (lambda t: t.replace("trials = 5", "trials = 0"), "tuning.trials"),
    (lambda t: t.replace("trials = 5\n", ""), "tuning.trials"),
    (lambda t: t.replace("batch = 2", "batch = 0"), "tuning.batch"),
    (lambda t: t.replace("batch = 2", "bacth = 2"), "tuning.bacth"),
    (lambda t: t + 'metric = "test_accuracy"\n', "tuning.metric"),
    (lambda t: t + 'metric = "train_accuracy"\n', "tuning.metric"),
    (lambda t: t.replace("seeds = [0, 1]", "seeds = [0, 0]"), "tuning.seeds"),
    (lambda t: t.replace("seeds = [0, 1]", "seeds = [-1]"), "tuning.seeds[0]"),
    (lambda t: t + 'tasks = ["moon"]\n', "tuning.tasks[0]"),
    (lambda t: t + 'models = ["readout"]\n', "tuning.models[0]"),
    (lambda t: t.split("[tuning]")[0], "tuning"),
    (lambda t: t.replace("lr = { log = [1e-3, 1e-1] }", "lrr = { log = [1e-3, 1e-1] }"), "models.mlp.search.lrr"),
    (lambda t: t.replace("lr = { log = [1e-3, 1e-1] }", "lr = { log = [0.0, 1e-1] }"), "models.mlp.search.lr.log"),
    (lambda t: t.replace("lr = { log = [1e-3, 1e-1] }", "lr = { log = [1e-1, 1e-3] }"), "models.mlp.search.lr.log"),
    (lambda t: t.replace("lr = { log = [1e-3, 1e-1] }", "lr = { low = 0.1, high = 0.01 }"), "models.mlp.search.lr.low"),
    (lambda t: t.replace("lr = { log = [1e-3, 1e-1] }", "lr = { low = 0.1 }"), "models.mlp.search.lr.high"),
    (lambda t: t.replace("lr = { log = [1e-3, 1e-1] }", "lr = { log = [1e-3, 1e-1], step = 1 }"),
     "models.mlp.search.lr.step"),
    (lambda t: t.replace("lr = { log = [1e-3, 1e-1] }", "lr = { low = -1.0, high = 0.1 }"), "models.mlp.search.lr"),
    (lambda t: t.replace("lr = { log = [1e-3, 1e-1] }", "lr = 0.01"), "models.mlp.search.lr"),
    (lambda t: t.replace("hidden = [[4], [8]]", "hidden = []"), "models.mlp.search.hidden"),
    (lambda t: t.replace("hidden = [[4], [8]]", "batch_size = [16, 0]"), "models.mlp.search.batch_size"),
    (lambda t: t.replace("hidden = [[4], [8]]", "batch_size = { int = [0, 8], log = true }"),
     "models.mlp.search.batch_size.int"),
    (lambda t: t.replace("hidden = [[4], [8]]", "batch_size = { int = [4.5, 8] }"), "models.mlp.search.batch_size.int"),
    (lambda t: t.replace("hidden = [[4], [8]]", "batch_size.x = [1, 2]"), "models.mlp.search.batch_size.x"),
    (lambda t: t.replace("hidden = [[4], [8]]", "seed = [1, 2]"), "models.mlp.search.seed"),
    (lambda t: t.replace("rule_params.k = { int = [2, 3] }", "rule_params.k = { int = [1, 3] }"),
     "models.hebbian.search.rule_params.k"),
    (lambda t: t.replace("w_inh = [0.0, 0.3]", "w_inh = [0.0, -0.3]"), "models.hebbian.tasks.xor.search.w_inh"),
    (lambda t: t.replace('model = "readout"', 'model = "hebbian"\nrandom_control = true\n'
                         '[models.readout.search]\nrule_params.k = [2, 3]'), "models.readout.search.rule_params.k"),
    (lambda t: t.replace("n_test = 60\n[tasks.xor]", "n_test = 60\nvalidation_fraction = 0.0\n[tasks.xor]"),
     "tasks.moons.validation_fraction"),
])
def test_bad_tuning_and_search_input_names_the_key(tmp_path, edit, key):
    with pytest.raises(ValidationError) as info:
        run_study(_write(tmp_path, edit(TUNE)), tmp_path / "out", workers=1, progress=False)
    assert info.value.parameter == key, str(info.value)
    assert not (tmp_path / "out").exists()


def test_spaces_merge_per_task_and_dotted_names_reach_into_tables(tmp_path):
    dotted = 'rule_params.k = { int = [2, 3] }\n"rule_params.p" = [2.0, 3.0]'  # a dotted key and a quoted one
    text = TUNE.replace("rule_params.k = { int = [2, 3] }", dotted)
    study = study_mod.load(_write(tmp_path, text))
    t = study.tuning
    assert t["pairs"] == [["mlp", "moons"], ["hebbian", "moons"], ["mlp", "xor"], ["hebbian", "xor"]]
    assert (t["trials"], t["batch"], t["startup"], t["seeds"], t["metric"], t["direction"]) == (
        5, 2, 2, [0, 1], "val_accuracy", "maximize")
    moons, xor = t["spaces"]["hebbian"]["moons"], t["spaces"]["hebbian"]["xor"]
    assert moons["readout_lr"] == {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}
    assert xor["readout_lr"] == {"type": "float", "low": 0.01, "high": 0.1, "log": False}  # the task's wins
    assert moons["rule_params.k"] == {"type": "int", "low": 2, "high": 3, "log": False}
    assert moons["rule_params.p"] == {"type": "categorical", "choices": [2.0, 3.0]} and "w_inh" not in moons
    assert xor["w_inh"]["choices"] == [0.0, 0.3] and "readout" not in t["spaces"]
    base = {"hidden": 12, "rule_params": {"delta": 0.4}}
    merged = search.merge_params(base, {"rule_params.k": 3, "hidden": [4]})
    assert merged == {"hidden": (4,), "rule_params": {"delta": 0.4, "k": 3}} and base["rule_params"] == {"delta": 0.4}
    assert "after tuning 4 (model, task) pairs x 5 trials x 2 seeds -> 40 trial runs" in study.summary()
    assert study.trial_runs() == TRIAL_RUNS and len(study.runs()) == RUNS


# ----------------------------------------------------------------------------- choices, refit, outputs

def test_tuning_chooses_the_best_trial_and_refits_it_everywhere(tuned_serial, capsys):
    out, summary = tuned_serial
    assert summary["trial_runs"] == TRIAL_RUNS and summary["total"] == TRIAL_RUNS + RUNS
    assert summary["computed"] == summary["finished"] == TRIAL_RUNS + RUNS
    st = store_mod.open(out)
    trials = st.runs(trials=True)
    assert len(trials) == TRIAL_RUNS and {r["config"]["kind"] for r in trials} == {"trial"}
    assert {r["config"]["kind"] for r in st.runs()} == {"standard", "subsample"} and len(st.runs()) == RUNS
    doc, presets = _tuning_doc(out), tuned.read_presets(out)
    assert doc["stage"] == "done" and doc["rounds"] == doc["rounds_done"] == 3 and doc["trials_done"] == TRIALS
    assert presets["trials"] == TRIALS and presets["study"] == "tune" and presets["metric"] == "val_accuracy"
    study = study_mod.load(_write(out.parent, TUNE, "tune.toml"))
    assert presets["study_hash"] == doc["hash"] == tuned.study_hash(study)
    for pair in doc["pairs"]:
        records = pair["trials"]
        assert [r["number"] for r in records] == list(range(TRIALS))  # equal budgets, none dropped
        for r in records:
            runs = [st.load_run(rid) for rid in r["run_ids"]]
            assert [x["config"]["seed"] for x in runs] == [0, 1]
            assert r["values"] == [x["evaluation"]["val_accuracy"] for x in runs]
            assert r["value"] == pytest.approx(np.mean(r["values"]))
            assert all(x["config"]["condition"] == {"trial": r["number"]} for x in runs)
        best = max(records, key=lambda r: (r["value"], -r["number"]))
        assert pair["best"]["number"] == best["number"]
        entry = presets[pair["model"]][pair["task"]]
        assert entry["best_trial"] == best["number"] and entry["best_value"] == best["value"]
        base = study.model_for(pair["model"], pair["task"])[0]
        chosen = json.loads(study_mod.canonical_json(search.merge_params(base, best["point"])))
        assert {k: chosen[k] for k in entry["params"]} == entry["params"]
        key = [pair["model"], pair["task"]]
        ordinary = [r for r in st.runs() if [r["config"]["model"], r["config"]["task"]] == key]
        assert len(ordinary) == 2 * (2 if pair["task"] == "moons" else 1)  # every seed, every condition
        assert all(r["config"]["params"] == chosen for r in ordinary)
    readout = [r for r in st.runs() if r["config"]["model"] == "readout"]
    assert all(r["config"]["params"] == study.model_for("readout", r["config"]["task"])[0] for r in readout)
    assert {row["kind"] for row in st.table()} == {"standard", "subsample", "trial"}
    assert main(["status", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tuning done (round 3 of 3, 5 of 5 trials" in printed and "40 trial runs: 40 finished" in printed
    assert "hebbian on xor: best" in printed and f"study 'tune', {RUNS} runs" in printed
    assert main(["status", str(out), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["trials"]["finished"] == TRIAL_RUNS and status["tuning"]["stage"] == "done"


def test_rerunning_from_the_command_line_computes_nothing(tuned_serial, tmp_path, capsys):
    src, _ = tuned_serial
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    path = _write(tmp_path, TUNE, "tune.toml")
    for command in ("tune", "study"):
        assert main([command, str(path), "--out", str(out), "--workers", "1", "--no-figures"]) == 0
        printed = capsys.readouterr().out
        assert f"{TRIAL_RUNS + RUNS} runs: 0 computed" in printed
        assert "tuning: 4 (model, task) pairs x 5 trials" in printed
    assert (out / tuned.PRESETS).read_text() == (src / tuned.PRESETS).read_text()
    untuned = _write(tmp_path, "[tasks.xor]\n[models.r]\nmodel = 'readout'\n", "plain.toml")
    assert main(["tune", str(untuned), "--out", str(tmp_path / "plain"), "--no-figures"]) == 2
    assert "has no [tuning] table" in capsys.readouterr().err and not (tmp_path / "plain").exists()


def test_tuned_toml_round_trips():
    doc = {"study": "s", "n": 3, "mlp": {"digits": {"model": "backprop", "best_value": 0.5, "params": {
        "hidden": [128], "lr": 1e-05, "rule_params": {"k": 7, "delta": 0.4}, "name": 'a "b"', "flag": True}}},
        "odd label": {"x.y": {"v": float("inf")}}}
    text = tuned.toml_text(doc, ["a comment"])
    assert text.startswith("# a comment\n") and "[mlp.digits.params]" in text
    assert tomllib.loads(text) == doc


# ----------------------------------------------------------------------------- determinism

def test_two_workers_give_the_same_choices_and_trials(tuned_serial, tmp_path):
    src, _ = tuned_serial
    pool = run_study(_write(tmp_path, TUNE, "tune.toml"), tmp_path / "pool", workers=2, progress=False)
    assert pool["backend"] == "processes" and pool["computed"] == TRIAL_RUNS + RUNS
    _assert_same_store(tmp_path / "pool", src)


def test_dask_gives_the_same_choices_and_trials(tuned_serial, tmp_path):
    pytest.importorskip("distributed")
    src, _ = tuned_serial
    dask = run_study(_write(tmp_path, TUNE, "tune.toml"), tmp_path / "dask", workers=2, scheduler="local",
                     progress=False)
    assert dask["backend"] == "dask-local" and dask["computed"] == TRIAL_RUNS + RUNS
    _assert_same_store(tmp_path / "dask", src)


def _assert_same_store(out, ref):
    assert _tuning_doc(out) == _tuning_doc(ref)
    assert (out / tuned.PRESETS).read_text() == (ref / tuned.PRESETS).read_text()
    assert _snapshot(out)[0] == _snapshot(ref)[0]
    assert _table_without_clock(out / "table.csv") == _table_without_clock(ref / "table.csv")


def test_sigkill_mid_tuning_then_resume_gives_the_same_result(tuned_serial, tmp_path):
    src, _ = tuned_serial
    path = _write(tmp_path, TUNE, "tune.toml")
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "sim.cli", "tune", str(path), "--out", str(out), "--workers", "1",
           "--no-figures", "--no-progress"]
    first_round = PAIRS * 2 * SEEDS
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline and len(_run_files(out)) <= first_round + 2:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _run_files(out)
    assert first_round < len(done) < TRIAL_RUNS, "the study must be killed in its second tuning round"
    assert not (out / tuned.PRESETS).exists() and _tuning_doc(out)["rounds_done"] == 1
    stamps = {p.stem: p.stat().st_mtime_ns for p in done}
    resumed = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{TRIAL_RUNS + RUNS - len(done)} computed" in resumed.stdout
    assert all(store_mod.Store(out).json_path(rid).stat().st_mtime_ns == t for rid, t in stamps.items())
    _assert_same_store(out, src)


def _run_files(out):
    return sorted((out / "runs").glob("[0-9a-f]*.json"))


# ----------------------------------------------------------------------------- the sampler

def _toy(point):
    """A toy objective with its optimum at lr = 1e-2, x = 0.3."""
    return -((math.log10(point["lr"]) + 2.0) ** 2 + (point["x"] - 0.3) ** 2)


SPACE = {"lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
         "x": {"type": "float", "low": -1.0, "high": 1.0, "log": False}}


def _ask_tell(tuner, trials=48, batch=4):
    points = []
    while len(points) < trials:
        asked = tuner.ask(batch)
        for number, point in asked:
            tuner.tell(number, _toy(point))
        points += [p for _, p in asked]
    return points


def test_the_sampler_uses_past_results():
    import optuna
    tpe = _ask_tell(tuning.PairTuner(SPACE, seed=11, startup=8))
    again = _ask_tell(tuning.PairTuner(SPACE, seed=11, startup=8))
    rand = _ask_tell(tuning.PairTuner(SPACE, seed=11, sampler=optuna.samplers.RandomSampler(seed=11)))
    assert tpe == again  # seeded: the same proposals
    assert tpe[:8] == rand[:8] and tpe[8:] != rand[8:]  # start-up trials random, then TPE's own
    late = [-_toy(p) for p in tpe[-16:]]
    assert np.median(late) < 0.25 * np.median([-_toy(p) for p in rand[-16:]])  # near the optimum
    assert max(_toy(p) for p in tpe) > max(_toy(p) for p in rand)


def test_values_choices_and_diverged_trials_from_a_fake_backend(tmp_path):
    """`tune` with a fake execute: the values are read from evaluation[val metric] only; a diverged
    or failed run counts at chance and is recorded; the best trial (ties: lower number) is chosen."""
    study = study_mod.load(_write(tmp_path, TUNE))
    seen = []

    def execute(specs):
        out = {}
        for spec in specs:
            seen.append(spec)
            lr = spec["params"].get("lr", spec["params"].get("readout_lr"))
            status = "diverged" if lr > 0.05 else ("failed" if spec["condition"]["trial"] == 3 else "finished")
            value = round(1.0 - abs(math.log10(lr) + 2.0) / 4, 1)  # ties on purpose
            out[spec["run_id"]] = {"status": status, "evaluation": None if status == "failed" else {
                "val_accuracy": value if status == "finished" else float("nan"), "test_accuracy": 1.0 - value}}
        return out
    state = tuning.tune(study, execute)
    assert len(seen) == TRIAL_RUNS and {s["kind"] for s in seen} == {"trial"}
    statuses = {s for pair in state["pairs"] for r in pair["trials"] for s in r["status"]}
    assert statuses == {"finished", "diverged", "failed"}  # every case was exercised
    for pair in state["pairs"]:
        assert len(pair["trials"]) == TRIALS
        for r in pair["trials"]:
            if any(s != "finished" for s in r["status"]):
                assert r["at_chance"] == len(r["status"]) and r["value"] == 0.5  # chance on a 2-class task
        best = max(pair["trials"], key=lambda r: (r["value"], -r["number"]))
        assert pair["best"] is best or pair["best"] == best
    assert tuning.choose([{"number": 2, "value": 0.9}, {"number": 1, "value": 0.9}], "maximize")["number"] == 1
    assert tuning.choose([{"number": 0, "value": 0.3}, {"number": 1, "value": 0.2}], "minimize")["number"] == 1
    assert tuning.rounds(study.tuning) == [2, 2, 1]
    with pytest.raises(ValidationError):
        tuning.score([], "test_accuracy", 2)


# ----------------------------------------------------------------------------- the test split never chooses

def test_the_test_split_never_chooses(tuned_serial, tmp_path, monkeypatch):
    src, _ = tuned_serial
    real = worker_mod.load_task

    def noisy(spec):
        task = real(spec)
        rng = np.random.default_rng(99)
        return task.with_data(X_test=rng.normal(size=task.X_test.shape),
                              y_test=rng.integers(0, task.n_classes, size=task.n_test))
    monkeypatch.setattr(worker_mod, "load_task", noisy)
    run_study(_write(tmp_path, TUNE, "tune.toml"), tmp_path / "noise", workers=1, progress=False)
    assert _tuning_doc(tmp_path / "noise") == _tuning_doc(src)
    assert (tmp_path / "noise" / tuned.PRESETS).read_text() == (src / tuned.PRESETS).read_text()
    real_runs, noise_runs = store_mod.open(src), store_mod.open(tmp_path / "noise")
    assert real_runs.run_ids() == noise_runs.run_ids()  # the same refitted configurations
    test_acc = [(a["evaluation"]["test_accuracy"], b["evaluation"]["test_accuracy"])
                for a, b in zip(real_runs.runs(trials=True), noise_runs.runs(trials=True))]
    assert any(x != y for x, y in test_acc)  # the trials' test split was evaluated, for the record only


# ----------------------------------------------------------------------------- the figure

def test_tuning_figure(tuned_serial, tmp_path):
    from analyses import report
    from analyses import tuning as fig
    src, _ = tuned_serial
    d = fig.data(src)
    assert set(d["tasks"]) == {"moons", "xor"} and d["trials"] == TRIALS
    for curves in d["tasks"].values():
        assert set(curves) == {"mlp", "hebbian"}
        for c in curves.values():
            assert list(c["trial"]) == [1, 2, 3, 4, 5] and np.all(np.diff(c["best"]) >= 0)
            assert c["best"][-1] == c["value"].max()
    figs = fig.build(src, tmp_path, ("png",))
    assert len(figs) == 1 and os.path.exists(figs[0]["paths"][0])
    assert "tuning" in [name for name, *_ in report.SECTIONS]
    assert fig.data(tmp_path) == {}  # no tuning stage: nothing to show
