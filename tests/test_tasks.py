"""Tests for sim.tasks: reproducibility, splits, scaling, IDX files, transforms, validation."""

from __future__ import annotations

import gzip
import random
import struct

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from sim import tasks
from sim.errors import ValidationError

TOYS = ["xor", "moons", "circles", "spirals", "blobs"]
GENERATED = TOYS + ["bars"]


@pytest.fixture(scope="module")
def default_tasks():
    return {name: tasks.load(name) for name in tasks.names()}


def _rows(X):
    return {row.tobytes() for row in np.ascontiguousarray(X)}


# ---------------------------------------------------------------- registry & reproducibility

def test_names_and_table():
    assert tasks.names() == TOYS + ["digits", "mnist1d", "bars", "patches"]
    text = tasks.table()
    lines = text.splitlines()
    assert len(lines) == len(tasks.names()) + 1
    for name, line in zip(tasks.names(), lines[1:]):
        assert line.startswith(name)
    assert "1149" in text and "3200" in text and "8x8" in text  # digits, mnist1d train after validation


@pytest.mark.parametrize("name", ["xor", "moons", "circles", "spirals", "blobs", "digits", "mnist1d", "bars"])
def test_same_args_identical(name, default_tasks):
    a, b = default_tasks[name], tasks.load(name, seed=0)
    assert a.fingerprint() == b.fingerprint()
    for field in ("X_train", "y_train", "X_test", "y_test"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
        assert getattr(a, field).dtype == (np.float64 if field[0] == "X" else np.int64)
    assert a.meta["params"] == b.meta["params"] and a.meta["params"]["seed"] == 0
    assert isinstance(a.meta["description"], str) and "\n" not in a.meta["description"]
    assert "scaling" in a.meta and "image_shape" in a.meta
    assert (a.n_train, a.n_test, a.n_features) == (a.X_train.shape[0], a.X_test.shape[0], a.X_train.shape[1])


@pytest.mark.parametrize("name", GENERATED + ["digits"])
def test_different_seeds_differ(name, default_tasks):
    a, b = default_tasks[name], tasks.load(name, seed=1)
    assert a.fingerprint() != b.fingerprint()
    assert not np.array_equal(a.X_train, b.X_train)
    if name == "digits":  # same images, other split
        assert not np.array_equal(a.meta["index_test"], b.meta["index_test"])


def test_mnist1d_seed_and_resplit(default_tasks):
    fixed = default_tasks["mnist1d"]
    other = tasks.load("mnist1d", seed=5)  # the package's fixed train/test split, another validation split

    def raw(t, X):  # undo the standardization fitted on each task's own training split
        return X * t.meta["scaler"]["std"] + t.meta["scaler"]["mean"]
    assert np.array_equal(other.y_test, fixed.y_test) and not np.array_equal(other.y_val, fixed.y_val)
    np.testing.assert_allclose(raw(other, other.X_test), raw(fixed, fixed.X_test), atol=1e-9)
    pool = [sorted(map(tuple, np.vstack([raw(t, t.X_train), raw(t, t.X_val)]).round(6))) for t in (other, fixed)]
    assert pool[0] == pool[1]  # the same 4000 training signals, split another way
    r0, r1 = tasks.load("mnist1d", resplit=True), tasks.load("mnist1d", seed=1, resplit=True)
    assert (r0.n_train, r0.n_val, r0.n_test) == (3200, 800, 1000)
    assert r0.fingerprint() != r1.fingerprint()
    assert np.array_equal(np.bincount(r0.y_test), np.full(10, 100))  # stratified
    assert not set(r0.meta["index_train"]) & set(r0.meta["index_test"])
    assert not set(r0.meta["index_val"]) & (set(r0.meta["index_train"]) | set(r0.meta["index_test"]))


def test_arrays_read_only_and_with_data(default_tasks):
    t = default_tasks["xor"]
    with pytest.raises(ValueError):
        t.X_train[0, 0] = 1.0
    X = np.zeros((3, 2))
    u = t.with_data(X_train=X, y_train=[0, 1, 1])
    X[0, 0] = 5.0  # the task holds its own copy
    assert u.X_train[0, 0] == 0.0 and u.n_train == 3 and u.y_train.dtype == np.int64
    assert t.n_train == 800 and u.meta == t.meta and u.meta is not t.meta
    with pytest.raises(ValidationError, match="y_train"):
        t.with_data(X_train=X)  # 3 rows but 800 labels
    with pytest.raises(ValidationError, match="colour"):
        t.with_data(colour=1)


# ---------------------------------------------------------------- splits and balance

@pytest.mark.parametrize("name", TOYS + ["digits", "mnist1d"])
def test_no_sample_shared_between_train_and_test(name, default_tasks):
    t = default_tasks[name]
    assert not _rows(t.X_train) & _rows(t.X_test)


def test_digits_split(default_tasks):
    t = default_tasks["digits"]
    assert (t.n_train, t.n_val, t.n_test) == (1149, 288, 360)
    tr, va, te = t.meta["index_train"], t.meta["index_val"], t.meta["index_test"]
    assert not set(tr) & set(te) and not set(va) & (set(tr) | set(te))
    assert set(tr) | set(va) | set(te) == set(range(1797))
    d = load_digits()
    assert np.array_equal(t.X_train, d.data[tr] / 16.0) and np.array_equal(t.y_test, d.target[te])
    assert t.X_train.min() == 0.0 and t.X_train.max() == 1.0 and t.meta["image_shape"] == (8, 8)


@pytest.mark.parametrize("name", TOYS + ["digits"])
def test_classes_balanced(name, default_tasks):
    t = default_tasks[name]
    for y in (t.y_train, t.y_val, t.y_test):
        counts = np.bincount(y, minlength=t.n_classes)
        assert np.all(np.abs(counts / counts.mean() - 1) <= 0.07), counts  # val: 200 or 288 samples


@pytest.mark.parametrize("name", TOYS)
def test_toys_learnable(name, default_tasks):
    t = default_tasks[name]
    assert t.meta["image_shape"] is None and t.n_features == 2
    knn = KNeighborsClassifier(n_neighbors=5).fit(t.X_train, t.y_train)
    assert knn.score(t.X_test, t.y_test) >= 0.98


def test_blobs_classes_param():
    t = tasks.load("blobs", n_classes=5, n_train=500, n_test=100)
    assert t.n_classes == 5 and np.array_equal(np.bincount(t.y_train), np.full(5, 80))
    assert np.array_equal(np.bincount(t.y_val), np.full(5, 20))  # stratified carve


# ---------------------------------------------------------------- mnist1d

def test_mnist1d_generation_restores_global_rng_and_scales_on_train():
    np.random.seed(123)
    random.seed(456)
    np_before, py_before = np.random.get_state(), random.getstate()
    tasks.registry._mnist1d_raw.cache_clear()  # force a real generation
    t = tasks.load("mnist1d")
    np_after = np.random.get_state()
    assert np_after[0] == np_before[0] and np.array_equal(np_after[1], np_before[1])
    assert np_after[2:] == np_before[2:]
    assert random.getstate() == py_before
    assert (t.n_train, t.n_val, t.n_test, t.n_features, t.n_classes) == (3200, 800, 1000, 40, 10)
    assert t.meta["image_shape"] == (40,)
    assert abs(t.X_train.mean()) < 1e-12 and abs(t.X_train.std() - 1) < 1e-12
    assert abs(t.X_test.mean()) > 1e-6 or abs(t.X_test.std() - 1) > 1e-6  # fitted on train only
    assert abs(t.X_test.mean()) < 0.1 and abs(t.X_test.std() - 1) < 0.1


# ---------------------------------------------------------------- user arrays

def test_from_arrays_split_and_scaling():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(200, 4))
    y = np.repeat([0, 1], 100)
    t = tasks.from_arrays(X, y, test_fraction=0.25, seed=3, name="mine")
    assert (t.name, t.n_train, t.n_val, t.n_test, t.n_classes) == ("mine", 120, 30, 50, 2)
    assert tasks.from_arrays(X[:10], y[95:105], test_fraction=0.3, stratify=False).n_test == 3
    assert np.array_equal(np.bincount(t.y_test), [25, 25])
    np.testing.assert_allclose(t.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(t.X_train.std(axis=0), 1, atol=1e-12)
    assert np.all(np.abs(t.X_test.mean(axis=0)) > 1e-9)
    tr = t.meta["index_train"]
    np.testing.assert_allclose(t.X_train, (X[tr] - X[tr].mean(0)) / X[tr].std(0))
    assert tasks.from_arrays(X, y, test_fraction=0.25, seed=3).fingerprint() == t.fingerprint()
    assert tasks.from_arrays(X, y, test_fraction=0.25, seed=4).fingerprint() != t.fingerprint()
    mm = tasks.from_arrays(X, y, scale="minmax", stratify=False)
    assert mm.X_train.min() == 0.0 and mm.X_train.max() == 1.0
    raw = tasks.from_arrays(X, y, scale="none")
    assert _rows(raw.X_train) | _rows(raw.X_val) | _rows(raw.X_test) == _rows(X)


def _write_idx(path, arr, magic, compress=False, cut=0):
    data = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()
    data = data[:len(data) - cut]
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture()
def idx_files(tmp_path):
    rng = np.random.default_rng(7)
    imgs = rng.integers(0, 256, size=(30, 4, 5), dtype=np.uint8)
    labels = np.arange(30, dtype=np.uint8) % 3
    t_imgs = rng.integers(0, 256, size=(6, 4, 5), dtype=np.uint8)
    t_labels = np.arange(6, dtype=np.uint8) % 3
    return dict(
        imgs=imgs, labels=labels, t_imgs=t_imgs, t_labels=t_labels, dir=tmp_path,
        images_path=_write_idx(tmp_path / "img.idx", imgs, 0x803),
        labels_path=_write_idx(tmp_path / "lab.idx", labels, 0x801),
        test_images_path=_write_idx(tmp_path / "timg.idx.gz", t_imgs, 0x803, compress=True),
        test_labels_path=_write_idx(tmp_path / "tlab.idx", t_labels, 0x801),
    )


def test_idx_round_trip(idx_files):
    f = idx_files
    t = tasks.idx(f["images_path"], f["labels_path"], test_images_path=f["test_images_path"],
                  test_labels_path=f["test_labels_path"])
    assert t.meta["image_shape"] == (4, 5) and t.n_classes == 3
    tr, va = t.meta["index_train"], t.meta["index_val"]
    assert (t.n_train, t.n_val) == (24, 6) and set(tr) | set(va) == set(range(30)) and not set(tr) & set(va)
    assert np.array_equal(t.X_train, f["imgs"].reshape(30, 20)[tr] / 255.0)
    assert np.array_equal(t.X_val, f["imgs"].reshape(30, 20)[va] / 255.0)
    assert np.array_equal(t.X_test, f["t_imgs"].reshape(6, 20) / 255.0)
    assert np.array_equal(t.y_train, f["labels"][tr]) and np.array_equal(t.y_test, f["t_labels"])
    s = tasks.idx(str(f["images_path"]), f["labels_path"], test_fraction=0.2, seed=1, scale="none")
    assert (s.n_train, s.n_val, s.n_test) == (19, 5, 6) and np.array_equal(np.bincount(s.y_test), [2, 2, 2])
    assert np.array_equal(s.X_test, f["imgs"].reshape(30, 20)[s.meta["index_test"]])


def test_idx_damaged_files_refused(idx_files):
    f = idx_files
    d = f["dir"]
    cut = _write_idx(d / "cut.idx", f["imgs"], 0x803, cut=7)
    with pytest.raises(ValidationError, match="images_path.*truncated"):
        tasks.idx(cut, f["labels_path"])
    with pytest.raises(ValidationError, match="images_path.*magic"):
        tasks.idx(f["labels_path"], f["labels_path"])  # labels file given as images
    with pytest.raises(ValidationError, match="labels_path"):
        tasks.idx(f["images_path"], _write_idx(d / "few.idx", f["labels"][:29], 0x801))
    with pytest.raises(ValidationError, match="images_path"):
        tasks.idx(d / "missing.idx", f["labels_path"])
    (d / "tiny.idx").write_bytes(b"\x00\x00")
    with pytest.raises(ValidationError, match="labels_path"):
        tasks.idx(f["images_path"], d / "tiny.idx")
    with pytest.raises(ValidationError, match="test_labels_path"):
        tasks.idx(f["images_path"], f["labels_path"], test_images_path=f["test_images_path"])
    other = _write_idx(d / "other.idx", np.zeros((6, 5, 4), np.uint8), 0x803)
    with pytest.raises(ValidationError, match="test_images_path"):
        tasks.idx(f["images_path"], f["labels_path"], test_images_path=other,
                  test_labels_path=f["test_labels_path"])


# ---------------------------------------------------------------- transforms

def test_add_noise_std():
    X = np.full((2000, 50), 2.0)
    Z = tasks.add_noise(X, 0.5, np.random.default_rng(0))
    assert Z.shape == X.shape and np.all(X == 2.0)  # input untouched
    assert abs((Z - X).std() - 0.5) < 0.01 and abs((Z - X).mean()) < 0.01
    assert np.array_equal(Z, tasks.add_noise(X, 0.5, np.random.default_rng(0)))
    assert np.array_equal(tasks.add_noise(X, 0.0, np.random.default_rng(0)), X)


def test_occlude_image_patch():
    X = np.ones((300, 64))
    Z = tasks.occlude(X, 0.25, np.random.default_rng(1), image_shape=(8, 8))
    assert np.all(X == 1.0)
    assert np.all((Z == 0).sum(axis=1) == 16)
    corners = set()
    for img in Z.reshape(-1, 8, 8):
        r, c = np.nonzero(img == 0)
        assert r.max() - r.min() == 3 and c.max() - c.min() == 3  # one 4x4 square
        assert np.all(img[r.min():r.max() + 1, c.min():c.max() + 1] == 0)
        corners.add((r.min(), c.min()))
    assert len(corners) > 20  # positions vary
    Z = tasks.occlude(X, 0.1, np.random.default_rng(1), image_shape=(8, 8), fill=-1.0)
    assert abs((Z == -1.0).mean() - 0.1) < 0.05


def test_occlude_window():
    X = np.ones((200, 40))
    Z = tasks.occlude(X, 0.3, np.random.default_rng(2))
    for row in Z:
        where = np.flatnonzero(row == 0)
        assert where.size == 12 and np.all(np.diff(where) == 1)
    assert len({int(np.flatnonzero(row == 0)[0]) for row in Z}) > 10
    assert np.array_equal(tasks.occlude(X, 0.3, np.random.default_rng(2), image_shape=(40,)), Z)


def test_label_noise_exact_count_and_never_same():
    y = np.arange(1000) % 4
    z = tasks.label_noise(y, 0.3, 4, np.random.default_rng(0))
    assert (z != y).sum() == 300 and z.min() >= 0 and z.max() <= 3
    assert np.all(y == np.arange(1000) % 4)
    assert np.array_equal(tasks.label_noise(y % 2, 1.0, 2, np.random.default_rng(5)), 1 - y % 2)
    assert (tasks.label_noise(y, 0.0, 4, np.random.default_rng(0)) == y).all()


def test_subsample_nested_and_stratified(default_tasks):
    t = default_tasks["digits"]
    small = tasks.subsample(t, 5, np.random.default_rng(3))
    big = tasks.subsample(t, 12, np.random.default_rng(3))
    assert np.array_equal(np.bincount(small.y_train), np.full(10, 5))
    assert np.array_equal(np.bincount(big.y_train), np.full(10, 12))
    assert set(small.meta["index_train"]) < set(big.meta["index_train"])
    assert _rows(small.X_train) < _rows(big.X_train)
    assert small.fingerprint() != tasks.subsample(t, 5, np.random.default_rng(4)).fingerprint()
    assert np.array_equal(small.X_test, t.X_test) and np.array_equal(small.X_val, t.X_val) and t.n_train == 1149
    bars = tasks.subsample(default_tasks["bars"], 3, np.random.default_rng(0))
    assert np.array_equal(bars.meta["bars_train"].sum(axis=1), bars.y_train)  # meta follows
    with pytest.raises(ValidationError, match="n_per_class"):
        tasks.subsample(t, 200, np.random.default_rng(0))


def test_class_subset(default_tasks):
    t = default_tasks["digits"]
    s = tasks.class_subset(t, [3, 7])
    assert set(s.y_train) == set(s.y_val) == set(s.y_test) == {3, 7} and s.n_classes == 10
    assert s.n_val == int(np.isin(t.y_val, [3, 7]).sum())
    assert s.n_train == int(np.isin(t.y_train, [3, 7]).sum())
    assert np.array_equal(s.meta["index_test"], t.meta["index_test"][np.isin(t.y_test, [3, 7])])
    r = tasks.class_subset(t, [7, 3], relabel=True)
    assert r.n_classes == 2 and np.array_equal(r.y_train, np.where(s.y_train == 7, 0, 1))
    for bad in ([], [3, 3], [10], [1.5]):
        with pytest.raises(ValidationError, match="classes"):
            tasks.class_subset(t, bad)


# ---------------------------------------------------------------- bars

def test_bars(default_tasks):
    t = default_tasks["bars"]
    tpl = t.meta["templates"]
    assert tpl.shape == (16, 64) and set(np.unique(tpl)) == {0.0, 1.0}
    img = tpl.reshape(16, 8, 8)
    for i in range(8):
        assert img[i, i].sum() == 8 and img[i].sum() == 8  # horizontal bar = row i
        assert img[8 + i, :, i].sum() == 8 and img[8 + i].sum() == 8  # vertical bar = column i
    for X, on, y, n in ((t.X_train, t.meta["bars_train"], t.y_train, 800), (t.X_val, t.meta["bars_val"], t.y_val, 200),
                        (t.X_test, t.meta["bars_test"], t.y_test, 1000)):
        assert on.shape == (n, 16) and on.dtype == bool
        assert np.array_equal(y, on.sum(axis=1))
        assert np.array_equal(X, np.minimum(on @ tpl, 1.0)) and set(np.unique(X)) <= {0.0, 1.0}
        assert abs(on.mean() - 0.125) < 4 * np.sqrt(0.125 * 0.875 / on.size)
    assert t.n_classes == 17 and t.meta["image_shape"] == (8, 8)
    assert tasks.load("bars", p=0.0).X_train.sum() == 0


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("call, param", [
    (lambda: tasks.load("mnist"), "name"),
    (lambda: tasks.load("xor", bogus=1), "bogus"),
    (lambda: tasks.load("digits", n_train=10), "n_train"),
    (lambda: tasks.load("xor", noise=-0.1), "noise"),
    (lambda: tasks.load("moons", noise="big"), "noise"),
    (lambda: tasks.load("spirals", noise=float("nan")), "noise"),
    (lambda: tasks.load("xor", n_train=0), "n_train"),
    (lambda: tasks.load("bars", n_test=-5), "n_test"),
    (lambda: tasks.load("bars", p=1.5), "p"),
    (lambda: tasks.load("circles", factor=1.0), "factor"),
    (lambda: tasks.load("blobs", n_classes=1), "n_classes"),
    (lambda: tasks.load("xor", seed=-1), "seed"),
    (lambda: tasks.load("xor", seed=1.5), "seed"),
    (lambda: tasks.load("digits", test_fraction=1.0), "test_fraction"),
    (lambda: tasks.load("mnist1d", test_fraction=0.3), "test_fraction"),
    (lambda: tasks.load("mnist1d", resplit="yes"), "resplit"),
    (lambda: tasks.from_arrays(np.zeros((10, 2)), np.zeros(10, int), test_fraction=0.0), "test_fraction"),
    (lambda: tasks.from_arrays(np.zeros((10, 2)), np.zeros(10, int), test_fraction=0.99, stratify=False),
     "test_fraction"),
    (lambda: tasks.from_arrays(np.zeros((10, 2)), np.zeros(9, int)), "y"),
    (lambda: tasks.from_arrays(np.array([[0.0, np.nan]] * 10), np.zeros(10, int)), "X"),
    (lambda: tasks.from_arrays(np.zeros((10, 2)), np.zeros(10, int), scale="robust"), "scale"),
    (lambda: tasks.from_arrays(np.zeros((10, 2)), np.arange(10)), "stratify"),
    (lambda: tasks.add_noise(np.zeros((3, 2)), -1.0, np.random.default_rng(0)), "std"),
    (lambda: tasks.occlude(np.zeros((3, 64)), 1.2, np.random.default_rng(0)), "fraction"),
    (lambda: tasks.occlude(np.zeros((3, 64)), 0.2, np.random.default_rng(0), image_shape=(8, 7)), "image_shape"),
    (lambda: tasks.label_noise([0, 1, 2], 0.5, 2, np.random.default_rng(0)), "y"),
    (lambda: tasks.label_noise([0, 1], -0.5, 2, np.random.default_rng(0)), "fraction"),
    (lambda: tasks.subsample("digits", 5, np.random.default_rng(0)), "task"),
    (lambda: tasks.add_noise(np.zeros((3, 2)), 1.0, None), "rng"),
])
def test_validation_errors_name_the_parameter(call, param):
    with pytest.raises(ValidationError, match=rf"\b{param}="):
        call()


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValidationError) as info:
        tasks.load("mnist")
    for name in tasks.names():
        assert name in str(info.value)
    with pytest.raises(ValidationError, match="valid: n_train, n_test, noise"):
        tasks.load("xor", bogus=1)
