"""The natural-image patches task: determinism, disjoint regions, whitening fitted on train only."""

import socket

import numpy as np
import pytest

from sim import tasks
from sim.errors import ValidationError
from sim.tasks import patches


def _load(**kw):
    return tasks.load("patches", **{"n_train": 1000, "n_test": 200, **kw})


def test_shapes_labels_and_sizes():
    for size in (8, 12, 16):
        t = _load(size=size, seed=1)
        assert t.X_train.shape == (800, size * size) and t.X_val.shape == (200, size * size)
        assert t.X_test.shape == (200, size * size) and t.n_classes == 2
        assert t.meta["image_shape"] == (size, size)
        assert np.bincount(t.y_test).tolist() == [100, 100]


def test_deterministic_and_seeded():
    a, b, c = _load(seed=3), _load(seed=3), _load(seed=4)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()
    assert not np.array_equal(a.meta["where_train"], c.meta["where_train"])


def test_patch_is_the_photograph_cut_at_its_position():
    t = _load(seed=0, contrast=False, whiten="none")
    image, (_, row, col) = patches.grey_images()[int(t.meta["where_test"][5, 0])], t.meta["where_test"][5]
    raw = image[row:row + 12, col:col + 12].ravel()
    white = t.meta["whitening"]
    np.testing.assert_allclose((raw - white["mean"]) @ white["matrix"], t.X_test[5], atol=1e-12)


def test_train_and_test_regions_are_disjoint():
    t = _load(seed=2)
    h = patches.grey_images()[0].shape[0]
    cut = int(round(h * (1 - patches.TEST_ROWS)))
    for split in ("where_train", "where_val"):
        assert np.all(t.meta[split][:, 1] + 12 <= cut)
    assert np.all(t.meta["where_test"][:, 1] >= cut)
    train_pos = {tuple(r) for r in t.meta["where_train"]}
    assert not train_pos & {tuple(r) for r in t.meta["where_val"]}


def test_zca_whitened_train_covariance_is_identity():
    t = _load(seed=0, contrast=False, whiten_eps=0.0)
    C = np.cov(t.X_train.T, bias=True)
    np.testing.assert_allclose(C, np.eye(144), atol=1e-8)
    # fitted on train only: validation and test are not exactly white
    assert np.abs(np.cov(t.X_test.T, bias=True) - np.eye(144)).max() > 0.05


def test_zca_with_contrast_normalization_whitens_the_zero_mean_subspace():
    t = _load(seed=0, whiten_eps=1e-6)
    d = 144
    P = np.eye(d) - np.ones((d, d)) / d  # the patches sum to zero: white on the other d - 1 directions
    np.testing.assert_allclose(np.cov(t.X_train.T, bias=True), P, atol=1e-3)


def test_whitening_uses_training_statistics_only():
    t = _load(seed=0, contrast=False, whiten_eps=0.0)
    raw = _load(seed=0, contrast=False, whiten="none", whiten_eps=0.0)
    # recover the raw training patches and refit ZCA by hand on them
    Xr = raw.X_train @ np.linalg.inv(raw.meta["whitening"]["matrix"]) + raw.meta["whitening"]["mean"]
    lam, U = np.linalg.eigh(np.cov(Xr.T, bias=True))
    Z = (U / np.sqrt(lam)) @ U.T
    np.testing.assert_allclose(t.meta["whitening"]["matrix"], Z, rtol=1e-6, atol=1e-6)


def test_contrast_normalization_by_hand():
    X = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    out = patches.normalize_contrast(X)
    np.testing.assert_allclose(out[0], (X[0] - 1.5) / np.sqrt(1.25 + patches.CONTRAST_FLOOR))
    np.testing.assert_array_equal(out[1], 0.0)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValidationError, match="whiten"):
        _load(whiten="pca")
    with pytest.raises(ValidationError, match="n_train"):
        tasks.load("patches", n_train=10**6, size=64)
    with pytest.raises(ValidationError, match="whiten_eps"):
        _load(whiten_eps=0.0)  # contrast-normalized patches have a singular covariance


def test_nothing_is_downloaded(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    patches.grey_images.cache_clear()
    assert _load(seed=5).n_train == 800


def test_too_few_training_patches_are_refused_by_name():
    for whiten in ("zca", "none"):
        with pytest.raises(ValidationError, match="n_train"):
            tasks.load("patches", n_train=2, n_test=10, validation_fraction=0.5, whiten=whiten)
