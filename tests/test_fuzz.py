"""Fuzzing the public API and the model files: every input either works or is refused with a
`ValidationError` naming the parameter and the value, never another exception. Model constructor
parameters (then ``validate_params``, a 1-epoch fit, predictions and a save / load round trip),
``predict`` / ``score`` / ``evaluate`` / ``hidden_rates`` inputs, `sim.tasks.load` parameters,
`sim.tasks.from_arrays` arrays and options, and truncated, bit-flipped, spliced or edited model files.
``test_fuzz_study.py`` fuzzes study configs, the command line and kills studies at random points.

Inputs come from the wide strategies of ``fuzz_helpers`` (derandomized: the same inputs on every run;
``NEUROCOMPARE_FUZZ_SCALE=10`` tries ten times as many). The number of distinct inputs tried is
printed at the end of each module.
"""

from __future__ import annotations

import functools
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import (
    EXPENSIVE,
    SCALE,
    TEXT,
    WILD,
    any_arrays,
    attempt,
    build,
    datasets,
    edit,
    feature_arrays,
    fuzz_settings,
    input_report,
    inputs,
    json_values,
    key_paths,
    label_vectors,
    n_rows,
    quiet,
    record,
    value_for,
)
from hypothesis import event, given
from hypothesis import strategies as st

from sim import models, tasks
from sim.models import BackpropMLP, HebbianNet, LinearReadout, persistence

TASK = tasks.load("xor", n_train=20, n_test=10, seed=0)
CLASSES = {"backprop": BackpropMLP, "hebbian": HebbianNet, "readout": LinearReadout}
SMALL = {"backprop": lambda: BackpropMLP(hidden=(4,), seed=1),
         "hebbian": lambda: HebbianNet(hidden=6, hidden_epochs=1, rule_params={"k": 2}, seed=2),
         "readout": lambda: LinearReadout(seed=3)}
# small stages unless the sizes are drawn (HebbianNet(rule="foldiak")'s default 400 units take seconds)
BASE = {"backprop": {"hidden": (4,)}, "hebbian": {"hidden": 6}, "readout": {}}
# arguments of the optimizers, schedules and hidden rules a parameter may build
OBJECT_ARGS = {"beta", "beta1", "beta2", "eps", "nesterov", "every", "gamma", "k", "p", "delta", "tau_theta",
               "theta0", "normalize", "mode", "lateral_lr", "params"}
# accepted by validate_params, refused by fit (a rule's k against its stage's units): see the xfail below
KNOWN_FIT_ONLY = {"k"}  # tests/test_bad_input.py::test_validate_params_refuses_a_competitive_k_above_the_hidden_units
TMP = Path(tempfile.mkdtemp(prefix="neurocompare-fuzz-"))


report_inputs = input_report(TMP)  # autouse: prints the distinct inputs tried, removes TMP


@functools.cache
def fitted(name: str):
    model = SMALL[name]()
    model.fit(TASK, 2)
    return model


@functools.cache
def saved(name: str) -> bytes:
    path = TMP / f"saved-{name}.npz"
    fitted(name).save(path)
    return path.read_bytes()


def check_predictions(model, X, n_classes: int, names=("X",)) -> None:
    """What a fitted model returns for inputs it accepts."""
    ok, labels = attempt(model.predict, X, names=names)
    if ok:
        assert labels.dtype == np.int64 and labels.shape == (np.asarray(X).shape[0],)
        assert labels.min(initial=0) >= 0 and labels.max(initial=0) < n_classes
        proba = model.predict_proba(X)
        assert proba.shape == (labels.shape[0], n_classes)


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("name", sorted(CLASSES))
@fuzz_settings(300, SCALE)
@given(data=st.data())
@quiet
def test_model_parameters_work_or_are_refused_by_name(name, data):
    cls = CLASSES[name]
    keys = data.draw(st.lists(st.sampled_from(cls.param_names()), max_size=4, unique=True), label="keys")
    drawn = {k: data.draw(value_for(k), label=k) for k in keys}
    record(f"{name} parameters", drawn)
    names = set(cls.param_names()) | OBJECT_ARGS
    ok, params = attempt(build, drawn, names=OBJECT_ARGS)
    if not ok:
        return
    model = cls(**{**BASE[name], **params})  # stores only
    assert all(model.get_params()[k] is v for k, v in params.items())
    valid, refusal = attempt(model.validate_params, names=names)
    trained, out = attempt(model.fit, TASK, 1, names=names)
    event(f"fit: {'trained' if trained else 'refused'}")
    if not valid:  # fit validates first: the same refusal
        assert not trained and out.parameter == refusal.parameter
    elif not trained:  # what validate_params accepts, fit accepts (only the task could be refused)
        assert out.parameter not in names or out.parameter in KNOWN_FIT_ONLY, out
    if not trained:
        return
    check_predictions(model, TASK.X_test, TASK.n_classes)
    assert 0.0 <= model.score(TASK.X_test, TASK.y_test) <= 1.0
    path = TMP / f"model-{name}.npz"
    stored, _ = attempt(model.save, path, names=names)
    if stored:  # an exact round trip
        loaded = models.load(path)
        np.testing.assert_array_equal(loaded.predict_proba(TASK.X_test), model.predict_proba(TASK.X_test))


@pytest.mark.parametrize("name", sorted(CLASSES))
@fuzz_settings(250, SCALE)
@given(X=inputs(2), y=st.one_of(label_vectors(10), WILD), layer=st.one_of(st.integers(-3, 3), WILD),
       fit_first=st.sampled_from([True, True, True, False]))
@quiet
def test_predict_score_and_hidden_rates_inputs(name, X, y, layer, fit_first):
    record(f"{name} predict inputs", X, y, layer, fit_first)
    model = fitted(name) if fit_first else SMALL[name]()
    names = {"X", "y", "layer"} if fit_first else {"model"}
    check_predictions(model, X, TASK.n_classes, names)
    ok, value = attempt(model.score, X, y, names=names)
    assert not ok or 0.0 <= value <= 1.0
    ok, value = attempt(model.evaluate, X, y, names=names)
    assert not ok or set(value) == {"loss", "accuracy"}
    ok, rates = attempt(model.hidden_rates, X, layer, names=names)
    assert not ok or (rates.ndim == 2 and rates.shape[0] == np.asarray(X).shape[0])


# ----------------------------------------------------------------------------- tasks
TASK_KEYS = ("n_train", "n_test", "noise", "factor", "turns", "n_classes", "p", "size", "test_fraction",
             "resplit", "validation_fraction", "seed", "colour")
TASK_NAMES = st.one_of(st.sampled_from(tasks.names()), st.sampled_from([*tasks.names(), "XOR", " moons", "mnist"]),
                       TEXT, WILD)


def check_task(task) -> None:
    """The invariants of a Task, then one epoch of the readout on it."""
    for split in ("train", "val", "test"):
        X, y = getattr(task, f"X_{split}"), getattr(task, f"y_{split}")
        assert X.dtype == np.float64 and y.dtype == np.int64 and X.shape == (y.shape[0], task.n_features)
        assert np.all(np.isfinite(X)) and (y.size == 0 or 0 <= y.min() <= y.max() < task.n_classes)
    assert task.n_train >= 1 and task.n_test >= 1
    attempt(LinearReadout(batch_size=8).fit, task, 1, names={"task.n_classes", "X_train", "X_val", "X_test"})


@fuzz_settings(300, SCALE)
@given(name=TASK_NAMES, data=st.data())
@quiet
def test_task_load_parameters(name, data):
    keys = data.draw(st.lists(st.sampled_from(TASK_KEYS), max_size=3, unique=True), label="keys")
    params = {k: data.draw(value_for(k), label=k) for k in keys}
    record("tasks.load", name, params)
    ok, task = attempt(tasks.load, name, **params, names={"name", *TASK_KEYS})
    event(f"load: {'task' if ok else 'refused'}")
    if ok:
        check_task(task)


FROM_ARRAYS_KEYS = ("test_fraction", "validation_fraction", "seed", "name", "scale", "stratify")


@fuzz_settings(400, SCALE)
@given(Xy=st.one_of(datasets(), st.tuples(inputs(), st.none())), data=st.data())
@quiet
def test_from_arrays_inputs(Xy, data):
    X, y = Xy
    if y is None:
        y = data.draw(label_vectors(n_rows(X)), label="y")
    keys = data.draw(st.lists(st.sampled_from(FROM_ARRAYS_KEYS), max_size=2, unique=True), label="keys")
    params = {k: data.draw(value_for(k), label=k) for k in keys}
    record("tasks.from_arrays", X, y, params)
    ok, task = attempt(tasks.from_arrays, X, y, **params, names={"X", "y", *FROM_ARRAYS_KEYS})
    event(f"from_arrays: {'task' if ok else 'refused'}")
    if ok:
        check_task(task)


# ----------------------------------------------------------------------------- model files
def _mutated_file(data, original: bytes) -> tuple[bytes, bool]:
    """Damaged bytes of ``original`` and whether their content was re-certified (checksum redone)."""
    kind = data.draw(st.sampled_from(["truncate", "flip", "splice", "append", "header", "array"]), label="kind")
    if kind == "truncate":
        return original[:data.draw(st.integers(0, len(original) - 1), label="at")], False
    if kind in ("flip", "splice", "append"):
        raw = bytearray(original)
        if kind == "append":
            return bytes(raw) + data.draw(st.binary(min_size=1, max_size=64), label="tail"), False
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        if kind == "flip":
            for bit in data.draw(st.lists(st.integers(0, 63), min_size=1, max_size=8), label="bits"):
                raw[(at + bit // 8) % len(raw)] ^= 1 << (bit % 8)
        else:
            chunk = data.draw(st.binary(min_size=1, max_size=32), label="chunk")
            raw[at:at + len(chunk)] = chunk
        return bytes(raw), False
    with np.load(io.BytesIO(original)) as npz:
        header = json.loads(str(npz["__header__"]))
        arrays = {k: npz[k] for k in npz.files if k != "__header__"}
    if kind == "header":
        path = data.draw(st.sampled_from(list(key_paths(header))), label="path")
        op = data.draw(st.sampled_from(["set", "delete", "add"]) if path else st.just("set"), label="op")
        header = edit(header, path, op, data.draw(json_values(path[-1] in EXPENSIVE if path else False)))
    else:
        key = data.draw(st.sampled_from(sorted(arrays) + ["extra"]), label="array")
        arrays[key] = data.draw(st.one_of(any_arrays(), feature_arrays()), label="value")
    redo = data.draw(st.booleans(), label="rechecksum")
    if redo and isinstance(header, dict):
        header = {k: v for k, v in header.items() if k != "checksum"}
        header["checksum"] = persistence._checksum(header, {k: np.asarray(v) for k, v in arrays.items()})
    buf = io.BytesIO()
    np.savez(buf, __header__=np.array(json.dumps(header)), **arrays)
    return buf.getvalue(), redo


@pytest.mark.parametrize("name", sorted(CLASSES))
@fuzz_settings(250, SCALE)
@given(data=st.data())
@quiet
def test_damaged_or_edited_model_files(name, data):
    original = saved(name)
    damaged, certified = _mutated_file(data, original)
    record(f"{name} model files", damaged)
    path = TMP / f"fuzzed-{name}.npz"
    path.write_bytes(damaged)
    ok, model = attempt(models.load, path, names={"path"})
    event(f"load: {'accepted' if ok else 'refused'} ({'re-certified' if certified else 'as damaged'})")
    if not ok:
        assert str(path) in str(model)
        return
    if not certified:  # an undetected change must be one that changes nothing
        reference = fitted(name)
        assert model.get_params().keys() == reference.get_params().keys()
        np.testing.assert_array_equal(model.predict_proba(TASK.X_test), reference.predict_proba(TASK.X_test))
    check_predictions(model, TASK.X_test, TASK.n_classes)
    attempt(model.partial_fit, TASK, 1, names={"task.n_classes", "X_train", "X_test", "X_val", "epochs"})
