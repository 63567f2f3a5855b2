"""Saving and loading models: exact round trips, and files that must be refused (sim.models.persistence)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sim.study.store
from sim import models, tasks
from sim.errors import ValidationError
from sim.learning.optimizers import Adam, LinearDecay, Momentum, StepDecay
from sim.models import BackpropMLP, HebbianNet, LinearReadout, persistence


@pytest.fixture(scope="module")
def task():
    return tasks.load("moons", n_train=60, n_test=20)


def _small_models():
    return {
        "backprop": lambda: BackpropMLP(hidden=(4,), lr_schedule="linear", seed=1),
        "hebbian": lambda: HebbianNet(hidden=6, hidden_epochs=1, rule_params={"k": 2}, seed=2),
        "readout": lambda: LinearReadout(seed=3),
    }


def _history(model) -> str:
    # JSON text: NaN compares equal to itself there; the wall-clock field differs between runs
    d = model.history_.without_times()
    return json.dumps(d, sort_keys=True)


def _read(path):
    with np.load(path) as d:
        header = json.loads(str(d["__header__"]))
        arrays = {k: d[k] for k in d.files if k != "__header__"}
    return header, arrays


def _write(path, header, arrays, *, rechecksum=True):
    """Write a file as `save_model` does, with the checksum recomputed the way it computes it."""
    if rechecksum:
        header = {k: v for k, v in header.items() if k != "checksum"}
        header["checksum"] = persistence._checksum(header, arrays)
    np.savez(path, __header__=np.array(json.dumps(header)), **arrays)
    return path


@pytest.fixture
def saved(tmp_path, task):
    m = BackpropMLP(hidden=(4,), seed=0)
    m.fit(task, 2)
    path = tmp_path / "m.npz"
    m.save(path)
    return path


@pytest.mark.parametrize("name", ["backprop", "hebbian", "readout"])
def test_round_trip_is_exact_and_training_continues_identically(tmp_path, task, name):
    m, twin = _small_models()[name](), _small_models()[name]()
    m.fit(task, 2)
    twin.fit(task, 2)
    path = tmp_path / f"{name}.npz"
    m.save(path)
    r = models.load(path)
    assert type(r) is type(m)
    np.testing.assert_array_equal(r.predict_proba(task.X_test), m.predict_proba(task.X_test))
    assert r.get_params() == m.get_params()
    assert _history(r) == _history(m)
    assert r.fitted_state() == m.fitted_state()
    # continuing the loaded model is the same as continuing an unsaved one the same way
    r.partial_fit(task, 2)
    twin.partial_fit(task, 2)
    assert _history(r) == _history(twin)
    np.testing.assert_array_equal(r.predict_proba(task.X_test), twin.predict_proba(task.X_test))
    header, _ = _read(path)
    assert header["format"] == "neurocompare-model/2" and header["class"] == name


def test_optimizer_and_schedule_objects_round_trip(tmp_path, task):
    for opt, sched in [(Momentum(beta=0.8, nesterov=True), StepDecay(every=1, gamma=0.5)),
                       (Adam(beta1=0.8, beta2=0.99, eps=1e-7), LinearDecay())]:
        m = BackpropMLP(hidden=(4,), optimizer=opt, lr_schedule=sched, seed=0)
        m.fit(task, 2)
        m.save(tmp_path / "o.npz")
        r = models.load(tmp_path / "o.npz")
        for key in ("optimizer", "lr_schedule"):
            a, b = r.get_params()[key], m.get_params()[key]
            assert type(a) is type(b) and a is not b
            assert {k: v for k, v in vars(a).items() if isinstance(v, (int, float, bool))} == \
                   {k: v for k, v in vars(b).items() if isinstance(v, (int, float, bool))}
        np.testing.assert_array_equal(r.predict_proba(task.X_test), m.predict_proba(task.X_test))
        m.partial_fit(task, 1)
        r.partial_fit(task, 1)
        np.testing.assert_array_equal(r.predict_proba(task.X_test), m.predict_proba(task.X_test))


def test_unsaveable_parameter_is_refused_on_save(tmp_path, task):
    class MyAdam(Adam):
        pass

    m = BackpropMLP(hidden=(4,), optimizer=MyAdam(), seed=0)
    m.fit(task, 1)
    with pytest.raises(ValidationError, match="optimizer=.*cannot be saved"):
        m.save(tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def no_atomic_write(monkeypatch):
    calls = []

    def trap(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError("atomic_write was called during load")

    monkeypatch.setattr(sim.study.store, "atomic_write", trap)
    return calls


def test_crafted_class_name_is_refused_before_anything_is_called(tmp_path, saved, no_atomic_write):
    header, arrays = _read(saved)
    target = tmp_path / "pwned.txt"
    header["class"] = "sim.study.store.atomic_write"
    header["params"] = {"path": str(target), "data": "owned"}
    crafted = _write(tmp_path / "crafted.npz", header, arrays)
    with pytest.raises(ValidationError, match=r"crafted\.npz.*not an allowed model class"):
        models.load(crafted)
    assert no_atomic_write == [] and not target.exists()


def test_crafted_parameter_object_is_refused_before_anything_is_called(tmp_path, saved, no_atomic_write):
    header, arrays = _read(saved)
    target = tmp_path / "pwned.txt"
    for tag in ("sim.study.store.atomic_write", "atomic_write", "sim.learning.optimizers.Adam"):
        header["params"]["optimizer"] = {"__obj__": tag, "args": {"path": str(target), "data": "owned"}}
        crafted = _write(tmp_path / "crafted.npz", header, arrays)
        with pytest.raises(ValidationError, match=r"crafted\.npz.*not an allowed type"):
            models.load(crafted)
    # an allowed type with arguments it does not take is refused too
    header["params"]["optimizer"] = {"__obj__": "adam", "args": {"path": str(target)}}
    with pytest.raises(ValidationError, match=r"crafted\.npz.*not allowed"):
        models.load(_write(tmp_path / "crafted.npz", header, arrays))
    assert no_atomic_write == [] and not target.exists()


def test_edited_header_fails_verification(tmp_path, saved):
    header, arrays = _read(saved)
    header["history"]["records"][-1]["test_accuracy"] = 1.0
    edited = _write(tmp_path / "edited.npz", header, arrays, rechecksum=False)
    with pytest.raises(ValidationError, match=r"edited\.npz.*checksum mismatch"):
        models.load(edited)
    header, arrays = _read(saved)
    header["params"]["lr"] = 0.5
    with pytest.raises(ValidationError, match="checksum mismatch"):
        models.load(_write(tmp_path / "edited.npz", header, arrays, rechecksum=False))


def test_truncated_and_foreign_files_are_refused_naming_the_path(tmp_path, saved):
    data = saved.read_bytes()
    for n in (10, len(data) // 2, len(data) - 5):
        bad = tmp_path / "truncated.npz"
        bad.write_bytes(data[:n])
        with pytest.raises(ValidationError, match=r"truncated\.npz"):
            models.load(bad)
    text = tmp_path / "text.npz"
    text.write_text("hello, not a model\n")
    with pytest.raises(ValidationError, match=r"text\.npz.*not a neurocompare model file"):
        models.load(text)
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ValidationError, match=r"array\.npz.*not a neurocompare model file"):
        models.load(npy)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ValidationError, match=r"foreign\.npz.*no header"):
        models.load(foreign)
    with pytest.raises(ValidationError, match=r"missing\.npz.*no such file"):
        models.load(tmp_path / "missing.npz")


def test_old_format_is_refused_with_a_hint_to_resave(tmp_path, saved):
    header, arrays = _read(saved)
    header["format"] = "neurocompare-model/1"
    header["class"] = "sim.models.mlp.BackpropMLP"
    old = _write(tmp_path / "old.npz", header, arrays)
    with pytest.raises(ValidationError, match=r"old\.npz.*older version.*re-save"):
        models.load(old)


@pytest.mark.parametrize("edit, message", [
    (lambda h, a: h.pop("fitted"), "no 'fitted'"),
    (lambda h, a: h.pop("class"), "no 'class'"),
    (lambda h, a: h.update(params=[1, 2]), "'params' must be a dict"),
    (lambda h, a: h.update(history={"records": 3}), "records must be a list"),
    (lambda h, a: h["history"].pop("diverged"), "'diverged' is missing"),
    (lambda h, a: h["fitted"].pop("n_classes_"), "'n_classes_' is missing"),
    (lambda h, a: h["fitted"].update(rng_order={"bit_generator": "MT19937"}), "malformed"),
    (lambda h, a: h["fitted"].update(n_features_in_="two"), "non-number"),
    (lambda h, a: h["params"].update(lr=-1.0), "malformed.*lr"),
    (lambda h, a: h["params"].update(colour=1), "unknown parameter 'colour'"),
    (lambda h, a: h["params"].update(hidden={"__tuple__": [4], "x": 1}), "malformed parameter"),
    (lambda h, a: a.pop("params"), "'params' is missing"),
    (lambda h, a: a.update(params=a["params"][:1]), "array 'params' does not fit"),
    (lambda h, a: a.update(extra=np.zeros(2)), "array 'extra' does not fit"),
    (lambda h, a: a.update(params=a["params"].astype(np.float64)), "array 'params' does not fit"),
    # found by the fuzz suite: optimizer state and fitted scalars that loaded and then crashed partial_fit
    (lambda h, a: a.update(opt_m=a["opt_m"][:0]), "invalid m=.*must be an array of shape"),
    (lambda h, a: a.update(opt_s=np.zeros((1, 3))), "invalid s=.*must be an array of shape"),
    (lambda h, a: a.update(opt_t=np.array(-1)), "invalid t=-1: must be >= 0"),
    (lambda h, a: h["fitted"].update(samples_seen_={}), "fitted samples_seen_={}"),
    (lambda h, a: h["fitted"].update(n_classes_=1), "fitted n_classes_=1"),
    (lambda h, a: h["fitted"].update(train_seconds_=float("inf")), "fitted train_seconds_=inf"),
])
def test_malformed_header_or_arrays_give_a_validation_error(tmp_path, saved, edit, message):
    header, arrays = _read(saved)
    edit(header, arrays)
    bad = _write(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ValidationError, match=rf"bad\.npz.*{message}"):
        models.load(bad)


def test_header_that_is_not_json_or_not_an_object(tmp_path, saved):
    _, arrays = _read(saved)
    for text in ("{not json", "[1, 2]", "[" * 100000):
        np.savez(tmp_path / "bad.npz", __header__=np.array(text), **arrays)
        with pytest.raises(ValidationError, match=r"bad\.npz.*not a neurocompare model file"):
            models.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "bad.npz", __header__=np.zeros(3), **arrays)
    with pytest.raises(ValidationError, match=r"bad\.npz.*header is not a string"):
        models.load(tmp_path / "bad.npz")


def test_save_into_missing_directory_names_the_users_path(tmp_path, task):
    m = BackpropMLP(hidden=(4,))
    m.fit(task, 1)
    target = tmp_path / "nowhere" / "m.npz"
    with pytest.raises(ValidationError, match=r"nowhere/m\.npz.*the directory .*nowhere does not exist") as info:
        m.save(target)
    assert ".tmp" not in str(info.value)
    with pytest.raises(ValidationError, match="is a directory"):
        m.save(tmp_path)
    with pytest.raises(ValidationError, match="not fitted"):
        BackpropMLP().save(tmp_path / "unfitted.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("offset, value", [(8, 0x01), (8, 0x40), (8, 0x20), (10, 99), (6, 64)])
def test_damaged_zip_fields_are_refused_naming_the_path(tmp_path, saved, offset, value):
    """Found by the fuzz suite: zipfile raises RuntimeError / NotImplementedError for a flipped encryption,
    strong-encryption or patched-data flag, an unknown compression method or a newer zip version."""
    data = bytearray(saved.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first member's central directory record
    data[entry + offset] = value
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValidationError, match=r"bad\.npz.*damaged or truncated"):
        models.load(bad)


def test_damaged_array_header_is_refused_naming_the_path(tmp_path, saved):
    """Found by the fuzz suite: numpy parses an .npy header with tokenize / ast (TokenError, SyntaxError)."""
    data = saved.read_bytes()
    at = data.index(b"'shape': (") + len(b"'shape': ")
    bad = tmp_path / "bad.npz"
    for junk in (b")", b"{"):
        bad.write_bytes(data[:at] + junk + data[at + 1:])
        with pytest.raises(ValidationError, match=r"bad\.npz"):
            models.load(bad)


def test_a_file_of_format_1_as_that_version_wrote_it_is_refused_saying_why(tmp_path, saved):
    """A hand-made format-1 file (the layout of sim/models/persistence.py before format 2): the class and
    the optimizer named by import path, a checksum over the arrays only. Nothing it names is imported."""
    import hashlib
    import sys
    _, arrays = _read(saved)
    digest = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        digest.update(key.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    header = {"format": "neurocompare-model/1", "version": "0.1.0", "class": "sim.models.not_a_module.Net",
              "params": {"hidden": {"__tuple__": [4]}, "optimizer": {"__obj__": "sim.not_a_module.Adam", "args": {}}},
              "history": {}, "fitted": {}, "checksum": digest.hexdigest()}
    old = _write(tmp_path / "v1.npz", header, arrays, rechecksum=False)
    with pytest.raises(ValidationError) as info:
        models.load(old)
    text = str(info.value)
    assert "v1.npz" in text and "format neurocompare-model/1" in text and "re-save" in text
    assert "checksum covers the arrays only" in text and "import path" in text
    assert "sim.models.not_a_module" not in sys.modules and "sim.not_a_module" not in sys.modules
    assert set(persistence.OLD_FORMATS) == {"neurocompare-model/1"} and persistence.FORMAT == "neurocompare-model/2"
