"""The test split never decides: with the test split replaced by noise of the same shape, every
choice (the stopping epoch, the restored best epoch, the final weights) is identical, for both
networks and the readout-only control. A callback never sees a test metric."""

import numpy as np
import pytest

from sim import tasks
from sim.models import BackpropMLP, HebbianNet, LinearReadout

MODELS = {
    "backprop": lambda: BackpropMLP(hidden=(32,), lr=3e-3, early_stopping=True, n_iter_no_change=3, seed=2),
    "hebbian": lambda: HebbianNet(hidden=60, hidden_epochs=3, readout_lr=1e-2, early_stopping=True,
                                  n_iter_no_change=3, seed=2),
    "readout": lambda: LinearReadout(readout_lr=3e-2, batch_size=20, early_stopping=True, n_iter_no_change=3,
                                     seed=2),
}


@pytest.fixture(scope="module")
def digits_and_noise():
    task = tasks.load("digits", seed=4)
    rng = np.random.default_rng(99)
    noise = task.with_data(X_test=rng.normal(size=task.X_test.shape),
                           y_test=rng.integers(0, task.n_classes, size=task.n_test))
    return task, noise


def _decisions(history):
    return ([{k: v for k, v in r.items() if not k.startswith("test_") and k != "seconds"} for r in history.records],
            history.best_epoch, history.stopped_early)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_choice_is_the_same_with_noise_for_a_test_split(name, digits_and_noise):
    task, noise = digits_and_noise
    seen = []
    real, fake = MODELS[name](), MODELS[name]()
    real.fit(task, 200, callback=lambda m, record: seen.append(sorted(record)))
    fake.fit(noise, 200)
    h_real, h_fake = real.history_, fake.history_
    assert h_real.stopped_early and h_real.best_epoch < h_real.epochs  # the guard is exercised
    assert _decisions(h_real) == _decisions(h_fake)
    a, b = real.state_arrays(), fake.state_arrays()
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(real.predict_proba(task.X_val), fake.predict_proba(task.X_val))
    assert h_real.records[-1]["test_accuracy"] != h_fake.records[-1]["test_accuracy"]  # test was evaluated
    assert seen and not any(k.startswith("test_") for keys in seen for k in keys)
    # the model kept the best validation epoch's weights
    assert real.evaluate(task.X_val, task.y_val)["accuracy"] == max(h_real["val_accuracy"])
