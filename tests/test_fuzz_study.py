"""Fuzzing study configs (dicts and files), the command line, and SIGKILL at random points of a study:
every config either works or is refused with a `ValidationError` named by its key path; every
command line exits 0 (or 1: failed runs), or 2 with one error line on stderr and no traceback; a
study killed at random points and resumed equals an uninterrupted one (see ``test_fuzz.py`` for the
API and ``fuzz_helpers.py`` for the strategies).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fuzz_helpers import (
    EXPENSIVE,
    SCALE,
    TEXT,
    attempt,
    edit,
    fuzz_settings,
    input_report,
    json_values,
    key_paths,
    quiet,
    record,
    unit,
    value_for,
)
from hypothesis import event, given
from hypothesis import strategies as st

from sim.cli import main
from sim.models import HebbianNet
from sim.study import config as study_config

TMP = Path(tempfile.mkdtemp(prefix="neurocompare-fuzz-study-"))
report_inputs = input_report(TMP)  # autouse: prints the distinct inputs tried, removes TMP





# ----------------------------------------------------------------------------- strategies
def _config(tasks_, models_, **extra):
    return {"name": "fuzz", "seeds": 1, "epochs": 1, "tasks": tasks_, "models": models_, **extra}


XOR = {"xor": {"n_train": 20, "n_test": 10}}
MLP = {"model": "backprop", "hidden": [4]}
#: Valid study configs (as parsed from TOML) that the config fuzz edits.
CONFIGS = (
    _config(XOR, {"mlp": MLP, "heb": {"model": "hebbian", "hidden": 4, "hidden_epochs": 1, "rule_params": {"k": 2}}},
            conditions={"noise": [0.0, 0.5], "occlusion": [0.25]}),
    _config({"blobs": {"n_train": 40, "n_test": 10, "n_classes": 3}, "m": {"task": "moons", "n_train": 20}},
            {"ro": {"model": "readout"}, "ctl": {"model": "hebbian", "random_control": True, "hidden": 4}},
            conditions={"train_per_class": {"sizes": [2], "tasks": ["blobs"]},
                        "sequential": {"tasks": ["blobs"], "first": [0], "second": [1, 2], "epochs": 1},
                        "hidden_units": {"sizes": [2, 3], "models": ["ctl"]}}),
    _config(XOR, {"mlp": {**MLP, "search": {"lr": {"log": [1e-4, 0.1]}, "hidden": [[2], [4]]},
                          "tasks": {"xor": {"epochs": 2, "batch_size": 8, "search": {"tol": {"low": 0, "high": 1}}}}}},
            tuning={"trials": 2, "batch": 2, "seeds": [0], "metric": "val_loss"}),
    _config(XOR, {"p": {"preset": "mlp_toy", "hidden": [4]},
                  "h": {"model": "hebbian", "hidden": 4, "tasks": {"xor": {"preset": "hebbian_toy", "hidden": 3}}}},
            split="fixed", root_seed=7, description="presets"),
)
CONFIG_KEYS = st.sampled_from([
    "name", "description", "root_seed", "seeds", "epochs", "split", "tasks", "models", "conditions", "tuning",
    "model", "preset", "random_control", "search", "task", "noise", "occlusion", "train_per_class", "sequential",
    "hidden_units", "sizes", "first", "second", "trials", "batch", "startup", "metric", "log", "low", "high", "int",
    "hidden", "lr", "rule", "rule_params", "w_inh", "n_train", "seed", "xor", "mlp", "rule_params.k"])
TOML_PLAUSIBLE = st.one_of(
    st.integers(-1, 5), unit(0, 1), st.booleans(), st.builds(dict), st.lists(st.integers(0, 4), max_size=3),
    st.sampled_from(["backprop", "hebbian", "readout", "xor", "moons", "blobs", "mlp", "heb", "adam", "relu",
                     "val_loss", "test_accuracy", "per_seed", "fixed", "mlp_toy", "hebbian_toy", "fuzz"]))


def toml_value(key):
    """A value for study key ``key``: plausible, or any TOML (or None) value."""
    return st.one_of(TOML_PLAUSIBLE, json_values(expensive=key in EXPENSIVE, toml=True))


def cli_value(key: str):
    """A ``--set`` / ``--task-param`` value as the command line gets it: a Python literal or text."""
    return st.one_of(value_for(key).map(repr), TEXT)


def cli_options(draw, options: dict) -> list[str]:
    """Some of ``options`` (flag -> strategy of its value, or None for a switch), in drawn order."""
    argv = []
    for flag in draw(st.permutations(sorted(options))):
        if draw(st.integers(0, 2)) == 0:
            argv += [flag] if options[flag] is None else [flag, draw(options[flag])]
    return argv


# ----------------------------------------------------------------------------- study configs
STUDY_ROOTS = {"config", "name", "description", "root_seed", "seeds", "epochs", "split", "tasks", "models",
               "conditions", "tuning"}


@fuzz_settings(400, SCALE)
@given(base=st.sampled_from(range(len(CONFIGS))), data=st.data())
@quiet
def test_study_config_dicts(base, data):
    raw = copy.deepcopy(CONFIGS[base])
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        path = data.draw(st.sampled_from(list(key_paths(raw))), label="path")
        op = data.draw(st.sampled_from(["set", "delete", "add"]) if path else st.just("add"), label="op")
        key = data.draw(st.one_of(CONFIG_KEYS, TEXT), label="key") if op == "add" else (path or ("",))[-1]
        value = data.draw(toml_value(key), label="value")
        if op == "add" and isinstance(functools.reduce(lambda d, k: d[k], path, raw), dict):
            functools.reduce(lambda d, k: d[k], path, raw)[key] = value
        elif path:
            raw = edit(raw, path, "delete" if op == "delete" else "set", value)
    record("study config dicts", raw)
    ok, study = attempt(study_config.parse, raw, names=STUDY_ROOTS | set(raw))  # unknown keys too
    event(f"parse: {'study' if ok else 'refused'}")
    if ok:
        runs = study.runs()
        assert len({r["run_id"] for r in runs}) == len(runs) >= 1 and study.summary()


@fuzz_settings(150, SCALE)
@given(cut=st.integers(0, 2000), junk=st.one_of(st.binary(max_size=40), TEXT.map(str.encode)))
@quiet
def test_study_files_truncated_or_garbled(cut, junk):
    text = (Path(__file__).parent.parent / "studies" / "quick.toml").read_bytes()
    damaged = text[:cut] + junk
    record("study files", damaged)
    path = TMP / "study.toml"
    path.write_bytes(damaged)
    ok, study = attempt(study_config.load, path, names=STUDY_ROOTS)
    assert not ok or study.runs()


# ----------------------------------------------------------------------------- the command line
TINY_TOML = 'name = "f"\nseeds = 1\nepochs = 1\n[tasks.xor]\nn_train = 20\nn_test = 10\n[models.mlp]\n' \
            'model = "backprop"\nhidden = [4]\n'
TUNE_TOML = TINY_TOML + '[models.mlp.search]\nlr = { log = [1e-3, 1e-1] }\n[tuning]\ntrials = 1\nbatch = 1\n' \
                        'startup = 1\n'
RUN_OPTIONS = {
    "--task": st.one_of(st.sampled_from(["xor", "moons", "XOR", "digits", "nope"]), TEXT),
    "--model": st.one_of(st.sampled_from(["backprop", "hebbian", "readout", "mlp"]), TEXT),
    "--seed": st.one_of(st.sampled_from(["0", "3", "-1", "1e3", "x", "99999999999999999999"]), TEXT),
    "--epochs": st.sampled_from(["1", "2", "0", "-3", "x", "1.5", "", " 1"]), "--json": None}
STUDY_OPTIONS = {"--workers": st.sampled_from(["1", "1", "1", "0", "-1", "x", "", "1.5", "2"]),
                 "--keep-failed": None, "--figures": st.just(str(TMP / "figures"))}
SCHEDULER = st.tuples(st.sampled_from(["", "nonsense://x", "tcp://127.0.0.1:9", "\x00"]),
                      st.sampled_from(["0.2", "0", "-1", "nan", "inf", "x"]))
STATUS_OPTIONS = {"--ids": None, "--json": None, "--rebuild-table": None}
DIRS = ("missing", "file", "empty", "store", "store:table-line", "store:table-mid", "store:table-sidecar",
        "store:run-garbage", "store:manifest-garbage", "store:manifest-list", "store:manifest-old",
        "store:manifest-unknown", "store:no-runs")


@functools.cache
def tiny_store() -> Path:
    from sim.study.backends import run_study
    run_study(copy.deepcopy(CONFIGS[0]), TMP / "tiny-store", workers=1, progress=False)
    return TMP / "tiny-store"


def status_dir(kind: str) -> Path:
    """A directory for ``neurocompare status``: none, a file, a store, or a store damaged as ``kind`` says."""
    path = TMP / "status"
    shutil.rmtree(path, ignore_errors=True)
    path.unlink(missing_ok=True)
    if kind == "file":
        path.write_text("not a store")
    elif kind == "empty":
        path.mkdir()
    elif kind.startswith("store"):
        shutil.copytree(tiny_store(), path)
        damage = kind.partition(":")[2]
        table, manifest = path / "table.csv", path / "manifest.json"
        text = table.read_text()
        if damage == "table-line":
            table.write_text(text[:text.rindex("\n", 0, len(text) - 1) + 1])
        elif damage == "table-mid":
            table.write_text(text[:len(text) // 2])
        elif damage == "table-sidecar":
            for extra in path.glob("table.*"):
                if extra != table:
                    extra.unlink()
        elif damage == "run-garbage":
            next((path / "runs").glob("*.json")).write_bytes(b"\x00garbage")
        elif damage == "manifest-garbage":
            manifest.write_bytes(b"{\xff")
        elif damage == "manifest-list":
            manifest.write_text("[1, 2]")
        elif damage.startswith("manifest-"):
            doc = json.loads(manifest.read_text())
            doc["format"] = "neurocompare-store/1" if damage == "manifest-old" else "neurocompare-store/99"
            manifest.write_text(json.dumps(doc))
        elif damage == "no-runs":
            shutil.rmtree(path / "runs")
    return path


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(["run", "run", "status", "status", "study", "tune", "bogus"]))
    argv = [command] if command != "bogus" else [draw(TEXT)]
    if command == "run":
        if draw(st.integers(0, 2)):  # well formed: a toy task, a model, one or two epochs (then odd options)
            model = draw(st.sampled_from(["backprop", "hebbian", "readout"]))
            argv += ["--task", draw(st.sampled_from(["xor", "moons", "blobs"])), "--model", model, "--epochs",
                     draw(st.sampled_from(["1", "2"])), "--task-param", "n_train=60"]
            argv += ["--set", "hidden=8"] if model != "readout" else []  # >= k=7 of the competitive rule
        else:
            argv += cli_options(draw, RUN_OPTIONS)
            if draw(st.booleans()) and {"backprop", "hebbian"} & set(argv):
                argv += ["--set", "hidden=8"]  # small: HebbianNet(rule="foldiak")'s 400 units take seconds
        argv += ["--json"] * draw(st.booleans())
        extras = (("--set", st.sampled_from(sorted({*HebbianNet.param_names(), "lr", "hidden"}))),
                  ("--task-param", st.sampled_from(["n_train", "noise", "n_test", "size", "seed"])))
        for flag, keys in () if draw(st.integers(0, 2)) else extras:
            for key in draw(st.lists(st.one_of(keys, keys, TEXT), max_size=1)):
                argv += [flag, f"{key}={draw(cli_value(key))}" if draw(st.integers(0, 3)) else draw(TEXT)]
    elif command == "status":
        kind = draw(st.sampled_from(DIRS))
        argv += [str(status_dir(kind))] + cli_options(draw, STATUS_OPTIONS)
    elif command in ("study", "tune"):
        config = TMP / "cli.toml"
        text = (TUNE_TOML if command == "tune" else TINY_TOML).encode()  # a run or two, or cut and garbled
        if draw(st.integers(0, 2)):
            text = text[:draw(st.integers(0, len(text)))] + draw(st.binary(max_size=8))
        config.write_bytes(text)
        argv += [str(config), "--out", str(TMP / "cli-out"), "--no-figures", "--no-progress"]
        argv += cli_options(draw, STUDY_OPTIONS) + ["--quick"] * (draw(st.integers(0, 5)) == 0)
        if draw(st.integers(0, 3)) == 0:
            scheduler, timeout = draw(SCHEDULER)
            argv += ["--scheduler", scheduler, "--scheduler-timeout", timeout]
    if draw(st.integers(0, 5)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(st.one_of(TEXT, st.sampled_from(["-h", "--", "-x"]))))
    return argv


@fuzz_settings(400, SCALE)
@given(argv=command_lines())
@quiet
def test_command_lines_exit_0_or_2_with_one_error_line(argv):
    record("command lines", argv)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
            code = exc.code
    event(f"{argv[0] if argv[0] in ('run', 'status', 'study', 'tune') else 'other'}: exit {code}")
    lines = err.getvalue().split("\n")[:-1]
    assert "Traceback" not in err.getvalue() and code in (0, 1, 2), (code, err.getvalue())
    if code == 2:
        errors = [line for line in lines if ": error: " in line]
        echoed = any("\n" in a or "\r" in a for a in argv)  # argparse echoes an argument as it is
        assert len(errors) == 1 and (lines[-1] == errors[0] or echoed), err.getvalue()
        if errors[0].startswith("neurocompare: error: invalid "):  # a ValidationError: NAME=VALUE
            name = errors[0][len("neurocompare: error: invalid "):].partition("=")[0]
            assert name and " " not in name, errors[0]
    elif code == 0:
        assert out.getvalue() or argv[0] == "status" and "--rebuild-table" in argv, (argv, err.getvalue())


# ----------------------------------------------------------------------------- kill and resume
KILL_STUDY = """
name = "kill"
seeds = 3
epochs = 40
[tasks.moons]
n_train = 200
n_test = 100
[models.mlp]
model = "backprop"
hidden = [16]
[models.hebbian]
model = "hebbian"
hidden = 20
hidden_epochs = 5
[conditions]
noise = [0.0, 0.5]
"""


def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(tmp_path):
    from study_helpers import ROOT, _snapshot, _table_without_clock, _write

    from sim.study.backends import run_study
    from sim.study.store import Store
    path = _write(tmp_path, KILL_STUDY, "kill.toml")
    reference = run_study(path, tmp_path / "reference", workers=1, progress=False)
    total, out = reference["total"], tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "sim.cli", "study", str(path), "--out", str(out), "--workers", "1",
           "--no-figures", "--no-progress"]
    rng = np.random.default_rng(20260101)  # the kill points: after k more run files, then a delay
    kept, st = {}, Store(out)
    for k, delay in zip(rng.integers(0, total, size=3), rng.uniform(0.0, 0.25, size=3)):
        before = len(list((out / "runs").glob("[0-9a-f]*.json")))
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while (proc.poll() is None and time.time() < deadline
               and len(list((out / "runs").glob("[0-9a-f]*.json"))) < before + k):
            time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for rid in st.run_ids() if st.manifest_path.exists() else []:  # whatever is there verifies
            if st.json_path(rid).exists():
                assert st.check(rid) in ("finished", "diverged")
                kept.setdefault(rid, st.json_path(rid).stat().st_mtime_ns)
    resumed = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{total - len(kept)} computed" in resumed.stdout
    assert all(st.json_path(rid).stat().st_mtime_ns == mtime for rid, mtime in kept.items())  # never recomputed
    ours, theirs = _snapshot(out), _snapshot(tmp_path / "reference")
    assert ours[0] == theirs[0] and ours[1].keys() == theirs[1].keys()
    for rid, arrays in ours[1].items():
        assert arrays.keys() == theirs[1][rid].keys()
        for key, value in arrays.items():
            np.testing.assert_array_equal(value, theirs[1][rid][key])
    assert _table_without_clock(out / "table.csv") == _table_without_clock(tmp_path / "reference" / "table.csv")
    assert st.table_state() == "current" and not list((out / "runs").glob(".*.tmp"))
