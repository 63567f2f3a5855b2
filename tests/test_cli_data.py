"""The user's own data files (npz, CSV, IDX) as tasks: `sim.tasks.from_file`, ``run --data`` and
study tasks ``[tasks.x] file = ...`` (relative to the TOML, keyed by the file's SHA-256); a bad
file is a ValidationError naming it."""

import gzip
import hashlib
import json
import struct

import numpy as np
import pytest

from sim import tasks
from sim.cli import main
from sim.errors import ValidationError
from sim.study import config, spec, store


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 4)) + y[:, None]
    return X, y


def _idx(path, array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


def test_npz_file_is_the_arrays_task(tmp_path):
    X, y = _data()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    task = tasks.from_file(tmp_path / "d.npz", seed=2)
    ref = tasks.from_arrays(X, y, seed=2)
    assert np.array_equal(task.X_train, ref.X_train) and np.array_equal(task.y_test, ref.y_test)
    assert task.name == "d" and task.meta["sha256"] == hashlib.sha256((tmp_path / "d.npz").read_bytes()).hexdigest()


def test_csv_with_named_classes(tmp_path):
    rows = ["a,b,species", "1.5,2,setosa", "3,4.25,virginica", "5,6,setosa", "7,8,virginica"] + \
        [f"{i},{i + 1},{'setosa' if i % 2 else 'virginica'}" for i in range(20)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    task = tasks.from_file(tmp_path / "d.csv", label_column="species", scale="none", seed=0)
    assert task.meta["classes"] == ["setosa", "virginica"] and task.meta["features"] == ["a", "b"]
    X = np.array([[float(v) for v in r.split(",")[:2]] for r in rows[1:]])
    y = np.array([0 if r.endswith("setosa") else 1 for r in rows[1:]])
    i = task.meta["index_test"]
    assert np.array_equal(task.X_test, X[i]) and np.array_equal(task.y_test, y[i])


def test_idx_images_with_their_labels(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60, 3, 4))
    labels = np.arange(60) % 2
    img, lab = _idx(tmp_path / "img.gz", images, 0x803), _idx(tmp_path / "lab.gz", labels, 0x801)
    task = tasks.from_file(img, labels=lab, seed=1)
    assert task.n_features == 12 and task.meta["image_shape"] == (3, 4) and task.meta["format"] == "idx"
    assert task.n_train + task.n_val + task.n_test == 60 and task.X_train.max() <= 1.0  # scaled by 255
    h = hashlib.sha256(img.read_bytes() + lab.read_bytes()).hexdigest()
    assert task.meta["sha256"] == h


@pytest.mark.parametrize("make,words", [
    (lambda p: np.savez(p / "d.npz", X=np.ones((10, 2))), "no array 'y'"),
    (lambda p: np.savez(p / "d.npz", X=np.array([{"a": 1}] * 10, dtype=object), y=np.zeros(10)), "not a readable"),
    (lambda p: (p / "d.npz").write_bytes(b"not a zip"), "not a readable"),
    (lambda p: (p / "d.csv").write_text("x,label\n1,0\nabc,1\n"), "line 3: 'abc' is not a number"),
    (lambda p: (p / "d.csv").write_text("x,label\n1,0\n2\n"), "line 3 has 1 fields"),
    (lambda p: (p / "d.csv").write_text("x,label\n"), "at least one data row"),
    (lambda p: (p / "d.txt").write_text("1 2 3"), "unknown data format"),
])
def test_bad_files_are_refused_naming_the_file(tmp_path, make, words):
    make(tmp_path)
    path = next(tmp_path.iterdir())
    with pytest.raises(ValidationError) as exc:
        tasks.from_file(path)
    assert exc.value.parameter == "file" and exc.value.value == str(path) and f"{path.name} " in str(exc.value)
    assert words in str(exc.value)


def test_bad_idx_and_labels(tmp_path):
    img = _idx(tmp_path / "img", np.zeros((5, 2, 2)), 0x803)
    wrong = _idx(tmp_path / "wrong", np.zeros(5), 0x803 - 2 + 2)  # images magic on a label file
    with pytest.raises(ValidationError, match="labels_path.*bad IDX magic"):
        tasks.from_file(img, labels=wrong)
    X, y = _data()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    np.savez(tmp_path / "nan.npz", X=np.full((10, 2), np.nan), y=np.zeros(10, dtype=int))
    with pytest.raises(ValidationError, match="nan.npz has bad data"):
        tasks.from_file(tmp_path / "nan.npz")
    with pytest.raises(ValidationError, match="only IDX images take a labels file"):
        tasks.from_file(tmp_path / "d.npz", labels=img)
    with pytest.raises(ValidationError, match="label_column.*columns: x, y"):
        (tmp_path / "d.csv").write_text("x,y\n1,0\n")
        tasks.from_file(tmp_path / "d.csv")
    with pytest.raises(ValidationError, match="changed since the study recorded it"):
        tasks.from_file(tmp_path / "d.npz", sha256="0" * 64)


def test_run_data_from_the_command_line(tmp_path, capsys):
    X, y = _data()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert main(["run", "--data", str(tmp_path / "d.npz"), "--model", "backprop", "--epochs", "30",
                 "--set", "hidden=(8,)", "--set", "lr=0.05", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "d" and result["n_train"] + result["n_val"] + result["n_test"] == 120
    assert result["test_accuracy"] > 0.6  # 3 classes 2 SD apart (Bayes accuracy about 0.8), chance 1/3
    (tmp_path / "bad.npz").write_bytes(b"junk")
    assert main(["run", "--data", str(tmp_path / "bad.npz"), "--model", "backprop", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "file" in err and "bad.npz" in err and len(err.strip().splitlines()) == 1
    out = tmp_path / "one"
    assert main(["run", "--data", str(tmp_path / "d.npz"), "--model", "readout", "--epochs", "2",
                 "--out", str(out), "--json"]) == 0
    stored = store.open(out).runs()
    assert len(stored) == 1 and stored[0]["config"]["task_name"] == "file"


STUDY = """
name = "own"
seeds = 2
epochs = 2
[tasks.mine]
file = "data/d.npz"
[models.mlp]
model = "backprop"
hidden = [8]
"""


def test_a_study_task_from_a_file_relative_to_the_toml(tmp_path, monkeypatch):
    (tmp_path / "sub" / "data").mkdir(parents=True)
    X, y = _data()
    data = tmp_path / "sub" / "data" / "d.npz"
    np.savez(data, X=X, y=y)
    (tmp_path / "sub" / "own.toml").write_text(STUDY)
    monkeypatch.chdir(tmp_path)  # not the TOML's directory
    study = config.load("sub/own.toml")
    specs = study.runs()
    params = specs[0]["task_params"]
    assert params["file"] == str(data.resolve()) and specs[0]["task_name"] == "file"
    assert params["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert study.tasks["mine"]["n_classes"] == 3 and [s["task_seed"] for s in specs] == [0, 1]
    assert spec.load_task(specs[1]).fingerprint() == tasks.from_file(data, seed=1).fingerprint()
    np.savez(data, X=X + 1.0, y=y)  # a changed file: a different run, and the old spec is refused
    assert [s["run_id"] for s in config.load("sub/own.toml").runs()] != [s["run_id"] for s in specs]
    with pytest.raises(ValidationError, match="changed since the study recorded it"):
        tasks.from_file(**specs[0]["task_params"], seed=0)
    (tmp_path / "sub" / "own.toml").write_text(STUDY.replace("data/d.npz", "data/missing.npz"))
    with pytest.raises(ValidationError) as exc:
        config.load("sub/own.toml")
    assert exc.value.parameter == "tasks.mine.file" and "missing.npz cannot be read" in str(exc.value)
    assert exc.value.value == str((tmp_path / "sub" / "data" / "missing.npz").resolve())
    (tmp_path / "sub" / "own.toml").write_text(STUDY.replace('file = "data/d.npz"', 'file = "data/d.npz"\nnoise = 1'))
    with pytest.raises(ValidationError, match="tasks.mine.noise"):
        config.load("sub/own.toml")
