"""The Keras-like training record: History.history / to_dataframe, callback objects
(EarlyStopping, ModelCheckpoint), verbose lines, evaluate with any labels."""

import math
import sys

import numpy as np
import pytest

from sim import tasks
from sim.errors import ValidationError
from sim.models import BackpropMLP, Callback, EarlyStopping, HebbianNet, ModelCheckpoint, load
from sim.models.callbacks import epoch_line


@pytest.fixture(scope="module")
def moons():
    return tasks.load("moons", seed=0, n_train=200, n_test=50)


def small(**kw):
    return BackpropMLP(**{"hidden": (8,), "lr": 0.01, "batch_size": 16, **kw})


class Script(Callback):
    """Writes a scripted value into each record (field ``scripted``) and keeps the weights."""

    def __init__(self, values):
        self.values, self.weights = values, {}

    def on_epoch_end(self, model, record):
        record["scripted"] = self.values[record["epoch"] - 1]
        self.weights[record["epoch"]] = model.get_weights()


# hand-worked with patience 3, min_delta 0.02 (an improvement must beat the best by more than 0.02):
# epoch 1 0.50 best; 2 0.60 best (> 0.52); 3 0.60 wait 1; 4 0.61 wait 2 (not > 0.62); 5 0.63 best;
# 6 0.64 wait 1 (not > 0.65); 7 0.64 wait 2; 8 0.645 wait 3 -> stop at epoch 8, best epoch 5
SEQUENCE = [0.50, 0.60, 0.60, 0.61, 0.63, 0.64, 0.64, 0.645, 0.99, 0.99, 0.99, 0.99]


def test_history_dict_equals_the_records(moons):
    model = small(epochs=4).fit(moons, callback=lambda m, r: r.update(extra=r["epoch"] * 2))
    h = model.history_
    d = h.history
    assert list(d)[:4] == ["epoch", "samples_seen", "seconds", "train_loss"]
    for key, column in d.items():
        assert len(column) == 4
        for i, record in enumerate(h.records):
            assert column[i] == record[key] or (math.isnan(column[i]) and math.isnan(record[key]))
    assert d["extra"] == [2, 4, 6, 8] and d["epoch"] == [1, 2, 3, 4]
    ragged = type(h)(records=[{"epoch": 1}, {"epoch": 2, "late": 1.0}])
    assert ragged.history["late"][1] == 1.0 and math.isnan(ragged.history["late"][0])


def test_to_dataframe(moons, monkeypatch):
    pandas = pytest.importorskip("pandas")
    h = small(epochs=3).fit(moons).history_
    df = h.to_dataframe()
    assert isinstance(df, pandas.DataFrame) and df.shape == (3, len(h.history))
    assert df["val_accuracy"].tolist() == h["val_accuracy"]
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ImportError, match=r"neurocompare\[pandas\]"):
        h.to_dataframe()


def test_early_stopping_callback_stops_at_the_hand_worked_epoch(moons):
    script = Script(SEQUENCE)
    stopper = EarlyStopping(monitor="scripted", patience=3, min_delta=0.02, restore_best_weights=True)
    model = small(epochs=12).fit(moons, callbacks=[script, stopper])
    assert stopper.stopped_epoch == 8 and stopper.best_epoch == 5 and stopper.best == 0.63
    assert model.n_iter_ == 8 and len(model.history_) == 8
    for key, value in model.get_weights().items():  # restored: the weights after epoch 5
        np.testing.assert_array_equal(value, script.weights[5][key])
    assert not model.history_.stopped_early  # that flag is the built-in early stopping's


def test_early_stopping_callback_without_restore_and_with_a_start(moons):
    script = Script(SEQUENCE)
    stopper = EarlyStopping(monitor="scripted", patience=2, start_from_epoch=5)
    model = small(epochs=12).fit(moons, callbacks=[script, stopper])
    # epochs 1-5 ignored; 6 0.64 best; 7 wait 1; 8 0.645 > 0.64 best (min_delta 0); 9 0.99 best; 10, 11 wait -> 11
    assert stopper.best_epoch == 9 and stopper.stopped_epoch == 11
    for key, value in model.get_weights().items():  # not restored: the last epoch's weights
        np.testing.assert_array_equal(value, script.weights[11][key])
    loss = EarlyStopping(monitor="val_loss")
    assert loss.mode == "min"
    with pytest.raises(ValidationError, match="monitor"):
        EarlyStopping(monitor="test_accuracy")  # the test split never decides
    with pytest.raises(ValidationError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(ValidationError, match="monitor='nope'"):
        small(epochs=2).fit(moons, callbacks=[EarlyStopping(monitor="nope")])


def test_callbacks_never_see_the_test_split(moons):
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, model, record):
            seen.append(sorted(record))

    model = small(epochs=2).fit(moons, callbacks=[Spy()])
    assert seen and not any(k.startswith("test_") for keys in seen for k in keys)
    assert "test_accuracy" in model.history_.records[-1]  # recorded afterwards


def test_model_checkpoint_file_loads_to_the_best_model(moons, tmp_path):
    probs = {}
    model = small(epochs=15, lr=0.003)
    checkpoint = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss")
    model.fit(moons, callbacks=[checkpoint],
              callback=lambda m, r: probs.__setitem__(r["epoch"], m.predict_proba(moons.X_val)))
    losses = model.history_["val_loss"]
    best = int(np.argmin(losses)) + 1
    loaded = load(tmp_path / "best.npz")
    assert loaded.n_iter_ == best and checkpoint.best == min(losses)
    np.testing.assert_array_equal(loaded.predict_proba(moons.X_val), probs[best])
    every = ModelCheckpoint(str(tmp_path / "e{epoch}.npz"), save_best_only=False)
    small(epochs=3).fit(moons, callbacks=[every])
    assert [p.rsplit("/", 1)[-1] for p in every.saved] == ["e1.npz", "e2.npz", "e3.npz"]
    assert load(every.saved[1]).n_iter_ == 2


def test_plain_callback_function_still_stops(moons):
    model = small(epochs=10).fit(moons, callback=lambda m, r: r["epoch"] < 3)
    assert model.n_iter_ == 3


def test_verbose_prints_one_line_per_epoch(moons, capsys):
    model = small(epochs=3, verbose=1).fit(moons)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for i, (line, record) in enumerate(zip(lines, model.history_.records)):
        assert line.startswith(f"Epoch {i + 1}/3 - loss: {record['train_loss']:.4f} - accuracy: ")
        assert f"val_accuracy: {record['val_accuracy']:.4f}" in line and line.endswith("s")
        assert "test" not in line
    small(epochs=2).fit(moons)  # verbose=0: silent
    small(epochs=2).fit(moons, verbose=0)
    assert capsys.readouterr().out == ""
    HebbianNet(hidden=8, epochs=2).fit(moons, verbose=True)
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    line = epoch_line({"epoch": 2, "train_loss": 0.5, "train_accuracy": 0.75, "val_loss": math.nan,
                       "val_accuracy": math.nan}, 10, 0.125)
    assert line == "Epoch 2/10 - loss: 0.5000 - accuracy: 0.7500 - 0.12s"  # unevaluated metrics left out


def test_evaluate_accepts_any_labels(moons):
    names = np.array(["no", "yes"])
    X, y = moons.X_train, moons.y_train
    model = small(epochs=3).fit(X, names[y])
    result = model.evaluate(X, names[y])
    assert result["accuracy"] == model.score(X, names[y])
    P = model.predict_proba(X).astype(np.float64)
    assert result["loss"] == pytest.approx(-np.mean(np.log(P[np.arange(len(y)), y])), rel=1e-6)
