"""Every task source gives three disjoint splits of the documented sizes; the validation split is
carved from the training split, stratified, seeded, and changes with the seed."""

import numpy as np
import pytest

from sim import ValidationError, tasks
from sim.tasks.splits import validation_indices

# (train, validation, test) with the defaults, as the docstring of sim.tasks.load states
SIZES = {"xor": (800, 200, 1000), "moons": (800, 200, 1000), "circles": (800, 200, 1000),
         "spirals": (800, 200, 1000), "blobs": (800, 200, 1000), "digits": (1149, 288, 360),
         "mnist1d": (3200, 800, 1000), "bars": (800, 200, 1000), "patches": (16000, 4000, 2000)}


def _rows(X):
    return {tuple(r) for r in np.round(X, 9)}


@pytest.mark.parametrize("name", tasks.names())
def test_registered_tasks_have_three_disjoint_splits_of_the_stated_sizes(name):
    t = tasks.load(name, seed=0)
    assert (t.n_train, t.n_val, t.n_test) == SIZES[name]
    assert t.meta["params"]["validation_fraction"] == 0.2
    if name not in ("bars", "xor"):  # bars and binary-rounded toys repeat images by chance
        assert not _rows(t.X_val) & _rows(t.X_train) and not _rows(t.X_val) & _rows(t.X_test)
    u = tasks.load(name, seed=1)
    assert not np.array_equal(u.X_val, t.X_val)  # the seed changes the validation split too
    none = tasks.load(name, seed=0, validation_fraction=0)
    assert none.n_val == 0 and none.X_val.shape == (0, t.n_features)
    assert none.n_train == t.n_train + t.n_val
    # mnist1d is standardized and patches whitened on the training split: a larger one changes test rows
    assert _rows(none.X_test) == _rows(t.X_test) or name in ("mnist1d", "patches")


def test_the_carve_is_stratified_and_keeps_per_sample_meta():
    t = tasks.load("digits", seed=3)
    counts_val = np.bincount(t.y_val, minlength=10)
    counts_all = np.bincount(np.concatenate([t.y_train, t.y_val]), minlength=10)
    assert np.all(np.abs(counts_val - 0.2 * counts_all) <= 1)
    bars = tasks.load("bars", seed=0)
    assert np.array_equal(bars.meta["bars_val"].sum(axis=1), bars.y_val)
    assert np.array_equal(bars.meta["bars_train"].sum(axis=1), bars.y_train)


def test_classes_with_one_sample_are_pooled_and_the_split_is_exact():
    y = np.array([0] * 10 + [1] * 10 + [2] + [3] + [4] * 8)
    tr, va = validation_indices(y, 0.25, np.random.default_rng(0))
    assert va.size == 8 and tr.size == 22 and np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(30))
    tr2, va2 = validation_indices(y, 0.25, np.random.default_rng(0))
    assert np.array_equal(va, va2)  # same generator, same split


def test_fitted_scaling_uses_the_training_split_left_after_the_carve():
    t = tasks.load("mnist1d", seed=0)
    assert abs(t.X_train.mean()) < 1e-12 and abs(t.X_train.std() - 1) < 1e-12
    assert abs(t.X_val.mean()) > 1e-6  # not fitted on validation
    rng = np.random.default_rng(0)
    X, y = rng.normal(5.0, 3.0, size=(300, 3)), np.repeat([0, 1, 2], 100)
    a = tasks.from_arrays(X, y, seed=2)
    np.testing.assert_allclose(a.X_train.mean(axis=0), 0, atol=1e-12)
    assert (a.n_train, a.n_val, a.n_test) == (192, 48, 60)
    idx = np.concatenate([a.meta["index_train"], a.meta["index_val"], a.meta["index_test"]])
    assert np.array_equal(np.sort(idx), np.arange(300))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), "0.2"])
def test_bad_validation_fractions_are_refused(bad):
    with pytest.raises(ValidationError, match="^invalid validation_fraction="):
        tasks.load("moons", validation_fraction=bad)
    with pytest.raises(ValidationError, match="^invalid validation_fraction="):
        tasks.from_arrays(np.zeros((20, 2)), np.arange(20) % 2, validation_fraction=bad)


def test_a_tiny_training_split_cannot_give_up_a_validation_split():
    with pytest.raises(ValidationError, match="validation_fraction.*empty"):
        tasks.load("moons", n_train=1, validation_fraction=0.5)
